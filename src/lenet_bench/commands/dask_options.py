"""The options that say where a command's Dask work runs, shared by `study` and `tune`."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(group: argparse._ActionsContainer, workers_help: str, workers_default: int | None) -> None:
    """--workers, --scheduler, --cluster, --scheduler-file and --scheduler-timeout."""
    group.add_argument("--workers", type=int, default=workers_default, help=workers_help)
    group.add_argument("--scheduler", help="a running Dask scheduler, e.g. tcp://host:8786 (one task per worker)")
    group.add_argument("--cluster", choices=["slurm"], help="get workers from Slurm through dask-jobqueue")
    group.add_argument("--scheduler-file", type=Path,
                       help="join the scheduler whose address this file holds (dask scheduler --scheduler-file)")
    group.add_argument("--scheduler-timeout", type=float, default=30,
                       help="seconds to wait for the --scheduler to answer (default 30)")
