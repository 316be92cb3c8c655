"""The study's report, report/REPORT.md and its figures, built from the exported results alone:
results/study.csv and results/study_curves.csv (scripts/study.py), results/experiments.csv (the
sparsification comparisons) and tuning/*.csv (the sweeps). The same files give the same report.

    python -m lenet_bench.report [--root .] [--out report]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures, printed
from .files import write_text
from .model import PARAMETER_COUNT
from .params import load as load_params
from .study import KEY, split_by_settings
from .tuning import at_budget, budgets, tables

TARGET = 0.8938
MAX_PAGES = 10  # the brief's limit, printed on A4
SCENARIO_TEXT = {"standard": "plain cross-entropy", "l2": "L2 through the optimizer's weight_decay",
                 "sparse": "at most 60% nonzero weights in fc1 and fc2 together"}

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
    "newton_cg": "Hessian-free Newton: truncated conjugate gradient on damped Gauss-Newton-vector products of a sub-batch",
    "adahessian": "AdaHessian: Adam's update on a Hutchinson estimate of the Hessian diagonal (one Hessian-vector "
                  "product a step)",
    "sophia": "SophiaH: momentum preconditioned by a Hutchinson estimate of the Hessian diagonal refreshed every few "
              "steps, with the step clipped per coordinate",
    "shampoo": "Shampoo (the scalable variant): for each weight tensor, its small dimensions merged into a matrix "
               "G, left and right preconditioners L and R from moving averages of G Gᵀ and Gᵀ G (Kronecker factors "
               "of a full-matrix AdaGrad); the step direction is L^(-1/4) G R^(-1/4), given the per-layer size of "
               "an SGD step (grafting), with the inverse roots recomputed every preconditioning_compute_steps steps",
}


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


def load(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The study's runs and learning curves, and apart the runs made with settings that root's
    params.yaml no longer has (none are set apart when the export comes without a params.yaml)."""
    study = pd.read_csv(root / "results" / "study.csv")
    curves = pd.read_csv(root / "results" / "study_curves.csv")
    stale = study.iloc[:0]
    if (root / "params.yaml").exists():
        study, stale = split_by_settings(study, load_params(root / "params.yaml"))
        kept = curves.set_index(KEY).index.isin(study.set_index(KEY).index)
        curves = curves[kept]
    if study.empty:
        raise SystemExit("results/study.csv has no runs with the settings of params.yaml: run scripts/study.py first")
    return study, curves, stale


def hardware(runs: pd.DataFrame) -> str:
    """Where runs ran, e.g. 'cuda' or 'cpu, 1 thread': seconds compare only within one."""
    return " + ".join(sorted({d if d != "cpu" else f"cpu, {int(t)} thread{'s' if t != 1 else ''}"
                              for d, t in zip(runs["device"], runs["threads"])}))


def hardware_totals(study: pd.DataFrame, devices) -> str:
    """Each kind of hardware, in the order given, with its number of runs and their summed training hours."""
    parts = []
    for device in devices:
        runs = study[study["device"] == device]
        parts.append(f"{hardware(runs)}: {len(runs)} runs, {runs['seconds'].sum() / 3600:.1f} hours of training "
                     "summed over runs")
    return "; ".join(parts)


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


def choose(means: pd.DataFrame, scenarios: list[str]) -> tuple[str, list[str], bool]:
    """Methods ranked by their accuracy averaged over scenarios; the chosen one is the best that beats
    the target in every scenario on average over seeds (if none does, the best, and we say so)."""
    table = means.pivot(index="optimizer", columns="scenario", values="accuracy")[scenarios].dropna()
    ranked = table.mean(axis=1).sort_values(ascending=False)
    qualified = [m for m in ranked.index if (table.loc[m] > TARGET).all()]
    chosen = qualified[0] if qualified else ranked.index[0]
    return chosen, list(ranked.index), bool(qualified)


def results_table(study: pd.DataFrame, means: pd.DataFrame, scenario: str) -> str:
    runs = study[study["scenario"] == scenario]
    lines = ["| method | family | test accuracy (%) | test loss | reached 89.38% | epochs to it | "
             "M grad evals to it | seconds to it | s/epoch | hardware |", "|---|---|---|---|---|---|---|---|---|---|"]
    for _, m in means[means["scenario"] == scenario].sort_values("accuracy", ascending=False).iterrows():
        r = runs[runs["optimizer"] == m["optimizer"]]
        note = f" ({m['diverged']} diverged)" if m["diverged"] else ""
        lines.append(
            f"| {m['optimizer']} | {m['family']} | {mean_std(r['test_accuracy'], 100)}{note} | {mean_std(r['test_loss'], 1, 4)} "
            f"| {m['reached']}/{m['seeds']} | {_mean_or_dash(r['target_epoch'], '.1f')} "
            f"| {_mean_or_dash(r['target_grad_evals'] / 1e6, '.2f')} | {_mean_or_dash(r['target_seconds'], '.0f')} "
            f"| {m['seconds_per_epoch']:.1f} | {m['hardware']} |")
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


