"""Hessian-free optimisation (Martens, 2010): truncated conjugate gradient on damped Gauss-Newton-
vector products, built on torch.func. No well-kept torch optimizer does this, so it is written here
and tested against an explicit Gauss-Newton matrix (tests/test_newton_cg.py)."""
from __future__ import annotations

import torch
from torch.func import functional_call, jvp, vjp


def gauss_newton_product(model: torch.nn.Module, x: torch.Tensor, parameters: dict[str, torch.Tensor]):
    """A function v -> G v, where G = J^T H J / n is the Gauss-Newton matrix of the mean
    cross-entropy over the batch x at `parameters`: J the Jacobian of the logits in the
    parameters, H = diag(p) - p p^T the Hessian of the cross-entropy in the logits."""
    def logits_of(params):
        return functional_call(model, params, (x,))

    logits, pull_back = vjp(logits_of, parameters)
    probabilities = logits.detach().softmax(dim=1)

    def product(vectors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        _, jv = jvp(logits_of, (parameters,), (vectors,))
        hjv = probabilities * jv - probabilities * (probabilities * jv).sum(dim=1, keepdim=True)
        return pull_back(hjv / len(x))[0]
    return product


def _dot(a: dict, b: dict) -> torch.Tensor:
    return sum((a[k] * b[k]).sum() for k in a)


def conjugate_gradient(product, b: dict, iterations: int, tolerance: float) -> tuple[dict, int]:
    """Approximately solve A d = b for a symmetric positive definite A given by `product`;
    stop after `iterations` products or once ||r|| <= tolerance * ||b||. Return d and the products used."""
    d = {k: torch.zeros_like(v) for k, v in b.items()}
    r = {k: v.clone() for k, v in b.items()}
    p = {k: v.clone() for k, v in b.items()}
    rr = _dot(r, r)
    stop = tolerance ** 2 * rr
    for used in range(1, iterations + 1):
        ap = product(p)
        alpha = rr / _dot(p, ap)
        for k in d:
            d[k].add_(alpha * p[k])
            r[k].sub_(alpha * ap[k])
        rr_next = _dot(r, r)
        if rr_next <= stop:  # one host sync per iteration: cheap beside a product
            return d, used
        for k in p:
            p[k] = r[k] + (rr_next / rr) * p[k]
        rr = rr_next
    return d, iterations


class NewtonCG(torch.optim.Optimizer):
    """Each step: the gradient g of the closure's mini-batch, then d ~ -(G + damping I)^-1 g by at
    most `cg_iterations` of conjugate gradient, G the Gauss-Newton matrix on the first
    `curvature_batch` samples of that batch; w <- w + lr d. Coupled weight decay adds wd w to g and
    wd I to G. Each Gauss-Newton-vector product counts as two gradient evaluations per sample.
    The closure must expose its model and inputs (`closure.model`, `closure.x`), as the training
    loop's does; the optimizer must hold all of the model's parameters. Where the closure carries
    masks (`closure.masks`, the sparse scenario), conjugate gradient runs in the subspace of the
    weights they leave free: a pruned weight stays zero and does not bend the others' step."""

    def __init__(self, params, lr: float = 1.0, damping: float = 1.0, cg_iterations: int = 10,
                 cg_tolerance: float = 1e-3, curvature_batch: int = 512, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "damping": damping, "weight_decay": weight_decay})
        if len(self.param_groups) != 1:
            raise ValueError("NewtonCG takes one parameter group")
        self.cg_iterations, self.cg_tolerance, self.curvature_batch = cg_iterations, cg_tolerance, curvature_batch

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = closure()
        group = self.param_groups[0]
        named = dict(closure.model.named_parameters())
        if {id(p) for p in named.values()} != {id(p) for p in group["params"]}:
            raise ValueError("NewtonCG must optimise all of the model's parameters")
        wd, damping = group["weight_decay"], group["damping"]
        masks = getattr(closure, "masks", None) or {}

        def free(v: dict) -> dict:
            return {k: v[k] * masks[k] if k in masks else v[k] for k in v}

        gradient = free({k: p.grad + wd * p if wd else p.grad for k, p in named.items()})
        x = closure.x[: self.curvature_batch]
        gauss_newton = gauss_newton_product(closure.model, x, {k: p.detach() for k, p in named.items()})

        def damped(v):
            gv = gauss_newton(v)
            return free({k: gv[k] + (damping + wd) * v[k] for k in v})

        direction, products = conjugate_gradient(damped, {k: -g for k, g in gradient.items()},
                                                 self.cg_iterations, self.cg_tolerance)
        closure.count_products(products, samples=len(x))
        for k, p in named.items():
            p.add_(direction[k], alpha=group["lr"])
        return loss
