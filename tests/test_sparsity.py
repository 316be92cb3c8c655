import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from test_model import BriefLeNet5
from test_training import config

from lenet_bench import atomic_files
from lenet_bench.core import evaluation, training
from lenet_bench.core.model import LeNet5
from lenet_bench.core.schedules import step_clock
from lenet_bench.core.sparsity import Sparsifier, top_k_masks
from lenet_bench.registry import SPARSITY_METHODS as METHODS

CPU = torch.device("cpu")
SHORT = {  # method settings scaled to a 3-epoch run of 8 steps per epoch
    "prune_finetune": {"prune_epoch": 1},
    "gradual": {"start_epoch": 0, "end_epoch": 2, "prune_every": 2},
    "projected": {},
    "rigl": {"update_every": 2, "end_epoch": 2},
    "l1_prox": {"project_epoch": 2},
    "neurons": {"start_epoch": 0, "end_epoch": 2, "prune_every": 2},
}


def sparse_config(method, density=0.6, scope="global", **extra):
    return dict(config(momentum=0.9), epochs=3,
                sparsity={"density": density, "layers": ["fc1", "fc2"], "scope": scope, "method": method,
                          **SHORT[method], **extra})


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("scope", ["global", "per_layer"])
def test_each_method_meets_its_bound_exactly(synthetic_data, method, scope):
    model, _ = training.train(sparse_config(method, density=0.3, scope=scope), synthetic_data(), CPU,
                              log=lambda _: None)
    state = model.state_dict()
    counts = evaluation.nonzero_counts(state)
    if scope == "global":
        assert counts["fc1_fc2"] <= int(0.3 * 40_800)
        if method != "neurons":  # whole units cannot use the budget to the last weight
            assert counts["fc1_fc2"] >= int(0.3 * 40_800) - 5  # the budget is used, not wasted
    else:
        assert counts["fc1"] <= int(0.3 * 30_720) and counts["fc2"] <= int(0.3 * 10_080)
    evaluation.check_bound(state, {"layers": ["fc1", "fc2"], "density": 0.3, "scope": scope})


def test_top_k_masks_keep_exactly_the_allowed_number_even_with_ties():
    scores = {"fc1": torch.ones(10, 10), "fc2": torch.zeros(5, 10)}
    masks = top_k_masks(scores, 0.6, "global")
    assert int(masks["fc1"].sum() + masks["fc2"].sum()) == 90
    assert int(masks["fc2"].sum()) == 0  # the largest scores win, across layers
    per_layer = top_k_masks(scores, 0.6, "per_layer")
    assert int(per_layer["fc1"].sum()) == 60 and int(per_layer["fc2"].sum()) == 30


def test_saved_sparse_model_holds_real_zeros_and_loads_strictly_into_the_brief_class(synthetic_data, tmp_path):
    model, _ = training.train(sparse_config("gradual"), synthetic_data(), CPU, log=lambda _: None)
    atomic_files.save_torch(tmp_path / "model.pt", model.state_dict())
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(state) == set(LeNet5().state_dict())  # no weight_orig / weight_mask
    assert int((state["fc1.weight"] == 0).sum() + (state["fc2.weight"] == 0).sum()) >= 40_800 - 24_480
    BriefLeNet5().load_state_dict(state, strict=True)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=1e-3),
], ids=["sgd-momentum", "adam"])
def test_pruned_weights_do_not_regrow_through_optimizer_state(synthetic_data, make_optimizer):
    torch.manual_seed(0)
    data = synthetic_data()
    model = LeNet5()
    optimizer = make_optimizer(model.parameters())
    sparsifier = Sparsifier(model, optimizer, {"density": 0.5, "layers": ["fc1", "fc2"], "scope": "global",
                                               "method": "prune_finetune", "prune_epoch": 1},
                            step_clock([4, 4, 4]))
    for step in range(1, 13):
        batch = slice((step % 4) * 64, (step % 4) * 64 + 64)

        def closure(batch=batch):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data["train_x"][batch]), data["train_y"][batch])
            loss.backward()
            return loss
        optimizer.step(closure)
        sparsifier.after_step(step)
        if step >= 4:  # pruned at the end of epoch 1
            for layer in ("fc1", "fc2"):
                weight, mask = getattr(model, layer).weight, sparsifier.masks[f"{layer}.weight"]
                assert bool((weight[~mask] == 0).all())
                for value in optimizer.state[weight].values():
                    if torch.is_tensor(value) and value.shape == weight.shape:
                        assert bool((value[~mask] == 0).all())
    assert not bool(model.fc1.weight[~sparsifier.masks["fc1.weight"]].any())


def test_rigl_moves_connections_but_keeps_their_number(synthetic_data):
    model, _ = training.train(sparse_config("rigl", drop_fraction=0.5), synthetic_data(), CPU, log=lambda _: None)
    torch.manual_seed(3)  # the seed of config(): RigL's first random mask
    start = top_k_masks({k: torch.rand_like(getattr(LeNet5(), k).weight) for k in ("fc1", "fc2")}, 0.6, "global")
    final = {k: getattr(model, k).weight != 0 for k in ("fc1", "fc2")}
    assert any(not torch.equal(start[k], final[k]) for k in final)


def test_evaluate_stage_rejects_a_model_that_breaks_the_bound(root, tmp_path):
    (tmp_path / "configs").mkdir()
    atomic_files.write_json(tmp_path / "configs" / "sparse.json",
                     dict(config(), validation_size=0,
                          sparsity={"density": 0.6, "layers": ["fc1", "fc2"], "scope": "global", "method": "gradual"}))
    atomic_files.save_torch(tmp_path / "models" / "sparse.pt", LeNet5().state_dict())  # dense
    atomic_files.write_json(tmp_path / "records" / "sparse.json", {})
    result = subprocess.run([sys.executable, str(root / "stages" / "evaluate.py"), "sparse"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip() == ("error: models/sparse.pt breaks the sparsity bound: fc1+fc2 has 40800 "
                                     "nonzero weights; the bound (density 0.6, global) allows 24480")
    assert not (tmp_path / "metrics").exists()


def test_neurons_removes_whole_units_and_what_reads_them(synthetic_data):
    model, _ = training.train(sparse_config("neurons", density=0.5), synthetic_data(), CPU, log=lambda _: None)
    state = model.state_dict()
    fc1_alive = state["fc1.weight"].abs().sum(dim=1) != 0
    fc2_alive = state["fc2.weight"].abs().sum(dim=1) != 0
    assert int(fc1_alive.sum()) == 60 and int(fc2_alive.sum()) == 42
    assert not state["fc1.bias"][~fc1_alive].any() and not state["fc2.bias"][~fc2_alive].any()
    assert not state["fc2.weight"][:, ~fc1_alive].any() and not state["fc3.weight"][:, ~fc2_alive].any()
    counts = evaluation.nonzero_counts(state)
    assert counts["fc1_units"] == 60 and counts["fc2_units"] == 42
    assert counts["fc1"] <= 60 * 256 and counts["fc2"] <= 42 * 60


@pytest.mark.parametrize("method", ["gradual", "neurons", "rigl"])
def test_the_bound_holds_when_the_schedule_outlasts_the_budget(synthetic_data, method):
    run = sparse_config(method)
    run["sparsity"].update(end_epoch=10)  # the run has 3 epochs
    model, _ = training.train(run, synthetic_data(), CPU, log=lambda _: None)
    evaluation.check_bound(model.state_dict(), run["sparsity"])
