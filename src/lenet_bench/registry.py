"""What params.yaml may name, without torch: the checks of params.yaml and the report read these, and
neither should wait for torch to load. The code that acts on a name (lenet_bench.core.optimizers,
schedules, sparsity) looks its settings up here."""
from __future__ import annotations

from dataclasses import dataclass

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Algorithm:
    library: str                # where the implementation comes from, for reports
    settings: tuple[str, ...]   # the algorithm's own hyperparameters a preset may set
    weight_decay: str           # what its own weight_decay does, as lenet_bench.core.decay measures it (a test
                                # holds this label to the measurement): "coupled", the same steps as the L2
                                # penalty wd/2 ||w||^2 in the loss; "uncoupled", other steps (decay on the
                                # weights directly, after a preconditioner, inside a curvature model): another
                                # algorithm, often another objective, so the loop adds the penalty to the loss
                                # instead (l2_mode); "none": it has no weight_decay, so the penalty goes in the loss
    description: str            # what it does, in one sentence of the report
    create_graph: bool = False  # its closure must keep the backward graph (Hessian-vector products)
    named: bool = False         # its factory takes (name, parameter) pairs
    fixed_batches: bool = False  # it keeps state per mini-batch: the same partition every epoch


ALGORITHMS: dict[str, Algorithm] = {
    "sgd": Algorithm(
        "torch.optim.SGD", ("momentum", "dampening", "nesterov"), "coupled",
        "stochastic gradient descent on mini-batches, with heavy-ball or Nesterov momentum where the preset sets it"),
    "adam": Algorithm(
        "torch.optim.Adam", ("betas", "eps", "amsgrad"), "coupled",
        "Adam: steps scaled per coordinate by running averages of the gradient and of its square"),
    "adamw": Algorithm(
        "torch.optim.AdamW", ("betas", "eps", "amsgrad"), "uncoupled",
        "AdamW: Adam with the weight decay applied to the weights directly (decoupled), not through the gradient"),
    "nadam": Algorithm(
        "torch.optim.NAdam", ("betas", "eps", "momentum_decay"), "coupled",
        "NAdam: Adam with a Nesterov look-ahead in its first-moment estimate"),
    "radam": Algorithm(
        "torch.optim.RAdam", ("betas", "eps"), "coupled",
        "RAdam: Adam whose adaptive step is switched on gradually, as the variance of its second-moment "
        "estimate allows (a warm-up without a schedule)"),
    "rmsprop": Algorithm(
        "torch.optim.RMSprop", ("alpha", "eps", "momentum", "centered"), "coupled",
        "RMSprop: steps scaled per coordinate by a running average of the squared gradient"),
    "adagrad": Algorithm(
        "torch.optim.Adagrad", ("lr_decay", "eps", "initial_accumulator_value"), "coupled",
        "Adagrad: steps scaled per coordinate by the root of the sum of all past squared gradients"),
    "lion": Algorithm(
        "pytorch_optimizer.Lion", ("betas",), "uncoupled",
        "Lion: the sign of an interpolation of momentum and gradient, with decoupled weight decay"),
    "muon": Algorithm(
        "torch.optim.Muon + torch.optim.AdamW", ("momentum", "betas"), "uncoupled",
        "Muon on the 2-D weights of fc1 and fc2 (momentum, orthogonalised by Newton-Schulz iterations) and "
        "AdamW on every other parameter", named=True),
    "schedule_free_adamw": Algorithm(
        "schedulefree.AdamWScheduleFree", ("betas", "eps", "warmup_steps"), "uncoupled",
        "schedule-free AdamW: no decaying schedule; the gradient is taken at an interpolation of the iterate "
        "and its running average, and the average is evaluated"),
    "sam": Algorithm(
        "pytorch_optimizer.SAM over torch.optim.SGD", ("rho", "adaptive", "momentum", "nesterov"), "uncoupled",
        "sharpness-aware minimisation (SAM) over SGD with momentum: each step takes the mini-batch gradient g at "
        "w, then the gradient at w + rho g/|g| (the worst nearby point, to first order), and steps from w along "
        "the latter: two gradients a step, for flatter minima"),
    "svrg": Algorithm(
        "lenet_bench.core.optim.variance_reduction.SVRG (own)", ("snapshot_epochs", "momentum"), "coupled",
        "SVRG: a full gradient at a snapshot taken every epoch, and on each mini-batch the step "
        "g_i(w) - g_i(snapshot) + full gradient, an unbiased gradient whose variance vanishes near the snapshot"),
    "saga": Algorithm(
        "lenet_bench.core.optim.variance_reduction.SAGA (own)", ("momentum",), "coupled",
        "SAGA: a table of the last gradient seen for each fixed mini-batch; each step uses "
        "g_i(w) - table_i + mean(table) and then stores g_i(w) in the table", fixed_batches=True),
    "newton_cg": Algorithm(
        "lenet_bench.core.optim.newton_cg.NewtonCG (own)",
        ("damping", "cg_iterations", "cg_tolerance", "curvature_batch"), "uncoupled",
        "Hessian-free Newton: truncated conjugate gradient on damped Gauss-Newton-vector products of a sub-batch"),
    "kfac": Algorithm(
        "lenet_bench.core.optim.kfac.KFAC (own)",
        ("momentum", "damping", "update_period", "curvature_batch", "factor_decay", "kl_clip"), "coupled",
        "K-FAC: natural-gradient steps, each layer's Fisher block approximated by a Kronecker product G (x) A of "
        "the second moments of its output gradients (labels drawn from the model) and of its inputs, refreshed "
        "every few steps on a sub-batch, inverted with damping through eigendecompositions; KL-clipped, with "
        "heavy-ball momentum"),
    "adahessian": Algorithm(
        "pytorch_optimizer.AdaHessian", ("betas", "eps", "update_period", "hessian_power"), "uncoupled",
        "AdaHessian: Adam's update on a Hutchinson estimate of the Hessian diagonal (one Hessian-vector product "
        "a step)", create_graph=True),
    "sophia": Algorithm(
        "pytorch_optimizer.SophiaH", ("betas", "eps", "p", "update_period"), "uncoupled",
        "SophiaH: momentum preconditioned by a Hutchinson estimate of the Hessian diagonal refreshed every few "
        "steps, with the step clipped per coordinate", create_graph=True),
    "shampoo": Algorithm(
        "pytorch_optimizer.ScalableShampoo",
        ("betas", "start_preconditioning_step", "preconditioning_compute_steps", "block_size", "nesterov"),
        "uncoupled",
        "Shampoo (the scalable variant): for each weight tensor, its small dimensions merged into a matrix G, left "
        "and right preconditioners L and R from moving averages of G Gᵀ and Gᵀ G (Kronecker factors of a "
        "full-matrix AdaGrad); the step direction is L^(-1/4) G R^(-1/4), given the per-layer size of an SGD step "
        "(grafting), with the inverse roots recomputed every preconditioning_compute_steps steps"),
    "lbfgs": Algorithm(
        "torch.optim.LBFGS", ("max_iter", "history_size", "line_search_fn", "tolerance_grad", "tolerance_change"),
        "none",
        "L-BFGS: a quasi-Newton direction from the last few gradient differences, with a strong-Wolfe line search"),
}
# family: a label for reports; batch_growth, max_batch_size: a batch that grows each epoch;
# averaging: evaluate an average of the iterates (EMA or SWA, torch.optim.swa_utils);
# search: the space its tuning draws from (lenet_bench.tuning.search)
PRESET_KEYS = ("family", "algorithm", "batch_size", "lr", "schedule", "batch_growth", "max_batch_size",
               "averaging", "search")

