"""K-FAC against the mathematics: for one sample its Kronecker factors give that sample's Fisher block
exactly, its preconditioner solves the damped Kronecker system, its step is that solution, and its
curvature passes are counted."""
import torch
import torch.nn.functional as F
from test_training import CPU, config

from lenet_bench.core import training
from lenet_bench.core.optim.kfac import KFAC, kronecker_factors, precondition


def per_sample_fisher(model, layer, x, label):
    """g g^T of the flattened [weight | bias] gradient of one sample's cross-entropy, rows in
    row-major order of the (outputs x inputs+1) matrix."""
    loss = F.cross_entropy(model(x), label)
    weight, bias = torch.autograd.grad(loss, [layer.weight, layer.bias])
    g = torch.cat([weight.reshape(len(weight), -1), bias[:, None]], dim=1).flatten()
    return torch.outer(g, g)


def test_one_sample_factors_give_its_fisher_block_exactly_for_linear_and_convolution():
    torch.manual_seed(0)
    # The convolution's kernel covers its whole input: one location, where KFC is exact too.
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, kernel_size=4), torch.nn.Tanh(), torch.nn.Flatten(),
                                torch.nn.Linear(3, 5)).double()
    x, label = torch.randn(1, 2, 4, 4, dtype=torch.float64), torch.tensor([2])
    factors = kronecker_factors(model, x, label)
    for name in ("0", "3"):
        a, g = factors[name]
        expected = per_sample_fisher(model, model.get_submodule(name), x, label)
        torch.testing.assert_close(torch.kron(g, a), expected)


def test_factors_average_over_samples_and_sum_over_locations():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 2, kernel_size=2).double()  # on 3x3 inputs: 4 locations
    model = torch.nn.Sequential(conv, torch.nn.Flatten(), torch.nn.Linear(8, 3)).double()
    x, labels = torch.randn(5, 1, 3, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    a, g = kronecker_factors(model, x, labels)["0"]
    patches = [torch.cat([x[i, 0, r:r + 2, c:c + 2].flatten(), torch.ones(1, dtype=torch.float64)])
               for i in range(5) for r in range(2) for c in range(2)]
    torch.testing.assert_close(a, sum(torch.outer(p, p) for p in patches) / 20)
    output = conv(x)
    output.retain_grad()
    F.cross_entropy(model[2](model[1](output)), labels, reduction="sum").backward()
    rows = output.grad.permute(0, 2, 3, 1).reshape(-1, 2)
    torch.testing.assert_close(g, rows.T @ rows / 5)


def test_preconditioner_solves_the_damped_kronecker_system():
    torch.manual_seed(0)
    a, g = torch.randn(4, 4, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    a, g = a @ a.T, g @ g.T
    gradient = torch.randn(3, 4, dtype=torch.float64)
    solved = precondition(gradient, torch.linalg.eigh(a), torch.linalg.eigh(g), damping=0.1)
    expected = torch.linalg.solve(torch.kron(g, a) + 0.1 * torch.eye(12, dtype=torch.float64), gradient.flatten())
    torch.testing.assert_close(solved.flatten(), expected)


class Closure:
    """The parts of the training loop's closure K-FAC uses."""

    def __init__(self, model, x, y):
        self.model, self.x, self.y, self.backward_samples = model, x, y, 0

    def __call__(self):
        self.model.zero_grad()
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        return loss

    def count_backward(self, samples):
        self.backward_samples += samples


def test_first_step_is_the_clipped_damped_natural_gradient_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    before = [p.detach().clone() for p in model.parameters()]
    lr, damping, kl_clip = 0.1, 0.01, 1e-3
    optimizer = KFAC(model.parameters(), lr=lr, damping=damping, kl_clip=kl_clip, curvature_batch=8)
    torch.manual_seed(1)
    closure = Closure(model, x, y)
    optimizer.step(closure)
    model_at_start = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for p, b in zip(model_at_start.parameters(), before):
            p.copy_(b)
    torch.manual_seed(1)  # the labels the optimizer drew: the closure's pass draws no random numbers
    factors = kronecker_factors(model_at_start, x[:8])
    loss = F.cross_entropy(model_at_start(x), y)
    grads = torch.autograd.grad(loss, list(model_at_start.parameters()))
    directions, dot = [], 0.0
    for i, name in enumerate(("0", "2")):
        a, g = factors[name]
        matrix = torch.cat([grads[2 * i], grads[2 * i + 1][:, None]], dim=1)
        d = torch.linalg.solve(torch.kron(g, a) + damping * torch.eye(matrix.numel(), dtype=torch.float64),
                               matrix.flatten()).reshape(matrix.shape)
        directions += [d[:, :-1], d[:, -1]]
        dot += (d * matrix).sum()
    scale = min(1.0, (kl_clip / (lr ** 2 * dot)).sqrt().item())
    for p, b, d in zip(model.parameters(), before, directions):
        torch.testing.assert_close(p.detach(), b - lr * scale * d)
    assert closure.backward_samples == 8


def test_kfac_cost_counts_one_backward_pass_of_the_curvature_batch_every_update_period(synthetic_data):
    preset = {"algorithm": "kfac", "batch_size": 128, "lr": 0.01, "update_period": 3, "curvature_batch": 32,
              "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=3, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    steps = record["cost"]["steps"]  # 2 a epoch: refreshes at steps 1, 4
    assert steps == 6
    assert record["cost"]["grad_evals"] == 3 * 256 + 2 * 32
