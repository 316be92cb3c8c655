"""Markdown tables of results, generated from committed metrics, and kept in README.md between markers.

    python -m lenet_bench.summary            # rewrite README.md's generated sections
    python -m lenet_bench.summary --check    # exit 1 if README.md is out of date
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from .optimizers import ALGORITHMS


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _reached(target: dict) -> str:
    if target["epoch"] is None:
        return "never"
    return f"epoch {target['epoch']} ({target['grad_evals'] / 1e6:.2f} M grads, {target['seconds']:.0f} s)"


def pipeline_table(root: Path) -> str:
    """One row per scenario of the committed `dvc repro` run."""
    scenarios = yaml.safe_load((root / "params.yaml").read_text())["scenarios"]
    rows = ["| scenario | optimizer | test accuracy | test loss | reached 89.38% at | epochs | gradient evals "
            "| steps | train seconds | L2 applied |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name in scenarios:
        path = root / "metrics" / f"{name}.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        cost, run = m["cost"], m["run"]
        l2 = "none" if run["l2_mode"] == "none" else f"{run['l2_mode']}, wd={run['weight_decay']:g}"
        rows.append(f"| {name} | {run['optimizer']} | {_percent(m['test']['accuracy'])} | {m['test']['loss']:.4f} "
                    f"| {_reached(m['target'])} | {cost['epochs']} | {cost['grad_evals']:,} | {cost['steps']:,} "
                    f"| {cost['seconds']:.0f} | {l2} |")
    return "\n".join(rows)


def presets_table(root: Path) -> str:
    """Every preset of params.yaml with its family, library and settings."""
    settings = yaml.safe_load((root / "params.yaml").read_text())
    default = settings["optimizer"]["name"]
    rows = ["| preset | family | algorithm | library | batch | lr | schedule | own settings |",
            "|---|---|---|---|---|---|---|---|"]
    for name, preset in settings["optimizers"].items():
        algorithm = ALGORITHMS[preset["algorithm"]]
        factory = algorithm.factory
        library = f"{factory.__module__.rsplit('.', 1)[0]}.{factory.__qualname__}"
        schedule = dict(preset.get("schedule") or {"name": "constant"})
        schedule_text = schedule.pop("name") + "".join(f", {k}={v}" for k, v in schedule.items())
        own = ", ".join(f"{k}={preset[k]}" for k in algorithm.settings if k in preset) or "–"
        label = f"**{name}** (default)" if name == default else name
        rows.append(f"| {label} | {preset.get('family', '–')} | {preset['algorithm']} | `{library}` "
                    f"| {preset['batch_size']:,} | {preset['lr']:g} | {schedule_text} | {own} |")
    return "\n".join(rows)


def speed_table(root: Path) -> str:
    """The committed output of benchmarks/epoch_speed.py."""
    path = root / "benchmarks" / "epoch_speed.json"
    if not path.exists():
        return "_not measured yet: run `python benchmarks/epoch_speed.py --output benchmarks/epoch_speed.json`_"
    b = json.loads(path.read_text())
    return (f"| loop | seconds per epoch (median of {b['repeats']}) |\n|---|---|\n"
            f"| the brief's DataLoader loop | {b['brief_seconds']:.2f} |\n"
            f"| this project's loop | {b['project_seconds']:.2f} |\n\n"
            f"**{b['speedup']:.2f}× faster**, measured on {b['machine']} with torch {b['torch']}, "
            f"{b['threads']} threads.")


SECTIONS = {"presets": presets_table, "pipeline-results": pipeline_table, "speed": speed_table}


def render(readme: str, root: Path) -> str:
    for name, table in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->).*?(<!-- {name}:end -->)", re.S)
        readme = pattern.sub(lambda m: f"{m.group(1)}\n{table(root)}\n{m.group(2)}", readme)
    return readme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--check", action="store_true", help="fail if README.md is not up to date")
    args = parser.parse_args()
    path = args.root / "README.md"
    current = path.read_text()
    rendered = render(current, args.root)
    if args.check:
        sys.exit(0 if rendered == current else "README.md is out of date: run `python -m lenet_bench.summary`")
    path.write_text(rendered)


if __name__ == "__main__":
    main()
