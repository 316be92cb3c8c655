"""The study's report, report/REPORT.md and its figures, built from the exported results alone:
results/study.csv and results/study_curves.csv (`lenet-bench study`), results/experiments.csv (the
sparsification comparisons) and tuning/*.csv (the tunings). The same files give the same report
(`lenet-bench report`)."""
from __future__ import annotations

import copy
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lenet_bench.atomic_files import write_text
from lenet_bench.params import LABELS
from lenet_bench.params import load as load_params
from lenet_bench.problem import PARAMETER_COUNT, TEST_SIZE, TRAIN_SIZE
from lenet_bench.registry import ALGORITHMS
from lenet_bench.report import calibration, figures
from lenet_bench.report.scores import TAU_MAX, pareto_front, profile_score
from lenet_bench.study import ablation
from lenet_bench.study import leaders as leader_rule
from lenet_bench.study.export import (
    DEVICE,
    KEY,
    THREADS,
    fingerprint,
    read_export,
    sort_runs,
    study_params,
)
from lenet_bench.tuning import audit
from lenet_bench.tuning.audit import INTERRUPTED
from lenet_bench.tuning.search import get as setting
from lenet_bench.tuning.search import parse as search_space
from lenet_bench.tuning.search import with_values
from lenet_bench.tuning.tuning_tables import best, best_settings, budget_used, read_table, rungs, variant

MAX_PAGES = 10  # the brief's limit, printed on A4
RELIABLE_SEEDS, RELIABLE_REACHED = 10, 9  # a budget recommendation rests on 10 seeds, 9 of them reaching the target

# What each algorithm does, for the chosen method's section.
def describe(scenarios: dict, name: str) -> str:
    """A scenario's description in params.yaml, or its name where it has none."""
    return (scenarios.get(name) or {}).get("description", name)


def count(n: int, noun: str) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


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


def untimed_line(study: pd.DataFrame) -> str:
    """The presets whose seconds are unknown: not timed at the settings they ran with."""
    untimed = sorted(study.loc[study["seconds"].isna(), "preset"].unique())
    if not untimed or len(untimed) == study["preset"].nunique():
        return ""
    return (f" Not timed at the settings they ran with, so without seconds: {', '.join(untimed)} "
            "(`lenet-bench speed` times them again).")


