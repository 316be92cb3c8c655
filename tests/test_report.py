"""The report from a small hand-made export: every section, the chosen method, determinism."""
import copy
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from lenet_bench.report import figures, pdf, report
from lenet_bench.report.choice import cheapest, holm, sign_flip_p
from lenet_bench.report.chosen import ablation_verdict, elsewhere_text
from lenet_bench.report.profile import common_problems, problem_list, profile_ratios
from lenet_bench.report.results import load as load_results
from lenet_bench.report.results import summary
from lenet_bench.report.text import joined, load_line
from lenet_bench.report.tuning_text import shared_winner, tuning_section
from lenet_bench.study.study import fingerprint, study_params

METHODS = {"good": ("momentum", 0.905), "fast": ("adaptive", 0.900), "bad": ("second-order", 0.85)}


def fake_params(root, project_params, extra=()):
    """params.yaml with the fake methods (and `extra` presets) as copies of the momentum preset."""
    params = copy.deepcopy(project_params)
    momentum = params["optimizers"]["momentum"]
    params["optimizers"] = {m: {**momentum, "family": METHODS.get(m, ("momentum",))[0]} for m in (*METHODS, *extra)}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def fake_export(root, project_params, seeds=(0, 1), params=None, methods=None):
    """An export of the fake methods (or `methods`: name -> (family, accuracy)), each row with the
    fingerprint of its settings in `params` (by default fake_params, written to root/params.yaml)."""
    params = params or fake_params(root, project_params)
    rows, curves = [], []
    for method, (family, accuracy) in (methods or METHODS).items():
        for scenario in ("standard", "l2", "sparse"):
            for seed in seeds:
                acc = accuracy + 0.001 * seed - (0.002 if scenario == "sparse" else 0)
                reached = acc > params["train"]["target_accuracy"]
                rows.append({"preset": method, "family": family, "algorithm": "sgd", "scenario": scenario,
                             "lr": params["optimizers"].get(method, {}).get("lr"),
                             "seed": seed, "epochs_budget": 10, "test_accuracy": acc, "test_loss": 1 - acc,
                             "train_loss": 0.95 - acc,
                             "epochs": 10, "grad_evals": 600_000 if method != "bad" else 1_800_000,
                             "seconds": 60 if method != "bad" else 600,
                             "target_epoch": 8 if reached else None,
                             "target_grad_evals": 480_000 if reached else None,
                             "target_seconds": 48 if reached else None, "diverged": False,
                             "diverged_at_step": None, "device": "cpu", "threads": 1,
                             "preset_settings": json.dumps({"algorithm": "sgd", "lr": 0.05}),
                             "fingerprint": fingerprint(study_params(params, method, seed, 1, 10), scenario)
                             if scenario in params["scenarios"] else "a scenario params.yaml lacks"})
                for epoch in range(1, 11):
                    curves.append({"epoch": epoch, "test_accuracy": acc * epoch / 10, "test_loss": 2 - epoch / 10, "train_loss": 1.9 - epoch / 10,
                                   "grad_evals": 60_000 * epoch, "seconds": 6 * epoch, "preset": method,
                                   "scenario": scenario, "seed": seed})
    (root / "results").mkdir()
    pd.DataFrame(rows).to_csv(root / "results" / "study.csv", index=False)
    pd.DataFrame(curves).to_csv(root / "results" / "study_curves.csv", index=False)


def fake_speed(root, methods=METHODS):
    """results/speed.csv timing every fake method at 1e-4 s a gradient evaluation: calibrated seconds."""
    names = sorted(methods)
    pd.DataFrame({"preset": names * 3, "round": [r for r in (1, 2, 3) for _ in names],
                  "seconds": 6.0, "grad_evals": 60_000, "load_before": 0.1, "cpus": 2, "threads": 1,
                  "machine": "test cpu x 2", "torch": "2",
                  "preset_settings": json.dumps({"algorithm": "sgd", "lr": 0.05}, sort_keys=True)}).to_csv(
        root / "results" / "speed.csv", index=False)


def test_report_has_every_section_and_picks_the_best_method_that_beats_the_target(tmp_path, project_params):
    fake_export(tmp_path, project_params)
    text = report.build(tmp_path, tmp_path / "report")
    for heading in ("## 1. Setup", "## 2. Every method", "## 3. Learning curves", "## 4. Performance profile",
                    "## 5. The sparse scenario", "## 6. The chosen method: good",
                    "## 7. A method designed from the evidence", "## 8. The brief's baseline",
                    "## 9. What did not work"):
        assert heading in text
    assert "| good | momentum | lr=0.0355, momentum=0.922 | 90.55±0.07 (2/2) |" in text
    assert "- Below 89.38% on average in every scenario (standard, l2, sparse), the worst first: bad (85.05, 85.05, " \
           "84.85%; 0 of 6 runs reached it)." in text
    # Seeds 0 and 1 only: the futility stop waits for seed 2, so nothing is ranked or chosen yet.
    assert "| standard | – | not chosen yet | – | – | – | 3 runs not in yet | – |" in text
    assert "**`standard`**: not ranked yet; 3 runs not in (good seed 2, fast seed 2, bad seed 2)." in text
    assert "## 6. The chosen method: good (provisional: the best so far; the study's runs are not all in)" in text
    assert "first: bad (" in text and "**Working, but dear**" not in text  # bad does not work at all
    for figure in ("curves.png", "profile.png"):
        assert (tmp_path / "report" / "figures" / figure).stat().st_size > 0


def test_same_export_same_report(tmp_path, project_params):
    fake_export(tmp_path, project_params)
    first = report.build(tmp_path, tmp_path / "one")
    second = report.build(tmp_path, tmp_path / "two")
    assert first == second
    for figure in ("profile.png", "curves.png"):
        assert (tmp_path / "one" / "figures" / figure).read_bytes() == (tmp_path / "two" / "figures" / figure).read_bytes()


def test_one_seed_has_no_spread(tmp_path, project_params):
    fake_export(tmp_path, project_params, seeds=(0,))
    assert "| good | momentum | lr=0.0355, momentum=0.922 | 90.50 (1/1) |" in report.build(tmp_path, tmp_path / "report")


def test_profile_ratios_are_relative_to_the_cheapest_and_infinite_where_never_reached():
    study = pd.DataFrame({"preset": ["a", "b", "a", "b"], "scenario": ["s"] * 4, "seed": [0, 0, 1, 1],
                          "target_grad_evals": [100, 300, 200, None]})
    ratios = profile_ratios(study, "grad_evals")
    assert list(ratios["a"]) == [1.0, 1.0] and ratios["b"][0] == 3.0 and ratios["b"][1] == float("inf")


