import copy
import os
import sys
from pathlib import Path

import pytest
import torch

from lenet_bench import params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project_params() -> dict:
    """The repository's params.yaml, as a fresh mutable copy."""
    return copy.deepcopy(params.load(ROOT / "params.yaml"))


def synthetic_data(n_train: int = 256, n_test: int = 128, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random images in [0, 1] with labels that depend on them, shaped like Fashion-MNIST."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_train + n_test, 1, 28, 28, generator=g)
    y = (x[:, 0, :14, :].mean(dim=(1, 2)) * 10).long().clamp(0, 9)
    return {"train_x": x[:n_train], "train_y": y[:n_train], "test_x": x[n_train:], "test_y": y[n_train:]}


@pytest.fixture
def stand_in_dvc(tmp_path, monkeypatch):
    """Put a `dvc` first on PATH that runs the given Python code instead (write it again to change it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def write(code: str) -> None:
        (bin_dir / "dvc").write_text(f"#!{sys.executable}\n{code}")
        (bin_dir / "dvc").chmod(0o755)
    return write
