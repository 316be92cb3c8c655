"""Reading finished DVC experiments from their git refs, on a small git repository made here."""
import json
import subprocess

import pytest
import yaml

from lenet_bench.experiments import finished_experiments, queue_status


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def commit(repo, files: dict, message: str) -> str:
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_finished_experiments_reads_params_and_metrics_of_each_named_ref(tmp_path):
    git(tmp_path, "init", "-q")
    params = {"optimizer": {"name": "sgd"}, "scenarios": {"standard": {}, "sparse": {}}}
    baseline = commit(tmp_path, {"params.yaml": yaml.safe_dump(params),
                                 "metrics/sparse.json": json.dumps({"test": {"accuracy": 0.5}})}, "baseline")
    params["optimizer"]["name"] = "adam"
    # What `dvc exp run -S lr=0.00003` writes: a float in YAML 1.2, as DVC reads it, not a string.
    experiment = commit(tmp_path, {"params.yaml": yaml.safe_dump(params) + "lr: 3e-05\n",
                                   "metrics/standard.json": json.dumps({"test": {"accuracy": 0.9}})}, "experiment")
    git(tmp_path, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/try-adam", experiment)
    git(tmp_path, "update-ref", "refs/exps/celery/stash", experiment)  # the queue's own ref: not an experiment

    [found] = finished_experiments(tmp_path)
    assert (found.name, found.rev, found.commit) == ("try-adam", experiment, baseline[:7])
    assert found.params["optimizer"]["name"] == "adam" and found.params["lr"] == 3e-05
    # Its sparse metrics are the baseline's: it did not re-run that scenario.
    assert found.metrics == {"metrics/standard.json": {"test": {"accuracy": 0.9}},
                             "metrics/sparse.json": {"test": {"accuracy": 0.5}}}
    assert found.commit_metrics == {"metrics/sparse.json": {"test": {"accuracy": 0.5}}}


def test_finished_experiments_is_empty_without_experiments(tmp_path):
    git(tmp_path, "init", "-q")
    commit(tmp_path, {"params.yaml": "scenarios: {}\n"}, "baseline")
    assert finished_experiments(tmp_path) == []



def test_queue_status_tries_again_when_dvc_fails_for_a_moment(tmp_path, stand_in_dvc):
    """A stand-in `dvc` fails its first call, as dvc does while a worker moves a task."""
    calls = tmp_path / "calls"
    stand_in_dvc("import pathlib, sys\n"
                 f"calls = pathlib.Path({str(calls)!r})\n"
                 "calls.write_text(calls.read_text() + 'x' if calls.exists() else 'x')\n"
                 "if len(calls.read_text()) == 1:\n"
                 "    print(\"ERROR: Invalid experiment '5628a71'.\"); sys.exit(255)\n"
                 "print('Task     Name                   Created    Status')\n"
                 "print('18a1f5d  study-newton_cg-seed1  07:34 AM   Running')\n"
                 "print('5a01169  study-newton_cg-seed0  07:34 AM   Success')\n"
                 "print(); print('Worker status: 1 active, 0 idle')\n")
    assert queue_status(pause=0) == {"study-newton_cg-seed1": "Running", "study-newton_cg-seed0": "Success"}
    calls.unlink()
    with pytest.raises(SystemExit, match=r"failed \(1 attempt\(s\)\):\nERROR: Invalid experiment"):
        queue_status(attempts=1)
