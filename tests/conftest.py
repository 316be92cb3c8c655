"""Shared fixtures: the repository's root and params.yaml, synthetic data, a committed checkout, a
stand-in `dvc`."""
import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lenet_bench import params

ROOT = Path(__file__).resolve().parents[1]


def pytest_generate_tests(metafunc):
    """`preset_name`: one test per preset of params.yaml."""
    if "preset_name" in metafunc.fixturenames:
        metafunc.parametrize("preset_name", list(params.load(ROOT / "params.yaml")["optimizers"]))


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture
def project_params() -> dict:
    """The repository's params.yaml, as a fresh mutable copy."""
    return copy.deepcopy(params.load(ROOT / "params.yaml"))


def _synthetic_data(n_train: int = 256, n_test: int = 128, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random images in [0, 1] with labels that depend on them, shaped like Fashion-MNIST."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_train + n_test, 1, 28, 28, generator=g)
    y = (x[:, 0, :14, :].mean(dim=(1, 2)) * 10).long().clamp(0, 9)
    return {"train_x": x[:n_train], "train_y": y[:n_train], "test_x": x[n_train:], "test_y": y[n_train:]}


@pytest.fixture(scope="session")
def synthetic_data():
    """A maker of small synthetic data sets: synthetic_data(n_train=256, n_test=128, seed=0)."""
    return _synthetic_data


@pytest.fixture(scope="session")
def write_dataset(synthetic_data):
    """A writer of stand-ins for data/fashion_mnist.pt: synthetic images stored as the data stage stores them."""
    def write(path: Path, n_train: int, n_test: int = 64) -> None:
        data = synthetic_data(n_train, n_test)
        as_bytes = lambda x: (x[:, 0] * 255).round().to(torch.uint8)  # noqa: E731
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"train_images": as_bytes(data["train_x"]), "train_labels": data["train_y"],
                    "test_images": as_bytes(data["test_x"]), "test_labels": data["test_y"]}, path)
    return write


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, write_dataset):
    """A committed copy of the project's code and params.yaml (1 epoch) with a small synthetic data set:
    what a study worker runs from."""
    dest = tmp_path_factory.mktemp("checkout")
    for folder in ("stages", "src"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "dvc.yaml", dest)
    project = params.load(ROOT / "params.yaml")
    project["train"]["epochs"] = 1
    (dest / "params.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    (dest / ".gitignore").write_text("/data/\n/results/\n")
    write_dataset(dest / "data" / "fashion_mnist.pt", 512, 128)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-C", str(dest)]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "checkout"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    return dest


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
