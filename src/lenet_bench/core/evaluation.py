"""Test loss and accuracy of a model, nonzero counts of its weights, time to reach a target."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import yaml

from lenet_bench.problem import SPARSE_LAYERS


def target_accuracy(params_text: str) -> float:
    """train.target_accuracy from params.yaml's text, checked (the configure stage does not see it)."""
    target = (yaml.safe_load(params_text) or {}).get("train", {}).get("target_accuracy")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise ValueError(f"train.target_accuracy: must be a fraction in (0, 1], got {target!r}; e.g. 0.8938")
    return float(target)


def gradient_chunk(device: torch.device) -> int:
    """Samples per forward (and backward) when a batch is evaluated in parts: on the CPU, chunks of
    1024 take half the time of one 60,000-sample pass (benchmarks/full_gradient.py), and a third of the
    time of one 10,000-sample forward."""
    return 1024 if device.type == "cpu" else 16384


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch_size: int | None = None) -> tuple[float, float]:
    """Mean cross-entropy per sample and accuracy (a fraction), with one host sync; in chunks (gradient_chunk)."""
    batch_size = batch_size or gradient_chunk(x.device)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(dim=1) == yb).sum()
    model.train(was_training)
    return loss_sum.item() / len(y), correct.item() / len(y)


class BoundError(ValueError):
    """A saved model has more nonzero weights than its scenario allows."""


def nonzero_counts(state_dict: dict[str, torch.Tensor]) -> dict[str, float]:
    """Nonzero weights of fc1 and fc2, each and together, with densities, counted from the saved
    tensors (independently of the code that sparsified them)."""
    counts = {}
    for layer in SPARSE_LAYERS:
        weight = state_dict[f"{layer}.weight"]
        counts[layer] = int(weight.count_nonzero())
        counts[f"{layer}_density"] = counts[layer] / weight.numel()
        counts[f"{layer}_units"] = int(weight.any(dim=1).sum())  # units with any nonzero input weight
    total = sum(state_dict[f"{layer}.weight"].numel() for layer in SPARSE_LAYERS)
    counts["fc1_fc2"] = sum(counts[layer] for layer in SPARSE_LAYERS)
    counts["fc1_fc2_density"] = counts["fc1_fc2"] / total
    return counts


def within_bound(state_dict: dict[str, torch.Tensor], sparsity: dict) -> bool:
    """Whether the weights meet the scenario's bound on nonzeros (a dense model, early in a run, may not)."""
    try:
        check_bound(state_dict, sparsity)
    except BoundError:
        return False
    return True


def check_bound(state_dict: dict[str, torch.Tensor], sparsity: dict) -> None:
    """Raise BoundError unless the saved weights meet the scenario's bound on nonzeros."""
    layers = sparsity["layers"]
    sizes = {layer: state_dict[f"{layer}.weight"].numel() for layer in layers}
    nonzero = {layer: int(state_dict[f"{layer}.weight"].count_nonzero()) for layer in layers}
    groups = {"+".join(layers): layers} if sparsity["scope"] == "global" else {layer: [layer] for layer in layers}
    for name, group in groups.items():
        allowed = math.floor(sparsity["density"] * sum(sizes[layer] for layer in group))
        found = sum(nonzero[layer] for layer in group)
        if found > allowed:
            raise BoundError(f"{name} has {found} nonzero weights; the bound (density {sparsity['density']}, "
                             f"{sparsity['scope']}) allows {allowed}")


def first_reaching(checks: list[dict], target: float) -> dict:
    """Epoch (a fraction of one where the test set was checked within epochs), gradient evaluations and
    seconds at which test accuracy first reached `target`, at a check where the weights met the scenario's
    bound on nonzeros (`within_bound`; a dense model's accuracy does not count in a sparse scenario)."""
    for row in checks:
        if row["test_accuracy"] >= target and row.get("within_bound", True):
            return {"epoch": row["epoch"], "grad_evals": row["grad_evals"], "seconds": row["seconds"]}
    return {"epoch": None, "grad_evals": None, "seconds": None}
