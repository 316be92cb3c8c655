"""The ranking in the report: page 1's table of each scenario's accuracy group and chosen method, §2's account
of every preset's test against the best, the validation cross-check and the critical-difference diagram."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from scipy import stats

from lenet_bench.registry import COSTS, TIE_BREAKS
from lenet_bench.report import figures
from lenet_bench.report.choice import Ranking, stability, verdict
from lenet_bench.report.results import Results
from lenet_bench.report.text import count, first_few, joined, mean_or_dash, mean_std
from lenet_bench.tuning.tuning_tables import best, finished

COST_UNITS = {"target_seconds": (1, 1, "s"), "target_grad_evals": (1e6, 2, "M")}  # scale, digits, unit


def cost_value(runs: pd.DataFrame, cost: str) -> str:
    """The mean cost to the target of the runs that reached it, with its unit, or a dash."""
    scale, digits, unit = COST_UNITS[cost]
    value = mean_or_dash(runs[cost] / scale, f".{digits}f")
    return value if value == "–" else f"{value} {unit}"


def cross_check(r: Results, scenario: str) -> tuple[float, int] | None:
    """Spearman's rank correlation between each tuned preset's best trial (validation accuracy on the images
    held out of training) and its mean test accuracy in `scenario`, and over how many presets; None with
    fewer than three."""
    last = r.params["train"]["epochs"]
    validation = {p: best(t, r.params)[f"val_accuracy@{last}"] for p, t in r.tunings.items()
                  if t is not None and finished(t) and best(t, r.params) is not None}
    test = r.study[r.study["scenario"] == scenario].groupby("preset")["test_accuracy"].mean()
    shared = [p for p in validation if p in test.index]
    valid, tested = [validation[p] for p in shared], [test[p] for p in shared]
    if len(shared) < 3 or len(set(valid)) == 1 or len(set(tested)) == 1:  # a constant side has no rank order
        return None
    rho = stats.spearmanr(valid, tested).statistic
    return float(rho), len(shared)


def answer_table(r: Results, rankings: dict[str, Ranking], stable: dict[str, tuple[int, int]]) -> str:
    """Page 1: per scenario, the accuracy group, the chosen method with its accuracy, its cost to the target,
    the test that chose it, and how stable the choice is over the seeds."""
    rule = r.params["study"]["ranking"]
    lines = [f"| scenario | accuracy group | chosen method | test accuracy (%) | {COSTS[rule['cost']]} to "
             f"{100 * r.target:.2f}% | M grad evals to it | how chosen | same choice without 3 seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for scenario in r.params["scenarios"]:  # a scenario with no runs yet, too
        ranking = rankings.get(scenario)
        if ranking is None or ranking.missing:
            waiting = count(len(ranking.missing), "run") if ranking else "all runs"
            lines.append(f"| {scenario} | – | not chosen yet | – | – | – | {waiting} not in yet | – |")
            continue
        if ranking.chosen is None:
            lines.append(f"| {scenario} | {', '.join(ranking.group)} | not chosen yet | – | – | – | "
                         "no calibrated seconds yet (`lenet-bench speed`) | – |")
            continue
        runs = r.study[(r.study["scenario"] == scenario) & (r.study["preset"] == ranking.chosen)
                       & r.study["seed"].isin(ranking.seeds)]
        same, ways = stable[scenario]
        lines.append(f"| {scenario} | {', '.join(ranking.group)} | **{ranking.chosen}** "
                     f"| {mean_std(runs['test_accuracy'], 100)} | {cost_value(runs, rule['cost'])} "
                     f"| {mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} | {how_chosen(ranking, r.params)} "
                     f"| {same} of {ways} ({100 * same / ways:.0f}%) |")
    return "\n".join(lines)


def how_chosen(ranking: Ranking, params: dict) -> str:
    """The cost test behind the choice, in a table cell."""
    rule = params["study"]["ranking"]
    if len(ranking.tied) > 1:
        return (f"ties in {COSTS[rule['cost']]} with {joined([m for m in ranking.tied if m != ranking.chosen])}; "
                f"{TIE_BREAKS[rule['tie_break']]}")
    if not ranking.cost.tests:
        return "the accuracy group's only member"
    return f"cheaper than each other member (Holm p ≤ {max(p for _, p in ranking.cost.tests):.3f})"


def stabilities(r: Results, rankings: dict[str, Ranking]) -> dict[str, tuple[int, int]]:
    return {s: stability(r.study, r.params, k) for s, k in rankings.items() if k.chosen is not None}


def ranking_text(r: Results, ranking: Ranking) -> str:
    """§2, one scenario: the accuracy group and the closest preset outside it, the presets out, the chosen
    method with the group's costs, and the validation cross-check."""
    rule = r.params["study"]["ranking"]
    scenario = ranking.scenario
    out = ", ".join(f"{p} ({gap:.2f})" for p, gap in sorted(ranking.out.items(), key=lambda kv: kv[1]))
    out_text = f" Out (points behind after the stop's seeds): {out}." if out else ""
    if ranking.missing:
        return (f"**`{scenario}`**: not ranked yet; {count(len(ranking.missing), 'run')} not in "
                f"({first_few(ranking.missing)}).{out_text}\n")
    outside = [(t, p) for t, p in ranking.tests if t.second not in ranking.group]
    closest = (f"; the closest outside it, {outside[0][0].second}, is {outside[0][0].mean:.2f} points behind "
               f"(Holm p = {outside[0][1]:.3f})" if outside else "")
    s = [f"**`{scenario}`** ({count(len(ranking.ranked), 'preset')} ranked, {len(ranking.tests)} comparisons with "
         f"the best): the accuracy group is {joined(ranking.group)}{closest}.{out_text}"]
    if ranking.cost is not None:
        scale, digits, unit = COST_UNITS[rule["cost"]]
        means = ", ".join(f"{m} {ranking.cost.means[m] / scale:.{digits}f} {unit}" for m in ranking.cost.means.index)
        missed = " (a seed that missed counts at its whole run)" if ranking.cost.missed else ""
        s.append(f"Mean {COSTS[rule['cost']]} to {100 * r.target:.2f}%{missed}: {means}. Chosen: "
                 f"{verdict(ranking, r.params)}.")
    else:
        s.append("No calibrated seconds for every member yet (`lenet-bench speed`), so no method is chosen.")
    check = cross_check(r, scenario)
    if check is not None:
        s.append(f"Validation cross-check: Spearman's ρ = {check[0]:.2f} between the {check[1]} tunings' best "
                 "validation accuracy and the mean test accuracy.")
    return " ".join(s) + "\n"


