import shutil

import pandas as pd
import yaml

from lenet_bench import summary

from conftest import ROOT


def test_readme_tables_match_the_committed_results():
    readme = (ROOT / "README.md").read_text()
    assert summary.render(readme, ROOT) == readme, "README.md is out of date: run `python -m lenet_bench.summary`"


def test_pipeline_table_has_a_row_per_scenario_with_metrics():
    table = summary.pipeline_table(ROOT).splitlines()
    assert table[0].startswith("| scenario | optimizer | test accuracy")
    assert [row.split("|")[1].strip() for row in table[2:]] == ["standard", "l2", "sparse"]


def test_swept_settings_name_what_varied_and_flag_a_best_value_at_the_edge():
    import pandas as pd

    sweep = pd.DataFrame({"experiment": ["a", "b", "c"], "lr": [1.0, 1.0, 1.0], "damping": [0.1, 0.3, 1.0],
                          "schedule": ["cosine"] * 3, "validation_accuracy": [0.9, 0.8, 0.7]})
    assert summary._swept(sweep) == "damping=0.1 (grid edge)"
    sweep["damping"] = [0.3, 0.1, 1.0]
    assert summary._swept(sweep) == "damping=0.3"
    # An option only some settings had: the best one went without it.
    sweep["averaging"], sweep["averaging.decay"] = [None, "ema", "ema"], [None, 0.99, 0.998]
    assert summary._swept(sweep) == "damping=0.3, averaging=none"
    sweep = sweep.iloc[[1, 0, 2]]
    assert summary._swept(sweep) == "damping=0.1 (grid edge), averaging=ema, averaging.decay=0.99 (grid edge)"


def test_study_table_lists_every_preset_and_says_which_are_not_in_the_study(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    rows = summary.study_table(tmp_path).splitlines()[2:]
    assert len(rows) == len(summary.load_params(ROOT / "params.yaml")["optimizers"])
    assert all("not in the study yet" in row for row in rows)


def test_study_table_says_which_presets_changed_since_their_study_runs(tmp_path):
    (tmp_path / "results").mkdir()
    shutil.copy(ROOT / "results" / "study.csv", tmp_path / "results" / "study.csv")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    tuned = pd.read_csv(ROOT / "results" / "study.csv")["optimizer"].iloc[0]
    params["optimizers"][tuned]["lr"] *= 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    row = next(r for r in summary.study_table(tmp_path).splitlines() if r.startswith(f"| {tuned} |"))
    assert "settings changed since its study runs" in row


def test_sweep_table_ranks_by_accuracy_then_loss_and_keeps_ties_in_the_order_tried():
    import pandas as pd
    from lenet_bench.tuning import rank_settings, tied_with_best

    earlier = pd.DataFrame({"experiment": ["a", "b", "c"], "validation_accuracy": [0.9019, 0.9018, 0.8],
                            "validation_loss": [0.2785, 0.2785, 0.5]})
    new = pd.DataFrame({"experiment": ["d", "c", "e"], "validation_accuracy": [0.90191, 0.95, 0.9019],
                        "validation_loss": [0.27849, 0.2, 0.2700]})
    ranked = rank_settings(earlier, new)
    # c was run again and now leads; e ties with a on accuracy but has the lower loss; d ties with a
    # to four decimals and was tried after it.
    assert ranked["experiment"].tolist() == ["c", "e", "a", "d", "b"]
    assert ranked.set_index("experiment").loc["c", "validation_accuracy"] == 0.95
    assert tied_with_best(ranked) == 1 and tied_with_best(ranked.iloc[2:]) == 2


def test_longer_budget_table_lists_the_best_setting_at_each_budget_and_nothing_else(tmp_path):
    import pandas as pd

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "tuning").mkdir()
    assert summary.longer_budget_table(tmp_path).startswith("_No sweep has varied the training budget")
    pd.DataFrame({"experiment": ["best", "other-lr", "best-epochs20", "other-lr-epochs20"],
                  "lr": [0.02, 0.05, 0.02, 0.05], "averaging": [None] * 4, "epochs": [10, 10, 20, 20],
                  "validation_accuracy": [0.9, 0.8, 0.85, 0.7], "validation_loss": [0.3, 0.4, 0.35, 0.5],
                  "train_loss": [0.2, 0.3, 0.05, 0.1], "seconds": [1.0] * 4}).to_csv(tmp_path / "tuning" / "x.csv", index=False)
    rows = summary.longer_budget_table(tmp_path).splitlines()[2:]
    assert rows == ["| x | 10 | 90.00% | 0.3000 | 0.2000 |", "| x | 20 | 85.00% | 0.3500 | 0.0500 |"]


def test_tuning_table_picks_the_best_setting_among_those_run_with_the_study_budget(tmp_path):
    import pandas as pd

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "tuning").mkdir()
    pd.DataFrame({"experiment": ["lr0.02-epochs20", "lr0.02", "lr0.05"], "lr": [0.02, 0.02, 0.05],
                  "batch_size": [64] * 3, "schedule": ["cosine"] * 3, "epochs": [20, 10, 10],
                  "validation_accuracy": [0.95, 0.9, 0.8], "validation_loss": [0.2, 0.3, 0.4],
                  "train_loss": [0.01, 0.1, 0.2]}).to_csv(tmp_path / "tuning" / "x.csv", index=False)
    [row] = summary.tuning_table(tmp_path).splitlines()[2:]
    assert row == "| x | standard | 2 | lr=0.02 (grid edge) | 0.02 | 64 | cosine | 90.00% | 0.3000 |"
