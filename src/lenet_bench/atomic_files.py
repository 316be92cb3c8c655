"""Atomic writes: a crash mid-write leaves the previous file, never a half-written one."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # on disk before it takes the old file's name: a crash leaves one or the other
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _finite(obj):
    """NaN and infinity (a diverged run's losses) as null: JSON has no such numbers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_finite(value) for value in obj]
    return obj


def write_json(path: Path, obj) -> None:
    _atomic(path, lambda f: f.write((json.dumps(_finite(obj), indent=2, allow_nan=False) + "\n").encode()))


def write_csv(path: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic(path, lambda f: f.write(text.getvalue().encode()))


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda f: f.write(text.encode()))


def save_torch(path: Path, obj) -> None:
    import torch  # imported on use: the read side writes no tensors, and must not wait for torch

    _atomic(path, lambda f: torch.save(obj, f))


def read_json(path: Path):
    with open(path) as f:
        return json.load(f)
