"""The tuning engine: search spaces, the trial budget, workers, resuming, rungs, and writing the best trial back."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
import yaml

from lenet_bench import params as params_module
from lenet_bench.params import ParamError
from lenet_bench.tuning import search, tuning, tuning_tables


@pytest.fixture
def project(tmp_path, project_params, write_dataset):
    """A folder to run `lenet-bench tune` in: params.yaml on a tiny budget, and a small synthetic data set."""
    def make(trials=4, epochs=2, n_train=400, validation_size=100, batch_size=64):
        p = project_params
        p["train"]["epochs"] = epochs
        p["tuning"].update(trials=trials, validation_size=validation_size)
        p["optimizers"]["momentum"]["batch_size"] = batch_size
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        write_dataset(tmp_path / "data" / "fashion_mnist.pt", n_train)
        return p
    make.root = tmp_path
    return make


def tune(root, *args, check=True, **kwargs):
    result = subprocess.run([sys.executable, "-m", "lenet_bench", "tune", *args], cwd=root, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"lenet-bench tune {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def opened(params, folder, preset="momentum"):
    """A new tuning of `preset` in a journal under `folder`: the study, its storage and the journal's path."""
    location = str(folder / "t.journal")
    storage = tuning.open_storage(location)
    return tuning.open_tuning(preset, params, storage, location), storage, location


def trials_in(root, preset="momentum") -> list[optuna.trial.FrozenTrial]:
    storage = tuning.open_storage(tuning.default_storage(preset, root))
    return optuna.load_study(study_name=preset, storage=storage).get_trials()


# --- search spaces -----------------------------------------------------------------------------------

def test_every_preset_but_the_fixed_baseline_declares_a_space_that_parses(project_params):
    fixed = project_params["tuning"]["fixed"]
    assert fixed == ["sgd"]
    for name, preset in project_params["optimizers"].items():
        assert ("search" in preset) == (name not in fixed), name
        if name not in fixed:
            dimensions = search.parse(name, preset)
            lr = next(d for d in dimensions if d.key == "lr")
            assert lr.log and lr.high >= 1000 * lr.low * (1 - 1e-12) and len(dimensions) <= 3


def test_a_space_reads_ranges_choices_and_nested_settings():
    preset = {"lr": 0.05, "batch_size": 64, "averaging": {"name": "ema", "decay": 0.98}, "betas": [0.9, 0.99],
              "search": {"lr": {"low": 0.005, "high": 5.0, "log": True},
                         "averaging.decay": {"low": 0.9, "high": 0.999}, "betas.1": {"choices": [0.99, 0.999]}}}
    lr, decay, beta = search.parse("x", preset)
    assert (lr.low, lr.high, lr.log, lr.integer) == (0.005, 5.0, True, False)
    assert (decay.key, decay.log) == ("averaging.decay", False) and beta.choices == (0.99, 0.999)
    changed = search.with_values(preset, {"averaging.decay": 0.95, "betas.1": 0.999})
    assert changed["averaging"]["decay"] == 0.95 and changed["betas"] == [0.9, 0.999]
    assert preset["averaging"]["decay"] == 0.98  # the preset itself is left alone
    assert search.rounded(0.0123456) == 0.0123 and search.rounded(3.14159e-5) == 3.14e-5


