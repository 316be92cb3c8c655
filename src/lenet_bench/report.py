"""The study's report, report/REPORT.md and its figures, built from the exported results alone:
results/study.csv and results/study_curves.csv (scripts/study.py), results/experiments.csv (the
sparsification comparisons) and tuning/*.csv (the tunings). The same files give the same report.

    python -m lenet_bench.report [--root .] [--out report]
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures, printed
from .data import TEST_SIZE, TRAIN_SIZE
from .files import write_text
from .model import PARAMETER_COUNT
from .params import load as load_params
from .study import DEVICE, KEY, THREADS, on_study_hardware, split_by_settings
from .tuning import best, epochs_spent, finished, read_table, rungs

MAX_PAGES = 10  # the brief's limit, printed on A4
SIGNIFICANCE = 0.05  # a leader is ahead of the runner-up when the paired test's p falls below this
LEADERS = 3  # the presets of the first scenario that the study gives more seeds (scripts/study.py --top)

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


def load(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The study's runs and learning curves; apart, the runs made with settings that root's params.yaml no
    longer has (none when the export comes without a params.yaml), and those made on other hardware than
    the study's (one kind for every table, so that accuracy and seconds compare)."""
    study = pd.read_csv(root / "results" / "study.csv")
    curves = pd.read_csv(root / "results" / "study_curves.csv")
    stale = study.iloc[:0]
    if (root / "params.yaml").exists():
        study, stale = split_by_settings(study, load_params(root / "params.yaml"))
    here = on_study_hardware(study) if not study.empty else pd.Series(dtype=bool)
    elsewhere, study = study[~here], study[here]
    if study.empty:
        raise SystemExit("results/study.csv has no runs with the settings of params.yaml on the study's hardware "
                         f"({DEVICE}, {THREADS} thread): run scripts/study.py first")
    curves = curves[curves.set_index(KEY).index.isin(study.set_index(KEY).index)]
    return study, curves, stale, elsewhere


def hardware(runs: pd.DataFrame) -> str:
    """Where runs ran, e.g. 'cuda' or 'cpu, 1 thread': seconds compare only within one."""
    return " + ".join(sorted({d if d != "cpu" else f"cpu, {int(t)} thread{'s' if t != 1 else ''}"
                              for d, t in zip(runs["device"], runs["threads"])}))


def load_line(study: pd.DataFrame) -> str:
    """The load the runs shared their machines with, where they recorded it (1-minute load average)."""
    if "load_average" not in study or study["load_average"].isna().all():
        return "no run recorded its machine's load"
    known = study.dropna(subset=["load_average"])
    per_cpu = known["load_average"] / known["cpus"]
    return (f"{len(known)} of {len(study)} runs recorded their machine's load: a 1-minute load average of "
            f"{per_cpu.min():.2f} to {per_cpu.max():.2f} per CPU (median {per_cpu.median():.2f}); "
            "the others ran before loads were recorded")


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


def profile_ratios(study: pd.DataFrame, measure: str) -> dict[str, np.ndarray]:
    """Per method, its cost to the target over the best method's on each problem (scenario, seed);
    inf where it never reached the target."""
    cost = study.pivot_table(index=["scenario", "seed"], columns="optimizer", values=f"target_{measure}",
                             aggfunc="first")
    cost = cost.reindex(columns=sorted(study["optimizer"].unique()))
    best = cost.min(axis=1)
    ratios = cost.div(best, axis=0).fillna(math.inf)
    return {method: ratios[method].to_numpy() for method in ratios.columns}


def cost_comparison(means: pd.DataFrame, chosen: str, other: str, scenario: str) -> str:
    """What the chosen method costs per epoch against another, in one scenario, on the one hardware."""
    a, b = (means[(means["optimizer"] == m) & (means["scenario"] == scenario)].iloc[0] for m in (chosen, other))
    return (f"Per epoch in `{scenario}`, {chosen} spends {a['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} and {other} "
            f"{b['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} gradient evaluations per training sample, and {chosen} "
            f"takes {a['seconds_per_epoch'] / b['seconds_per_epoch']:.1f}x the wall time of {other}.")


