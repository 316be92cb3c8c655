"""The study's report, report/REPORT.md and its figures, built from the exported results alone:
results/study.csv and results/study_curves.csv (`lenet-bench study`), results/experiments.csv (the
sparsification comparisons) and tuning/*.csv (the tunings). The same files give the same report
(`lenet-bench report`)."""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures
from .atomic_files import write_text
from .data import TEST_SIZE, TRAIN_SIZE
from .export import DEVICE, KEY, THREADS, on_study_hardware, split_by_settings
from .model import PARAMETER_COUNT
from .params import load as load_params
from .tuning import best, budget_used, read_table, rungs

MAX_PAGES = 10  # the brief's limit, printed on A4
SIGNIFICANCE = 0.05  # a leader is ahead of the runner-up when the paired test's p falls below this
LEADERS = 3  # the presets of the first scenario that the study gives more seeds (lenet-bench study --top)

# What each algorithm does, for the chosen method's section.
ALGORITHM_TEXT = {
    "sgd": "stochastic gradient descent on mini-batches, with heavy-ball or Nesterov momentum where the preset sets it",
    "sam": "sharpness-aware minimisation (SAM) over SGD with momentum: each step takes the mini-batch gradient "
           "g at w, then the gradient at w + rho g/|g| (the worst nearby point, to first order), and steps from w "
           "along the latter: two gradients a step, for flatter minima",
    "svrg": "SVRG: a full gradient at a snapshot taken every epoch, and on each mini-batch the step "
            "g_i(w) - g_i(snapshot) + full gradient, an unbiased gradient whose variance vanishes near the snapshot",
    "saga": "SAGA: a table of the last gradient seen for each fixed mini-batch; each step uses "
            "g_i(w) - table_i + mean(table) and then stores g_i(w) in the table",
    "adam": "Adam: steps scaled per coordinate by running averages of the gradient and of its square",
    "adamw": "AdamW: Adam with the weight decay applied to the weights directly (decoupled), not through the gradient",
    "nadam": "NAdam: Adam with a Nesterov look-ahead in its first-moment estimate",
    "radam": "RAdam: Adam whose adaptive step is switched on gradually, as the variance of its second-moment "
             "estimate allows (a warm-up without a schedule)",
    "rmsprop": "RMSprop: steps scaled per coordinate by a running average of the squared gradient",
    "adagrad": "Adagrad: steps scaled per coordinate by the root of the sum of all past squared gradients",
    "muon": "Muon on the 2-D weights of fc1 and fc2 (momentum, orthogonalised by Newton-Schulz iterations) and "
            "AdamW on every other parameter",
    "lion": "Lion: the sign of an interpolation of momentum and gradient, with decoupled weight decay",
    "schedule_free_adamw": "schedule-free AdamW: no decaying schedule; the gradient is taken at an interpolation of "
                           "the iterate and its running average, and the average is evaluated",
    "lbfgs": "L-BFGS: a quasi-Newton direction from the last few gradient differences, with a strong-Wolfe line search",
    "kfac": "K-FAC: natural-gradient steps, each layer's Fisher block approximated by a Kronecker product G (x) A "
            "of the second moments of its output gradients (labels drawn from the model) and of its inputs, "
            "refreshed every few steps on a sub-batch, inverted with damping through eigendecompositions; "
            "KL-clipped, with heavy-ball momentum",
    "newton_cg": "Hessian-free Newton: truncated conjugate gradient on damped Gauss-Newton-vector products of a "
                 "sub-batch",
    "adahessian": "AdaHessian: Adam's update on a Hutchinson estimate of the Hessian diagonal (one Hessian-vector "
                  "product a step)",
    "sophia": "SophiaH: momentum preconditioned by a Hutchinson estimate of the Hessian diagonal refreshed every few "
              "steps, with the step clipped per coordinate",
    "shampoo": "Shampoo (the scalable variant): for each weight tensor, its small dimensions merged into a matrix "
               "G, left and right preconditioners L and R from moving averages of G Gᵀ and Gᵀ G (Kronecker factors "
               "of a full-matrix AdaGrad); the step direction is L^(-1/4) G R^(-1/4), given the per-layer size of "
               "an SGD step (grafting), with the inverse roots recomputed every preconditioning_compute_steps steps",
}