# Each learning-rate schedule's settings and their defaults; a preset may override any of them.
SCHEDULES: dict[str, dict[str, float]] = {
    "constant": {},
    "step": {"step_epochs": 3, "gamma": 0.1},
    "cosine": {"warmup_epochs": 0, "min_lr_fraction": 0.0},
    "onecycle": {"warmup_fraction": 0.25, "div_factor": 25.0, "final_div_factor": 1e4},
}

# Each sparsity method's settings and their defaults; a scenario may override any of them.
SPARSITY_METHODS: dict[str, dict[str, float]] = {
    "prune_finetune": {"prune_epoch": 5},                      # train dense, prune once, fine-tune
    "gradual": {"start_epoch": 0, "end_epoch": 6, "prune_every": 50},   # Zhu & Gupta (2017), cubic
    "projected": {},                                           # iterative hard thresholding
    "rigl": {"update_every": 100, "drop_fraction": 0.3, "end_epoch": 8},  # Evci et al. (2020)
    "l1_prox": {"l1": 2e-4, "project_epoch": 9},               # soft-thresholding, then projection
    "neurons": {"start_epoch": 0, "end_epoch": 6, "prune_every": 50},   # whole units, cubic schedule
}
SPARSITY_SCOPES = ("global", "per_layer")  # the bound on fc1 and fc2 together (the brief's), or on each

# The study's ranking (params.yaml study.ranking): the paired test over seeds, what the chosen method spends least
# of (an export column) and what breaks a tie in it; each with its name in the report.
PAIRED_TESTS = {"paired_t": "paired t-test", "sign_flip": "exact sign-flip test"}
COSTS = {"target_seconds": "calibrated seconds", "target_grad_evals": "gradient evaluations"}
TIE_BREAKS = {"mean_test_accuracy": "the higher mean test accuracy", "mean_cost": "the lower mean cost"}


def smallest_p(test: str, seeds: int) -> float:
    """The smallest two-sided p-value `test` can give over `seeds` paired differences: an exact sign-flip test
    cannot go below 2 / 2^n; a t-test can go as low as the data take it."""
    return 2 / 2 ** seeds if test == "sign_flip" else 0.0


def l2_mode(algorithm: str, weight_decay: float) -> str:
    """How the L2 penalty wd/2 ||w||^2 reaches the weights: 'none', 'coupled' (the optimizer's weight_decay
    adds wd * w to the gradient) or 'loss' (the loop adds the penalty to the loss). An optimizer whose own
    weight_decay is not coupled gets the penalty through the loss, so that every optimizer of a scenario
    minimises the same function of the weights with the same algorithm it runs without L2."""
    if weight_decay == 0:
        return "none"
    return "coupled" if ALGORITHMS[algorithm].weight_decay == "coupled" else "loss"
