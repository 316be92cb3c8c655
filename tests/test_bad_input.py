"""Every bad input and every damaged file ends a command with one line that names the thing to fix, and
leaves the committed results and tunings as they were."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lenet_bench.tuning import tuning

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, write_dataset):
    """A copy of the project's params.yaml, presets.yaml, results/ and the adam tuning, with a small synthetic data set."""
    for name in ("params.yaml", "presets.yaml", "README.md"):
        shutil.copy(ROOT / name, tmp_path)
    shutil.copytree(ROOT / "results", tmp_path / "results")
    (tmp_path / "tuning").mkdir()
    for name in ("adam.csv", "adam.journal"):
        shutil.copy(ROOT / "tuning" / name, tmp_path / "tuning")
    shutil.copytree(ROOT / "report", tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf"))
    write_dataset(tmp_path / "data" / "fashion_mnist.pt", 256)
    return tmp_path


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in ("results", "tuning", "report") for p in sorted((root / folder).rglob("*")) if p.is_file()}


def run(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lenet_bench", *args], cwd=root, capture_output=True, text=True,
                          env=env, timeout=300)


def refused(root: Path, *args: str, env: dict | None = None) -> str:
    """Run the command; assert it failed with one line and changed nothing; return the line."""
    before = checksums(root)
    result = run(root, *args, env=env)
    message = result.stderr.strip()
    assert result.returncode != 0, result.stdout
    assert len(message.splitlines()) == 1 and message.startswith("error: "), message
    assert checksums(root) == before
    return message


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["tune", "--presets", "adam", "--storage", "foo://bar"],
     "error: --storage foo://bar: cannot open this database (Can't load plugin: sqlalchemy.dialects:foo); give a URL"),
    (["tune", "--presets", "adam", "--storage", "sqlite:////nonexistent/x.db"],
     "error: --storage sqlite:////nonexistent/x.db: cannot open this database ((sqlite3.OperationalError) unable to "
     "open database file)"),
    (["study", "--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "2", "--export", "results/x.csv"],
     "error: --scheduler tcp://127.0.0.1:1: no Dask scheduler answered within 2 s"),
    (["study", "--scheduler", "nonsense", "--export", "results/x.csv"],
     "error: --scheduler nonsense: not a scheduler's address"),
    (["report", "--out", "/proc/nope"], "error: --out /proc/nope: cannot write the report there"),
    (["study", "--seeds", "3-1"], "error: --seeds: '3-1' ends below its start; write it 1-3"),
    (["study", "--epochs", "0"], "error: --epochs must be at least 1, got 0"),
    (["tune", "--presets", "adam", "--trials", "2", "--epochs", "1", "--storage", "tuning/kfac.journal"],
     "error: --storage tuning/kfac.journal: the journals and tables under tuning/ are the committed tunings"),
    (["tune", "--presets", "adam", "--storage", "/tmp/smoke.journal", "--table", "tuning/kfac.csv", "--table-only"],
     "error: --table tuning/kfac.csv: the journals and tables under tuning/ are the committed tunings"),
    (["study", "--presets", "adam", "--scenarios", "standard", "--seeds", "9", "--epochs", "1"],
     "error: --epochs 1 is not the study's budget (10 epochs): write such runs to an export of their own"),
    (["pages", "--root", "/tmp"], "error: --root /tmp: no params.yaml, README.md, report/results.md"),
    (["study", "--scheduler-timeout", "-5", "--export", "results/x.csv"],
     "error: --scheduler-timeout must be a positive number of seconds, got -5"),
    (["study", "--workers", "1000", "--export", "results/x.csv"], "error: --workers 1000 would start 1000 processes on "
     "this machine of"),
    (["tune", "--presets", "adam", "--workers", "1000"], "error: --workers 1000 would start 1000 processes"),
    (["study", "--ablation", "--seeds", "3"], "error: --ablation takes its presets, scenario and seeds from "
     "params.yaml's study.ablation"),
    (["study", "--ablation"], "error: study.ablation: variant kfac-curvature_every_step has 0 of its 8 lr trials "
     "finished (tuning/ablation/kfac-curvature_every_step.csv); tune the variants first: lenet-bench tune --ablation"),
    (["tune", "--ablation", "--presets", "adam"], "error: --ablation tunes the variants of study.ablation in "
     "tuning/ablation/; drop --presets"),
    (["tune", "--presets", "adam", "--trials", "2"], "error: --trials makes a tuning on other terms than params.yaml's"),
])
def test_a_bad_command_line_gets_one_line_and_changes_nothing(project, args, message):
    assert refused(project, *args).startswith(message)


