"""The pruning audit: successive halving replayed offline on the full curves of unpruned tunings.

Every schedule of first rung x reduction factor in params.yaml's `tuning.audit` is judged on each audited
preset by what it would have cost (epochs) and what it would have lost (regret: the best final validation
accuracy of the unpruned tuning, less that of the trial the schedule would have picked). The tuning's rungs
are the cheapest schedule whose regret stays within `max_regret` on every audited preset; if none does, a
tuning prunes nothing. Reads tables only (no torch, no Optuna), so the report can show it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

PRECISION = 4  # decimals a tuning table keeps: trials equal to these are tied
INTERRUPTED = "INTERRUPTED"  # a table's state for a trial whose worker stopped mid-trial; a later trial reran it


def schedule_rungs(min_epochs: int, reduction_factor: int, epochs: int) -> list[int]:
    """The epochs at which successive halving judges a trial: min_epochs x reduction_factor^k, before the
    last epoch (a trial judged at its last epoch has cost all it will cost)."""
    result, epoch = [], min_epochs
    while epoch < epochs:
        result.append(epoch)
        epoch *= reduction_factor
    return result


def promoted(value: float, earlier: list[float], reduction_factor: int) -> bool:
    """Optuna's SuccessiveHalvingPruner at one rung: a trial goes on if its value is within the top
    1/reduction_factor of the values that reached the rung so far, its own included (and, while fewer than
    reduction_factor have, only if it is the best of them). A NaN never goes on."""
    if math.isnan(value):
        return False
    competing = sorted([*earlier, value])
    keep = max(len(competing) // reduction_factor, 1)
    return value >= competing[-keep]


@dataclass(frozen=True)
class Replay:
    picked: int | None   # the trial number the schedule would choose; None if no trial finished
    epochs: int          # the epochs it would have spent
    regret: float        # best final validation accuracy, less the picked trial's (0 if it picks the best)


def final_accuracy(trials: pd.DataFrame, epochs: int) -> pd.Series:
    return trials[f"val_accuracy@{epochs}"].round(PRECISION)


def replay(trials: pd.DataFrame, rungs: list[int], reduction_factor: int, epochs: int) -> Replay:
    """Successive halving over an unpruned tuning's trials, in the order of their numbers (the order in
    which one worker would have run them), as Optuna's pruner would have judged them."""
    reached: dict[int, list[float]] = {rung: [] for rung in rungs}
    spent, survivors = 0, []
    trials = trials[trials["state"] != INTERRUPTED] if "state" in trials else trials  # its rerun is judged
    for _, trial in trials.sort_values("number").iterrows():
        trained = int(trial["epochs"])  # a diverged trial stops before the budget by itself
        stopped_at = None
        for rung in rungs:
            if rung >= trained:
                break
            value = float(trial[f"val_accuracy@{rung}"])
            if not promoted(value, reached[rung], reduction_factor):
                stopped_at = rung
            reached[rung].append(value)
            if stopped_at is not None:
                break
        spent += stopped_at if stopped_at is not None else trained
        if stopped_at is None:
            survivors.append(trial)
    final = final_accuracy(trials, epochs)
    best_possible = final.max()
    candidates = pd.DataFrame(survivors)
    if candidates.empty or final_accuracy(candidates, epochs).isna().all():
        return Replay(None, spent, float("nan"))
    order = candidates.assign(accuracy=-final_accuracy(candidates, epochs),
                              loss=candidates[f"val_loss@{epochs}"].round(PRECISION))
    picked = order.sort_values(["accuracy", "loss", "number"], kind="stable").iloc[0]
    regret = round(float(best_possible - round(picked[f"val_accuracy@{epochs}"], PRECISION)), PRECISION)
    return Replay(int(picked["number"]), spent, regret)


