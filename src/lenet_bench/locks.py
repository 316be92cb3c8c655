"""One writer at a time: filelock's lock file in a folder (`<folder>/.lock`), released by the kernel if
its process dies; a writer that must wait says who holds it, and gives up after a timeout."""
from __future__ import annotations

import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from lenet_bench.errors import UserError

LOCK, HOLDER = ".lock", ".lock.holder"
NOTICE = 2.0      # seconds of waiting before a writer says what it waits for
TIMEOUT = 900.0   # seconds before it gives up: no writer holds a lock this long


def holder(folder: Path) -> str:
    """Who took the folder's lock last (the holder, while it is held)."""
    try:
        return (folder / HOLDER).read_text().strip() or "an unknown process"
    except OSError:
        return "an unknown process"


@contextmanager
def folder_lock(folder: Path, timeout: float = TIMEOUT):
    """Held until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK)
    try:
        lock.acquire(timeout=min(NOTICE, timeout))
    except Timeout:
        print(f"waiting for the lock on {folder}/, held by {holder(folder)}", file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=max(timeout - NOTICE, 0))
        except Timeout:
            raise UserError(f"{folder}/ is still locked after {timeout:g} s, by {holder(folder)}; if that process "
                            f"is gone, delete {folder / LOCK}") from None
    try:
        (folder / HOLDER).write_text(f"{socket.gethostname()}:{os.getpid()} ({' '.join(sys.argv)[:160]}), "
                                     f"since {time.strftime('%H:%M:%S')}\n")
        yield
    finally:
        lock.release()
