"""Every benchmark runs, on a tiny size, and prints its ratio against the baseline it times beside it."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def folder(tmp_path, write_dataset):
    for name in ("params.yaml", "presets.yaml"):
        shutil.copy(ROOT / name, tmp_path)
    write_dataset(tmp_path / "data" / "fashion_mnist.pt", 512)
    return tmp_path


def bench(folder: Path, script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args, "--output", "out.json"],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (folder / "out.json").exists()
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script, args, ratio", [
    ("full_gradient.py", ["--batch", "256", "--chunk", "64", "--repeats", "1"], "speed-up: "),
    ("single_sample_step.py", ["--steps", "5", "--repeats", "1"], "ratio: "),
    ("parallel_jobs.py", ["--samples", "128"], "x the throughput of one 2-thread job"),
])
def test_a_benchmark_runs_on_a_tiny_size(folder, script, args, ratio):
    assert ratio in bench(folder, script, *args).strip().splitlines()[-1]


@pytest.mark.slow
def test_the_epoch_benchmark_runs_on_a_tiny_size(folder):
    if not REAL_DATA.exists():
        pytest.skip(f"the brief's loop reads the original files from {REAL_DATA} (apt-get install dataset-fashion-mnist)")
    out = bench(folder, "epoch_speed.py", "--samples", "256", "--repeats", "1", "--source", str(REAL_DATA))
    assert out.strip().splitlines()[-1].startswith("speed-up: ")
