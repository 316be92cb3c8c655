"""lenet-bench <command> [options]: the one entry point of the project's commands (`python -m
lenet_bench` is the same). Each command is a module of lenet_bench.commands: its docstring is its help
(the first line) and its examples (the rest), arguments(parser) declares its options, and run(args)
does the work, importing what it needs only then, so that `--help` answers at once. A user's mistake
ends the command with one line; `lenet-bench --debug <command>` (or LENET_BENCH_DEBUG=1) shows the
traceback instead, for a bug report."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib import metadata

import shtab

from lenet_bench.errors import UserError

COMMANDS = ("tune", "study", "report", "pages", "speed", "export-experiments")


def command_module(name: str):
    return importlib.import_module(f"lenet_bench.commands.{name.replace('-', '_')}")


def add_command(subparsers, name: str, module) -> argparse.ArgumentParser:
    summary, _, examples = module.__doc__.partition("\n\n")
    parser = subparsers.add_parser(name, help=summary.rstrip("."), description=summary, epilog=examples,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    module.arguments(parser)
    parser.set_defaults(run=module.run)
    return parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="lenet-bench", description="A workbench for studying optimizers on LeNet-5 "
                                  "and Fashion-MNIST.", epilog="`lenet-bench <command> --help` gives a command's "
                                  "options and examples.")
    top.add_argument("--version", action="version", version=f"%(prog)s {metadata.version('lenet-bench')}")
    top.add_argument("--debug", action="store_true", help="show a user error's traceback (for a bug report)")
    shtab.add_argument_to(top, ["--print-completion"])  # lenet-bench --print-completion bash > ...
    subparsers = top.add_subparsers(title="commands", dest="command", metavar="<command>")
    for name in COMMANDS:
        add_command(subparsers, name, command_module(name))
    return top


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    top = parser()
    args = top.parse_args(argv)
    debug = args.debug or os.environ.get("LENET_BENCH_DEBUG", "") not in ("", "0")
    if args.command is None:
        top.print_help()
        return
    try:
        args.run(args)
    except UserError as err:
        if debug:
            raise
        sys.exit(f"error: {err}")
