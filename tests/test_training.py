import math

import pytest
import torch

from lenet_bench.core import training
from lenet_bench.core.evaluation import first_reaching, nonzero_counts
from lenet_bench.core.model import LeNet5
from lenet_bench.core.schedules import batch_sizes

CPU = torch.device("cpu")


def config(**preset):
    return {"scenario": "test", "optimizer": "test", "weight_decay": 0.0, "epochs": 2, "seed": 3,
            "threads": 0, "target_accuracy": 0.5,
            "preset": {"algorithm": "sgd", "batch_size": 32, "lr": 0.05, "schedule": {"name": "constant"},
                       **preset}}


def without_seconds(record):
    """The record less what varies between two runs of one config: seconds, and the machine's load meanwhile."""
    record = dict(record, cost={k: v for k, v in record["cost"].items() if k != "seconds"})
    record.pop("load_average", None)
    for curve in ("history", "checks"):
        record[curve] = [{k: v for k, v in row.items() if k != "seconds"} for row in record.get(curve, [])]
    return record


def test_same_seed_same_run(synthetic_data):
    first_model, first = training.train(config(momentum=0.9), synthetic_data(), CPU, log=lambda _: None)
    second_model, second = training.train(config(momentum=0.9), synthetic_data(), CPU, log=lambda _: None)
    assert without_seconds(first) == without_seconds(second)
    for a, b in zip(first_model.state_dict().values(), second_model.state_dict().values()):
        assert torch.equal(a, b)


def test_other_seed_other_run(synthetic_data):
    _, first = training.train(config(), synthetic_data(), CPU, log=lambda _: None)
    _, second = training.train(dict(config(), seed=4), synthetic_data(), CPU, log=lambda _: None)
    assert first["history"][-1]["train_loss"] != second["history"][-1]["train_loss"]


def test_cost_counts_samples_per_backward_and_steps(synthetic_data):
    # 256 samples in batches of 100: 3 steps per epoch (the last one of 56 samples).
    _, record = training.train(config(batch_size=100), synthetic_data(), CPU, log=lambda _: None)
    assert record["cost"]["steps"] == 6
    assert record["cost"]["grad_evals"] == 2 * 256
    assert [row["grad_evals"] for row in record["history"]] == [256, 512]
    assert record["cost"]["epochs"] == 2


def test_training_lowers_the_loss(synthetic_data):
    _, record = training.train(dict(config(momentum=0.9), epochs=5), synthetic_data(), CPU, log=lambda _: None)
    losses = [row["train_loss"] for row in record["history"]]
    assert losses[-1] < losses[0]


def test_divergence_stops_the_run_and_is_recorded(synthetic_data):
    _, record = training.train(dict(config(lr=float("inf"), batch_size=4), epochs=3), synthetic_data(), CPU,
                               log=lambda _: None)
    assert record["diverged"] is True
    assert record["diverged_at_step"] is not None and record["diverged_at_step"] <= 64
    assert record["cost"]["epochs"] == 1
    assert not math.isfinite(record["history"][-1]["train_loss"])


def test_epoch_summary_line_is_logged(synthetic_data):
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


def test_first_reaching_target_at_a_quarter_epoch_check():
    curve = [(0.25, 0.70), (0.5, 0.80), (0.75, 0.84), (1, 0.86), (1.25, 0.88), (1.5, 0.895), (1.75, 0.89), (2, 0.91)]
    checks = [{"epoch": e, "test_accuracy": a, "grad_evals": int(400 * e), "seconds": 2.0 * e} for e, a in curve]
    assert first_reaching(checks, 0.8938) == {"epoch": 1.5, "grad_evals": 600, "seconds": 3.0}
    assert first_reaching(checks, 0.99) == {"epoch": None, "grad_evals": None, "seconds": None}


def test_a_crossing_while_dense_does_not_count_in_a_sparse_scenario():
    rows = [(1.0, 0.88, False), (1.25, 0.90, False), (1.5, 0.89, True), (1.75, 0.895, True)]
    checks = [{"epoch": e, "test_accuracy": a, "within_bound": ok, "grad_evals": int(400 * e), "seconds": e}
              for e, a, ok in rows]
    assert first_reaching(checks, 0.8938)["epoch"] == 1.75


@pytest.mark.parametrize("steps, checks, positions", [(8, 4, [2, 4, 6]), (1, 4, []), (2, 4, [1]), (8, 1, [])])
def test_check_positions_split_an_epoch_into_quarters(steps, checks, positions):
    assert training.check_positions(steps, checks) == positions