def cd_section(r: Results, rankings: dict[str, Ranking], out: Path) -> str:
    """Demšar's critical-difference diagram over every problem (a scenario and seed) that every preset ranked in
    every scenario ran; the figure and a sentence."""
    full = [p for p in r.params["optimizers"] if all(p in k.ranked for k in rankings.values())]
    runs = r.study[r.study["preset"].isin(full)]
    accuracy = runs.pivot_table(index=["scenario", "seed"], columns="preset", values="test_accuracy").dropna()
    path = out / "figures" / "critical_difference.png"
    if len(full) < 3 or len(accuracy) < 5:
        path.unlink(missing_ok=True)
        return ""
    result = figures.critical_difference(accuracy[full], path, r.params["study"]["ranking"]["alpha"])
    left = sorted(set(r.params["optimizers"]) - set(full))
    return (f"**Across scenarios** (Figure 1): each preset's mean rank over the {len(accuracy)} problems (a scenario "
            f"and a seed) that all {len(full)} presets ranked in every scenario ran, 1 the best; a bar joins presets "
            f"whose mean ranks differ by less than the critical difference, {result.cd:.2f} (Friedman's test, then "
            f"Nemenyi's, at {r.params['study']['ranking']['alpha']:g}; Demšar 2006, drawn by autorank)"
            + (f"; left out, as out in some scenario: {', '.join(left)}" if left else "") + ".\n\n"
            "![Figure 1: critical-difference diagram of the presets' ranks](figures/critical_difference.png)\n")
