"""Atomic writes: a crash mid-write leaves the previous file, never a half-written one."""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import torch

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
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, obj) -> None:
    _atomic(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def write_csv(path: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic(path, lambda f: f.write(text.getvalue().encode()))


def save_torch(path: Path, obj) -> None:
    _atomic(path, lambda f: torch.save(obj, f))


def read_json(path: Path):
    with open(path) as f:
        return json.load(f)
