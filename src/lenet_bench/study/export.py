"""The study's export: results/study.csv (one row per preset, scenario and seed, with the settings that
produced it) and its learning curves, results/study_curves.csv. A study records each finished run here
at once, so that it can be spread over sittings and machines and a report built from the export alone.

This module owns what a study run is (its params and fingerprint), the export's rows and their
writing: record, forget, and the split into runs at params.yaml's settings and stale ones."""
from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lenet_bench import atomic_files
from lenet_bench.csv_check import damaged, read_checked
from lenet_bench.locks import folder_lock
from lenet_bench.params import run_config
from lenet_bench.paths import EXPORT
from lenet_bench.tuning.search import put


def curves_path(export: Path) -> Path:
    """Where an export's learning curves live: beside it, results/study.csv -> results/study_curves.csv."""
    return export.with_name(f"{export.stem}_curves.csv")


def failures_path(export: Path) -> Path:
    """Where the runs of an export that failed on their own are listed: beside it, results/study_failures.csv."""
    return export.with_name(f"{export.stem}_failures.csv")


CURVES = curves_path(EXPORT)
KEY = ["preset", "scenario", "seed"]
EXECUTION = ("device", "threads")  # how a run executes, not what it is: left out of its fingerprint
# Every study run is made on the CPU with one torch thread, whatever the machine has, so that accuracy
# and seconds compare within every table and anyone can reproduce them.
DEVICE, THREADS = "cpu", 1


@dataclass(frozen=True)
class Experiment:
    """A finished run of one or more scenarios: a DVC experiment, or a study task run without DVC."""
    name: str
    rev: str               # a DVC experiment's own commit (full SHA); "" for a run made without DVC
    commit: str            # the commit it was made on
    params: dict           # its params.yaml
    metrics: dict          # metrics file path -> its metrics
    commit_metrics: dict   # the same for its commit: what a scenario it did not re-run still shows
    curves: dict | None = None  # scenario -> its plots/<scenario>.csv text, once read
    records: dict | None = None  # scenario -> its records/<scenario>.json: what ran, on what


def study_settings(preset: str, seed: int, threads: int, epochs: int | None) -> dict[str, object]:
    """What makes params.yaml one study run's, by dotted key: the one source of study_params and of the
    `dvc exp run -S` overrides that give a DVC experiment the same params (study.overrides)."""
    return {"optimizer.name": preset, "train.seed": seed, "train.threads": threads, "train.device": DEVICE,
            **({"train.epochs": epochs} if epochs else {})}


def with_settings(params: dict, settings: dict[str, object]) -> dict:
    """A copy of params.yaml with `settings` (dotted key -> value) set in it."""
    run = copy.deepcopy(params)
    for key, value in settings.items():
        put(run, key, value)
    return run


def study_params(params: dict, preset: str, seed: int, threads: int, epochs: int | None) -> dict:
    """params.yaml as one study run sees it."""
    return with_settings(params, study_settings(preset, seed, threads, epochs))


def fingerprint(params: dict, scenario: str) -> str:
    """What defines a run's result: its whole run configuration but how it executes."""
    config = {k: v for k, v in run_config(params, scenario).items() if k not in EXECUTION}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def on_study_hardware(export: pd.DataFrame) -> pd.Series:
    """Which of the export's runs were made as the study makes them: on the CPU, one torch thread."""
    return (export["device"] == DEVICE) & (export["threads"] == THREADS)


