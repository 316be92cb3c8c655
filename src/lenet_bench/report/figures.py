"""The report's figures (matplotlib, PNG), drawn from exported results only."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402

from lenet_bench.report.scores import TAU_MAX  # noqa: E402
from lenet_bench.tuning.audit import INTERRUPTED  # noqa: E402

AXES = {"epoch": "epochs", "grad_evals": "gradient evaluations (millions)", "seconds": "training seconds"}
COLOURS = plt.get_cmap("tab10").colors
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = (".", "x", "+", "1")
ACCURACY_FLOOR = 80  # percent: the learning curves show where the methods compete
# Every figure is drawn at the width it prints at (print.css sets images to the text width of A4 with 2 cm
# margins), so that a font size here is its size on paper; none is below SMALLEST.
PRINT_WIDTH, SMALLEST = 6.69, 7  # inches, points
matplotlib.rcParams.update({"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
                            "ytick.labelsize": 7, "legend.fontsize": SMALLEST, "figure.titlesize": 9})


def styles(methods: list[str]) -> dict[str, dict]:
    """A colour, line style and marker for each method, no two alike (up to 40 methods), the same for a
    method in every figure given the same list."""
    if len(methods) > len(COLOURS) * len(LINE_STYLES):
        raise ValueError(f"{len(methods)} methods: more than the {len(COLOURS) * len(LINE_STYLES)} distinct styles")
    return {m: {"color": COLOURS[i % len(COLOURS)], "linestyle": LINE_STYLES[i // len(COLOURS)],
                "marker": MARKERS[i // len(COLOURS)]} for i, m in enumerate(methods)}


def _save(fig, path: Path, layout: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=200, metadata={"Software": None})  # no version stamp: same input, same bytes
    plt.close(fig)


CURVE_PANELS = (("test_accuracy", "epoch"), ("test_accuracy", "grad_evals"), ("test_loss", "grad_evals"))
CURVE_LABELS = {"test_accuracy": "test accuracy (%)", "test_loss": "test loss"}


def learning_curves(curves: pd.DataFrame, methods: list[str], scenarios: list[str], path: Path,
                    style: dict[str, dict], target_percent: float) -> None:
    """A row per scenario: test accuracy against epochs and gradient evaluations, and test loss against
    gradient evaluations; the mean over seeds, in a band of one standard deviation either side."""
    fig, axes = plt.subplots(len(scenarios), len(CURVE_PANELS), figsize=(PRINT_WIDTH, 0.6 + 1.55 * len(scenarios)),
                             squeeze=False)
    rows, loss_shown = [], set()
    for scenario in scenarios:
        drawn = {}
        for method in methods:
            runs = curves[(curves["scenario"] == scenario) & (curves["preset"] == method)].groupby("epoch")
            mean = runs.mean(numeric_only=True).reset_index()
            if not mean.empty:  # a method with no runs in this scenario yet has no line
                drawn[method] = (mean, runs[["test_accuracy", "test_loss"]].std().fillna(0).reset_index(drop=True))
        losses = [v for mean, _ in drawn.values() for v in mean["test_loss"].dropna()]
        # The loss axes show where the methods compete: up to twice the lowest loss.
        loss_limits = (0.95 * min(losses), 1.02 * min(max(losses), 2 * min(losses))) if losses else None
        loss_shown |= {m for m, (mean, _) in drawn.items() if loss_limits and mean["test_loss"].min() <= loss_limits[1]}
        rows.append((scenario, drawn, loss_limits))

    # A method drawn outside some axes stays in the legend, which says so.
    reached = 100 * curves.groupby("preset")["test_accuracy"].max()
    label = {m: m if reached.get(m, 0) >= ACCURACY_FLOOR else
             f"{m} (below the accuracy axes)" if m in loss_shown else f"{m} (off the axes)" for m in methods}
    handles = {}
    for row, (scenario, drawn, loss_limits) in enumerate(rows):
        for method, (mean, spread) in drawn.items():
            for column, (y, x) in enumerate(CURVE_PANELS):
                scale = 100 if y == "test_accuracy" else 1
                xs = mean[x] / (1e6 if x == "grad_evals" else 1)
                line, = axes[row, column].plot(xs, scale * mean[y], label=label[method], markersize=3, linewidth=1,
                                               **style[method])
                axes[row, column].fill_between(xs, scale * (mean[y] - spread[y]), scale * (mean[y] + spread[y]),
                                               color=style[method]["color"], alpha=0.15, linewidth=0)
                handles.setdefault(label[method], line)
        for column, (y, x) in enumerate(CURVE_PANELS):
            ax = axes[row, column]
            ax.grid(True, alpha=0.3)
            if y == "test_accuracy":
                ax.axhline(target_percent, color="grey", linestyle=":")
                ax.set_ylim(ACCURACY_FLOOR, None)
            elif loss_limits:
                ax.set_ylim(*loss_limits)
            ax.set_ylabel(f"{scenario}: {CURVE_LABELS[y]}" if column == 0 else CURVE_LABELS[y])
            if row == len(scenarios) - 1:
                ax.set_xlabel(AXES[x])
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=4, frameon=False)
    legend_inches = 0.2 * math.ceil(len(handles) / 4) + 0.1
    fig.tight_layout(rect=(0, legend_inches / fig.get_size_inches()[1], 1, 1))
    _save(fig, path, layout=False)


def train_and_test_loss(curves: pd.DataFrame, methods: list[str], title: str, path: Path,
                        style: dict[str, dict]) -> None:
    """Training loss (dashed) and test loss (solid) against epochs: the mean over seeds, in a band of one
    standard deviation either side; how well each method optimizes, and how well that generalizes."""
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH, 2.3))
    for method in methods:
        runs = curves[curves["preset"] == method].groupby("epoch")
        mean, spread = runs[["train_loss", "test_loss"]].mean(), runs[["train_loss", "test_loss"]].std().fillna(0)
        for column, linestyle, what in (("train_loss", "--", "train"), ("test_loss", "-", "test")):
            ax.plot(mean.index, mean[column], color=style[method]["color"], linestyle=linestyle, linewidth=1,
                    marker=style[method]["marker"], markersize=3, label=f"{method}, {what} loss")
            ax.fill_between(mean.index, mean[column] - spread[column], mean[column] + spread[column],
                            color=style[method]["color"], alpha=0.15, linewidth=0)
    ax.set_xlabel("epochs")
    ax.set_ylabel("loss (per sample)")
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(ncol=2, frameon=False)
    _save(fig, path)


def plain_log_ticks(axis) -> None:
    """A log axis labelled 1, 2, 3, 5, 10 (and 0.2, 0.3, 0.5), not 10^0 and 2 x 10^0."""
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axis.set_minor_formatter(ticker.NullFormatter())


def performance_profile(ratios: dict[str, dict[str, np.ndarray]], path: Path, style: dict[str, dict]) -> None:
    """For each cost measure, the fraction of problems a method solves within tau times the best
    method's cost (inf where it never reaches the target), against tau."""
    fig, axes = plt.subplots(1, len(ratios), figsize=(PRINT_WIDTH, 3.1), sharey=True)
    for ax, (measure, by_method) in zip(np.atleast_1d(axes), ratios.items()):
        finite = [r[np.isfinite(r)] for r in by_method.values()]
        largest = max([1.0, *[float(r.max()) for r in finite if len(r)]])
        taus = np.geomspace(1, max(1.1 * TAU_MAX, 1.1 * largest), 200)  # at least the range the score covers
        for method, r in sorted(by_method.items(), key=lambda item: -np.isfinite(item[1]).mean()):
            line = {k: v for k, v in style[method].items() if k != "marker"}
            ax.step(taus, [(r <= tau).mean() for tau in taus], where="post", label=method, **line)
        ax.axvline(TAU_MAX, color="grey", linestyle=":", linewidth=1)  # the score's area ends here
        ax.set_xscale("log")
        ax.set_xlim(1, taus[-1])
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel(f"τ (cost in {measure} / best method's)")
        ax.grid(True, which="both", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("fraction of problems solved")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)  # below the panels, off the lines
    fig.tight_layout(rect=(0, 0.04 * math.ceil(len(labels) / 4), 1, 1))
    _save(fig, path, layout=False)


