"""The finished DVC experiments of this machine, as `dvc exp show --json --all-commits` lists them."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Experiment:
    name: str
    rev: str               # its own commit (full SHA): its git-tracked outputs, e.g. plots/, are there
    commit: str            # the commit it was made on
    params: dict           # its params.yaml
    metrics: dict          # metrics file path -> its metrics
    commit_metrics: dict   # the same for its commit: what a scenario it did not re-run still shows
    workdir: Path | None = None  # set for a run made without DVC: its outputs are in this folder


def finished_experiments() -> list[Experiment]:
    """Experiments that ran to success (queued, running and failed ones are left out)."""
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json", "--all-commits"], check=True,
                                      capture_output=True, text=True).stdout)
    found = []
    for commit in shown:
        commit_metrics = {path: m.get("data") for path, m in
                          ((commit.get("data") or {}).get("metrics") or {}).items()}
        for exp in commit.get("experiments") or []:
            rev = exp["revs"][0]
            state = (exp.get("executor") or {}).get("state", "success")
            if state != "success" or rev.get("error") or not rev.get("data"):
                continue
            found.append(Experiment(
                name=exp.get("name") or rev["rev"][:7], rev=rev["rev"], commit=commit["rev"][:7],
                params=rev["data"]["params"]["params.yaml"]["data"],
                metrics={path: m.get("data") for path, m in rev["data"]["metrics"].items()},
                commit_metrics=commit_metrics))
    return found


def result_row(exp: Experiment, scenario: str) -> dict:
    """One scenario's results with the parameters that produced them, as an export row."""
    params, m = exp.params, exp.metrics[f"metrics/{scenario}.json"]
    preset_name = params["optimizer"]["name"]
    preset = params["optimizers"][preset_name]
    sparsity = (params["scenarios"].get(scenario) or {}).get("sparsity") or {}
    nonzero = m.get("nonzero", {})
    return {
        "experiment": exp.name, "commit": exp.commit, "scenario": scenario,
        "optimizer": preset_name, "family": preset.get("family"), "algorithm": preset["algorithm"],
        "lr": preset["lr"], "batch_size": preset["batch_size"],
        "schedule": (preset.get("schedule") or {}).get("name", "constant"),
        "averaging": (preset.get("averaging") or {}).get("name", "none"),
        "seed": params["train"]["seed"], "epochs_budget": params["train"]["epochs"],
        "validation_size": params["data"].get("validation_size", 0),
        "weight_decay": m["run"]["weight_decay"], "l2_mode": m["run"]["l2_mode"],
        "test_accuracy": m["test"]["accuracy"], "test_loss": m["test"]["loss"],
        "train_loss": m["train"]["loss"], "epochs": m["cost"]["epochs"],
        "grad_evals": m["cost"]["grad_evals"], "steps": m["cost"]["steps"],
        "seconds": m["cost"]["seconds"], "target_epoch": m["target"].get("epoch"),
        "target_grad_evals": m["target"].get("grad_evals"),  # DVC drops null metrics
        "target_seconds": m["target"].get("seconds"),
        "sparsity_method": sparsity.get("method"), "density_bound": sparsity.get("density"),
        "nonzero_fc1_fc2": nonzero.get("fc1_fc2"), "density": nonzero.get("fc1_fc2_density"),
        "fc1_units": nonzero.get("fc1_units"), "fc2_units": nonzero.get("fc2_units"),
        "diverged": m["run"]["diverged"], "diverged_at_step": m["run"].get("diverged_at_step"),
        "threads": m["run"].get("threads"), "device": m["run"]["device"],
    }


def learning_curve(exp: Experiment, scenario: str) -> str:
    """The experiment's plots/<scenario>.csv (one row per epoch), read from its own commit."""
    if exp.workdir is not None:
        return (exp.workdir / "plots" / f"{scenario}.csv").read_text()
    return subprocess.run(["git", "show", f"{exp.rev}:{Path('plots') / f'{scenario}.csv'}"], check=True,
                          capture_output=True, text=True).stdout


def start_queue(jobs: int) -> None:
    """Start `jobs` DVC queue workers. They inherit stdout: a captured pipe would stay open, and
    block the caller, until they all exit, so their output goes nowhere (`dvc queue logs` has it)."""
    subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
