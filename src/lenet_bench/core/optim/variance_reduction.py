"""Noise reduction: SVRG (Johnson & Zhang, 2013) and SAGA (Defazio, Bach & Lacoste-Julien, 2014).

No well-kept library implements them as torch optimizers, so they are written here and tested against
the mathematics (linear convergence on a strongly convex problem, tests/test_variance_reduction.py).
"""
from __future__ import annotations

from collections.abc import Callable

import torch


def _step_along(p: torch.Tensor, direction: torch.Tensor, group: dict, state: dict) -> None:
    """w <- w - lr * d, with d plus coupled weight decay, and heavy-ball momentum on d if asked."""
    if group["weight_decay"]:
        direction = direction + group["weight_decay"] * p
    if group["momentum"]:
        buffer = state.setdefault("momentum_buffer", torch.zeros_like(p))
        direction = buffer.mul_(group["momentum"]).add_(direction)
    p.add_(direction, alpha=-group["lr"])


class SVRG(torch.optim.Optimizer):
    """Each step: d = g_B(w) - g_B(w~) + mu, w <- w - lr * d (with optional momentum on d), where
    w~ is a snapshot of the weights taken every `snapshot_epochs` epochs and mu the full gradient
    there. The training loop provides the full gradient through `use_full_gradient`; the closure
    is called twice per step, at w and at w~, on the same mini-batch."""

    def __init__(self, params, lr: float, snapshot_epochs: float = 1.0, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})
        self.snapshot_epochs = snapshot_epochs
        self.full_gradient: Callable[[], None] | None = None
        self.snapshot_every = 0
        self.steps = 0

    def use_full_gradient(self, full_gradient: Callable[[], None], steps_per_epoch: int) -> None:
        """`full_gradient()` must leave the gradient of the whole training objective in p.grad."""
        self.full_gradient = full_gradient
        self.snapshot_every = max(1, round(self.snapshot_epochs * steps_per_epoch))

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _take_snapshot(self) -> None:
        with torch.enable_grad():
            self.full_gradient()
        for p in self._params():
            self.state[p]["snapshot"] = p.detach().clone()
            self.state[p]["full_grad"] = p.grad.detach().clone()

    @torch.no_grad()
    def step(self, closure):
        if self.full_gradient is None:
            raise RuntimeError("SVRG needs the full gradient: call use_full_gradient() before step()")
        if self.steps % self.snapshot_every == 0:
            self._take_snapshot()
        self.steps += 1
        with torch.enable_grad():
            loss = closure()  # the mini-batch gradient at w
        here = {p: (p.detach().clone(), p.grad.detach().clone()) for p in self._params()}
        for p in here:
            p.copy_(self.state[p]["snapshot"])
        with torch.enable_grad():
            closure()  # the same mini-batch's gradient at the snapshot
        for group in self.param_groups:
            for p in group["params"]:
                weight, grad = here[p]
                state = self.state[p]
                p.copy_(weight)
                _step_along(p, grad - p.grad + state["full_grad"], group, state)
        return loss


class SAGA(torch.optim.Optimizer):
    """Each step on mini-batch j of a fixed partition: d = g_j(w) - t_j + mean(t), then t_j <- g_j(w)
    and w <- w - lr * d (with optional momentum on d). The table t holds one gradient per mini-batch
    (a table per sample would not fit in memory) and starts at zero. The training loop keeps the
    same partition every epoch for it; the closure names its batch (batch_index of batch_count). One
    gradient evaluation per step, against SVRG's two and its full passes."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        j, count = closure.batch_index, closure.batch_count
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if "table" not in state:
                    state["table"] = torch.zeros((count, *p.shape), dtype=p.dtype, device=p.device)
                    state["table_mean"] = torch.zeros_like(p)
                table, mean = state["table"], state["table_mean"]
                change = p.grad - table[j]
                direction = change + mean
                mean.add_(change, alpha=1.0 / count)
                table[j].copy_(p.grad)
                _step_along(p, direction, group, state)
        return loss
