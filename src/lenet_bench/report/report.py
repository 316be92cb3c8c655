"""The study's report, report/REPORT.md and its figures, built from the exported results alone:
results/study.csv and results/study_curves.csv (`lenet-bench study`), results/experiments.csv (the
sparsification comparisons) and tuning/*.csv (the tunings). The same files give the same report
(`lenet-bench report`)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from lenet_bench.atomic_files import write_text
from lenet_bench.problem import PARAMETER_COUNT, TEST_SIZE, TRAIN_SIZE
from lenet_bench.registry import PAIRED_TESTS, l2_mode
from lenet_bench.report import calibration, figures
from lenet_bench.report.choice import LEFT_OUT, Cheapest, Ranking, cheapest, paired_values, rank
from lenet_bench.report.chosen import chosen_method, chosen_section, designed_section
from lenet_bench.report.profile import profile_section
from lenet_bench.report.ranking_text import answer_table, cd_section, ranking_text, stabilities
from lenet_bench.report.results import PRUNED_AT_5, Results, load
from lenet_bench.report.text import count, describe, escaped, hardware, joined, load_line, mean_std, untimed_line
from lenet_bench.report.tuning_text import (
    audit_section,
    sensitivity_text,
    tuning_summary,
    tuning_variance,
    variance_section,
)
from lenet_bench.tuning.search import get as setting
from lenet_bench.tuning.search import parse as search_space
from lenet_bench.tuning.tuning_tables import rungs

MAX_PAGES = 10  # the brief's limit, printed on A4
RELIABLE_SEEDS, RELIABLE_REACHED = 10, 9  # a budget recommendation rests on 10 seeds, 9 of them reaching the target
FAILS_BELOW = 0.5  # a preset failed in a scenario where fewer than this share of its seeds reached the target


def tuned_settings(name: str, preset: dict) -> str:
    """The values its tuning chose: lr and the settings of its search space."""
    keys = [d.key for d in search_space(name, preset)] if preset.get("search") else ["lr"]
    values = {key: setting(preset, key) for key in keys}
    return ", ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in values.items())


def verdict(cells: list[pd.Series], why_none: str) -> str:
    """'works', or '**failed**' by FAILS_BELOW in the scenarios where it failed; without runs, why."""
    if not cells:
        return why_none
    failed = [m["scenario"] for m in cells if m["reached"] < FAILS_BELOW * m["seeds"]]
    if not failed:
        return "works"
    return "**failed**" if len(failed) == len(cells) else f"**failed** in {', '.join(failed)}"


def no_runs_reason(r: Results, name: str) -> str:
    if name in set(r.elsewhere["preset"]):
        return f"other hardware only ({hardware(r.elsewhere[r.elsewhere['preset'] == name])})"
    if name in set(r.stale["preset"]):
        return "stale: tuned since"
    return "not run yet"


def standing(ranking: Ranking | None, name: str) -> str:
    """Where a preset stands in its scenario's ranking, for its cell: behind the best by how much and the
    Holm-adjusted p of that gap, best, or out (the futility stop), with its gap."""
    if ranking is None:
        return ""
    if name in ranking.out:
        return f" out −{ranking.out[name]:.2f}"
    tests = {t.second: (t, p) for t, p in ranking.tests}
    if name in tests:
        return f" −{tests[name][0].mean:.2f} p {tests[name][1]:.3f}"
    return " best" if ranking.ranked and name == ranking.ranked[0] else ""


def accounted_table(r: Results, rankings: dict[str, Ranking]) -> str:
    """Every preset of presets.yaml, one row each: what it is, its tuned settings, its result in each
    scenario (mean test accuracy, and seeds that reached the target), and its verdict."""
    lines = ["| preset | family | tuned settings | " + " | ".join(r.scenarios) + " | verdict |",
             "|---" * (4 + len(r.scenarios)) + "|"]
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
            accuracy = mean_std(runs["test_accuracy"], 100).replace(" ± ", "±")  # one word: the cell breaks after it
            cell = f"{accuracy} ({m['reached']}/{m['seeds']}{note}){standing(rankings.get(scenario), name)}"
            in_group = scenario in rankings and name in rankings[scenario].group
            shown.append(f"**{cell}**" if in_group else cell)
        lines.append(f"| {name} | {escaped(preset['family'])} | {tuned_settings(name, preset)} | "
                     + " | ".join(shown) + f" | {verdict(cells, no_runs_reason(r, name))} |")
    return "\n".join(lines)


def title(r: Results) -> str:
    return ("# Optimizers for LeNet-5 on Fashion-MNIST: the study\n\n"
            f"_Generated by `lenet-bench report` from results/study.csv ({len(r.study)} runs); every number and "
            "figure below comes from those exported runs. Do not edit by hand._\n")


def cheapest_text(c: Cheapest, measure: str, scale: float, digits: int, unit: str, alpha: float, test: str) -> str:
    """One sentence of the budget line: the cheapest method in `measure`, or the methods that tie as the
    cheapest, with their mean costs, and the next one."""
    def value(method: str) -> str:
        return f"{c.means[method] / scale:.{digits}f}"
    rest = [m for m in c.means.index if m not in c.tied]
    after = f"; next {rest[0]}, {value(rest[0])} {unit}" if rest else ""
    missed = ", a seed that missed counted at its whole run" if c.missed else ""
    if len(c.tied) > 1:
        return (f"In {measure}, **{joined(c.tied)} tie** ({joined([value(m) for m in c.tied])} {unit} on average"
                f"{missed}; no {PAIRED_TESTS[test]}, Holm-corrected at {alpha:g}, separates {c.tied[0]} from "
                f"{joined(c.tied[1:], 'or')}{after}).")
    cheapest_alone = f"In {measure}, **{c.tied[0]}** is the cheapest: {value(c.tied[0])} {unit} on average{missed}"
    if not rest:
        return cheapest_alone + "."
    return (cheapest_alone + f", less than each of the others on the same seeds ({PAIRED_TESTS[test]}s, Holm p ≤ "
            f"{max(p for _, p in c.tests):.3f}{after}).")


def scenario_text(params: dict, scenario: str) -> str:
    """A scenario's description; for an L2 penalty, also how it reaches each preset, the same objective for all."""
    text = f"`{scenario}`: {describe(params['scenarios'], scenario)}"
    sparsity = params["scenarios"][scenario].get("sparsity")
    if sparsity:
        settings = ", ".join(f"{k} {v}" for k, v in sparsity.items() if k not in ("density", "layers", "scope"))
        text += (f" ({settings}; a run reaches the target only at a check where the weights it is judged by already "
                 "meet the bound, so a dense model's accuracy never counts)")
    wd = params["scenarios"][scenario].get("weight_decay", 0)
    if not wd:
        return text
    through_loss = [name for name, preset in params["optimizers"].items()
                    if l2_mode(preset["algorithm"], wd) == "loss"]
    return (text + f" (every preset minimises cross-entropy + wd/2·‖w‖², wd = {wd:g}: through its optimizer's "
            "weight_decay where that adds wd·w to the gradient"
            + (f", through the loss for the {len(through_loss)} whose weight_decay takes other steps than that, as "
               f"measured by a step of each (decoupled, after a preconditioner, inside a curvature model), or is "
               f"absent ({', '.join(through_loss)})" if through_loss else "") + ")")


