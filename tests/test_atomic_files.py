import json

import pytest
import torch

from lenet_bench import atomic_files


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    atomic_files.write_json(path, {"accuracy": 0.9})
    with pytest.raises(TypeError):
        atomic_files.write_json(path, {"accuracy": object()})
    assert json.loads(path.read_text()) == {"accuracy": 0.9}
    assert list(tmp_path.iterdir()) == [path]


def test_writes_round_trip_with_usual_permissions(tmp_path):
    atomic_files.write_csv(tmp_path / "a" / "curve.csv", [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}])
    assert (tmp_path / "a" / "curve.csv").read_text() == "epoch,loss\n1,0.5\n2,0.25\n"
    atomic_files.save_torch(tmp_path / "model.pt", {"w": torch.ones(2)})
    assert torch.equal(torch.load(tmp_path / "model.pt")["w"], torch.ones(2))
    assert (tmp_path / "model.pt").stat().st_mode & 0o044 == 0o044


def test_non_finite_numbers_are_written_as_null(tmp_path):
    atomic_files.write_json(tmp_path / "m.json", {"loss": float("nan"), "history": [1.0, float("inf")]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"loss": None, "history": [1.0, None]}
