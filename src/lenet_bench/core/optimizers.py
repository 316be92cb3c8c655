"""Optimizer presets -> torch optimizers: each algorithm's factory, and its L2 penalty applied."""
from __future__ import annotations

from collections.abc import Callable

import torch

from lenet_bench.registry import ALGORITHMS, l2_mode


def _counting_hessian_products(optimizer_class):
    """The pytorch-optimizer class, counting each Hutchinson Hessian-vector product of a step as two
    gradient evaluations of the closure's batch."""
    class Counted(optimizer_class):
        def step(self, closure):
            products = 0
            estimate = self.compute_hutchinson_hessian

            def counted(*args, **kwargs):
                nonlocal products
                products += kwargs.get("num_samples", 1)
                return estimate(*args, **kwargs)
            self.compute_hutchinson_hessian = counted
            try:
                loss = super().step(closure)
            finally:
                del self.compute_hutchinson_hessian
            closure.count_products(products)
            return loss
    Counted.__name__ = optimizer_class.__name__
    return Counted


def _pytorch_optimizer(name: str, hessian: bool = False):
    def factory(params, **settings):
        import pytorch_optimizer  # imported on use: only these presets need the package

        optimizer_class = getattr(pytorch_optimizer, name)
        if hessian:
            optimizer_class = _counting_hessian_products(optimizer_class)
        return optimizer_class(params, **settings)
    return factory


def _own(name: str):
    """A factory of one of the project's own optimizers (lenet_bench.core.optim), imported on use."""
    def factory(params, **settings):
        from lenet_bench.core import optim

        return getattr(optim, name)(params, **settings)
    return factory


def _sharpness_aware_sgd(params, **settings):
    """pytorch_optimizer.SAM over torch.optim.SGD. SAM expects the gradient at the current weights
    to be there before its step; this step takes it through the closure first, so that the loop
    calls SAM like every other optimizer (and counts both gradients of a step)."""
    from pytorch_optimizer import SAM

    class ClosureSAM(SAM):
        def step(self, closure):
            with torch.enable_grad():
                loss = closure()  # at w: the direction of the ascent step, and the train loss
            super().step(closure)  # the gradient at w + rho g/|g| steps from w
            return loss

    return ClosureSAM(params, base_optimizer=torch.optim.SGD, **settings)


def _schedule_free_adamw(params, **settings):
    from schedulefree import AdamWScheduleFree

    return AdamWScheduleFree(params, **settings)


# Each algorithm of lenet_bench.registry.ALGORITHMS, built from its parameters and settings.
FACTORIES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "lion": _pytorch_optimizer("Lion"),
    "muon": _own("MuonWithAdamW"),
    "schedule_free_adamw": _schedule_free_adamw,
    "sam": _sharpness_aware_sgd,
    "svrg": _own("SVRG"),
    "saga": _own("SAGA"),
    "newton_cg": _own("NewtonCG"),
    "kfac": _own("KFAC"),
    "adahessian": _pytorch_optimizer("AdaHessian", hessian=True),
    "sophia": _pytorch_optimizer("SophiaH", hessian=True),
    "shampoo": _pytorch_optimizer("ScalableShampoo"),
    "lbfgs": torch.optim.LBFGS,
}


def build_with_decay(model: torch.nn.Module, preset: dict, own_weight_decay: float | None) -> torch.optim.Optimizer:
    """The preset's optimizer with its own weight_decay set to `own_weight_decay` (None: not given at all)."""
    algorithm, factory = ALGORITHMS[preset["algorithm"]], FACTORIES[preset["algorithm"]]
    parameters = model.named_parameters() if algorithm.named else model.parameters()
    settings = {key: preset[key] for key in algorithm.settings if key in preset}
    if "betas" in settings:
        settings["betas"] = tuple(settings["betas"])  # YAML gives a list
    if own_weight_decay is not None:
        settings["weight_decay"] = own_weight_decay
    return factory(parameters, lr=preset["lr"], **settings)


def build_optimizer(model: torch.nn.Module, preset: dict, weight_decay: float) -> torch.optim.Optimizer:
    """The preset's optimizer, its own weight_decay given the L2 coefficient where that is coupled (the same
    objective, lenet_bench.core.decay measures which are) and 0 otherwise: torch's AdamW and Muon decay by
    default."""
    if ALGORITHMS[preset["algorithm"]].weight_decay == "none":
        return build_with_decay(model, preset, None)
    coupled = l2_mode(preset["algorithm"], weight_decay) == "coupled"
    return build_with_decay(model, preset, weight_decay if coupled else 0.0)


def set_mode(optimizer: torch.optim.Optimizer, mode: str) -> None:
    """Schedule-free optimizers train at one point and evaluate at another (their average):
    they must be told which. Other optimizers have no such modes."""
    switch = getattr(optimizer, mode, None)
    if callable(switch):
        switch()
