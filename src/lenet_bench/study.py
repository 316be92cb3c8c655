"""The study: presets x scenarios x seeds as DVC experiments, each finished run recorded at once in
a committed export (results/study.csv, and its learning curves in results/study_curves.csv), so
that a study can be spread over sittings and machines and a report built from the export alone."""
from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import files
from .experiments import Experiment, learning_curve, result_row
from .params import check, run_config

EXPORT = Path("results/study.csv")
CURVES = Path("results/study_curves.csv")
KEY = ["optimizer", "scenario", "seed"]
EXECUTION = ("device", "threads")  # how a run executes, not what it is: left out of its fingerprint


def study_params(params: dict, preset: str, seed: int, threads: int, epochs: int | None) -> dict:
    """params.yaml as one study run sees it."""
    run = copy.deepcopy(params)
    run["optimizer"]["name"] = preset
    run["train"].update(seed=seed, threads=threads, **({"epochs": epochs} if epochs else {}))
    return run


def overrides(preset: str, seed: int, threads: int, epochs: int | None) -> list[str]:
    """The `dvc exp run -S` overrides that produce study_params."""
    return [f"optimizer.name={preset}", f"train.seed={seed}", f"train.threads={threads}",
            *([f"train.epochs={epochs}"] if epochs else [])]


def fingerprint(params: dict, scenario: str) -> str:
    """What defines a run's result: its whole run configuration but how it executes."""
    config = {k: v for k, v in run_config(params, scenario).items() if k not in EXECUTION}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    preset: str
    seed: int
    scenarios: tuple[str, ...]  # the scenarios still missing from the export
    params: dict

    @property
    def name(self) -> str:
        return f"study-{self.preset}-seed{self.seed}"


def plan(params: dict, presets, scenarios, seeds, threads: int, epochs: int | None,
         export: pd.DataFrame) -> tuple[list[Run], int]:
    """The runs still to do, and how many preset/scenario/seed results the export already has."""
    for name in presets:
        if name not in params["optimizers"]:
            raise ValueError(f"unknown preset '{name}'; presets: {', '.join(params['optimizers'])}")
    for name in scenarios:
        if name not in params["scenarios"]:
            raise ValueError(f"unknown scenario '{name}'; scenarios: {', '.join(params['scenarios'])}")
    done = set(zip(export["optimizer"], export["scenario"], export["seed"], export["fingerprint"])) \
        if not export.empty else set()
    runs, already = [], 0
    for preset in presets:
        for seed in seeds:
            run = study_params(params, preset, seed, threads, epochs)
            check(run)
            missing = tuple(s for s in scenarios if (preset, s, seed, fingerprint(run, s)) not in done)
            already += len(scenarios) - len(missing)
            if missing:
                runs.append(Run(preset, seed, missing, run))
    return runs, already


def read_export(root: Path = Path(".")) -> pd.DataFrame:
    path = root / EXPORT
    return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=[*KEY, "fingerprint"])


def record(exp: Experiment, scenarios, root: Path = Path(".")) -> None:
    """Append (or replace, by preset, scenario and seed) the experiment's results in the export."""
    rows, curves = [], []
    for scenario in scenarios:
        preset = exp.params["optimizers"][exp.params["optimizer"]["name"]]
        rows.append({**result_row(exp, scenario), "fingerprint": fingerprint(exp.params, scenario),
                     "preset_settings": json.dumps(preset, sort_keys=True)})
        curve = pd.read_csv(io.StringIO(learning_curve(exp, scenario)))
        curves.append(curve.assign(optimizer=rows[-1]["optimizer"], scenario=scenario, seed=rows[-1]["seed"]))
    _merge(root / EXPORT, pd.DataFrame(rows), KEY)
    _merge(root / CURVES, pd.concat(curves), [*KEY, "epoch"], replace=KEY)


def _merge(path: Path, new: pd.DataFrame, key: list[str], replace: list[str] | None = None) -> None:
    """Write `new` into the CSV at `path`, dropping the old rows it replaces; atomically."""
    replace = replace or key
    if path.exists():
        old = pd.read_csv(path)
        stale = old.set_index(replace).index.isin(new.set_index(replace).index)
        new = pd.concat([old[~stale], new])
    files.write_text(path, new.sort_values(key).to_csv(index=False))
