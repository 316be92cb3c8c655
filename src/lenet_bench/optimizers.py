"""Optimizer presets -> torch optimizers, and how each applies the L2 penalty."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Algorithm:
    factory: Callable[..., torch.optim.Optimizer]
    settings: tuple[str, ...]   # the algorithm's own hyperparameters a preset may set
    weight_decay: str           # "coupled": the optimizer adds wd * w to the gradient;
                                # "loss": it has none, so the loop adds wd/2 * ||w||^2 to the loss


ALGORITHMS: dict[str, Algorithm] = {
    "sgd": Algorithm(torch.optim.SGD, ("momentum", "dampening", "nesterov"), "coupled"),
}
PRESET_KEYS = ("family", "algorithm", "batch_size", "lr", "schedule")  # family: a label for reports


def l2_mode(algorithm: str, weight_decay: float) -> str:
    """How the L2 penalty reaches the gradient: 'none', 'coupled' or 'loss'."""
    return "none" if weight_decay == 0 else ALGORITHMS[algorithm].weight_decay


def build_optimizer(parameters, preset: dict, weight_decay: float) -> torch.optim.Optimizer:
    algorithm = ALGORITHMS[preset["algorithm"]]
    settings = {key: preset[key] for key in algorithm.settings if key in preset}
    if l2_mode(preset["algorithm"], weight_decay) == "coupled":
        settings["weight_decay"] = weight_decay
    return algorithm.factory(parameters, lr=preset["lr"], **settings)
