"""Seconds that compare, read side: `lenet-bench speed`'s timings (results/speed.csv) turned into each
preset's seconds per gradient evaluation, and a run's seconds as its gradient evaluations times that rate.
Wall times of runs made on a busy machine differ up to 3x between seeds of one preset; these do not.
Torch-free, so that the report can read it."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from lenet_bench.csv_check import damaged, read_checked
from lenet_bench.params import LABELS
from lenet_bench.paths import SPEED
from lenet_bench.report.text import escaped
from lenet_bench.study.export import KEY

COST_COLUMNS = {"seconds": "grad_evals", "target_seconds": "target_grad_evals"}  # calibrated from


def calibrated(timings: pd.DataFrame) -> pd.DataFrame:
    """Per preset: the median seconds of an epoch and per gradient evaluation, and the spread of its
    rounds (slowest over fastest)."""
    per_eval = timings["seconds"] / timings["grad_evals"]
    grouped = timings.assign(per_eval=per_eval).groupby("preset", sort=False)
    return pd.DataFrame({
        "seconds_per_epoch": grouped["seconds"].median(),
        "seconds_per_grad_eval": grouped["per_eval"].median(),
        "spread": grouped["seconds"].max() / grouped["seconds"].min(),
        "rounds": grouped.size(),
        "load_before": grouped["load_before"].max(),
    })


TIMING_COLUMNS = ["preset", "round", "seconds", "grad_evals", "load_before", "preset_settings", "machine", "cpus",
                  "threads", "torch"]


def read(root: Path = Path(".")) -> pd.DataFrame | None:
    """The committed timings, checked (a damaged file or a timing that is not a positive number stops the command
    in one line naming the file and line), or None before `lenet-bench speed` ran."""
    path = root / SPEED
    if not path.exists():
        return None
    timings = read_checked(path, TIMING_COLUMNS, ["preset", "round"])
    for column in ("seconds", "grad_evals"):
        values = pd.to_numeric(timings[column], errors="coerce")
        if bad := [i for i, v in enumerate(values) if not (math.isfinite(v) and v > 0)]:
            raise damaged(path, bad[0] + 2, f"{column} {timings[column].iloc[bad[0]]!r} is not a positive number")
        timings[column] = values
    return timings


def apply(runs: pd.DataFrame, timings: pd.DataFrame | None) -> pd.DataFrame:
    """Exported runs with their seconds replaced by calibrated ones (the wall time kept as `wall_seconds`,
    the rate as `seconds_per_grad_eval`): NaN for a run whose preset was not timed at the run's settings,
    or everywhere without timings."""
    out = runs.copy()
    out["seconds_per_grad_eval"] = math.nan
    if timings is not None and not out.empty:
        timed = timings.assign(rate=timings["seconds"] / timings["grad_evals"],
                               settings=timings["preset_settings"].map(what_runs))
        rate = timed.groupby(["preset", "settings"])["rate"].median()
        out["seconds_per_grad_eval"] = pd.Series(list(zip(out["preset"], out["preset_settings"].map(what_runs))),
                                                 index=out.index).map(rate)
    return _calibrate(out)


def what_runs(settings: str) -> str:
    """A preset's recorded settings less its labels (family, search space): what decides its speed."""
    preset = json.loads(settings)
    return json.dumps({k: v for k, v in preset.items() if k not in LABELS}, sort_keys=True)


def apply_to_curves(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Learning curves with the calibrated seconds of their runs (`apply`d runs)."""
    rates = runs[[*KEY, "seconds_per_grad_eval"]]
    return _calibrate(curves.drop(columns="seconds_per_grad_eval", errors="ignore").merge(rates, on=KEY, how="left"))


def _calibrate(rows: pd.DataFrame) -> pd.DataFrame:
    if "seconds" in rows:
        rows["wall_seconds"] = rows["seconds"]
    for seconds, grad_evals in COST_COLUMNS.items():
        if grad_evals in rows:
            rows[seconds] = rows[grad_evals] * rows["seconds_per_grad_eval"]
    return rows


def describe(timings: pd.DataFrame | None) -> str:
    """Where the calibrated seconds come from, in one sentence for the report."""
    if timings is None:
        return ("No seconds are given: `lenet-bench speed` has not timed the presets on an idle machine yet "
                f"({SPEED} is missing), and wall times of runs on a busy machine do not compare.")
    table = calibrated(timings)
    busiest = (timings["load_before"] / timings["cpus"]).max()
    return (f"Seconds are calibrated, never the study's wall time: a run's gradient evaluations times its preset's "
            f"seconds per gradient evaluation, from `lenet-bench speed` ({SPEED}): one training epoch of every preset "
            f"in one sitting, interleaved, {int(timings['threads'].iloc[0])} torch thread, the median of "
            f"{int(table['rounds'].min())} rounds, on {escaped(timings['machine'].iloc[0])} "
            f"(torch {escaped(timings['torch'].iloc[0])}), "
            f"with a 1-minute load average of at most {busiest:.2f} per CPU before a timing (the timing's own thread "
            "included). The rounds of one preset differed by at most "
            f"{table['spread'].max():.2f}x ({table['spread'].idxmax()}; median {table['spread'].median():.2f}x). "
            "A preset's rate is measured at its tuned settings in the first scenario.")
