"""Carry an export's rows across the change that took train.target_accuracy out of the run config.

A run's fingerprint hashes its run config (lenet_bench.study.export.fingerprint). The target used to be part
of it, though it changes no training; it is now read by evaluation alone. A row whose fingerprint is
the old one of params.yaml's current settings gets the new one, so it stays current; any other row was
stale before and stays so. Safe to run again: a row already migrated matches the new fingerprint.

    python scripts/migrate_fingerprints.py results/study.csv [more exports]
"""
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd

from lenet_bench import atomic_files
from lenet_bench.params import load, run_config
from lenet_bench.study.export import EXECUTION, fingerprint, study_params


def legacy_fingerprint(params: dict, scenario: str) -> str:
    """The fingerprint as it was computed while the run config carried the target."""
    config = {k: v for k, v in run_config(params, scenario).items() if k not in EXECUTION}
    config["target_accuracy"] = params["train"]["target_accuracy"]
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def migrate(path: Path, params: dict) -> int:
    rows = pd.read_csv(path, dtype={"fingerprint": str}, keep_default_na=False)
    migrated = 0
    for i, row in rows.iterrows():
        if row["preset"] not in params["optimizers"] or row["scenario"] not in params["scenarios"]:
            continue
        run = study_params(params, row["preset"], int(row["seed"]), 1, None)
        if row["fingerprint"] == legacy_fingerprint(run, row["scenario"]):
            rows.at[i, "fingerprint"] = fingerprint(run, row["scenario"])
            migrated += 1
    if migrated:
        atomic_files.write_text(path, rows.to_csv(index=False))
    return migrated


if __name__ == "__main__":
    settings = load()
    for export in map(Path, sys.argv[1:]):
        print(f"{export}: {migrate(export, settings)} row(s) migrated")
