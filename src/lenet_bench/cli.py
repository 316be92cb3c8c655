"""lenet-bench <command> [options]: the one entry point of the project's commands (`python -m
lenet_bench` is the same). Each command is a module of lenet_bench.commands with main(argv). A user's
mistake ends the command with one line; `lenet-bench --debug <command>` (or LENET_BENCH_DEBUG=1) shows
the traceback instead, for a bug report."""
from __future__ import annotations

import importlib
import os
import sys

from .errors import UserError

COMMANDS = {
    "tune": "tune presets on Optuna, the same budget of trials each",
    "study": "run every preset x scenario x seed, on a Dask cluster or DVC's queue",
    "report": "build report/REPORT.md (and with --pdf its PDF) from the committed results",
    "pages": "rewrite the generated tables of README.md and report/*.md",
    "speed": "time one training epoch of every preset, interleaved, on this machine (results/speed.csv)",
    "export-experiments": "append this machine's finished DVC experiments to results/experiments.csv",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    debug = os.environ.get("LENET_BENCH_DEBUG", "") not in ("", "0")
    if argv and argv[0] == "--debug":
        argv, debug = argv[1:], True
    if not argv or argv[0] in ("-h", "--help"):
        width = max(map(len, COMMANDS))
        print("usage: lenet-bench [--debug] <command> [options]   (lenet-bench <command> --help for its options)"
              "\n\ncommands:")
        print("\n".join(f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()))
        return
    if argv[0] not in COMMANDS:
        sys.exit(f"error: unknown command '{argv[0]}'; commands: {', '.join(COMMANDS)}")
    module = importlib.import_module(f"lenet_bench.commands.{argv[0].replace('-', '_')}")
    try:
        module.main(argv[1:])
    except UserError as err:
        if debug:
            raise
        sys.exit(f"error: {err}")
