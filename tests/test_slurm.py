"""The study on Slurm for real: `lenet-bench study --cluster slurm --workers 2` on a one-node cluster
(scripts/slurm-local.sh starts one; .ci/run does), from a committed checkout with a small synthetic
data set, each run recorded once."""
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.slurm,
    pytest.mark.skipif(shutil.which("sinfo") is None,
                       reason="no Slurm here (sinfo is absent); start a one-node cluster: sudo scripts/slurm-local.sh"),
]
SEEDS = (1011, 1012)  # outside every export: nothing is skipped


def test_a_study_on_slurm_records_each_run_once(checkout):
    up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if not any(state.startswith(("idle", "mixed", "alloc")) for state in up.stdout.split()):
        pytest.skip(f"Slurm has no node up ({up.stdout.strip() or up.stderr.strip()}); run scripts/slurm-local.sh")
    env = {**os.environ, "DASK_JOBQUEUE__SLURM__MEMORY": "2GB", "DASK_JOBQUEUE__SLURM__WALLTIME": "00:20:00",
           "DASK_JOBQUEUE__SLURM__PYTHON": sys.executable, "DASK_JOBQUEUE__SLURM__LOG_DIRECTORY": "results/slurm-logs"}
    command = [sys.executable, "-m", "lenet_bench", "study", "--cluster", "slurm", "--workers", "2",
               "--presets", "sgd,momentum", "--scenarios", "standard", "--seeds", ",".join(map(str, SEEDS)),
               "--export", "results/slurm.csv"]
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "study: all 4 runs recorded in results/slurm.csv" in done.stdout
    rows = pd.read_csv(checkout / "results" / "slurm.csv")
    assert sorted(zip(rows["preset"], rows["seed"])) == sorted((p, s) for p in ("sgd", "momentum") for s in SEEDS)
    assert rows["test_accuracy"].between(0, 1).all() and (rows["epochs"] == 1).all()
    shutil.rmtree(checkout / "results")
