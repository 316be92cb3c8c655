"""The steps of adding an optimizer, a scenario or a metric (README.md) that are easy to forget."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lenet_bench import params as params_module
from lenet_bench.core.optimizers import FACTORIES
from lenet_bench.registry import ALGORITHMS
from lenet_bench.study.export import Experiment, result_row


def library_module(root, dotted: str) -> Path | None:
    """The file of a module (lenet_bench.core.data), or the folder of the package it lies in where that
    package's modules import each other (lenet_bench.core.optim.SAGA), or None."""
    parts = dotted.split(".")[1:]
    base = root / "src" / "lenet_bench"
    while parts:
        module, package = base.joinpath(*parts[:-1], f"{parts[-1]}.py"), base.joinpath(*parts)
        if module.exists():
            return module
        if (package / "__init__.py").exists() and package.parent != base:
            return package
        parts = parts[:-1]
    return None


def library_imports(root, path: Path) -> set[str]:
    """The library modules a script imports, directly or through other library modules, as paths from
    the repository root (a sub-subpackage such as core/optim as its folder, which DVC hashes whole)."""
    seen, todo = set(), [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lenet_bench"):
                for alias in node.names:
                    found = library_module(root, f"{node.module}.{alias.name}")
                    if found is not None and found not in seen:
                        seen.add(found)
                        todo += [found] if found.suffix == ".py" else sorted(found.glob("*.py"))
    return {str(found.relative_to(root)) for found in seen}


def stage_deps(root, name: str) -> set[str]:
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][name]
    return set((stage.get("do") or stage)["deps"])


def test_every_stage_depends_on_every_library_module_it_imports(root):
    for stage, script in (("prepare_data", "prepare_data.py"), ("configure", "configure.py"),
                          ("train", "train.py"), ("evaluate", "evaluate.py")):
        needed = library_imports(root, root / "stages" / script)
        missing = needed - stage_deps(root, stage)
        assert not missing, f"dvc.yaml: stage {stage} imports {sorted(missing)} but does not list them in its deps"


def test_every_scenario_has_its_plots(root):
    scenarios = params_module.load(root / "params.yaml")["scenarios"]
    plotted = {(file, spec["x"], y) for plot in yaml.safe_load((root / "dvc.yaml").read_text())["plots"]
               for spec in plot.values() for file, y in spec["y"].items()}
    for scenario in scenarios:
        for x in ("epoch", "grad_evals"):  # against epochs, and against the study's cost measure
            for y in ("test_accuracy", "test_loss"):
                assert (f"plots/{scenario}.csv", x, y) in plotted, \
                    f"dvc.yaml: no plot of {y} against {x} for scenario {scenario}"


def test_every_algorithm_is_registered_described_and_built():
    for name, algorithm in ALGORITHMS.items():
        assert algorithm.description.strip(), f"algorithm '{name}': describe it in its entry of lenet_bench/registry.py"
        assert name in FACTORIES, f"algorithm '{name}': give it a factory in FACTORIES of lenet_bench/optimizers.py"
    unregistered = sorted(set(FACTORIES) - set(ALGORITHMS))
    assert not unregistered, f"algorithm(s) {', '.join(unregistered)}: register them in ALGORITHMS of lenet_bench/registry.py"


# Leaves of metrics/<scenario>.json that the export carries under another name, or not at all (with why).
EXPORTED_AS = {"test.loss": "test_loss", "test.accuracy": "test_accuracy", "train.loss": "train_loss",
               "cost.epochs": "epochs", "cost.grad_evals": "grad_evals", "cost.steps": "steps",
               "cost.seconds": "seconds", "target.epoch": "target_epoch", "target.grad_evals": "target_grad_evals",
               "target.seconds": "target_seconds", "nonzero.fc1_fc2": "nonzero_fc1_fc2",
               "nonzero.fc1_fc2_density": "density", "nonzero.fc1_units": "fc1_units",
               "nonzero.fc2_units": "fc2_units", "diverged": "diverged", "diverged_at_step": "diverged_at_step",
               "sparsity.density_bound": "density_bound"}
