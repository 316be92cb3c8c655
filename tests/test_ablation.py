"""study.ablation: each variant is the preset with one component changed, its lr tuned again, run by the study
like a preset."""
import pandas as pd
import pytest

from lenet_bench.errors import UserError
from lenet_bench.study import ablation
from lenet_bench.study.study import grid, plan


def test_each_variant_changes_its_own_settings_and_is_never_tuned(project_params):
    params, names = ablation.with_variants(project_params)
    spec = project_params["study"]["ablation"]
    preset = project_params["optimizers"][spec["preset"]]
    assert names == [f"{spec['preset']}-{v}" for v in spec["variants"]]
    for name, changes in zip(names, spec["variants"].values()):
        variant = params["optimizers"][name]
        assert {k: v for k, v in variant.items() if k not in changes} == \
            {k: v for k, v in preset.items() if k not in changes and k != "search"}  # run, never tuned
        assert all(variant.get(k) == v for k, v in changes.items()) and name in params["tuning"]["fixed"]
    assert names[0] not in project_params["optimizers"]  # the params given are left alone


def test_the_study_plans_every_variant_on_the_declared_scenario_and_seeds(project_params):
    params, names = ablation.with_variants(project_params)
    spec = project_params["study"]["ablation"]
    runs, already = plan(params, grid(names, [spec["scenario"]], spec["seeds"]), 1, None, pd_empty())
    assert already == 0 and len(runs) == len(names) * len(spec["seeds"])
    assert {r.scenarios for r in runs} == {(spec["scenario"],)}


def test_each_variant_tunes_its_lr_alone_over_its_presets_range_with_the_declared_trials(project_params):
    params, names = ablation.variant_tunings(project_params)
    spec = project_params["study"]["ablation"]
    lr_range = project_params["optimizers"][spec["preset"]]["search"]["lr"]
    assert params["tuning"]["trials"] == spec["lr_trials"]
    for name in names:
        assert params["optimizers"][name]["search"] == {"lr": lr_range} and name not in params["tuning"]["fixed"]
    from lenet_bench import params as params_module
    params_module.check(params)  # a tuning of the variants passes the checks of any tuning


def test_a_variant_may_add_a_component_or_take_one_away(project_params):
    project_params["study"]["ablation"]["variants"] = {"averaged": {"averaging": {"name": "ema", "decay": 0.9}}}
    params, (name,) = ablation.with_variants(project_params)
    assert params["optimizers"][name]["averaging"] == {"name": "ema", "decay": 0.9}
    project_params["study"]["ablation"].update(preset="kfac_ema", variants={"no_averaging": {"averaging": None}})
    params, (name,) = ablation.with_variants(project_params)
    assert "averaging" not in params["optimizers"][name] and "averaging" in params["optimizers"]["kfac_ema"]


def test_a_variant_named_like_a_preset_is_refused(project_params):
    project_params["study"]["ablation"]["variants"] = {"ema": {"momentum": 0.0}}
    project_params["optimizers"]["kfac-ema"] = project_params["optimizers"]["kfac"]
    with pytest.raises(UserError, match="its preset name 'kfac-ema' is taken by a preset of presets.yaml"):
        ablation.with_variants(project_params)


def test_changes_read_as_settings():
    assert ablation.changes_text({"momentum": 0.0, "schedule": {"name": "constant"}}) == "momentum 0, schedule constant"


def pd_empty():
    import pandas as pd
    return pd.DataFrame(columns=["preset", "scenario", "seed", "fingerprint"])


def test_the_ablation_command_plans_every_variant_into_its_own_export_and_refuses_other_selections(
        root, tmp_path, monkeypatch, capsys):
    from lenet_bench import cli

    for name in ("params.yaml", "presets.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"^error: --ablation takes its presets, scenario and seeds from params.yaml's "
                                         r"study.ablation; drop --presets"):
        cli.main(["study", "--ablation", "--presets", "kfac", "--dry-run"])
    spec = yaml_params(tmp_path)["study"]["ablation"]
    last = yaml_params(tmp_path)["train"]["epochs"]
    (tmp_path / ablation.TUNINGS).mkdir(parents=True)
    for variant in spec["variants"]:
        trials = spec["lr_trials"]
        pd.DataFrame({"number": range(trials), "lr": [0.001 * (1 + n) for n in range(trials)],
                      "state": ["COMPLETE"] * trials, "epochs": [last] * trials,
                      f"val_accuracy@{last}": [0.8 + 0.01 * n for n in range(trials)],
                      f"val_loss@{last}": [0.3] * trials}).to_csv(
            tmp_path / ablation.TUNINGS / f"{spec['preset']}-{variant}.csv", index=False)
    cli.main(["study", "--ablation", "--dry-run"])
    out = capsys.readouterr().out
    count = len(spec["variants"]) * len(spec["seeds"])
    assert f"; 0 already in {ablation.EXPORT}, {count} to run" in out
    assert f"study-kfac-no_momentum-seed{spec['seeds'][0]}: {spec['scenario']}" in out
    assert not (tmp_path / "results").exists()


def yaml_params(folder):
    from lenet_bench import params
    return params.load(folder / "params.yaml")
