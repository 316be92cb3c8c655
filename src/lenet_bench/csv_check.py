"""Read a CSV the project wrote, refusing a damaged one in one line that names the file and its first bad
line: a row cut short or run long, a quoted field never closed, a file that stops mid-line, a missing
column, a key that repeats."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from lenet_bench.errors import UserError

RENAMED = {"optimizer": "preset"}  # columns of older files, read under their current names


def damaged(path: Path, line: int, what: str) -> UserError:
    return UserError(f"{path}: damaged at line {line} ({what}); restore it from git (git checkout -- {path}) "
                     "or from a backup")


def read_checked(path: Path, columns: list[str], key: list[str]) -> pd.DataFrame:
    """The CSV at `path`, checked: every row as wide as the header, the file ending with a newline (the
    writer's last act), the `columns` present and no `key` twice."""
    text = path.read_text()
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise damaged(path, 1, "it is empty")
        for row in reader:
            if len(row) != len(header):
                raise damaged(path, reader.line_num, f"{len(row)} fields where the header has {len(header)}")
    except csv.Error as err:
        raise damaged(path, reader.line_num, str(err)) from None
    if not text.endswith("\n"):
        raise damaged(path, reader.line_num, "the file stops mid-line")
    header = [RENAMED.get(c, c) if RENAMED.get(c) not in header else c for c in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise damaged(path, 1, f"no column {', '.join(missing)}")
    table = pd.read_csv(io.StringIO(text)).set_axis(header, axis=1)
    repeated = table.duplicated(key, keep="first")
    if repeated.any():
        position = int(repeated.to_numpy().nonzero()[0][0])
        raise damaged(path, position + 2, f"{', '.join(f'{k}={table[k].iloc[position]}' for k in key)} again")
    return table
