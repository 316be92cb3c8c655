"""Time one training epoch of every preset in one sitting, interleaved, one torch thread, the median of
several rounds: the seconds the report compares (results/speed.csv).

examples:
  lenet-bench speed                  # every preset, 3 rounds, on the full training set
  lenet-bench speed --presets kfac,shampoo --rounds 5

Run it on an idle machine (nothing else training): it records the load before each timing, and warns
when the machine was busy. It takes about rounds x the sum of the presets' epochs (the s/epoch
column of report/speed.md).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from lenet_bench.errors import UserError
from lenet_bench.paths import DATASET, SPEED

BUSY = 0.25  # load per CPU, besides the timing's own thread, above which the machine is not idle


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", help="comma-separated presets (default: every preset)")
    parser.add_argument("--rounds", type=int, default=3, help="timings per preset, interleaved (default 3, at least 3)")
    parser.add_argument("--output", type=Path, default=SPEED, help=f"default {SPEED}")


def run(args) -> None:
    from lenet_bench import atomic_files
    from lenet_bench import params as params_module
    from lenet_bench.core import data
    from lenet_bench.params import did_you_mean
    from lenet_bench.report import calibration
    from lenet_bench.study import speed

    params = params_module.load()
    params_module.check(params)
    presets = args.presets.split(",") if args.presets else list(params["optimizers"])
    for name in presets:
        if name not in params["optimizers"]:
            raise UserError(f"unknown preset '{name}'{did_you_mean(name, params['optimizers'])}; "
                            f"presets: {', '.join(params['optimizers'])}")
    if args.rounds < 3:
        raise UserError(f"--rounds must be at least 3 (a median of fewer says little), got {args.rounds}")
    if not DATASET.exists():
        raise UserError(f"{DATASET} is missing; make it first: dvc repro prepare_data")
    load = os.getloadavg()[0] / os.cpu_count()
    if load > BUSY:
        print(f"warning: the machine's load is {load:.2f} per CPU: timings compare only on an idle machine")
    timings = speed.measure(params, presets, data.load(DATASET), args.rounds)
    atomic_files.write_text(args.output, timings.to_csv(index=False))
    table = calibration.calibrated(timings)
    print(table.round(4).to_string())
    busy = timings[(timings["load_before"] - timings["threads"]) / timings["cpus"] > BUSY]
    if not busy.empty:
        print(f"warning: {len(busy)} of {len(timings)} timings began with other work on the machine (a load above "
              f"{BUSY} per CPU besides the timing's own thread)")
    print(f"wrote {args.output}")
