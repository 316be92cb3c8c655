"""Append the finished DVC experiments of this machine to the committed results/experiments.csv.

    lenet-bench export-experiments [--all]

One row per experiment and scenario, with the parameters that produced it. Rows already in the
file are kept (they may come from other machines); a row for the same experiment and scenario is
replaced. Experiments named tune-* (made by earlier grid sweeps) are left out unless --all is given.
"""
import argparse
from pathlib import Path

import pandas as pd

from lenet_bench import atomic_files
from lenet_bench.dvc_experiments import finished_experiments
from lenet_bench.export import result_row

OUTPUT = Path("results/experiments.csv")
KEY = ["experiment", "scenario"]


def rows_from(experiments, include_tuning: bool) -> list[dict]:
    rows = []
    for exp in experiments:
        if exp.name.startswith("tune-") and not include_tuning:
            continue
        for path, m in exp.metrics.items():
            if not m or m == exp.commit_metrics.get(path):
                continue  # a scenario this experiment did not re-run: its commit's metrics
            rows.append(result_row(exp, Path(path).stem))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lenet-bench export-experiments", description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="include tuning experiments")
    args = parser.parse_args(argv)
    new = pd.DataFrame(rows_from(finished_experiments(), args.all))
    old = pd.read_csv(OUTPUT) if OUTPUT.exists() else pd.DataFrame(columns=new.columns)
    merged = pd.concat([old, new]).drop_duplicates(KEY, keep="last").sort_values(KEY)
    atomic_files.write_text(OUTPUT, merged.to_csv(index=False))
    print(f"{OUTPUT}: {len(merged)} rows ({len(new)} from this machine's experiments)")

