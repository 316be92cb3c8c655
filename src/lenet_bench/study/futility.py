"""The futility stop (params.yaml `study.futility`), declared before the runs: in each scenario, a preset whose
mean test accuracy over the stop's seeds is more than `max_gap` below the best preset's there keeps those seeds
alone, and the report lists it as out, with its gap. No preset within `max_gap` of the best is stopped: the stop
saves the seeds of presets that cannot be among the best, and chooses nothing among close rivals."""
from __future__ import annotations

import pandas as pd


def missing(runs: pd.DataFrame, presets: list[str], seeds: list[int], scenario: str) -> list[str]:
    """'preset seed N' for each of the stop's runs of `scenario` that `runs` (at the current settings) lacks."""
    done = set(runs.loc[runs["scenario"] == scenario, ["preset", "seed"]].itertuples(index=False, name=None))
    return [f"{preset} seed {seed}" for preset in presets for seed in seeds if (preset, seed) not in done]


def gaps(runs: pd.DataFrame, presets: list[str], seeds: list[int], scenario: str) -> pd.Series:
    """Each preset's mean test accuracy over the stop's seeds below the best preset's (a fraction, 0 for the best)."""
    on = runs[(runs["scenario"] == scenario) & runs["seed"].isin(seeds) & runs["preset"].isin(presets)]
    means = on.groupby("preset")["test_accuracy"].mean()
    return (means.max() - means).sort_values()


def stopped(runs: pd.DataFrame, params: dict, scenario: str) -> dict[str, float] | None:
    """The presets the stop keeps at its seeds in `scenario`, with their gaps; None while some of the stop's runs
    of that scenario are not in (the rule compares every preset of presets.yaml on every one of its seeds)."""
    rule, presets = params["study"]["futility"], list(params["optimizers"])
    if missing(runs, presets, rule["seeds"], scenario):
        return None
    behind = gaps(runs, presets, rule["seeds"], scenario)
    return {preset: float(gap) for preset, gap in behind.items() if gap > rule["max_gap"]}
