"""The chosen method's ablation (study.ablation in params.yaml): each variant switches one component of a
preset off, sets it to its plain default, or adds one, and keeps everything else as tuned but its step size:
a component such as momentum changes the size of a step at a given lr, so each variant's lr is tuned again
(`lenet-bench tune --ablation`: lr_trials quasi-random points over the preset's lr range, the same rungs, into
tuning/ablation/). Every variant is a preset of its own, named <preset>-<variant>, that the study runs like any
other at its tuned lr (`lenet-bench study --ablation`), into an export of its own."""
from __future__ import annotations

import copy
from pathlib import Path

from lenet_bench.errors import UserError
from lenet_bench.paths import TUNING
from lenet_bench.tuning import tuning_tables
from lenet_bench.tuning.search import put

EXPORT = Path("results/ablation.csv")  # the variants' runs; the tuned preset's own are the study's
TUNINGS = TUNING / "ablation"          # each variant's lr tuning


def variant_name(preset: str, variant: str) -> str:
    return f"{preset}-{variant}"


def with_variants(params: dict) -> tuple[dict, list[str]]:
    """params with every variant added as a preset, and the variants' preset names in declared order."""
    spec = params["study"]["ablation"]
    preset = spec["preset"]
    params = copy.deepcopy(params)
    names = []
    for variant, changes in spec["variants"].items():
        name = variant_name(preset, variant)
        if name in params["optimizers"]:
            raise UserError(f"study.ablation.variants.{variant}: its preset name '{name}' is taken by a preset of "
                            "presets.yaml; rename the variant")
        settings = copy.deepcopy(params["optimizers"][preset])
        settings.pop("search", None)
        for key, value in changes.items():
            if value is None:  # the component removed, e.g. averaging: null
                settings.pop(key, None)
            else:
                put(settings, key, value)
        params["optimizers"][name] = settings
        params["tuning"]["fixed"].append(name)  # a variant is run, never tuned
        names.append(name)
    return params, names


def changes_text(changes: dict) -> str:
    """'momentum 0.0', 'schedule constant': what a variant changes, for tables."""
    parts = []
    for key, value in changes.items():
        shown = "none" if value is None else value.get("name", value) if isinstance(value, dict) else value
        parts.append(f"{key} {shown:g}" if isinstance(shown, float) else f"{key} {shown}")
    return ", ".join(parts)


def variant_tunings(params: dict) -> tuple[dict, list[str]]:
    """params for tuning the variants' lr: each variant a preset whose search space is its preset's lr range
    alone, with study.ablation.lr_trials trials; and the variants' names."""
    params, names = with_variants(params)
    spec = params["study"]["ablation"]
    lr_range = copy.deepcopy(params["optimizers"][spec["preset"]]["search"]["lr"])
    for name in names:
        params["optimizers"][name]["search"] = {"lr": lr_range}
        params["tuning"]["fixed"].remove(name)
    params["tuning"]["trials"] = spec["lr_trials"]
    return params, names


def tuned_variants(params: dict, root: Path = Path("."), strict: bool = True) -> tuple[dict, list[str]]:
    """params with every variant at the lr its tuning chose (tuning/ablation/<variant>.csv), and their names.
    A variant whose tuning is missing or unfinished is a UserError naming the command to run, or with `strict`
    off, left out (no run is at its settings yet)."""
    tuning, names = variant_tunings(params)
    ran, _ = with_variants(params)
    tuned = []
    for name in names:
        trials = tuning_tables.read_table(name, root, TUNINGS)
        if trials is None or tuning_tables.finished(trials) < tuning["tuning"]["trials"]:
            if not strict:
                del ran["optimizers"][name]
                continue
            done = 0 if trials is None else tuning_tables.finished(trials)
            raise UserError(f"study.ablation: variant {name} has {done} of its {tuning['tuning']['trials']} lr trials "
                            f"finished ({TUNINGS}/{name}.csv); tune the variants first: lenet-bench tune --ablation")
        ran["optimizers"][name]["lr"] = tuning_tables.best_settings(name, trials, tuning)["lr"]
        tuned.append(name)
    return ran, tuned
