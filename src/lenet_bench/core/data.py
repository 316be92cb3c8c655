"""Fashion-MNIST: fetch the four original IDX files, verify them, parse them, store them."""
from __future__ import annotations

import gzip
import hashlib
import struct
import tempfile
from pathlib import Path

import torch

from lenet_bench.problem import TEST_SIZE, TRAIN_SIZE

# MD5 of each file's decompressed content, as published with the data set.
FILES = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
VALIDATION_SEED = 0  # fixed, so that every run and every seed holds out the same images
TORCHVISION = "torchvision"
APT_HINT = "install it with `sudo apt-get install dataset-fashion-mnist`"
NETWORK_HINT = "torchvision downloads it when the machine has network access"


class DataError(RuntimeError):
    """The data set could not be obtained or failed verification."""


def read_verified(directory: Path, name: str, md5: str) -> bytes:
    """Return the decompressed bytes of `name` (or `name.gz`) in `directory`, checked against `md5`."""
    candidates = [directory / name, directory / f"{name}.gz"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DataError(f"{name}(.gz) not found in {directory}")
    try:
        raw = path.read_bytes()
        content = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path} is corrupt or truncated ({err}); delete it and fetch it again") from err
    digest = hashlib.md5(content).hexdigest()
    if digest != md5:
        raise DataError(
            f"{path} failed its checksum: MD5 of its content is {digest}, expected {md5}; "
            "the file is corrupt or truncated, delete it and fetch it again"
        )
    return content


def parse_idx(content: bytes) -> torch.Tensor:
    """Parse an IDX file of unsigned bytes (magic 0x08) into a uint8 tensor of its shape."""
    if len(content) < 4:
        raise DataError("IDX content is shorter than its 4-byte magic number")
    zero, dtype, ndim = struct.unpack(">HBB", content[:4])
    if zero != 0 or dtype != 0x08:
        raise DataError(f"not an IDX file of unsigned bytes (magic {content[:4].hex()})")
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", content[4:header])
    expected = header + int(torch.Size(shape).numel())
    if len(content) != expected:
        raise DataError(f"IDX content has {len(content)} bytes, its header {shape} implies {expected}")
    return torch.frombuffer(bytearray(content[header:]), dtype=torch.uint8).reshape(shape)


def load_directory(directory: Path) -> dict[str, torch.Tensor]:
    """Read, verify and parse the four files from one directory."""
    parsed = {name: parse_idx(read_verified(directory, name, md5)) for name, md5 in FILES.items()}
    return {
        "train_images": parsed["train-images-idx3-ubyte"],
        "train_labels": parsed["train-labels-idx1-ubyte"].long(),
        "test_images": parsed["t10k-images-idx3-ubyte"],
        "test_labels": parsed["t10k-labels-idx1-ubyte"].long(),
    }


def download_with_torchvision(root: Path) -> Path:
    from torchvision.datasets import FashionMNIST

    FashionMNIST(root=str(root), train=True, download=True)
    FashionMNIST(root=str(root), train=False, download=True)
    return root / "FashionMNIST" / "raw"


def fetch(sources: list[str]) -> dict[str, torch.Tensor]:
    """Try each source in order: a directory with the four files, or 'torchvision' (download).

    Raises DataError listing every source tried, why it failed, and how to fix it.
    """
    failures = []
    for source in sources:
        try:
            if source == TORCHVISION:
                with tempfile.TemporaryDirectory() as tmp:
                    return load_directory(download_with_torchvision(Path(tmp)))
            return load_directory(Path(source))
        except Exception as err:  # noqa: BLE001 - every failure is reported, then the next source is tried
            hint = NETWORK_HINT if source == TORCHVISION else APT_HINT
            failures.append(f"  - {source}: {err} ({hint})")
    raise DataError("could not obtain Fashion-MNIST from any source in params.yaml data.sources:\n"
                    + "\n".join(failures))


def check_split(dataset: dict[str, torch.Tensor]) -> None:
    sizes = (len(dataset["train_images"]), len(dataset["test_images"]))
    if sizes != (TRAIN_SIZE, TEST_SIZE):
        raise DataError(f"expected {TRAIN_SIZE} train and {TEST_SIZE} test images, got {sizes}")


def to_unit_interval(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1], exactly as torchvision's ToTensor."""
    return images.unsqueeze(1).to(torch.float32).div(255)


def load(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Load the stored data set as model-ready tensors on `device`."""
    stored = torch.load(path, weights_only=True)
    return {
        "train_x": to_unit_interval(stored["train_images"]).to(device),
        "train_y": stored["train_labels"].to(device),
        "test_x": to_unit_interval(stored["test_images"]).to(device),
        "test_y": stored["test_labels"].to(device),
    }


def hold_out(dataset: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """Move `size` training images (a fixed random choice) into a validation set, for tuning.

    With size 0 the brief's split is returned unchanged."""
    if size == 0:
        return dataset
    order = torch.randperm(len(dataset["train_y"]), generator=torch.Generator().manual_seed(VALIDATION_SEED))
    held, kept = order[:size].to(dataset["train_y"].device), order[size:].to(dataset["train_y"].device)
    return {**dataset, "train_x": dataset["train_x"][kept], "train_y": dataset["train_y"][kept],
            "validation_x": dataset["train_x"][held], "validation_y": dataset["train_y"][held]}
