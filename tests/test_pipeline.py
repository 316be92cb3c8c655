"""End to end: a copy of this repository in a temporary git repo runs `dvc repro` and `dvc exp run`
on a tiny budget (one epoch, large batches) with the real Fashion-MNIST files."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REAL_DATA = Path("/usr/share/datasets/fashion-mnist")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (REAL_DATA / "train-images-idx3-ubyte.gz").exists(),
                       reason=f"Fashion-MNIST is not installed in {REAL_DATA} "
                              "(apt-get install dataset-fashion-mnist; .ci/run does this)"),
]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
       "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
       "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
       "DVC_NO_ANALYTICS": "1"}


def run(cwd, *command, check=True):
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def repo(root, tmp_path_factory):
    """The project's files (tracked and untracked-not-ignored), committed into a fresh git repo."""
    dest = tmp_path_factory.mktemp("repo")
    listed = run(root, "git", "ls-files", "--cached", "--others", "--exclude-standard", "-z").stdout
    for name in filter(None, listed.split("\0")):
        if (root / name).is_file() and not name.startswith(("metrics/", "plots/", "configs/", "results/", "report/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    params, presets = (yaml.safe_load((dest / name).read_text()) for name in ("params.yaml", "presets.yaml"))
    params["data"]["sources"] = [str(REAL_DATA)]
    params["train"]["epochs"] = 1
    for preset in presets["optimizers"].values():
        preset["batch_size"] = max(preset["batch_size"], 1000)
        preset.pop("search", None)  # large batches leave the declared spaces; nothing is tuned here
    params["tuning"]["fixed"] = list(presets["optimizers"])
    params["tuning"]["audit"]["presets"] = []
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / "presets.yaml").write_text(yaml.safe_dump(presets, sort_keys=False))
    (dest / "dvc.lock").unlink(missing_ok=True)
    run(dest, "git", "init", "-q")
    run(dest, "git", "add", "-A")
    run(dest, "git", "commit", "-qm", "copy")
    return dest


def metrics(repo, scenario):
    return json.loads((repo / "metrics" / f"{scenario}.json").read_text())


def record(repo, scenario):
    return json.loads((repo / "records" / f"{scenario}.json").read_text())


def test_repro_trains_and_evaluates_every_scenario(repo):
    run(repo, "dvc", "repro")
    for scenario in ("standard", "l2", "sparse"):
        result = metrics(repo, scenario)
        # One epoch of 60 large batches: well above chance (10%) whatever the default preset. Every one of
        # the 60,000 training images is used once (no hold-out); curvature passes (K-FAC) may add more.
        assert 0.25 < result["test"]["accuracy"] <= 1 and result["test"]["loss"] > 0
        assert result["cost"]["epochs"] == 1 and result["cost"]["steps"] == 60
        assert 60_000 <= result["cost"]["grad_evals"] < 2 * 60_000
        if scenario != "sparse":
            assert result["nonzero"]["fc1"] == 30_720
        assert (repo / "models" / f"{scenario}.pt").exists() and record(repo, scenario)["scenario"] == scenario
        assert (repo / "plots" / f"{scenario}.csv").read_text().startswith("epoch,train_loss,test_loss")
    assert record(repo, "l2")["l2_mode"] == "coupled"
    sparse = metrics(repo, "sparse")
    configured = yaml.safe_load((repo / "params.yaml").read_text())["scenarios"]["sparse"]["sparsity"]
    assert sparse["nonzero"]["fc1_fc2"] <= 24_480 and sparse["sparsity"]["density_bound"] == configured["density"]
    assert run(repo, "dvc", "status").stdout.strip() == "Data and pipelines are up to date."
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "baseline")


