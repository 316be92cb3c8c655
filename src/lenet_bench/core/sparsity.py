"""Training under a bound on the nonzero weights of fc1 and fc2.

A Sparsifier is called after every optimizer step. It keeps a mask per parameter; masked entries,
their gradients and their optimizer state (momentum, Adam's moments: any state tensor shaped like
the parameter) are held at exactly zero, so a pruned weight cannot grow back through stale state.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lenet_bench.registry import SPARSITY_METHODS

NEXT_LAYER = {"fc1": "fc2", "fc2": "fc3"}  # whose input columns a removed unit's output feeds


def allowed_nonzeros(sizes: dict[str, int], density: float, scope: str) -> dict[str, int]:
    """The most nonzero weights allowed: per layer, or under the key 'total' for the global scope."""
    if scope == "global":
        return {"total": math.floor(density * sum(sizes.values()))}
    return {layer: math.floor(density * size) for layer, size in sizes.items()}


def top_k_masks(scores: dict[str, torch.Tensor], density: float, scope: str) -> dict[str, torch.Tensor]:
    """Boolean masks keeping the highest-scoring entries: exactly the allowed number, ties broken by index."""
    groups = [list(scores)] if scope == "global" else [[layer] for layer in scores]
    limits = allowed_nonzeros({k: v.numel() for k, v in scores.items()}, density, scope)
    masks = {}
    for group, keep in zip(groups, limits.values()):
        flat = torch.cat([scores[layer].flatten() for layer in group])
        chosen = torch.zeros_like(flat, dtype=torch.bool)
        chosen[flat.topk(keep, sorted=False).indices] = True
        for layer, part in zip(group, chosen.split([scores[layer].numel() for layer in group])):
            masks[layer] = part.view_as(scores[layer])
    return masks


def cubic_density(step: int, start: int, end: int, final: float) -> float:
    """Zhu & Gupta's schedule: from dense at `start` to `final` at `end`, fast first, then slower."""
    progress = min(1.0, max(0.0, (step - start) / max(1, end - start)))
    return final + (1 - final) * (1 - progress) ** 3


