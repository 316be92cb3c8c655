"""Plot test accuracy against the density of fc1+fc2, from the committed results/experiments.csv.

    python scripts/density_curve.py    # writes results/density_curve.png

Each method run at several densities (experiments sparse-<method> and sparse-<method>-density<d>)
is drawn as a curve, anchored at density 1.0 by the dense standard run of metrics/standard.json;
methods run at one density only, and the structured `neurons` run, are single markers.
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

OUTPUT = Path("results/density_curve.png")


def main() -> None:
    runs = pd.read_csv("results/experiments.csv")
    sparse = runs[runs["scenario"] == "sparse"]
    dense = json.loads(Path("metrics/standard.json").read_text())
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    markers = iter("s^vD<>P")
    for method, rows in sparse.groupby("sparsity_method"):
        rows = rows.sort_values("density")
        if len(rows) > 1:
            xs = [*rows["density"], dense["nonzero"]["fc1_fc2_density"]]
            ys = [*rows["test_accuracy"], dense["test"]["accuracy"]]
            ax.plot(xs, [100 * y for y in ys], "o-", label=f"{method} (to the dense run)")
        else:
            ax.plot(rows["density"], 100 * rows["test_accuracy"], next(markers), label=method, alpha=0.8)
    ax.axhline(89.38, color="grey", linestyle=":", label="89.38% (the brief's target)")
    ax.set_xscale("log")
    ax.set_xlabel("density of fc1 + fc2 weights (nonzero / 40,800)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"LeNet-5, 10 epochs, optimizer {dense['run']['optimizer']}, one seed")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUTPUT, dpi=120)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
