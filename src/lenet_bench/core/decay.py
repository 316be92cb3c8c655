"""Which objective an optimizer's own weight_decay minimises, measured rather than read from a label.

Three runs from the same initial weights, on the same batch and with the same random draws: one with the
optimizer's weight_decay = wd, one with wd/2 ||w||^2 added to the loss (weight_decay = 0), and one with
neither. Where the decay is coupled (L2: wd * w added to the gradient before the optimizer does anything
else with it), the first two runs are the same run, up to rounding; otherwise the decay acts elsewhere (after
a preconditioner, on the weights directly) and minimises another function of the weights. The runs are in
float64 and take a few more steps than the preset's longest period (a preconditioner recomputed every 100
steps acts only from then on), so that rounding is far below the decay's own effect."""
from __future__ import annotations

import torch

from lenet_bench.core.model import LeNet5
from lenet_bench.core.optimizers import build_with_decay, set_mode
from lenet_bench.core.training import Cost, Objective
from lenet_bench.registry import ALGORITHMS

COUPLED_TOLERANCE = 1e-6  # the two runs' distance, relative to how far the decay moved the weights


def periodic_steps(preset: dict) -> int:
    """The longest period among the preset's settings (named *_steps or *_period): state that is recomputed
    that rarely acts only after it, so the runs must outlast it."""
    periods = [v for k, v in preset.items() if k.endswith(("_steps", "_period")) and isinstance(v, int)]
    return max(periods, default=0)


def run_steps(preset: dict, own_weight_decay: float | None, l2_in_loss: float, x: torch.Tensor, y: torch.Tensor,
              steps: int, seed: int = 0) -> torch.Tensor:
    """The weights, flattened, after `steps` steps of the preset on one batch from LeNet-5's seeded start."""
    torch.manual_seed(seed)
    model = LeNet5().double()
    optimizer = build_with_decay(model, preset, own_weight_decay)
    set_mode(optimizer, "train")  # schedule-free optimizers step only in train mode
    algorithm, cost = ALGORITHMS[preset["algorithm"]], Cost()
    if hasattr(optimizer, "use_full_gradient"):
        optimizer.use_full_gradient(Objective(model, optimizer, x, y, cost, l2_in_loss), steps)
    for _ in range(steps):
        optimizer.step(Objective(model, optimizer, x, y, cost, l2_in_loss, algorithm.create_graph))
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def measured_decay(preset: dict, weight_decay: float = 0.1, samples: int = 16) -> str:
    """'coupled' if the preset's own weight_decay takes the same steps as the L2 penalty in the loss,
    'uncoupled' if it takes others, 'none' if the optimizer has no weight_decay at all."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(samples, 1, 28, 28, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (samples,), generator=generator)
    steps = periodic_steps(preset) + 2
    try:
        own = run_steps(preset, weight_decay, 0.0, x, y, steps)
    except TypeError as err:
        if "weight_decay" in str(err):
            return "none"
        raise
    in_loss = run_steps(preset, 0.0, weight_decay / 2, x, y, steps)
    neither = run_steps(preset, 0.0, 0.0, x, y, steps)
    effect = (in_loss - neither).norm()
    if effect == 0:
        raise ValueError(f"{preset['algorithm']}: the L2 penalty did not move the weights; measure with more steps")
    return "coupled" if (own - in_loss).norm() <= COUPLED_TOLERANCE * effect else "uncoupled"
