"""K-FAC (Martens & Grosse, 2015; for convolutions Grosse & Martens, 2016): natural-gradient steps
with each layer's block of the Fisher approximated by a Kronecker product G (x) A of the second
moments of its output gradients (G) and of its inputs (A). No well-kept torch optimizer does this for
torch 2.14, so it is written here and tested against an explicit Fisher (tests/test_kfac.py)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = (nn.Linear, nn.Conv2d)


def kfac_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers K-FAC preconditions, by name; their weights and biases are its parameters."""
    found = {name: m for name, m in model.named_modules() if isinstance(m, LAYERS)}
    for name, m in found.items():
        if isinstance(m, nn.Conv2d) and (isinstance(m.padding, str) or m.groups != 1):
            raise ValueError(f"K-FAC: {name} uses padding={m.padding!r}, groups={m.groups}; "
                             "only numeric padding and groups=1 are supported")
    return found


def input_rows(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The layer's inputs, one row per sample (and per location for a convolution: its patches),
    with a 1 appended for the bias."""
    if isinstance(module, nn.Conv2d):
        patches = F.unfold(inputs, module.kernel_size, dilation=module.dilation, padding=module.padding,
                           stride=module.stride)  # (batch, in_channels * kernel area, locations)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
    else:
        rows = inputs.reshape(-1, inputs.shape[-1])
    if module.bias is not None:
        rows = torch.cat([rows, rows.new_ones(len(rows), 1)], dim=1)
    return rows


def output_rows(module: nn.Module, gradients: torch.Tensor) -> torch.Tensor:
    """Gradients of the loss in the layer's outputs, one row per sample (and location)."""
    if isinstance(module, nn.Conv2d):
        return gradients.flatten(2).transpose(1, 2).reshape(-1, gradients.shape[1])
    return gradients.reshape(-1, gradients.shape[-1])


def kronecker_factors(model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None
                      ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (A, G) on the batch x: A the mean of a a^T over samples (and locations), G the
    sum over locations of g g^T, averaged over samples, g the gradient of a sample's cross-entropy in
    the layer's output, for labels drawn from the model's own prediction (the true Fisher, not the
    empirical one) unless `labels` are given. For a linear layer and one sample, G (x) A is exactly
    that sample's Fisher block; for a convolution, it is the KFC approximation. p.grad is untouched."""
    layers = kfac_layers(model)
    captured = {}

    def keep(module, inputs, output):
        captured[module] = (inputs[0].detach(), output)
    handles = [m.register_forward_hook(keep) for m in layers.values()]
    try:
        logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    if labels is None:
        labels = torch.multinomial(logits.detach().softmax(dim=1), 1).squeeze(1)
    outputs = [captured[m][1] for m in layers.values()]
    # Summed, not averaged: each sample's gradient in its own outputs.
    gradients = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), outputs)
    factors = {}
    for (name, m), g in zip(layers.items(), gradients):
        a, g = input_rows(m, captured[m][0]), output_rows(m, g)
        factors[name] = (a.T @ a / len(a), g.T @ g / len(x))
    return factors


def precondition(gradient: torch.Tensor, eigen_a, eigen_g, damping: float) -> torch.Tensor:
    """(G (x) A + damping I)^-1 applied to a layer's gradient matrix (outputs x inputs), through
    the eigendecompositions of A and G: exact for the damped Kronecker product."""
    values_a, vectors_a = eigen_a
    values_g, vectors_g = eigen_g
    rotated = vectors_g.T @ gradient @ vectors_a
    return vectors_g @ (rotated / (values_g[:, None] * values_a[None, :] + damping)) @ vectors_a.T


def _eigen(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, vectors = torch.linalg.eigh(matrix)
    return values.clamp(min=0), vectors  # a second moment: negative values are round-off


class KFAC(torch.optim.Optimizer):
    """Each step: the closure's gradient g (+ wd w, coupled L2); every `update_period` steps, fresh
    Kronecker factors from the first `curvature_batch` samples of the batch (one more backward pass,
    counted), folded into running averages (`factor_decay`), and their eigendecompositions; then
    each layer's direction d = (G (x) A + damping I)^-1 g, scaled down so that lr^2 d.g <= kl_clip
    (Ba et al., 2017), and a heavy-ball step with it. The closure must expose its model (the same at
    every step) and inputs (`closure.model`, `closure.x`), as the training loop's does; the optimizer
    must hold all of the model's parameters. Parameters outside Linear and Conv2d layers take the
    plain gradient."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9, damping: float = 3e-3,
                 weight_decay: float = 0.0, update_period: int = 10, curvature_batch: int = 256,
                 factor_decay: float = 0.95, kl_clip: float = 1e-3):
        super().__init__(params, {"lr": lr, "momentum": momentum, "damping": damping,
                                  "weight_decay": weight_decay})
        if len(self.param_groups) != 1:
            raise ValueError("KFAC takes one parameter group")
        self.update_period, self.curvature_batch = update_period, curvature_batch
        self.factor_decay, self.kl_clip = factor_decay, kl_clip
        self.factors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.eigen: dict[str, tuple[tuple, tuple]] = {}
        self.layers: dict[str, nn.Module] | None = None  # the closure's model's, found at the first step
        self.steps = 0

    def _refresh(self, model: nn.Module, x: torch.Tensor) -> None:
        with torch.enable_grad():
            fresh = kronecker_factors(model, x)
        for name, (a, g) in fresh.items():
            if name in self.factors:
                old_a, old_g = self.factors[name]
                a = self.factor_decay * old_a + (1 - self.factor_decay) * a
                g = self.factor_decay * old_g + (1 - self.factor_decay) * g
            self.factors[name] = (a, g)
            self.eigen[name] = (_eigen(a), _eigen(g))

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        group = self.param_groups[0]
        model = closure.model
        if self.layers is None:
            if {id(p) for p in model.parameters()} != {id(p) for p in group["params"]}:
                raise ValueError("KFAC must optimise all of the model's parameters")
            self.layers = kfac_layers(model)
        if self.steps % self.update_period == 0:
            x = closure.x[: self.curvature_batch]
            self._refresh(model, x)
            closure.count_backward(len(x))
        self.steps += 1

        wd = group["weight_decay"]
        gradients = {p: p.grad + wd * p if wd else p.grad for p in group["params"] if p.grad is not None}
        directions = dict(gradients)
        for name, m in self.layers.items():
            if m.weight not in gradients:
                continue
            matrix = gradients[m.weight].reshape(len(m.weight), -1)
            if m.bias is not None:
                matrix = torch.cat([matrix, gradients[m.bias][:, None]], dim=1)
            d = precondition(matrix, *self.eigen[name], group["damping"])
            directions[m.weight] = d[:, : matrix.shape[1] - (m.bias is not None)].reshape(m.weight.shape)
            if m.bias is not None:
                directions[m.bias] = d[:, -1]
        # KL clipping, without a host sync: scale = min(1, sqrt(kl_clip / (lr^2 d.g))).
        dg = sum((directions[p] * g).sum() for p, g in gradients.items())
        scale = (self.kl_clip / (group["lr"] ** 2 * dg.clamp(min=1e-30))).sqrt().clamp(max=1.0)
        for p, d in directions.items():
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = d * scale
            else:
                state["momentum_buffer"].mul_(group["momentum"]).add_(d * scale)
            p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss
