from lenet_bench import summary

from conftest import ROOT


def test_readme_tables_match_the_committed_results():
    readme = (ROOT / "README.md").read_text()
    assert summary.render(readme, ROOT) == readme, "README.md is out of date: run `python -m lenet_bench.summary`"


def test_pipeline_table_has_a_row_per_scenario_with_metrics():
    table = summary.pipeline_table(ROOT).splitlines()
    assert table[0].startswith("| scenario | optimizer | test accuracy")
    assert [row.split("|")[1].strip() for row in table[2:]] == ["standard", "l2", "sparse"]
