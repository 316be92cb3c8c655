"""SVRG and SAGA against the mathematics: on L2-regularised logistic regression (strongly convex),
each with a constant step converges linearly to the optimum; plain SGD with the same step stalls at
a distance set by its gradient noise."""
import torch
import torch.nn.functional as F

from lenet_bench.core.optim import SAGA, SVRG

N, D, BATCH, L2 = 200, 5, 10, 0.1


def problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = (x @ torch.randn(D, generator=g, dtype=torch.float64) > 0.5 * torch.randn(N, generator=g, dtype=torch.float64)).double()
    return x, y


def optimum(x, y) -> torch.Tensor:
    """Newton's method on the regularised objective, to machine precision."""
    w = torch.zeros(D, dtype=torch.float64)
    for _ in range(50):
        p = torch.sigmoid(x @ w)
        gradient = x.T @ (p - y) / N + L2 * w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) / N + L2 * torch.eye(D, dtype=torch.float64)
        w = w - torch.linalg.solve(hessian, gradient)
    return w


def distances(make_optimizer, epochs=40, lr=0.2):
    x, y = problem()
    w_star = optimum(x, y)
    w = torch.zeros(D, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([w], lr)
    if isinstance(optimizer, SVRG):
        def full_gradient():
            optimizer.zero_grad()
            F.binary_cross_entropy_with_logits(x @ w, y).backward()
        optimizer.use_full_gradient(full_gradient, N // BATCH)
    order = torch.Generator().manual_seed(1)
    partition = torch.randperm(N, generator=order).split(BATCH)  # fixed, as SAGA's table needs
    result = []
    for _ in range(epochs):
        for index in torch.randperm(len(partition), generator=order).tolist():
            batch = partition[index]

            def closure(batch=batch):
                optimizer.zero_grad()
                loss = F.binary_cross_entropy_with_logits(x[batch] @ w, y[batch])
                loss.backward()
                return loss
            closure.batch_index, closure.batch_count = index, len(partition)
            optimizer.step(closure)
        result.append(float((w.detach() - w_star).norm()))
    return result


def test_svrg_converges_linearly_where_sgd_stalls():
    svrg = distances(lambda p, lr: SVRG(p, lr=lr, weight_decay=L2))
    sgd = distances(lambda p, lr: torch.optim.SGD(p, lr=lr, weight_decay=L2))
    assert svrg[-1] < 1e-9
    # linear: a constant factor per epoch, so every 10 epochs shrink the distance by orders of magnitude
    assert svrg[29] < 1e-2 * svrg[19] and svrg[19] < 1e-2 * svrg[9]
    assert sgd[-1] > 1e-3 and min(sgd[20:]) > 1e-3


def test_svrg_with_momentum_still_reaches_the_optimum():
    svrg = distances(lambda p, lr: SVRG(p, lr=lr / 2, momentum=0.5, weight_decay=L2))
    assert svrg[-1] < 1e-9


def test_saga_converges_linearly_where_sgd_stalls():
    saga = distances(lambda p, lr: SAGA(p, lr=lr / 2, weight_decay=L2), epochs=60)
    sgd = distances(lambda p, lr: torch.optim.SGD(p, lr=lr / 2, weight_decay=L2), epochs=60)
    assert saga[-1] < 1e-9
    assert saga[39] < 1e-2 * saga[19]
    assert min(sgd[20:]) > 1e-3


def test_saga_keeps_the_mean_of_its_table():
    w = torch.zeros(3, requires_grad=True)
    optimizer = SAGA([w], lr=0.1)
    gradients = [torch.tensor([1.0, 0, 0]), torch.tensor([0, 2.0, 0]), torch.tensor([0, 0, 3.0])]
    for index in (0, 1, 2, 0):
        def closure(index=index):
            w.grad = gradients[index].clone()
            return torch.zeros(())
        closure.batch_index, closure.batch_count = index, 3
        optimizer.step(closure)
    state = optimizer.state[w]
    torch.testing.assert_close(state["table_mean"], sum(gradients) / 3)
    torch.testing.assert_close(state["table"], torch.stack(gradients))