def audit(tables: dict[str, pd.DataFrame], settings: dict, epochs: int) -> pd.DataFrame:
    """One row per schedule and audited preset, and one for no pruning: the rungs, the regret and the
    epochs spent. `tables` maps each audited preset to its unpruned tuning's table."""
    schedules = [(None, None)] + [(m, f) for m in settings["min_epochs"] for f in settings["reduction_factors"]]
    rows = []
    for min_epochs, factor in schedules:
        rungs = [] if min_epochs is None else schedule_rungs(min_epochs, factor, epochs)
        for preset, trials in tables.items():
            result = replay(trials, rungs, factor or 2, epochs)
            rows.append({"min_epochs": min_epochs, "reduction_factor": factor,
                         "rungs": " ".join(map(str, rungs)) or "none", "preset": preset,
                         "picked": result.picked, "regret": result.regret, "epochs": result.epochs})
    return pd.DataFrame(rows).astype({"min_epochs": "Int64", "reduction_factor": "Int64", "picked": "Int64"})


def summary(replays: pd.DataFrame, max_regret: float) -> pd.DataFrame:
    """One row per schedule: its worst regret over the audited presets, the epochs it spends over all of
    them, and whether it stays within max_regret on every one; cheapest first."""
    keys = ["min_epochs", "reduction_factor", "rungs"]
    grouped = replays.groupby(keys, dropna=False, sort=False)
    table = grouped.agg(worst_regret=("regret", "max"), epochs=("epochs", "sum")).reset_index()
    table["within"] = grouped["regret"].apply(lambda r: bool(r.notna().all() and (r <= max_regret + 1e-12).all())
                                              ).to_numpy()
    return table.sort_values(["epochs", "min_epochs", "reduction_factor"], kind="stable").reset_index(drop=True)


def chosen(replays: pd.DataFrame, max_regret: float) -> dict | str:
    """The rungs a tuning uses: the cheapest schedule within max_regret on every audited preset, as
    params.yaml's tuning.rungs holds it ({min_epochs, reduction_factor}), or 'none'."""
    table = summary(replays, max_regret)
    fit = table[table["within"] & table["min_epochs"].notna()]
    unpruned = table[table["min_epochs"].isna()].iloc[0]
    if fit.empty or fit.iloc[0]["epochs"] >= unpruned["epochs"]:
        return "none"
    best = fit.iloc[0]
    return {"min_epochs": int(best["min_epochs"]), "reduction_factor": int(best["reduction_factor"])}


def markdown(replays: pd.DataFrame, max_regret: float, per_preset: bool = True) -> str:
    """The replay as a table, cheapest schedule first: per audited preset (unless not `per_preset`) the
    regret (points of validation accuracy) and the epochs spent, then the worst regret and all the epochs."""
    presets = list(dict.fromkeys(replays["preset"])) if per_preset else []
    header = ["first rung", "factor", "rungs", *(f"{p}: regret, epochs" for p in presets),
              "worst regret", "epochs", "within"]
    lines = [_row(header), "|---" * len(header) + "|"]
    for _, row in summary(replays, max_regret).iterrows():
        same = replays[(replays["rungs"] == row["rungs"])
                       & (replays["reduction_factor"].fillna(0) == (0 if pd.isna(row["reduction_factor"])
                                                                     else row["reduction_factor"]))]
        cells = same.set_index("preset")
        lines.append(_row([_or_dash(row["min_epochs"]), _or_dash(row["reduction_factor"]), row["rungs"],
                           *(f"{_points(cells.at[p, 'regret'])}, {cells.at[p, 'epochs']}" for p in presets),
                           _points(row["worst_regret"]), str(row["epochs"]), "yes" if row["within"] else "no"]))
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _or_dash(value) -> str:
    return "–" if pd.isna(value) else str(int(value))  # read back from CSV, a column with a gap is float


def _points(regret: float) -> str:
    return "–" if pd.isna(regret) else f"{100 * regret:.2f}"


def describe_rungs(rungs: dict | str) -> str:
    """tuning.rungs as params.yaml writes it."""
    if rungs == "none":
        return "none"
    return f"{{min_epochs: {rungs['min_epochs']}, reduction_factor: {rungs['reduction_factor']}}}"