class Sparsifier:
    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, settings: dict,
                 steps_at: Callable[[float], int]):
        self.params = dict(model.named_parameters())
        self.layers = settings["layers"]
        self.weights = {f"{layer}.weight": self.params[f"{layer}.weight"] for layer in self.layers}
        self.optimizer = optimizer
        self.method = settings["method"]
        defaults = SPARSITY_METHODS[self.method]
        self.options = {**defaults, **{k: v for k, v in settings.items() if k in defaults}}
        self.density, self.scope = settings["density"], settings["scope"]
        self.steps_at = steps_at  # epochs -> optimizer steps (batches may grow from epoch to epoch)
        self.masks: dict[str, torch.Tensor] | None = None  # parameter name -> mask; None while dense
        self.dense_grads: dict[str, torch.Tensor] = {}
        for name, param in self.params.items():
            param.register_hook(self._grad_hook(name))
        if self.method == "rigl":  # starts sparse, from a random mask
            self._set_masks(top_k_masks({k: torch.rand_like(w) for k, w in self.weights.items()},
                                        self.density, self.scope))

    def _grad_hook(self, name):
        def hook(grad):
            if name in self.weights:
                self.dense_grads[name] = grad  # RigL regrows where the dense gradient is largest
            masked = self.masks is not None and name in self.masks and self.method != "projected"
            return grad * self.masks[name] if masked else grad
        return hook

    @torch.no_grad()
    def _set_masks(self, masks: dict[str, torch.Tensor]) -> None:
        self.masks = masks
        self._apply()

    @torch.no_grad()
    def _apply(self) -> None:
        for name, mask in self.masks.items():
            param = self.params[name]
            param.mul_(mask)
            for value in self.optimizer.state.get(param, {}).values():
                if torch.is_tensor(value) and value.shape == param.shape:
                    value.mul_(mask)

    def _magnitudes(self) -> dict[str, torch.Tensor]:
        return {name: weight.detach().abs() for name, weight in self.weights.items()}

    def _unit_masks(self, density: float) -> dict[str, torch.Tensor]:
        """Keep the units (rows) of each layer with the largest incoming weights; zero the rest,
        their biases and the columns of the next layer that read them."""
        masks = {name: torch.ones_like(param, dtype=torch.bool) for name, param in self.params.items()
                 if name.split(".")[0] in {*self.layers, *(NEXT_LAYER[layer] for layer in self.layers)}}
        for layer in self.layers:
            rows = self.params[f"{layer}.weight"].detach().norm(dim=1)
            kept = torch.zeros_like(rows, dtype=torch.bool)
            kept[rows.topk(math.floor(density * len(rows)), sorted=False).indices] = True
            masks[f"{layer}.weight"] &= kept[:, None]
            masks[f"{layer}.bias"] &= kept
            masks[f"{NEXT_LAYER[layer]}.weight"] &= kept[None, :]
        return masks

    def _projection(self, density: float) -> dict[str, torch.Tensor]:
        """Masks that meet `density`: whole units for `neurons`, the largest magnitudes otherwise."""
        if self.method == "neurons":
            return self._unit_masks(density)
        return top_k_masks(self._magnitudes(), density, self.scope)

    def after_step(self, step: int) -> None:
        """Called after optimizer step number `step` (counted from 1)."""
        o, at = self.options, self.steps_at
        if self.method == "prune_finetune":
            if step == at(o["prune_epoch"]):
                self._set_masks(self._projection(self.density))
        elif self.method in ("gradual", "neurons"):
            start, end = at(o["start_epoch"]), at(o["end_epoch"])
            if start <= step <= end and ((step - start) % int(o["prune_every"]) == 0 or step == end):
                self._set_masks(self._projection(cubic_density(step, start, end, self.density)))
        elif self.method == "projected":
            self._set_masks(self._projection(self.density))
        elif self.method == "rigl":
            end = at(o["end_epoch"])
            if step < end and step % int(o["update_every"]) == 0:
                self._drop_and_grow(o["drop_fraction"] / 2 * (1 + math.cos(math.pi * step / end)))
        elif self.method == "l1_prox":
            if step < at(o["project_epoch"]):
                self._soft_threshold(self.optimizer.param_groups[0]["lr"] * o["l1"])
            elif step == at(o["project_epoch"]):
                self._set_masks(self._projection(self.density))
        if self.masks is not None:
            self._apply()

    @torch.no_grad()
    def _soft_threshold(self, threshold: float) -> None:
        """The proximal step of threshold * ||w||_1."""
        for weight in self.weights.values():
            weight.copy_(weight.sign() * (weight.abs() - threshold).clamp_min(0))

    @torch.no_grad()
    def _drop_and_grow(self, fraction: float) -> None:
        """Drop the smallest active weights, regrow as many where the dense gradient is largest."""
        layers = list(self.weights)
        groups = [layers] if self.scope == "global" else [[layer] for layer in layers]
        new = {}
        for group in groups:
            active = torch.cat([self.masks[k].flatten() for k in group])
            magnitude = torch.cat([self.weights[k].detach().abs().flatten() for k in group])
            gradient = torch.cat([self.dense_grads[k].abs().flatten() for k in group])
            n = int(fraction * int(active.sum()))
            mask = active.clone()
            if n > 0:
                dropped = torch.where(active, magnitude, math.inf).topk(n, largest=False).indices
                grow_score = torch.where(active, -math.inf, gradient)
                grow_score[dropped] = -math.inf  # regrow elsewhere than where it just dropped
                mask[dropped] = False
                mask[grow_score.topk(n).indices] = True
            for k, part in zip(group, mask.split([self.masks[k].numel() for k in group])):
                new[k] = part.view_as(self.masks[k])
        self._set_masks(new)  # regrown weights start at zero, like their optimizer state

    @torch.no_grad()
    def mask(self, model: torch.nn.Module) -> None:
        """Zero in `model` (e.g. an averaged copy of the trained one) what the masks zero."""
        params = dict(model.named_parameters())
        for name, mask in (self.masks or {}).items():
            params[name].mul_(mask)

    def finish(self) -> None:
        """Meet the bound exactly on what is saved, also when a schedule outlasts a short budget.
        (Where the masks already meet it, projecting again keeps them.)"""
        self._set_masks(self._projection(self.density))
