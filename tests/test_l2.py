"""The l2 scenario is one objective: cross-entropy + wd/2 ||w||^2, whatever the optimizer's own weight decay."""
import pytest
import torch
import torch.nn.functional as F

from lenet_bench.core.model import LeNet5
from lenet_bench.core.optimizers import build_optimizer
from lenet_bench.core.training import Cost, Objective
from lenet_bench.registry import ALGORITHMS, l2_mode

PRESETS = {"momentum": "coupled", "adam": "coupled", "adamw": "loss", "lion": "loss", "lbfgs": "loss"}


def gradient_acted_on(preset: dict, weight_decay: float, x, y) -> tuple[list[torch.Tensor], dict]:
    """The gradient an optimizer's update starts from: the closure's, plus wd * w where the optimizer's own
    weight_decay is coupled (what torch.optim adds before its step)."""
    torch.manual_seed(0)
    model = LeNet5()
    optimizer = build_optimizer(model, preset, weight_decay)
    mode = l2_mode(preset["algorithm"], weight_decay)
    Objective(model, optimizer, x, y, Cost(), weight_decay / 2 if mode == "loss" else 0.0)()
    group = optimizer.param_groups[0]
    coupled = group.get("weight_decay", 0.0) if mode == "coupled" else 0.0
    return [p.grad + coupled * p.detach() for p in model.parameters()], group


@pytest.mark.parametrize("name", PRESETS)
def test_coupled_and_decoupled_optimizers_minimise_the_same_function_of_the_weights(project_params, synthetic_data,
                                                                                    name):
    weight_decay = project_params["scenarios"]["l2"]["weight_decay"]
    data = synthetic_data(32, 8)
    x, y = data["train_x"], data["train_y"]
    torch.manual_seed(0)
    model = LeNet5()
    penalised = F.cross_entropy(model(x), y) + weight_decay / 2 * sum(p.square().sum() for p in model.parameters())
    expected = torch.autograd.grad(penalised, list(model.parameters()))
    preset = project_params["optimizers"][name]
    assert l2_mode(preset["algorithm"], weight_decay) == PRESETS[name]
    seen, group = gradient_acted_on(preset, weight_decay, x, y)
    for a, b in zip(seen, expected):
        torch.testing.assert_close(a, b)
    if ALGORITHMS[preset["algorithm"]].weight_decay == "decoupled":
        assert group["weight_decay"] == 0.0  # no decoupled shrinking on top of the penalty


@pytest.mark.parametrize("name", ["adamw", "muon", "lion", "adam"])
def test_without_l2_no_optimizer_decays_its_weights(project_params, name):
    """torch's AdamW (0.01) and Muon (0.1) decay by default: plain cross-entropy must be told 0."""
    optimizer = build_optimizer(LeNet5(), project_params["optimizers"][name], 0.0)
    assert all(group["weight_decay"] == 0.0 for group in optimizer.param_groups)
