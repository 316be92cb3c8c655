"""The study's bookkeeping without DVC: planning against the export, and adopting finished experiments."""
import copy
import dataclasses

import pandas as pd
import pytest
import yaml

from lenet_bench import cli
from lenet_bench import params as params_module
from lenet_bench.commands import study as study_command
from lenet_bench.errors import UserError
from lenet_bench.locks import folder_lock
from lenet_bench.study.export import (
    Experiment,
    export_lock,
    fingerprint,
    forget,
    read_export,
    split_by_settings,
    study_params,
)
from lenet_bench.study.study import (
    adopt,
    grid,
    merge,
    overrides,
    owed_seeds,
    parse_seeds,
    plan,
    replaced_budgets,
)


def metrics(accuracy):
    return {"test": {"accuracy": accuracy, "loss": 0.3}, "train": {"loss": 0.2},
            "cost": {"epochs": 1, "grad_evals": 60000, "steps": 938, "seconds": 5.0},
            "target": {"accuracy": 0.8938}, "nonzero": {},
            "run": {"weight_decay": 0.0, "l2_mode": "none", "diverged": False, "device": "cpu", "threads": 1}}


def experiment(name, run_params, ran, commit_metrics):
    return Experiment(name=name, rev="", commit="abc", params=run_params,
                      metrics={**commit_metrics, **{f"metrics/{s}.json": metrics(0.9) for s in ran}},
                      commit_metrics=commit_metrics)


def test_adopt_records_only_scenarios_an_experiment_reran_with_the_same_settings(root, tmp_path, monkeypatch):
    monkeypatch.setattr("lenet_bench.study.study.with_curves", lambda exp, scenarios, root: dataclasses.replace(
        exp, curves={s: "epoch,test_accuracy\n1,0.9\n" for s in scenarios}))
    params = params_module.load(root / "params.yaml")
    runs, already = plan(params, grid(["momentum"], ["standard", "l2", "sparse"], [0]), 1, 1, read_export(tmp_path))
    assert already == 0 and runs[0].scenarios == ("standard", "l2", "sparse")
    stale = {"metrics/sparse.json": metrics(0.5)}  # the commit's metrics: sparse was not re-run
    other = study_params(params, "momentum", 0, 1, 2)  # other settings (2 epochs): not the same run
    experiments = [experiment("study-momentum-seed0", runs[0].params, ["standard"], stale),
                   experiment("study-momentum-seed0-2", other, ["l2"], stale),
                   experiment("study-momentum-seed01", runs[0].params, ["l2"], stale)]  # another seed's name
    left, adopted = adopt(runs, experiments, tmp_path)
    assert adopted == 1 and left[0].scenarios == ("l2", "sparse")
    export = pd.read_csv(tmp_path / "results" / "study.csv")
    assert list(export["scenario"]) == ["standard"] and list(export["experiment"]) == ["study-momentum-seed0"]
    assert export["fingerprint"].iloc[0] == fingerprint(runs[0].params, "standard")
    # Planned again, the adopted result counts as done.
    assert plan(params, grid(["momentum"], ["standard", "l2", "sparse"], [0]), 1, 1, read_export(tmp_path))[1] == 1


def test_export_lock_shuts_out_another_writer_until_released(tmp_path, capsys):
    """What the study holds while it queues experiments (DVC stashes the workspace meanwhile) and
    while it writes the export: another study command's writer must wait, told who holds it, and gives up
    after its timeout in one line."""
    with export_lock(tmp_path):
        with pytest.raises(UserError, match=r"results/ is still locked after 0.1 s, by [^ ]+:\d+ \(.*\), since"):
            with folder_lock(tmp_path / "results", timeout=0.1):
                pass
    assert "waiting for the lock on" in capsys.readouterr().err
    with folder_lock(tmp_path / "results", timeout=0.1):  # released
        pass


