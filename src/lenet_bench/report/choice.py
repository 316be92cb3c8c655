"""Ranking every preset of a scenario by the rule params.yaml's study.ranking declares before the runs.

The accuracy group: the best mean test accuracy over the study's seeds and every preset that no paired test over
those seeds separates from it, Holm-corrected over all comparisons with the best. The chosen method: the group's
least mean cost to the target; each other member is tested against it the same way, the members it does not
separate tie with it, and the declared tie-break picks among them. The presets the futility stop kept at its
seeds are out, with their gaps. How stable the choice is: the share of the ways of leaving three seeds out in
which the same rule, on the seeds left, chooses the same method."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lenet_bench.registry import COSTS, PAIRED_TESTS, TIE_BREAKS
from lenet_bench.report.text import joined
from lenet_bench.study import futility

LEFT_OUT = 3  # seeds left out at a time by the stability check


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


def paired_t_p(diff: np.ndarray) -> float:
    """Two-sided p of a paired t-test (the differences' mean against 0): it can go as low as the data take it,
    where ten seeds' sign flips stop at 0.00195. Differences all alike leave the t-test undefined (no spread):
    they get the exact sign-flip p, the least that n seeds can show without assuming a spread."""
    if len(diff) < 2 or not np.any(diff):
        return 1.0
    if np.all(diff == diff[0]):
        return sign_flip_p(diff)
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


P_VALUE = {"paired_t": paired_t_p, "sign_flip": sign_flip_p}  # one for each of registry.PAIRED_TESTS


@dataclass(frozen=True)
class Paired:
    """Two methods on the seeds they share in one scenario."""
    first: str
    second: str
    seeds: int
    mean: float   # first minus second (percentage points for accuracy; the measure's unit for a cost)
    std: float
    wins: int     # seeds on which first is ahead (higher accuracy, or lower cost)
    p: float      # the declared test's two-sided p of the mean difference


def paired_values(a: pd.Series, b: pd.Series, first: str, second: str, test: str, lower_wins: bool = False,
                  scale: float = 1.0) -> Paired:
    """`a` against `b`, values by seed, on the seeds both have."""
    diff = (scale * (a - b)).dropna().to_numpy()
    wins = int((diff < 0).sum() if lower_wins else (diff > 0).sum())
    return Paired(first, second, len(diff), float(diff.mean()) if len(diff) else math.nan,
                  float(diff.std(ddof=1)) if len(diff) > 1 else math.nan, wins, P_VALUE[test](diff))


def paired(study: pd.DataFrame, scenario: str, first: str, second: str, test: str = "paired_t") -> Paired:
    """Two presets' test accuracy in one scenario, paired by seed (points)."""
    runs = study[study["scenario"] == scenario]
    a, b = (runs[runs["preset"] == m].set_index("seed")["test_accuracy"] for m in (first, second))
    return paired_values(a, b, first, second, test, scale=100)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of p-values (the family-wise error held at the level they are compared
    with), in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def costs(runs: pd.DataFrame, cost: str) -> pd.Series:
    """Each run's cost to the target; a run that missed it counts at what its whole run spent (a lower bound
    of what reaching it would have cost): `seconds` for `target_seconds`, `grad_evals` for `target_grad_evals`."""
    return runs[cost].fillna(runs[cost.removeprefix("target_")])


@dataclass(frozen=True)
class Cheapest:
    """Methods by their mean cost to the target, cheapest first, and the ones that tie with the cheapest."""
    means: pd.Series       # preset -> mean cost, ascending
    tied: list[str]        # the cheapest and every method no corrected paired test puts it ahead of
    tests: list[tuple[Paired, float]]  # the cheapest against each other method, with its Holm-adjusted p
    missed: bool           # some seed missed the target and counts at its whole run's cost


def cheapest(runs: pd.DataFrame, cost: str, alpha: float, test: str = "paired_t") -> Cheapest:
    """Rank `runs`' presets by mean cost to the target, and test the cheapest against each other over the
    seeds both ran, Holm-corrected at `alpha`."""
    by_seed = runs.assign(cost=costs(runs, cost)).pivot_table(index="seed", columns="preset", values="cost")
    return cheapest_by_seed(by_seed, alpha, test, bool(runs[cost].isna().any()))


def cheapest_by_seed(by_seed: pd.DataFrame, alpha: float, test: str, missed: bool) -> Cheapest:
    """`cheapest` on a table of costs, a row per seed and a column per preset."""
    means = by_seed.mean().sort_index().sort_values(kind="stable")
    first, others = means.index[0], list(means.index[1:])
    pairs = [paired_values(by_seed[first], by_seed[m], first, m, test, lower_wins=True) for m in others]
    adjusted = holm([t.p for t in pairs])
    tied = [first] + [t.second for t, p in zip(pairs, adjusted) if not (t.mean < 0 and p < alpha)]
    return Cheapest(means, tied, list(zip(pairs, adjusted)), missed)


@dataclass(frozen=True)
class Ranking:
    """Every preset of one scenario, ranked by study.ranking on the study's seeds."""
    scenario: str
    seeds: list[int]                  # the seeds every ranked preset ran
    ranked: list[str]                 # the presets on every seed, by mean test accuracy, best first
    tests: list[tuple[Paired, float]]  # the best against each other ranked preset, with its Holm-adjusted p
    group: list[str]                  # the accuracy group: the best and every preset no adjusted test separates
    cost: Cheapest | None             # the group by cost to the target (None: a member has no such cost yet)
    chosen: str | None                # None until every preset is in, and the group's costs are known
    out: dict[str, float]             # presets the futility stop kept at its seeds -> their gap (points)
    missing: list[str]                # 'preset seed N' the rule still waits for
    leading: str | None = None        # the best mean test accuracy so far, while runs are missing

    @property
    def tied(self) -> list[str]:
        """The members the cost test does not separate from the cheapest (the cheapest first)."""
        return self.cost.tied if self.cost is not None else []


@dataclass(frozen=True)
class Tables:
    """One scenario's contenders on the ranking's seeds: test accuracy and cost to the target, a row per seed and
    a column per preset (cost None where some run has no calibrated seconds yet)."""
    accuracy: pd.DataFrame
    cost: pd.DataFrame | None
    missed: pd.DataFrame | None  # whether the seed missed the target (its cost is then its whole run's)


def tables(study: pd.DataFrame, params: dict, scenario: str, seeds: list[int], contenders: list[str]) -> Tables:
    rule = params["study"]["ranking"]
    runs = study[(study["scenario"] == scenario) & study["seed"].isin(seeds) & study["preset"].isin(contenders)]
    accuracy = runs.pivot_table(index="seed", columns="preset", values="test_accuracy")
    if runs[rule["cost"].removeprefix("target_")].isna().any():  # untimed: no calibrated seconds
        return Tables(accuracy, None, None)
    filled = runs.assign(cost=costs(runs, rule["cost"]), missed=runs[rule["cost"]].isna())
    return Tables(accuracy, filled.pivot_table(index="seed", columns="preset", values="cost"),
                  filled.pivot_table(index="seed", columns="preset", values="missed", aggfunc="any"))


def decide(t: Tables, rule: dict) -> tuple[list[str], list[tuple[Paired, float]], list[str], Cheapest | None,
                                            str | None]:
    """The rule on the tables: the presets by mean accuracy, the best's tests against the rest, the accuracy
    group, the group by cost (None untimed) and the chosen method."""
    ranked = list(t.accuracy.mean().sort_index().sort_values(ascending=False, kind="stable").index)
    best = ranked[0]
    pairs = [paired_values(t.accuracy[best], t.accuracy[m], best, m, rule["test"], scale=100) for m in ranked[1:]]
    tests = list(zip(pairs, holm([p.p for p in pairs])))
    group = [best] + [p.second for p, adjusted in tests if not (p.mean > 0 and adjusted < rule["alpha"])]
    if t.cost is None:
        return ranked, tests, group, None, None
    cost = cheapest_by_seed(t.cost[group], rule["alpha"], rule["test"], bool(t.missed[group].to_numpy().any()))
    return ranked, tests, group, cost, tie_break(cost, t.accuracy, rule["tie_break"])


def rank(study: pd.DataFrame, params: dict, scenario: str) -> Ranking:
    """Rank `scenario`'s presets by params.yaml's study.ranking over study.seeds."""
    presets, seeds = list(params["optimizers"]), list(params["study"]["seeds"])
    stopped = futility.stopped(study, params, scenario)
    out = {p: 100 * gap for p, gap in (stopped or {}).items()}
    contenders = [p for p in presets if p not in out]
    missing = futility.missing(study, contenders, seeds, scenario) if stopped is not None else \
        futility.missing(study, presets, params["study"]["futility"]["seeds"], scenario)
    if missing:
        runs = study[(study["scenario"] == scenario) & study["preset"].isin(presets)]
        so_far = runs.groupby("preset")["test_accuracy"].mean().sort_index()
        leading = so_far.idxmax() if not so_far.empty else None
        return Ranking(scenario, seeds, [], [], [], None, None, out, missing, leading)
    ranked, tests, group, cost, chosen = decide(tables(study, params, scenario, seeds, contenders),
                                                params["study"]["ranking"])
    return Ranking(scenario, seeds, ranked, tests, group, cost, chosen, out, [])


def tie_break(cost: Cheapest, accuracy: pd.DataFrame, rule: str) -> str:
    """The chosen method among those tied on cost with the cheapest, by the declared tie-break."""
    if rule == "mean_cost" or len(cost.tied) == 1:
        return cost.tied[0]
    means = accuracy[cost.tied].mean()
    return max(cost.tied, key=lambda m: (means[m], -cost.means[m]))


def stability(study: pd.DataFrame, params: dict, ranking: Ranking) -> tuple[int, int]:
    """In how many of the ways of leaving LEFT_OUT of the ranking's seeds out the rule, on the seeds left,
    chooses the ranking's method; and how many ways there are. (The futility stop is as it was: it judged
    seeds every preset ran, before the rest.)"""
    t = tables(study, params, ranking.scenario, ranking.seeds, ranking.ranked)
    ways = list(itertools.combinations(ranking.seeds, len(ranking.seeds) - LEFT_OUT))
    rule = params["study"]["ranking"]
    same = sum(decide(Tables(*(None if x is None else x.loc[list(kept)] for x in (t.accuracy, t.cost, t.missed))),
                      rule)[4] == ranking.chosen for kept in ways)
    return same, len(ways)


def verdict(r: Ranking, params: dict) -> str:
    """One sentence: the chosen method, how it was chosen, and whom it ties with."""
    rule = params["study"]["ranking"]
    measure = COSTS[rule["cost"]]
    if r.chosen is None:
        return "not chosen yet"
    if len(r.tied) == 1:
        return f"**{r.chosen}**, the least {measure} in the accuracy group"
    return (f"**{joined(r.tied)} tie** in {measure} (no corrected {PAIRED_TESTS[rule['test']]} separates them); "
            f"{TIE_BREAKS[rule['tie_break']]} chooses **{r.chosen}**")
