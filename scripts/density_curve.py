"""Plot test accuracy against the density of fc1+fc2, from the committed results/experiments.csv.

    python scripts/density_curve.py    # writes results/density_curve.png

The curve is the `gradual` method at densities 0.6, 0.3, 0.1 and 0.03 (experiments
sparse-gradual and sparse-gradual-density<d>), anchored at 1.0 by the dense standard run of
metrics/standard.json; the other methods at 0.6 and the structured `neurons` run are marked apart.
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
    curve = sparse[sparse["experiment"].str.startswith("sparse-gradual")].sort_values("density")
    xs = [*curve["density"], dense["nonzero"]["fc1_fc2_density"]]
    ys = [*curve["test_accuracy"], dense["test"]["accuracy"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, [100 * y for y in ys], "o-", label="gradual magnitude pruning (and dense)")
    others = sparse[~sparse["experiment"].str.startswith("sparse-gradual")]
    for marker, (_, row) in zip("s^vD<>P", others.iterrows()):  # distinct shapes: some runs tie
        ax.plot(row["density"], 100 * row["test_accuracy"], marker, label=row["sparsity_method"],
                alpha=0.8)
    ax.axhline(89.38, color="grey", linestyle=":", label="89.38% (the brief's target)")
    ax.set_xscale("log")
    ax.set_xlabel("density of fc1 + fc2 weights (nonzero / 40,800)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"LeNet-5, 10 epochs, optimizer {dense['run']['optimizer']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUTPUT, dpi=120)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