def test_split_by_settings_sets_apart_runs_made_with_settings_params_yaml_no_longer_has(root):
    params = params_module.load(root / "params.yaml")
    current = fingerprint(study_params(params, "momentum", 0, 1, 10), "standard")
    export = pd.DataFrame([
        {"preset": "momentum", "scenario": "standard", "seed": 0, "epochs_budget": 10, "fingerprint": current},
        {"preset": "momentum", "scenario": "l2", "seed": 0, "epochs_budget": 10, "fingerprint": current},
        {"preset": "retired", "scenario": "standard", "seed": 0, "epochs_budget": 10, "fingerprint": current}])
    kept, stale = split_by_settings(export, params)
    assert kept.index.tolist() == [0] and stale.index.tolist() == [1, 2]
    smoke = study_params(params, "momentum", 0, 1, 1)  # a smoke run's row (`study --epochs 1`, in a copy)
    one_epoch = export.assign(epochs_budget=1, fingerprint=fingerprint(smoke, "standard"))
    assert split_by_settings(one_epoch, params)[0].empty
    params["optimizers"]["momentum"]["lr"] = 0.5  # tuned since
    kept, stale = split_by_settings(export, params)
    assert kept.empty and len(stale) == 3


def test_a_run_of_another_epoch_budget_is_named_before_it_replaces_a_result(root):
    params = params_module.load(root / "params.yaml")
    full = study_params(params, "momentum", 0, 1, None)
    export = pd.DataFrame([{"preset": "momentum", "scenario": "standard", "seed": 0, "epochs_budget": 10,
                            "fingerprint": fingerprint(full, "standard"), "device": "cpu", "threads": 1}])
    smoke, _ = plan(params, grid(["momentum"], ["standard", "l2"], [0]), 1, 1, export)
    assert replaced_budgets(smoke, export, params) == ["momentum/standard/seed 0 (10 epochs)"]  # l2 has no result yet
    smoked = export.assign(epochs_budget=1, fingerprint="x")
    back_to_full, _ = plan(params, grid(["momentum"], ["standard"], [0]), 1, None, smoked)
    assert replaced_budgets(back_to_full, smoked, params) == []  # a full run may replace a smoke run


def test_a_smoke_study_refuses_to_replace_full_results_and_leaves_the_export_as_it_was(root, tmp_path, monkeypatch):
    params = params_module.load(root / "params.yaml")
    full = study_params(params, "adam", 0, 1, None)
    for name in ("params.yaml", "presets.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    (tmp_path / "results").mkdir()
    csv = pd.DataFrame([{"preset": "adam", "scenario": "standard", "seed": 0, "epochs_budget": 10,
                         "fingerprint": fingerprint(full, "standard"), "device": "cpu", "threads": 1}]).to_csv(index=False)
    (tmp_path / "results" / "study.csv").write_text(csv)
    (tmp_path / "results" / "study_curves.csv").write_text("optimizer,scenario,seed,epoch\nadam,standard,0,1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"^error: --epochs 1 is not the study's budget \(10 epochs\): write such runs "
                                         r"to an export of their own, e.g. --export results/smoke.csv$"):
        cli.main(["study", "--presets", "adam", "--scenarios", "standard", "--seeds", "0", "--epochs", "1"])
    assert (tmp_path / "results" / "study.csv").read_text() == csv
    # Another export that holds a full run: a smoke run would replace it there too.
    (tmp_path / "results" / "other.csv").write_text(csv)
    (tmp_path / "results" / "other_curves.csv").write_text("optimizer,scenario,seed,epoch\nadam,standard,0,1\n")
    with pytest.raises(SystemExit, match=r"^error: --epochs 1 would replace 1 result\(s\) of another epoch budget "
                                         r"in results/other.csv \(adam/standard/seed 0 \(10 epochs\)\); write a smoke "
                                         r"run to an export of its own: --export results/smoke.csv$"):
        cli.main(["study", "--presets", "adam", "--scenarios", "standard", "--seeds", "0", "--epochs", "1",
                  "--export", "results/other.csv"])
    assert (tmp_path / "results" / "other.csv").read_text() == csv
    # The way the refusal names plans the run in an export of its own.
    cli.main(["study", "--presets", "adam", "--scenarios", "standard", "--seeds", "0", "--epochs", "1",
                        "--export", "results/smoke.csv", "--dry-run"])
    assert (tmp_path / "results" / "study.csv").read_text() == csv and not (tmp_path / "results" / "smoke.csv").exists()


def test_forget_takes_the_selected_results_and_their_curves_out_of_the_export(tmp_path):
    (tmp_path / "results").mkdir()
    rows = [{"preset": o, "scenario": s, "seed": seed, "test_accuracy": 0.9, "fingerprint": "f"}
            for o in ("newton_cg", "sgd") for s in ("standard", "sparse") for seed in (0, 1)]
    pd.DataFrame(rows).to_csv(tmp_path / "results" / "study.csv", index=False)
    pd.DataFrame([{**r, "epoch": e} for r in rows for e in (1, 2)]).to_csv(tmp_path / "results" / "study_curves.csv",
                                                                           index=False)
    assert forget(["newton_cg"], ["sparse"], [0, 1], tmp_path) == 2
    left = read_export(tmp_path)
    assert len(left) == 6 and not ((left["preset"] == "newton_cg") & (left["scenario"] == "sparse")).any()
    curves = pd.read_csv(tmp_path / "results" / "study_curves.csv")
    assert len(curves) == 12 and not ((curves["preset"] == "newton_cg") & (curves["scenario"] == "sparse")).any()
    assert forget(["newton_cg"], ["sparse"], [0, 1], tmp_path) == 0


def test_seeds_are_listed_or_given_as_ranges():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-9") == list(range(10))
    assert parse_seeds("3,0-2,3") == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"^--seeds: 'x' is neither a seed nor a range like 0-9$"):
        parse_seeds("0,x")


