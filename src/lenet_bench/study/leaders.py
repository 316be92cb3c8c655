"""The leader rule (params.yaml `study.leaders`): which presets of a scenario earn the confirming seeds; and
the budget rule (`study.budget`): which cheap presets earn them too.

Declared before the runs and applied to the choosing seeds alone (`study.seeds`), so that the seeds that
rank the leaders afterwards (`confirm_seeds`) played no part in choosing them.
"""
from __future__ import annotations

import pandas as pd

# criterion -> (the export's column, whether lower is better)
CRITERIA = {"mean_test_accuracy": ("test_accuracy", False), "mean_test_loss": ("test_loss", True)}
# a second criterion among tied leaders -> the export's column (lower is better; a miss counts after any hit)
TIE_BREAKS = {"target_grad_evals": "target_grad_evals", "target_epoch": "target_epoch"}
TIE_BREAK_NAMES = {"target_grad_evals": "gradient evaluations", "target_epoch": "epochs"}


def leaders(runs: pd.DataFrame, rule: dict, choosing_seeds: list[int], scenario: str) -> list[str]:
    """The rule's `count` best presets in `scenario` by its criterion, from `runs` (the export's runs at the
    current settings on the study's hardware) on the choosing seeds only; ties go to the earlier name."""
    column, ascending = CRITERIA[rule["criterion"]]
    chosen_on = runs[(runs["scenario"] == scenario) & runs["seed"].isin(choosing_seeds)]
    means = chosen_on.groupby("preset")[column].mean().sort_index()
    return list(means.sort_values(ascending=ascending, kind="stable").index[:rule["count"]])


def missing(runs: pd.DataFrame, presets: list[str], choosing_seeds: list[int], scenario: str) -> list[str]:
    """'preset seed N' for each choosing run of `scenario` that `runs` lacks: the rules compare means over
    the same seeds, so a choice made before they are all in is provisional."""
    done = set(runs.loc[runs["scenario"] == scenario, ["preset", "seed"]].itertuples(index=False, name=None))
    return [f"{preset} seed {seed}" for preset in presets for seed in choosing_seeds if (preset, seed) not in done]


def cheapest(runs: pd.DataFrame, count: int, choosing_seeds: list[int], scenario: str) -> list[str]:
    """The `count` presets of `scenario` that reached the target on every choosing seed, the fewest mean
    gradient evaluations to it first (ties to the earlier name): the candidates of the budget
    recommendation, which earn the confirming seeds so that it rests on all of them."""
    chosen_on = runs[(runs["scenario"] == scenario) & runs["seed"].isin(choosing_seeds)]
    by_preset = chosen_on.groupby("preset")["target_grad_evals"]
    every_seed = by_preset.count() == len(choosing_seeds)
    means = by_preset.mean()[every_seed].sort_index()
    return list(means.sort_values(kind="stable").index[:count])
