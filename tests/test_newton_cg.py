"""Newton-CG against the mathematics: its Gauss-Newton-vector product equals an explicit J^T H J / n,
its conjugate gradient solves the damped system, and its cost is counted exactly."""
import torch
import torch.nn.functional as F
from test_training import CPU, config

from lenet_bench.core import training
from lenet_bench.core.optim.newton_cg import NewtonCG, conjugate_gradient, gauss_newton_product


def tiny_network():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 5)).double()


def explicit_gauss_newton(model, x):
    """J^T H J / n built entry by entry: J the Jacobian of every logit in the flat parameters."""
    names = [n for n, _ in model.named_parameters()]
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])

    def logits(vector):
        params, start = {}, 0
        for name, p in model.named_parameters():
            params[name] = vector[start:start + p.numel()].view_as(p)
            start += p.numel()
        return torch.func.functional_call(model, params, (x,))
    jacobian = torch.autograd.functional.jacobian(logits, flat)        # (n, classes, parameters)
    p = logits(flat).softmax(dim=1)
    hessians = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]      # (n, classes, classes)
    matrix = torch.einsum("nca,ncd,ndb->ab", jacobian, hessians, jacobian) / len(x)
    return matrix, names


def test_gauss_newton_product_matches_the_explicit_matrix():
    model = tiny_network()
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    matrix, names = explicit_gauss_newton(model, x)
    params = {n: p.detach() for n, p in model.named_parameters()}
    product = gauss_newton_product(model, x, params)
    for seed in range(3):
        v = torch.randn(matrix.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        vectors, start = {}, 0
        for name, p in params.items():
            vectors[name] = v[start:start + p.numel()].view_as(p)
            start += p.numel()
        got = torch.cat([product(vectors)[n].flatten() for n in names])
        torch.testing.assert_close(got, matrix @ v)
    assert torch.allclose(matrix, matrix.T) and torch.linalg.eigvalsh(matrix).min() > -1e-12  # PSD


def test_conjugate_gradient_solves_a_positive_definite_system():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, dtype=torch.float64, generator=g)
    a = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, dtype=torch.float64, generator=g)
    d, used = conjugate_gradient(lambda v: {"w": a @ v["w"]}, {"w": b}, iterations=50, tolerance=1e-10)
    torch.testing.assert_close(a @ d["w"], b)
    assert used <= 6 + 1  # exact in at most n steps, up to rounding
    _, truncated = conjugate_gradient(lambda v: {"w": a @ v["w"]}, {"w": b}, iterations=2, tolerance=1e-10)
    assert truncated == 2


def test_newton_cg_step_is_the_damped_gauss_newton_direction():
    model = tiny_network()
    x = torch.randn(9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, 5, (9,), generator=torch.Generator().manual_seed(3))
    matrix, _ = explicit_gauss_newton(model, x)
    F.cross_entropy(model(x), y).backward()
    gradient = torch.cat([p.grad.flatten() for p in model.parameters()])
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    optimizer = NewtonCG(model.parameters(), lr=0.5, damping=0.3, cg_iterations=100, cg_tolerance=1e-12,
                         curvature_batch=9)
    optimizer.step(training.Objective(model, optimizer, x, y, training.Cost()))
    expected = before - 0.5 * torch.linalg.solve(matrix + 0.3 * torch.eye(len(before), dtype=torch.float64),
                                                 gradient)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(after, expected)


def test_newton_cg_cost_counts_each_product_twice_on_the_curvature_batch(synthetic_data):
    preset = {"algorithm": "newton_cg", "batch_size": 128, "lr": 1.0, "damping": 1.0, "cg_iterations": 3,
              "cg_tolerance": 0.0, "curvature_batch": 32, "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=1, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    # 2 steps of 128: each one gradient (128) and 3 products on 32 samples (2 * 3 * 32).
    assert record["cost"]["steps"] == 2
    assert record["cost"]["grad_evals"] == 2 * (128 + 2 * 3 * 32)


def test_newton_cg_with_masks_solves_the_system_of_the_free_weights_only():
    model = tiny_network()
    x = torch.randn(9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, 5, (9,), generator=torch.Generator().manual_seed(3))
    mask = torch.rand(4, 3, generator=torch.Generator().manual_seed(4)) < 0.5
    with torch.no_grad():
        model[0].weight.mul_(mask)  # pruned, as the sparsifier leaves it
    matrix, names = explicit_gauss_newton(model, x)
    F.cross_entropy(model(x), y).backward()
    gradient = torch.cat([p.grad.flatten() for p in model.parameters()])
    free = torch.cat([mask.flatten() if n == "0.weight" else torch.ones(p.numel(), dtype=torch.bool)
                      for n, p in model.named_parameters()])
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    optimizer = NewtonCG(model.parameters(), lr=0.5, damping=0.3, cg_iterations=100, cg_tolerance=1e-12,
                         curvature_batch=9)
    optimizer.step(training.Objective(model, optimizer, x, y, training.Cost(), masks={"0.weight": mask}))
    system = (matrix + 0.3 * torch.eye(len(before), dtype=torch.float64))[free][:, free]
    expected = before.clone()
    expected[free] -= 0.5 * torch.linalg.solve(system, gradient[free])
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(after, expected)
    assert (model[0].weight[~mask] == 0).all()
