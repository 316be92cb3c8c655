"""Optimizer presets -> optimizers, and how each applies the L2 penalty."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Algorithm:
    factory: Callable[..., torch.optim.Optimizer]
    library: str                # where the implementation comes from, for reports
    settings: tuple[str, ...]   # the algorithm's own hyperparameters a preset may set
    weight_decay: str           # "coupled": its weight_decay adds wd * w to the gradient (L2);
                                # "decoupled": its weight_decay shrinks w apart from the gradient;
                                # "loss": it has none, so the loop adds wd/2 * ||w||^2 to the loss


def _lion(params, **settings):
    from pytorch_optimizer import Lion  # imported on use: only these presets need the package

    return Lion(params, **settings)


def _svrg(params, **settings):
    from .variance_reduction import SVRG

    return SVRG(params, **settings)


def _schedule_free_adamw(params, **settings):
    from schedulefree import AdamWScheduleFree

    return AdamWScheduleFree(params, **settings)


ALGORITHMS: dict[str, Algorithm] = {
    "sgd": Algorithm(torch.optim.SGD, "torch.optim.SGD", ("momentum", "dampening", "nesterov"), "coupled"),
    "adam": Algorithm(torch.optim.Adam, "torch.optim.Adam", ("betas", "eps", "amsgrad"), "coupled"),
    "adamw": Algorithm(torch.optim.AdamW, "torch.optim.AdamW", ("betas", "eps", "amsgrad"), "decoupled"),
    "nadam": Algorithm(torch.optim.NAdam, "torch.optim.NAdam", ("betas", "eps", "momentum_decay"), "coupled"),
    "radam": Algorithm(torch.optim.RAdam, "torch.optim.RAdam", ("betas", "eps"), "coupled"),
    "rmsprop": Algorithm(torch.optim.RMSprop, "torch.optim.RMSprop", ("alpha", "eps", "momentum", "centered"),
                         "coupled"),
    "adagrad": Algorithm(torch.optim.Adagrad, "torch.optim.Adagrad",
                         ("lr_decay", "eps", "initial_accumulator_value"), "coupled"),
    "lion": Algorithm(_lion, "pytorch_optimizer.Lion", ("betas",), "decoupled"),
    "schedule_free_adamw": Algorithm(_schedule_free_adamw, "schedulefree.AdamWScheduleFree",
                                     ("betas", "eps", "warmup_steps"), "decoupled"),
    "svrg": Algorithm(_svrg, "lenet_bench.variance_reduction.SVRG (own)", ("snapshot_epochs", "momentum"),
                      "coupled"),
    "lbfgs": Algorithm(torch.optim.LBFGS, "torch.optim.LBFGS",
                       ("max_iter", "history_size", "line_search_fn", "tolerance_grad", "tolerance_change"),
                       "loss"),
}
PRESET_KEYS = ("family", "algorithm", "batch_size", "lr", "schedule")  # family: a label for reports


def l2_mode(algorithm: str, weight_decay: float) -> str:
    """How the L2 penalty reaches the weights: 'none', 'coupled', 'decoupled' or 'loss'."""
    return "none" if weight_decay == 0 else ALGORITHMS[algorithm].weight_decay


def build_optimizer(parameters, preset: dict, weight_decay: float) -> torch.optim.Optimizer:
    algorithm = ALGORITHMS[preset["algorithm"]]
    settings = {key: preset[key] for key in algorithm.settings if key in preset}
    if "betas" in settings:
        settings["betas"] = tuple(settings["betas"])  # YAML gives a list
    if l2_mode(preset["algorithm"], weight_decay) in ("coupled", "decoupled"):
        settings["weight_decay"] = weight_decay
    return algorithm.factory(parameters, lr=preset["lr"], **settings)


def set_mode(optimizer: torch.optim.Optimizer, mode: str) -> None:
    """Schedule-free optimizers train at one point and evaluate at another (their average):
    they must be told which. Other optimizers have no such modes."""
    switch = getattr(optimizer, mode, None)
    if callable(switch):
        switch()