def tuning_section(root: Path, params: dict) -> str:
    """The tuning budget of every preset (tuning/<preset>.csv), so that equal budgets show at a glance."""
    budget, epochs = params["tuning"]["trials"], params["train"]["epochs"]
    lines = ["| preset | trials | finished | pruned | failed | epochs spent | full runs | best validation accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    spent = []
    for preset in params["optimizers"]:
        if preset in params["tuning"]["fixed"]:
            continue
        trials = read_table(preset, root)
        if trials is None:
            lines.append(f"| {preset} | not tuned yet | | | | | | |")
            continue
        states, top, done = trials["state"].value_counts(), best(trials, params), finished(trials)
        if done == budget:
            spent.append(epochs_spent(trials))
        accuracy = "–" if top is None else f"{100 * top[f'val_accuracy@{epochs}']:.2f}%"
        lines.append(f"| {preset} | {done}/{budget}{'' if done == budget else ' (running)'} "
                     f"| {states.get('COMPLETE', 0)} | {states.get('PRUNED', 0)} | {states.get('FAIL', 0)} "
                     f"| {epochs_spent(trials)} | {epochs_spent(trials) / epochs:.1f} | {accuracy} |")
    if spent:
        spread = f"; {min(spent) / epochs:.1f} to {max(spent) / epochs:.1f}" if len(spent) > 1 else ""
        lines.append(f"\nPruning spent {np.mean(spent):.0f} epochs per finished tuning on average "
                     f"({np.mean(spent) / epochs:.1f} full runs{spread}), against {budget * epochs} for {budget} "
                     "unpruned trials.")
    return "\n".join(lines)


def sparse_section(root: Path, study: pd.DataFrame, out: Path, params: dict) -> str:
    path = root / "results" / "experiments.csv"
    runs = pd.read_csv(path) if path.exists() else pd.DataFrame()
    if runs.empty or "sparsity_method" not in runs:
        return "_No sparsification comparison exported (results/experiments.csv)._"
    sparse = runs[(runs["scenario"] == "sparse") & runs["experiment"].str.startswith(("sparse-", "thin-"))]
    if sparse.empty:
        return "_No sparsification comparison exported (results/experiments.csv)._"
    optimizer = sparse["optimizer"].iloc[0]
    dense_runs = study[(study["optimizer"] == optimizer) & (study["scenario"] == "standard")]
    dense = (1.0, dense_runs["test_accuracy"].mean()) if not dense_runs.empty else None
    figures.density_curve(sparse, dense, f"optimizer {optimizer}, {params['train']['epochs']} epochs, "
                          f"seed {int(sparse['seed'].iloc[0])}", out / "figures" / "density.png",
                          100 * params["train"]["target_accuracy"])
    lines = ["| method | density bound | nonzero fc1+fc2 | test accuracy | test loss |", "|---|---|---|---|---|"]
    for _, r in sparse.sort_values(["density_bound", "test_accuracy"], ascending=[False, False]).iterrows():
        lines.append(f"| {r['sparsity_method']} | {r['density_bound']:g} | {int(r['nonzero_fc1_fc2']):,} "
                     f"({100 * r['density']:.1f}%) | {100 * r['test_accuracy']:.2f}% | {r['test_loss']:.4f} |")
    anchor = (f" The dense point at 1.0 is {optimizer}'s mean over seeds in the standard scenario." if dense else "")
    return ("Sparsification methods, each with the same optimizer and seed (one run each, from "
            f"results/experiments.csv).{anchor}\n\n![density](figures/density.png)\n\n" + "\n".join(lines))


def presets_missing(root: Path, study: pd.DataFrame) -> list[str]:
    """Presets of params.yaml with no run in the study yet."""
    path = root / "params.yaml"
    presets = list(load_params(path)["optimizers"]) if path.exists() else []
    studied = set(study["optimizer"])
    return [p for p in presets if p not in studied]


def build(root: Path, out: Path) -> str:
    if not (root / "params.yaml").exists():
        raise SystemExit(f"{root / 'params.yaml'} is missing: the report takes its target and scenarios from it")
    params = load_params(root / "params.yaml")
    target, described = params["train"]["target_accuracy"], params["scenarios"]
    study, curves, stale, elsewhere = load(root)
    study = study.sort_values(["optimizer", "scenario", "seed"]).reset_index(drop=True)
    scenarios = [s for s in described if s in set(study["scenario"])]  # params.yaml's order
    if not scenarios:
        raise SystemExit("results/study.csv has no run of a scenario that params.yaml has")
    study = study[study["scenario"].isin(scenarios)]
    means = summary(study)
    choice = choose(study, means, scenarios[0])
    chosen = choice.chosen
    seeds = study.groupby(["optimizer", "scenario"])["seed"].nunique()
    budget = sorted(study["epochs_budget"].unique())
    styles = figures.styles(sorted(study["optimizer"].unique()))

    best_by_family = (means[means["scenario"] == scenarios[0]].sort_values("accuracy", ascending=False)
                      .drop_duplicates("family")["optimizer"].tolist())
    for scenario in scenarios:
        figures.learning_curves(curves[curves["scenario"] == scenario], best_by_family,
                                f"{scenario}: the best method of each family (mean over seeds)",
                                out / "figures" / f"curves_{scenario}.png", styles, 100 * target)
    reached = sorted(study.loc[study["target_epoch"].notna(), "optimizer"].unique())
    solved = study[study["optimizer"].isin(reached)]
    figures.performance_profile({"gradient evaluations": profile_ratios(solved, "grad_evals"),
                                 f"seconds ({hardware(study)})": profile_ratios(solved, "seconds")},
                                out / "figures" / "profile.png", styles)

    chosen_rows = study[study["optimizer"] == chosen]
    settings = json.loads(chosen_rows["preset_settings"].iloc[0]) if "preset_settings" in chosen_rows else {}
    runner_up = next((m for m in choice.ranked if m != chosen), None)
    baseline = study[study["optimizer"] == "sgd"]
    typical = means["seconds_per_epoch"].median()
    expensive = means[means["seconds_per_epoch"] > 3 * typical]
    missing = presets_missing(root, study)
    missed = means[means["accuracy"] <= target]
    diverged = study[study["diverged"].astype(bool)]

    s = []
    s.append("# Optimizers for LeNet-5 on Fashion-MNIST: the study\n")
    s.append(f"_Generated by `python -m lenet_bench.report` from results/study.csv ({len(study)} runs); "
             "every number and figure below comes from those exported runs. Do not edit by hand._\n")
    s.append("## 1. Setup\n")
    s.append(f"- **Model**: the brief's LeNet-5, unchanged (tanh, max-pooling, {PARAMETER_COUNT:,} parameters).\n"
             f"- **Data**: Fashion-MNIST, the brief's split: {TRAIN_SIZE:,} training and {TEST_SIZE:,} test images; "
             "pixels in [0, 1].\n"
             f"- **Budget**: {', '.join(map(str, budget))} epochs per run; target: **{100 * target:.2f}%** test "
             "accuracy (the brief's reference).\n"
             "- **Scenarios**: " + "; ".join(f"`{s_}`: {describe(described, s_)}" for s_ in scenarios) + ".\n"
             f"- **Seeds**: {seeds.min() if seeds.min() == seeds.max() else f'{seeds.min()} to {seeds.max()}'} "
             "per method and scenario.\n"
             f"- **Hardware**: every run below, {len(study)} of them, on one kind: {hardware(study)} "
             f"({study['seconds'].sum() / 3600:.1f} hours of training summed over runs); {load_line(study)}. "
             "Accuracy and seconds therefore compare across every table and figure.\n"
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
                + tuning_section(root, params))
             + "\n")
    s.append("## 2. Every method in every scenario\n")
    s.append("Mean ± standard deviation over seeds. *Reached* counts the seeds whose test accuracy reached "
             f"{100 * target:.2f}% within the budget; the cost columns average over those seeds.\n")
    if missing:
        s.append(f"**Not in the study yet** (presets of params.yaml without a run here): {', '.join(missing)}.\n")
    if not stale.empty:
        counts = stale["optimizer"].value_counts().sort_index()
        s.append("**Left out**: runs made with settings that params.yaml no longer has ("
                 + ", ".join(f"{method}: {count}" for method, count in counts.items())
                 + "); `python scripts/study.py` runs these presets again with the current settings.\n")
    if not elsewhere.empty:
        s.append(f"**Left out**: {len(elsewhere)} runs at the current settings made on other hardware "
                 f"({hardware(elsewhere)}); every table holds runs of one kind only.\n")
    for scenario in scenarios:
        s.append(f"### {scenario} ({describe(described, scenario)})\n")
        s.append(results_table(study, means, scenario, target) + "\n")
    s.append("## 3. Learning curves\n")
    s.append(f"The best method of each family ({', '.join(best_by_family)}), by mean test accuracy in "
             f"`{scenarios[0]}`; test accuracy and loss against epochs, gradient evaluations and seconds.\n")
    for scenario in scenarios:
        s.append(f"![{scenario} learning curves](figures/curves_{scenario}.png)\n")
    s.append("## 4. Performance profile\n")
    s.append("In the manner of the AlgoPerf benchmark: a problem is one scenario and seed; a method's cost on it is "
             f"what it spent to first reach {100 * target:.2f}% (gradient evaluations, or seconds on the one kind of "
             "hardware); the curve gives the fraction of problems a method solved within τ times the cheapest "
             "method's cost. Every method that reached the target at least once is drawn "
             f"({len(reached)} of {study['optimizer'].nunique()}); a problem it never solved never counts.\n")
    s.append("![performance profile](figures/profile.png)\n")
    s.append("## 5. The sparse scenario\n")
    s.append(sparse_section(root, study, out, params) + "\n")
    s.append(f"## 6. The chosen method: {chosen}\n")
    s.append(leader_text(choice, scenarios[0], target) + "\n")
    lines = [f"| scenario | test accuracy (%) | test loss | reached {100 * target:.2f}% | M grad evals to it |",
             "|---|---|---|---|---|"]
    for scenario in scenarios:
        r = chosen_rows[chosen_rows["scenario"] == scenario]
        lines.append(f"| {scenario} | {mean_std(r['test_accuracy'], 100)} | {mean_std(r['test_loss'], 1, 4)} "
                     f"| {int(r['target_epoch'].notna().sum())}/{len(r)} "
                     f"| {_mean_or_dash(r['target_grad_evals'] / 1e6, '.2f')} |")
    s.append(f"Family: {chosen_rows['family'].iloc[0]}; algorithm `{chosen_rows['algorithm'].iloc[0]}`; its preset: "
             + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in settings.items() if k not in ("family", "search"))
             + ".\n")
    s.append("\n".join(lines) + "\n")
    algorithm = chosen_rows["algorithm"].iloc[0]
    if algorithm in ALGORITHM_TEXT:
        s.append(f"**How it works**: {ALGORITHM_TEXT[algorithm]}.\n")
    if runner_up:
        s.append(cost_comparison(means, chosen, runner_up, scenarios[0]) + "\n")
    s.append("## 7. The brief's baseline beside ours\n")
    if baseline.empty:
        s.append("_The baseline preset `sgd` is not in this study._\n")
    else:
        sgd = params["optimizers"].get("sgd", {})
        lines = [f"| scenario | sgd (lr {sgd.get('lr', '?')}, batch {sgd.get('batch_size', '?')}) | {chosen} "
                 "| target |",
                 "|---|---|---|---|"]
        for scenario in scenarios:
            b, c = baseline[baseline["scenario"] == scenario], chosen_rows[chosen_rows["scenario"] == scenario]
            lines.append(f"| {scenario} | {mean_std(b['test_accuracy'], 100)}% | {mean_std(c['test_accuracy'], 100)}% "
                         f"| {100 * target:.2f}% |")
        s.append("\n".join(lines) + "\n")
    s.append("## 8. What did not work\n")
    items = []
    if not diverged.empty:
        items += [f"- {r['optimizer']} diverged in `{r['scenario']}`, seed {int(r['seed'])}, at step "
                  f"{int(r['diverged_at_step']) if not pd.isna(r['diverged_at_step']) else '?'}."
                  for _, r in diverged.iterrows()]
    order = missed.groupby("optimizer")["accuracy"].mean().sort_values().index
    for method in order:  # the worst first, one line per method, its scenarios in the report's order
        rows = missed[missed["optimizer"] == method].sort_values("scenario", key=lambda c: c.map(scenarios.index))
        where = ", ".join(f"`{r['scenario']}` ({100 * r['accuracy']:.2f}%)" for _, r in rows.iterrows())
        items.append(f"- {method} stayed below {100 * target:.2f}% on average in {where}; "
                     f"{rows['reached'].sum()} of those {rows['seeds'].sum()} runs reached it.")
    if "sparse" in scenarios and "standard" in scenarios:
        table = means.pivot(index="optimizer", columns="scenario", values="accuracy")
        hurt = (table["sparse"] - table["standard"]).dropna().sort_values()
        for method, delta in hurt[hurt < -0.003].items():
            items.append(f"- The sparse constraint cost {method} {100 * -delta:.2f} percentage points.")
    for _, r in expensive.drop_duplicates("optimizer").iterrows():
        items.append(f"- {r['optimizer']} costs {r['seconds_per_epoch']:.0f} s per epoch, over 3x "
                     f"the median method's {typical:.0f} s (and {r['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} "
                     "gradient evaluations per sample per epoch); its budget was not cut.")
    s.append("\n".join(items) if items else "Every method reached the target in every scenario.")
    s.append("")
    report = "\n".join(s) + "\n"
    write_text(out / "REPORT.md", report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, default=Path("report"))
    parser.add_argument("--pdf", action="store_true", help="also print it to REPORT.pdf (needs pandoc, weasyprint)")
    args = parser.parse_args()
    if args.pdf:
        printed.require_tools()  # before anything is written
    build(args.root, args.out)
    print(f"wrote {args.out / 'REPORT.md'}")
    if args.pdf:
        count = printed.to_pdf(args.out / "REPORT.md", args.out / "REPORT.pdf")
        print(f"wrote {args.out / 'REPORT.pdf'}: {count} A4 pages")
        if count > MAX_PAGES:
            raise SystemExit(f"error: the report takes {count} pages, over the brief's {MAX_PAGES}")


if __name__ == "__main__":
    main()
