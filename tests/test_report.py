"""The report from a small hand-made export: every section, the chosen method, determinism."""
import json
import shutil

import pandas as pd
import pytest

import yaml

from lenet_bench import params as params_module
from lenet_bench import printed, report
from lenet_bench.study import fingerprint, study_params

from conftest import ROOT

METHODS = {"good": ("momentum", 0.905), "fast": ("adaptive", 0.900), "bad": ("second-order", 0.85)}


def fake_params(root, extra=()):
    """params.yaml with the fake methods (and `extra` presets) as copies of the momentum preset."""
    params = params_module.load(ROOT / "params.yaml")
    momentum = params["optimizers"]["momentum"]
    params["optimizers"] = {m: {**momentum, "family": METHODS.get(m, ("momentum",))[0]} for m in (*METHODS, *extra)}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def fake_export(root, seeds=(0, 1), params=None):
    """An export of the fake methods; with `params`, each row carries the fingerprint of its settings there."""
    rows, curves = [], []
    for method, (family, accuracy) in METHODS.items():
        for scenario in ("standard", "l2", "sparse"):
            for seed in seeds:
                acc = accuracy + 0.001 * seed - (0.002 if scenario == "sparse" else 0)
                reached = acc > report.TARGET
                rows.append({"optimizer": method, "family": family, "algorithm": "sgd", "scenario": scenario,
                             "seed": seed, "epochs_budget": 10, "test_accuracy": acc, "test_loss": 1 - acc,
                             "epochs": 10, "grad_evals": 600_000, "seconds": 60 if method != "bad" else 600,
                             "target_epoch": 8 if reached else None,
                             "target_grad_evals": 480_000 if reached else None,
                             "target_seconds": 48 if reached else None, "diverged": False,
                             "diverged_at_step": None, "device": "cpu", "threads": 1,
                             "preset_settings": json.dumps({"algorithm": "sgd", "lr": 0.05}),
                             "fingerprint": fingerprint(study_params(params, method, seed, 1, 10), scenario)
                             if params else "made by hand"})
                for epoch in range(1, 11):
                    curves.append({"epoch": epoch, "test_accuracy": acc * epoch / 10, "test_loss": 2 - epoch / 10,
                                   "grad_evals": 60_000 * epoch, "seconds": 6 * epoch, "optimizer": method,
                                   "scenario": scenario, "seed": seed})
    (root / "results").mkdir()
    pd.DataFrame(rows).to_csv(root / "results" / "study.csv", index=False)
    pd.DataFrame(curves).to_csv(root / "results" / "study_curves.csv", index=False)


def test_report_has_every_section_and_picks_the_best_method_that_beats_the_target(tmp_path):
    fake_export(tmp_path)
    text = report.build(tmp_path, tmp_path / "report")
    for heading in ("## 1. Setup", "## 2. Every method", "## 3. Learning curves", "## 4. Performance profile",
                    "## 5. The sparse scenario", "## 6. The chosen method: good", "## 7. The brief's baseline",
                    "## 8. What did not work"):
        assert heading in text
    assert "| good | momentum | 90.55 ± 0.07 |" in text
    assert "bad stayed below 89.38% on average in `standard`" in text
    assert "good minus fast is +0.50 percentage points" in text
    assert "bad costs 60 s per epoch" in text
    for figure in ("curves_standard.png", "curves_l2.png", "curves_sparse.png", "profile.png"):
        assert (tmp_path / "report" / "figures" / figure).stat().st_size > 0


def test_same_export_same_report(tmp_path):
    fake_export(tmp_path)
    first = report.build(tmp_path, tmp_path / "one")
    second = report.build(tmp_path, tmp_path / "two")
    assert first == second
    for figure in ("profile.png", "curves_standard.png"):
        assert (tmp_path / "one" / "figures" / figure).read_bytes() == (tmp_path / "two" / "figures" / figure).read_bytes()


def test_one_seed_has_no_spread(tmp_path):
    fake_export(tmp_path, seeds=(0,))
    assert "| good | momentum | 90.50 |" in report.build(tmp_path, tmp_path / "report")


