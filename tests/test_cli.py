"""The one entry point, lenet-bench <command>: one argparse tree, light until a command runs."""
import subprocess
import sys

import pytest

from lenet_bench import cli


def test_every_command_has_help_examples_arguments_and_run():
    for name in cli.COMMANDS:
        module = cli.command_module(name)
        assert callable(module.arguments) and callable(module.run), name
        assert "\n\nexamples:\n  lenet-bench " + name in module.__doc__, f"{name}: its docstring gives no examples"


def test_no_command_lists_them_and_an_unknown_one_is_refused(capsys):
    cli.main([])
    listed = capsys.readouterr().out
    assert all(f"    {name} " in listed for name in cli.COMMANDS)
    with pytest.raises(SystemExit) as refused:
        cli.main(["tun"])
    assert refused.value.code == 2 and "invalid choice: 'tun'" in capsys.readouterr().err


def test_a_commands_help_carries_its_examples(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["study", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: lenet-bench study")
    assert "\nexamples:\n" in out and "\n  lenet-bench study --ablation " in out


def test_every_command_takes_presets_the_same_way():
    top = cli.parser()
    for name in ("tune", "study", "speed"):
        args = top.parse_args([name, "--presets", "adam,kfac"])
        assert args.presets == "adam,kfac", name


def test_version_and_completion(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("lenet-bench 0.")
    with pytest.raises(SystemExit):
        cli.main(["--print-completion", "bash"])
    assert "lenet-bench" in capsys.readouterr().out


def test_help_imports_neither_torch_nor_optuna_nor_pandas():
    code = ("import sys, contextlib, io\nfrom lenet_bench import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    cli.main(['tune', '--help'])\n"
            "print(sorted(m for m in ('torch', 'optuna', 'pandas', 'dask') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
