"""One study run as a self-contained task, for a worker on this machine or another: the run's full
params.yaml, the scenario, the code's commit and the data's MD5. The worker runs dvc.yaml's stage
commands in a scratch copy of its checkout (the folder it was started in) and returns the metrics and
the learning curve; only the client writes the export."""
from __future__ import annotations

import ctypes
import hashlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from lenet_bench.paths import DATASET as DATA  # the data stage's output, under a checkout
from lenet_bench.study.export import Experiment


class Mismatch(RuntimeError):
    """The worker cannot make the run the client asked for (another commit, other data)."""


class RunFailed(RuntimeError):
    """A stage of the run failed on its own (a bad config, say): trying it again would fail again."""


@dataclass(frozen=True)
class Task:
    name: str       # study-<preset>-seed<seed>-<scenario>
    scenario: str
    params: dict    # the run's whole params.yaml
    commit: str     # the code the client runs; a worker on other code refuses the task
    data_md5: str   # of data/fashion_mnist.pt; a worker with other data, or none, refuses the task


def code_commit(checkout: Path = Path(".")) -> str:
    """The checkout's commit, with '-dirty' when its code (src/, stages/, dvc.yaml) has changes that
    are not committed: two such trees need not hold the same code."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True)
    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return "unknown"
    dirty = git("status", "--porcelain", "--", "src", "stages", "dvc.yaml").stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


@cache
def _md5(path: Path, size: int, mtime: float) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_md5(checkout: Path = Path(".")) -> str | None:
    """MD5 of the checkout's prepared data (once per file version), None if it has none."""
    path = checkout / DATA
    if not path.exists():
        return None
    stat = path.stat()
    return _md5(path.resolve(), stat.st_size, stat.st_mtime)


CODE = ("src", "stages", "dvc.yaml")  # what a run's result depends on, besides params and data


def same_code(here: str, commit: str, checkout: Path = Path(".")) -> bool:
    """Whether the checkout at commit `here` holds the code of `commit`: the same commit, or a later one that
    changed no file of CODE (results, tunings or the report committed while a study runs)."""
    if here == commit:
        return True
    if here.endswith("-dirty") or commit.endswith("-dirty"):
        return False
    trees = [subprocess.run(["git", "-C", str(checkout), "rev-parse", *(f"{rev}:{path}" for path in CODE)],
                            capture_output=True, text=True) for rev in (here, commit)]
    return all(t.returncode == 0 for t in trees) and trees[0].stdout == trees[1].stdout


def check_worker(commit: str, md5: str | None, checkout: Path = Path(".")) -> None:
    """Mismatch, in one line naming this worker, unless it has the client's code and data."""
    where = f"worker {socket.gethostname()}:{checkout.resolve()}"
    here = code_commit(checkout)
    if not same_code(here, commit, checkout):
        raise Mismatch(f"{where} runs commit {here}, the client {commit}: check out {commit} there")
    here = data_md5(checkout)
    if here is None:
        raise Mismatch(f"{where} has no {DATA}: run `dvc repro prepare_data` there")
    if here != md5:
        raise Mismatch(f"{where} has {DATA} with MD5 {here}, the client {md5}: run `dvc repro prepare_data` "
                       "there (or `dvc pull`, where a DVC remote is configured)")


def stage_commands(scenario: str, checkout: Path = Path(".")) -> list[list[str]]:
    """dvc.yaml's commands that produce metrics/<scenario>.json from params.yaml."""
    stages = yaml.safe_load((checkout / "dvc.yaml").read_text())["stages"]
    commands = [stages["configure"]["cmd"], stages["train"]["do"]["cmd"], stages["evaluate"]["do"]["cmd"]]
    return [command.replace("${key}", scenario).split() for command in commands]


def _die_with_parent() -> None:
    """In a stage's process: be killed when the worker that started it dies, rather than train on
    for nobody (Linux; elsewhere the stage runs to its end)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def execute(task: Task, checkout: Path = Path(".")) -> Experiment:
    """Train and evaluate the task's scenario as `dvc exp run` would, in a scratch copy of the
    checkout's stages and library; Mismatch or RunFailed (with the log's tail) if it cannot."""
    check_worker(task.commit, task.data_md5, checkout)
    workdir = Path(tempfile.mkdtemp(prefix=f"{task.name}-"))
    try:
        for folder in ("stages", "src"):
            shutil.copytree(checkout / folder, workdir / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(checkout / "dvc.yaml", workdir)
        (workdir / "data").mkdir()
        (workdir / DATA).symlink_to((checkout / DATA).resolve())
        (workdir / "params.yaml").write_text(yaml.safe_dump(task.params, sort_keys=False))
        with open(workdir / "log.txt", "w") as log:
            for command in stage_commands(task.scenario, checkout):
                command = [sys.executable if command[0] == "python" else command[0], *command[1:]]
                done = subprocess.run(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=_die_with_parent)
                if done.returncode != 0:
                    tail = (workdir / "log.txt").read_text()[-1500:]
                    raise RunFailed(f"{task.name}: `{' '.join(command[1:])}` exited {done.returncode} on "
                                    f"{socket.gethostname()}:\n{tail}")
        metrics = json.loads((workdir / "metrics" / f"{task.scenario}.json").read_text())
        record = json.loads((workdir / "records" / f"{task.scenario}.json").read_text())
        curve = (workdir / "plots" / f"{task.scenario}.csv").read_text()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Experiment(name=task.name, rev="", commit=task.commit, params=task.params,
                      metrics={f"metrics/{task.scenario}.json": metrics}, commit_metrics={},
                      curves={task.scenario: curve}, records={task.scenario: record})
