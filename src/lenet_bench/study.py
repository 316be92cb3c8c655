"""The study: presets x scenarios x seeds as DVC experiments, each finished run recorded at once in
a committed export (results/study.csv, and its learning curves in results/study_curves.csv), so
that a study can be spread over sittings and machines and a report built from the export alone."""
from __future__ import annotations

import copy
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from . import files
from .experiments import Experiment, learning_curve, result_row
from .params import check, run_config

EXPORT = Path("results/study.csv")
CURVES = Path("results/study_curves.csv")
KEY = ["optimizer", "scenario", "seed"]
EXECUTION = ("device", "threads")  # how a run executes, not what it is: left out of its fingerprint
# Every study run is made on the CPU with one torch thread, whatever the machine has, so that accuracy
# and seconds compare within every table and anyone can reproduce them.
DEVICE, THREADS = "cpu", 1


def study_params(params: dict, preset: str, seed: int, threads: int, epochs: int | None) -> dict:
    """params.yaml as one study run sees it."""
    run = copy.deepcopy(params)
    run["optimizer"]["name"] = preset
    run["train"].update(seed=seed, threads=threads, device=DEVICE, **({"epochs": epochs} if epochs else {}))
    return run


def overrides(preset: str, seed: int, threads: int, epochs: int | None) -> list[str]:
    """The `dvc exp run -S` overrides that produce study_params."""
    return [f"optimizer.name={preset}", f"train.seed={seed}", f"train.threads={threads}", f"train.device={DEVICE}",
            *([f"train.epochs={epochs}"] if epochs else [])]


def on_study_hardware(export: pd.DataFrame) -> pd.Series:
    """Which of the export's runs were made as the study makes them: on the CPU, one torch thread."""
    return (export["device"] == DEVICE) & (export["threads"] == THREADS)


def leaders(export: pd.DataFrame, params: dict, count: int) -> list[str]:
    """The `count` presets with the best mean test accuracy in the first scenario (standard), among the
    export's runs at params.yaml's settings on the study's hardware."""
    current, _ = split_by_settings(export, params)
    scenario = next(iter(params["scenarios"]))
    runs = current[on_study_hardware(current) & (current["scenario"] == scenario)]
    return list(runs.groupby("optimizer")["test_accuracy"].mean().sort_values(ascending=False).index[:count])


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-9' (or a mix, '0-2,7'), as a list of seeds; ValueError naming the bad part."""
    seeds = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())):
            raise ValueError(f"--seeds: '{part}' is neither a seed nor a range like 0-9")
        seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    return sorted(set(seeds))


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
    if not export.empty:
        export = export[on_study_hardware(export)]  # a run on other hardware is one the study still owes
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
                record(exp, ran, root)
                adopted += len(ran)
                missing = [s for s in missing if s not in ran]
        if missing:
            left.append(Run(run.preset, run.seed, tuple(missing), run.params))
    return left, adopted