@pytest.mark.parametrize("space, message", [
    ({"lr": {"low": 0.001, "high": 1.0, "log": True}, "momentun": {"low": 0.8, "high": 0.99}},
     r"^optimizers.momentum.search.momentun: unknown key; the preset has no setting 'momentun'"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True, "step": 2}},
     r"^optimizers.momentum.search.lr.step: unknown key; allowed: low, high, log, choices$"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True}, "momentum": {"low": 0.99, "high": 0.8}},
     r"^optimizers.momentum.search.momentum: low \(0.99\) must be below high \(0.8\)$"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True}, "momentum": {"low": 0.9, "high": 0.9}},
     r"^optimizers.momentum.search.momentum: low \(0.9\) must be below high \(0.9\)$"),
    ({"lr": {"low": 0.0, "high": 0.1, "log": True}},
     r"^optimizers.momentum.search.lr: a log range needs bounds > 0, got low 0.0$"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True}, "momentum": {"low": -0.5, "high": 0.99, "log": True}},
     r"^optimizers.momentum.search.momentum: a log range needs bounds > 0, got low -0.5$"),
    ({"lr": {"low": 0.1, "high": 100.0, "log": True}},
     r"^optimizers.momentum.search.lr: the preset's current value 0.05 lies outside \[0.1, 100.0\]$"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True}, "batch_size": {"choices": [128, 256]}},
     r"^optimizers.momentum.search.batch_size: the preset's current value 64 is not among the choices \[128, 256\]$"),
    ({"lr": {"low": 0.001, "high": 0.1, "log": True}},
     r"^optimizers.momentum.search.lr: must be a log range over at least 3 decades \(high >= 1000 x low\), "
     r"got lr in \[0.001, 0.1\] \(log\)$"),
    ({"lr": {"low": 0.0001, "high": 0.1}},
     r"^optimizers.momentum.search.lr: must be a log range over at least 3 decades"),
    ({"momentum": {"low": 0.8, "high": 0.99}},
     r"^optimizers.momentum.search.lr: missing; every space searches the learning rate$"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True}, "momentum": {"low": 0.8, "high": 0.99},
      "batch_size": {"choices": [64, 128]}, "schedule.name": {"choices": ["cosine", "constant"]}},
     r"^optimizers.momentum.search: searches 3 settings besides lr; at most 2$"),
    ({"lr": {"low": 0.0001, "high": 0.1, "log": True}, "batch_size": {"choices": [64, 0]}},
     r"^optimizers.momentum.search.batch_size: 0 makes a bad preset: optimizers.momentum.batch_size: must be >= 1"),
])
def test_a_bad_space_gets_a_one_line_error_naming_the_key(project_params, space, message):
    project_params["optimizers"]["momentum"].update(lr=0.05, momentum=0.9, batch_size=64, search=space)
    with pytest.raises(ParamError, match=message) as error:
        params_module.check(project_params)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["tuning"].update(trials=0), r"^tuning.trials: must be >= 1, got 0$"),
    (lambda p: p["tuning"].update(rungs={"min_epochs": 1, "reduction_factor": 1}),
     r"^tuning.rungs.reduction_factor: must be >= 2, got 1$"),
    (lambda p: p["tuning"].update(rungs="never"), r"^tuning.rungs: must be a mapping, got 'never'$"),
    (lambda p: p["tuning"]["sampler"].update(name="tpe"), r"^tuning.sampler.name: unknown value 'tpe'; allowed: qmc$"),
    (lambda p: p["tuning"]["sampler"].update(qmc_type="halton"),
     r"^tuning.sampler.qmc_type: unknown key; allowed: name, seed$"),
    (lambda p: p["tuning"]["sampler"].update(seed=-1), r"^tuning.sampler.seed: must be >= 0, got -1$"),
    (lambda p: p["tuning"]["audit"].update(presets=["kfca"]),
     r"^tuning.audit.presets: unknown value 'kfca' \(did you mean 'kfac'\?\)"),
    (lambda p: p["tuning"]["audit"].update(presets=["sgd"]), r"^tuning.audit.presets: unknown value 'sgd'"),
    (lambda p: p["tuning"]["audit"].update(reduction_factors=[1, 2]),
     r"^tuning.audit.reduction_factors: must be >= 2, got 1$"),
    (lambda p: p["tuning"]["audit"].update(max_regret=2), r"^tuning.audit.max_regret: must be >= 0 and <= 1, got 2$"),
    (lambda p: p["tuning"].update(fixed=["sgdd"]), r"^tuning.fixed: unknown value 'sgdd' \(did you mean 'sgd'\?\)"),
    (lambda p: p["optimizers"]["adam"].pop("search"), r"^optimizers.adam.search: missing; declare the space"),
    (lambda p: p["optimizers"]["sgd"].update(search={"lr": {"low": 1e-4, "high": 1e-1, "log": True}}),
     r"^optimizers.sgd.search: sgd is in tuning.fixed, so it is not tuned; remove one of the two$"),
])
def test_bad_tuning_settings_get_a_one_line_error(project_params, edit, message):
    edit(project_params)
    with pytest.raises(ParamError, match=message):
        params_module.check(project_params)