def answer_section(r: Results, rankings: dict[str, Ranking], out: Path) -> str:
    """Page 1: each scenario's accuracy group and chosen method, what it costs, how it was chosen and how stable
    the choice is; the cheapest method that reliably reaches the target; the critical-difference diagram."""
    target, rule = r.target, r.params["study"]["ranking"]
    first = r.scenarios[0]
    runs = r.study[r.study["scenario"] == first]
    seeds = runs.groupby("preset")["seed"].nunique()
    reached = runs.groupby("preset")["target_grad_evals"].apply(lambda c: c.notna().sum())
    reliable = [m for m in seeds.index if seeds[m] >= RELIABLE_SEEDS and reached[m] >= RELIABLE_REACHED]
    reliable_runs = runs[runs["preset"].isin(reliable)]
    if not reliable:
        budget = (f"**By budget**: no method has yet reached {100 * target:.2f}% on {RELIABLE_REACHED} of "
                  f"{RELIABLE_SEEDS} seeds in `{first}` (methods with fewer than {RELIABLE_SEEDS} seeds do not "
                  "qualify).")
    else:
        alpha, test = rule["alpha"], rule["test"]
        by_grads = cheapest_text(cheapest(reliable_runs, "target_grad_evals", alpha, test),
                                 "gradient evaluations", 1e6, 2, "M", alpha, test)
        timed = reliable_runs.dropna(subset=["seconds"])
        by_seconds = (cheapest_text(cheapest(timed, "target_seconds", alpha, test), "calibrated seconds", 1, 1,
                                    "s", alpha, test) if len(timed) else
                      "No calibrated seconds yet (`lenet-bench speed`).")
        budget = (f"**By budget**: the methods that reached {100 * target:.2f}% on at least {RELIABLE_REACHED} of "
                  f"{RELIABLE_SEEDS} seeds in `{first}` are {joined(sorted(reliable))}. {by_grads} {by_seconds}")
    return "\n".join([
        "## The answer\n",
        f"Each scenario's **accuracy group** (the best mean test accuracy over the seeds and every preset no "
        f"Holm-corrected paired test separates from it) and its **chosen method**, the group's least "
        f"{'calibrated seconds' if rule['cost'] == 'target_seconds' else 'gradient evaluations'} to the brief's "
        f"{100 * target:.2f}%, by the rule declared in params.yaml before the runs (§2); its test accuracy (mean ± "
        "sd over seeds), what it spends to reach the target (the test set checked four times an epoch), how it "
        f"was chosen, and in how many of the {math.comb(len(r.params['study']['seeds']), LEFT_OUT)} ways of leaving "
        f"{LEFT_OUT} of the {len(r.params['study']['seeds'])} seeds out the same rule chooses it.\n",
        answer_table(r, rankings, stabilities(r, rankings)) + "\n", budget + "\n",
        cd_section(r, rankings, out)])


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
             "- **Scenarios**: " + "; ".join(scenario_text(params, s_) for s_ in r.scenarios) + ".\n"
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