def split_by_settings(export: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export's runs made with params.yaml's current settings, and those made with settings it
    no longer has (a preset tuned since, say): the study would re-run these, and a report must not
    present them as the current preset's. The epoch budget is params.yaml's too, so that a smoke run
    (`study --epochs 1`) never passes for the preset's result."""
    def current(row) -> bool:
        if row["preset"] not in params["optimizers"] or row["scenario"] not in params["scenarios"]:
            return False
        run = study_params(params, row["preset"], int(row["seed"]), 1, None)
        return fingerprint(run, row["scenario"]) == row["fingerprint"]
    if export.empty:
        return export, export
    mask = export.apply(current, axis=1).astype(bool)
    return export[mask], export[~mask]


def run_record(exp: Experiment, scenario: str) -> dict:
    """The run's record (records/<scenario>.json); a run made before records existed kept the same facts
    in its metrics' `run` section."""
    return (exp.records or {}).get(scenario) or exp.metrics[f"metrics/{scenario}.json"].get("run") or {}


@dataclass(frozen=True)
class Sorted:
    """An export's runs, sorted: those every table compares, and those left out, with why."""
    current: pd.DataFrame    # at the current settings, on the study's hardware
    stale: pd.DataFrame      # made with settings params.yaml and presets.yaml no longer hold
    elsewhere: pd.DataFrame  # at the current settings, on other hardware


def sort_runs(export: pd.DataFrame, params: dict) -> Sorted:
    """The one split of an export that the report, the pages and the study share."""
    current, stale = split_by_settings(export, params)
    here = on_study_hardware(current) if not current.empty else pd.Series(dtype=bool)
    return Sorted(current[here], stale, current[~here])


def result_row(exp: Experiment, scenario: str) -> dict:
    """One scenario's results with the parameters that produced them, as an export row."""
    params, m, run = exp.params, exp.metrics[f"metrics/{scenario}.json"], run_record(exp, scenario)
    preset_name = params["optimizer"]["name"]
    preset = params["optimizers"][preset_name]
    sparsity = (params["scenarios"].get(scenario) or {}).get("sparsity") or {}
    nonzero = m.get("nonzero", {})
    return {
        "experiment": exp.name, "commit": exp.commit, "scenario": scenario,
        "preset": preset_name, "family": preset.get("family"), "algorithm": preset["algorithm"],
        "lr": preset["lr"], "batch_size": preset["batch_size"],
        "schedule": (preset.get("schedule") or {}).get("name", "constant"),
        "averaging": (preset.get("averaging") or {}).get("name", "none"),
        "seed": params["train"]["seed"], "epochs_budget": params["train"]["epochs"],
        "validation_size": params["data"].get("validation_size", 0),
        "weight_decay": run["weight_decay"], "l2_mode": run["l2_mode"],
        "test_accuracy": m["test"]["accuracy"], "test_loss": m["test"]["loss"],
        "train_loss": m["train"]["loss"], "epochs": m["cost"]["epochs"],
        "grad_evals": m["cost"]["grad_evals"], "steps": m["cost"]["steps"],
        "seconds": m["cost"]["seconds"], "target_epoch": m["target"].get("epoch"),
        "target_grad_evals": m["target"].get("grad_evals"),  # DVC drops null metrics
        "target_seconds": m["target"].get("seconds"),
        "sparsity_method": sparsity.get("method"), "density_bound": sparsity.get("density"),
        "nonzero_fc1_fc2": nonzero.get("fc1_fc2"), "density": nonzero.get("fc1_fc2_density"),
        "fc1_units": nonzero.get("fc1_units"), "fc2_units": nonzero.get("fc2_units"),
        "diverged": bool(run["diverged"]), "diverged_at_step": run.get("diverged_at_step"),
        "threads": run.get("threads"), "device": run["device"],
        "cpus": run.get("cpus"), "load_average": run.get("load_average"),
        "versions": ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items()) or None,
    }


def read_export(root: Path = Path("."), export: Path = EXPORT, curves: bool = False):
    """The export's rows (and with `curves`, its learning curves too), checked: a damaged export, or a run
    whose curve is missing, stops the command in one line that names the file and line."""
    path, curves_file = root / export, root / curves_path(export)
    if not path.exists():
        rows = pd.DataFrame(columns=[*KEY, "fingerprint"])
        return (rows, pd.DataFrame(columns=[*KEY, "epoch"])) if curves else rows
    rows = read_checked(path, [*KEY, "fingerprint"], KEY)
    if not curves_file.exists():
        raise damaged(curves_file, 1, f"missing, though {export} holds {len(rows)} runs")
    curve_rows = read_checked(curves_file, [*KEY, "epoch"], [*KEY, "epoch"])
    has_curve = rows.set_index(KEY).index.isin(curve_rows.set_index(KEY).index)
    if not has_curve.all():
        first = rows[~has_curve].iloc[0]
        raise damaged(curves_file, 1, f"no learning curve for {', '.join(f'{k}={first[k]}' for k in KEY)}, a run of "
                                      f"{export}")
    return (rows, curve_rows) if curves else rows


