"""A sweep's table (tuning/<preset>.csv): its settings ranked by what the validation hold-out says."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

PRECISION = 4  # decimals a table keeps: settings equal to these are tied
# A table's columns that record what a setting did, not what it was.
OUTCOMES = {"experiment", "scenario", "epochs", "diverged", "validation_accuracy", "validation_loss", "train_loss",
            "seconds"}


def tables(root: Path) -> list[tuple[str, pd.DataFrame]]:
    """Every sweep table under `root`/tuning, with its preset's name, in name order."""
    return [(path.stem, pd.read_csv(path)) for path in sorted((root / "tuning").glob("*.csv"))]


def rank_settings(earlier: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment, best first: higher validation accuracy, then lower validation loss, both
    to the table's precision. A setting run again takes its new result but keeps its place, and tied
    settings stay in the order they were first tried, so adding settings never reorders a tie."""
    rows = pd.concat([t for t in (earlier, new) if t is not None and not t.empty], ignore_index=True)
    first_tried = rows.drop_duplicates("experiment", keep="first")["experiment"]
    latest = rows.drop_duplicates("experiment", keep="last").set_index("experiment").loc[first_tried].reset_index()
    outcome = latest[["validation_accuracy", "validation_loss"]].round(PRECISION)
    order = outcome.assign(accuracy=-outcome["validation_accuracy"]).sort_values(
        ["accuracy", "validation_loss"], kind="stable").index
    return latest.loc[order].reset_index(drop=True)


def tied_with_best(sweep: pd.DataFrame) -> int:
    """How many settings of a ranked table tie with its first one."""
    outcome = sweep[["validation_accuracy", "validation_loss"]].round(PRECISION)
    return int((outcome == outcome.iloc[0]).all(axis=1).sum())


def at_budget(sweep: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """The settings tried with the study's budget, best first: those a preset is chosen from."""
    return sweep[sweep["epochs"] == epochs]


def budgets(sweep: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """The best setting trained with `epochs` and, the same setting otherwise, with other budgets
    (`scripts/sweep.py <preset> epochs=...`), fewest epochs first; empty where no other budget was tried."""
    tuned = at_budget(sweep, epochs)
    if "train_loss" not in sweep or tuned.empty or len(tuned) == len(sweep):
        return sweep.iloc[:0]
    settings = [c for c in sweep.columns if c not in OUTCOMES]
    best = tuned.iloc[0]
    same = (sweep[settings].eq(best[settings]) | (sweep[settings].isna() & best[settings].isna())).all(axis=1)
    return sweep[same].sort_values("epochs", kind="stable")