def methods_section(r: Results, rankings: dict[str, Ranking]) -> str:
    s = ["## 2. Every method tried, accounted for\n",
         "One row per preset of presets.yaml (its algorithm and what it does are on the [presets page](presets.md)): "
         "its family, the settings its tuning chose, and in each scenario's column its test accuracy (%), mean ± "
         f"standard deviation over seeds, and in brackets how many of its seeds reached {100 * r.target:.2f}% within "
         "the budget; then where it stands in the ranking below: − how many points behind the scenario's best, p the "
         "Holm-adjusted p of that gap, or out by the futility stop; the accuracy group in bold. A preset "
         f"**failed** in a scenario where fewer than {FAILS_BELOW:.0%} of its seeds reached it (declared before the "
         "runs: `FAILS_BELOW` of lenet_bench.report.report); §9 says by how far. What each method cost is in §4 and "
         "on the [results page](results.md).\n"]
    if not r.stale.empty:
        s.append(f"**Left out**: {len(r.stale)} runs made with settings that params.yaml and presets.yaml no longer "
                 f"hold (of {r.stale['preset'].nunique()} presets); `lenet-bench study` runs them again with the "
                 "current settings.\n")
    if not r.elsewhere.empty:
        s.append(f"**Left out**: {len(r.elsewhere)} runs at the current settings made on other hardware "
                 f"({hardware(r.elsewhere)}); every table holds runs of one kind only.\n")
    s.append(accounted_table(r, rankings) + "\n")
    if "adamw" not in r.params["optimizers"]:
        s.append("AdamW is no preset of its own: without a penalty it is Adam, and in `l2` its decoupled decay would "
                 "minimise another objective than every other row's, so it takes the penalty through the loss like "
                 "every optimizer whose decay is not coupled, which makes it Adam again. A row that cannot differ "
                 "from adam's would only take a seed budget.\n")
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


def earlier_prune_text(r: Results) -> str:
    """What pruning at epoch 1 instead of 5 cost: the sparse runs now against the earlier study's of the same preset
    and seed (same settings but the prune epoch), paired."""
    if r.earlier_prune.empty:
        return ""
    now = r.study[r.study["scenario"] == "sparse"][["preset", "seed", "test_accuracy", "target_epoch"]]
    pairs = now.merge(r.earlier_prune[["preset", "seed", "test_accuracy", "target_epoch"]], on=["preset", "seed"],
                      suffixes=("", "_earlier"))
    if len(pairs) < 2:
        return ""
    test = paired_values(pairs["test_accuracy"], pairs["test_accuracy_earlier"], "now", "earlier",
                         r.params["study"]["ranking"]["test"], scale=100)
    early, named = int((pairs["target_epoch_earlier"] < 5).sum()), PAIRED_TESTS[r.params["study"]["ranking"]["test"]]
    return (f"**Pruning at epoch 1, not 5.** The study before this one pruned at the end of epoch 5, so {early} of the "
            f"{len(pairs)} runs it shares with this one reached {100 * r.target:.2f}% while still dense; now the bound "
            f"holds from epoch 1 and only a hit under it counts. Paired by preset and seed "
            f"({pairs['preset'].nunique()} presets), the final test accuracy moved by {test.mean:+.2f} ± "
            f"{test.std:.2f} points ({test.wins} of {test.seeds} higher now; {named}, p = {test.p:.3f}; the "
            f"earlier runs are kept in {PRUNED_AT_5}).\n")