def paired(study: pd.DataFrame, first: str, second: str) -> str:
    """The chosen method against the runner-up on the same scenarios and seeds."""
    a = study[study["optimizer"] == first].set_index(["scenario", "seed"])["test_accuracy"]
    b = study[study["optimizer"] == second].set_index(["scenario", "seed"])["test_accuracy"]
    both = pd.concat([a, b], axis=1, keys=["a", "b"]).dropna()
    if both.empty:
        return f"No run of {second} shares a scenario and seed with {first}: no paired comparison."
    diff = 100 * (both["a"] - both["b"])
    wins = int((diff > 0).sum())
    # Exact two-sided sign test: the chance of a split at least this uneven if neither were better.
    n = int((diff != 0).sum())
    k = min(wins, n - wins)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
    spread = diff.std() if len(diff) > 1 else math.nan
    t = f"paired t = {diff.mean() / (spread / math.sqrt(len(diff))):.2f}" if spread > 0 else "no spread"
    return (f"On the {len(diff)} runs that share a scenario and seed, {first} minus {second} is "
            f"{diff.mean():+.2f} percentage points on average (std {spread:.2f}, {t}); "
            f"{first} is ahead in {wins} of {len(diff)} (two-sided sign test p = {p:.3f}).")


def cost_comparison(means: pd.DataFrame, chosen: str, other: str) -> str:
    """What the chosen method costs per epoch against another, where both ran on the same hardware."""
    a, b = (means[means["optimizer"] == m].iloc[0] for m in (chosen, other))
    text = (f"Per epoch, {chosen} spends {a['grad_evals_per_epoch'] / 6e4:.1f} and {other} "
            f"{b['grad_evals_per_epoch'] / 6e4:.1f} gradient evaluations per training sample")
    if a["hardware"] == b["hardware"]:
        text += (f", and {chosen} takes {a['seconds_per_epoch'] / b['seconds_per_epoch']:.1f}x the wall time of "
                 f"{other} ({a['hardware']})")
    return text + "."


def longer_budget_items(root: Path, epochs: int) -> list[str]:
    """A line for each sweep that also trained its best setting for other budgets."""
    items = []
    for preset, sweep in tables(root):
        runs = budgets(sweep, epochs)
        if runs.empty:
            continue
        base = runs[runs["epochs"] == epochs].iloc[0]
        longer = runs[runs["epochs"] > epochs]
        where = ", ".join(f"{int(r['epochs'])} epochs: {100 * r['validation_accuracy']:.2f}% (training loss "
                          f"{r['train_loss']:.3f})" for _, r in runs.iterrows())
        overfits = (not longer.empty and (longer["validation_accuracy"] < base["validation_accuracy"]).all()
                    and (longer["train_loss"] < base["train_loss"]).all())
        items.append(f"- A longer budget for {preset}'s best setting, on the validation hold-out: {where}"
                     + ("; the training loss falls and validation accuracy with it: the unregularised network "
                        "overfits." if overfits else "."))
    return items


def tuning_section(root: Path, epochs: int) -> str:
    """Each sweep's settings tried with the study's budget and the best one's validation accuracy."""
    lines = ["| preset | scenario tuned | settings tried | best setting's validation accuracy |", "|---|---|---|---|"]
    for preset, sweep in tables(root):
        sweep = at_budget(sweep, epochs)
        if sweep.empty:
            continue  # only other budgets tried
        scenario = sweep["scenario"].iloc[0] if "scenario" in sweep else "standard"
        lines.append(f"| {preset} | {scenario} | {len(sweep)} | {100 * sweep['validation_accuracy'].max():.2f}% |")
    return "\n".join(lines) if len(lines) > 2 else "_No sweep tables under tuning/._"


