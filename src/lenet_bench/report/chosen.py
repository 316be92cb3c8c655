"""The chosen method in detail (its rule, its cost beside the runner-up's, training against test loss, its
ablation) and the method designed from the study's evidence."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lenet_bench.params import LABELS
from lenet_bench.problem import TRAIN_SIZE
from lenet_bench.registry import ALGORITHMS, PAIRED_TESTS, smallest_p
from lenet_bench.report import figures
from lenet_bench.report.choice import Ranking, cheapest, holm, paired
from lenet_bench.report.results import Results
from lenet_bench.report.text import count, escaped, joined, mean_or_dash, mean_std
from lenet_bench.study import ablation
from lenet_bench.tuning.search import parse as search_space


def chosen_method(ranking: Ranking) -> str | None:
    """The chosen method of a scenario; until its runs are all in, the best so far by mean test accuracy."""
    return ranking.chosen or (ranking.ranked[0] if ranking.ranked else ranking.leading)


def cost_comparison(means: pd.DataFrame, chosen: str, other: str, scenario: str) -> str:
    """What the chosen method costs per epoch against another, in one scenario, in calibrated seconds."""
    a, b = (means[(means["preset"] == m) & (means["scenario"] == scenario)].iloc[0] for m in (chosen, other))
    seconds = (f"{chosen} takes {a['seconds_per_epoch'] / b['seconds_per_epoch']:.1f}x the calibrated seconds of "
               f"{other}" if a["seconds_per_epoch"] > 0 and b["seconds_per_epoch"] > 0
               else "their seconds are not timed yet")
    return (f"Per epoch in `{scenario}`, {chosen} spends {a['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} and {other} "
            f"{b['grad_evals_per_epoch'] / TRAIN_SIZE:.1f} gradient evaluations per training sample, and {seconds}.")


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
    test = r.params["study"]["ranking"]["test"]
    on = r.study[(r.study["preset"] == preset) & (r.study["scenario"] == scenario) & r.study["seed"].isin(seeds)]
    floor = smallest_p(test, len(seeds))
    s = [f"**Ablation** (`lenet-bench tune --ablation`, then `lenet-bench study --ablation`, declared in params.yaml's "
         f"study.ablation): {preset} with one component switched off, set to its plain default or added at a time, "
         f"in `{scenario}` on seeds {', '.join(map(str, seeds))}, with the same budget. A component changes what "
         f"a step of a given lr does (without momentum, the same lr is a step about ten times smaller), so each "
         f"variant's lr is tuned again ({spec['lr_trials']} quasi-random points over the preset's lr range, the "
         "same rungs) and the rest kept as tuned. Δ is the mean paired difference from the tuned preset over the "
         f"seeds both ran: what the component buys is minus Δ; p, the {PAIRED_TESTS[test]} of Δ, and Holm p, its "
         "Holm correction over the variants"
         + (f" (with {count(len(seeds), 'seed')} it cannot go below {floor:.3g}: a Δ within the seeds' spread is "
            "no evidence either way)." if floor > 0.05 else ".")
         + ("" if preset == chosen else f" (The ablation is declared for {preset}; the chosen method is {chosen}.)")
         + "\n"]
    lines = [f"| variant | changes | lr | test accuracy (%) | Δ (points) | p | Holm p | reached {100 * r.target:.2f}% "
             "| M grad evals to it |", "|---|---|---|---|---|---|---|---|---|"]
    variants = {kind: (ablation.changes_text(changes), r.ablation[
        (r.ablation["preset"] == ablation.variant_name(preset, kind)) & (r.ablation["scenario"] == scenario)
        & r.ablation["seed"].isin(seeds)]) for kind, changes in spec["variants"].items()}
    tests = {kind: paired(pd.concat([runs, on]), scenario, ablation.variant_name(preset, kind), preset, test)
             for kind, (_, runs) in variants.items() if not runs.empty}
    tests = {kind: test for kind, test in tests.items() if test.seeds}  # a variant shares no seed with the tuned
    corrected = dict(zip(tests, holm([test.p for test in tests.values()])))  # one family: every variant run so far

    def row(name: str, changes: str, runs: pd.DataFrame) -> str:
        if runs.empty:
            return f"| {name} | {changes} | | not run yet | | | | | |"
        columns = (f"{tests[name].mean:+.2f} | {tests[name].p:.3f} | {corrected[name]:.3f}" if name in tests
                   else "– | – | –")
        return (f"| {name} | {changes} | {runs['lr'].iloc[0]:.3g} | {mean_std(runs['test_accuracy'], 100)} | {columns} "
                f"| {int(runs['target_epoch'].notna().sum())}/{len(runs)} "
                f"| {mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} |")

    lines.append(row("tuned", "as in presets.yaml", on))
    lines += [row(kind, changes, runs) for kind, (changes, runs) in variants.items()]
    means = {kind: test.mean for kind, test in tests.items()}
    return "\n".join(s + lines) + "\n" + (ablation_verdict(means, corrected) if len(tests) == len(variants) else "")


def ablation_verdict(means: dict[str, float], corrected: dict[str, float], level: float = 0.05) -> str:
    """Which variants differ from the tuned preset once the tests are Holm-corrected, and which way; means
    holds each variant's mean paired difference from it."""
    worse = [kind for kind in means if corrected[kind] < level and means[kind] < 0]
    better = [kind for kind in means if corrected[kind] < level and means[kind] > 0]
    tied = [kind for kind in means if kind not in worse + better]
    if not worse + better:
        return (f"\nAfter Holm's correction at {level:g}, no variant differs from the tuned preset by more than these "
                "seeds can tell.\n")

    def said(kinds: list[str], verb: str, rest: str) -> list[str]:
        return [f"{joined(kinds)} {verb}{'s' if len(kinds) == 1 else ''} {rest}"] if kinds else []
    parts = (said(worse, "lose", "test accuracy") + said(better, "gain", "test accuracy")
             + said(tied, "differ", "by no more than these seeds can tell"))
    return f"\nAfter Holm's correction at {level:g}, against the tuned preset: {'; '.join(parts)}.\n"