def test_profile_judges_every_method_only_on_the_problems_all_of_them_ran():
    # Seed 1 is an extra seed that only `a` ran: it is no problem `b` failed.
    study = pd.DataFrame({"preset": ["a", "b", "a"], "scenario": ["s"] * 3, "seed": [0, 0, 1],
                          "target_grad_evals": [100, 300, 200]})
    assert list(common_problems(study)) == [("s", 0)]
    ratios = profile_ratios(study, "grad_evals")
    assert list(ratios["a"]) == [1.0] and list(ratios["b"]) == [3.0]
    assert problem_list(pd.MultiIndex.from_tuples([("s", 0), ("s", 1), ("t", 2)])) == \
        "`s` seeds 0, 1, `t` seed 2"


def test_the_load_line_names_the_runs_that_ran_before_loads_were_recorded():
    every = pd.DataFrame({"load_average": [2.0, 3.0], "cpus": [2, 2]})
    assert load_line(every) == ("every run recorded its machine's load: a 1-minute load average of "
                                       "1.00 to 1.50 per CPU (median 1.25)")
    some = pd.DataFrame({"load_average": [2.0, None], "cpus": [2, 2]})
    assert load_line(some).startswith("1 of 2 runs recorded its machine's load")
    assert load_line(some).endswith("; the others ran before loads were recorded")


def test_no_runs_is_a_clear_error(tmp_path, project_params):
    fake_params(tmp_path, project_params)
    (tmp_path / "results").mkdir()
    columns = ["preset", "scenario", "seed", "fingerprint"]
    pd.DataFrame(columns=columns).to_csv(tmp_path / "results" / "study.csv", index=False)
    pd.DataFrame(columns=[*columns[:3], "epoch"]).to_csv(tmp_path / "results" / "study_curves.csv", index=False)
    with pytest.raises(SystemExit, match="has no runs.*: run `lenet-bench study` first"):
        report.build(tmp_path, tmp_path / "report")


def test_runs_on_other_hardware_are_left_out_and_missing_presets_are_named(tmp_path, project_params):
    fake_export(tmp_path, project_params, params=fake_params(tmp_path, project_params, extra=["untried"]))
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study.loc[study["preset"] == "bad", "device"] = "cuda"
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "- **Hardware**: every run below, 12 of them, on one kind: cpu, 1 thread (0.2 hours" in text
    assert "**Left out**: 6 runs at the current settings made on other hardware (cuda)" in text
    results = text.split("## 2.")[1]
    assert "| bad | second-order | lr=0.0355, momentum=0.922 | – | – | – | other hardware only (cuda" in results
    assert "cuda" not in text.split("**Left out**")[0]
    assert "| untried | momentum | lr=0.0355, momentum=0.922 | – | – | – | not run yet |" in text


def test_the_accuracy_group_and_the_chosen_method_by_cost_and_a_tie_called_a_tie(tmp_path, project_params):
    fake_export(tmp_path, project_params, seeds=range(10))
    fake_speed(tmp_path)
    text = report.build(tmp_path, tmp_path / "report")
    # bad is 5.5 points behind after seeds 0-2: out. fast is 0.5 behind good on every seed: outside the group.
    assert "Out (points behind after the stop's seeds): bad (5.50)." in text
    assert "| standard | good | **good** | 90.95 ± 0.30 | 48.0 s | 0.48 | the accuracy group's only member " \
           "| 120 of 120 (100%) |" in text
    assert "| bad | second-order | lr=0.0355, momentum=0.922 | 85.45±0.30 (0/10) out −5.50 |" in text
    assert "| fast | adaptive | lr=0.0355, momentum=0.922 | 90.45±0.30 (10/10) −0.50 p 0.002 |" in text
    assert "| good | momentum | lr=0.0355, momentum=0.922 | **90.95±0.30 (10/10) best** |" in text  # behind on every seed alike: the sign-flip p, 2/2^10
    # Now fast is as accurate, seed for seed, and cheaper on every seed: the group's cheapest is chosen.
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    fast, good = study["preset"] == "fast", study["preset"] == "good"
    study.loc[fast, "test_accuracy"] = study.loc[good, "test_accuracy"].to_numpy() \
        + [0.001 * (-1) ** seed for seed in study.loc[fast, "seed"]]
    study.loc[fast, "target_grad_evals"] = 300_000
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "| standard | fast, good | **fast** | 90.95 ± 0.30 | 30.0 s | 0.30 | cheaper than each other member " \
           "(Holm p ≤ 0.002) | 120 of 120 (100%) |" in text
    assert "## 6. The chosen method: fast\n" in text
    # And as cheap, give or take a second, and a little less accurate: a tie in cost, settled by the declared
    # tie-break (the higher mean test accuracy), not by the cheaper mean.
    study.loc[fast, "target_grad_evals"] = [479_000 + 10_000 * (-1) ** seed for seed in study.loc[fast, "seed"]]
    study.loc[fast, "test_accuracy"] -= 0.0005
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "**fast and good tie** in calibrated seconds (no corrected paired t-test separates them); the higher " \
           "mean test accuracy chooses **good**." in text
    assert "| ties in calibrated seconds with fast; the higher mean test accuracy |" in text


def test_page_one_names_every_scenario_even_one_with_no_runs_yet(tmp_path, project_params):
    fake_export(tmp_path, project_params, seeds=range(10))
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study[study["scenario"] != "l2"].to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    answer = text.split("## The answer")[1].split("**By budget**")[0]
    assert "| l2 | – | not chosen yet | – | – | – | all runs not in yet | – |" in answer
    assert "| standard | good | not chosen yet | – | – | – | no calibrated seconds yet (`lenet-bench speed`) |" in answer
    assert answer.index("| standard |") < answer.index("| l2 |") < answer.index("| sparse |")


def test_the_chosen_methods_section_says_what_the_other_scenarios_chose():
    def choice(scenario, chosen):
        return SimpleNamespace(scenario=scenario, chosen=chosen)
    assert elsewhere_text([choice("l2", "kfac"), choice("sparse", None)], "kfac") == \
        "`l2` chose it too; `sparse` has not chosen yet"
    assert elsewhere_text([choice("l2", "shampoo"), choice("sparse", "kfac")], "kfac") == \
        "`sparse` chose it too; `l2` chose shampoo"
    assert elsewhere_text([choice("l2", None), choice("sparse", None)], "kfac") == \
        "`l2` and `sparse` have not chosen yet"


