"""The options that say where a command's Dask work runs, shared by `study` and `tune`."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

WORKERS_PER_CORE = 4  # local worker processes beyond this many per core only thrash; --force allows them


def add_arguments(group: argparse._ActionsContainer, workers_help: str, workers_default: int | None) -> None:
    """--workers, --scheduler, --cluster, --scheduler-file and --scheduler-timeout."""
    group.add_argument("--workers", type=int, default=workers_default, help=workers_help)
    group.add_argument("--scheduler", help="a running Dask scheduler, e.g. tcp://host:8786 (one task per worker)")
    group.add_argument("--cluster", choices=["slurm"], help="get workers from Slurm through dask-jobqueue")
    group.add_argument("--scheduler-file", type=Path,
                       help="join the scheduler whose address this file holds (dask scheduler --scheduler-file)")
    group.add_argument("--scheduler-timeout", type=float, default=30,
                       help="seconds to wait for the --scheduler to answer (default 30)")
    group.add_argument("--force", action="store_true",
                       help=f"start more than {WORKERS_PER_CORE} local workers per core (--workers) all the same")


def check_timeout(args) -> str | None:
    """Why --scheduler-timeout is refused, or None; checked before any scheduler is looked for."""
    if not args.scheduler_timeout > 0:
        return f"error: --scheduler-timeout must be a positive number of seconds, got {args.scheduler_timeout:g}"
    return None


def check_workers(args) -> str | None:
    """Why --workers is refused (one line naming the fix), or None: more local worker processes than
    WORKERS_PER_CORE per core would only fight over the cores, and --workers 1000 would start a thousand. Workers
    of a --scheduler or of Slurm live elsewhere and are not limited by this machine."""
    cores = os.cpu_count() or 1
    if args.workers is None or args.scheduler or args.cluster or args.force or args.workers <= WORKERS_PER_CORE * cores:
        return None
    return (f"error: --workers {args.workers} would start {args.workers} processes on this machine of {cores} cores; "
            f"give at most {WORKERS_PER_CORE * cores}, or add --force")