def preset_settings(preset: dict) -> str:
    """A preset's settings as a run (or a timing) records them: what ran, to match it with what runs now."""
    return json.dumps(preset, sort_keys=True)


def record(exp: Experiment, scenarios, root: Path = Path("."), export: Path = EXPORT) -> None:
    """Append (or replace, by preset, scenario and seed) the experiment's results in the export; its
    `curves` must hold each scenario's learning curve."""
    rows, curves = [], []
    for scenario in scenarios:
        preset = exp.params["optimizers"][exp.params["optimizer"]["name"]]
        rows.append({**result_row(exp, scenario), "fingerprint": fingerprint(exp.params, scenario),
                     "preset_settings": preset_settings(preset)})
        curve = pd.read_csv(io.StringIO(exp.curves[scenario]))
        curves.append(curve.assign(preset=rows[-1]["preset"], scenario=scenario, seed=rows[-1]["seed"]))
    with export_lock(root, export):  # two study commands may share one export
        _merge(root / export, pd.DataFrame(rows), KEY)
        _merge(root / curves_path(export), pd.concat(curves), [*KEY, "epoch"], replace=KEY)


def selected(export: pd.DataFrame, presets, scenarios, seeds) -> pd.Series:
    """Which of the export's rows are results of these presets, scenarios and seeds."""
    return (export["preset"].isin(presets) & export["scenario"].isin(scenarios)
            & export["seed"].isin(seeds))


def forget(presets, scenarios, seeds, root: Path = Path("."), export: Path = EXPORT) -> int:
    """Take these results (and their learning curves) out of the export, so that the study runs
    them again, e.g. after a fix to a method's code; return how many results were taken out."""
    with export_lock(root, export):
        rows = read_export(root, export)
        drop = selected(rows, presets, scenarios, seeds)
        if drop.any():
            atomic_files.write_text(root / export, rows[~drop].to_csv(index=False))
            curves = read_checked(root / curves_path(export), [*KEY, "epoch"], [*KEY, "epoch"])
            atomic_files.write_text(root / curves_path(export),
                                    curves[~selected(curves, presets, scenarios, seeds)].to_csv(index=False))
    return int(drop.sum())


def export_lock(root: Path = Path("."), export: Path = EXPORT):
    """Held while an export is written, and while an experiment is queued (dvc_queue.queue_experiment)."""
    return folder_lock(root / export.parent)


def _merge(path: Path, new: pd.DataFrame, key: list[str], replace: list[str] | None = None) -> None:
    """Write `new` into the CSV at `path`, dropping the old rows it replaces; atomically."""
    replace = replace or key
    if path.exists():
        old = read_checked(path, key, key)  # never merge into a damaged file
        stale = old.set_index(replace).index.isin(new.set_index(replace).index)
        new = pd.concat([old[~stale], new])
    atomic_files.write_text(path, new.sort_values(key).to_csv(index=False))


def record_failure(path: Path, params: dict, scenario: str, error: str, root: Path = Path(".")) -> None:
    """Note a run that failed (one row per preset, scenario and seed, the last failure's one-line error),
    so that the study's failures are on file, not only in a terminal."""
    row = {"preset": params["optimizer"]["name"], "scenario": scenario, "seed": params["train"]["seed"],
           "fingerprint": fingerprint(params, scenario), "error": " ".join(error.split())[:300]}
    with export_lock(root):
        _merge(root / path, pd.DataFrame([row]), KEY)


def forget_failure(path: Path, params: dict, scenario: str, root: Path = Path(".")) -> None:
    """Take a run off the failures once it succeeded."""
    key = (params["optimizer"]["name"], scenario, params["train"]["seed"])
    with export_lock(root):
        if (root / path).exists():
            failures = pd.read_csv(root / path)
            kept = failures[[tuple(k) != key for k in failures[KEY].itertuples(index=False)]]
            if len(kept) < len(failures):
                atomic_files.write_text(root / path, kept.to_csv(index=False))