def test_study_runs_are_made_on_the_cpu_with_one_thread_whatever_params_yaml_says(root):
    params = params_module.load(root / "params.yaml")
    params["train"]["device"] = "auto"
    run = study_params(params, "momentum", 0, 1, None)
    assert (run["train"]["device"], run["train"]["threads"]) == ("cpu", 1)
    assert "train.device=cpu" in overrides("momentum", 0, 1, None)


def rows_of(params, accuracy: dict, seeds, scenario="standard", device="cpu"):
    """Export rows at params' settings: preset -> test accuracy, on each seed."""
    return [{"preset": preset, "scenario": scenario, "seed": seed, "test_accuracy": value, "device": device,
             "threads": 1, "epochs_budget": 10,
             "fingerprint": fingerprint(study_params(params, preset, seed, 1, 10), scenario)}
            for preset, value in accuracy.items() for seed in seeds]


def test_the_futility_stop_waits_for_every_preset_on_its_seeds_then_keeps_those_far_behind_there(root):
    params = params_module.load(root / "params.yaml")
    params["optimizers"] = {name: params["optimizers"][name] for name in ("adam", "nadam", "radam")}
    params["tuning"].update(fixed=[], audit={**params["tuning"]["audit"], "presets": []})
    del params["study"]["ablation"]
    stop, seeds = params["study"]["futility"]["seeds"], params["study"]["seeds"]
    accuracy = {"adam": 0.905, "nadam": 0.896, "radam": 0.894}  # radam more than 1 point behind adam; nadam not
    export = pd.DataFrame(rows_of(params, accuracy, stop)[:-1])  # radam's last seed of the stop not in yet
    owed = owed_seeds(export, params, list(params["optimizers"]), ["standard", "l2"])
    assert all(owed[preset, scenario] == stop for preset in accuracy for scenario in ("standard", "l2"))
    export = pd.DataFrame(rows_of(params, accuracy, stop))
    owed = owed_seeds(export, params, list(params["optimizers"]), ["standard", "l2"])
    assert owed["adam", "standard"] == owed["nadam", "standard"] == seeds
    assert owed["radam", "standard"] == stop  # out: kept at the stop's seeds
    assert owed["adam", "l2"] == stop  # l2 has no runs yet
    runs, already = plan(params, owed, 1, None, export)
    assert already == 3 * len(stop) and sum(len(r.scenarios) for r in runs) == 2 * (len(seeds) - len(stop)) + 3 * len(stop)
    # A run on other hardware, or at settings since changed, is no run of the stop's.
    export = pd.DataFrame(rows_of(params, accuracy, stop) + rows_of(params, {"radam": 0.99}, [0], device="cuda"))
    assert owed_seeds(export, params, ["radam"], ["standard"])["radam", "standard"] == stop
    params["optimizers"]["adam"]["lr"] *= 2  # tuned since: its runs no longer count, so the stop waits
    assert owed_seeds(export, params, ["nadam"], ["standard"])["nadam", "standard"] == stop


