"""Learning-rate schedules, stepped once per optimizer step, built from torch.optim.lr_scheduler;
and the batch-size schedule (a batch that grows from epoch to epoch: dynamic sampling)."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.optim import lr_scheduler

from lenet_bench.registry import SCHEDULES


def batch_sizes(preset: dict, epochs: int, samples: int) -> list[int]:
    """Each epoch's batch size: batch_size * batch_growth ** (epoch - 1), capped at max_batch_size."""
    growth, cap = preset.get("batch_growth", 1.0), min(preset.get("max_batch_size", samples), samples)
    return [min(cap, round(preset["batch_size"] * growth ** epoch)) for epoch in range(epochs)]


def step_clock(steps_per_epoch: list[int]) -> Callable[[float], int]:
    """The number of optimizer steps taken after a (fractional) number of epochs."""
    def steps_at(epochs: float) -> int:
        whole = min(int(epochs), len(steps_per_epoch))
        partial = epochs - whole if whole < len(steps_per_epoch) else 0.0
        return sum(steps_per_epoch[:whole]) + (round(partial * steps_per_epoch[whole]) if partial else 0)
    return steps_at


def epoch_steps(sizes: list[int], samples: int) -> list[int]:
    return [math.ceil(samples / size) for size in sizes]


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: dict,
                    steps_at: Callable[[float], int], epochs: int) -> lr_scheduler.LRScheduler:
    settings = {**SCHEDULES[schedule["name"]], **{k: v for k, v in schedule.items() if k != "name"}}
    total = steps_at(epochs)
    name = schedule["name"]
    if name == "constant":
        return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if name == "step":
        # StepLR decays every step_size steps: the steps of the first step_epochs epochs.
        step_size = max(1, steps_at(settings["step_epochs"]))
        return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=settings["gamma"])
    if name == "cosine":
        warmup = steps_at(settings["warmup_epochs"])
        base_lr = optimizer.param_groups[0]["lr"]
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup),
                                                eta_min=base_lr * settings["min_lr_fraction"])
        if warmup == 0:
            return cosine
        ramp = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, total_iters=warmup)
        return lr_scheduler.SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])
    # onecycle: linear-free warm-up to lr, then cosine annealing to lr / (div * final_div).
    return lr_scheduler.OneCycleLR(
        optimizer, max_lr=optimizer.param_groups[0]["lr"], total_steps=total,
        pct_start=settings["warmup_fraction"], div_factor=settings["div_factor"],
        final_div_factor=settings["final_div_factor"], cycle_momentum=False,
    )