def test_a_space_is_a_label_of_the_preset_and_never_changes_a_run(project_params):
    before = params_module.run_config(project_params, "standard")
    project_params["optimizers"][project_params["optimizer"]["name"]]["search"]["lr"]["low"] /= 2
    assert params_module.run_config(project_params, "standard") == before
    assert "search" not in before["preset"]


# --- the command line --------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--presets", "adamm"], "error: unknown preset 'adamm' (did you mean 'adam'?); presets: sgd_basic, gd, "),
    (["--presets", "sgd"], "error: preset 'sgd' is in tuning.fixed (the brief's baseline) and is not tuned"),
    ([], "error: name the presets to tune: --presets adam,nadam (comma-separated), or give --all"),
    (["momentum"], "error: name presets with --presets: lenet-bench tune --presets momentum"),
    (["--presets", "momentum", "--workers", "0"], "error: --workers must be at least 1, got 0"),
])
def test_bad_command_lines_fail_before_any_trial(project, args, message):
    project()
    result = tune(project.root, *args, check=False)
    assert result.returncode != 0 and result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (project.root / "tuning").exists()


@pytest.mark.slow
def test_bad_params_fail_before_any_trial(project):
    p = project()
    p["tuning"]["trials"] = 0
    (project.root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    result = tune(project.root, "--presets", "momentum", check=False)
    assert result.returncode != 0
    assert result.stderr.strip() == "error: params.yaml: tuning.trials: must be >= 1, got 0"
    assert not (project.root / "tuning").exists()


@pytest.mark.slow
def test_changed_terms_are_refused_rather_than_mixed_into_one_tuning(project):
    p = project(trials=2, epochs=1)
    tune(project.root, "--presets", "momentum")
    p["optimizers"]["momentum"]["search"]["lr"]["high"] = 3.0
    (project.root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    result = tune(project.root, "--presets", "momentum", check=False)
    assert result.returncode != 0 and "made on other terms (space differ" in result.stderr


# --- the budget, workers and resuming ----------------------------------------------------------------

def test_claims_never_exceed_the_budget(project_params, tmp_path):
    project_params["tuning"]["trials"] = 3
    study, storage, location = opened(project_params, tmp_path)
    claimed = [tuning.claim(study, storage) for _ in range(5)]
    assert [t is not None for t in claimed] == [True, True, True, False, False]
    assert {t.number for t in claimed if t} == {0, 1, 2}
    # Opened again (another worker, a resumed tuning), nothing more is enqueued.
    tuning.open_tuning("momentum", project_params, storage, location)
    assert len(study.get_trials()) == 3


def test_a_trial_whose_worker_died_runs_again_once_and_spends_none_of_the_budget(project_params, tmp_path):
    project_params["tuning"]["trials"] = 3
    study, storage, location = opened(project_params, tmp_path)
    lost = tuning.claim(study, storage)
    lost.set_user_attr("worker", f"{tuning.socket.gethostname()}:{2 ** 22 + 1}")  # above pid_max: gone
    assert tuning.fail_orphans(study, storage, location) == [lost.number]
    assert tuning.fail_orphans(study, storage, location) == []  # enqueued again once, not at every call
    trials = study.get_trials()
    (rerun,) = [t for t in trials if t.user_attrs.get("rerun_of") == lost.number]
    assert rerun.state == optuna.trial.TrialState.WAITING and len(trials) == 4
    assert rerun.system_attrs["fixed_params"] == trials[lost.number].system_attrs["fixed_params"]
    # Three trials still spend the budget: the interrupted one is in the table, apart.
    while (trial := tuning.claim(study, storage)) is not None:
        study.tell(trial, 0.5)
    table = tuning.table(study, project_params)
    assert list(table["state"]) == ["INTERRUPTED", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert tuning_tables.budget_used(table).done == 3


OPEN_AT_ONCE = """
import pathlib, sys, time
from lenet_bench.tuning import tuning
from lenet_bench.params import load
folder, location = pathlib.Path(sys.argv[1]), sys.argv[2]
params = load(folder / "params.yaml")
storage = tuning.open_storage(location)
(folder / f"ready-{sys.argv[3]}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
tuning.open_tuning("momentum", params, storage, location)
"""


@pytest.mark.slow
def test_commands_opening_one_tuning_at_once_enqueue_exactly_the_budget(project):
    """Each opener counts the queue and tops it up; at once, unserialized, they enqueued 11-17 for 6."""
    project(trials=6)
    for attempt in range(3):
        location = str(project.root / "tuning" / f"at-once-{attempt}.journal")
        (project.root / "go").unlink(missing_ok=True)
        openers = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, str(project.root), location, str(i)])
                   for i in range(4)]
        while len(list(project.root.glob("ready-*"))) < len(openers):
            time.sleep(0.01)
        (project.root / "go").touch()
        assert [opener.wait() for opener in openers] == [0] * len(openers)
        for ready in project.root.glob("ready-*"):
            ready.unlink()
        study = optuna.load_study(study_name="momentum", storage=tuning.open_storage(location))
        assert len(study.get_trials()) == 6


