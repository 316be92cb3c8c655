import subprocess
import sys

import pytest
import torch
import yaml

from lenet_bench import params
from lenet_bench.params import ParamError


def test_repository_params_pass(project_params):
    params.check(project_params)


def test_run_config_merges_preset_scenario_and_train(project_params):
    config = params.run_config(project_params, "l2")
    assert config["optimizer"] == project_params["optimizer"]["name"]
    assert config["weight_decay"] == project_params["scenarios"]["l2"]["weight_decay"] > 0
    assert config["epochs"] == 10
    assert config["target_accuracy"] == project_params["train"]["target_accuracy"]  # checks run until it is reached


def test_evaluation_reads_and_checks_the_target():
    from lenet_bench.core import evaluation

    assert evaluation.target_accuracy("train: {target_accuracy: 0.8938}") == 0.8938
    with pytest.raises(ValueError, match=r"^train.target_accuracy: must be a fraction in \(0, 1\], got 89.38; e.g. 0.8938$"):
        evaluation.target_accuracy("train: {target_accuracy: 89.38}")


def switch_sparsity(params: dict, **settings) -> None:
    """Give the sparse scenario another method, with `settings` in place of the current method's own."""
    sparsity = params["scenarios"]["sparse"]["sparsity"]
    params["scenarios"]["sparse"]["sparsity"] = {k: sparsity[k] for k in ("density", "layers", "scope")} | settings


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["optimizer"].update(name="adamm"),
     r"^optimizer.name: unknown value 'adamm' \(did you mean 'adam'\?\); allowed: sgd, sgd_basic, gd, momentum, nesterov, sam, svrg, saga, "),
    (lambda p: p["optimizers"]["sgd"].update(algorithm="sgdd"),
     r"^optimizers.sgd.algorithm: unknown value 'sgdd' \(did you mean 'sgd'\?\); allowed: adagrad, adahessian, adam, .*, sgd, shampoo, sophia, svrg$"),
    (lambda p: p["optimizers"]["sgd"].update(lr=0),
     r"^optimizers.sgd.lr: must be > 0, got 0$"),
    (lambda p: p["study"]["ranking"].update(test="wilcoxon"),
     r"^study.ranking.test: unknown value 'wilcoxon'; allowed: paired_t, sign_flip$"),
    (lambda p: p["study"]["ranking"].update(cost="seconds"),
     r"^study.ranking.cost: unknown value 'seconds' \(did you mean 'target_seconds'\?\); allowed: target_seconds, "
     r"target_grad_evals$"),
    (lambda p: p["study"]["ranking"].update(tie_break="mean_loss"),
     r"^study.ranking.tie_break: unknown value 'mean_loss' \(did you mean 'mean_cost'\?\); allowed: "
     r"mean_test_accuracy, mean_cost$"),
    (lambda p: (p["study"]["ranking"].update(test="sign_flip"), p["study"].update(seeds=list(range(8)))),
     r"^study.ranking.test: a sign_flip over 8 seeds cannot go below p = 0.0078\d*, so no difference can pass Holm's "
     r"correction over \d+ comparisons \(alpha/\d+ = 0.00\d+\); use paired_t, or more seeds$"),
    (lambda p: p["study"]["futility"].update(seeds=[0, 11]),
     r"^study.futility.seeds: \[11\] not in study.seeds; the stop judges seeds every preset runs$"),
    (lambda p: p["study"]["futility"].update(max_gap=2), r"^study.futility.max_gap: must be >= 0 and <= 1, got 2$"),
    (lambda p: p["study"].update(seeds=[0, 0]), r"^study.seeds: lists a seed twice: \[0, 0\]$"),
    (lambda p: p["study"]["ablation"].update(seeds=[0, 12]),
     r"^study.ablation.seeds: \[12\] not in study.seeds; each variant is paired with the preset's own runs"),
    (lambda p: p["study"]["ablation"].update(lr_trials=0), r"^study.ablation.lr_trials: must be >= 1, got 0$"),
    (lambda p: p["study"]["ablation"].update(preset="kfca"),
     r"^study.ablation.preset: unknown value 'kfca' \(did you mean 'kfac'\?\)"),
    (lambda p: p["study"]["ablation"].update(scenario="l1"),
     r"^study.ablation.scenario: unknown value 'l1'; allowed: standard, l2, sparse$"),
    (lambda p: p["study"]["ablation"]["variants"].update(no_clip={"kl_clipp": 0}),
     r"^study.ablation.variants.no_clip.kl_clipp: preset kfac has no such setting, nor can it take one; settable: "),
    (lambda p: p["study"]["ablation"]["variants"].update({"No Clip": {"kl_clip": 0}}),
     r"^study.ablation.variants.No Clip: a variant name takes lower-case letters, digits and _ only$"),
    (lambda p: p["study"]["ablation"].update(variants={}),
     r"^study.ablation.variants: must map variant names to the settings each changes"),
    (lambda p: p["optimizers"]["sgd"].update(lr=float("nan")), r"^optimizers.sgd.lr: must be a finite number, got nan$"),
    (lambda p: p["optimizers"]["sgd"].update(lr=float("inf")), r"^optimizers.sgd.lr: must be a finite number, got inf$"),
    (lambda p: p["optimizers"]["sgd"].update(lr=-0.1),
     r"^optimizers.sgd.lr: must be > 0, got -0.1$"),
    (lambda p: p["optimizers"]["sgd"].update(lr="fast"),
     r"^optimizers.sgd.lr: must be a number, got 'fast'$"),
    (lambda p: p["optimizers"]["sgd"].update(batch_size=0),
     r"^optimizers.sgd.batch_size: must be >= 1 and <= 60000, got 0$"),
    (lambda p: p["optimizers"]["sgd"].update(batch_size=60001),
     r"^optimizers.sgd.batch_size: must be >= 1 and <= 60000, got 60001$"),
    (lambda p: p["optimizers"]["momentum"].update(momentun=0.9),
     r"^optimizers.momentum.momentun: unknown key \(did you mean 'momentum'\?\); allowed: family, algorithm, batch_size, lr, schedule, batch_growth, max_batch_size, averaging, search, momentum"),
    (lambda p: p["optimizers"]["saga"].update(batch_growth=1.5),
     r"^optimizers.saga.batch_growth: saga keeps a gradient per fixed mini-batch, so its batch cannot grow; "
     r"remove batch_growth$"),
    (lambda p: p["optimizers"]["growing_batch"].update(batch_growth=0.5),
     r"^optimizers.growing_batch.batch_growth: must be >= 1, got 0.5$"),
    (lambda p: p["optimizers"]["growing_batch"].update(max_batch_size=32),
     r"^optimizers.growing_batch.max_batch_size: must be >= 64, got 32$"),
    (lambda p: p["optimizers"]["momentum_ema"].update(averaging={"name": "emma", "decay": 0.9}),
     r"^optimizers.momentum_ema.averaging.name: unknown value 'emma' \(did you mean 'ema'\?\); allowed: ema, swa$"),
    (lambda p: p["optimizers"]["momentum_ema"].update(averaging={"name": "ema"}),
     r"^optimizers.momentum_ema.averaging.decay: missing; it is required$"),
    (lambda p: p["optimizers"]["momentum_ema"].update(averaging={"name": "ema", "decay": 1.5}),
     r"^optimizers.momentum_ema.averaging.decay: must be > 0 and <= 1, got 1.5$"),
    (lambda p: p["optimizers"]["momentum_ema"].update(averaging={"name": "swa", "start_epoch": 12}),
     r"^optimizers.momentum_ema.averaging.start_epoch: must be >= 0 and <= 10, got 12$"),
    (lambda p: p["optimizers"]["momentum"]["schedule"].update(name="cosin"),
     r"^optimizers.momentum.schedule.name: unknown value 'cosin' \(did you mean 'cosine'\?\)"),
    (lambda p: p["optimizers"]["nesterov"]["schedule"].update(warmup=0.1),
     r"^optimizers.nesterov.schedule.warmup: unknown key; allowed: name, warmup_fraction"),
    (lambda p: p["train"].update(device="tpu"),
     r"^train.device: unknown value 'tpu' \(did you mean 'cpu'\?\); allowed: auto, cpu, cuda, mps$"),
    (lambda p: p["train"].update(epoch=3),
     r"^train.epoch: unknown key \(did you mean 'epochs'\?\)"),
    (lambda p: p["scenarios"]["l2"].update(wieght_decay=0.1),
     r"^scenarios.l2.wieght_decay: unknown key \(did you mean 'weight_decay'\?\); allowed: description, weight_decay, sparsity$"),
    (lambda p: p["scenarios"]["l2"].update(weight_decay=-1),
     r"^scenarios.l2.weight_decay: must be >= 0, got -1$"),
    (lambda p: p["scenarios"]["sparse"]["sparsity"].update(method="magnitude"),
     r"^scenarios.sparse.sparsity.method: unknown value 'magnitude'; allowed: prune_finetune, gradual, "),
    (lambda p: p["scenarios"]["sparse"]["sparsity"].update(density=1.5),
     r"^scenarios.sparse.sparsity.density: must be > 0 and <= 1, got 1.5$"),
    (lambda p: p["scenarios"]["sparse"]["sparsity"].update(layers=["fc3"]),
     r"^scenarios.sparse.sparsity.layers: must be a non-empty list of fc1, fc2, got \['fc3'\]$"),
    (lambda p: p["scenarios"]["sparse"]["sparsity"].update(scope="layer"),
     r"^scenarios.sparse.sparsity.scope: unknown value 'layer' \(did you mean 'per_layer'\?\); allowed: global, per_layer$"),
    (lambda p: switch_sparsity(p, method="gradual", end_epoch=11),
     r"^scenarios.sparse.sparsity.end_epoch: must be >= 0 and <= 10, got 11$"),
    (lambda p: switch_sparsity(p, method="gradual", end_epochs=5),
     r"^scenarios.sparse.sparsity.end_epochs: unknown key \(did you mean 'end_epoch'\?\)"),
])
def test_bad_input_gets_a_one_line_error_naming_the_key(project_params, edit, message):
    edit(project_params)
    with pytest.raises(ParamError, match=message) as error:
        params.check(project_params)
    assert "\n" not in str(error.value)