def test_changing_the_target_trains_again_since_the_checks_within_epochs_stop_at_it(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["target_accuracy"] = 0.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = json.loads(run(repo, "dvc", "status", "--json").stdout)
    assert {"configure", "evaluate@standard", "evaluate@l2", "evaluate@sparse"} <= set(changed), changed
    ran = run(repo, "dvc", "repro").stdout
    assert "Running stage 'train@standard'" in ran and "Running stage 'evaluate@standard'" in ran, ran
    assert metrics(repo, "standard")["target"]["accuracy"] == 0.5
    run(repo, "git", "checkout", "HEAD", "--", "params.yaml", "dvc.lock", "metrics", "configs", "records", "plots")
    run(repo, "dvc", "checkout", "--force")
    assert run(repo, "dvc", "status").stdout.strip() == "Data and pipelines are up to date."


def test_exp_run_with_another_preset_and_bad_input(repo):
    before = metrics(repo, "standard")
    failed = run(repo, "dvc", "exp", "run", "-S", "optimizer.name=nosuch", check=False)
    assert failed.returncode != 0
    # DVC refuses it before any stage runs: the configure stage reads optimizers.<optimizer.name> of presets.yaml
    assert "'optimizers.nosuch' are missing from 'presets.yaml'" in failed.stdout + failed.stderr
    run(repo, "git", "checkout", "--", "params.yaml")
    assert metrics(repo, "standard") == before

    run(repo, "dvc", "exp", "run", "-n", "full-batch", "-S", "optimizer.name=gd")
    assert record(repo, "standard")["optimizer"] == "gd"
    assert metrics(repo, "standard")["cost"]["steps"] == 1
    shown = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    names = {exp.get("name") for commit in shown for exp in commit.get("experiments") or []}
    assert "full-batch" in names


def test_plots_diff_between_experiments(repo):
    run(repo, "dvc", "exp", "run", "-n", "nesterov-fast", "-S", "optimizer.name=nesterov",
        "-S", "presets.yaml:optimizers.nesterov.lr=0.2")
    result = run(repo, "dvc", "plots", "diff", "full-batch", "nesterov-fast", "--json")
    assert "standard test accuracy" in result.stdout


def test_exp_show_lists_the_selected_presets_settings_alone(repo):
    shown = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    revs = [rev for commit in shown for exp in commit.get("experiments") or [] for rev in exp["revs"]]
    assert {rev["name"] for rev in revs} >= {"full-batch", "nesterov-fast"}
    for rev in revs:
        params = rev["data"]["params"]
        presets = params["presets.yaml"]["data"]["optimizers"]
        assert list(presets) == [params["params.yaml"]["data"]["optimizer"]["name"]], rev["name"]
        if rev["name"] == "nesterov-fast":
            assert presets["nesterov"]["lr"] == 0.2


def test_study_and_report_on_a_tiny_budget(repo):
    study = [sys.executable, "-m", "lenet_bench", "study", "--presets", "sgd,gd", "--scenarios", "standard",
             "--seeds", "0", "--epochs", "1", "--with-dvc", "--jobs", "1", "--poll", "2"]
    out = run(repo, *study).stdout
    assert "2 to run" in out and "all 2 experiments recorded" in out
    runs = pd.read_csv(repo / "results" / "study.csv")
    assert sorted(runs["preset"]) == ["gd", "sgd"] and set(runs["scenario"]) == {"standard"}
    assert set(runs["seed"]) == {0} and set(runs["epochs"]) == {1} and set(runs["threads"]) == {1}
    curves = pd.read_csv(repo / "results" / "study_curves.csv")
    assert len(curves) == 2 and set(curves["preset"]) == {"gd", "sgd"}
    assert "2 already in results/study.csv, 0 to run" in run(repo, *study).stdout  # nothing is rerun

    run(repo, sys.executable, "-m", "lenet_bench", "report")
    text = (repo / "report" / "REPORT.md").read_text()
    assert "from results/study.csv (2 runs)" in text and "| sgd | mini-batch SGD | lr=0.001 |" in text
    assert (repo / "report" / "figures" / "curves.png").exists()
    assert "No run has reached 89.38%" in text  # one epoch is too short for the target: no profile to draw
    assert not (repo / "report" / "figures" / "profile.png").exists()


def test_study_on_dask_records_runs_that_the_dvc_study_then_skips(repo):
    if not (repo / "data" / "fashion_mnist.pt").exists():
        run(repo, sys.executable, "stages/prepare_data.py")
    subset = ["--presets", "momentum", "--scenarios", "standard,l2", "--seeds", "1", "--epochs", "1"]
    out = run(repo, sys.executable, "-m", "lenet_bench", "study", "--workers", "2", *subset).stdout
    assert "study-momentum-seed1-standard:" in out and "all 2 runs recorded" in out
    runs = pd.read_csv(repo / "results" / "study.csv").query("preset == 'momentum'")
    assert sorted(runs["scenario"]) == ["l2", "standard"] and set(runs["seed"]) == {1}
    assert set(runs["experiment"]) == {"study-momentum-seed1-standard", "study-momentum-seed1-l2"}
    assert set(runs["l2_mode"]) == {"none", "coupled"}
    curves = pd.read_csv(repo / "results" / "study_curves.csv").query("preset == 'momentum'")
    assert len(curves) == 2
    # The same runs through DVC's queue would have the same fingerprints: nothing is left to run.
    dry = run(repo, sys.executable, "-m", "lenet_bench", "study", "--with-dvc", "--dry-run", *subset).stdout
    assert "2 already in results/study.csv, 0 to run" in dry