def test_the_cheapest_method_is_tested_against_the_others_and_a_tie_is_called_a_tie():
    seeds = range(10)
    runs = pd.DataFrame([(preset, seed, cost, 500.0) for seed in seeds for preset, cost in
                         (("lean", 100.0 + seed), ("level", 100.0 + seed + (1 if seed % 2 else -1)),
                          ("dear", 200.0 + seed))], columns=["preset", "seed", "target_cost", "cost"])
    c = cheapest(runs, "target_cost", alpha=0.05)
    assert list(c.means.index) == ["lean", "level", "dear"] and c.tied == ["lean", "level"] and not c.missed
    # level: +1 and -1 in turn; dear: 100 more on each seed, no spread: the exact sign-flip p, 2/2^10, twice
    assert [p for _, p in c.tests] == pytest.approx([1.0, 2 * 2 / 1024])
    runs.loc[(runs["preset"] == "level") & (runs["seed"] == 0), "target_cost"] = None  # missed: its whole run, 500
    c = cheapest(runs, "target_cost", alpha=0.05)
    assert c.missed and c.means["level"] == pytest.approx(runs.loc[runs["preset"] == "level", "target_cost"].mean() * 0.9
                                                          + 500 / 10)
    text = report.cheapest_text(c, "gradient evaluations", 1, 1, "M", 0.05, "paired_t")
    assert text.startswith("In gradient evaluations, **lean and level tie** (")
    assert text.endswith("no paired t-test, Holm-corrected at 0.05, separates lean from level; next dear, 204.5 M).")


def test_the_accuracy_group_is_the_best_and_all_that_holm_corrected_paired_tests_leave_beside_it(project_params):
    from lenet_bench.report.choice import rank

    params = copy.deepcopy(project_params)
    params["optimizers"] = {m: params["optimizers"]["momentum"] for m in ("best", "near", "behind", "far")}
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.001, size=10)
    gaps = {"best": 0.0, "near": 0.0005, "behind": 0.003, "far": 0.0035}
    rows = [{"preset": m, "scenario": "standard", "seed": seed, "test_accuracy": 0.905 - gap + noise[seed]
             + (0.001 * (-1) ** seed if m == "near" else 0), "target_grad_evals": 1.0, "grad_evals": 2.0,
             "target_seconds": 1.0, "seconds": 2.0} for m, gap in gaps.items() for seed in range(10)]
    ranking = rank(pd.DataFrame(rows), params, "standard")
    assert ranking.ranked == ["best", "near", "behind", "far"] and ranking.out == {}
    raw = {t.second: t.p for t, _ in ranking.tests}
    assert [p for _, p in ranking.tests] == pytest.approx(holm([raw["near"], raw["behind"], raw["far"]]))
    assert raw["behind"] < 0.05 and raw["far"] < 0.05 and raw["near"] > 0.05
    assert ranking.group == ["best", "near"]  # near is within the seeds' noise of best; the others are not
    # Holm over every comparison: a p that passes alone can fail once three are made.
    assert holm([0.02, 0.03, 0.04]) == pytest.approx([0.06, 0.06, 0.06])


def test_the_stability_share_counts_the_ways_of_leaving_three_seeds_out_that_keep_the_choice(project_params):
    from lenet_bench.report.choice import rank, stability

    params = copy.deepcopy(project_params)
    params["optimizers"] = {m: params["optimizers"]["momentum"] for m in ("a", "b")}
    # a and b as accurate (a group of two); a is cheaper on seeds 0-6, b on 7-9, by far more: the means
    # decide by the seeds kept. b is chosen by mean cost on all ten (b's 3 big wins outweigh a's 7 small ones).
    rows = []
    for seed in range(10):
        cost_a, cost_b = (100.0, 110.0) if seed < 7 else (200.0, 100.0)
        rows += [{"preset": "a", "scenario": "s", "seed": seed, "test_accuracy": 0.9 + 0.001 * (-1) ** seed,
                  "target_seconds": cost_a, "seconds": 300.0, "target_grad_evals": 1.0, "grad_evals": 1.0},
                 {"preset": "b", "scenario": "s", "seed": seed, "test_accuracy": 0.9 - 0.001 * (-1) ** seed,
                  "target_seconds": cost_b, "seconds": 300.0, "target_grad_evals": 1.0, "grad_evals": 1.0}]
    params["scenarios"] = {"s": {}}
    params["study"]["ranking"]["tie_break"] = "mean_cost"
    study = pd.DataFrame(rows)
    ranking = rank(study, params, "s")
    assert ranking.group == ["a", "b"] or ranking.group == ["b", "a"]
    assert ranking.chosen == "b"  # mean cost: a 130, b 103
    # Leaving 3 of 10 seeds out: b stays the cheaper by mean unless at least 2 of its 3 big wins (7, 8, 9) go:
    # with k of them left out, a's mean is (100 (7 - 3 + k) + 200 (3 - k)) / 7 and b's (110 (7 - 3 + k) + 100 (3 - k)) / 7.
    # k = 0: a 142.9, b 105.7; k = 1: 128.6, 107.1; k = 2: 114.3, 108.6; k = 3: 100, 110 -> a. Only k = 3 flips it.
    same, ways = stability(study, params, ranking)
    assert ways == 120 and same == 120 - 1


def test_lists_in_prose_join_their_last_item_with_a_conjunction():
    assert [joined(items) for items in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a and b", "a, b and c"]
    assert joined(["a", "b", "c"], "or") == "a, b or c"


def test_holm_multiplies_the_smallest_p_by_the_number_of_tests_and_never_lets_a_larger_one_fall_below():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.6, 0.6]) == [1.0, 1.0]


def test_sign_flip_test_is_exact_for_small_samples():
    assert sign_flip_p(np.array([1.0, 1.0, 1.0])) == 0.25  # 2 of the 8 sign patterns are as extreme
    assert sign_flip_p(np.ones(10)) == 2 / 1024
    assert sign_flip_p(np.array([1.0, -1.0])) == 1.0
    assert sign_flip_p(np.zeros(4)) == 1.0


def test_every_method_gets_its_own_look_in_a_figure():
    looks = figures.styles([f"m{i}" for i in range(25)])
    assert len({(s["color"], s["linestyle"]) for s in looks.values()}) == 25
    assert figures.styles(["a", "b"])["a"] == figures.styles(["a", "c"])["a"]


def test_runs_made_with_settings_params_yaml_no_longer_has_are_left_out_and_named(tmp_path, project_params):
    params = fake_params(tmp_path, project_params)
    fake_export(tmp_path, project_params, params=params)
    params["optimizers"]["fast"]["lr"] = 0.5  # tuned after its runs
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    text = report.build(tmp_path, tmp_path / "report")
    assert "from results/study.csv (12 runs)" in text
    assert "**Left out**: 6 runs made with settings that params.yaml and presets.yaml no longer hold (of 1 presets)" in text
    results = text.split("## 2.")[1]
    assert "| fast | adaptive | lr=0.5, momentum=0.922 | – | – | – | stale: tuned since" in results
    assert "| good | momentum | lr=0.0355, momentum=0.922 | 90.5" in results


