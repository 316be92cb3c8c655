"""The performance profile, AlgoPerf's way: each method's cost to the target over the cheapest's on every
problem (a scenario and seed) that all of them ran, and its score."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from lenet_bench.report import figures
from lenet_bench.report.choice import Ranking
from lenet_bench.report.results import Results
from lenet_bench.report.scores import TAU_MAX, pareto_front, profile_score


def common_problems(study: pd.DataFrame) -> pd.MultiIndex:
    """The problems (scenario, seed) that every method of `study` ran: a method is judged only on problems
    it attempted, and a seed run for some methods alone is no problem for the rest."""
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


def profile_section(r: Results, out: Path, styles: dict, rankings: dict[str, Ranking]) -> str:
    """Cost to the target against the cheapest method's, per problem, for the presets ranked on every seed of
    every scenario (the futility stop's are out); draws figures/profile.png, then the Pareto front."""
    ranked = [p for p in r.params["optimizers"] if all(p in k.ranked for k in rankings.values())]
    study = r.study[r.study["preset"].isin(ranked)] if ranked else r.study
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
        "the curve gives the fraction of problems a method solved within τ times the cheapest method's cost (the "
        f"dotted line: τ = {TAU_MAX:g}, where the score below stops counting). Every method that reached the target "
        f"at least once is drawn ({len(reached)} of {study['preset'].nunique()}); a problem it never solved never "
        f"counts. The problems are the {len(problems)} that every one of them ran ({problem_list(problems)}); the "
        "presets the futility stop kept out (§2) are not drawn.\n",
        "![performance profile](figures/profile.png)\n",
        f"**Scores**, as AlgoPerf ranks: the area under each method's profile from τ = 1 to {TAU_MAX:g}, over "
        f"{TAU_MAX - 1:g} (1: the cheapest on every problem; 0: never within {TAU_MAX:g}x of it), beside its mean test "
        "accuracy on the same problems.\n", score_table(solved, problems), pareto_text(r, solved)])


def pareto_text(r: Results, study: pd.DataFrame) -> str:
    """Accuracy against the cost of reaching the target in the first scenario, and its Pareto front."""
    first = r.scenarios[0]
    runs = study[study["scenario"] == first]
    means = runs.groupby("preset").agg(accuracy=("test_accuracy", "mean"), cost=("target_grad_evals", "mean"),
                                       reached=("target_grad_evals", lambda c: c.notna().mean()))
    means = means[means["reached"] >= 0.5]  # a cost to the target needs the target reached, most of the time
    if means.empty:
        return ""
    front = pareto_front(means)
    return (f"**Accuracy against cost**: in `{first}`, the Pareto front of mean final test accuracy against mean "
            f"gradient evaluations to first reach {100 * r.target:.2f}% (among the methods that reach it on at least "
            f"half their seeds), the methods no other beats on both counts: {', '.join(front)}.\n")


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