def split_by_settings(export: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export's runs made with params.yaml's current settings, and those made with settings it
    no longer has (a preset tuned since, say): the study would re-run these, and a report must not
    present them as the current preset's."""
    def current(row) -> bool:
        if row["optimizer"] not in params["optimizers"] or row["scenario"] not in params["scenarios"]:
            return False
        run = study_params(params, row["optimizer"], int(row["seed"]), 1, int(row["epochs_budget"]))
        return fingerprint(run, row["scenario"]) == row["fingerprint"]
    if export.empty:
        return export, export
    mask = export.apply(current, axis=1).astype(bool)
    return export[mask], export[~mask]


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
    with export_lock(root):  # two study commands may share one export
        _merge(root / EXPORT, pd.DataFrame(rows), KEY)
        _merge(root / CURVES, pd.concat(curves), [*KEY, "epoch"], replace=KEY)


def selected(export: pd.DataFrame, presets, scenarios, seeds) -> pd.Series:
    """Which of the export's rows are results of these presets, scenarios and seeds."""
    return (export["optimizer"].isin(presets) & export["scenario"].isin(scenarios)
            & export["seed"].isin(seeds))


def forget(presets, scenarios, seeds, root: Path = Path(".")) -> int:
    """Take these results (and their learning curves) out of the export, so that the study runs
    them again, e.g. after a fix to a method's code; return how many results were taken out."""
    with export_lock(root):
        export = read_export(root)
        drop = selected(export, presets, scenarios, seeds)
        if drop.any():
            files.write_text(root / EXPORT, export[~drop].to_csv(index=False))
            curves = pd.read_csv(root / CURVES)
            files.write_text(root / CURVES, curves[~selected(curves, presets, scenarios, seeds)].to_csv(index=False))
    return int(drop.sum())


@contextmanager
def export_lock(root: Path = Path(".")):
    """Held while the export is written, and while an experiment is queued (queue_experiment)."""
    folder = root / EXPORT.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _merge(path: Path, new: pd.DataFrame, key: list[str], replace: list[str] | None = None) -> None:
    """Write `new` into the CSV at `path`, dropping the old rows it replaces; atomically."""
    replace = replace or key
    if path.exists():
        old = pd.read_csv(path)
        stale = old.set_index(replace).index.isin(new.set_index(replace).index)
        new = pd.concat([old[~stale], new])
    files.write_text(path, new.sort_values(key).to_csv(index=False))


# Without DVC: the same stage commands as dvc.yaml's, in a scratch copy of the stages and the library.

def stage_commands(scenario: str, root: Path = Path(".")) -> list[list[str]]:
    """dvc.yaml's commands that produce metrics/<scenario>.json from params.yaml."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    commands = [stages["configure"]["cmd"], stages["train"]["do"]["cmd"], stages["evaluate"]["do"]["cmd"]]
    return [command.replace("${key}", scenario).split() for command in commands]


def queue_experiment(name: str, overrides: list[str], targets: list[str], root: Path = Path(".")) -> None:
    """`dvc exp run --queue` one experiment. DVC stashes the workspace and puts it back meanwhile, so
    the export's lock is held: a result another study command recorded then would be lost."""
    command = ["dvc", "exp", "run", "--queue", "-q", "-n", name, *[a for o in overrides for a in ("-S", o)], *targets]
    with export_lock(root):
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def prepared_dataset(root: Path = Path(".")) -> Path:
    """The data stage's output, which runs made without DVC share."""
    dataset = (root / "data" / "fashion_mnist.pt").resolve()
    if not dataset.exists():
        raise FileNotFoundError(f"{dataset} is missing: run `python stages/prepare_data.py` first")
    return dataset


def run_without_dvc(run: Run, scenario: str, workdir: Path, commit: str, dataset: Path,
                    root: Path = Path(".")) -> Experiment:
    """Train and evaluate one scenario of a study run as `dvc exp run` would, in `workdir`, on the
    prepared `dataset`.

    For machines without DVC's queue (a lent GPU box, say): many such runs can share one
    accelerator. Raises RuntimeError with the log's tail if a stage fails."""
    for folder in ("stages", "src"):
        shutil.copytree(root / folder, workdir / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(root / "dvc.yaml", workdir)
    (workdir / "data").mkdir()
    (workdir / "data" / "fashion_mnist.pt").symlink_to(dataset)
    (workdir / "params.yaml").write_text(yaml.safe_dump(run.params, sort_keys=False))
    with open(workdir / "log.txt", "w") as log:
        for command in stage_commands(scenario, root):
            command = [sys.executable if command[0] == "python" else command[0], *command[1:]]
            if subprocess.run(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
                tail = (workdir / "log.txt").read_text()[-2000:]
                raise RuntimeError(f"{' '.join(command)} failed in {workdir}:\n{tail}")
    metrics = json.loads((workdir / "metrics" / f"{scenario}.json").read_text())
    return Experiment(name=f"{run.name}-{scenario}", rev="", commit=commit, params=run.params,
                      metrics={f"metrics/{scenario}.json": metrics}, commit_metrics={}, workdir=workdir)

