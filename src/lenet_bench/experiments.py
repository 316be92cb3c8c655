"""The finished DVC experiments of this machine, read from their git refs (refs/exps)."""
from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lenet_bench.params import parse as parse_params

# A finished experiment's ref: refs/exps/<baseline SHA, split after 2 characters>/<name>. The queue's
# own refs (refs/exps/celery/..., refs/exps/exec/...) do not match.
EXPERIMENT_REF = re.compile(r"refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/(.+)")


@dataclass(frozen=True)
class Experiment:
    name: str
    rev: str               # its own commit (full SHA): its git-tracked outputs, e.g. plots/, are there
    commit: str            # the commit it was made on
    params: dict           # its params.yaml
    metrics: dict          # metrics file path -> its metrics
    commit_metrics: dict   # the same for its commit: what a scenario it did not re-run still shows
    workdir: Path | None = None  # set for a run made without DVC: its outputs are in this folder


def finished_experiments(root: Path = Path(".")) -> list[Experiment]:
    """Experiments that ran to success: DVC gives an experiment its named ref only once it succeeded.

    Reads params.yaml and metrics/<scenario>.json (git-tracked) from each experiment's commit, all in
    one `git cat-file --batch`: `dvc exp show --json --all-commits` gives the same, but takes minutes
    with a few hundred experiments, and far longer while others train."""
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps"],
                          cwd=root, check=True, capture_output=True, text=True).stdout.splitlines()
    found = [(m[3], m[1] + m[2], rev) for ref, rev in (line.split() for line in refs)
             if (m := EXPERIMENT_REF.fullmatch(ref))]
    params_texts = git_files(root, [f"{rev}:params.yaml" for _, _, rev in found])
    found = [(name, baseline, rev, parse_params(text))
             for (name, baseline, rev), text in zip(found, params_texts) if text is not None]
    # Every scenario's metrics, of the experiment and of its baseline, in one more git process.
    wanted = [f"{r}:metrics/{scenario}.json" for _, baseline, rev, params in found
              for r in (rev, baseline) for scenario in params.get("scenarios") or {}]
    metrics = {obj: json.loads(text) for obj, text in zip(wanted, git_files(root, wanted)) if text is not None}

    def metrics_at(r: str, params: dict) -> dict:
        return {path: metrics[f"{r}:{path}"] for path in (f"metrics/{s}.json" for s in params.get("scenarios") or {})
                if f"{r}:{path}" in metrics}

    return [Experiment(name=name, rev=rev, commit=baseline[:7], params=params, metrics=metrics_at(rev, params),
                       commit_metrics=metrics_at(baseline, params))
            for name, baseline, rev, params in found]


def git_files(root: Path, objects: list[str]) -> list[str | None]:
    """The text of each `<rev>:<path>`, None where that commit has no such file, from one git process."""
    if not objects:
        return []
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, check=True, capture_output=True,
                         input="\n".join(objects).encode() + b"\n").stdout
    texts, at = [], 0
    for _ in objects:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        if header[-1] == b"missing":
            texts.append(None)
            at = header_end + 1
            continue
        size = int(header[2])
        texts.append(out[header_end + 1:header_end + 1 + size].decode())
        at = header_end + 1 + size + 1  # the content, then a newline
    return texts


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
        "cpus": m["run"].get("cpus"), "load_average": m["run"].get("load_average"),
        "versions": ", ".join(f"{k} {v}" for k, v in (m["run"].get("versions") or {}).items()) or None,
    }


def learning_curve(exp: Experiment, scenario: str) -> str:
    """The experiment's plots/<scenario>.csv (one row per epoch), read from its own commit."""
    if exp.workdir is not None:
        return (exp.workdir / "plots" / f"{scenario}.csv").read_text()
    return subprocess.run(["git", "show", f"{exp.rev}:{Path('plots') / f'{scenario}.csv'}"], check=True,
                          capture_output=True, text=True).stdout


def queue_status(attempts: int = 3, pause: float = 10.0) -> dict[str, str]:
    """`dvc queue status`, parsed: experiment name -> Queued | Running | Success | Failed. It can fail
    for a moment while a worker moves a task ("Invalid experiment ..."), so it is tried again."""
    for attempt in range(attempts):
        result = subprocess.run(["dvc", "queue", "status"], capture_output=True, text=True)
        if result.returncode == 0:
            break
        if attempt + 1 < attempts:
            time.sleep(pause)
    else:
        raise SystemExit(f"error: dvc queue status failed ({attempts} attempt(s)):\n{result.stdout}{result.stderr}")
    states = {}
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[-1] in ("Queued", "Running", "Success", "Failed"):
            states[fields[1]] = fields[-1]
    return states


def start_queue(jobs: int) -> None:
    """Have `jobs` DVC queue workers. `dvc queue start -j N` starts those of workers 1..N that are
    not running, so a second command sharing the queue adds none. Workers inherit stdout: a captured
    pipe would stay open, and block the caller, until they all exit, so their output goes nowhere
    (`dvc queue logs` has it)."""
    subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
