"""The one entry point, lenet-bench <command>."""
import importlib

import pytest

from lenet_bench import cli


def test_every_command_is_a_module_with_main():
    for name in cli.COMMANDS:
        assert callable(importlib.import_module(f"lenet_bench.commands.{name.replace('-', '_')}").main), name


def test_no_command_lists_them_and_an_unknown_one_is_a_one_line_error(capsys):
    cli.main([])
    listed = capsys.readouterr().out
    assert all(f"  {name} " in listed for name in cli.COMMANDS)
    with pytest.raises(SystemExit, match="^error: unknown command 'tun'; commands: tune, study, report"):
        cli.main(["tun"])


def test_a_command_gets_the_rest_of_the_line(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["study", "--help"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("usage: lenet-bench study")
