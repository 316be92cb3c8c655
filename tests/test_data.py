import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from lenet_bench.core import data
from lenet_bench.core.data import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def synthetic_files(tmp_path, monkeypatch):
    """Four small gzipped IDX files, with data.FILES pointing at their checksums."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, (6,)),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, (4,)),
    }
    checksums = {}
    for name, array in arrays.items():
        content = idx_bytes(array)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(content))
        checksums[name] = hashlib.md5(content).hexdigest()
    monkeypatch.setattr(data, "FILES", checksums)
    return tmp_path, arrays


def test_parse_idx_images_and_labels():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    parsed = data.parse_idx(idx_bytes(images))
    assert parsed.dtype == torch.uint8 and parsed.shape == (2, 3, 4)
    assert torch.equal(parsed, torch.from_numpy(images.astype(np.uint8)))
    assert data.parse_idx(idx_bytes(np.array([3, 1, 4]))).tolist() == [3, 1, 4]


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00", "shorter than"),
    (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00" * 4, "unsigned bytes"),
    (idx_bytes(np.zeros((2, 2)))[:-1], "header"),
])
def test_parse_idx_rejects_malformed_content(content, message):
    with pytest.raises(DataError, match=message):
        data.parse_idx(content)


def test_load_directory_reads_gzipped_and_plain_files(synthetic_files):
    directory, arrays = synthetic_files
    plain = directory / "t10k-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress((directory / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    loaded = data.load_directory(directory)
    assert torch.equal(loaded["train_images"], torch.from_numpy(arrays["train-images-idx3-ubyte"].astype(np.uint8)))
    assert loaded["test_labels"].dtype == torch.long
    assert loaded["test_labels"].tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_checksum_failure_names_the_file_and_both_digests(synthetic_files):
    directory, _ = synthetic_files
    path = directory / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x07"))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz failed its checksum: MD5 of its content is [0-9a-f]{32}, expected"):
        data.load_directory(directory)


def test_truncated_gzip_is_reported_as_corrupt(synthetic_files):
    directory, _ = synthetic_files
    path = directory / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="corrupt or truncated"):
        data.load_directory(directory)


def test_fetch_lists_every_source_and_how_to_fix_it(tmp_path, monkeypatch):
    def offline(root):
        raise OSError("no network")
    monkeypatch.setattr(data, "download_with_torchvision", offline)
    with pytest.raises(DataError) as error:
        data.fetch([str(tmp_path / "missing"), "torchvision"])
    message = str(error.value)
    assert "missing: train-images-idx3-ubyte(.gz) not found" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "torchvision: no network" in message and "network access" in message


def test_fetch_falls_through_to_the_next_source(synthetic_files, tmp_path):
    directory, _ = synthetic_files
    dataset = data.fetch([str(tmp_path / "nowhere"), str(directory)])
    assert len(dataset["train_images"]) == 6


def test_check_split_rejects_other_sizes(synthetic_files):
    with pytest.raises(DataError, match="expected 60000 train and 10000 test"):
        data.check_split(data.load_directory(synthetic_files[0]))


def test_scaling_matches_torchvision_to_tensor():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    expected = torch.stack([transforms.ToTensor()(Image.fromarray(img.numpy(), mode="L")) for img in images])
    assert torch.equal(data.to_unit_interval(images), expected)


def test_hold_out_moves_a_fixed_disjoint_validation_set():
    dataset = {"train_x": torch.arange(100.0).reshape(100, 1), "train_y": torch.arange(100),
               "test_x": torch.zeros(5, 1), "test_y": torch.zeros(5, dtype=torch.long)}
    assert data.hold_out(dataset, 0) is dataset
    split = data.hold_out(dataset, 20)
    assert len(split["train_y"]) == 80 and len(split["validation_y"]) == 20
    assert set(split["train_y"].tolist()).isdisjoint(split["validation_y"].tolist())
    assert torch.equal(split["validation_y"], data.hold_out(dataset, 20)["validation_y"])
    assert torch.equal(split["test_y"], dataset["test_y"])