@pytest.mark.slow
def test_two_workers_sharing_one_storage_stop_at_exactly_the_budget(project):
    project(trials=5, epochs=2)
    result = tune(project.root, "--presets", "momentum", "--workers", "2")
    trials = trials_in(project.root)
    assert len(trials) == 5 and all(t.state.name in tuning_tables.FINISHED for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both workers took trials
    table = pd.read_csv(project.root / "tuning" / "momentum.csv")
    assert list(table["number"]) == [0, 1, 2, 3, 4]
    # One line per trial, with its settings, its validation accuracy at each epoch judged, its outcome.
    lines = [line for line in result.stdout.splitlines() if line.startswith("momentum trial ")]
    assert len(lines) == 5
    assert all("lr=" in line and "momentum=" in line and "% @1" in line and line.endswith(" s") for line in lines)
    assert "5 of 5 trials done" in result.stdout
    # Run again: the budget is spent, so nothing runs.
    again = tune(project.root, "--presets", "momentum", "--workers", "2")
    assert "0 still to run" in again.stdout and len(trials_in(project.root)) == 5


@pytest.mark.slow
def test_two_commands_sharing_one_storage_stop_at_exactly_the_budget(project):
    project(trials=6, epochs=1)
    commands = [subprocess.Popen([sys.executable, "-m", "lenet_bench", "tune", "--presets", "momentum"], cwd=project.root,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for command in commands:
        command.communicate()
        assert command.returncode == 0
    trials = trials_in(project.root)
    assert len(trials) == 6 and all(t.state.name in tuning_tables.FINISHED for t in trials)


@pytest.mark.slow
def test_a_killed_tuning_resumes_without_running_finished_trials_again(project):
    project(trials=4, epochs=3, n_train=3000, validation_size=500, batch_size=16)
    table = project.root / "tuning" / "momentum.csv"
    command = subprocess.Popen([sys.executable, "-m", "lenet_bench", "tune", "--presets", "momentum"], cwd=project.root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (table.exists() and len(pd.read_csv(table)) >= 1) and command.poll() is None:
        assert time.monotonic() < deadline, "no trial finished in 300 s"
        time.sleep(0.2)
    os.killpg(command.pid, signal.SIGKILL)
    command.wait()
    before = {t.number: t for t in trials_in(project.root) if t.state.name in tuning_tables.FINISHED}
    assert before, "the tuning finished before it could be killed"
    tune(project.root, "--presets", "momentum")
    after = {t.number: t for t in trials_in(project.root)}
    for number, trial in before.items():  # untouched: same settings, same results, same end time
        assert (after[number].params, after[number].value, after[number].datetime_complete) == \
            (trial.params, trial.value, trial.datetime_complete)
    killed = [t for t in after.values() if tuning.interrupted(t)]
    counted = [t for t in after.values() if not tuning.interrupted(t)]
    assert len(killed) <= 1 and len(counted) == 4 and all(t.state.name in tuning_tables.FINISHED for t in counted)
    for trial in killed:  # the interrupted trial ran again, with its settings, as a later trial
        (rerun,) = [t for t in counted if t.user_attrs.get("rerun_of") == trial.number]
        assert rerun.number > trial.number and rerun.params == trial.system_attrs["fixed_params"]


# --- rungs, tables and the tuned presets ---------------------------------------------------------------

def test_every_preset_is_judged_at_the_same_rungs(root, project_params):
    pruners = {name: vars(tuning.pruner(project_params)) for name in project_params["optimizers"]
               if name not in project_params["tuning"]["fixed"]}
    assert len({json.dumps(p, sort_keys=True, default=str) for p in pruners.values()}) == 1
    columns = [f"val_{m}@{e}" for e in tuning_tables.recorded_epochs(project_params) for m in ("accuracy", "loss")]
    for folder in (tuning_tables.TABLES, tuning_tables.variant(project_params, unpruned=True)[1]):
        for path in sorted((root / folder).glob("*.csv")):
            if path.stem not in project_params["optimizers"]:
                continue  # audit.csv: the pruning audit's replay
            table = pd.read_csv(path)
            storage = tuning.open_storage(str(path.with_suffix(".journal")))
            made = optuna.load_study(study_name=path.stem, storage=storage).user_attrs["terms"]
            if "sampler" not in made:
                continue  # tuned before the quasi-random protocol; re-tuning replaces it (issue #28)
            assert [c for c in table.columns if c.startswith("val_")] == columns, path.name
            variant_params = tuning_tables.variant(project_params, unpruned=folder != tuning_tables.TABLES)[0]
            assert made == tuning.terms(path.stem, variant_params), path.name


def test_each_tuned_preset_holds_the_best_finished_trial_of_its_table(root, project_params):
    for path in sorted((root / "tuning").glob("*.csv")):
        if path.stem not in project_params["optimizers"]:
            continue  # audit.csv: the pruning audit's replay
        trials = pd.read_csv(path)
        assert tuning_tables.finished(trials) <= project_params["tuning"]["trials"], path.name  # reruns apart
        if tuning_tables.finished(trials) < project_params["tuning"]["trials"]:
            continue  # still being tuned
        preset = project_params["optimizers"][path.stem]
        for key, value in tuning_tables.best_settings(path.stem, trials, project_params).items():
            assert search.get(preset, key) == value, f"{path.stem}.{key}: run `lenet-bench tune --presets {path.stem} --apply`"


def test_the_best_trial_is_the_most_accurate_then_the_lowest_loss_then_the_first(project_params):
    project_params["train"]["epochs"] = 2
    trials = pd.DataFrame({"number": [0, 1, 2, 3], "lr": [0.01, 0.02, 0.03, 0.04],
                           "state": ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"],
                           "val_accuracy@2": [0.90001, 0.9, None, 0.9], "val_loss@2": [0.3, 0.29, None, 0.29]})
    assert tuning_tables.best(trials, project_params)["number"] == 1
    assert tuning_tables.best(trials[trials["state"] != "COMPLETE"], project_params) is None


@pytest.mark.slow
def test_apply_writes_the_best_trial_into_presets_yaml_and_keeps_its_comments(root, tmp_path):
    for name in ("params.yaml", "presets.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    p = params_module.load(tmp_path / "params.yaml")
    budget, last = p["tuning"]["trials"], p["train"]["epochs"]
    trials = pd.DataFrame({"number": range(budget), "lr": [0.0123] + [0.05] * (budget - 1),
                           "momentum": [0.95] + [0.9] * (budget - 1), "state": ["COMPLETE"] + ["PRUNED"] * (budget - 1),
                           "epochs": [last] + [1] * (budget - 1),
                           f"val_accuracy@{last}": [0.91] + [None] * (budget - 1),
                           f"val_loss@{last}": [0.25] + [None] * (budget - 1)})
    (tmp_path / "tuning").mkdir()
    trials.iloc[:-1].to_csv(tmp_path / "tuning" / "momentum.csv", index=False)
    unfinished = tune(tmp_path, "--presets", "momentum", "--apply", check=False)
    assert unfinished.returncode != 0
    assert unfinished.stderr.strip().startswith(f"error: momentum: {budget - 1} of its {budget} trials have finished")
    trials.to_csv(tmp_path / "tuning" / "momentum.csv", index=False)
    result = tune(tmp_path, "--presets", "momentum", "--apply")
    was = p["optimizers"]["momentum"]
    assert result.stdout.splitlines() == ["momentum: best trial 0 of tuning/momentum.csv",
                                          f"  optimizers.momentum.lr: {was['lr']} -> 0.0123",
                                          f"  optimizers.momentum.momentum: {was['momentum']} -> 0.95"]
    assert (tmp_path / "params.yaml").read_text() == (root / "params.yaml").read_text()
    text = (tmp_path / "presets.yaml").read_text()
    changed = [(a, b) for a, b in zip((root / "presets.yaml").read_text().splitlines(), text.splitlines()) if a != b]
    assert changed == [(f"    lr: {was['lr']}", "    lr: 0.0123"), (f"    momentum: {was['momentum']}", "    momentum: 0.95")]
    assert params_module.load(tmp_path / "params.yaml")["optimizers"]["momentum"]["lr"] == 0.0123
    assert "already holds its settings" in tune(tmp_path, "--presets", "momentum", "--apply").stdout


@pytest.mark.slow
def test_a_stop_file_lets_workers_finish_and_take_no_new_trial(project):
    project(trials=3, epochs=1)
    (project.root / "tuning").mkdir()
    (project.root / "tuning" / "STOP").touch()
    result = tune(project.root, "--presets", "momentum")
    assert "tuning/STOP exists, so no trial starts" in result.stdout
    assert all(t.state == optuna.trial.TrialState.WAITING for t in trials_in(project.root))
    (project.root / "tuning" / "STOP").unlink()
    tune(project.root, "--presets", "momentum")
    assert all(t.state.name in tuning_tables.FINISHED for t in trials_in(project.root))


# --- the quasi-random sampler ------------------------------------------------------------------------

def test_the_draws_are_sobol_points_the_same_for_the_same_seed_and_never_repeat(project_params):
    project_params["tuning"]["trials"] = 16
    first = tuning.draw_settings("adam", project_params)
    assert first == tuning.draw_settings("adam", project_params)
    assert len(first) == 16 and all(a != b for i, a in enumerate(first) for b in first[i + 1:])
    project_params["tuning"]["sampler"]["seed"] = 1
    assert tuning.draw_settings("adam", project_params) != first
    # Low discrepancy: 16 scrambled Sobol points put exactly one lr in each sixteenth of the log range.
    space = project_params["optimizers"]["momentum"]["search"]["lr"]
    lrs = [d["lr"] for d in tuning.draw_settings("momentum", project_params)]
    cells = sorted(int(16 * math.log(lr / space["low"]) / math.log(space["high"] / space["low"])) for lr in lrs)
    assert cells == list(range(16))


def test_a_space_too_small_for_the_budget_is_refused_before_any_trial(project_params):
    project_params["tuning"]["trials"] = 5
    preset = project_params["optimizers"]["lbfgs"]
    preset["history_size"] = 5  # a value of the space below, whatever the tuning chose
    preset["search"] = {"lr": {"low": 0.01, "high": 10.0, "log": True}, "history_size": {"choices": [5, 10]}}
    preset["search"]["lr"] = {"low": 0.5, "high": 500.0, "log": True}
    assert len(tuning.draw_settings("lbfgs", project_params)) == 5
    search.SIGNIFICANT_DIGITS, digits = 1, search.SIGNIFICANT_DIGITS
    try:  # rounded to one digit, 3 decades hold 3 x 9 lrs: 54 settings with the two choices
        project_params["tuning"]["trials"] = 60
        with pytest.raises(tuning_tables.TuningError, match=r"^lbfgs: 64 draws from its space gave \d+ distinct settings"):
            tuning.draw_settings("lbfgs", project_params)
    finally:
        search.SIGNIFICANT_DIGITS = digits


def test_a_tuning_enqueues_its_draws_in_order(project_params, tmp_path):
    project_params["tuning"]["trials"] = 4
    study, storage, _ = opened(project_params, tmp_path)
    claimed = [tuning.claim(study, storage) for _ in range(4)]
    drawn = [search.suggest(trial, search.parse("momentum", project_params["optimizers"]["momentum"]))
             for trial in claimed]
    assert drawn == tuning.draw_settings("momentum", project_params)


def test_an_unpruned_tuning_and_one_of_another_seed_live_in_folders_of_their_own(project_params):
    unpruned, folder = tuning_tables.variant(project_params, unpruned=True)
    assert (tuning_tables.rungs(unpruned), str(folder)) == ([], "tuning/unpruned")
    assert isinstance(tuning.pruner(unpruned), optuna.pruners.NopPruner)
    seeded, folder = tuning_tables.variant(project_params, sampler_seed=2)
    assert (seeded["tuning"]["sampler"]["seed"], str(folder)) == (2, "tuning/seed2")
    assert tuning_tables.variant(project_params, sampler_seed=project_params["tuning"]["sampler"]["seed"])[1] == tuning_tables.TABLES
    assert project_params["tuning"]["rungs"] != "none"  # the params given are left alone


def test_a_rung_at_the_last_epoch_is_no_rung(project_params):
    project_params["train"]["epochs"] = 3
    project_params["tuning"]["rungs"] = {"min_epochs": 1, "reduction_factor": 3}
    assert tuning_tables.rungs(project_params) == [1]
    project_params["tuning"]["rungs"] = "none"
    assert tuning_tables.rungs(project_params) == []


# --- the pruning audit from the command line ------------------------------------------------------------

@pytest.mark.slow
def test_an_unpruned_tuning_replays_into_the_audit_and_a_pruned_one_is_refused(project):
    p = project(trials=4, epochs=3)
    p["tuning"]["audit"].update(presets=["momentum"], min_epochs=[1, 2], reduction_factors=[2])
    (project.root / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    never = tune(project.root, "--audit", check=False)
    assert never.returncode != 0 and never.stderr.strip() == (
        "error: momentum: no unpruned tuning to replay (tuning/unpruned/momentum.csv); "
        "run it first: lenet-bench tune --presets momentum --unpruned")
    tune(project.root, "--presets", "momentum")  # the committed kind, judged at epoch 1
    committed = pd.read_csv(project.root / "tuning" / "momentum.csv")
    committed.loc[1, "state"] = "PRUNED"  # whatever the pruner made of these four, one trial was pruned
    committed.to_csv(project.root / "tuning" / "momentum.csv", index=False)
    pruned = tune(project.root, "--presets", "momentum", "--audit", check=False)
    assert pruned.returncode != 0 and pruned.stderr.strip() == (
        "error: momentum: its tuning (tuning/momentum.csv) was pruned, so it has no full curves to replay; "
        "tune it unpruned first: lenet-bench tune --presets momentum --unpruned")
    result = tune(project.root, "--presets", "momentum", "--unpruned")
    assert "momentum: 4 of 4 trials done (4 finished, 0 pruned, 0 failed); 12 epochs spent" in result.stdout
    table = pd.read_csv(project.root / "tuning" / "unpruned" / "momentum.csv")
    assert table[[f"val_accuracy@{e}" for e in (1, 2, 3)]].notna().all().all()  # every epoch of every trial
    audit = tune(project.root, "--audit")
    assert "| first rung | factor | rungs | momentum: regret, epochs |" in audit.stdout
    assert "chosen rungs:" in audit.stdout and (project.root / "tuning" / "audit.csv").exists()
    replays = pd.read_csv(project.root / "tuning" / "audit.csv")
    assert set(replays["rungs"]) == {"none", "1 2", "2"} and (replays.loc[replays["rungs"] == "none", "regret"] == 0).all()
