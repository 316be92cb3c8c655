"""Choosing a scenario's method as params.yaml's study.leaders declares: the leaders on the choosing seeds,
exact paired sign-flip tests on the confirming seeds with Holm's correction, ties broken by cost."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lenet_bench.report.text import count, first_few, joined, mean_or_dash, mean_std
from lenet_bench.study import leaders as leader_rule


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
class Cheapest:
    """Methods by their mean cost to the target in one scenario, cheapest first, and the ones that tie with
    the cheapest."""
    means: pd.Series       # preset -> mean cost, ascending
    tied: list[str]        # the cheapest and every method no corrected paired test puts it ahead of
    adjusted: list[float]  # Holm-adjusted p of the cheapest against each other method, in the order of means
    missed: bool           # some seed missed the target and counts at its whole run's cost


def cheapest(runs: pd.DataFrame, cost: str, spent: str, alpha: float) -> Cheapest:
    """Rank `runs`' presets by mean `cost` (to the target), and test the cheapest against each other over
    the seeds both ran: exact sign-flip tests, Holm-corrected at `alpha`. A seed that missed the target
    counts at what its whole run spent (`spent`), a lower bound of what reaching it would have cost."""
    filled = runs.assign(cost=runs[cost].fillna(runs[spent]))
    by_seed = filled.pivot_table(index="seed", columns="preset", values="cost")
    means = by_seed.mean().sort_index().sort_values(kind="stable")
    first, others = means.index[0], list(means.index[1:])
    adjusted = holm([sign_flip_p((by_seed[first] - by_seed[m]).dropna().to_numpy()) for m in others])
    tied = [first] + [m for m, p in zip(others, adjusted) if p >= alpha]
    return Cheapest(means, tied, adjusted, bool(runs[cost].isna().any()))


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
    if unrun := leader_rule.missing(study, list(params["optimizers"]), params["study"]["seeds"], choice.scenario):
        head += (f"Provisional: {count(len(unrun), 'choosing run')} of `{choice.scenario}` "
                 f"{'is' if len(unrun) == 1 else 'are'} not in yet ({first_few(unrun)}), and the rule compares "
                 "every preset on every choosing seed. ")
    if choice.chosen is None:
        lacking = ", ".join(choice.missing) or "a runner-up"
        seeds = ", ".join(map(str, rule["confirm_seeds"]))
        return head + (f"Not confirmed yet: {lacking} lack{'s' if len(choice.missing) == 1 else ''} some of the "
                       f"confirming seeds {seeds} (`lenet-bench study --confirm --scenarios {choice.scenario}`).")
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
               f"| {mean_or_dash(r['target_grad_evals'] / 1e6, '.2f')} | ")
        if method in tests:
            test, adjusted = tests[method]
            row += f"{test.mean:+.2f} ± {test.std:.2f} | {test.wins} of {test.seeds} | {test.p:.3f} | {adjusted:.3f} |"
        else:
            row += "– | – | – | – |"
        lines.append(row)
    if not choice.by_cost:
        verdict = f"{choice.ranked[0]} is ahead of every other leader after the correction: **{choice.chosen}**."
    else:
        first, others = choice.tied[0], choice.tied[1:]
        apart = "them" if len(others) == 1 else f"{first} from {joined(others, 'or')}"
        verdict = (f"**{joined(choice.tied)} tie**: no corrected test separates {apart}. The declared second "
                   f"criterion, the fewest {leader_rule.TIE_BREAK_NAMES[rule['tie_break']]} to "
                   f"{100 * target:.2f}% (mean over the confirming seeds), chooses **{choice.chosen}**.")
    return "\n".join(lines) + "\n\n" + verdict
