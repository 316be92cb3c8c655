"""What the report is built from, read once: the study's current runs and curves, apart from the stale and
those made elsewhere; the tunings, the audit, the calibration, the ablation."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lenet_bench.params import load as load_params
from lenet_bench.report import calibration
from lenet_bench.report.text import hardware
from lenet_bench.study import ablation
from lenet_bench.study.export import (
    DEVICE,
    KEY,
    THREADS,
    read_export,
    sort_runs,
)
from lenet_bench.tuning.tuning_tables import read_table


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
    earlier_prune: pd.DataFrame  # sparse runs of an earlier study that pruned at epoch 5 (PRUNED_AT_5), if kept

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
                   ablation_runs(root, params),
                   pd.read_csv(root / PRUNED_AT_5) if (root / PRUNED_AT_5).exists() else pd.DataFrame(columns=KEY))


# The sparse runs of the study before #40 (commit dccb777), which pruned at the end of epoch 5, kept to measure
# what pruning at epoch 1 (so that a target hit counts only under the bound) costs in accuracy.
PRUNED_AT_5 = Path("results/previous/sparse_prune_epoch5.csv")


def ablation_runs(root: Path, params: dict) -> pd.DataFrame:
    """The ablation's runs at the current settings of its variants (none before `study --ablation` ran)."""
    if "ablation" not in params["study"] or not (root / ablation.EXPORT).exists():
        return pd.DataFrame(columns=KEY)
    variants = ablation.tuned_variants(params, root, strict=False)[0]  # a variant not tuned yet has no current run
    return sort_runs(read_export(root, ablation.EXPORT), variants).current


def read_audit(root: Path) -> pd.DataFrame | None:
    path = root / "tuning" / "audit.csv"
    return pd.read_csv(path) if path.exists() else None


def tuning_tables(root: Path, params: dict) -> dict[str, pd.DataFrame | None]:
    """Each tuned preset's table of trials (tuning/<preset>.csv), None where it is not tuned yet."""
    return {p: read_table(p, root) for p in params["optimizers"] if p not in params["tuning"]["fixed"]}
