"""DVC queue control, against a stand-in `dvc`."""
import pytest

from lenet_bench.study.dvc_queue import queue_experiment, queue_status


def test_queue_experiment_holds_the_export_lock_while_dvc_runs(tmp_path, stand_in_dvc):
    """A stand-in `dvc` succeeds only if it cannot take the export's lock itself, i.e. the study holds it."""
    stand_in_dvc("import sys\n"
                 "from filelock import FileLock, Timeout\n"
                 "try:\n"
                 "    FileLock('results/.lock').acquire(timeout=0)\n"
                 "except Timeout:\n"
                 "    sys.exit(0)\n"
                 "print('the export was not locked'); sys.exit(1)\n")
    queue_experiment("study-sgd-seed0", ["optimizer.name=sgd"], ["evaluate@standard"], tmp_path)
    stand_in_dvc("import sys\nprint('no such stage'); sys.exit(2)\n")
    with pytest.raises(SystemExit, match="no such stage"):
        queue_experiment("study-sgd-seed0", [], ["evaluate@nowhere"], tmp_path)


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
