"""Learning-rate schedules, stepped once per optimizer step, built from torch.optim.lr_scheduler."""
from __future__ import annotations

import torch
from torch.optim import lr_scheduler

# Each schedule's settings and their defaults; a preset may override any of them.
SCHEDULES: dict[str, dict[str, float]] = {
    "constant": {},
    "step": {"step_epochs": 3, "gamma": 0.1},
    "cosine": {"warmup_epochs": 0, "min_lr_fraction": 0.0},
    "onecycle": {"warmup_fraction": 0.25, "div_factor": 25.0, "final_div_factor": 1e4},
}


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: dict, steps_per_epoch: int,
                    epochs: int) -> lr_scheduler.LRScheduler:
    settings = {**SCHEDULES[schedule["name"]], **{k: v for k, v in schedule.items() if k != "name"}}
    total = steps_per_epoch * epochs
    name = schedule["name"]
    if name == "constant":
        return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if name == "step":
        step_size = max(1, round(settings["step_epochs"] * steps_per_epoch))
        return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=settings["gamma"])
    if name == "cosine":
        warmup = round(settings["warmup_epochs"] * steps_per_epoch)
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
