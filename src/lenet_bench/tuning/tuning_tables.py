"""A tuning's table, tuning/<preset>.csv, read without Optuna or torch: its rungs, its best trial and
what it spent. The report reads tunings through this module; lenet_bench.tuning.tuning writes them."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lenet_bench.errors import UserError
from lenet_bench.params import NO_PRUNING
from lenet_bench.paths import TUNING as TABLES
from lenet_bench.tuning import search
from lenet_bench.tuning.audit import PRECISION, schedule_rungs

FINISHED = ("COMPLETE", "PRUNED", "FAIL")  # states that count against a tuning's budget (not INTERRUPTED)


class TuningError(UserError, RuntimeError):
    """A tuning cannot start or go on as asked."""


def rungs(params: dict) -> list[int]:
    """The epochs at which the pruner judges a trial: min_epochs x reduction_factor^k below the budget
    (none for `rungs: none`)."""
    settings, epochs = params["tuning"]["rungs"], params["train"]["epochs"]
    if settings == NO_PRUNING:
        return []
    return schedule_rungs(settings["min_epochs"], settings["reduction_factor"], epochs)


def recorded_epochs(params: dict) -> list[int]:
    """Every epoch of the budget: a table shows each trial's validation results after each one."""
    return list(range(1, params["train"]["epochs"] + 1))


def variant(params: dict, unpruned: bool = False, sampler_seed: int | None = None) -> tuple[dict, Path]:
    """The params and the folder of a tuning: the committed one (tuning/), one that prunes nothing, for
    the pruning audit (tuning/unpruned/), or one drawn with another sampler seed, for tuning variance
    (tuning/seed<N>/)."""
    params, folder = copy.deepcopy(params), TABLES
    if unpruned:
        params["tuning"]["rungs"], folder = NO_PRUNING, folder / "unpruned"
    if sampler_seed is not None and sampler_seed != params["tuning"]["sampler"]["seed"]:
        params["tuning"]["sampler"]["seed"], folder = sampler_seed, folder / f"seed{sampler_seed}"
    return params, folder


def table_path(preset: str, root: Path = Path("."), folder: Path = TABLES) -> Path:
    return root / folder / f"{preset}.csv"


def read_table(preset: str, root: Path = Path("."), folder: Path = TABLES) -> pd.DataFrame | None:
    path = table_path(preset, root, folder)
    return pd.read_csv(path) if path.exists() else None


def finished(trials: pd.DataFrame) -> int:
    return int(trials["state"].isin(list(FINISHED)).sum())


def best(trials: pd.DataFrame, params: dict) -> pd.Series | None:
    """The best finished trial: highest validation accuracy at the last epoch, then lowest loss, both to
    the table's precision; the earliest of tied ones."""
    last = params["train"]["epochs"]
    complete = trials[trials["state"] == "COMPLETE"]
    if complete.empty:
        return None
    outcome = complete[[f"val_accuracy@{last}", f"val_loss@{last}"]].round(PRECISION)
    order = outcome.assign(accuracy=-outcome[f"val_accuracy@{last}"], number=complete["number"]).sort_values(
        ["accuracy", f"val_loss@{last}", "number"], kind="stable").index
    return complete.loc[order[0]]


def best_settings(preset: str, trials: pd.DataFrame, params: dict) -> dict:
    """The best trial's settings, as the preset holds them (integers as integers)."""
    chosen = best(trials, params)
    if chosen is None:
        raise TuningError(f"{preset}: no trial of its tuning finished")
    values = {}
    for d in search.parse(preset, params["optimizers"][preset]):
        value = chosen[d.key]
        if d.choices is not None:
            value = next(c for c in d.choices if str(c) == str(value) or (
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isclose(float(c), float(value))))
        elif d.integer:
            value = int(value)
        else:
            value = float(value)
        values[d.key] = value
    return values


@dataclass(frozen=True)
class Budget:
    """What a tuning spent: its trials by Optuna state, and the epochs they trained."""
    done: int       # finished, pruned and failed: what counts against the budget
    complete: int
    pruned: int
    failed: int
    epochs: int


def budget_used(trials: pd.DataFrame) -> Budget:
    states = trials["state"].value_counts()
    return Budget(finished(trials), int(states.get("COMPLETE", 0)),
                  int(states.get("PRUNED", 0)), int(states.get("FAIL", 0)),
                  int(trials["epochs"].sum()))