def density_curve(sparse: pd.DataFrame, dense: tuple[float, float] | None, title: str, path: Path,
                  target_percent: float) -> None:
    """Test accuracy against the density of fc1+fc2: a curve per method run at several densities
    (anchored at the dense run, when given as (density, accuracy)), a marker for the others."""
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH, 3.1))
    markers = iter("s^vD<>P*xh")
    for method, rows in sparse.groupby("sparsity_method"):
        rows = rows.sort_values("density")
        if len(rows) > 1:
            xs, ys = [*rows["density"]], [*rows["test_accuracy"]]
            if dense:
                xs, ys = [*xs, dense[0]], [*ys, dense[1]]
            ax.plot(xs, [100 * y for y in ys], "o-", label=method)
        else:
            ax.plot(rows["density"], 100 * rows["test_accuracy"], next(markers), label=method, alpha=0.8)
    ax.axhline(target_percent, color="grey", linestyle=":", label=f"{target_percent:.2f}% (the target)")
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("density of fc1 + fc2 weights (nonzero / 40,800)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(fig, path)


def lr_sensitivity(trials: dict[str, pd.DataFrame], families: dict[str, str], path: Path) -> None:
    """As DeepOBS draws it: each tuning trial's validation accuracy against its learning rate, one panel
    per family, each preset of a panel in a colour of its own. A finished trial is a filled marker at its
    final accuracy; a pruned one a hollow marker at the accuracy it was stopped with. A panel shows the top
    (from ACCURACY_FLOOR, or 10 points under its best); a trial below sits on its floor as a triangle."""
    groups = sorted(set(families.values()))
    columns = 4
    rows = math.ceil(len(groups) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(PRINT_WIDTH, 2.15 * rows), squeeze=False)
    for ax, family in zip(axes.flat, groups):
        panel = {}
        for preset in [p for p in trials if families[p] == family]:
            table = trials[preset][trials[preset]["state"] != INTERRUPTED]  # its rerun is drawn
            accuracy = table.filter(regex=r"^val_accuracy@").ffill(axis=1).iloc[:, -1] * 100
            panel[preset] = (table["lr"], accuracy, table["state"] == "COMPLETE")
        top = max((float(a.max()) for _, a, _ in panel.values() if a.notna().any()), default=math.nan)
        floor = min(ACCURACY_FLOOR, top - 10) if math.isfinite(top) else 0.0  # a family far below still shows
        for colour, (preset, (lr, accuracy, finished)) in zip(COLOURS, panel.items()):
            below = accuracy < floor
            shown = accuracy.where(~below, floor)  # a trial under the floor sits on it, a triangle
            for kept, marker in ((~below, "o"), (below, "v")):
                ax.plot(lr[kept & finished], shown[kept & finished], marker, color=colour, markersize=3.5,
                        linestyle="none", label=preset if marker == "o" else None)
                ax.plot(lr[kept & ~finished], shown[kept & ~finished], marker, markerfacecolor="none",
                        color=colour, markersize=3.5, linestyle="none")
        ax.set_xscale("log")
        ax.set_title(family)
        if math.isfinite(top):
            ax.set_ylim(floor - 0.6, top + 1)  # room for the triangles under the floor
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), handletextpad=0.1, borderaxespad=0,
                  columnspacing=0.4, handlelength=0.8, ncol=2, frameon=False)  # below: no point is hidden
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("validation accuracy (%)")
    fig.supxlabel("learning rate (log scale); filled: finished trial, hollow: pruned; "
                  "triangle: below the panel's floor", fontsize=SMALLEST)
    _save(fig, path)


def critical_difference(accuracy: pd.DataFrame, path: Path, alpha: float) -> object:
    """Demšar's critical-difference diagram of `accuracy` (a row per problem, a column per method), drawn by
    autorank's Friedman test with Nemenyi's post-hoc test; returns autorank's result (its critical difference)."""
    import contextlib
    import io
    import warnings

    from autorank import autorank, plot_stats

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # it says which tests it skips
        warnings.simplefilter("ignore")
        result = autorank(accuracy, alpha=alpha, force_mode="nonparametric", order="descending")
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH, 1.0 + 0.11 * len(accuracy.columns)))
    with contextlib.redirect_stdout(io.StringIO()):
        plot_stats(result, ax=ax, allow_insignificant=True)
    for text in ax.texts:
        text.set_fontsize(8)
    _save(fig, path, layout=False)
    return result
