"""One writer at a time: an exclusive lock on a folder, shared by every process on the machine (and over NFS)."""
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_lock(folder: Path):
    """Held until the block ends; released by the kernel if the process dies."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