def sparse_section(r: Results, out: Path) -> str:
    """The sparsification methods compared (results/experiments.csv); draws figures/density.png."""
    runs, none = r.experiments, "_No sparsification comparison exported (results/experiments.csv)._"
    sparse = (runs[(runs["scenario"] == "sparse") & runs["experiment"].str.startswith(("sparse-", "thin-"))]
              if not runs.empty and "sparsity_method" in runs else runs.iloc[:0])
    if sparse.empty:
        return f"## 5. The sparse scenario\n\n{earlier_prune_text(r)}\n{none}\n"
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
    return ("## 5. The sparse scenario\n\n" + earlier_prune_text(r)
            + "\nSparsification methods, each with the same optimizer and seed (one run "
            f"each, from results/experiments.csv).{anchor}\n\n![density](figures/density.png)\n\n"
            + "\n".join(lines) + "\n")


def ranking_section(r: Results, rankings: dict[str, Ranking]) -> str:
    """§2's ranking: every scenario's accuracy group, tests against the best, presets out, and chosen method."""
    rule = r.params["study"]["ranking"]
    stop = r.params["study"]["futility"]
    s = ["### The ranking\n",
         f"Every preset on the same {len(r.params['study']['seeds'])} seeds in every scenario, with no stage that "
         f"chooses among close rivals on a few seeds: the declared futility stop keeps a preset more than "
         f"{100 * stop['max_gap']:g} point behind the best after seeds {', '.join(map(str, stop['seeds']))} at those "
         f"seeds (out). The accuracy group is the best and every preset that no {PAIRED_TESTS[rule['test']]} over "
         f"the seeds separates from it, Holm-corrected at {rule['alpha']:g} over all comparisons with the best "
         "(exact sign flips over ten seeds cannot go below p = 0.002, too coarse for Holm's correction over two "
         "dozen comparisons); the table above gives each gap and its Holm p. Within the group, the least mean cost "
         "to the target chooses; the members that the same test does not separate from the cheapest tie with it, "
         "and the declared tie-break picks. The validation cross-check ranks the presets by their tuning's best "
         "validation accuracy (10,000 training images held out) against their mean test accuracy.\n"]
    s += [ranking_text(r, ranking) for ranking in rankings.values()]
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
    everywhere, somewhere = [], []
    for method in missed.groupby("preset")["accuracy"].mean().sort_values().index:
        # the worst first, its scenarios in the report's order; those below in every scenario share one line
        rows = missed[missed["preset"] == method].sort_values("scenario", key=lambda c: c.map(scenarios.index))
        reached = f"{rows['reached'].sum()} of {count(rows['seeds'].sum(), 'run')} reached it"
        if len(rows) == len(scenarios):
            everywhere.append(f"{method} ({', '.join(f'{100 * a:.2f}' for a in rows['accuracy'])}%; {reached})")
            continue
        where = ", ".join(f"`{row['scenario']}` ({100 * row['accuracy']:.2f}%)" for _, row in rows.iterrows())
        somewhere.append(f"- {method} stayed below {100 * target:.2f}% on average in {where}; {reached} there.")
    if everywhere:
        items.append(f"- Below {100 * target:.2f}% on average in every scenario ({', '.join(scenarios)}), the worst "
                     f"first: {'; '.join(everywhere)}.")
    items += somewhere
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
    rankings = {s: rank(r.study, r.params, s) for s in r.scenarios}
    ranking = next(iter(rankings.values()))
    chosen = chosen_method(ranking)
    # the accuracy group of the first scenario, and the next presets if it holds fewer than three
    variance = tuning_variance(r, ranking.ranked[:max(3, len(ranking.group))], ranking.scenario, root)
    styles = figures.styles(sorted(r.study["preset"].unique()))
    report = "\n".join([title(r), answer_section(r, rankings, out), setup_section(r, out),
                        methods_section(r, rankings), ranking_section(r, rankings),
                        variance_section(variance, chosen, r.params),
                        curves_section(r, out, styles), profile_section(r, out, styles, rankings),
                        sparse_section(r, out),
                        chosen_section(r, list(rankings.values()), out, styles), designed_section(r),
                        baseline_section(r, chosen or "sgd"),
                        failures_section(r)]) + "\n"
    for figure in (out / "figures").glob("*.png"):  # a figure this report no longer draws goes with it
        if f"(figures/{figure.name})" not in report:
            figure.unlink()
    write_text(out / "REPORT.md", report)
    return report