def sparse_section(root: Path, study: pd.DataFrame, out: Path) -> str:
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
    figures.density_curve(sparse, dense, f"optimizer {optimizer}, 10 epochs, seed {int(sparse['seed'].iloc[0])}",
                          out / "figures" / "density.png")
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
    study, curves, stale = load(root)
    study = study.sort_values(["optimizer", "scenario", "seed"]).reset_index(drop=True)
    scenarios = [s for s in ("standard", "l2", "sparse") if s in set(study["scenario"])]
    scenarios += sorted(set(study["scenario"]) - set(scenarios))
    means = summary(study)
    chosen, ranked, qualified = choose(means, scenarios)
    seeds = sorted(study["seed"].unique())
    budget = sorted(study["epochs_budget"].unique())
    devices = study["device"].value_counts()
    timed = study[study["device"] == devices.index[0]]  # seconds compare only on one kind of hardware
    mixed = len(devices) > 1

    best_by_family = (means[means["scenario"] == scenarios[0]].sort_values("accuracy", ascending=False)
                      .drop_duplicates("family")["optimizer"].tolist())
    for scenario in scenarios:
        figures.learning_curves(curves[curves["scenario"] == scenario], best_by_family,
                                f"{scenario}: the best method of each family (mean over seeds)",
                                out / "figures" / f"curves_{scenario}.png",
                                {m: f"{m} ({hardware(study[study['optimizer'] == m])})" for m in best_by_family}
                                if mixed else None)
    seconds_label = f"seconds, {devices.index[0]} runs only" if mixed else "seconds"
    figures.performance_profile({"gradient evaluations": profile_ratios(study, "grad_evals"),
                                 seconds_label: profile_ratios(timed, "seconds")}, out / "figures" / "profile.png")

    chosen_rows = study[study["optimizer"] == chosen]
    settings = json.loads(chosen_rows["preset_settings"].iloc[0]) if "preset_settings" in chosen_rows else {}
    runner_up = next((m for m in ranked if m != chosen), None)
    baseline = study[study["optimizer"] == "sgd"]
    means = means.assign(typical=means.groupby("hardware")["seconds_per_epoch"].transform("median"))
    expensive = means[means["seconds_per_epoch"] > 3 * means["typical"]]
    missing = presets_missing(root, study)
    missed = means[means["accuracy"] <= TARGET]
    diverged = study[study["diverged"].astype(bool)]

    s = []
    s.append("# Optimizers for LeNet-5 on Fashion-MNIST: the study\n")
    s.append(f"_Generated by `python -m lenet_bench.report` from results/study.csv ({len(study)} runs); "
             "every number and figure below comes from those exported runs. Do not edit by hand._\n")
    s.append("## 1. Setup\n")
    s.append(f"- **Model**: the brief's LeNet-5, unchanged (tanh, max-pooling, {PARAMETER_COUNT:,} parameters).\n"
             "- **Data**: Fashion-MNIST, the brief's split: 60,000 training and 10,000 test images; pixels in [0, 1].\n"
             f"- **Budget**: {', '.join(map(str, budget))} epochs per run; target: **{100 * TARGET:.2f}%** test accuracy "
             "(the brief's reference).\n"
             f"- **Scenarios**: " + "; ".join(f"`{s_}`: {SCENARIO_TEXT.get(s_, s_)}" for s_ in scenarios) + ".\n"
             f"- **Seeds**: {', '.join(map(str, seeds))} ({len(seeds)} per method and scenario).\n"
             f"- **Hardware**: {hardware_totals(study, devices.index)}"
             + ". Torch's default algorithms (results differ slightly with the hardware and thread count)."
             + (" Seconds compare only between runs on the same hardware." if mixed else "") + "\n"
             "- **Cost**: gradient evaluations count one per sample per backward pass (a Hessian- or Gauss-Newton-"
             "vector product counts two; SVRG's full passes and L-BFGS's line-search evaluations count too); "
             "seconds are training wall time, test evaluation excluded.\n"
             "- **Tuning protocol**: each preset's learning rate (and one or two other settings) was chosen by a "
             "sweep of full-budget runs trained on 50,000 training images and judged on the 10,000 held out "
             "(`data.validation_size`); the test set played no part. The final runs train on all 60,000.\n")
    s.append(tuning_section(root, int(budget[0])) + "\n")
    s.append("## 2. Every method in every scenario\n")
    s.append("Mean ± standard deviation over seeds. *Reached* counts the seeds whose test accuracy reached "
             "89.38% within the budget; the cost columns average over those seeds.\n")
    if missing:
        s.append(f"**Not in the study yet** (presets of params.yaml without a run here): {', '.join(missing)}.\n")
    if not stale.empty:
        counts = stale["optimizer"].value_counts().sort_index()
        s.append("**Left out**: runs made with settings that params.yaml no longer has ("
                 + ", ".join(f"{method}: {count}" for method, count in counts.items())
                 + "); `python scripts/study.py` runs these presets again with the current settings.\n")
    for scenario in scenarios:
        s.append(f"### {scenario} ({SCENARIO_TEXT.get(scenario, scenario)})\n")
        s.append(results_table(study, means, scenario) + "\n")
    s.append("## 3. Learning curves\n")
    s.append(f"The best method of each family ({', '.join(best_by_family)}), by mean test accuracy in "
             f"`{scenarios[0]}`; test accuracy and loss against epochs, gradient evaluations and seconds.\n")
    for scenario in scenarios:
        s.append(f"![{scenario} learning curves](figures/curves_{scenario}.png)\n")
    s.append("## 4. Performance profile\n")
    s.append("In the manner of the AlgoPerf benchmark: a problem is one scenario and seed; a method's cost on it is "
             "what it spent to first reach 89.38% (gradient evaluations, or seconds); the curve gives the "
             "fraction of problems a method solved within τ times the cheapest method's cost. A method that never "
             "reached the target on a problem never counts it.\n")
    s.append("![performance profile](figures/profile.png)\n")
    s.append("## 5. The sparse scenario\n")
    s.append(sparse_section(root, study, out) + "\n")
    s.append(f"## 6. The chosen method: {chosen}\n")
    if not qualified:
        s.append(f"**No method beat {100 * TARGET:.2f}% in every scenario on average over seeds**; {chosen} is the "
                 "best on average.\n")
    lines = [f"| scenario | test accuracy (%) | test loss | reached 89.38% |", "|---|---|---|---|"]
    for scenario in scenarios:
        r = chosen_rows[chosen_rows["scenario"] == scenario]
        lines.append(f"| {scenario} | {mean_std(r['test_accuracy'], 100)} | {mean_std(r['test_loss'], 1, 4)} "
                     f"| {int(r['target_epoch'].notna().sum())}/{len(r)} |")
    s.append(f"{chosen} ranks first by test accuracy averaged over the scenarios, among the methods that beat "
             f"the target in every scenario on average over seeds. Family: {chosen_rows['family'].iloc[0]}; "
             f"algorithm `{chosen_rows['algorithm'].iloc[0]}`; its preset: "
             + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in settings.items() if k != "family") + ".\n")
    s.append("\n".join(lines) + "\n")
    algorithm = chosen_rows["algorithm"].iloc[0]
    if algorithm in ALGORITHM_TEXT:
        s.append(f"**How it works**: {ALGORITHM_TEXT[algorithm]}.\n")
    if runner_up:
        s.append(f"Against the runner-up, {runner_up}: {paired(study, chosen, runner_up)}\n")
        s.append(cost_comparison(means, chosen, runner_up) + "\n")
    s.append("## 7. The brief's baseline beside ours\n")
    if baseline.empty:
        s.append("_The baseline preset `sgd` is not in this study._\n")
    else:
        lines = ["| scenario | sgd (the brief's: lr 0.001, batch 64) | " + chosen + " | reference |", "|---|---|---|---|"]
        for scenario in scenarios:
            b, c = baseline[baseline["scenario"] == scenario], chosen_rows[chosen_rows["scenario"] == scenario]
            lines.append(f"| {scenario} | {mean_std(b['test_accuracy'], 100)}% | {mean_std(c['test_accuracy'], 100)}% "
                         f"| {100 * TARGET:.2f}% |")
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
        items.append(f"- {method} stayed below 89.38% on average in {where}; "
                     f"{rows['reached'].sum()} of those {rows['seeds'].sum()} runs reached it.")
    if "sparse" in scenarios and "standard" in scenarios:
        table = means.pivot(index="optimizer", columns="scenario", values="accuracy")
        hurt = (table["sparse"] - table["standard"]).dropna().sort_values()
        for method, delta in hurt[hurt < -0.003].items():
            items.append(f"- The sparse constraint cost {method} {100 * -delta:.2f} percentage points.")
    items += longer_budget_items(root, int(budget[0]))
    for _, r in expensive.drop_duplicates("optimizer").iterrows():
        items.append(f"- {r['optimizer']} costs {r['seconds_per_epoch']:.0f} s per epoch ({r['hardware']}), over 3x "
                     f"the median method's {r['typical']:.0f} s there (and {r['grad_evals_per_epoch'] / 6e4:.1f} "
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