NOT_EXPORTED = {"target.accuracy",  # a parameter (train.target_accuracy)
                "nonzero.fc1", "nonzero.fc2", "nonzero.fc1_density", "nonzero.fc2_density"}  # fc1_fc2 sums them
# Keys of records/<scenario>.json (the run's record) that the export carries, or not (with why).
RECORD_EXPORTED_AS = {"optimizer": "preset", "algorithm": "algorithm", "weight_decay": "weight_decay",
                      "l2_mode": "l2_mode", "averaging": "averaging", "diverged": "diverged",
                      "diverged_at_step": "diverged_at_step", "device": "device", "threads": "threads",
                      "cpus": "cpus", "load_average": "load_average", "versions": "versions"}
RECORD_NOT_EXPORTED = {"scenario",  # the row's key
                       "cost", "history",  # in the metrics, and the learning curves (results/study_curves.csv)
                       "checks"}  # the test set within epochs: the target's columns (target_epoch, ...) come from it


def leaves(tree: dict, prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= leaves(value, f"{prefix}{key}.")
        else:
            found.add(f"{prefix}{key}")
    return found


def leaf_values(tree: dict) -> list:
    return [v for value in tree.values() for v in (leaf_values(value) if isinstance(value, dict) else [value])]


def test_metrics_hold_numbers_only(root):
    """So that `dvc metrics diff` and `dvc exp show` compare measurements; what ran is in records/."""
    for path in sorted((root / "metrics").glob("*.json")):
        values = leaf_values(json.loads(path.read_text()))
        strings = [v for v in values if isinstance(v, (str, bool, list)) or v is None]
        assert not strings, f"{path.name} holds values that are not numbers: {strings}"


def test_every_metric_and_record_entry_reaches_the_study_export(root):
    params = params_module.load(root / "params.yaml")
    for scenario in params["scenarios"]:
        metrics = json.loads((root / "metrics" / f"{scenario}.json").read_text())
        record = json.loads((root / "records" / f"{scenario}.json").read_text())
        unknown = leaves(metrics) - set(EXPORTED_AS) - NOT_EXPORTED
        assert not unknown, f"metrics {sorted(unknown)} reach no column of results/study.csv: export them in result_row"
        unknown = set(record) - set(RECORD_EXPORTED_AS) - RECORD_NOT_EXPORTED
        assert not unknown, f"record entries {sorted(unknown)} reach no column of results/study.csv: see result_row"
        exp = Experiment("x", "", "abc", params, {f"metrics/{scenario}.json": metrics}, {}, records={scenario: record})
        row = result_row(exp, scenario)
        assert {EXPORTED_AS[m] for m in leaves(metrics) if m in EXPORTED_AS} <= set(row)
        assert {RECORD_EXPORTED_AS[k] for k in record if k in RECORD_EXPORTED_AS} <= set(row)


def test_the_read_side_loads_neither_torch_nor_optuna():
    """The report, the pages and their figures, tables and statistics read committed files only."""
    code = ("import sys\nimport lenet_bench.report.report, lenet_bench.report.pages, lenet_bench.tuning.tuning_tables, lenet_bench.params\n"
            "print(sorted(m for m in ('torch', 'optuna', 'lenet_bench.core.training') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"the read side imports {loaded.strip()}"


@pytest.mark.slow
def test_the_committed_pipeline_run_matches_the_code_and_params_it_was_made_with(root):
    """dvc.lock records the hashes of every stage's code and params; a change to either (a library module
    the stages import, params.yaml) needs `dvc repro` and the new dvc.lock committed with it. Outputs that are
    only absent here (a fresh clone has no DVC cache) do not count."""
    status = subprocess.run(["dvc", "status", "--json"], cwd=root, capture_output=True, text=True, check=True)
    def modified(change) -> bool:  # {path: "modified"}, or for params {path: {key: "modified"}}
        return any(v == "modified" or isinstance(v, dict) and modified(v) for v in change.values())
    stale = {stage: change for stage, changes in json.loads(status.stdout or "{}").items() for entry in changes
             if isinstance(entry, dict) for kind, change in entry.items()
             if kind in ("changed deps", "changed params") and modified(change)}
    assert not stale, f"dvc.lock is out of date ({stale}): run `dvc repro` and commit dvc.lock"
