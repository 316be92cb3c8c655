"""Optimizer presets -> optimizers, and how each applies the L2 penalty."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Algorithm:
    factory: Callable[..., torch.optim.Optimizer]
    library: str                # where the implementation comes from, for reports
    settings: tuple[str, ...]   # the algorithm's own hyperparameters a preset may set
    weight_decay: str           # "coupled": its weight_decay adds wd * w to the gradient (L2);
                                # "decoupled": its weight_decay shrinks w apart from the gradient, another
                                # objective, so the loop adds wd/2 * ||w||^2 to the loss instead (l2_mode);
                                # "loss": it has none, so the loop adds the penalty to the loss
    create_graph: bool = False  # its closure must keep the backward graph (Hessian-vector products)
    named: bool = False         # its factory takes (name, parameter) pairs
    fixed_batches: bool = False  # it keeps state per mini-batch: the same partition every epoch


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
    """A factory of one of the project's own optimizers (lenet_bench.optim), imported on use."""
    def factory(params, **settings):
        from . import optim

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
    "lion": Algorithm(_pytorch_optimizer("Lion"), "pytorch_optimizer.Lion", ("betas",), "decoupled"),
    "muon": Algorithm(_own("MuonWithAdamW"), "torch.optim.Muon + torch.optim.AdamW", ("momentum", "betas"), "decoupled",
                      named=True),
    "schedule_free_adamw": Algorithm(_schedule_free_adamw, "schedulefree.AdamWScheduleFree",
                                     ("betas", "eps", "warmup_steps"), "decoupled"),
    "sam": Algorithm(_sharpness_aware_sgd, "pytorch_optimizer.SAM over torch.optim.SGD",
                     ("rho", "adaptive", "momentum", "nesterov"), "coupled"),
    "svrg": Algorithm(_own("SVRG"), "lenet_bench.optim.variance_reduction.SVRG (own)", ("snapshot_epochs", "momentum"),
                      "coupled"),
    "saga": Algorithm(_own("SAGA"), "lenet_bench.optim.variance_reduction.SAGA (own)", ("momentum",), "coupled",
                      fixed_batches=True),
    "newton_cg": Algorithm(_own("NewtonCG"), "lenet_bench.optim.newton_cg.NewtonCG (own)",
                           ("damping", "cg_iterations", "cg_tolerance", "curvature_batch"), "coupled"),
    "kfac": Algorithm(_own("KFAC"), "lenet_bench.optim.kfac.KFAC (own)",
                      ("momentum", "damping", "update_period", "curvature_batch", "factor_decay", "kl_clip"),
                      "coupled"),
    "adahessian": Algorithm(_pytorch_optimizer("AdaHessian", hessian=True), "pytorch_optimizer.AdaHessian",
                            ("betas", "eps", "update_period", "hessian_power"), "decoupled", create_graph=True),
    "sophia": Algorithm(_pytorch_optimizer("SophiaH", hessian=True), "pytorch_optimizer.SophiaH",
                        ("betas", "eps", "p", "update_period"), "decoupled", create_graph=True),
    "shampoo": Algorithm(_pytorch_optimizer("ScalableShampoo"), "pytorch_optimizer.ScalableShampoo",
                         ("betas", "start_preconditioning_step", "preconditioning_compute_steps", "block_size",
                          "nesterov"), "coupled"),
    "lbfgs": Algorithm(torch.optim.LBFGS, "torch.optim.LBFGS",
                       ("max_iter", "history_size", "line_search_fn", "tolerance_grad", "tolerance_change"),
                       "loss"),
}
# family: a label for reports; batch_growth, max_batch_size: a batch that grows each epoch;
# averaging: evaluate an average of the iterates (EMA or SWA, torch.optim.swa_utils);
# search: the space its tuning draws from (lenet_bench.search)
PRESET_KEYS = ("family", "algorithm", "batch_size", "lr", "schedule", "batch_growth", "max_batch_size",
               "averaging", "search")


def l2_mode(algorithm: str, weight_decay: float) -> str:
    """How the L2 penalty wd/2 ||w||^2 reaches the weights: 'none', 'coupled' (the optimizer's weight_decay
    adds wd * w to the gradient) or 'loss' (the loop adds the penalty to the loss). An optimizer whose own
    weight_decay is decoupled gets the penalty through the loss, so that every optimizer of a scenario
    minimises the same function of the weights."""
    if weight_decay == 0:
        return "none"
    return "coupled" if ALGORITHMS[algorithm].weight_decay == "coupled" else "loss"


def build_optimizer(model: torch.nn.Module, preset: dict, weight_decay: float) -> torch.optim.Optimizer:
    algorithm = ALGORITHMS[preset["algorithm"]]
    parameters = model.named_parameters() if algorithm.named else model.parameters()
    settings = {key: preset[key] for key in algorithm.settings if key in preset}
    if "betas" in settings:
        settings["betas"] = tuple(settings["betas"])  # YAML gives a list
    if algorithm.weight_decay != "loss":  # always given: torch's AdamW and Muon decay by default
        settings["weight_decay"] = weight_decay if l2_mode(preset["algorithm"], weight_decay) == "coupled" else 0.0
    return algorithm.factory(parameters, lr=preset["lr"], **settings)


def set_mode(optimizer: torch.optim.Optimizer, mode: str) -> None:
    """Schedule-free optimizers train at one point and evaluate at another (their average):
    they must be told which. Other optimizers have no such modes."""
    switch = getattr(optimizer, mode, None)
    if callable(switch):
        switch()