def elsewhere_text(rankings: list[Ranking], chosen: str) -> str:
    """What the other scenarios chose, beside the first scenario's chosen method."""
    same = [f"`{c.scenario}`" for c in rankings if c.chosen == chosen]
    other = [f"`{c.scenario}` chose {c.chosen}" for c in rankings if c.chosen not in (chosen, None)]
    pending = [f"`{c.scenario}`" for c in rankings if c.chosen is None]
    parts = ([f"{joined(same)} chose it too"] if same else []) + other + (
        [f"{joined(pending)} {'has' if len(pending) == 1 else 'have'} not chosen yet"] if pending else [])
    return "; ".join(parts)


def chosen_section(r: Results, rankings: list[Ranking], out: Path, styles: dict) -> str:
    """§6: the first scenario's chosen method in detail; rankings holds every scenario's, the first first."""
    ranking, others = rankings[0], rankings[1:]
    chosen, target = chosen_method(ranking), r.target
    if chosen is None:
        return "## 6. The chosen method\n\n_Not chosen yet: the study's runs are not all in (§2)._\n"
    rows = r.of(chosen)
    settings = json.loads(rows["preset_settings"].iloc[0]) if "preset_settings" in rows else {}
    status = "" if ranking.chosen else " (provisional: the best so far; the study's runs are not all in)"
    s = [f"## 6. The chosen method: {chosen}{status}\n",
         f"Chosen in `{ranking.scenario}` by the rule of §2"
         f"{'; ' + elsewhere_text(others, chosen) if others else ''}.\n"]
    lines = [f"| scenario | test accuracy (%) | test loss | reached {100 * target:.2f}% | M grad evals to it |",
             "|---|---|---|---|---|"]
    for scenario in r.scenarios:
        runs = rows[rows["scenario"] == scenario]
        lines.append(f"| {scenario} | {mean_std(runs['test_accuracy'], 100)} | {mean_std(runs['test_loss'], 1, 4)} "
                     f"| {int(runs['target_epoch'].notna().sum())}/{len(runs)} "
                     f"| {mean_or_dash(runs['target_grad_evals'] / 1e6, '.2f')} |")
    preset = r.params["optimizers"].get(chosen, {})
    space = ("; its tuning searched " + ", ".join(d.describe() for d in search_space(chosen, preset))
             if preset.get("search") else "; not tuned (tuning.fixed)")
    s.append(f"Family: {escaped(rows['family'].iloc[0])}; algorithm `{rows['algorithm'].iloc[0]}`; its preset: "
             + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in settings.items() if k not in LABELS)
             + f"{space}.\n")
    s.append("\n".join(lines) + "\n")
    algorithm = rows["algorithm"].iloc[0]
    if algorithm in ALGORITHMS:
        s.append(f"**How it works**: {ALGORITHMS[algorithm].description}.\n")
    runner_up = next((m for m in ranking.ranked if m != chosen), None)
    if runner_up:
        s.append(cost_comparison(r.means, chosen, runner_up, ranking.scenario) + "\n")
    s.append(loss_gap(r, [m for m in (chosen, runner_up) if m], ranking.scenario, out, styles))
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
    alpha, test_name = r.params["study"]["ranking"]["alpha"], r.params["study"]["ranking"]["test"]
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
        lines = [f"| scenario | {name} (%) | {base} (%) | Δ (points), wins, p | on accuracy "
                 f"| M grad evals to {100 * r.target:.2f}%: {name} / {base} | p | on cost |",
                 "|---|---|---|---|---|---|---|---|"]
        verdicts = []
        for scenario in r.scenarios:
            mine, theirs = (r.of(m)[r.of(m)["scenario"] == scenario] for m in (name, base))
            if mine.empty or theirs.empty:
                continue
            test = paired(r.study, scenario, name, base, test_name)
            accuracy = "tie" if not test.p < alpha else "wins" if test.mean > 0 else "loses"
            both = r.study[(r.study["scenario"] == scenario) & r.study["preset"].isin([name, base])]
            cost = cheapest(both, "target_grad_evals", alpha, test_name)
            cost_p = cost.tests[0][1]  # one test: Holm leaves it as it is
            on_cost = "tie" if len(cost.tied) > 1 else "cheaper" if cost.means.index[0] == name else "dearer"
            lines.append(f"| {scenario} | {mean_std(mine['test_accuracy'], 100)} | "
                         f"{mean_std(theirs['test_accuracy'], 100)} | {test.mean:+.2f}, {test.wins}/{test.seeds}, "
                         f"{test.p:.3f} | **{accuracy}** | {mean_or_dash(mine['target_grad_evals'] / 1e6, '.2f')} / "
                         f"{mean_or_dash(theirs['target_grad_evals'] / 1e6, '.2f')} | {cost_p:.3f} | **{on_cost}** |")
            reach = {"tie": "ties on cost", "cheaper": "reaches the target with fewer gradient evaluations",
                     "dearer": "needs more gradient evaluations to reach the target"}[on_cost]
            verdicts.append(f"in `{scenario}` it {'ties' if accuracy == 'tie' else accuracy} on accuracy and {reach}")
        s.append("\n".join(lines) + "\n")
        if verdicts:
            s.append(f"**Does {name} win?** Against {base}, " + "; ".join(verdicts) + ".\n")
        s.append(f"Each verdict is a {PAIRED_TESTS[test_name]} over the seeds both ran, at level {alpha} (uncorrected: "
                 "one comparison per scenario and measure); a tie says the seeds cannot tell the two apart. Cost "
                 "counts a seed that missed the target at its whole run.\n")
    return "\n".join(s)
