"""The study's plan: presets x scenarios x seeds (the futility stop's seeds first, the rest for the presets it
keeps), less what the export already holds with the same settings; and the overrides that make one run a DVC
experiment."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lenet_bench.params import check
from lenet_bench.study import futility
from lenet_bench.study.dvc_experiments import with_curves
from lenet_bench.study.export import fingerprint, on_study_hardware, record, sort_runs, study_params, study_settings


def overrides(preset: str, seed: int, threads: int, epochs: int | None) -> list[str]:
    """The `dvc exp run -S` overrides that produce study_params."""
    return [f"{key}={value}" for key, value in study_settings(preset, seed, threads, epochs).items()]


def current_runs(export: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The export's runs at params.yaml's settings on the study's hardware."""
    return sort_runs(export, params).current


def owed_seeds(export: pd.DataFrame, params: dict, presets: list[str], scenarios: list[str]) -> dict:
    """(preset, scenario) -> the seeds the study owes it: the futility stop's seeds until every preset of the
    scenario has run them; then study.seeds, but for the presets the stop keeps at its seeds."""
    runs, rule = current_runs(export, params), params["study"]["futility"]
    owed = {}
    for scenario in scenarios:
        stopped = futility.stopped(runs, params, scenario)
        for preset in presets:
            decided = stopped is not None and preset not in stopped
            owed[preset, scenario] = params["study"]["seeds"] if decided else rule["seeds"]
    return owed


def grid(presets: list[str], scenarios: list[str], seeds: list[int]) -> dict:
    """(preset, scenario) -> seeds: every preset on every scenario and seed."""
    return {(preset, scenario): seeds for preset in presets for scenario in scenarios}


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-9' (or a mix, '0-2,7'), as a list of seeds; ValueError naming the bad part."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())):
            raise ValueError(f"--seeds: '{part}' is neither a seed nor a range like 0-9")
        if dash and int(high) < int(low):
            raise ValueError(f"--seeds: '{part}' ends below its start; write it {high}-{low}")
        seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    return sorted(set(seeds))


@dataclass(frozen=True)
class Run:
    preset: str
    seed: int
    scenarios: tuple[str, ...]  # the scenarios still missing from the export
    params: dict

    @property
    def name(self) -> str:
        return f"study-{self.preset}-seed{self.seed}"


def plan(params: dict, wanted: dict, threads: int, epochs: int | None,
         export: pd.DataFrame) -> tuple[list[Run], int]:
    """The runs still to do of `wanted` ((preset, scenario) -> seeds), and how many of its results the export
    already has."""
    for name in dict.fromkeys(preset for preset, _ in wanted):
        if name not in params["optimizers"]:
            raise ValueError(f"unknown preset '{name}'; presets: {', '.join(params['optimizers'])}")
    for name in dict.fromkeys(scenario for _, scenario in wanted):
        if name not in params["scenarios"]:
            raise ValueError(f"unknown scenario '{name}'; scenarios: {', '.join(params['scenarios'])}")
    if not export.empty:
        export = export[on_study_hardware(export)]  # a run on other hardware is one the study still owes
    done = set(zip(export["preset"], export["scenario"], export["seed"], export["fingerprint"])) \
        if not export.empty else set()
    runs, already = [], 0
    for (preset, scenario), seeds in wanted.items():
        for seed in seeds:
            run = study_params(params, preset, seed, threads, epochs)
            check(run)
            if (preset, scenario, seed, fingerprint(run, scenario)) in done:
                already += 1
            else:
                runs.append(Run(preset, seed, (scenario,), run))
    return merge(runs), already


def merge(runs: list[Run]) -> list[Run]:
    """One run per preset and seed, with the scenarios of every run given for it."""
    merged: dict[tuple[str, int], Run] = {}
    for run in runs:
        key = (run.preset, run.seed)
        if key in merged:
            run = Run(run.preset, run.seed, merged[key].scenarios + run.scenarios, run.params)
        merged[key] = run
    return list(merged.values())


def replaced_budgets(runs: list[Run], export: pd.DataFrame, params: dict) -> list[str]:
    """The export's results that runs at a budget other than params.yaml's would replace with results of
    another epoch budget (`--epochs 1` would replace the full 10-epoch ones), as preset/scenario/seed
    labels. A run at params.yaml's budget may replace anything: that is the study's own result."""
    if export.empty:
        return []
    budget = {(o, s, int(seed)): int(b) for o, s, seed, b in
              zip(export["preset"], export["scenario"], export["seed"], export["epochs_budget"])}
    return [f"{run.preset}/{s}/seed {run.seed} ({budget[run.preset, s, run.seed]} epochs)"
            for run in runs if run.params["train"]["epochs"] != params["train"]["epochs"] for s in run.scenarios
            if budget.get((run.preset, s, run.seed), run.params["train"]["epochs"]) != run.params["train"]["epochs"]]


def adopt(runs: list[Run], experiments, root: Path = Path(".")) -> tuple[list[Run], int]:
    """Record the scenarios that finished experiments of this study already ran with the same settings
    (a study command stopped before it recorded them); return the runs still to do and how many
    results were adopted."""
    left, adopted = [], 0
    for run in runs:
        missing = list(run.scenarios)
        same_run = re.compile(rf"{re.escape(run.name)}(-\d+)?")
        for exp in experiments:
            if not same_run.fullmatch(exp.name):
                continue
            ran = [s for s in missing if exp.metrics.get(f"metrics/{s}.json")
                   and exp.metrics[f"metrics/{s}.json"] != exp.commit_metrics.get(f"metrics/{s}.json")
                   and fingerprint(exp.params, s) == fingerprint(run.params, s)]
            if ran:
                record(with_curves(exp, ran, root), ran, root)
                adopted += len(ran)
                missing = [s for s in missing if s not in ran]
        if missing:
            left.append(Run(run.preset, run.seed, tuple(missing), run.params))
    return left, adopted
