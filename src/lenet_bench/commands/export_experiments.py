"""Append the finished DVC experiments of this machine to the committed results/experiments.csv.

examples:
  lenet-bench export-experiments                    # every finished experiment but tune-* ones
  lenet-bench export-experiments --include-tuning   # those too

One row per experiment and scenario, with the parameters that produced it. Rows already in the
file are kept (they may come from other machines); a row for the same experiment and scenario is
replaced. Experiments named tune-* (made by earlier grid sweeps) are left out unless asked for.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lenet_bench.paths import EXPERIMENTS

KEY = ["experiment", "scenario"]


def rows_from(experiments, include_tuning: bool) -> list[dict]:
    from lenet_bench.study.export import result_row

    rows = []
    for exp in experiments:
        if exp.name.startswith("tune-") and not include_tuning:
            continue
        for path, m in exp.metrics.items():
            if not m or m == exp.commit_metrics.get(path):
                continue  # a scenario this experiment did not re-run: its commit's metrics
            rows.append(result_row(exp, Path(path).stem))
    return rows


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include-tuning", action="store_true", help="include the tune-* experiments")


def run(args) -> None:
    import pandas as pd

    from lenet_bench import atomic_files
    from lenet_bench.study.dvc_experiments import finished_experiments

    new = pd.DataFrame(rows_from(finished_experiments(), args.include_tuning))
    old = pd.read_csv(EXPERIMENTS) if EXPERIMENTS.exists() else pd.DataFrame(columns=new.columns)
    merged = pd.concat([old, new]).drop_duplicates(KEY, keep="last").sort_values(KEY)
    atomic_files.write_text(EXPERIMENTS, merged.to_csv(index=False))
    print(f"{EXPERIMENTS}: {len(merged)} rows ({len(new)} from this machine's experiments)")
