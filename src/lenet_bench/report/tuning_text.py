"""The tunings in the report: their budgets, the pruning audit, learning-rate sensitivity and the tuning
variance of the leaders."""
from __future__ import annotations

import copy
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lenet_bench.report import figures
from lenet_bench.report.results import Results
from lenet_bench.report.text import count, mean_std
from lenet_bench.study.export import (
    THREADS,
    fingerprint,
    read_export,
    study_params,
)
from lenet_bench.tuning import audit
from lenet_bench.tuning.audit import INTERRUPTED
from lenet_bench.tuning.search import parse as search_space
from lenet_bench.tuning.search import with_values
from lenet_bench.tuning.tuning_tables import best, best_settings, budget_used, finished, read_table, variant


def sensitivity_text(r: Results, out: Path) -> str:
    """Validation accuracy against learning rate from every tuning trial, a panel per family (figure)."""
    tables = {p: t for p, t in r.tunings.items() if t is not None and "lr" in t}
    if not tables:
        return ""
    families = {p: r.params["optimizers"][p].get("family", "other") for p in tables}
    figures.lr_sensitivity(tables, families, out / "figures" / "lr_sensitivity.png")
    return ("**Learning-rate sensitivity** (as DeepOBS draws it): every tuning trial's validation accuracy against "
            "its learning rate, a panel per family; filled, a finished trial at its final accuracy; hollow, a pruned "
            "one at the accuracy it was stopped with; a triangle on a panel's floor (80%, or 10 points under its best) "
            "stands for a trial below it. A wide plateau forgives a coarse search; a narrow peak does "
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
class Variance:
    """Each leader's independent tunings, for tuning variance: the table's rows, the tunings still to
    finish or run, and for each leader whose tunings are all in, the lowest and highest of their means."""
    scenario: str
    tunings: int
    rows: list[str]
    pending: list[str]
    spans: dict[str, tuple[float, float]]

    def rival(self, chosen: str) -> tuple[float, str] | None:
        """The best tuning's mean of any other leader, and whose it is (None: not known yet)."""
        if chosen not in self.spans or len(self.spans) < 2:
            return None
        return max((hi, p) for p, (_, hi) in self.spans.items() if p != chosen)

    def holds(self, chosen: str) -> bool | None:
        """Whether the chosen leader's worst tuning stays above every other leader's best (None: not known)."""
        rival = self.rival(chosen)
        return None if rival is None else self.spans[chosen][0] > rival[0]


def tuning_variance(r: Results, leaders: list[str], scenario: str, root: Path) -> Variance:
    """How far each leader's test accuracy moves with the luck of its tuning: its best setting from each of
    several independent tunings (another sampler seed each; tuning/seed<N>/, studied into
    results/tuning_seed<N>.csv), each run on the futility stop's seeds of `scenario`."""
    params = r.params
    base, seeds = params["tuning"]["sampler"]["seed"], params["tuning"]["variance_seeds"]
    last, choosing = params["train"]["epochs"], params["study"]["futility"]["seeds"]
    rows, spans, pending = [], {}, []
    for preset in [p for p in leaders if p not in params["tuning"]["fixed"]]:  # a fixed preset has no tuning
        means = []
        for sampler_seed in [base, *seeds]:
            folder = variant(params, sampler_seed=sampler_seed)[1]
            trials = read_table(preset, root, folder)
            winner = None if trials is None or finished(trials) < params["tuning"]["trials"] else best(trials, params)
            if winner is None:
                pending.append(f"{preset} (sampler seed {sampler_seed})")
                continue
            settings = best_settings(preset, trials, params)
            tuned = copy.deepcopy(params)
            tuned["optimizers"][preset] = with_values(params["optimizers"][preset], settings)
            export = Path("results") / f"tuning_{folder.name}.csv"
            if sampler_seed == base:
                runs = r.study
            else:  # a tuning whose best setting has not run yet has no export
                runs = read_export(root, export) if (root / export).exists() else r.study.iloc[:0]
            runs = runs[(runs["preset"] == preset) & (runs["scenario"] == scenario) & runs["seed"].isin(choosing)]
            expected = {seed: fingerprint(study_params(tuned, preset, seed, THREADS, None), scenario)
                        for seed in choosing}
            runs = runs[runs["fingerprint"] == runs["seed"].map(expected)]
            if len(runs) < len(choosing):
                pending.append(f"{preset} (sampler seed {sampler_seed})")
            shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings.items())
            rows.append(f"| {preset} | {sampler_seed} | {shown} | {100 * winner[f'val_accuracy@{last}']:.2f}% "
                        f"| {mean_std(runs['test_accuracy'], 100)} ({count(len(runs), 'seed')}) |")
            if len(runs) == len(choosing):  # a tuning's mean counts once all its seeds are in
                means.append(100 * runs["test_accuracy"].mean())
        if len(means) == 1 + len(seeds):
            spans[preset] = (float(min(means)), float(max(means)))
    return Variance(scenario, 1 + len(seeds), rows, pending, spans)


def variance_section(v: Variance, chosen: str, params: dict) -> str:
    """The tuning-variance table, and whether the chosen leader's lead survives the tuning draw."""
    s = ["### Tuning variance\n",
         f"Each leader of `{v.scenario}` tuned {v.tunings} times, the same budget and space, another sampler "
         f"seed each; every tuning's best setting trained on seeds "
         f"{', '.join(map(str, params['study']['futility']['seeds']))} "
         f"in `{v.scenario}`.\n",
         "\n".join(["| leader | sampler seed | best trial's settings | best validation accuracy | test accuracy (%) |",
                    "|---|---|---|---|---|", *v.rows]) + "\n"]
    if v.pending:
        seeds = ",".join(map(str, params["study"]["futility"]["seeds"]))
        s.append(f"Still to run: {', '.join(v.pending)} (`lenet-bench tune --presets <preset> --sampler-seed <N>`, "
                 f"then `lenet-bench study --presets <preset> --scenarios {v.scenario} --seeds {seeds} --tuning "
                 "tuning/seed<N> --export results/tuning_seed<N>.csv`).\n")
    if len(v.spans) > 1:
        spans = "; ".join(f"{p} {lo:.2f} to {hi:.2f}% ({hi - lo:.2f} points)" for p, (lo, hi) in v.spans.items())
        verdict = ""
        if (rival := v.rival(chosen)) is not None:
            (low, _), (top, other) = v.spans[chosen], rival
            verdict = (f" {chosen}'s worst tuning ({low:.2f}%) stays above every other leader's best ({other}, "
                       f"{top:.2f}%): its lead holds whatever the tuning draw." if v.holds(chosen) else
                       f" {chosen}'s worst tuning ({low:.2f}%) falls below {other}'s best ({top:.2f}%): "
                       f"**its lead depends on the tuning draw**.")
        s.append(f"Between their {v.tunings} tunings, the leaders' means span {spans}.{verdict}\n")
    return "\n".join(s)
