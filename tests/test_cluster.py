"""The study on a Dask LocalCluster of two worker processes, from a committed checkout with a small
synthetic data set: the same rows as the serial path, each run once though a worker dies, and a worker
with other code or data refusing its run in one line."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from lenet_bench import params as params_module
from lenet_bench.study import cluster, export, study_task
from lenet_bench.study.study import grid, plan
from lenet_bench.study.study_task import Mismatch, RunFailed, Task, check_worker, code_commit, data_md5, execute

# What differs between two runs of the same config: when and how fast they ran, and under what name.
VARYING = ["experiment", "seconds", "target_seconds", "load_average", "cpus"]


def tasks_for(presets, scenarios, seeds=(0,)):
    params = params_module.load()
    runs, _ = plan(params, grid(presets, scenarios, list(seeds)), export.THREADS, None, export.read_export())
    return [Task(f"{run.name}-{s}", s, run.params, code_commit(), data_md5()) for run in runs for s in run.scenarios]


def rows(path):
    return pd.read_csv(path).drop(columns=VARYING).sort_values(export.KEY).reset_index(drop=True)


@pytest.mark.slow
def test_a_study_on_two_workers_records_what_the_serial_path_records(checkout, monkeypatch, tmp_path):
    monkeypatch.chdir(checkout)
    for task in tasks_for(["sgd", "momentum"], ["standard"]):
        export.record(execute(task), [task.scenario], tmp_path)  # serially, in this process
    command = [sys.executable, "-m", "lenet_bench", "study", "--workers", "2", "--presets", "sgd,momentum",
               "--scenarios", "standard", "--seeds", "0"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 2 runs recorded" in done.stdout
    pd.testing.assert_frame_equal(rows(checkout / export.EXPORT), rows(tmp_path / export.EXPORT))
    curves = pd.read_csv(checkout / export.CURVES).drop(columns=["seconds"], errors="ignore")
    serial = pd.read_csv(tmp_path / export.CURVES).drop(columns=["seconds"], errors="ignore")
    pd.testing.assert_frame_equal(curves, serial)
    again = subprocess.run(command, capture_output=True, text=True)
    assert "2 already in results/study.csv, 0 to run" in again.stdout
    shutil.rmtree(checkout / "results")


@pytest.mark.slow
def test_a_run_whose_worker_dies_is_run_again_elsewhere_and_recorded_once(checkout, monkeypatch):
    monkeypatch.chdir(checkout)
    tasks = tasks_for(["sgd", "momentum"], ["standard", "l2"])
    recorded, failures, killed = [], [], []
    with cluster.connect(workers=2) as client:
        def kill_a_busy_worker():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [address for address, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(2)  # mid-run: its stages have started
                    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.2)
        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()

        def on_result(task, result):
            export.record(result, [task.scenario])
            recorded.append(task.name)
        cluster.run_all(client, execute, tasks, label=lambda t: t.name, on_result=on_result,
                        on_failure=lambda task, err: failures.append((task.name, err)))
        killer.join()
    assert killed, "no worker was busy within a minute"
    assert failures == [] and sorted(recorded) == sorted(t.name for t in tasks)
    export_rows = pd.read_csv(export.EXPORT)
    assert len(export_rows) == 4 and not export_rows.duplicated(export.KEY).any()
    shutil.rmtree(checkout / "results")


@pytest.mark.slow
def test_a_worker_with_other_code_or_data_refuses_the_run_in_one_line(checkout, monkeypatch, tmp_path):
    monkeypatch.chdir(checkout)
    task = tasks_for(["sgd"], ["standard"])[0]
    other_code = Task(task.name, task.scenario, task.params, "0000000", task.data_md5)
    other_data = Task(task.name, task.scenario, task.params, task.commit, "0" * 32)
    failures = {}
    with cluster.connect(workers=2) as client:
        cluster.run_all(client, execute, [other_code, other_data], label=lambda t: t.commit,
                        on_result=lambda task, result: None,
                        on_failure=lambda task, err: failures.__setitem__(task.commit, err))
    assert set(failures) == {"0000000", task.commit}
    for err in failures.values():
        assert isinstance(err, Mismatch) and "\n" not in str(err) and str(err).startswith("worker ")
    assert f"runs commit {task.commit}, the client 0000000: check out 0000000 there" in str(failures["0000000"])
    assert f"has data/fashion_mnist.pt with MD5 {task.data_md5}, the client {'0' * 32}" in str(failures[task.commit])
    clone = tmp_path / "clone"  # the same commit, without the (git-ignored) data
    subprocess.run(["git", "clone", "-q", str(checkout), str(clone)], check=True)
    with pytest.raises(Mismatch, match=r"has no data/fashion_mnist.pt: run `dvc repro prepare_data` there$"):
        check_worker(task.commit, task.data_md5, clone)


@pytest.mark.slow
def test_a_run_that_fails_on_its_own_says_why_and_is_recorded_once(checkout, monkeypatch, tmp_path):
    monkeypatch.chdir(checkout)
    task = tasks_for(["sgd"], ["standard"])[0]
    broken = Task(task.name, task.scenario, {**task.params, "optimizer": {"name": "nosuch"}}, task.commit,
                  task.data_md5)
    with pytest.raises(RunFailed, match="optimizer.name: unknown value 'nosuch'"):
        execute(broken)
    failures = tmp_path / "failures.csv"
    for _ in range(2):
        export.record_failure(failures, task.params, task.scenario, "RunFailed: it broke\nat the end", tmp_path)
    table = pd.read_csv(failures)
    assert len(table) == 1 and table["error"].iloc[0] == "RunFailed: it broke at the end"
    export.forget_failure(failures, task.params, task.scenario, tmp_path)
    assert pd.read_csv(failures).empty


def test_the_scheduler_comes_from_the_flag_the_scheduler_file_or_dasks_own_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert cluster.scheduler_address(None, None) is None  # a cluster of the command's own
    assert cluster.scheduler_address("tcp://a:1", None) == "tcp://a:1"
    written = tmp_path / "scheduler.json"
    written.write_text('{"type": "Scheduler", "address": "tcp://b:8786", "id": "x"}')
    assert cluster.scheduler_address(None, written) == "tcp://b:8786"
    with pytest.raises(cluster.UserError, match="give --scheduler or --scheduler-file, not both"):
        cluster.scheduler_address("tcp://a:1", written)
    written.write_text("{}")
    with pytest.raises(cluster.UserError, match=r"^--scheduler-file .*scheduler.json: no scheduler's address in it"):
        cluster.scheduler_address(None, written)
    import dask
    with dask.config.set({"scheduler-address": "tcp://c:8786"}):  # what DASK_SCHEDULER_ADDRESS sets
        assert cluster.scheduler_address(None, None) == "tcp://c:8786"
        assert cluster.scheduler_address("tcp://a:1", None) == "tcp://a:1"


def test_a_local_cluster_counts_the_cpus_this_process_may_use():
    from dask.system import CPU_COUNT
    assert cluster.CPU_COUNT == CPU_COUNT


def test_a_commit_that_leaves_the_code_alone_does_not_stop_a_running_study(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout
    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    for path, text in (("src/a.py", "x = 1\n"), ("stages/s.py", "\n"), ("dvc.yaml", "stages: {}\n"),
                       ("results/study.csv", "preset\n")):
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)
    git("add", "-A")
    git("commit", "-qm", "code")
    started = code_commit(tmp_path)
    (tmp_path / "results" / "study.csv").write_text("preset\nsgd\n")
    git("commit", "-qam", "a result")  # what a study does while it runs: its results are committed
    assert study_task.same_code(code_commit(tmp_path), started, tmp_path)
    (tmp_path / "src" / "a.py").write_text("x = 2\n")
    assert not study_task.same_code(code_commit(tmp_path), started, tmp_path)  # dirty code
    git("commit", "-qam", "new code")
    assert not study_task.same_code(code_commit(tmp_path), started, tmp_path)