def test_checks_within_epochs_until_the_target_leave_training_unchanged(synthetic_data):
    quiet = dict(log=lambda _: None)
    _, plain = training.train(dict(config(momentum=0.9), checks_per_epoch=1), synthetic_data(), CPU, **quiet)
    _, never = training.train(dict(config(momentum=0.9), checks_per_epoch=4, target_accuracy=1.01),
                              synthetic_data(), CPU, **quiet)
    _, at_once = training.train(dict(config(momentum=0.9), checks_per_epoch=4, target_accuracy=0.01),
                                synthetic_data(), CPU, **quiet)
    assert without_seconds(plain)["history"] == without_seconds(never)["history"]  # checks touch no weight
    assert [c["epoch"] for c in plain["checks"]] == [1, 2]
    assert [c["epoch"] for c in never["checks"]] == [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2]
    assert [c["epoch"] for c in at_once["checks"]] == [0.25, 1, 2]  # none within an epoch once reached
    assert [c["grad_evals"] for c in never["checks"]] == [64 * k for k in range(1, 9)]
    seconds = [c["seconds"] for c in never["checks"]]
    assert seconds == sorted(seconds) and seconds[-1] == never["cost"]["seconds"]


def test_checks_record_whether_the_weights_meet_the_bound(synthetic_data):
    sparsity = {"density": 0.6, "layers": ["fc1", "fc2"], "scope": "global", "method": "prune_finetune",
                "prune_epoch": 1}
    run = dict(config(), sparsity=sparsity, checks_per_epoch=4, target_accuracy=1.01)
    _, record = training.train(run, synthetic_data(), CPU, log=lambda _: None)
    assert [(c["epoch"], c["within_bound"]) for c in record["checks"]] == [
        (0.25, False), (0.5, False), (0.75, False), (1, True), (1.25, True), (1.5, True), (1.75, True), (2, True)]


def test_validation_curves_when_a_validation_set_is_held_out(synthetic_data):
    from lenet_bench.core.data import hold_out
    _, record = training.train(dict(config(), epochs=1), hold_out(synthetic_data(), 64), CPU, log=lambda _: None)
    row = record["history"][0]
    assert record["cost"]["grad_evals"] == 256 - 64
    assert 0 <= row["validation_accuracy"] <= 1 and row["validation_loss"] > 0


