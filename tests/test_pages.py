import shutil

import pandas as pd
import yaml

from lenet_bench.report import pages


def test_generated_tables_match_the_committed_results(root):
    for page in pages.PAGES:
        text = (root / page).read_text()
        assert pages.render(text, root) == text, f"{page} is out of date: run `lenet-bench pages`"


def test_readme_is_a_short_guide(root):
    assert len((root / "README.md").read_text().splitlines()) <= 200


def test_pipeline_table_has_a_row_per_scenario_with_metrics(root):
    table = pages.pipeline_table(root).splitlines()
    assert table[0].startswith("| scenario | preset | test accuracy")
    assert [row.split("|")[1].strip() for row in table[2:]] == ["standard", "l2", "sparse"]


def test_pipeline_table_says_where_each_run_trained_and_under_what_load():
    cpu = {"device": "cpu", "threads": 2, "cpus": 2, "load_average": 3.1}
    assert pages._hardware(cpu) == "cpu, 2 threads, load 1.55/CPU"
    assert pages._hardware({"device": "cuda"}) == "cuda"


def test_study_table_lists_every_preset_and_says_which_are_not_in_the_study(root, tmp_path):
    for name in ("params.yaml", "presets.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    rows = pages.study_table(tmp_path).splitlines()[2:]
    assert len(rows) == len(pages.load_params(root / "params.yaml")["optimizers"])
    assert all("not in the study yet" in row for row in rows)


def test_study_table_says_which_presets_changed_since_their_study_runs(root, tmp_path):
    (tmp_path / "results").mkdir()
    for name in ("study.csv", "study_curves.csv"):
        shutil.copy(root / "results" / name, tmp_path / "results" / name)
    params = pages.load_params(root / "params.yaml")  # with its presets: written whole into params.yaml below
    tuned = pd.read_csv(root / "results" / "study.csv")["preset"].iloc[0]
    params["optimizers"][tuned]["lr"] *= 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    row = next(r for r in pages.study_table(tmp_path).splitlines() if r.startswith(f"| {tuned} |"))
    assert "settings changed since its study runs" in row


def test_tuning_table_gives_every_tuned_preset_its_budget_and_says_which_are_not_tuned(root, tmp_path):
    for name in ("params.yaml", "presets.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    (tmp_path / "tuning").mkdir()
    params = pages.load_params(tmp_path / "params.yaml")
    budget, last = params["tuning"]["trials"], params["train"]["epochs"]
    states = ["COMPLETE", "COMPLETE"] + ["PRUNED"] * (budget - 3) + ["FAIL"]
    every_epoch = {f"val_{m}@{e}": [None] * budget for e in range(1, last) for m in ("accuracy", "loss")}
    pd.DataFrame({"number": range(budget), "lr": [0.01] * budget, "state": states,
                  "epochs": [last, last] + [1] * (budget - 3) + [0], **every_epoch,
                  f"val_accuracy@{last}": [0.9, 0.91] + [None] * (budget - 2),
                  f"val_loss@{last}": [0.3, 0.29] + [None] * (budget - 2)}).to_csv(tmp_path / "tuning" / "adam.csv",
                                                                                  index=False)
    table = pages.tuning_table(tmp_path).splitlines()
    adam = next(r for r in table if r.startswith("| adam |"))
    spent = 2 * last + budget - 3
    assert adam == f"| adam | {budget}/{budget} | 2 | {budget - 3} | 1 | {spent} | {spent / last:.1f} | 91.00% |"
    assert any(r.startswith("| momentum | not tuned yet |") for r in table) and not any(r.startswith("| sgd |") for r in table)
    assert table[-1].startswith(f"Pruning spent {spent} epochs per finished tuning on average")


def test_pages_says_what_it_rewrote(root, tmp_path, capsys):
    from lenet_bench import cli

    for page in pages.PAGES:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / page, tmp_path / page)
    for folder in ("results", "tuning", "metrics", "records", "report", "benchmarks"):
        shutil.copytree(root / folder, tmp_path / folder, dirs_exist_ok=True)
    for name in ("params.yaml", "presets.yaml", "dvc.yaml"):
        shutil.copy(root / name, tmp_path / name)
    cli.main(["pages", "--root", str(tmp_path)])
    assert capsys.readouterr().out.strip() == "every page is up to date"
    readme = tmp_path / "README.md"
    start = "<!-- pipeline-results:start -->\n"
    readme.write_text(readme.read_text().replace(start, start + "stale\n"))
    cli.main(["pages", "--root", str(tmp_path)])
    assert capsys.readouterr().out.strip() == "rewrote README.md"
