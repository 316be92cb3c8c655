"""Plot test accuracy against the density of fc1+fc2, from the committed results/experiments.csv.

    python scripts/density_curve.py    # writes results/density_curve.png

Each method run at several densities (experiments sparse-<method> and sparse-<method>-density<d>)
is drawn as a curve, anchored at density 1.0 by the dense standard run of metrics/standard.json;
methods run at one density only, and the structured `neurons` run, are single markers.
"""
import json
from pathlib import Path

import pandas as pd

from lenet_bench.figures import density_curve

OUTPUT = Path("results/density_curve.png")


def main() -> None:
    runs = pd.read_csv("results/experiments.csv")
    dense = json.loads(Path("metrics/standard.json").read_text())
    density_curve(runs[runs["scenario"] == "sparse"],
                  (dense["nonzero"]["fc1_fc2_density"], dense["test"]["accuracy"]),
                  f"LeNet-5, 10 epochs, optimizer {dense['run']['optimizer']}, one seed", OUTPUT)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
