import math

import pytest
import torch

from lenet_bench import params as params_module
from lenet_bench import training
from lenet_bench.evaluation import first_reaching, nonzero_counts
from lenet_bench.model import LeNet5

from conftest import ROOT, synthetic_data

CPU = torch.device("cpu")


def config(**preset):
    return {"scenario": "test", "optimizer": "test", "weight_decay": 0.0, "epochs": 2, "seed": 3,
            "threads": 0, "target_accuracy": 0.5,
            "preset": {"algorithm": "sgd", "batch_size": 32, "lr": 0.05, "schedule": {"name": "constant"},
                       **preset}}


def without_seconds(record):
    record = dict(record, cost={k: v for k, v in record["cost"].items() if k != "seconds"})
    record["history"] = [{k: v for k, v in row.items() if k != "seconds"} for row in record["history"]]
    return record


def test_same_seed_same_run():
    first_model, first = training.train(config(momentum=0.9), synthetic_data(), CPU, log=lambda _: None)
    second_model, second = training.train(config(momentum=0.9), synthetic_data(), CPU, log=lambda _: None)
    assert without_seconds(first) == without_seconds(second)
    for a, b in zip(first_model.state_dict().values(), second_model.state_dict().values()):
        assert torch.equal(a, b)


def test_other_seed_other_run():
    _, first = training.train(config(), synthetic_data(), CPU, log=lambda _: None)
    _, second = training.train(dict(config(), seed=4), synthetic_data(), CPU, log=lambda _: None)
    assert first["history"][-1]["train_loss"] != second["history"][-1]["train_loss"]


def test_cost_counts_samples_per_backward_and_steps():
    # 256 samples in batches of 100: 3 steps per epoch (the last one of 56 samples).
    _, record = training.train(config(batch_size=100), synthetic_data(), CPU, log=lambda _: None)
    assert record["cost"]["steps"] == 6
    assert record["cost"]["grad_evals"] == 2 * 256
    assert [row["grad_evals"] for row in record["history"]] == [256, 512]
    assert record["cost"]["epochs"] == 2


def test_training_lowers_the_loss():
    _, record = training.train(dict(config(momentum=0.9), epochs=5), synthetic_data(), CPU, log=lambda _: None)
    losses = [row["train_loss"] for row in record["history"]]
    assert losses[-1] < losses[0]


def test_divergence_stops_the_run_and_is_recorded():
    _, record = training.train(dict(config(lr=float("inf"), batch_size=4), epochs=3), synthetic_data(), CPU,
                               log=lambda _: None)
    assert record["diverged"] is True
    assert record["diverged_at_step"] is not None and record["diverged_at_step"] <= 64
    assert record["cost"]["epochs"] == 1
    assert not math.isfinite(record["history"][-1]["train_loss"])


def test_epoch_summary_line_is_logged():
    lines = []
    training.train(config(), synthetic_data(), CPU, log=lines.append)
    assert len(lines) == 2
    assert lines[0].startswith("epoch   1/2  train loss ") and "test acc" in lines[0] and lines[0].endswith(" s")


def test_nonzero_counts_from_a_state_dict():
    state = LeNet5().state_dict()
    state["fc1.weight"][:10] = 0
    counts = nonzero_counts(state)
    assert counts["fc1"] == 30_720 - 10 * 256 and counts["fc2"] == 10_080
    assert counts["fc1_fc2"] == counts["fc1"] + counts["fc2"]
    assert counts["fc1_fc2_density"] == pytest.approx(counts["fc1_fc2"] / 40_800)


def test_first_reaching_target():
    history = [{"epoch": e, "test_accuracy": a, "grad_evals": 10 * e, "seconds": 1.5 * e}
               for e, a in [(1, 0.8), (2, 0.9), (3, 0.95)]]
    assert first_reaching(history, 0.9) == {"epoch": 2, "grad_evals": 20, "seconds": 3.0}
    assert first_reaching(history, 0.99) == {"epoch": None, "grad_evals": None, "seconds": None}


def test_validation_curves_when_a_validation_set_is_held_out():
    from lenet_bench.data import hold_out
    _, record = training.train(dict(config(), epochs=1), hold_out(synthetic_data(), 64), CPU, log=lambda _: None)
    row = record["history"][0]
    assert record["cost"]["grad_evals"] == 256 - 64
    assert 0 <= row["validation_accuracy"] <= 1 and row["validation_loss"] > 0


PRESETS = params_module.load(ROOT / "params.yaml")["optimizers"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_takes_steps_and_lowers_the_loss(name):
    preset = {k: v for k, v in PRESETS[name].items() if k != "family"}
    preset["batch_size"] = min(preset["batch_size"], 256)  # the synthetic set has 256 samples
    run_config = dict(config(), epochs=4, preset=preset)
    _, record = training.train(run_config, synthetic_data(), CPU, log=lambda _: None)
    losses = [row["train_loss"] for row in record["history"]]
    assert record["cost"]["steps"] == 4 * -(-256 // preset["batch_size"])
    assert not record["diverged"] and losses[-1] < losses[0]


def test_lbfgs_counts_every_gradient_its_line_search_evaluates():
    preset = {"algorithm": "lbfgs", "batch_size": 256, "lr": 1.0, "max_iter": 3, "line_search_fn": "strong_wolfe",
              "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=1, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    assert record["cost"]["steps"] == 1
    assert record["cost"]["grad_evals"] > 256 and record["cost"]["grad_evals"] % 256 == 0


def test_set_mode_switches_schedule_free_to_its_averaged_weights_and_leaves_others_alone():
    from lenet_bench.optimizers import build_optimizer, set_mode

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(5))
    optimizer = build_optimizer([weight], {"algorithm": "schedule_free_adamw", "lr": 0.1}, 0.0)
    set_mode(optimizer, "train")
    for _ in range(5):
        optimizer.zero_grad()
        (weight ** 2).sum().backward()
        optimizer.step()
    training_point = weight.detach().clone()
    set_mode(optimizer, "eval")
    assert not torch.equal(weight.detach(), training_point)
    set_mode(optimizer, "train")
    torch.testing.assert_close(weight.detach(), training_point)

    sgd = build_optimizer([weight], {"algorithm": "sgd", "lr": 0.1}, 0.0)
    before = weight.detach().clone()
    set_mode(sgd, "eval")
    assert torch.equal(weight.detach(), before)


def test_svrg_cost_counts_its_full_gradients_and_both_closure_calls():
    preset = {"algorithm": "svrg", "batch_size": 64, "lr": 0.05, "snapshot_epochs": 1, "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=2, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    # per epoch: one full gradient (256) and, for each of 4 steps, the batch at w and at the snapshot
    assert record["cost"]["grad_evals"] == 2 * (256 + 2 * 256)
    assert record["cost"]["steps"] == 8