def test_profile_ratios_are_relative_to_the_cheapest_and_infinite_where_never_reached():
    study = pd.DataFrame({"optimizer": ["a", "b", "a", "b"], "scenario": ["s"] * 4, "seed": [0, 0, 1, 1],
                          "target_grad_evals": [100, 300, 200, None]})
    ratios = report.profile_ratios(study, "grad_evals")
    assert list(ratios["a"]) == [1.0, 1.0] and ratios["b"][0] == 3.0 and ratios["b"][1] == float("inf")


def test_no_runs_is_a_clear_error(tmp_path):
    (tmp_path / "results").mkdir()
    pd.DataFrame(columns=["optimizer"]).to_csv(tmp_path / "results" / "study.csv", index=False)
    pd.DataFrame(columns=["optimizer"]).to_csv(tmp_path / "results" / "study_curves.csv", index=False)
    with pytest.raises(SystemExit, match="has no runs.*: run scripts/study.py first"):
        report.build(tmp_path, tmp_path / "report")


def test_mixed_hardware_is_labelled_and_missing_presets_are_named(tmp_path):
    fake_export(tmp_path, params=fake_params(tmp_path, extra=["untried"]))
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study.loc[study["optimizer"] == "bad", "device"] = "cuda"
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "- **Hardware**: cpu, 1 thread: 12 runs, 0.2 hours of training summed over runs; cuda: 6 runs, 1.0 hours of training summed over runs." in text
    assert "Seconds compare only between runs on the same hardware." in text
    assert "| 60.0 | cuda |" in text and "| 6.0 | cpu, 1 thread |" in text
    assert "**Not in the study yet** (presets of params.yaml without a run here): untried." in text
    assert "bad costs" not in text  # 60 s per epoch is the median of its own hardware, not 10x the others'


def test_runs_made_with_settings_params_yaml_no_longer_has_are_left_out_and_named(tmp_path):
    params = fake_params(tmp_path)
    fake_export(tmp_path, params=params)
    params["optimizers"]["fast"]["lr"] = 0.5  # tuned after its runs
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    text = report.build(tmp_path, tmp_path / "report")
    assert "from results/study.csv (12 runs)" in text
    assert "**Left out**: runs made with settings that params.yaml no longer has (fast: 6)" in text
    assert "| fast |" not in text and "| good |" in text


@pytest.mark.skipif(bool(printed.missing_tools()), reason="needs pandoc and weasyprint (scripts/setup.sh installs them)")
def test_committed_report_prints_on_at_most_ten_a4_pages(tmp_path):
    shutil.copytree(ROOT / "report", tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf"))
    count = printed.to_pdf(tmp_path / "report" / "REPORT.md", tmp_path / "REPORT.pdf")
    assert 1 <= count <= report.MAX_PAGES
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["REPORT.md", "figures"]  # no scratch left


def test_a_longer_budget_that_overfits_is_said_to_and_one_that_helps_is_not(tmp_path):
    (tmp_path / "tuning").mkdir()
    sweep = pd.DataFrame({"experiment": ["best", "best-epochs20"], "lr": [0.02, 0.02], "epochs": [10, 20],
                          "validation_accuracy": [0.9, 0.89], "validation_loss": [0.3, 0.4], "train_loss": [0.2, 0.05]})
    sweep.to_csv(tmp_path / "tuning" / "x.csv", index=False)
    [item] = report.longer_budget_items(tmp_path, 10)
    assert "10 epochs: 90.00% (training loss 0.200), 20 epochs: 89.00% (training loss 0.050)" in item
    assert "overfits" in item
    sweep.assign(validation_accuracy=[0.9, 0.91]).to_csv(tmp_path / "tuning" / "x.csv", index=False)
    [item] = report.longer_budget_items(tmp_path, 10)
    assert "20 epochs: 91.00%" in item and "overfits" not in item
    assert report.longer_budget_items(tmp_path, 30) == []  # no run with that budget to compare with
