"""Tune a preset: queue a grid of DVC experiments judged on a validation hold-out, run them, tabulate.

    python scripts/sweep.py nesterov lr=0.02,0.05,0.1 batch_size=64,128 [--jobs 2] [--epochs 10]
    python scripts/sweep.py adamw lr=0.001,0.003 --scenario l2   # where the preset differs from adam
    python scripts/sweep.py shampoo epochs=20,30      # the best setting with a longer training budget
    python scripts/sweep.py nesterov --table-only     # rebuild tuning/nesterov.csv from experiments
    python scripts/sweep.py adam,nadam --table-only   # several tables from one listing of experiments

Each setting trains on 50,000 training images for one scenario (standard unless told) and is judged
by its accuracy on the 10,000 held-out ones (data.validation_size); the test set plays no part. The
table, one row per setting with every setting of the preset, best first, goes to tuning/<preset>.csv.
"""
import argparse
import itertools
import time
from pathlib import Path

import pandas as pd

from lenet_bench.experiments import finished_experiments, queue_status, start_queue
from lenet_bench.study import queue_experiment
from lenet_bench.tuning import PRECISION, rank_settings

VALIDATION_SIZE = 10_000
PREFIX = "tune"


def queue(preset: str, grid: dict[str, list[str]], epochs: int, scenario: str) -> list[str]:
    """Queue one experiment per setting of the grid; return their names."""
    names = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        name = "-".join([PREFIX, preset, *([scenario] if scenario != "standard" else []),
                         *(f"{k.split('.')[-1]}{v}" for k, v in setting.items())])
        budget = setting.pop("epochs", epochs)  # the training budget, not a setting of the preset
        overrides = [f"data.validation_size={VALIDATION_SIZE}", "train.threads=1", f"train.epochs={budget}",
                     f"optimizer.name={preset}", *(f"optimizers.{preset}.{k}={v}" for k, v in setting.items())]
        queue_experiment(name, overrides, [f"evaluate@{scenario}"])
        names.append(name)
    return names


def wait_for(names: list[str], jobs: int) -> list[str]:
    """Run the queue until these experiments are done (not whatever else shares the queue);
    return those that failed."""
    start_queue(jobs)
    while True:
        states = queue_status()
        mine = [states.get(name) for name in names]
        if "Queued" not in mine and "Running" not in mine:
            return [name for name in names if states.get(name) == "Failed"]
        print(f"waiting: {mine.count('Running')} of {len(names)} running, {mine.count('Queued')} queued", flush=True)
        time.sleep(60)  # each `dvc queue status` costs seconds of CPU


def flat_settings(preset: dict) -> dict:
    """The preset's settings as table columns: schedule: {name: cosine} becomes schedule=cosine."""
    columns = {}
    for key, value in preset.items():
        if key == "family":
            continue
        if isinstance(value, dict):
            columns.update({key if k == "name" else f"{key}.{k}": v for k, v in value.items()})
        else:
            columns[key] = str(value) if isinstance(value, list) else value
    return columns


def table(preset: str, scenario: str, experiments) -> pd.DataFrame:
    rows = []
    for exp in experiments:
        metrics = exp.metrics.get(f"metrics/{scenario}.json") or {}
        if not exp.name.startswith(f"{PREFIX}-{preset}-") or "validation" not in metrics:
            continue
        rows.append({"experiment": exp.name, "scenario": scenario,
                     **flat_settings(exp.params["optimizers"][preset]),
                     "epochs": metrics["cost"]["epochs"], "diverged": metrics["run"]["diverged"],
                     "validation_accuracy": metrics["validation"]["accuracy"],
                     "validation_loss": metrics["validation"]["loss"], "train_loss": metrics["train"]["loss"],
                     "seconds": round(metrics["cost"]["seconds"], 1)})
    if not rows:
        raise SystemExit(f"no finished '{PREFIX}-{preset}-*' experiments with validation metrics")
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", help="the preset to tune (with --table-only: comma-separated presets)")
    parser.add_argument("grid", nargs="*", help="key=v1,v2,... (keys of the preset, e.g. lr, schedule.name)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel experiments (one torch thread each)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--scenario", default="standard", help="the scenario each setting trains")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    failed = []
    if not args.table_only:
        grid = dict(item.split("=", 1) for item in args.grid)
        names = queue(args.preset, {k: v.split(",") for k, v in grid.items()}, args.epochs, args.scenario)
        failed = wait_for(names, args.jobs)
    experiments = finished_experiments()  # list them once for every table
    for preset in args.preset.split(",") if args.table_only else [args.preset]:
        write_table(preset, args.scenario, experiments)
    if failed:
        raise SystemExit(f"error: {len(failed)} setting(s) failed, left out of the table: {', '.join(failed)}"
                         " (their output: dvc queue logs <name>)")


def write_table(preset: str, scenario: str, experiments) -> None:
    out = Path("tuning") / f"{preset}.csv"
    out.parent.mkdir(exist_ok=True)
    # Rows already in the table may come from experiments this machine no longer has.
    earlier = pd.read_csv(out) if out.exists() else None
    result = rank_settings(earlier, table(preset, scenario, experiments))
    result.to_csv(out, index=False, float_format=f"%.{PRECISION}f")
    print(result.to_string(index=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