def test_unknown_scenario(project_params):
    with pytest.raises(ParamError, match=r"^scenario: unknown value 'sparse2' \(did you mean 'sparse'\?\); allowed: standard, l2, sparse$"):
        params.run_config(project_params, "sparse2")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_where_there_is_none(project_params):
    project_params["train"]["device"] = "cuda"
    with pytest.raises(ParamError, match=r"^train.device: 'cuda' was asked for but this machine has none"):
        params.check(project_params)


def test_auto_device_resolves_to_an_available_one():
    from lenet_bench import device

    assert device.resolve("auto").type in {"cuda", "mps", "cpu"}


def run_stage(root, cwd, *args):
    return subprocess.run([sys.executable, str(root / "stages" / args[0]), *args[1:]], cwd=cwd,
                          capture_output=True, text=True)


def test_configure_stage_fails_cleanly_and_keeps_earlier_outputs(root, tmp_path, project_params):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params))
    assert run_stage(root, tmp_path, "configure.py").returncode == 0
    before = {p.name: p.read_text() for p in (tmp_path / "configs").iterdir()}
    assert set(before) == {"standard.json", "l2.json", "sparse.json"}

    project_params["optimizers"]["nesterov"]["lr"] = -1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params))
    result = run_stage(root, tmp_path, "configure.py")
    assert result.returncode != 0
    assert result.stderr.strip() == "error: params.yaml: optimizers.nesterov.lr: must be > 0, got -1"
    assert {p.name: p.read_text() for p in (tmp_path / "configs").iterdir()} == before


def test_train_stage_rejects_an_unknown_scenario(root, tmp_path):
    result = run_stage(root, tmp_path, "train.py", "nosuch")
    assert result.returncode != 0
    assert result.stderr.strip().startswith("error: scenario 'nosuch': configs/nosuch.json is missing")


def test_numbers_in_exponent_notation_are_numbers(tmp_path):
    # DVC writes `-S optimizers.lion.lr=0.00003` as 3e-05, which YAML 1.1 (PyYAML) reads as a string.
    path = tmp_path / "params.yaml"
    path.write_text("a: 3e-05\nb: 1E+3\nc: 2.5e-4\nd: fast\ne: 1e5x\nf: 7\n")
    assert params.load(path) == {"a": 3e-05, "b": 1000.0, "c": 2.5e-4, "d": "fast", "e": "1e5x", "f": 7}
