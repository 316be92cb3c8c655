"""The chosen method's ablation (study.ablation in params.yaml): each variant switches one component of a
preset off, or sets it to its plain default, and keeps everything else as tuned. Every variant is a preset
of its own, named <preset>-<variant>, that the study runs like any other, into an export of its own."""
from __future__ import annotations

import copy
from pathlib import Path

from lenet_bench.errors import UserError
from lenet_bench.tuning.search import put

EXPORT = Path("results/ablation.csv")  # the variants' runs; the tuned preset's own are the study's


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
            put(settings, key, value)
        params["optimizers"][name] = settings
        params["tuning"]["fixed"].append(name)  # a variant is run, never tuned
        names.append(name)
    return params, names


def changes_text(changes: dict) -> str:
    """'momentum 0.0', 'schedule constant': what a variant changes, for tables."""
    parts = []
    for key, value in changes.items():
        shown = value.get("name", value) if isinstance(value, dict) else value
        parts.append(f"{key} {shown:g}" if isinstance(shown, float) else f"{key} {shown}")
    return ", ".join(parts)