@pytest.mark.slow
def test_slurm_without_its_config_gets_one_line(project, tmp_path_factory):
    pytest.importorskip("dask_jobqueue")
    empty = tmp_path_factory.mktemp("dask-config")
    env = {**os.environ, "DASK_CONFIG": str(empty)}
    message = refused(project, "study", "--presets", "momentum", "--scenarios", "standard", "--seeds", "7",
                      "--cluster", "slurm", "--export", "results/x.csv", env=env)
    assert message.startswith("error: --cluster slurm: ") and "jobqueue.yaml" in message


@pytest.mark.slow
@pytest.mark.parametrize("command", [["tune", "--presets", "adam"], ["study", "--dry-run"], ["report"], ["pages"]])
def test_a_yaml_syntax_error_names_file_line_and_column_for_every_command(project, command):
    text = (project / "params.yaml").read_text().replace("  trials: 16", "  trials: [16", 1)
    (project / "params.yaml").write_text(text)
    message = refused(project, *command)
    assert message.startswith("error: params.yaml:") and "not valid YAML" in message
    line, column = message.split(":")[2:4]
    assert line.isdigit() and column.isdigit()


@pytest.mark.slow
def test_debug_shows_the_traceback(project):
    (project / "params.yaml").write_text("tuning: [\n")
    result = run(project, "--debug", "tune", "--presets", "adam")
    assert result.returncode != 0 and "Traceback" in result.stderr and "ParamError" in result.stderr


@pytest.mark.slow
def test_a_damaged_journal_line_is_named(project):
    journal = project / "tuning" / "adam.journal"
    lines = journal.read_text().splitlines(keepends=True)
    lines[4] = "{oops" + lines[4][1:]
    journal.write_text("".join(lines))
    assert refused(project, "tune", "--presets", "adam", "--table-only") == (
        "error: tuning/adam.journal: line 5 is not a JSON record, so the journal is damaged; restore it "
        "(git checkout -- tuning/adam.journal) or delete it and its table to tune again")


@pytest.mark.slow
@pytest.mark.parametrize("cut, where", [("mid-line", "fields where the header has"),
                                        ("in a quoted field", "unexpected end of data")])
