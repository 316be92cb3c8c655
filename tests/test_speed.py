"""lenet-bench speed: every preset's epoch timed in interleaved rounds, with the load before each."""
import subprocess
import sys

import pandas as pd
import pytest

from lenet_bench.report import calibration
from lenet_bench.study import speed


def test_rounds_are_interleaved_and_the_medians_calibrate_each_preset(project_params, synthetic_data):
    lines = []
    timings = speed.measure(project_params, ["sgd", "momentum"], synthetic_data(128, 16), rounds=3,
                            progress=lines.append)
    assert list(zip(timings["round"], timings["preset"])) == [(1, "sgd"), (1, "momentum"), (2, "sgd"),
                                                              (2, "momentum"), (3, "sgd"), (3, "momentum")]
    assert (timings["grad_evals"] == 128).all() and (timings["seconds"] > 0).all()
    assert timings["load_before"].notna().all() and set(timings["threads"]) == {1}
    table = calibration.calibrated(timings)
    sgd = timings[timings["preset"] == "sgd"]
    assert table.loc["sgd", "seconds_per_epoch"] == sgd["seconds"].median()
    assert table.loc["sgd", "seconds_per_grad_eval"] == pytest.approx((sgd["seconds"] / 128).median())
    assert table.loc["sgd", "spread"] == sgd["seconds"].max() / sgd["seconds"].min() >= 1
    assert len(lines) == 6


def test_calibration_takes_the_median_round():
    timings = pd.DataFrame({"preset": ["a"] * 3, "round": [1, 2, 3], "seconds": [10.0, 30.0, 12.0],
                            "grad_evals": [100] * 3, "load_before": [0.1, 1.9, 0.2]})
    table = calibration.calibrated(timings)
    assert table.loc["a"].to_dict() == {"seconds_per_epoch": 12.0, "seconds_per_grad_eval": 0.12, "spread": 3.0,
                                        "rounds": 3, "load_before": 1.9}


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [(["--rounds", "2"], "error: --rounds must be at least 3"),
                                           (["--presets", "kfca"], "error: unknown preset 'kfca' (did you mean 'kfac'?)")])
def test_bad_arguments_fail_before_any_timing(root, tmp_path, args, message):
    for name in ("params.yaml", "presets.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    result = subprocess.run([sys.executable, "-m", "lenet_bench", "speed", *args], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode != 0 and result.stderr.strip().startswith(message)
    assert not (tmp_path / "results").exists()


def test_a_runs_seconds_are_its_gradient_evaluations_times_the_rate_of_its_preset_at_its_settings():
    timings = pd.DataFrame({"preset": ["a"] * 3 + ["b"] * 3, "round": [1, 2, 3] * 2,
                            "seconds": [10.0, 30.0, 12.0, 4.0, 4.0, 5.0], "grad_evals": [100] * 6,
                            "load_before": [0.1] * 6, "cpus": [2] * 6, "threads": [1] * 6, "machine": ["m"] * 6,
                            "torch": ["2"] * 6, "preset_settings": ["{}"] * 6})
    runs = pd.DataFrame({"preset": ["a", "b", "untimed", "a"], "scenario": "standard", "seed": [0, 0, 0, 1],
                         "preset_settings": ["{}", "{}", "{}", '{"lr": 1}'], "seconds": [99.0] * 4,
                         "grad_evals": [1000, 50, 1000, 1000], "target_grad_evals": [500, None, 500, 500]})
    out = calibration.apply(runs, timings)
    assert out["seconds"].tolist()[:2] == [120.0, 2.0] and out["seconds"].iloc[2:].isna().all()  # re-tuned: untimed
    assert out["target_seconds"].iloc[0] == 60.0 and pd.isna(out["target_seconds"].iloc[1])
    assert out["wall_seconds"].tolist() == [99.0] * 4 and runs["seconds"].tolist() == [99.0] * 4
    assert calibration.apply(runs, None)["seconds"].isna().all()
    relabelled = runs.assign(preset_settings=['{"family": "x", "search": {}}', "{}", "{}", '{"lr": 1}'])
    assert calibration.apply(relabelled, timings)["seconds"].iloc[0] == 120.0  # labels do not change what runs
    curves = pd.DataFrame({"preset": "a", "scenario": "standard", "seed": 0, "epoch": [1, 2],
                           "grad_evals": [100, 200], "seconds": [7.0, 20.0]})
    assert calibration.apply_to_curves(curves, out)["seconds"].tolist() == [12.0, 24.0]
    assert "3.00x (a" in calibration.describe(timings) and "missing" in calibration.describe(None)