def test_every_preset_takes_steps_and_lowers_the_loss(synthetic_data, project_params, preset_name):
    preset = {k: v for k, v in project_params["optimizers"][preset_name].items() if k != "family"}
    preset["batch_size"] = min(preset["batch_size"], 256)  # the synthetic set has 256 samples
    run_config = dict(config(), epochs=4, preset=preset)
    _, record = training.train(run_config, synthetic_data(), CPU, log=lambda _: None)
    losses = [row["train_loss"] for row in record["history"]]
    sizes = batch_sizes(preset, 4, 256)
    assert record["cost"]["steps"] == sum(-(-256 // size) for size in sizes)
    assert not record["diverged"] and losses[-1] < losses[0]


def test_lbfgs_counts_every_gradient_its_line_search_evaluates(synthetic_data):
    preset = {"algorithm": "lbfgs", "batch_size": 256, "lr": 1.0, "max_iter": 3, "line_search_fn": "strong_wolfe",
              "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=1, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    assert record["cost"]["steps"] == 1
    assert record["cost"]["grad_evals"] > 256 and record["cost"]["grad_evals"] % 256 == 0


def test_set_mode_switches_schedule_free_to_its_averaged_weights_and_leaves_others_alone():
    from lenet_bench.core.optimizers import build_optimizer, set_mode

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(5))
    holder = torch.nn.Module()
    holder.weight = weight
    optimizer = build_optimizer(holder, {"algorithm": "schedule_free_adamw", "lr": 0.1}, 0.0)
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

    sgd = build_optimizer(holder, {"algorithm": "sgd", "lr": 0.1}, 0.0)
    before = weight.detach().clone()
    set_mode(sgd, "eval")
    assert torch.equal(weight.detach(), before)


def test_svrg_cost_counts_its_full_gradients_and_both_closure_calls(synthetic_data):
    preset = {"algorithm": "svrg", "batch_size": 64, "lr": 0.05, "snapshot_epochs": 1, "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=2, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    # per epoch: one full gradient (256) and, for each of 4 steps, the batch at w and at the snapshot
    assert record["cost"]["grad_evals"] == 2 * (256 + 2 * 256)
    assert record["cost"]["steps"] == 8


def test_a_growing_batch_takes_fewer_steps_each_epoch(synthetic_data):
    preset = {"algorithm": "sgd", "batch_size": 16, "batch_growth": 2.0, "max_batch_size": 100, "lr": 0.05,
              "schedule": {"name": "cosine"}}
    assert batch_sizes(preset, 5, 256) == [16, 32, 64, 100, 100]
    _, record = training.train(dict(config(), epochs=5, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    steps = [row["steps"] for row in record["history"]]
    assert [b - a for a, b in zip([0, *steps], steps)] == [16, 8, 4, 3, 3]
    assert record["cost"]["grad_evals"] == 5 * 256
    assert record["history"][-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # the cosine ends on the last step


def test_step_clock_converts_epochs_to_steps():
    from lenet_bench.core.schedules import step_clock
    steps_at = step_clock([10, 5, 2])
    assert [steps_at(e) for e in (0, 0.5, 1, 1.4, 2, 3, 4)] == [0, 5, 10, 12, 15, 17, 17]


def test_ema_averaging_evaluates_and_returns_the_average(synthetic_data):
    preset = {"averaging": {"name": "ema", "decay": 0.5}, "momentum": 0.9}
    averaged_model, record = training.train(config(**preset), synthetic_data(), CPU, log=lambda _: None)
    live_model, live = training.train(config(momentum=0.9), synthetic_data(), CPU, log=lambda _: None)
    assert record["averaging"] == "ema" and live["averaging"] == "none"
    assert record["cost"] == {**live["cost"], "seconds": record["cost"]["seconds"]}  # same training
    assert record["history"][-1]["train_loss"] == live["history"][-1]["train_loss"]
    assert record["history"][-1]["test_loss"] != live["history"][-1]["test_loss"]
    assert set(averaged_model.state_dict()) == set(live_model.state_dict())  # saves like LeNet5
    assert not torch.equal(averaged_model.state_dict()["fc1.weight"], live_model.state_dict()["fc1.weight"])


def test_swa_averages_from_its_start_epoch_with_equal_weights():
    averaged, average_from = training.build_averaging(torch.nn.Linear(2, 1), {"name": "swa", "start_epoch": 1.5},
                                                      lambda epochs: int(10 * epochs))
    assert average_from == 15
    model = torch.nn.Linear(2, 1)
    for value in (1.0, 2.0, 6.0):
        torch.nn.init.constant_(model.weight, value)
        averaged.update_parameters(model)
    torch.testing.assert_close(averaged.module.weight, torch.full((1, 2), 3.0))


def test_averaging_keeps_the_sparsity_bound(synthetic_data):
    sparsity = {"density": 0.5, "layers": ["fc1", "fc2"], "scope": "global", "method": "prune_finetune",
                "prune_epoch": 1}
    run = dict(config(averaging={"name": "swa", "start_epoch": 0}), sparsity=sparsity)
    model, _ = training.train(run, synthetic_data(), CPU, log=lambda _: None)
    assert nonzero_counts(model.state_dict())["fc1_fc2"] <= 0.5 * 40_800


@pytest.mark.parametrize("algorithm, update_period, products_per_step", [("adahessian", 1, 1), ("sophia", 3, 1 / 3)])
def test_hessian_vector_products_count_two_gradient_evaluations(synthetic_data, algorithm, update_period, products_per_step):
    preset = {"algorithm": algorithm, "batch_size": 64, "lr": 0.01, "update_period": update_period,
              "schedule": {"name": "constant"}}
    _, record = training.train(dict(config(), epochs=3, preset=preset), synthetic_data(), CPU, log=lambda _: None)
    steps = record["cost"]["steps"]
    assert steps == 12
    assert record["cost"]["grad_evals"] == 64 * steps + 2 * 64 * round(products_per_step * steps)


def test_muon_takes_the_hidden_matrices_and_adamw_the_rest():
    from lenet_bench.core.optim import MuonWithAdamW
    from lenet_bench.core.optimizers import build_optimizer
    model = LeNet5()
    optimizer = build_optimizer(model, {"algorithm": "muon", "lr": 0.01}, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert [names[id(p)] for p in optimizer.muon.param_groups[0]["params"]] == ["fc1.weight", "fc2.weight"]
    assert {names[id(p)] for p in optimizer.adamw.param_groups[0]["params"]} == set(names.values()) - {
        "fc1.weight", "fc2.weight"}
    # Decoupled decay would be another objective: l2 reaches Muon through the loss (tests/test_l2.py).
    assert all(group["weight_decay"] == 0.0 for group in optimizer.param_groups)
    decaying = MuonWithAdamW(model.named_parameters(), lr=0.01, weight_decay=0.1)
    assert all(group["weight_decay"] == 0.1 for group in (*decaying.muon.param_groups, *decaying.adamw.param_groups))
    optimizer.param_groups[0]["lr"] = 0.5  # what a scheduler does reaches the inner optimizers
    assert optimizer.muon.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("l2_in_loss", [0.0, 0.01])
def test_a_batch_evaluated_in_chunks_has_the_same_objective_gradient_and_hessian(l2_in_loss):
    torch.manual_seed(0)
    model = LeNet5().double()
    x, y = torch.randn(70, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (70,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = [torch.randn_like(p) for p in model.parameters()]

    def evaluated(chunk):
        cost = training.Cost()
        loss = training.Objective(model, optimizer, x, y, cost, l2_in_loss, create_graph=True, chunk=chunk)()
        gradient = [p.grad for p in model.parameters()]
        hessian_probe = torch.autograd.grad(gradient, list(model.parameters()), probe)
        return loss, [g.detach() for g in gradient], hessian_probe, cost.grad_evals

    whole, chunked = evaluated(70), evaluated(16)  # 16, 16, 16, 16, 6
    assert chunked[3] == whole[3] == 70
    assert torch.allclose(chunked[0], whole[0], rtol=1e-12)
    for a, b in [*zip(chunked[1], whole[1]), *zip(chunked[2], whole[2])]:
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-14)
    if l2_in_loss == 0.0:
        reference = torch.nn.functional.cross_entropy(model(x), y)
        assert torch.allclose(whole[0], reference, rtol=1e-14)


def test_sam_steps_from_w_along_the_gradient_at_the_ascent_point():
    """One SAM step on the penalised objective F = L + wd/2 |w|^2 (SAM's own weight decay is uncoupled, so the
    penalty goes through the loss): g = grad F(w); w_adv = w + rho g/|g|; w' = w - lr grad F(w_adv)."""
    from lenet_bench.core.optimizers import build_optimizer
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3).double()
    x, y = torch.randn(16, 5, dtype=torch.float64), torch.randint(0, 3, (16,))
    lr, rho, wd = 0.1, 0.05, 0.01
    w = [p.detach().clone() for p in model.parameters()]

    def gradient_at(weights):
        probe = torch.nn.Linear(5, 3).double()
        with torch.no_grad():
            for p, value in zip(probe.parameters(), weights):
                p.copy_(value)
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        penalised = loss + wd / 2 * sum(p.square().sum() for p in probe.parameters())
        return torch.autograd.grad(penalised, list(probe.parameters())), loss.detach()

    g, loss_at_w = gradient_at(w)
    norm = torch.sqrt(sum(gi.square().sum() for gi in g))
    g_adv, _ = gradient_at([wi + rho * gi / norm for wi, gi in zip(w, g)])
    expected = [wi - lr * gi for wi, gi in zip(w, g_adv)]

    optimizer = build_optimizer(model, {"algorithm": "sam", "lr": lr, "rho": rho, "momentum": 0.9}, wd)
    assert optimizer.param_groups[0]["weight_decay"] == 0.0
    cost = training.Cost()
    closure = training.Objective(model, optimizer, x, y, cost, l2_in_loss=wd / 2)
    loss = optimizer.step(closure)
    for p, value in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), value)
    penalty_at_w = wd / 2 * sum(wi.square().sum() for wi in w)
    torch.testing.assert_close(loss, loss_at_w + penalty_at_w)  # the objective at w
    torch.testing.assert_close(closure.first_loss, loss_at_w)  # the train loss: cross-entropy at w
    assert cost.grad_evals == 2 * 16  # two gradients of the batch a step


@pytest.mark.slow
def test_a_passive_openmp_wait_changes_no_number(root):
    """lenet_bench sets OMP_WAIT_POLICY=PASSIVE before torch loads; a run made with OpenMP's default (active)
    wait gives the same numbers, seconds aside."""
    import json
    import os
    import subprocess
    import sys

    script = ("import json, sys; sys.path.insert(0, 'tests'); import torch; from conftest import _synthetic_data; "
              "from lenet_bench.core import training; from test_training import config, without_seconds; "
              "torch.set_num_threads(2); _, record = training.train(config(momentum=0.9), _synthetic_data(), "
              "torch.device('cpu'), log=lambda _: None); print(json.dumps(without_seconds(record)))")
    records = []
    for policy in ("ACTIVE", "PASSIVE"):
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                              check=True)
        records.append(json.loads(done.stdout))
    assert records[0] == records[1]
