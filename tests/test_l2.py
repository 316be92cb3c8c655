"""The l2 scenario is one objective, cross-entropy + wd/2 ||w||^2, whatever the optimizer's own weight decay: each
algorithm's decay is measured (lenet_bench.core.decay), and only a coupled one is used for the penalty."""
import pytest
import torch
import torch.nn.functional as F

from lenet_bench.core.decay import measured_decay
from lenet_bench.core.model import LeNet5
from lenet_bench.core.optimizers import build_optimizer
from lenet_bench.core.training import Cost, Objective
from lenet_bench.params import load
from lenet_bench.registry import ALGORITHMS, l2_mode

PRESETS = load()["optimizers"]


@pytest.mark.parametrize("preset, expected", [
    ({"algorithm": "sgd", "lr": 0.1, "momentum": 0.9}, "coupled"),  # torch adds wd * w to the gradient first
    ({"algorithm": "adam", "lr": 0.01}, "coupled"),
    ({"algorithm": "adamw", "lr": 0.01}, "uncoupled"),              # w <- w - lr * wd * w, apart from Adam's step
    ({"algorithm": "lbfgs", "lr": 1.0}, "none"),
])
def test_the_measurement_tells_coupled_from_decoupled_decay(preset, expected):
    assert measured_decay(preset) == expected


@pytest.mark.parametrize("name", PRESETS)
def test_every_presets_decay_is_what_the_registry_says(name):
    preset = PRESETS[name]
    assert measured_decay(preset) == ALGORITHMS[preset["algorithm"]].weight_decay, \
        f"registry.py labels {preset['algorithm']}'s weight_decay wrongly: fix the label, then rerun the l2 scenario"


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
def test_every_preset_minimises_the_same_function_of_the_weights(project_params, synthetic_data, name):
    weight_decay = project_params["scenarios"]["l2"]["weight_decay"]
    data = synthetic_data(32, 8)
    x, y = data["train_x"], data["train_y"]
    torch.manual_seed(0)
    model = LeNet5()
    penalised = F.cross_entropy(model(x), y) + weight_decay / 2 * sum(p.square().sum() for p in model.parameters())
    expected = torch.autograd.grad(penalised, list(model.parameters()))
    preset = project_params["optimizers"][name]
    seen, group = gradient_acted_on(preset, weight_decay, x, y)
    for a, b in zip(seen, expected):
        torch.testing.assert_close(a, b)
    if l2_mode(preset["algorithm"], weight_decay) == "loss":
        assert group.get("weight_decay", 0.0) == 0.0  # no decay of its own on top of the penalty


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if ALGORITHMS[p["algorithm"]].weight_decay != "none"])
def test_without_l2_no_optimizer_decays_its_weights(project_params, name):
    """torch's AdamW (0.01) and Muon (0.1) decay by default: plain cross-entropy must be told 0."""
    optimizer = build_optimizer(LeNet5(), project_params["optimizers"][name], 0.0)
    assert all(group["weight_decay"] == 0.0 for group in optimizer.param_groups)