@pytest.mark.skipif(bool(pdf.missing_tools()), reason="needs pandoc and weasyprint (scripts/setup.sh installs both)")
def test_committed_report_prints_on_at_most_ten_a4_pages(root, tmp_path):
    shutil.copytree(root / "report", tmp_path / "report", ignore=shutil.ignore_patterns("*.pdf"))
    before = sorted(p.name for p in (tmp_path / "report").iterdir())
    count = pdf.to_pdf(tmp_path / "report" / "REPORT.md", tmp_path / "REPORT.pdf")
    assert 1 <= count <= report.MAX_PAGES
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == before  # no scratch left


@pytest.mark.slow
@pytest.mark.skipif(bool(pdf.missing_tools()), reason="needs pandoc and weasyprint (scripts/setup.sh installs both)")
def test_the_report_of_a_finished_study_prints_on_at_most_ten_a4_pages(root, tmp_path, project_params):
    """The committed report is mid-study; this one has every row the finished study will have: each preset
    in every scenario on seeds 0-9 but those the futility stop keeps at 0-2, the tunings, the calibration."""
    for name in ("params.yaml", "presets.yaml", "tuning"):
        (shutil.copytree if (root / name).is_dir() else shutil.copy)(root / name, tmp_path / name)
    accuracy = np.linspace(0.86, 0.91, len(project_params["optimizers"]))
    methods = {name: (preset["family"], a) for (name, preset), a in zip(project_params["optimizers"].items(), accuracy)}
    fake_export(tmp_path, project_params, seeds=range(10), params=project_params, methods=methods)
    for export in ("experiments.csv", "ablation.csv", "ablation_curves.csv"):
        shutil.copy(root / "results" / export, tmp_path / "results" / export)
    fake_speed(tmp_path, methods)
    stop = project_params["study"]["futility"]
    out = [m for m in methods if methods[m][1] < max(accuracy) - stop["max_gap"]]
    for name in ("study.csv", "study_curves.csv"):
        table = pd.read_csv(tmp_path / "results" / name)
        table[table["seed"].isin(stop["seeds"]) | ~table["preset"].isin(out)].to_csv(tmp_path / "results" / name,
                                                                                     index=False)
    leaders = sorted(methods, key=lambda m: methods[m][1])[-3:]
    for seed in project_params["tuning"]["variance_seeds"]:  # each leader's other tunings: here, the same draw again
        (tmp_path / "tuning" / f"seed{seed}").mkdir(exist_ok=True)
        for leader in leaders:
            shutil.copy(root / "tuning" / f"{leader}.csv", tmp_path / "tuning" / f"seed{seed}" / f"{leader}.csv")
        for name in ("study.csv", "study_curves.csv"):
            table = pd.read_csv(tmp_path / "results" / name)
            table[table["preset"].isin(leaders) & table["seed"].isin(stop["seeds"])
                  & (table["scenario"] == "standard")].to_csv(
                tmp_path / "results" / name.replace("study", f"tuning_seed{seed}"), index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "## 9. What did not work" in text and "![Figure 1: critical-difference diagram" in text
    assert all(f"| {s} | " in text.split("## 1. Setup")[0] for s in project_params["scenarios"])
    assert "not chosen yet" not in text.split("## 1. Setup")[0]
    assert "Still to run" not in text.split("### Tuning variance")[1].split("##")[0]
    assert pdf.to_pdf(tmp_path / "report" / "REPORT.md", tmp_path / "REPORT.pdf") <= report.MAX_PAGES


def test_the_report_takes_its_target_and_scenarios_from_params_yaml(tmp_path, project_params):
    params = fake_params(tmp_path, project_params)
    params["train"]["target_accuracy"] = 0.902
    params["scenarios"] = {"l2": {**params["scenarios"]["l2"], "description": "a gentle penalty"},
                           "standard": params["scenarios"]["standard"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    fake_export(tmp_path, project_params, params=params)  # its sparse runs are of a scenario params.yaml no longer has
    text = report.build(tmp_path, tmp_path / "report")
    assert "89.38" not in text and "target: **90.20%** test accuracy" in text
    assert "- **Scenarios**: `l2`: a gentle penalty (every preset minimises cross-entropy + wd/2·‖w‖², wd = 0.0005: " \
           "through its optimizer's weight_decay where that adds wd·w to the gradient" in text
    assert "; `standard`: plain cross-entropy." in text
    header = next(line for line in text.splitlines() if line.startswith("| preset | family | tuned settings |"))
    assert "| l2 |" in header and "sparse" not in header
    assert header.index("| l2 |") < header.index("| standard |")  # params.yaml's order
    assert text.index("**`l2`**: not ranked yet") < text.index("**`standard`**: not ranked yet")
    assert "Chosen in `l2` by the rule" in text  # the first scenario leads the choice


def test_a_report_needs_the_params_it_was_made_for(tmp_path, project_params):
    fake_export(tmp_path, project_params)
    (tmp_path / "params.yaml").unlink()
    with pytest.raises(SystemExit, match="params.yaml is missing: the report takes its target and scenarios from it"):
        report.build(tmp_path, tmp_path / "report")


def test_every_seconds_value_is_calibrated_from_the_speed_table_never_wall_time(tmp_path, project_params):
    fake_export(tmp_path, project_params)
    without = load_results(tmp_path)
    assert without.study["seconds"].isna().all() and without.curves["seconds"].isna().all()
    assert (without.study["wall_seconds"] > 0).all()
    methods = sorted(METHODS)
    pd.DataFrame({"preset": methods * 3, "round": [r for r in (1, 2, 3) for _ in methods],
                  "seconds": 6.0, "grad_evals": 60_000, "load_before": 0.1, "cpus": 2, "threads": 1,
                  "machine": "test cpu x 2", "torch": "2",
                  "preset_settings": json.dumps({"algorithm": "sgd", "lr": 0.05}, sort_keys=True)}).to_csv(tmp_path / "results" / "speed.csv", index=False)
    calibrated = load_results(tmp_path)
    study = calibrated.study
    assert (study["seconds"] == study["grad_evals"] * 1e-4).all()  # the bad method's 600 s of wall time: 180 s
    assert (study["target_seconds"].dropna() == 48.0).all()
    assert (calibrated.curves["seconds"] == calibrated.curves["grad_evals"] * 1e-4).all()
    text = report.build(tmp_path, tmp_path / "report")
    assert "never the study's wall time" in text and "test cpu x 2" in text


def test_tuning_variance_shows_each_leaders_tunings_and_says_whether_the_lead_depends_on_the_draw(tmp_path,
                                                                                                 project_params):
    params = fake_params(tmp_path, project_params)
    fake_export(tmp_path, project_params, seeds=range(10), params=params)
    budget, last = params["tuning"]["trials"], params["train"]["epochs"]
    preset = params["optimizers"]["good"]
    lrs = {0: preset["lr"], 1: 0.011, 2: 0.012}  # tuning 0 is the committed one: params.yaml holds its best
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    for sampler_seed, lr in lrs.items():
        folder = tmp_path / "tuning" / ("" if sampler_seed == 0 else f"seed{sampler_seed}")
        folder.mkdir(parents=True, exist_ok=True)
        for method in METHODS:
            pd.DataFrame({"number": range(budget), "lr": [lr] * budget, "momentum": [preset["momentum"]] * budget,
                          "state": ["COMPLETE"] * budget, "epochs": [last] * budget,
                          f"val_accuracy@{last}": [0.9] * budget, f"val_loss@{last}": [0.3] * budget}).to_csv(
                folder / f"{method}.csv", index=False)
        if sampler_seed:
            tuned = copy.deepcopy(params)
            rows = []
            for method in METHODS:
                tuned["optimizers"][method]["lr"] = lr
                for seed in (0, 1, 2):
                    row = study[(study["preset"] == method) & (study["scenario"] == "standard")
                                & (study["seed"] == seed)].iloc[0].to_dict()
                    # good's other tunings fall to 90.00%, below fast's 90.00 + 0.1 * seed
                    row["test_accuracy"] = {"good": 0.900, "fast": 0.901, "bad": 0.85}[method]
                    row["fingerprint"] = fingerprint(study_params(tuned, method, seed, 1, None), "standard")
                    rows.append(row)
            pd.DataFrame(rows).to_csv(tmp_path / "results" / f"tuning_seed{sampler_seed}.csv", index=False)
            pd.DataFrame([{**{k: row[k] for k in ("preset", "scenario", "seed")}, "epoch": 1, "test_accuracy": 0.5}
                          for row in rows]).to_csv(tmp_path / "results" / f"tuning_seed{sampler_seed}_curves.csv",
                                                   index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "| good | 1 | lr=0.011, momentum=" in text and "| good | 0 | lr=" in text
    assert "| good | 2 | lr=0.012, momentum=" in text and "90.00 ± 0.00 (3 seeds) |" in text
    assert "Still to run" not in text
    assert "**its lead depends on the tuning draw**" in text
    assert "Between their 3 tunings, the leaders' means span good 90.00 to " in text and "; fast 90.10 to " in text
    # One run of a tuning missing: its row shows what is in, and no verdict rests on it.
    partial = pd.read_csv(tmp_path / "results" / "tuning_seed2.csv")
    partial[~((partial["preset"] == "good") & (partial["seed"] == 2))].to_csv(
        tmp_path / "results" / "tuning_seed2.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "| good | 2 | lr=0.012, momentum=" in text and "90.00 ± 0.00 (2 seeds) |" in text
    assert "Still to run: good (sampler seed 2)" in text and "mean moves over" not in text
    # A tuning finished, its best setting not run yet: no export at all.
    for export in ("tuning_seed2.csv", "tuning_seed2_curves.csv"):
        (tmp_path / "results" / export).unlink()
    text = report.build(tmp_path, tmp_path / "report")
    assert "| good | 2 | lr=0.012, momentum=" in text and "| – (0 seeds) |" in text
    # A tuning still running: no row, whatever its best trial so far.
    table = pd.read_csv(tmp_path / "tuning" / "seed2" / "good.csv")
    table.iloc[:-1].to_csv(tmp_path / "tuning" / "seed2" / "good.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "| good | 2 |" not in text and "Still to run: good (sampler seed 2)" in text


def test_every_figure_of_the_committed_report_is_cited_in_it(root):
    text = (root / "report" / "REPORT.md").read_text()
    for figure in sorted((root / "report" / "figures").glob("*.png")):
        assert f"(figures/{figure.name})" in text, f"report/figures/{figure.name} is not in REPORT.md"


def test_page_one_names_the_chosen_method_of_each_scenario_and_the_budget_pick(tmp_path, project_params):
    methods = {**METHODS, "mid": ("adaptive", 0.903)}
    params = fake_params(tmp_path, project_params, extra=["mid"])
    fake_export(tmp_path, project_params, seeds=range(10), params=params, methods=methods)
    fake_speed(tmp_path, methods)
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study.loc[study["preset"] == "fast", "target_grad_evals"] = 300_000  # less accurate, but cheaper
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    answer = text[text.index("## The answer"):text.index("## 1. Setup")]
    for scenario in ("standard", "l2", "sparse"):
        assert f"| {scenario} | good | **good** |" in answer
    # fast is cheaper on each of the 10 seeds by the same amount: no spread, so the exact sign-flip p, 2/2^10, for
    # each of its two tests, doubled by Holm
    assert ("In gradient evaluations, **fast** is the cheapest: 0.30 M on average, less than each of the others on "
            "the same seeds (paired t-tests, Holm p ≤ 0.004; next good, 0.48 M).") in answer
    assert "all 3 presets ranked in every scenario ran" in answer and "left out, as out in some scenario: bad" in answer
    assert "![Figure 1: critical-difference diagram" in answer
    assert (tmp_path / "report" / "figures" / "critical_difference.png").exists()
    profile = text[text.index("## 4. Performance profile"):text.index("## 5.")]
    assert "the methods no other beats on both counts: fast, good." in profile and "bad" not in profile


def test_every_figure_prints_its_text_at_7_points_or_more(tmp_path, project_params, monkeypatch):
    """Figures are drawn at the width print.css gives them, so a font size is its size on paper."""
    drawn = []
    save = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, path, **kw: (drawn.append((path.name, fig)), save(fig, path, **kw)))
    methods = {**METHODS, "mid": ("adaptive", 0.903)}
    params = fake_params(tmp_path, project_params, extra=["mid"])
    fake_export(tmp_path, project_params, seeds=range(10), params=params, methods=methods)
    report.build(tmp_path, tmp_path / "report")
    assert {name for name, _ in drawn} >= {"critical_difference.png", "profile.png", "curves.png"}
    for name, fig in drawn:
        width = fig.get_size_inches()[0]
        assert width <= figures.PRINT_WIDTH + 1e-9, name
        texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
                 if t.get_text().strip() and t.get_visible()]
        smallest = min(t.get_fontsize() * figures.PRINT_WIDTH / width for t in texts)
        assert smallest >= figures.SMALLEST, f"{name}: text at {smallest:.1f} pt"
    assert "img { width: 100%; }" in (report.Path(figures.__file__).with_name("print.css")).read_text()


def test_the_density_figure_compares_sparse_runs_with_the_dense_run_of_the_same_settings_and_seed():
    same = {"preset": "momentum", "algorithm": "sgd", "lr": 0.05, "batch_size": 64, "schedule": "cosine",
            "seed": 42, "epochs_budget": 10}
    runs = pd.DataFrame([
        {**same, "scenario": "sparse", "sparsity_method": "gradual", "test_accuracy": 0.904},
        {**same, "scenario": "sparse", "sparsity_method": "rigl", "test_accuracy": 0.901},
        {**same, "scenario": "standard", "sparsity_method": None, "test_accuracy": 0.9044},
        {**same, "lr": 0.1, "scenario": "standard", "sparsity_method": None, "test_accuracy": 0.95},
        {**same, "seed": 0, "scenario": "standard", "sparsity_method": None, "test_accuracy": 0.96}])
    sparse = runs[runs["scenario"] == "sparse"]
    assert report.matching_dense(runs, sparse) == (1.0, 0.9044)
    assert report.matching_dense(runs[runs["lr"] == 0.1], sparse) is None


def test_no_table_row_or_figure_of_the_committed_report_splits_across_pages(root):
    if pdf.missing_tools():
        pytest.skip(f"printing needs {', '.join(pdf.missing_tools())} (scripts/setup.sh installs them)")
    document = pdf.render(root / "report" / "REPORT.md")
    pages_of = {}
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            header = any(str(cell.tag).endswith("th") for cell in getattr(box, "element", None) or [])
            if getattr(box, "element_tag", None) in ("tr", "img") and not header:  # a header repeats on purpose
                pages_of.setdefault(id(box.element), set()).add(number)
    assert pages_of and all(len(pages) == 1 for pages in pages_of.values())
    assert len(document.pages) <= report.MAX_PAGES


def test_every_preset_is_accounted_for_with_a_declared_verdict(tmp_path, project_params):
    params = fake_params(tmp_path, project_params)
    fake_export(tmp_path, project_params, params=params)
    text = report.build(tmp_path, tmp_path / "report")
    rows = [line for line in text.splitlines() if line.startswith("| ") and line.count("|") > 5]
    table = {row.split("|")[1].strip(): row for row in rows if row.split("|")[1].strip() in params["optimizers"]}
    assert set(table) == set(params["optimizers"])  # one row per preset, run or not
    means = summary(load_results(tmp_path).study)
    for name, group in means.groupby("preset"):
        failed = [m["scenario"] for _, m in group.iterrows() if m["reached"] < report.FAILS_BELOW * m["seeds"]]
        expected = ("works" if not failed else "**failed**" if len(failed) == len(group)
                    else f"**failed** in {', '.join(failed)}")
        assert table[name].endswith(f"| {expected} |"), table[name]


def test_the_chosen_method_shows_training_beside_test_loss(tmp_path, project_params):
    fake_export(tmp_path, project_params)
    text = report.build(tmp_path, tmp_path / "report")
    chosen = text.split("## 6.")[1].split("## 7.")[0]
    assert "![training and test loss](figures/train_test_loss.png)" in chosen
    assert (tmp_path / "report" / "figures" / "train_test_loss.png").exists()
    assert "good ends at a training loss of" in chosen


def test_the_ablation_sets_each_variant_at_its_own_tuned_lr_against_the_tuned_preset(tmp_path, project_params):
    from lenet_bench.study import ablation

    params = fake_params(tmp_path, project_params)
    params["study"]["ablation"] = {"preset": "good", "scenario": "standard", "seeds": [0, 1], "lr_trials": 2,
                                   "variants": {"no_momentum": {"momentum": 0.0},
                                                "constant_lr": {"schedule": {"name": "constant"}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    fake_export(tmp_path, project_params, params=params)
    last = params["train"]["epochs"]
    (tmp_path / ablation.TUNINGS).mkdir(parents=True)
    pd.DataFrame({"number": [0, 1], "lr": [0.3, 0.1], "state": ["COMPLETE"] * 2, "epochs": [last] * 2,
                  f"val_accuracy@{last}": [0.88, 0.89], f"val_loss@{last}": [0.3, 0.3]}).to_csv(
        tmp_path / ablation.TUNINGS / "good-no_momentum.csv", index=False)  # lr 0.1 wins
    variants, tuned = ablation.tuned_variants(params, tmp_path, strict=False)
    assert tuned == ["good-no_momentum"] and variants["optimizers"]["good-no_momentum"]["lr"] == 0.1
    with pytest.raises(ablation.UserError, match=r"good-constant_lr has 0 of its 2 lr trials finished \(.*\); tune the "
                                                 "variants first: lenet-bench tune --ablation"):
        ablation.tuned_variants(params, tmp_path)
    rows = pd.read_csv(tmp_path / "results" / "study.csv")
    rows = rows[(rows["preset"] == "good") & (rows["scenario"] == "standard")].copy()
    rows["test_accuracy"] -= 0.01 * np.array([1.0, 1.2])  # momentum buys a point, or so
    rows["preset"], rows["lr"] = "good-no_momentum", 0.1
    rows["fingerprint"] = [fingerprint(study_params(variants, "good-no_momentum", s, 1, 10), "standard")
                           for s in rows["seed"]]
    stale = rows.assign(preset="good-constant_lr")  # made before its lr was tuned: not at its settings
    pd.concat([rows, stale]).to_csv(tmp_path / "results" / "ablation.csv", index=False)
    curves = pd.read_csv(tmp_path / "results" / "study_curves.csv")
    curves = curves[(curves["preset"] == "good") & (curves["scenario"] == "standard")]
    pd.concat([curves.assign(preset=p) for p in ("good-no_momentum", "good-constant_lr")]).to_csv(
        tmp_path / "results" / "ablation_curves.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "| tuned | as in presets.yaml | 0.0355 | 90.55 ± 0.07 | – | – | – | 2/2 |" in text
    assert "| no_momentum | momentum 0 | 0.1 | 89.45 ± 0.07 | -1.10 | 0.058 | 0.058 | 2/2 |" in text
    assert "| constant_lr | schedule constant | | not run yet |" in text
    assert "each variant's lr is tuned again (2 quasi-random points over the preset's lr range" in text


def test_a_designed_method_is_judged_against_the_preset_it_builds_on(tmp_path, project_params):
    params = fake_params(tmp_path, project_params)
    params["optimizers"]["fast"]["family"] = "designed"  # every fake preset is sgd: fast builds on the first, good
    params["optimizers"]["fast"]["averaging"] = {"name": "ema", "decay": 0.9}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    fake_export(tmp_path, project_params, params=params)
    section = report.build(tmp_path, tmp_path / "report").split("## 7.")[1].split("## 8.")[0]
    assert "**fast** builds on good: it adds `averaging`" in section
    assert "| standard | 90.05 ± 0.07 | 90.55 ± 0.07 | -0.50, 0/2, 0.500 | **tie** | 0.48 / 0.48 | 1.000 | **tie** |" \
        in section  # 2 seeds: p >= 0.5
    assert "Against good, in `standard` it ties on accuracy and ties on cost;" in section
    # On ten seeds, fast is half a point behind on each but reaches the target sooner on each: p = 2/2^10.
    shutil.rmtree(tmp_path / "results")
    fake_export(tmp_path, project_params, seeds=range(10), params=params)
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study.loc[study["preset"] == "fast", "target_grad_evals"] = 300_000
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    section = report.build(tmp_path, tmp_path / "report").split("## 7.")[1].split("## 8.")[0]
    assert "| -0.50, 0/10, 0.002 | **loses** | 0.30 / 0.48 | 0.002 | **cheaper** |" in section
    assert "in `standard` it loses on accuracy and reaches the target with fewer gradient evaluations;" in section


def test_every_table_of_the_committed_report_and_pages_has_as_many_cells_in_each_row_as_in_its_header(root):
    for page in sorted((root / "report").glob("*.md")):
        table = []
        for number, line in enumerate([*page.read_text().splitlines(), ""], start=1):
            if line.startswith("|"):
                table.append(line.strip().strip("|").count("|") + 1)  # cells: inner pipes + 1
            elif table:
                assert set(table) == {table[0]}, f"report/{page.name}: a table ending at line {number - 1} " \
                                                 f"has rows of {sorted(set(table))} cells"
                table = []


def test_a_trial_number_that_wins_most_tunings_is_named_with_where_the_shared_draw_put_it(project_params):
    def tuning(winner: int, batches=(64, 32, 128)) -> pd.DataFrame:
        return pd.DataFrame({"number": [0, 1, 2], "state": "COMPLETE", "lr": [1e-3, 1e-2, 1e-1],
                             "batch_size": list(batches), "val_accuracy@10": [0.9 if n == winner else 0.8 for n in range(3)],
                             "val_loss@10": 0.3})
    tunings = {"adam": tuning(1), "radam": tuning(1), "nadam": tuning(2)}
    text = shared_winner(project_params, tunings)
    # lr 1e-2 in adam's [1e-4, 1e-1] (log): two of three decades.
    assert "trial 1 in 2 of these 3 tunings (adam, radam)" in text
    assert "its learning rate at 67% of the log range, its batch 32 where the batch is searched" in text
    assert shared_winner(project_params, {"adam": tuning(0), "radam": tuning(1), "nadam": tuning(2)}) == ""


def test_an_interrupted_trial_is_named_and_spends_epochs_but_no_trial_of_the_budget(project_params):
    project_params["tuning"]["trials"] = 2
    curve = {f"val_{m}@{e}": 0.8 for e in range(1, 11) for m in ("accuracy", "loss")}
    trials = pd.DataFrame([{"number": 0, "state": "INTERRUPTED", "epochs": 4, **curve},
                           {"number": 1, "state": "COMPLETE", "epochs": 10, **curve},
                           {"number": 2, "state": "PRUNED", "epochs": 3, **curve}])
    text = tuning_section(project_params, {"adam": trials})
    assert "| adam | 2/2 | 1 | 1 | 0 | 17 | 1.7 |" in text
    assert "*Interrupted*" in text and "adam trial 0." in text


def test_mid_study_with_no_seed_common_to_every_method_the_profile_waits(tmp_path, project_params):
    fake_export(tmp_path, project_params, seeds=(0, 1))
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study = study[~((study["preset"] == "good") & (study["seed"] == 1)) & ~((study["preset"] == "fast") & (study["seed"] == 0))]
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "No problem (a scenario and seed) has been run yet by every one of the 2 methods" in text
    assert not (tmp_path / "report" / "figures" / "profile.png").exists()


def test_with_no_run_at_the_target_the_profile_says_so_and_is_not_drawn(tmp_path, project_params):
    fake_export(tmp_path, project_params)
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study[["target_epoch", "target_grad_evals", "target_seconds"]] = None
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "No run has reached 89.38%, so no method has a cost to the target to compare" in text
    assert not (tmp_path / "report" / "figures" / "profile.png").exists()


def test_the_lr_panels_draw_every_trial_once_and_a_trial_under_the_floor_on_it(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path, **kw: drawn.append(fig))
    trials = pd.DataFrame({"state": ["COMPLETE", "PRUNED", "PRUNED", "INTERRUPTED"], "lr": [0.01, 0.1, 1.0, 0.01],
                           "val_accuracy@3": [0.85, 0.82, 0.10, 0.85], "val_accuracy@10": [0.90, None, None, None]})
    figures.lr_sensitivity({"adam": trials}, {"adam": "adaptive"}, tmp_path / "lr.png")
    points = [(line.get_marker(), line.get_markerfacecolor() == "none", x, y)
              for line in drawn[0].axes[0].get_lines() for x, y in zip(line.get_xdata(), line.get_ydata())]
    assert sorted(points) == sorted([("o", False, 0.01, 90.0), ("o", True, 0.1, 82.0), ("v", True, 1.0, 80.0)])
    assert drawn[0].axes[0].get_ylim()[0] < 80.0  # the triangles on the floor show


def test_a_ranking_waits_for_every_run_the_rule_compares(tmp_path, project_params):
    fake_export(tmp_path, project_params, seeds=range(10))
    fake_speed(tmp_path)
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    study = study[~((study["preset"] == "fast") & (study["scenario"] == "standard") & (study["seed"] == 7))]
    study.to_csv(tmp_path / "results" / "study.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "**`standard`**: not ranked yet; 1 run not in (fast seed 7)." in text
    answer = next(line for line in text.splitlines() if line.startswith("| standard | "))
    assert answer == "| standard | – | not chosen yet | – | – | – | 1 run not in yet | – |"
    assert "| l2 | good | **good** |" in text


def test_a_curve_drawn_outside_some_axes_is_named_so_in_the_legend(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path, **kw: drawn.append(fig))
    rows = [(preset, epoch, accuracy, loss) for preset, accuracy, loss in
            (("good", 0.90, 0.30), ("weak", 0.70, 0.55), ("lost", 0.50, 1.50)) for epoch in (1, 2)]
    curves = pd.DataFrame(rows, columns=["preset", "epoch", "test_accuracy", "test_loss"]).assign(
        scenario="standard", seed=0, grad_evals=lambda c: 60_000 * c["epoch"])
    styles = {m: {"color": c, "marker": "o", "linestyle": "-"} for m, c in zip(("good", "weak", "lost"), "rgb")}
    figures.learning_curves(curves, ["good", "weak", "lost"], ["standard"], tmp_path / "curves.png", styles, 89.38)
    labels = [text.get_text() for text in drawn[0].legends[0].get_texts()]
    # weak's loss (0.55) is within twice the best (0.30), so its loss curve shows; lost's (1.50) does not
    assert labels == ["good", "weak (below the accuracy axes)", "lost (off the axes)"]


def test_the_ablation_verdict_names_the_variants_that_differ_after_holm_and_which_way():
    means = {"no_momentum": -4.0, "wider": 0.5, "constant_lr": 0.0}
    corrected = {"no_momentum": 0.004, "wider": 0.02, "constant_lr": 1.0}
    assert ablation_verdict(means, corrected) == (
        "\nAfter Holm's correction at 0.05, against the tuned preset: no_momentum loses test accuracy; wider gains "
        "test accuracy; constant_lr differs by no more than these seeds can tell.\n")
    assert ablation_verdict(means, {kind: 0.06 for kind in means}) == (
        "\nAfter Holm's correction at 0.05, no variant differs from the tuned preset by more than these seeds can "
        "tell.\n")


def test_what_pruning_at_epoch_1_cost_is_measured_against_the_earlier_runs_that_pruned_at_5(tmp_path, project_params):
    from lenet_bench.report.results import PRUNED_AT_5

    fake_export(tmp_path, project_params, seeds=(0, 1, 2))
    study = pd.read_csv(tmp_path / "results" / "study.csv")
    earlier = study[study["scenario"] == "sparse"].copy()
    earlier["test_accuracy"] += 0.001  # a tenth of a point better when pruned later
    earlier["target_epoch"] = [2.0 if a > 0.8938 else None for a in earlier["test_accuracy"]]  # reached while dense
    (tmp_path / PRUNED_AT_5).parent.mkdir(parents=True)
    earlier.to_csv(tmp_path / PRUNED_AT_5, index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert ("so 6 of the 9 runs it shares with this one reached 89.38% while still dense; now the bound holds from "
            "epoch 1 and only a hit under it counts. Paired by preset and seed (3 presets), the final test accuracy "
            "moved by -0.10 ± 0.00 points (0 of 9 higher now; paired t-test, p = 0.004;") in text


PAYLOADS = ('<link rel="attachment" href="file:///etc/hostname"> <img src="file:///etc/hostname"> '
            '<iframe src="http://127.0.0.1:9/x"></iframe> ![leak](file:///etc/hostname) ![web](http://127.0.0.1:9/y.png)')


@pytest.mark.skipif(bool(pdf.missing_tools()), reason="needs pandoc and weasyprint (scripts/setup.sh installs both)")
def test_text_from_data_files_cannot_make_the_pdf_fetch_or_attach_anything(tmp_path, project_params, monkeypatch):
    from weasyprint.urls import URLFetcher

    params = fake_params(tmp_path, project_params)
    params["scenarios"]["standard"]["description"] = "plain " + PAYLOADS
    params["optimizers"]["good"]["family"] = "momentum " + PAYLOADS
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    fake_export(tmp_path, project_params, params=params)
    fake_speed(tmp_path)
    speed = pd.read_csv(tmp_path / "results" / "speed.csv").assign(machine="cpu " + PAYLOADS)
    speed.to_csv(tmp_path / "results" / "speed.csv", index=False)
    text = report.build(tmp_path, tmp_path / "report")
    assert "plain \\<link rel=\"attachment\"" in text and "<link" not in text.replace("\\<link", "")
    asked = []
    fetch = URLFetcher.fetch
    monkeypatch.setattr(URLFetcher, "fetch", lambda self, url, headers=None: (asked.append(url), fetch(self, url,
                                                                                                       headers))[1])
    pdf.to_pdf(tmp_path / "report" / "REPORT.md", tmp_path / "REPORT.pdf")
    assert b"EmbeddedFile" not in (tmp_path / "REPORT.pdf").read_bytes()
    figures = (tmp_path / "report" / "figures").resolve().as_uri()
    assert asked and all(url.startswith(figures) or url.endswith("print.css") for url in asked), asked
    # And a URL that reached the Markdown some other way is refused, and named.
    page = tmp_path / "report" / "page.md"
    page.write_text("# page\n\n![leak](file:///etc/hostname) <link rel=\"attachment\" href=\"file:///etc/hostname\">\n")
    pdf.to_pdf(page, tmp_path / "page.pdf")
    assert b"EmbeddedFile" not in (tmp_path / "page.pdf").read_bytes()


def test_the_validation_cross_check_is_the_rank_correlation_of_tuning_and_test(project_params):
    from lenet_bench.report.ranking_text import cross_check

    last = project_params["train"]["epochs"]

    def tuning(best):
        return pd.DataFrame({"number": [0, 1], "state": ["COMPLETE"] * 2, "epochs": [last] * 2,
                             f"val_accuracy@{last}": [best - 0.01, best], f"val_loss@{last}": [0.3, 0.3]})
    study = pd.DataFrame([{"preset": p, "scenario": "standard", "seed": 0, "test_accuracy": a}
                          for p, a in (("a", 0.90), ("b", 0.91), ("c", 0.92), ("d", 0.93))])
    r = SimpleNamespace(params=project_params, study=study,
                        tunings={"a": tuning(0.80), "b": tuning(0.82), "c": tuning(0.81), "d": tuning(0.83), "e": None})
    rho, presets = cross_check(r, "standard")
    assert presets == 4 and rho == pytest.approx(0.8)  # one swap (b, c) among four: 1 - 6 * 2 / (4 * 15)
    r.tunings = {p: tuning(0.8) for p in "abcd"}
    assert cross_check(r, "standard") is None  # every tuning alike: no order to correlate


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[:-20], r"damaged at line 10 \(unexpected end of data\)"),  # cut inside a quoted field
    (lambda text: text.replace("6.0,", "fast,", 1), r"damaged at line 2 \(seconds 'fast' is not a positive number\)"),
])
def test_a_damaged_speed_table_is_named_in_one_line(tmp_path, project_params, damage, message):
    from lenet_bench.errors import UserError

    fake_export(tmp_path, project_params)
    fake_speed(tmp_path)
    speed = tmp_path / "results" / "speed.csv"
    speed.write_text(damage(speed.read_text()))
    with pytest.raises(UserError, match=r"results/speed.csv: " + message + "; restore it from git"):
        load_results(tmp_path)