def test_a_cut_export_stops_every_reader_and_the_report_on_disk_is_untouched(project, cut, where):
    export = project / "results" / "study.csv"
    text = export.read_text()
    end = text.index("\n", len(text) // 2) + 40 if cut == "mid-line" else text.index('"{', len(text) // 2) + 20
    export.write_text(text[:end])
    for command in (["report"], ["study", "--dry-run"], ["pages"]):
        message = refused(project, *command)
        assert message.startswith("error: results/study.csv: damaged at line ") and where in message, message


@pytest.mark.slow
def test_a_run_without_its_curve_and_a_repeated_run_are_named(project):
    export = project / "results" / "study.csv"
    lines = export.read_text().splitlines(keepends=True)
    export.write_text("".join(lines + [lines[1]]))
    message = refused(project, "report")
    assert message.startswith(f"error: results/study.csv: damaged at line {len(lines) + 1} (preset=")
    export.write_text("".join(lines))
    curves = project / "results" / "study_curves.csv"
    header, *rows = curves.read_text().splitlines(keepends=True)
    curves.write_text(header + "".join(rows[10:]))  # the first run's ten epochs are gone
    message = refused(project, "report")
    assert message.startswith("error: results/study_curves.csv: damaged at line 1 (no learning curve for ")


@pytest.mark.slow
def test_another_storage_never_writes_over_the_committed_table(project, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch") / "adam.journal"
    before = checksums(project)
    result = run(project, "tune", "--presets", "adam", "--storage", str(scratch), "--table-only")
    assert result.returncode == 0 and "not tuned yet" in result.stdout
    smoke = run(project, "tune", "--presets", "adam", "--storage", str(scratch), "--trials", "1", "--epochs", "1")
    assert smoke.returncode == 0 and "1 of 1 trials done" in smoke.stdout, smoke.stderr
    rebuilt = run(project, "tune", "--presets", "adam", "--storage", str(scratch), "--trials", "1", "--epochs", "1", "--table-only")
    assert rebuilt.returncode == 0 and f"wrote {scratch.with_suffix('.csv')}" in rebuilt.stdout
    assert checksums(project) == before  # the committed 16-trial tuning/adam.csv is untouched


@pytest.mark.slow
def test_opening_a_finished_tuning_adds_nothing_to_its_journal(tmp_path, project_params, write_dataset):
    project_params["train"]["epochs"] = 1
    project_params["tuning"].update(trials=2, validation_size=100)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    write_dataset(tmp_path / "data" / "fashion_mnist.pt", 300)
    assert run(tmp_path, "tune", "--presets", "momentum").returncode == 0
    journal = (tmp_path / tuning.default_storage("momentum")).read_bytes()
    again = run(tmp_path, "tune", "--presets", "momentum")
    assert again.returncode == 0 and "0 still to run" in again.stdout
    assert (tmp_path / tuning.default_storage("momentum")).read_bytes() == journal


@pytest.mark.slow
def test_a_rung_at_the_last_epoch_is_not_one_and_every_trial_that_ran_the_budget_finishes(tmp_path, project_params,
                                                                                           write_dataset):
    """Epochs 1 and 3 are the schedule's rungs with a budget of 3; the last epoch is no rung: a trial
    that trained all 3 epochs is finished, never pruned, and the start line says so."""
    project_params["train"]["epochs"] = 3
    project_params["tuning"].update(trials=4, validation_size=100, rungs={"min_epochs": 1, "reduction_factor": 3})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params, sort_keys=False))
    write_dataset(tmp_path / "data" / "fashion_mnist.pt", 300)
    result = run(tmp_path, "tune", "--presets", "momentum")
    assert "pruning at epochs 1;" in result.stdout, result.stdout
    table = pd.read_csv(tmp_path / "tuning" / "momentum.csv")
    assert set(table.loc[table["epochs"] == 3, "state"]) == {"COMPLETE"}
    assert set(table.loc[table["state"] == "PRUNED", "epochs"]) <= {1}


@pytest.mark.slow
def test_a_killed_redo_keeps_the_old_row(checkout, monkeypatch):
    """--redo replaces a row when its new run is recorded, not before: killed mid-run, the old row stays."""
    monkeypatch.chdir(checkout)
    study = [sys.executable, "-m", "lenet_bench", "study", "--presets", "sgd", "--scenarios", "standard",
             "--seeds", "0", "--workers", "1"]
    assert subprocess.run(study, capture_output=True, text=True, timeout=300).returncode == 0
    before = (checkout / "results" / "study.csv").read_text()
    redo = subprocess.Popen([*study, "--redo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    for line in redo.stdout:  # killed once it has said what it will redo, while the run trains
        if line.startswith("--redo:"):
            break
    os.killpg(redo.pid, signal.SIGKILL)
    redo.wait()
    assert (checkout / "results" / "study.csv").read_text() == before