def describe(scenarios: dict, name: str) -> str:
    """A scenario's description in params.yaml, or its name where it has none."""
    return (scenarios.get(name) or {}).get("description", name)


def mean_std(values: pd.Series, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
    """'mean<unit> ± std' over the values (no spread for one value; '–' for none)."""
    values = values.dropna() * scale
    if values.empty:
        return "–"
    spread = f" ± {values.std():.{digits}f}" if len(values) > 1 else ""
    return f"{values.mean():.{digits}f}{unit}{spread}"


def _mean_or_dash(values: pd.Series, fmt: str) -> str:
    values = values.dropna()
    return "–" if values.empty else format(values.mean(), fmt)


def device_label(device: str, threads: int) -> str:
    """Where one run ran, e.g. 'cuda' or 'cpu, 1 thread'."""
    return device if device != "cpu" else f"cpu, {int(threads)} thread{'s' if threads != 1 else ''}"


def hardware(runs: pd.DataFrame) -> str:
    """Where runs ran, e.g. 'cuda' or 'cpu, 1 thread': seconds compare only within one."""
    return " + ".join(sorted({device_label(d, t) for d, t in zip(runs["device"], runs["threads"])}))


def load_line(study: pd.DataFrame) -> str:
    """The load the runs shared their machines with, where they recorded it (1-minute load average)."""
    if "load_average" not in study or study["load_average"].isna().all():
        return "no run recorded its machine's load"
    known = study.dropna(subset=["load_average"])
    per_cpu = known["load_average"] / known["cpus"]
    every = len(known) == len(study)
    who = "every run recorded" if every else f"{len(known)} of {len(study)} runs recorded"
    rest = "" if every else "; the others ran before loads were recorded"
    return (f"{who} its machine's load: a 1-minute load average of {per_cpu.min():.2f} to {per_cpu.max():.2f} "
            f"per CPU (median {per_cpu.median():.2f}){rest}")


def speed_spread_line(study: pd.DataFrame) -> str:
    """How far one kind of hardware is from one speed: the spread of seconds per gradient evaluation
    among the seeds of each method and scenario, which do the same work in different sittings."""
    rate = study["seconds"] / study["grad_evals"]
    groups = rate.groupby([study["optimizer"], study["scenario"]])
    ratios = (groups.max() / groups.min())[groups.size() >= 3]
    if ratios.empty:
        return ""
    (method, scenario), worst = ratios.idxmax(), ratios.max()
    return (f"Machines of this kind still differ in speed from sitting to sitting: among the seeds of one method "
            f"and scenario, the slowest took up to {worst:.1f}x the fastest's seconds per gradient evaluation "
            f"({method}, {scenario}; median {ratios.median():.1f}x over {len(ratios)} methods and scenarios). "
            "Accuracy and gradient evaluations compare exactly across every table and figure; seconds only "
            "roughly, within about that factor.")


def summary(study: pd.DataFrame) -> pd.DataFrame:
    """One row per method and scenario: means and spreads over seeds, and how often it reached the target."""
    rows = []
    for (method, scenario), runs in study.groupby(["optimizer", "scenario"]):
        rows.append({"optimizer": method, "scenario": scenario, "family": runs["family"].iloc[0],
                     "hardware": hardware(runs),
                     "seeds": len(runs), "accuracy": runs["test_accuracy"].mean(),
                     "reached": int(runs["target_epoch"].notna().sum()),
                     "diverged": int(runs["diverged"].astype(bool).sum()),
                     "seconds_per_epoch": (runs["seconds"] / runs["epochs"]).mean(),
                     "grad_evals_per_epoch": (runs["grad_evals"] / runs["epochs"]).mean()})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Paired:
    """Two methods on the seeds they share in one scenario."""
    first: str
    second: str
    seeds: int
    mean: float   # first minus second, percentage points
    std: float
    wins: int     # seeds on which first is ahead
    p: float      # exact two-sided sign-flip (permutation) test of the mean difference

    @property
    def ahead(self) -> bool:
        return self.seeds > 1 and self.mean > 0 and self.p < SIGNIFICANCE


def sign_flip_p(diff: np.ndarray) -> float:
    """Two-sided p of a mean paired difference: the share of the 2^n sign flips of the differences whose
    mean is at least as far from 0 (exact up to 16 pairs, 65,536 seeded draws beyond)."""
    n = len(diff)
    if n == 0 or not np.any(diff):
        return 1.0
    signs = (np.array(list(itertools.product((1, -1), repeat=n))) if n <= 16
             else np.random.default_rng(0).choice((1, -1), size=(65536, n)))
    flipped = np.abs((signs * diff).mean(axis=1))
    return float((flipped >= abs(diff.mean()) - 1e-12).mean())


def paired(study: pd.DataFrame, scenario: str, first: str, second: str) -> Paired:
    runs = study[study["scenario"] == scenario]
    a = runs[runs["optimizer"] == first].set_index("seed")["test_accuracy"]
    b = runs[runs["optimizer"] == second].set_index("seed")["test_accuracy"]
    diff = (100 * (a - b)).dropna().to_numpy()
    return Paired(first, second, len(diff), float(diff.mean()) if len(diff) else math.nan,
                  float(diff.std(ddof=1)) if len(diff) > 1 else math.nan, int((diff > 0).sum()), sign_flip_p(diff))


@dataclass(frozen=True)
class Choice:
    chosen: str
    ranked: list[str]       # by mean test accuracy in the scenario, best first
    tied: list[str]         # the leader and the leaders it is not ahead of
    test: Paired | None     # the leader against the runner-up
    by_cost: bool           # chosen among tied leaders by the second criterion


def choose(study: pd.DataFrame, means: pd.DataFrame, scenario: str) -> Choice:
    """Rank by mean test accuracy in `scenario`. The leader is chosen when a paired test over the shared
    seeds puts it ahead of the runner-up; otherwise the leaders it is not ahead of tie with it, and the
    second criterion picks among them: the fewest gradient evaluations to reach the target (mean over
    seeds; a method that missed it on some seed comes after those that never did)."""
    ranked = list(means[means["scenario"] == scenario].sort_values("accuracy", ascending=False)["optimizer"])
    if len(ranked) < 2:
        return Choice(ranked[0], ranked, ranked[:1], None, False)
    test = paired(study, scenario, ranked[0], ranked[1])
    if test.ahead:
        return Choice(ranked[0], ranked, ranked[:1], test, False)
    tied = [ranked[0]] + [m for m in ranked[1:LEADERS] if not paired(study, scenario, ranked[0], m).ahead]
    runs = study[study["scenario"] == scenario]

    def cost(method: str) -> tuple[int, float]:
        r = runs[runs["optimizer"] == method]
        return int(r["target_grad_evals"].isna().sum()), float(r["target_grad_evals"].mean())
    return Choice(min(tied, key=cost), ranked, tied, test, True)


def leader_text(choice: Choice, scenario: str, target: float) -> str:
    t = choice.test
    if t is None:
        return f"Only {choice.chosen} ran in `{scenario}`: there is no runner-up to compare it with."
    text = (f"In `{scenario}`, on the {t.seeds} seeds they share, the leader {t.first} minus the runner-up "
            f"{t.second} is {t.mean:+.2f} percentage points of test accuracy on average (std {t.std:.2f}); "
            f"{t.first} is ahead on {t.wins} of {t.seeds} seeds; exact two-sided sign-flip test p = {t.p:.3f}. ")
    if not choice.by_cost:
        return text + f"{t.first} is ahead at the {100 * SIGNIFICANCE:.0f}% level, and is the chosen method."
    return text + (f"That is no evidence that either is better: **the leaders tie** ({', '.join(choice.tied)}: "
                   f"no paired test puts {t.first} ahead of any of them at the {100 * SIGNIFICANCE:.0f}% level). "
                   "The chosen method is picked among them by a second criterion, the fewest gradient evaluations "
                   f"to reach {100 * target:.2f}% (mean over seeds): **{choice.chosen}**.")


def results_table(study: pd.DataFrame, means: pd.DataFrame, scenario: str, target: float) -> str:
    runs = study[study["scenario"] == scenario]
    lines = [f"| method | family | test accuracy (%) | test loss | reached {100 * target:.2f}% | epochs to it | "
             "M grad evals to it | seconds to it | s/epoch |", "|---|---|---|---|---|---|---|---|---|"]
    for _, m in means[means["scenario"] == scenario].sort_values("accuracy", ascending=False).iterrows():
        r = runs[runs["optimizer"] == m["optimizer"]]
        note = f" ({m['diverged']} diverged)" if m["diverged"] else ""
        lines.append(
            f"| {m['optimizer']} | {m['family']} | {mean_std(r['test_accuracy'], 100)}{note} "
            f"| {mean_std(r['test_loss'], 1, 4)} "
            f"| {m['reached']}/{m['seeds']} | {_mean_or_dash(r['target_epoch'], '.1f')} "
            f"| {_mean_or_dash(r['target_grad_evals'] / 1e6, '.2f')} | {_mean_or_dash(r['target_seconds'], '.0f')} "
            f"| {m['seconds_per_epoch']:.1f} |")
    return "\n".join(lines)


def common_problems(study: pd.DataFrame) -> pd.MultiIndex:
    """The problems (scenario, seed) that every method of `study` ran: a method is judged only on problems
    it attempted, and an extra seed run for some methods alone (the leaders' ten) is no problem for the rest."""
    methods = study.groupby(["scenario", "seed"])["optimizer"].nunique()
    return methods[methods == study["optimizer"].nunique()].index


def profile_ratios(study: pd.DataFrame, measure: str) -> dict[str, np.ndarray]:
    """Per method, its cost to the target over the best method's on each common problem; inf where it
    never reached the target."""
    cost = study.pivot_table(index=["scenario", "seed"], columns="optimizer", values=f"target_{measure}",
                             aggfunc="first")
    cost = cost.reindex(index=common_problems(study), columns=sorted(study["optimizer"].unique()))
    best = cost.min(axis=1)
    ratios = cost.div(best, axis=0).fillna(math.inf)
    return {method: ratios[method].to_numpy() for method in ratios.columns}


def cost_comparison(means: pd.DataFrame, chosen: str, other: str, scenario: str) -> str:
    """What the chosen method costs per epoch against another, in one scenario, on the one hardware."""
    a, b = (means[(means["optimizer"] == m) & (means["scenario"] == scenario)].iloc[0] for m in (chosen, other))
    return (f"Per epoch in `{scenario}`, {chosen} spends {a['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} and {other} "
            f"{b['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} gradient evaluations per training sample, and {chosen} "
            f"takes {a['seconds_per_epoch'] / b['seconds_per_epoch']:.1f}x the wall time of {other}.")


def tuning_tables(root: Path, params: dict) -> dict[str, pd.DataFrame | None]:
    """Each tuned preset's table of trials (tuning/<preset>.csv), None where it is not tuned yet."""
    return {p: read_table(p, root) for p in params["optimizers"] if p not in params["tuning"]["fixed"]}


def tuning_section(params: dict, tunings: dict[str, pd.DataFrame | None]) -> str:
    """The tuning budget of every preset, so that equal budgets show at a glance."""
    budget, epochs = params["tuning"]["trials"], params["train"]["epochs"]
    lines = ["| preset | trials | finished | pruned | failed | epochs spent | full runs | best validation accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    spent = []
    for preset, trials in tunings.items():
        if trials is None:
            lines.append(f"| {preset} | not tuned yet | | | | | | |")
            continue
        used, top = budget_used(trials), best(trials, params)
        if used.done == budget:
            spent.append(used.epochs)
        accuracy = "–" if top is None else f"{100 * top[f'val_accuracy@{epochs}']:.2f}%"
        lines.append(f"| {preset} | {used.done}/{budget}{'' if used.done == budget else ' (running)'} "
                     f"| {used.complete} | {used.pruned} | {used.failed} "
                     f"| {used.epochs} | {used.epochs / epochs:.1f} | {accuracy} |")
    if spent:
        spread = f"; {min(spent) / epochs:.1f} to {max(spent) / epochs:.1f}" if len(spent) > 1 else ""
        lines.append(f"\nPruning spent {np.mean(spent):.0f} epochs per finished tuning on average "
                     f"({np.mean(spent) / epochs:.1f} full runs{spread}), against {budget * epochs} for {budget} "
                     "unpruned trials.")
    return "\n".join(lines)


@dataclass(frozen=True)
class Results:
    """What the report is built from, read once (load)."""
    params: dict
    study: pd.DataFrame        # the runs at params.yaml's settings on the study's hardware, of its scenarios
    curves: pd.DataFrame       # their learning curves
    stale: pd.DataFrame        # runs made with settings params.yaml no longer has
    elsewhere: pd.DataFrame    # runs at the current settings on other hardware
    scenarios: list[str]       # params.yaml's scenarios that have runs, in its order
    means: pd.DataFrame        # summary(study)
    tunings: dict              # preset -> its table of trials, None where not tuned yet
    experiments: pd.DataFrame  # results/experiments.csv: the sparsification comparisons

    @property
    def target(self) -> float:
        return self.params["train"]["target_accuracy"]

    def of(self, method: str) -> pd.DataFrame:
        return self.study[self.study["optimizer"] == method]


def load(root: Path) -> Results:
    """The study's runs and learning curves; apart, the runs made with settings that root's params.yaml no
    longer has, and those made on other hardware than the study's (one kind for every table, so that
    accuracy and seconds compare); the tunings and the exported sparsification comparisons."""
    if not (root / "params.yaml").exists():
        raise SystemExit(f"{root / 'params.yaml'} is missing: the report takes its target and scenarios from it")
    params = load_params(root / "params.yaml")
    study, stale = split_by_settings(pd.read_csv(root / "results" / "study.csv"), params)
    here = on_study_hardware(study) if not study.empty else pd.Series(dtype=bool)
    elsewhere, study = study[~here], study[here]
    if study.empty:
        raise SystemExit("results/study.csv has no runs with the settings of params.yaml on the study's hardware "
                         f"({DEVICE}, {THREADS} thread): run `lenet-bench study` first")
    curves = pd.read_csv(root / "results" / "study_curves.csv")
    curves = curves[curves.set_index(KEY).index.isin(study.set_index(KEY).index)]
    study = study.sort_values(["optimizer", "scenario", "seed"]).reset_index(drop=True)
    scenarios = [s for s in params["scenarios"] if s in set(study["scenario"])]
    if not scenarios:
        raise SystemExit("results/study.csv has no run of a scenario that params.yaml has")
    study = study[study["scenario"].isin(scenarios)]
    experiments = root / "results" / "experiments.csv"
    return Results(params, study, curves, stale, elsewhere, scenarios, summary(study), tuning_tables(root, params),
                   pd.read_csv(experiments) if experiments.exists() else pd.DataFrame())


def setup_section(r: Results) -> str:
    params, study, target = r.params, r.study, r.target
    seeds = study.groupby(["optimizer", "scenario"])["seed"].nunique()
    budget = sorted(study["epochs_budget"].unique())
    s = ["# Optimizers for LeNet-5 on Fashion-MNIST: the study\n",
         f"_Generated by `lenet-bench report` from results/study.csv ({len(study)} runs); "
         "every number and figure below comes from those exported runs. Do not edit by hand._\n",
         "## 1. Setup\n"]
    s.append(f"- **Model**: the brief's LeNet-5, unchanged (tanh, max-pooling, {PARAMETER_COUNT:,} parameters).\n"
             f"- **Data**: Fashion-MNIST, the brief's split: {TRAIN_SIZE:,} training and {TEST_SIZE:,} test images; "
             "pixels in [0, 1].\n"
             f"- **Budget**: {', '.join(map(str, budget))} epochs per run; target: **{100 * target:.2f}%** test "
             "accuracy (the brief's reference).\n"
             "- **Scenarios**: " + "; ".join(f"`{s_}`: {describe(params['scenarios'], s_)}" for s_ in r.scenarios)
             + ".\n"
             f"- **Seeds**: {seeds.min() if seeds.min() == seeds.max() else f'{seeds.min()} to {seeds.max()}'} "
             "per method and scenario.\n"
             f"- **Hardware**: every run below, {len(study)} of them, on one kind: {hardware(study)} "
             f"({study['seconds'].sum() / 3600:.1f} hours of training summed over runs); {load_line(study)}. "
             f"{speed_spread_line(study)}\n"
             "- **Cost**: gradient evaluations count one per sample per backward pass (a Hessian- or Gauss-Newton-"
             "vector product counts two; SVRG's full passes and L-BFGS's line-search evaluations count too); "
             "seconds are training wall time, test evaluation excluded.\n")
    s.append(f"**Tuning.** Every preset but {', '.join(f'`{p}`' for p in params['tuning']['fixed'])} "
             "(`tuning.fixed`, kept as the brief gives it) gets the same budget, "
             + (f"{params['tuning']['trials']} Optuna trials drawn by a seeded TPE sampler from a search space "
                "declared beside the preset (its learning rate over at least two decades, and at most two settings of "
                "its own); each trial trains for the full budget on "
                f"{TRAIN_SIZE - params['tuning']['validation_size']:,} "
                f"training images and is judged by its accuracy on the {params['tuning']['validation_size']:,} held "
                "out, and a successive-halving pruner stops those that fall behind at the same epochs for every preset "
                f"({', '.join(map(str, rungs(params)))}). The test set plays no part; the final runs train on all "
                f"{TRAIN_SIZE:,}. A caveat: a pruner judges a trial by its early epochs, which favours settings that "
                "start fast over those that warm up (a one-cycle schedule's early epochs are its worst).\n\n"
                + tuning_section(params, r.tunings))
             + "\n")
    return "\n".join(s)


def methods_section(r: Results) -> str:
    s = ["## 2. Every method in every scenario\n",
         "Mean ± standard deviation over seeds. *Reached* counts the seeds whose test accuracy reached "
         f"{100 * r.target:.2f}% within the budget; the cost columns average over those seeds.\n"]
    missing = [p for p in r.params["optimizers"] if p not in set(r.study["optimizer"])]
    if missing:
        s.append(f"**Not in the study yet** (presets of params.yaml without a run here): {', '.join(missing)}.\n")
    if not r.stale.empty:
        counts = r.stale["optimizer"].value_counts().sort_index()
        s.append("**Left out**: runs made with settings that params.yaml no longer has ("
                 + ", ".join(f"{method}: {count}" for method, count in counts.items())
                 + "); `lenet-bench study` runs these presets again with the current settings.\n")
    if not r.elsewhere.empty:
        s.append(f"**Left out**: {len(r.elsewhere)} runs at the current settings made on other hardware "
                 f"({hardware(r.elsewhere)}); every table holds runs of one kind only.\n")
    for scenario in r.scenarios:
        s.append(f"### {scenario} ({describe(r.params['scenarios'], scenario)})\n")
        s.append(results_table(r.study, r.means, scenario, r.target) + "\n")
    return "\n".join(s)


def curves_section(r: Results, out: Path, styles: dict) -> str:
    """The learning curves of the best method of each family; draws figures/curves_<scenario>.png."""
    first = r.means[r.means["scenario"] == r.scenarios[0]]
    best_by_family = first.sort_values("accuracy", ascending=False).drop_duplicates("family")["optimizer"].tolist()
    for scenario in r.scenarios:
        figures.learning_curves(r.curves[r.curves["scenario"] == scenario], best_by_family,
                                f"{scenario}: the best method of each family (mean over seeds)",
                                out / "figures" / f"curves_{scenario}.png", styles, 100 * r.target)
    s = ["## 3. Learning curves\n",
         f"The best method of each family ({', '.join(best_by_family)}), by mean test accuracy in "
         f"`{r.scenarios[0]}`; test accuracy and loss against epochs, gradient evaluations and seconds.\n"]
    s += [f"![{scenario} learning curves](figures/curves_{scenario}.png)\n" for scenario in r.scenarios]
    return "\n".join(s)


def profile_section(r: Results, out: Path, styles: dict) -> str:
    """Cost to the target against the cheapest method's, per problem; draws figures/profile.png."""
    study = r.study
    reached = sorted(study.loc[study["target_epoch"].notna(), "optimizer"].unique())
    solved = study[study["optimizer"].isin(reached)]
    problems = common_problems(solved)
    figures.performance_profile({"gradient evaluations": profile_ratios(solved, "grad_evals"),
                                 f"seconds ({hardware(study)})": profile_ratios(solved, "seconds")},
                                out / "figures" / "profile.png", styles)
    return "\n".join([
        "## 4. Performance profile\n",
        "In the manner of the AlgoPerf benchmark: a problem is one scenario and seed; a method's cost on it is "
        f"what it spent to first reach {100 * r.target:.2f}% (gradient evaluations, or seconds on the one kind of "
        "hardware); the curve gives the fraction of problems a method solved within τ times the cheapest "
        "method's cost. Every method that reached the target at least once is drawn "
        f"({len(reached)} of {study['optimizer'].nunique()}); a problem it never solved never counts. The problems "
        f"are the {len(problems)} that every one of them ran ({problem_list(problems)}): a seed that only some "
        "methods ran, such as the leaders' extra seeds, would count against the others as unsolved.\n",
        "![performance profile](figures/profile.png)\n"])


def problem_list(problems: pd.MultiIndex) -> str:
    """'standard seeds 0-2, l2 seeds 0-2'-style: each scenario with its seeds."""
    seeds = {}
    for scenario, seed in problems:
        seeds.setdefault(scenario, []).append(int(seed))
    return ", ".join(f"`{scenario}` seed{'s' if len(ss) > 1 else ''} {', '.join(map(str, sorted(ss)))}"
                     for scenario, ss in seeds.items())


def sparse_section(r: Results, out: Path) -> str:
    """The sparsification methods compared (results/experiments.csv); draws figures/density.png."""
    runs, none = r.experiments, "_No sparsification comparison exported (results/experiments.csv)._"
    sparse = (runs[(runs["scenario"] == "sparse") & runs["experiment"].str.startswith(("sparse-", "thin-"))]
              if not runs.empty and "sparsity_method" in runs else runs.iloc[:0])
    if sparse.empty:
        return f"## 5. The sparse scenario\n\n{none}\n"
    optimizer = sparse["optimizer"].iloc[0]
    dense_runs = r.study[(r.study["optimizer"] == optimizer) & (r.study["scenario"] == "standard")]
    dense = (1.0, dense_runs["test_accuracy"].mean()) if not dense_runs.empty else None
    figures.density_curve(sparse, dense, f"optimizer {optimizer}, {r.params['train']['epochs']} epochs, "
                          f"seed {int(sparse['seed'].iloc[0])}", out / "figures" / "density.png", 100 * r.target)
    lines = ["| method | density bound | nonzero fc1+fc2 | test accuracy | test loss |", "|---|---|---|---|---|"]
    for _, row in sparse.sort_values(["density_bound", "test_accuracy"], ascending=[False, False]).iterrows():
        lines.append(f"| {row['sparsity_method']} | {row['density_bound']:g} | {int(row['nonzero_fc1_fc2']):,} "
                     f"({100 * row['density']:.1f}%) | {100 * row['test_accuracy']:.2f}% | {row['test_loss']:.4f} |")
    anchor = f" The dense point at 1.0 is {optimizer}'s mean over seeds in the standard scenario." if dense else ""
    return ("## 5. The sparse scenario\n\nSparsification methods, each with the same optimizer and seed (one run "
            f"each, from results/experiments.csv).{anchor}\n\n![density](figures/density.png)\n\n"
            + "\n".join(lines) + "\n")


def chosen_section(r: Results, choice: Choice) -> str:
    chosen, target = choice.chosen, r.target
    rows = r.of(chosen)
    settings = json.loads(rows["preset_settings"].iloc[0]) if "preset_settings" in rows else {}
    s = [f"## 6. The chosen method: {chosen}\n", leader_text(choice, r.scenarios[0], target) + "\n"]
    lines = [f"| scenario | test accuracy (%) | test loss | reached {100 * target:.2f}% | M grad evals to it |",
             "|---|---|---|---|---|"]
    for scenario in r.scenarios:
        runs = rows[rows["scenario"] == scenario]
        lines.append(f"| {scenario} | {mean_std(runs['test_accuracy'], 100)} | {mean_std(runs['test_loss'], 1, 4)} "
                     f"| {int(runs['target_epoch'].notna().sum())}/{len(runs)} "
                     f"| {_mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} |")
    s.append(f"Family: {rows['family'].iloc[0]}; algorithm `{rows['algorithm'].iloc[0]}`; its preset: "
             + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in settings.items() if k not in ("family", "search"))
             + ".\n")
    s.append("\n".join(lines) + "\n")
    algorithm = rows["algorithm"].iloc[0]
    if algorithm in ALGORITHM_TEXT:
        s.append(f"**How it works**: {ALGORITHM_TEXT[algorithm]}.\n")
    runner_up = next((m for m in choice.ranked if m != chosen), None)
    if runner_up:
        s.append(cost_comparison(r.means, chosen, runner_up, r.scenarios[0]) + "\n")
    return "\n".join(s)


def baseline_section(r: Results, chosen: str) -> str:
    baseline = r.of("sgd")
    if baseline.empty:
        return "## 7. The brief's baseline beside ours\n\n_The baseline preset `sgd` is not in this study._\n"
    sgd = r.params["optimizers"].get("sgd", {})
    lines = [f"| scenario | sgd (lr {sgd.get('lr', '?')}, batch {sgd.get('batch_size', '?')}) | {chosen} | target |",
             "|---|---|---|---|"]
    for scenario in r.scenarios:
        b, c = (runs[runs["scenario"] == scenario] for runs in (baseline, r.of(chosen)))
        lines.append(f"| {scenario} | {mean_std(b['test_accuracy'], 100)}% | {mean_std(c['test_accuracy'], 100)}% "
                     f"| {100 * r.target:.2f}% |")
    return "## 7. The brief's baseline beside ours\n\n" + "\n".join(lines) + "\n"


def failures_section(r: Results) -> str:
    means, scenarios, target = r.means, r.scenarios, r.target
    items = [f"- {row['optimizer']} diverged in `{row['scenario']}`, seed {int(row['seed'])}, at step "
             f"{int(row['diverged_at_step']) if not pd.isna(row['diverged_at_step']) else '?'}."
             for _, row in r.study[r.study["diverged"].astype(bool)].iterrows()]
    missed = means[means["accuracy"] <= target]
    for method in missed.groupby("optimizer")["accuracy"].mean().sort_values().index:
        # the worst first, one line per method, its scenarios in the report's order
        rows = missed[missed["optimizer"] == method].sort_values("scenario", key=lambda c: c.map(scenarios.index))
        where = ", ".join(f"`{row['scenario']}` ({100 * row['accuracy']:.2f}%)" for _, row in rows.iterrows())
        items.append(f"- {method} stayed below {100 * target:.2f}% on average in {where}; "
                     f"{rows['reached'].sum()} of those {rows['seeds'].sum()} runs reached it.")
    if "sparse" in scenarios and "standard" in scenarios:
        table = means.pivot(index="optimizer", columns="scenario", values="accuracy")
        hurt = (table["sparse"] - table["standard"]).dropna().sort_values()
        for method, delta in hurt[hurt < -0.003].items():
            items.append(f"- The sparse constraint cost {method} {100 * -delta:.2f} percentage points.")
    typical = means["seconds_per_epoch"].median()
    for _, row in means[means["seconds_per_epoch"] > 3 * typical].drop_duplicates("optimizer").iterrows():
        items.append(f"- {row['optimizer']} costs {row['seconds_per_epoch']:.0f} s per epoch, over 3x "
                     f"the median method's {typical:.0f} s (and {row['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} "
                     "gradient evaluations per sample per epoch); its budget was not cut.")
    return "## 8. What did not work\n\n" + ("\n".join(items) if items else
                                             "Every method reached the target in every scenario.") + "\n"


def build(root: Path, out: Path) -> str:
    """Write out/REPORT.md and its figures from the results under root; return the text."""
    r = load(root)
    choice = choose(r.study, r.means, r.scenarios[0])
    styles = figures.styles(sorted(r.study["optimizer"].unique()))
    report = "\n".join([setup_section(r), methods_section(r), curves_section(r, out, styles),
                        profile_section(r, out, styles), sparse_section(r, out), chosen_section(r, choice),
                        baseline_section(r, choice.chosen), failures_section(r)]) + "\n"
    write_text(out / "REPORT.md", report)
    return report
