"""The finished DVC experiments of this machine, as `dvc exp show --json --all-commits` lists them."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str
    commit: str            # the commit it was made on
    params: dict           # its params.yaml
    metrics: dict          # metrics file path -> its metrics
    commit_metrics: dict   # the same for its commit: what a scenario it did not re-run still shows


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
                name=exp.get("name") or rev["rev"][:7], commit=commit["rev"][:7],
                params=rev["data"]["params"]["params.yaml"]["data"],
                metrics={path: m.get("data") for path, m in rev["data"]["metrics"].items()},
                commit_metrics=commit_metrics))
    return found