def summary(study: pd.DataFrame) -> pd.DataFrame:
    """One row per method and scenario: means and spreads over seeds, and how often it reached the target."""
    rows = []
    for (method, scenario), runs in study.groupby(["preset", "scenario"]):
        rows.append({"preset": method, "scenario": scenario, "family": runs["family"].iloc[0],
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
    a = runs[runs["preset"] == first].set_index("seed")["test_accuracy"]
    b = runs[runs["preset"] == second].set_index("seed")["test_accuracy"]
    diff = (100 * (a - b)).dropna().to_numpy()
    return Paired(first, second, len(diff), float(diff.mean()) if len(diff) else math.nan,
                  float(diff.std(ddof=1)) if len(diff) > 1 else math.nan, int((diff > 0).sum()), sign_flip_p(diff))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of p-values (the family-wise error held at the level they are compared
    with), in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Choice:
    """The leaders of one scenario, chosen by the declared rule on the choosing seeds and ranked on the
    confirming seeds alone."""
    scenario: str
    leaders: list[str]              # by study.leaders' criterion on the choosing seeds
    seeds: list[int]                # the confirming seeds every leader ran
    ranked: list[str]               # the leaders by mean test accuracy on those seeds, best first
    tests: list[tuple[Paired, float]]  # the first against each other leader, with its Holm-adjusted p
    tied: list[str]                 # the first and every leader no adjusted test puts it ahead of
    chosen: str | None              # None until the confirming seeds are in
    by_cost: bool                   # chosen among tied leaders by the second criterion
    missing: list[str]              # leaders that lack some confirming seed


def choose(study: pd.DataFrame, params: dict, scenario: str) -> Choice:
    """Choose by params.yaml's study.leaders: the leaders by its criterion on the choosing seeds; on the
    confirming seeds, paired sign-flip tests of the first against each other leader, Holm-corrected at its
    alpha. The leaders the first is not ahead of tie with it, and the tie-break picks among them: the
    fewest of its measure on average (a leader that missed the target on some seed comes after those
    that never did)."""
    rule, choosing = params["study"]["leaders"], params["study"]["seeds"]
    chosen_by = leader_rule.leaders(study, rule, choosing, scenario)
    runs = study[(study["scenario"] == scenario) & study["seed"].isin(rule["confirm_seeds"])]
    ran = {m: set(runs.loc[runs["preset"] == m, "seed"]) for m in chosen_by}
    missing = [m for m in chosen_by if ran[m] != set(rule["confirm_seeds"])]
    seeds = sorted(set(rule["confirm_seeds"]).intersection(*ran.values())) if ran else []
    if missing or len(chosen_by) < 2:
        return Choice(scenario, chosen_by, seeds, [], [], [], None, False, missing)
    runs = runs[runs["seed"].isin(seeds)]
    ranked = list(runs.groupby("preset")["test_accuracy"].mean().loc[chosen_by].sort_values(
        ascending=False, kind="stable").index)
    pairs = [paired(runs, scenario, ranked[0], other) for other in ranked[1:]]
    adjusted = holm([t.p for t in pairs])
    tests = list(zip(pairs, adjusted))
    tied = [ranked[0]] + [t.second for t, p in tests if not (t.mean > 0 and p < rule["alpha"])]
    column = leader_rule.TIE_BREAKS[rule["tie_break"]]

    def cost(method: str) -> tuple[int, float]:
        r = runs[runs["preset"] == method]
        return int(r[column].isna().sum()), float(r[column].mean())
    chosen = min(tied, key=cost) if len(tied) > 1 else ranked[0]
    return Choice(scenario, chosen_by, seeds, ranked, tests, tied, chosen, len(tied) > 1, [])


def leader_text(choice: Choice, study: pd.DataFrame, params: dict) -> str:
    """The leaders of one scenario on the confirming seeds: a table of the paired tests, and the verdict."""
    rule, target = params["study"]["leaders"], params["train"]["target_accuracy"]
    head = (f"In `{choice.scenario}`, the leaders by {rule['criterion'].replace('_', ' ')} on seeds "
            f"{', '.join(map(str, params['study']['seeds']))} (the rule of `study.leaders`, declared before the runs) "
            f"are {', '.join(choice.leaders)}. ")
    if choice.chosen is None:
        lacking = ", ".join(choice.missing) or "a runner-up"
        seeds = ", ".join(map(str, rule["confirm_seeds"]))
        return head + (f"Not confirmed yet: {lacking} lack{'s' if len(choice.missing) == 1 else ''} some of the "
                       f"confirming seeds {seeds} (`lenet-bench study --confirm`).")
    runs = study[(study["scenario"] == choice.scenario) & study["seed"].isin(choice.seeds)]
    lines = [head + f"Ranked on the {len(choice.seeds)} confirming seeds alone "
             f"({', '.join(map(str, choice.seeds))}); each other leader paired with the first, the p-values of "
             f"exact sign-flip tests Holm-corrected at {rule['alpha']:g}:\n",
             f"| leader | test accuracy (%) | reached {100 * target:.2f}% | M grad evals to it "
             "| first minus it (points) | first ahead on | p | Holm p |", "|---|---|---|---|---|---|---|---|"]
    tests = {test.second: (test, adjusted) for test, adjusted in choice.tests}
    for method in choice.ranked:
        r = runs[runs["preset"] == method]
        row = (f"| {method} | {mean_std(r['test_accuracy'], 100)} | {int(r['target_epoch'].notna().sum())}/{len(r)} "
               f"| {_mean_or_dash(r['target_grad_evals'] / 1e6, '.2f')} | ")
        if method in tests:
            test, adjusted = tests[method]
            row += f"{test.mean:+.2f} ± {test.std:.2f} | {test.wins} of {test.seeds} | {test.p:.3f} | {adjusted:.3f} |"
        else:
            row += "– | – | – | – |"
        lines.append(row)
    if not choice.by_cost:
        verdict = f"{choice.ranked[0]} is ahead of every other leader after the correction: **{choice.chosen}**."
    else:
        verdict = (f"**{' and '.join(choice.tied)} tie**: no corrected test separates "
                   f"{'them' if len(choice.tied) == 2 else 'the first from them'}. The declared second criterion, the "
                   f"fewest {rule['tie_break'].replace('_', ' ')} to {100 * target:.2f}% (mean over the confirming "
                   f"seeds), chooses **{choice.chosen}**.")
    return "\n".join(lines) + "\n\n" + verdict


FAILS_BELOW = 0.5  # a preset failed in a scenario where fewer than this share of its seeds reached the target


def tuned_settings(name: str, preset: dict) -> str:
    """The values its tuning chose: lr and the settings of its search space."""
    keys = [d.key for d in search_space(name, preset)] if preset.get("search") else ["lr"]
    values = {key: setting(preset, key) for key in keys}
    return ", ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in values.items())


def verdict(cells: list[pd.Series], target: float, why_none: str) -> str:
    """'works', or 'failed' by FAILS_BELOW in every scenario it ran, with the reason; without runs, why."""
    if not cells:
        return why_none
    failed = [m for m in cells if m["reached"] < FAILS_BELOW * m["seeds"]]
    if len(failed) < len(cells):
        return "works" if not failed else f"works; failed in {', '.join(m['scenario'] for m in failed)}"
    best = max(failed, key=lambda m: m["accuracy"])
    return (f"**failed**: {sum(m['reached'] for m in failed)}/{sum(m['seeds'] for m in failed)} reached, "
            f"best {100 * best['accuracy']:.2f}%")


def no_runs_reason(r: Results, name: str) -> str:
    if name in set(r.elsewhere["preset"]):
        return f"other hardware only ({hardware(r.elsewhere[r.elsewhere['preset'] == name])})"
    if name in set(r.stale["preset"]):
        return "stale: tuned since"
    return "not run yet"


def accounted_table(r: Results) -> str:
    """Every preset of presets.yaml, one row each: what it is, its tuned settings, its result in each
    scenario (mean test accuracy, and seeds that reached the target), and its verdict."""
    lines = ["| preset | family | algorithm | tuned settings | "
             + " | ".join(r.scenarios) + " | verdict |",
             "|---" * (5 + len(r.scenarios)) + "|"]
    for name, preset in r.params["optimizers"].items():
        cells, shown = [], []
        for scenario in r.scenarios:
            mean = r.means[(r.means["preset"] == name) & (r.means["scenario"] == scenario)]
            if mean.empty:
                shown.append("–")
                continue
            m = mean.iloc[0]
            cells.append(m)
            runs = r.study[(r.study["preset"] == name) & (r.study["scenario"] == scenario)]
            note = f", {m['diverged']} diverged" if m["diverged"] else ""
            shown.append(f"{mean_std(runs['test_accuracy'], 100)}, {m['reached']}/{m['seeds']}{note}")
        lines.append(f"| {name} | {preset['family']} | {preset['algorithm']} | {tuned_settings(name, preset)} | "
                     + " | ".join(shown) + f" | {verdict(cells, r.target, no_runs_reason(r, name))} |")
    return "\n".join(lines)


def common_problems(study: pd.DataFrame) -> pd.MultiIndex:
    """The problems (scenario, seed) that every method of `study` ran: a method is judged only on problems
    it attempted, and an extra seed run for some methods alone (the leaders' ten) is no problem for the rest."""
    methods = study.groupby(["scenario", "seed"])["preset"].nunique()
    return methods[methods == study["preset"].nunique()].index


def profile_ratios(study: pd.DataFrame, measure: str) -> dict[str, np.ndarray]:
    """Per method, its cost to the target over the best method's on each common problem; inf where it
    never reached the target."""
    cost = study.pivot_table(index=["scenario", "seed"], columns="preset", values=f"target_{measure}",
                             aggfunc="first")
    cost = cost.reindex(index=common_problems(study), columns=sorted(study["preset"].unique()))
    best = cost.min(axis=1)
    ratios = cost.div(best, axis=0).fillna(math.inf)
    return {method: ratios[method].to_numpy() for method in ratios.columns}


def cost_comparison(means: pd.DataFrame, chosen: str, other: str, scenario: str) -> str:
    """What the chosen method costs per epoch against another, in one scenario, in calibrated seconds."""
    a, b = (means[(means["preset"] == m) & (means["scenario"] == scenario)].iloc[0] for m in (chosen, other))
    seconds = (f"{chosen} takes {a['seconds_per_epoch'] / b['seconds_per_epoch']:.1f}x the calibrated seconds of "
               f"{other}" if a["seconds_per_epoch"] > 0 and b["seconds_per_epoch"] > 0
               else "their seconds are not timed yet")
    return (f"Per epoch in `{scenario}`, {chosen} spends {a['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} and {other} "
            f"{b['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} gradient evaluations per training sample, and {seconds}.")


def sensitivity_text(r: Results, out: Path) -> str:
    """Validation accuracy against learning rate from every tuning trial, a panel per family (figure)."""
    tables = {p: t for p, t in r.tunings.items() if t is not None and "lr" in t}
    if not tables:
        return ""
    families = {p: r.params["optimizers"][p].get("family", "other") for p in tables}
    figures.lr_sensitivity(tables, families, out / "figures" / "lr_sensitivity.png")
    return ("**Learning-rate sensitivity** (as DeepOBS draws it): every tuning trial's validation accuracy against "
            "its learning rate, a panel per family; filled, a finished trial at its final accuracy; hollow, a pruned "
            "one at the accuracy it was stopped with. A wide plateau forgives a coarse search; a narrow peak does "
            "not.\n\n![learning-rate sensitivity](figures/lr_sensitivity.png)\n")


def audit_section(params: dict, replays: pd.DataFrame | None) -> str:
    """The pruning audit (tuning/audit.csv, from `lenet-bench tune --audit`): what each schedule of rungs
    would have cost and lost on the unpruned tunings, and the rungs it chooses."""
    settings = params["tuning"]["audit"]
    if replays is None:
        return (f"**The pruning audit** has not run yet: unpruned tunings of {', '.join(settings['presets'])} "
                "(`lenet-bench tune --presets <preset> --unpruned`), then `lenet-bench tune --audit`.")
    choice = audit.chosen(replays, settings["max_regret"])
    agrees = params["tuning"]["rungs"] == choice
    return (f"**The pruning audit.** Unpruned tunings of {', '.join(dict.fromkeys(replays['preset']))} (every trial "
            "trained for the whole budget) replay successive halving offline, trial by trial in the order of their "
            "numbers, as Optuna's pruner would have judged them, for every first rung and reduction factor. Regret: "
            "the best final validation accuracy of the unpruned tuning minus that of the trial the schedule would have "
            "picked (points); epochs: what the schedule would have spent, summed over the audited presets (each "
            "preset's own on the [tuning page](tuning.md)).\n\n"
            + audit.markdown(replays, settings["max_regret"], per_preset=False)
            + f"\n\nThe cheapest schedule within {100 * settings['max_regret']:.2f} points on every audited preset: "
            f"`tuning.rungs: {audit.describe_rungs(choice)}`"
            + ("." if agrees else f"; params.yaml still holds `{audit.describe_rungs(params['tuning']['rungs'])}`."))


def read_audit(root: Path) -> pd.DataFrame | None:
    path = root / "tuning" / "audit.csv"
    return pd.read_csv(path) if path.exists() else None


def tuning_tables(root: Path, params: dict) -> dict[str, pd.DataFrame | None]:
    """Each tuned preset's table of trials (tuning/<preset>.csv), None where it is not tuned yet."""
    return {p: read_table(p, root) for p in params["optimizers"] if p not in params["tuning"]["fixed"]}


def every_epoch_recorded(trials: pd.DataFrame, epochs: int) -> bool:
    """A table of the current protocol records every epoch; one of the earlier protocol, its rungs only."""
    return all(f"val_accuracy@{e}" in trials for e in range(1, epochs + 1))


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
        earlier = not every_epoch_recorded(trials, epochs)
        if used.done == budget and not earlier:
            spent.append(used.epochs)
        accuracy = "–" if top is None else f"{100 * top[f'val_accuracy@{epochs}']:.2f}%"
        status = " (earlier protocol)" if earlier else "" if used.done == budget else " (running)"
        lines.append(f"| {preset} | {used.done}/{budget}{status} "
                     f"| {used.complete} | {used.pruned} | {used.failed} "
                     f"| {used.epochs} | {used.epochs / epochs:.1f} | {accuracy} |")
    interrupted = {p: list(t.loc[t["state"] == INTERRUPTED, "number"]) for p, t in tunings.items() if t is not None}
    if any(interrupted.values()):
        lines.append("\n*Interrupted* (a worker stopped mid-trial; the same settings ran again as a later trial, "
                     "which counts in the trials; the interrupted epochs count in the epochs spent): "
                     + "; ".join(f"{p} trial {', '.join(map(str, n))}" for p, n in interrupted.items() if n) + ".")
    if len(spent) < len(tunings):
        lines.append("\n*Earlier protocol*: tuned before the quasi-random search and the audited rungs (a TPE sampler "
                     "seeded per trial, learning rates over two decades, rungs 1, 3 and 9); re-tuning replaces it.")
    if spent:
        spread = f"; {min(spent) / epochs:.1f} to {max(spent) / epochs:.1f}" if len(spent) > 1 else ""
        lines.append(f"\nPruning spent {np.mean(spent):.0f} epochs per finished tuning on average "
                     f"({np.mean(spent) / epochs:.1f} full runs{spread}), against {budget * epochs} for {budget} "
                     "unpruned trials.")
    return "\n".join(lines)


def tuning_summary(params: dict, tunings: dict[str, pd.DataFrame | None]) -> str:
    """The tuning budgets in a sentence (each preset's on the tuning page)."""
    budget, epochs = params["tuning"]["trials"], params["train"]["epochs"]
    current = {p: budget_used(t) for p, t in tunings.items()
               if t is not None and every_epoch_recorded(t, epochs) and budget_used(t).done == budget}
    spent = [u.epochs / epochs for u in current.values()]
    text = ("**The tunings** (each on the [tuning page](tuning.md)): "
            + (f"all {len(tunings)} presets tuned on these terms" if len(current) == len(tunings)
               else f"{len(current)} of {len(tunings)} presets tuned on these terms so far"))
    if spent:
        text += f", spending {np.mean(spent):.1f} full runs each on average ({min(spent):.1f} to {max(spent):.1f})"
    pending = [p for p in tunings if p not in current]
    if pending:
        earlier = any(tunings[p] is not None and not every_epoch_recorded(tunings[p], epochs) for p in pending)
        text += (f"; still to tune: {', '.join(pending)}"
                 + (" (their settings come from an earlier protocol: a TPE sampler seeded per trial, learning rates "
                    "over two decades, rungs 1, 3 and 9)" if earlier else ""))
    return text + shared_winner(params, {p: tunings[p] for p in current}) + "."


def shared_winner(params: dict, tunings: dict[str, pd.DataFrame]) -> str:
    """Where one trial number wins most tunings, why: every tuning draws the same Sobol points."""
    chosen = {p: best(t, params) for p, t in tunings.items()}
    winners = {p: int(trial["number"]) for p, trial in chosen.items() if trial is not None}
    if not winners:
        return ""
    number, count = Counter(winners.values()).most_common(1)[0]
    if count < max(2, len(winners) // 3):
        return ""
    won = [p for p, n in winners.items() if n == number]
    positions, batches = [], set()
    for preset in won:
        row = tunings[preset].set_index("number").loc[number]
        for d in search_space(preset, params["optimizers"][preset]):
            if d.key == "lr" and d.log:
                positions.append(math.log(row[d.key] / d.low) / math.log(d.high / d.low))
            elif d.key == "batch_size":
                batches.add(int(row[d.key]))
    where = ""
    if positions:
        low, high = f"{min(positions):.0%}", f"{max(positions):.0%}"
        where = f": its learning rate at {low if low == high else f'{low} to {high}'} of the log range"
    if batches:
        where += f", its batch {' or '.join(map(str, sorted(batches)))} where the batch is searched"
    return (f". The best trial is trial {number} in {count} of these {len(winners)} tunings ({', '.join(won)}). Every "
            f"tuning draws the same scrambled Sobol points (sampler seed {params['tuning']['sampler']['seed']}), so "
            f"trial {number} is the same point of the unit cube in every space of the same shape{where}; whether a "
            "leader wins by its method or by that draw is what the tuning variance (§2) measures with other seeds")


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
    audit: pd.DataFrame | None  # the pruning audit's replays (tuning/audit.csv), None before it ran
    experiments: pd.DataFrame  # results/experiments.csv: the sparsification comparisons
    timings: pd.DataFrame | None  # results/speed.csv (`lenet-bench speed`), None before it ran
    ablation: pd.DataFrame     # results/ablation.csv's runs at the current settings of study.ablation's variants

    @property
    def target(self) -> float:
        return self.params["train"]["target_accuracy"]

    def of(self, method: str) -> pd.DataFrame:
        return self.study[self.study["preset"] == method]


def load(root: Path) -> Results:
    """The study's runs and learning curves; apart, the runs made with settings that root's params.yaml no
    longer has, and those made on other hardware than the study's (one kind for every table, so that
    accuracy and seconds compare); the tunings and the exported sparsification comparisons."""
    if not (root / "params.yaml").exists():
        raise SystemExit(f"{root / 'params.yaml'} is missing: the report takes its target and scenarios from it")
    params = load_params(root / "params.yaml")
    exported, curves = read_export(root, curves=True)
    runs = sort_runs(exported, params)
    study, stale, elsewhere = runs.current, runs.stale, runs.elsewhere
    if study.empty:
        raise SystemExit("results/study.csv has no runs with the settings of params.yaml on the study's hardware "
                         f"({DEVICE}, {THREADS} thread): run `lenet-bench study` first")
    curves = curves[curves.set_index(KEY).index.isin(study.set_index(KEY).index)]
    study = study.sort_values(["preset", "scenario", "seed"]).reset_index(drop=True)
    scenarios = [s for s in params["scenarios"] if s in set(study["scenario"])]
    if not scenarios:
        raise SystemExit("results/study.csv has no run of a scenario that params.yaml has")
    timings = calibration.read(root)  # every seconds value of the report is calibrated, never wall time
    study = calibration.apply(study[study["scenario"].isin(scenarios)], timings)
    curves = calibration.apply_to_curves(curves, study)
    experiments = root / "results" / "experiments.csv"
    return Results(params, study, curves, stale, elsewhere, scenarios, summary(study), tuning_tables(root, params),
                   read_audit(root), pd.read_csv(experiments) if experiments.exists() else pd.DataFrame(), timings,
                   ablation_runs(root, params))


def ablation_runs(root: Path, params: dict) -> pd.DataFrame:
    """The ablation's runs at the current settings of its variants (none before `study --ablation` ran)."""
    if "ablation" not in params["study"] or not (root / ablation.EXPORT).exists():
        return pd.DataFrame(columns=KEY)
    return sort_runs(read_export(root, ablation.EXPORT), ablation.with_variants(params)[0]).current


def title(r: Results) -> str:
    return ("# Optimizers for LeNet-5 on Fashion-MNIST: the study\n\n"
            f"_Generated by `lenet-bench report` from results/study.csv ({len(r.study)} runs); every number and "
            "figure below comes from those exported runs. Do not edit by hand._\n")


def answer_section(r: Results, choices: dict[str, Choice], out: Path, styles: dict) -> str:
    """Page 1: the chosen method of each scenario, how sure the choice is and what it costs; the cheapest
    method that reliably reaches the target; the Pareto front of accuracy against cost."""
    target = r.target
    lines = [f"| scenario | chosen method | test accuracy (%) | on seeds | M grad evals to {100 * target:.2f}% "
             "| how sure |", "|---|---|---|---|---|---|"]
    for scenario, choice in choices.items():
        chosen = chosen_method(choice)
        runs = r.study[(r.study["scenario"] == scenario) & (r.study["preset"] == chosen)]
        seeds = choice.seeds if choice.chosen else r.params["study"]["seeds"]
        runs = runs[runs["seed"].isin(seeds)]
        if choice.chosen is None:
            sure = "not confirmed yet"
        elif choice.by_cost:
            sure = f"tie with {', '.join(m for m in choice.tied if m != chosen)}; fewer grad evals"
        else:
            test, adjusted = choice.tests[0]
            sure = f"ahead of {test.second} on {test.wins}/{test.seeds} seeds, Holm p = {adjusted:.3f}"
        lines.append(f"| {scenario} | **{chosen}** | {mean_std(runs['test_accuracy'], 100)} "
                     f"| {'confirming' if choice.chosen else 'choosing'} {', '.join(map(str, seeds))} "
                     f"| {_mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} | {sure} |")
    first = r.scenarios[0]
    runs = r.study[r.study["scenario"] == first]
    seeds = runs.groupby("preset")["seed"].nunique()
    reached = runs.groupby("preset")["target_grad_evals"].apply(lambda c: c.notna().sum())
    reliable = [m for m in seeds.index if seeds[m] >= RELIABLE_SEEDS and reached[m] >= RELIABLE_REACHED]
    reliable_runs = runs[runs["preset"].isin(reliable)].groupby("preset")
    cost = reliable_runs["target_grad_evals"].mean().sort_values()
    seconds = reliable_runs["target_seconds"].mean().dropna().sort_values()
    if cost.empty:
        budget = (f"**By budget**: no method has yet reached {100 * target:.2f}% on {RELIABLE_REACHED} of "
                  f"{RELIABLE_SEEDS} seeds in `{first}` (methods with fewer than {RELIABLE_SEEDS} seeds do not "
                  "qualify).")
    else:
        budget = (f"**By budget**: of the methods that reached {100 * target:.2f}% on at least {RELIABLE_REACHED} "
                  f"of {RELIABLE_SEEDS} seeds in `{first}` ({', '.join(cost.index)}), **{cost.index[0]}** gets there "
                  f"with the fewest gradient evaluations, {cost.iloc[0] / 1e6:.2f} M on average"
                  + (f" (then {cost.index[1]}, {cost.iloc[1] / 1e6:.2f} M)" if len(cost) > 1 else "")
                  + (f"; in calibrated seconds, **{seconds.index[0]}**, {seconds.iloc[0]:.0f} s"
                     + (f" (then {seconds.index[1]}, {seconds.iloc[1]:.0f} s)" if len(seconds) > 1 else "")
                     if len(seconds) else "; no calibrated seconds yet (`lenet-bench speed`)") + ".")
    means = runs.groupby("preset").agg(accuracy=("test_accuracy", "mean"), cost=("target_grad_evals", "mean"),
                                          reached=("target_grad_evals", lambda c: c.notna().mean()))
    means = means[means["reached"] >= 0.5]  # a cost to the target needs the target reached, most of the time
    head = ["## The answer\n",
            f"The chosen method of each scenario, by the rule declared in params.yaml (§2): its test accuracy "
            f"(mean ± sd over seeds), what it spends to reach the brief's {100 * target:.2f}%, and how sure the "
            "choice is.\n", "\n".join(lines) + "\n", budget + "\n"]
    if means.empty:
        return "\n".join(head + [f"**Accuracy against cost**: no method reached {100 * target:.2f}% in `{first}` on "
                                 "half its seeds, so there is no cost to compare.\n"])
    front = pareto_front(means)
    figures.pareto(means, front, f"{first}: accuracy against the cost of reaching {100 * target:.2f}%",
                   out / "figures" / "pareto.png", styles, 100 * target)
    return "\n".join(head + [
        f"**Accuracy against cost** (Figure 1): in `{first}`, each method's mean final test accuracy against its mean "
        f"gradient evaluations to first reach {100 * target:.2f}% (the methods that reach it on at least half their "
        f"seeds); the line joins the Pareto front, the methods no other beats on both counts ({', '.join(front)}).\n",
        "![Figure 1: the Pareto front of accuracy against cost](figures/pareto.png)\n"])


def setup_section(r: Results, out: Path) -> str:
    params, study, target = r.params, r.study, r.target
    seeds = study.groupby(["preset", "scenario"])["seed"].nunique()
    budget = sorted(study["epochs_budget"].unique())
    s = ["## 1. Setup\n"]
    s.append(f"- **Model**: the brief's LeNet-5, unchanged (tanh, max-pooling, {PARAMETER_COUNT:,} parameters).\n"
             f"- **Data**: Fashion-MNIST, the brief's split: {TRAIN_SIZE:,} training and {TEST_SIZE:,} test images; "
             "pixels in [0, 1].\n"
             f"- **Budget**: {', '.join(map(str, budget))} epochs per run; target: **{100 * target:.2f}%** test "
             "accuracy (the brief's reference).\n"
             "- **Methods**: a method is a *preset* of presets.yaml, an algorithm with its tuned settings (the word "
             "the command line, the exported CSVs and the pages use).\n"
             "- **Scenarios**: " + "; ".join(f"`{s_}`: {describe(params['scenarios'], s_)}" for s_ in r.scenarios)
             + ".\n"
             f"- **Seeds**: {seeds.min() if seeds.min() == seeds.max() else f'{seeds.min()} to {seeds.max()}'} "
             "per method and scenario.\n"
             f"- **Hardware**: every run below, {len(study)} of them, on one kind: {hardware(study)} "
             f"({study['wall_seconds'].sum() / 3600:.1f} hours of training wall time summed over runs); "
             f"{load_line(study)}.\n"
             "- **Cost**: gradient evaluations count one per sample per backward pass (a Hessian- or Gauss-Newton-"
             "vector product counts two; SVRG's full passes and L-BFGS's line-search evaluations count too). "
             f"{calibration.describe(r.timings)}{untimed_line(study)}\n")
    s.append(f"**Tuning.** Every preset but {', '.join(f'`{p}`' for p in params['tuning']['fixed'])} "
             "(`tuning.fixed`, kept as the brief gives it) gets the same budget, "
             + (f"{params['tuning']['trials']} Optuna trials from a search space declared beside the preset (its "
                "learning rate on a log scale over at least three decades, and at most two settings of its own), "
                "drawn once when the tuning starts by Optuna's QMCSampler: successive points of a scrambled Sobol "
                f"sequence seeded once per tuning (seed {params['tuning']['sampler']['seed']}), a point that repeats "
                "an earlier setting skipped, the same kind of search for every preset. Each trial trains for the full "
                f"budget on {TRAIN_SIZE - params['tuning']['validation_size']:,} training images and is judged by its "
                f"accuracy on the {params['tuning']['validation_size']:,} held out; "
                + (f"a successive-halving pruner stops those that fall behind at the same epochs for every preset "
                   f"({', '.join(map(str, rungs(params)))})" if rungs(params) else "no trial is pruned")
                + f". The test set plays no part; the final runs train on all {TRAIN_SIZE:,}.\n\n"
                + tuning_summary(params, r.tunings) + "\n\n" + audit_section(params, r.audit))
             + "\n\n" + sensitivity_text(r, out)
             + "\n")
    return "\n".join(s)


def methods_section(r: Results) -> str:
    s = ["## 2. Every method tried, accounted for\n",
         "One row per preset of presets.yaml: its algorithm (each is described on the [presets page](presets.md)), "
         "the settings its tuning chose, and in each scenario's column its test accuracy (%), mean ± standard "
         f"deviation over seeds, with the seeds that reached {100 * r.target:.2f}% within the budget (stale: tuned "
         "again since its runs, which the study repeats at the new settings). A preset **failed** in a "
         f"scenario where fewer than {FAILS_BELOW:.0%} of its seeds reached it (declared before the runs: "
         "`FAILS_BELOW` of lenet_bench.report.report). What each method cost is in §4 and on the "
         "[results page](results.md).\n"]
    if not r.stale.empty:
        s.append(f"**Left out**: {len(r.stale)} runs made with settings that params.yaml and presets.yaml no longer "
                 f"hold (of {r.stale['preset'].nunique()} presets); `lenet-bench study` runs them again with the "
                 "current settings.\n")
    if not r.elsewhere.empty:
        s.append(f"**Left out**: {len(r.elsewhere)} runs at the current settings made on other hardware "
                 f"({hardware(r.elsewhere)}); every table holds runs of one kind only.\n")
    s.append(accounted_table(r) + "\n")
    return "\n".join(s)


def curves_section(r: Results, out: Path, styles: dict) -> str:
    """The learning curves of the best method of each family, every scenario; draws figures/curves.png."""
    first = r.means[r.means["scenario"] == r.scenarios[0]]
    best_by_family = first.sort_values("accuracy", ascending=False).drop_duplicates("family")["preset"].tolist()
    figures.learning_curves(r.curves, best_by_family, r.scenarios, out / "figures" / "curves.png", styles,
                            100 * r.target)
    return "\n".join([
        "## 3. Learning curves\n",
        f"The best method of each family ({', '.join(best_by_family)}), by mean test accuracy in "
        f"`{r.scenarios[0]}`: a row per scenario, test accuracy against epochs and gradient evaluations, and test "
        "loss against gradient evaluations (the mean over seeds, in a band of one standard deviation; the dotted "
        f"line is {100 * r.target:.2f}%).\n",
        "![learning curves](figures/curves.png)\n"])


def profile_section(r: Results, out: Path, styles: dict) -> str:
    """Cost to the target against the cheapest method's, per problem; draws figures/profile.png."""
    study = r.study
    reached = sorted(study.loc[study["target_epoch"].notna(), "preset"].unique())
    solved = study[study["preset"].isin(reached)]
    problems = common_problems(solved)
    if not reached:  # a budget too short for the target, such as a one-epoch trial of the pipeline
        (out / "figures" / "profile.png").unlink(missing_ok=True)
        return (f"## 4. Performance profile\n\nNo run has reached {100 * r.target:.2f}%, so no method has a cost to "
                "the target to compare; the profile and its scores follow when one does.\n")
    if problems.empty:  # mid-study: each has run other seeds so far
        (out / "figures" / "profile.png").unlink(missing_ok=True)
        return ("## 4. Performance profile\n\nNo problem (a scenario and seed) has been run yet by every one of the "
                f"{len(reached)} methods that reached {100 * r.target:.2f}%; the profile and its scores follow "
                "when the study's runs are in.\n")
    measures = {"gradient evaluations": profile_ratios(solved, "grad_evals")}
    if solved["seconds"].notna().all():  # untimed presets (no results/speed.csv yet) have no seconds to compare
        measures["calibrated seconds"] = profile_ratios(solved, "seconds")
    figures.performance_profile(measures, out / "figures" / "profile.png", styles)
    return "\n".join([
        "## 4. Performance profile\n",
        "In the manner of the AlgoPerf benchmark: a problem is one scenario and seed; a method's cost on it is "
        f"what it spent to first reach {100 * r.target:.2f}% (gradient evaluations, or calibrated seconds, §1); "
        "the curve gives the fraction of problems a method solved within τ times the cheapest "
        "method's cost. Every method that reached the target at least once is drawn "
        f"({len(reached)} of {study['preset'].nunique()}); a problem it never solved never counts. The problems "
        f"are the {len(problems)} that every one of them ran ({problem_list(problems)}): a seed that only some "
        "methods ran, such as the leaders' extra seeds, would count against the others as unsolved.\n",
        "![performance profile](figures/profile.png)\n",
        f"**Scores**, as AlgoPerf ranks: the area under each method's profile from τ = 1 to {TAU_MAX:g}, over "
        f"{TAU_MAX - 1:g} (1: the cheapest on every problem; 0: never within {TAU_MAX:g}x of it), beside its mean test "
        "accuracy on the same problems.\n", score_table(solved, problems)])


def score_table(solved: pd.DataFrame, problems: pd.MultiIndex) -> str:
    """One AlgoPerf score per method, in gradient evaluations and in calibrated seconds, beside accuracy."""
    by_evals, by_seconds = profile_ratios(solved, "grad_evals"), profile_ratios(solved, "seconds")
    timed = solved["seconds"].notna().all()
    on_problems = solved[solved.set_index(["scenario", "seed"]).index.isin(problems)]
    accuracy = on_problems.groupby("preset")["test_accuracy"].mean()
    rows = sorted(((profile_score(r), m) for m, r in by_evals.items()), reverse=True)
    lines = ["| preset | score (gradient evaluations) | score (calibrated seconds) | test accuracy (%) |",
             "|---|---|---|---|"]
    lines += [f"| {m} | {score:.3f} | {f'{profile_score(by_seconds[m]):.3f}' if timed else '–'} "
              f"| {100 * accuracy[m]:.2f} |" for score, m in rows]
    return "\n".join(lines) + "\n"


def problem_list(problems: pd.MultiIndex) -> str:
    """'standard seeds 0-2, l2 seeds 0-2'-style: each scenario with its seeds."""
    seeds = {}
    for scenario, seed in problems:
        seeds.setdefault(scenario, []).append(int(seed))
    return ", ".join(f"`{scenario}` seed{'s' if len(ss) > 1 else ''} {', '.join(map(str, sorted(ss)))}"
                     for scenario, ss in seeds.items())


SAME_RUN = ["preset", "algorithm", "lr", "batch_size", "schedule", "seed", "epochs_budget"]


def matching_dense(runs: pd.DataFrame, sparse: pd.DataFrame) -> tuple[float, float] | None:
    """(1.0, test accuracy) of the exported dense run with the sparse runs' preset, settings and seed (the
    standard scenario's), or None: a density curve compares like with like."""
    settings = sparse[SAME_RUN].drop_duplicates()
    if len(settings) != 1:
        return None
    dense = runs[(runs["scenario"] == "standard") & runs["sparsity_method"].isna()]
    dense = dense.merge(settings, on=SAME_RUN)
    return (1.0, float(dense["test_accuracy"].iloc[0])) if len(dense) == 1 else None


def sparse_section(r: Results, out: Path) -> str:
    """The sparsification methods compared (results/experiments.csv); draws figures/density.png."""
    runs, none = r.experiments, "_No sparsification comparison exported (results/experiments.csv)._"
    sparse = (runs[(runs["scenario"] == "sparse") & runs["experiment"].str.startswith(("sparse-", "thin-"))]
              if not runs.empty and "sparsity_method" in runs else runs.iloc[:0])
    if sparse.empty:
        return f"## 5. The sparse scenario\n\n{none}\n"
    optimizer = sparse["preset"].iloc[0]
    dense = matching_dense(runs, sparse)
    figures.density_curve(sparse, dense, f"optimizer {optimizer}, {r.params['train']['epochs']} epochs, "
                          f"seed {int(sparse['seed'].iloc[0])}", out / "figures" / "density.png", 100 * r.target)
    lines = ["| method | density bound | nonzero fc1+fc2 | test accuracy | test loss |", "|---|---|---|---|---|"]
    for _, row in sparse.sort_values(["density_bound", "test_accuracy"], ascending=[False, False]).iterrows():
        lines.append(f"| {row['sparsity_method']} | {row['density_bound']:g} | {int(row['nonzero_fc1_fc2']):,} "
                     f"({100 * row['density']:.1f}%) | {100 * row['test_accuracy']:.2f}% | {row['test_loss']:.4f} |")
    anchor = (f" The dense point at 1.0 is the run of the same preset, settings and seed without the constraint "
              f"({100 * dense[1]:.2f}%)." if dense else " No dense run of these settings is exported to compare with.")
    return ("## 5. The sparse scenario\n\nSparsification methods, each with the same optimizer and seed (one run "
            f"each, from results/experiments.csv).{anchor}\n\n![density](figures/density.png)\n\n"
            + "\n".join(lines) + "\n")


def leaders_section(r: Results, choices: dict[str, Choice]) -> str:
    """Every scenario's leaders, chosen on the choosing seeds and ranked on the confirming seeds alone."""
    s = ["### Leaders, confirmed on seeds that did not choose them\n"]
    s += [leader_text(choice, r.study, r.params) + "\n" for choice in choices.values()]
    return "\n".join(s)


def variance_section(r: Results, choice: Choice, root: Path) -> str:
    """How far each leader's test accuracy moves with the luck of its tuning: its best setting from each of
    several independent tunings (another sampler seed each; tuning/seed<N>/, studied into
    results/tuning_seed<N>.csv), each run on the choosing seeds of the leaders' scenario."""
    params, scenario = r.params, choice.scenario
    base, seeds = params["tuning"]["sampler"]["seed"], params["tuning"]["variance_seeds"]
    last = params["train"]["epochs"]
    lines = ["| leader | sampler seed | best trial's settings | best validation accuracy | test accuracy (%) |",
             "|---|---|---|---|---|"]
    spans, pending = {}, []
    for preset in [p for p in choice.leaders if p not in params["tuning"]["fixed"]]:  # a fixed preset has no tuning
        means = []
        for sampler_seed in [base, *seeds]:
            folder = variant(params, sampler_seed=sampler_seed)[1]
            trials = read_table(preset, root, folder)
            if trials is None or best(trials, params) is None:
                pending.append(f"{preset} (sampler seed {sampler_seed})")
                continue
            tuned = copy.deepcopy(params)
            tuned["optimizers"][preset] = with_values(params["optimizers"][preset],
                                                      best_settings(preset, trials, params))
            runs = r.study if sampler_seed == base else read_export(root, Path("results") / f"tuning_{folder.name}.csv")
            runs = runs[(runs["preset"] == preset) & (runs["scenario"] == scenario)
                        & runs["seed"].isin(params["study"]["seeds"])]
            expected = {seed: fingerprint(study_params(tuned, preset, seed, THREADS, None), scenario)
                        for seed in params["study"]["seeds"]}
            runs = runs[runs["fingerprint"] == runs["seed"].map(expected)]
            if len(runs) < len(params["study"]["seeds"]):
                pending.append(f"{preset} (sampler seed {sampler_seed})")
            settings = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in best_settings(preset, trials, params).items())
            lines.append(f"| {preset} | {sampler_seed} | {settings} | "
                         f"{100 * best(trials, params)[f'val_accuracy@{last}']:.2f}% "
                         f"| {mean_std(runs['test_accuracy'], 100)} ({count(len(runs), 'seed')}) |")
            if len(runs):
                means.append(100 * runs["test_accuracy"].mean())
        if means:
            spans[preset] = (min(means), max(means), len(means))
    s = ["### Tuning variance\n",
         f"Each leader of `{scenario}` tuned {1 + len(seeds)} times, the same budget and space, another sampler "
         f"seed each; every tuning's best setting trained on seeds {', '.join(map(str, params['study']['seeds']))} "
         f"in `{scenario}`.\n", "\n".join(lines) + "\n"]
    if pending:
        s.append(f"Still to run: {', '.join(pending)} (`lenet-bench tune --presets <preset> --sampler-seed <N>`, then "
                 f"`lenet-bench study --presets <preset> --scenarios {scenario} --tuning tuning/seed<N> "
                 "--export results/tuning_seed<N>.csv`).\n")
    chosen = chosen_method(choice)
    complete = {p: span for p, span in spans.items() if span[2] == 1 + len(seeds)}
    if chosen in complete and len(complete) > 1:
        low = complete[chosen][0]
        best_other = max((span[1], p) for p, span in complete.items() if p != chosen)
        s.append(f"{chosen}'s mean moves over {complete[chosen][1] - complete[chosen][0]:.2f} points between its "
                 f"tunings. " + (f"Its worst tuning ({low:.2f}%) stays above every other leader's best "
                                 f"({best_other[1]}, {best_other[0]:.2f}%): its lead holds whatever the tuning draw."
                                 if low > best_other[0] else
                                 f"Its worst tuning ({low:.2f}%) falls below {best_other[1]}'s best "
                                 f"({best_other[0]:.2f}%): **its lead depends on the tuning draw**.") + "\n")
    return "\n".join(s)


def chosen_method(choice: Choice) -> str:
    """The chosen method of a scenario; until its leaders are confirmed, the first by the rule."""
    return choice.chosen or choice.leaders[0]


def loss_gap(r: Results, methods: list[str], scenario: str, out: Path, styles: dict) -> str:
    """The figure of training against test loss for `methods`, and a sentence on where each ends."""
    curves = r.curves[(r.curves["scenario"] == scenario) & r.curves["preset"].isin(methods)]
    if curves.empty:
        return ""
    figures.train_and_test_loss(curves, methods, f"{scenario}: training and test loss (mean over seeds)",
                                out / "figures" / "train_test_loss.png", styles)
    last = curves[curves["epoch"] == curves["epoch"].max()].groupby("preset")[["train_loss", "test_loss"]].mean()
    ends = "; ".join(f"{m} ends at a training loss of {last.loc[m, 'train_loss']:.3f} and a test loss of "
                     f"{last.loc[m, 'test_loss']:.3f}" for m in methods if m in last.index)
    return (f"**Optimizing against generalizing** (the figure below, `{scenario}`; the training loss is the mean "
            f"over each epoch's mini-batches, as the optimizer saw them): {ends}. The lower training loss marks the "
            "better optimizer of the training objective; the gap to the test loss is what did not carry over to "
            "unseen images.\n\n![training and test loss](figures/train_test_loss.png)\n")


def ablation_text(r: Results, chosen: str) -> str:
    """What each component of study.ablation's preset buys: its variants against the tuned preset, paired
    over the seeds both ran."""
    spec = r.params["study"].get("ablation")
    if spec is None:
        return ""
    preset, scenario, seeds = spec["preset"], spec["scenario"], spec["seeds"]
    on = r.study[(r.study["preset"] == preset) & (r.study["scenario"] == scenario) & r.study["seed"].isin(seeds)]
    tuned = on.set_index("seed")
    s = [f"**Ablation** (`lenet-bench study --ablation`, declared in params.yaml's study.ablation): {preset} with one "
         f"component switched off or set to its plain default at a time, the rest as tuned, in `{scenario}` on seeds "
         f"{', '.join(map(str, seeds))}, with the same budget. Δ is the mean paired difference from the tuned "
         "preset over the seeds both ran: what the component buys is minus Δ; p, the sign-flip test of Δ (with 3 "
         "seeds it cannot go below 0.25: a Δ within the seeds' spread is no evidence either way)."
         + ("" if preset == chosen else f" (The ablation is declared for {preset}; the chosen method is {chosen}.)")
         + "\n"]
    lines = [f"| variant | changes | test accuracy (%) | Δ (points) | p | reached {100 * r.target:.2f}% "
             "| M grad evals to it | train loss |", "|---|---|---|---|---|---|---|---|"]

    def row(name: str, changes: str, runs: pd.DataFrame) -> str:
        if runs.empty:
            return f"| {name} | {changes} | not run yet | | | | | |"
        paired = (100 * (runs.set_index("seed")["test_accuracy"] - tuned["test_accuracy"])).dropna().to_numpy()
        delta, p = ("–", "–") if name == "tuned" else (f"{paired.mean():+.2f}", f"{sign_flip_p(paired):.2f}")
        return (f"| {name} | {changes} | {mean_std(runs['test_accuracy'], 100)} | {delta} | {p} "
                f"| {int(runs['target_epoch'].notna().sum())}/{len(runs)} "
                f"| {_mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} | {mean_std(runs['train_loss'], 1, 3)} |")

    lines.append(row("tuned", "as in presets.yaml", on))
    for kind, changes in spec["variants"].items():
        name = ablation.variant_name(preset, kind)
        runs = r.ablation[(r.ablation["preset"] == name) & (r.ablation["scenario"] == scenario)]
        lines.append(row(kind, ablation.changes_text(changes), runs[runs["seed"].isin(seeds)]))
    return "\n".join(s + lines) + "\n"


def chosen_section(r: Results, choice: Choice, out: Path, styles: dict) -> str:
    chosen, target = chosen_method(choice), r.target
    rows = r.of(chosen)
    settings = json.loads(rows["preset_settings"].iloc[0]) if "preset_settings" in rows else {}
    status = "" if choice.chosen else " (provisional: its leaders are not confirmed yet)"
    s = [f"## 6. The chosen method: {chosen}{status}\n",
         f"Chosen in `{choice.scenario}` by the rule of §2's leaders"
         f"{'' if choice.chosen else ', on the choosing seeds only'}.\n"]
    lines = [f"| scenario | test accuracy (%) | test loss | reached {100 * target:.2f}% | M grad evals to it |",
             "|---|---|---|---|---|"]
    for scenario in r.scenarios:
        runs = rows[rows["scenario"] == scenario]
        lines.append(f"| {scenario} | {mean_std(runs['test_accuracy'], 100)} | {mean_std(runs['test_loss'], 1, 4)} "
                     f"| {int(runs['target_epoch'].notna().sum())}/{len(runs)} "
                     f"| {_mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} |")
    preset = r.params["optimizers"].get(chosen, {})
    space = ("; its tuning searched " + ", ".join(d.describe() for d in search_space(chosen, preset))
             if preset.get("search") else "; not tuned (tuning.fixed)")
    s.append(f"Family: {rows['family'].iloc[0]}; algorithm `{rows['algorithm'].iloc[0]}`; its preset: "
             + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in settings.items() if k not in LABELS)
             + f"{space}.\n")
    s.append("\n".join(lines) + "\n")
    algorithm = rows["algorithm"].iloc[0]
    if algorithm in ALGORITHMS:
        s.append(f"**How it works**: {ALGORITHMS[algorithm].description}.\n")
    runner_up = next((m for m in (choice.ranked or choice.leaders) if m != chosen), None)
    if runner_up:
        s.append(cost_comparison(r.means, chosen, runner_up, choice.scenario) + "\n")
    s.append(loss_gap(r, [m for m in (chosen, runner_up) if m], choice.scenario, out, styles))
    s.append(ablation_text(r, chosen))
    return "\n".join(s)


DESIGNED = "designed"  # the family of a preset this project designed from the study's evidence


def designed_section(r: Results) -> str:
    """Each designed preset against the preset it builds on (the same algorithm's), scenario by scenario:
    accuracy with a paired test over shared seeds, and the gradient evaluations to the target."""
    designed = [name for name, p in r.params["optimizers"].items() if p.get("family") == DESIGNED]
    s = ["## 7. A method designed from the evidence\n"]
    if not designed:
        return s[0] + f"\n_No preset of presets.yaml is of the family `{DESIGNED}` yet._\n"
    alpha = r.params["study"]["leaders"]["alpha"]
    for name in designed:
        preset = r.params["optimizers"][name]
        base = next((b for b, p in r.params["optimizers"].items()
                     if p["algorithm"] == preset["algorithm"] and p.get("family") != DESIGNED), None)
        added = [k for k in preset if k not in LABELS and base and k not in r.params["optimizers"][base]]
        s.append(f"**{name}** builds on {base}: it adds {', '.join(f'`{k}`' for k in added) or 'nothing'} to it, "
                 "and was tuned and studied under exactly the protocol of every other preset (same trials, sampler, "
                 "rungs and seeds), so its other settings are its own tuning's.\n")
        if r.of(name).empty or base is None or r.of(base).empty:
            s.append(f"_No study runs of {name} and {base} at their current settings yet._\n")
            continue
        lines = [f"| scenario | {name} (%) | {base} (%) | Δ (points), wins | p (sign flip) | verdict "
                 f"| M grad evals to {100 * r.target:.2f}%: {name} / {base} |", "|---|---|---|---|---|---|---|"]
        for scenario in r.scenarios:
            mine, theirs = (r.of(m)[r.of(m)["scenario"] == scenario] for m in (name, base))
            if mine.empty or theirs.empty:
                continue
            test = paired(r.study, scenario, name, base)
            verdict = ("tie" if not test.p < alpha else "wins" if test.mean > 0 else "loses")
            lines.append(f"| {scenario} | {mean_std(mine['test_accuracy'], 100)} | "
                         f"{mean_std(theirs['test_accuracy'], 100)} | {test.mean:+.2f}, {test.wins}/{test.seeds} "
                         f"| {test.p:.3f} | **{verdict}** | {_mean_or_dash(mine['target_grad_evals'] / 1e6, '.2f')} / "
                         f"{_mean_or_dash(theirs['target_grad_evals'] / 1e6, '.2f')} |")
        s.append("\n".join(lines) + "\n")
        s.append(f"A verdict is a paired sign-flip test over the seeds both ran, at level {alpha} (uncorrected: one "
                 f"comparison per scenario); a tie says the seeds cannot tell the two apart.\n")
    return "\n".join(s)


def baseline_section(r: Results, chosen: str) -> str:
    baseline = r.of("sgd")
    if baseline.empty:
        return "## 8. The brief's baseline beside ours\n\n_The baseline preset `sgd` is not in this study._\n"
    sgd = r.params["optimizers"].get("sgd", {})
    lines = [f"| scenario | sgd (lr {sgd.get('lr', '?')}, batch {sgd.get('batch_size', '?')}) | {chosen} | target |",
             "|---|---|---|---|"]
    for scenario in r.scenarios:
        b, c = (runs[runs["scenario"] == scenario] for runs in (baseline, r.of(chosen)))
        brief, ours = (mean_std(runs["test_accuracy"], 100, unit="%") for runs in (b, c))
        lines.append(f"| {scenario} | {brief} | {ours} "
                     f"| {100 * r.target:.2f}% |")
    return "## 8. The brief's baseline beside ours\n\n" + "\n".join(lines) + "\n"


def failures_section(r: Results) -> str:
    means, scenarios, target = r.means, r.scenarios, r.target
    items = [f"- {row['preset']} diverged in `{row['scenario']}`, seed {int(row['seed'])}, at step "
             f"{int(row['diverged_at_step']) if not pd.isna(row['diverged_at_step']) else '?'}."
             for _, row in r.study[r.study["diverged"].astype(bool)].iterrows()]
    missed = means[means["accuracy"] <= target]
    for method in missed.groupby("preset")["accuracy"].mean().sort_values().index:
        # the worst first, one line per method, its scenarios in the report's order
        rows = missed[missed["preset"] == method].sort_values("scenario", key=lambda c: c.map(scenarios.index))
        where = ", ".join(f"`{row['scenario']}` ({100 * row['accuracy']:.2f}%)" for _, row in rows.iterrows())
        items.append(f"- {method} stayed below {100 * target:.2f}% on average in {where}; "
                     f"{rows['reached'].sum()} of its {count(rows['seeds'].sum(), 'run')} there reached it.")
    if "sparse" in scenarios and "standard" in scenarios:
        table = means.pivot(index="preset", columns="scenario", values="accuracy")
        hurt = (table["sparse"] - table["standard"]).dropna().sort_values()
        for method, delta in hurt[hurt < -0.003].items():
            items.append(f"- The sparse constraint cost {method} {100 * -delta:.2f} percentage points.")
    text = "\n".join(items) if items else "Every method reached the target in every scenario."
    typical = means["grad_evals_per_epoch"].median()
    working = means.groupby("preset")["accuracy"].transform("max") > target
    dear = means[working & (means["grad_evals_per_epoch"] > 2 * typical)].drop_duplicates("preset")
    if not dear.empty:  # they reach the target; what they cost is another matter
        ratio = (dear.set_index("preset")["grad_evals_per_epoch"] / typical).round(1).sort_values()
        text += ("\n\n**Working, but dear**, in gradient evaluations per epoch against the median method's: "
                 + "; ".join(f"{', '.join(group.index)} {value:.1f}x" for value, group in ratio.groupby(ratio))
                 + ". Their budgets were not cut: each trains the same number of epochs.")
    return "## 9. What did not work\n\n" + text + "\n"


def build(root: Path, out: Path) -> str:
    """Write out/REPORT.md and its figures from the results under root; return the text."""
    r = load(root)
    choices = {s: choose(r.study, r.params, s) for s in r.params["study"]["leaders"]["scenarios"] if s in r.scenarios}
    choice = next(iter(choices.values()))
    styles = figures.styles(sorted(r.study["preset"].unique()))
    report = "\n".join([title(r), answer_section(r, choices, out, styles), setup_section(r, out),
                        methods_section(r), leaders_section(r, choices),
                        variance_section(r, choice, root),
                        curves_section(r, out, styles), profile_section(r, out, styles), sparse_section(r, out),
                        chosen_section(r, choice, out, styles), designed_section(r),
                        baseline_section(r, chosen_method(choice)),
                        failures_section(r)]) + "\n"
    for figure in (out / "figures").glob("*.png"):  # a figure this report no longer draws goes with it
        if f"(figures/{figure.name})" not in report:
            figure.unlink()
    write_text(out / "REPORT.md", report)
    return report
