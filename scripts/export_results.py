"""Append the finished DVC experiments of this machine to the committed results/experiments.csv.

    python scripts/export_results.py [--all]

One row per experiment and scenario, with the parameters that produced it. Rows already in the
file are kept (they may come from other machines); a row for the same experiment and scenario is
replaced. Tuning experiments (named tune-*) are left to scripts/sweep.py unless --all is given.
"""
import argparse
from pathlib import Path

import pandas as pd

from lenet_bench.experiments import finished_experiments

OUTPUT = Path("results/experiments.csv")
KEY = ["experiment", "scenario"]


def rows_from(experiments, include_tuning: bool) -> list[dict]:
    rows = []
    for exp in experiments:
        if exp.name.startswith("tune-") and not include_tuning:
            continue
        params = exp.params
        preset_name = params["optimizer"]["name"]
        preset = params["optimizers"][preset_name]
        for path, m in exp.metrics.items():
            if not m or m == exp.commit_metrics.get(path):
                continue  # a scenario this experiment did not re-run: its commit's metrics
            scenario = Path(path).stem
            sparsity = (params["scenarios"].get(scenario) or {}).get("sparsity") or {}
            nonzero = m.get("nonzero", {})
            rows.append({
                "experiment": exp.name, "commit": exp.commit, "scenario": scenario,
                "optimizer": preset_name, "algorithm": preset["algorithm"], "lr": preset["lr"],
                "batch_size": preset["batch_size"],
                "schedule": (preset.get("schedule") or {}).get("name", "constant"),
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
                "diverged": m["run"]["diverged"], "diverged_at_step": m["run"].get("diverged_at_step"), "threads": m["run"].get("threads"),
                "device": m["run"]["device"],
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="include tuning experiments")
    args = parser.parse_args()
    new = pd.DataFrame(rows_from(finished_experiments(), args.all))
    old = pd.read_csv(OUTPUT) if OUTPUT.exists() else pd.DataFrame(columns=new.columns)
    merged = pd.concat([old, new]).drop_duplicates(KEY, keep="last").sort_values(KEY)
    OUTPUT.parent.mkdir(exist_ok=True)
    tmp = OUTPUT.with_suffix(".tmp")
    merged.to_csv(tmp, index=False)
    tmp.replace(OUTPUT)
    print(f"{OUTPUT}: {len(merged)} rows ({len(new)} from this machine's experiments)")


if __name__ == "__main__":
    main()