def test_a_run_on_other_hardware_is_still_owed_by_the_study(root):
    params = params_module.load(root / "params.yaml")
    row = {"preset": "momentum", "scenario": "standard", "seed": 0, "threads": 1,
           "fingerprint": fingerprint(study_params(params, "momentum", 0, 1, None), "standard")}
    on_gpu = pd.DataFrame([{**row, "device": "cuda"}])
    assert plan(params, grid(["momentum"], ["standard"], [0]), 1, None, on_gpu)[1] == 0
    assert plan(params, grid(["momentum"], ["standard"], [0]), 1, None, on_gpu.assign(device="cpu"))[1] == 1


def test_runs_of_one_preset_and_seed_merge_their_scenarios(root):
    params = params_module.load(root / "params.yaml")
    runs = [*plan(params, grid(["adam"], ["standard"], [3]), 1, None, pd.DataFrame())[0],
            *plan(params, grid(["adam", "nadam"], ["l2"], [3]), 1, None, pd.DataFrame())[0]]
    assert [(r.preset, r.seed, r.scenarios) for r in merge(runs)] == [("adam", 3, ("standard", "l2")),
                                                                     ("nadam", 3, ("l2",))]


def test_an_export_of_its_own_keeps_its_curves_beside_it_and_leaves_the_study_alone(root, tmp_path):
    params = params_module.load(root / "params.yaml")
    run = study_params(params, "momentum", 0, 1, 1)
    exp = dataclasses.replace(experiment("smoke", run, ["standard"], {}),
                              curves={"standard": "epoch,test_accuracy\n1,0.9\n"})
    from lenet_bench.study.export import record
    smoke = tmp_path / "results" / "smoke.csv"
    record(exp, ["standard"], tmp_path, export=smoke.relative_to(tmp_path))
    assert len(read_export(tmp_path, smoke.relative_to(tmp_path))) == 1
    assert (tmp_path / "results" / "smoke_curves.csv").exists() and not (tmp_path / "results" / "study.csv").exists()


def test_another_tuning_gives_each_preset_its_best_finished_trial(root, tmp_path, monkeypatch):
    params = params_module.load(root / "params.yaml")
    budget, last = params["tuning"]["trials"], params["train"]["epochs"]
    (tmp_path / "tuning" / "seed1").mkdir(parents=True)
    pd.DataFrame({"number": range(budget), "lr": [0.0123] + [0.05] * (budget - 1),
                  "momentum": [0.95] + [0.9] * (budget - 1), "state": ["COMPLETE"] + ["PRUNED"] * (budget - 1),
                  "epochs": [last] + [1] * (budget - 1), f"val_accuracy@{last}": [0.91] + [None] * (budget - 1),
                  f"val_loss@{last}": [0.25] + [None] * (budget - 1)}).to_csv(
        tmp_path / "tuning" / "seed1" / "momentum.csv", index=False)
    monkeypatch.chdir(tmp_path)
    tuned = study_command.tuned_by(params, ["momentum"], tuning_folder := tmp_path / "tuning" / "seed1")
    assert (tuned["optimizers"]["momentum"]["lr"], tuned["optimizers"]["momentum"]["momentum"]) == (0.0123, 0.95)
    assert params["optimizers"]["momentum"]["lr"] != 0.0123  # params.yaml's own settings are left alone
    with pytest.raises(ValueError, match=r"^--tuning .*seed1: adam has no finished tuning there"):
        study_command.tuned_by(params, ["adam"], tuning_folder)


def test_the_dvc_overrides_give_the_params_of_study_params(root):
    """A study run through DVC's queue (-S overrides) and one on Dask (study_params) see the same params."""
    from lenet_bench.tuning.search import put

    params = params_module.load(root / "params.yaml")
    via_dvc = copy.deepcopy(params)
    for override in overrides("nesterov", 4, 1, 2):
        key, value = override.split("=", 1)
        put(via_dvc, key, yaml.safe_load(value))
    assert via_dvc == study_params(params, "nesterov", 4, 1, 2)


def test_an_export_written_before_the_column_was_named_preset_reads_under_the_new_name(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "study.csv").write_text("optimizer,scenario,seed,fingerprint\nadam,standard,0,f\n")
    (tmp_path / "results" / "study_curves.csv").write_text("optimizer,scenario,seed,epoch\nadam,standard,0,1\n")
    rows, curves = read_export(tmp_path, curves=True)
    assert rows["preset"].tolist() == ["adam"] and curves["preset"].tolist() == ["adam"]
