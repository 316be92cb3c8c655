"""Reading finished DVC experiments from their git refs, on a small git repository made here."""
import json
import subprocess

import yaml

from lenet_bench.study.dvc_experiments import finished_experiments


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
