"""One training loop for every optimizer: closure-based steps, data held on the device, cost counted."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .evaluation import evaluate
from .model import LeNet5
from .optimizers import build_optimizer, l2_mode, set_mode
from .schedules import build_scheduler
from .sparsity import Sparsifier

DIVERGENCE_CHECK_EVERY = 50  # steps between host syncs that look for a NaN/inf loss


@dataclass
class Cost:
    grad_evals: int = 0  # one per sample per backward pass
    steps: int = 0       # optimizer steps
    seconds: float = 0.0  # wall time spent training, per-epoch test evaluation excluded


def l2_penalty(model, coefficient: float) -> torch.Tensor:
    """coefficient * ||w||^2 over all parameters, for optimizers without a weight_decay."""
    return coefficient * sum(p.square().sum() for p in model.parameters())


def make_closure(model, optimizer, x, y, cost: Cost, l2_in_loss: float, record: list):
    """The objective at the current weights: cross-entropy (+ wd/2 ||w||^2 when the optimizer has no
    weight_decay). The first call's cross-entropy is kept in `record` for the train-loss log."""
    def closure():
        optimizer.zero_grad(set_to_none=True)
        cross_entropy = F.cross_entropy(model(x), y)
        loss = cross_entropy
        if l2_in_loss:
            loss = loss + l2_penalty(model, l2_in_loss)
        loss.backward()
        cost.grad_evals += len(y)
        if not record:
            record.append(cross_entropy.detach())
        return loss
    return closure


def make_full_gradient(model, optimizer, x, y, cost: Cost, l2_in_loss: float, chunk: int = 10_000):
    """Leave the gradient of the whole training objective in p.grad, for the noise-reduction
    methods (SVRG) that correct their steps with it; each sample counts as one gradient evaluation."""
    def full_gradient():
        optimizer.zero_grad(set_to_none=True)
        for xs, ys in zip(x.split(chunk), y.split(chunk)):
            F.cross_entropy(model(xs), ys, reduction="sum").div(len(y)).backward()
        if l2_in_loss:
            l2_penalty(model, l2_in_loss).backward()
        cost.grad_evals += len(y)
    return full_gradient


def train(config: dict, data: dict[str, torch.Tensor], device: torch.device, log=print):
    """Train LeNet-5 as `config` says; return the model and the run's record (history and cost)."""
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    torch.manual_seed(config["seed"])
    model = LeNet5().to(device)
    preset, weight_decay, epochs = config["preset"], config["weight_decay"], config["epochs"]
    optimizer = build_optimizer(model.parameters(), preset, weight_decay)
    mode = l2_mode(preset["algorithm"], weight_decay)
    x, y = data["train_x"], data["train_y"]
    batch_size = preset["batch_size"]
    steps_per_epoch = math.ceil(len(y) / batch_size)
    scheduler = build_scheduler(optimizer, preset["schedule"], steps_per_epoch, epochs)
    sparsifier = (Sparsifier(model, optimizer, config["sparsity"], steps_per_epoch, epochs)
                  if config.get("sparsity") else None)
    shuffle = torch.Generator(device=device).manual_seed(config["seed"])
    cost, history, diverged_at = Cost(), [], None
    l2_in_loss = weight_decay / 2 if mode == "loss" else 0.0
    if hasattr(optimizer, "use_full_gradient"):
        optimizer.use_full_gradient(make_full_gradient(model, optimizer, x, y, cost, l2_in_loss), steps_per_epoch)

    for epoch in range(1, epochs + 1):
        model.train()
        set_mode(optimizer, "train")
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        batches = torch.randperm(len(y), generator=shuffle, device=device).split(batch_size)
        for batch in tqdm(batches, desc=f"epoch {epoch}/{epochs}", unit="step", leave=False,
                          disable=None, mininterval=0.5):
            first_loss = []
            closure = make_closure(model, optimizer, x[batch], y[batch], cost, l2_in_loss, first_loss)
            optimizer.step(closure)
            scheduler.step()
            cost.steps += 1
            if sparsifier is not None:
                sparsifier.after_step(cost.steps)
            loss_sum += first_loss[0] * len(batch)
            if cost.steps % DIVERGENCE_CHECK_EVERY == 0 and not torch.isfinite(loss_sum):
                diverged_at = cost.steps
                break
        train_loss = loss_sum.item() / len(y)  # the epoch's one host sync (also waits for the GPU)
        if diverged_at is None and not math.isfinite(train_loss):
            diverged_at = cost.steps
        if sparsifier is not None and (epoch == epochs or diverged_at is not None):
            sparsifier.finish()  # the bound holds exactly on the model that is evaluated and saved
        cost.seconds += time.perf_counter() - started
        set_mode(optimizer, "eval")  # evaluate, and finally save, the weights the optimizer vouches for
        test_loss, test_accuracy = evaluate(model, data["test_x"], data["test_y"])
        history.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                        "test_accuracy": test_accuracy, **asdict(cost),
                        "lr": optimizer.param_groups[0]["lr"]})
        if "validation_x" in data:
            history[-1]["validation_loss"], history[-1]["validation_accuracy"] = evaluate(
                model, data["validation_x"], data["validation_y"])
        log(f"epoch {epoch:>3}/{epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
            f"test acc {100 * test_accuracy:.2f}%  {history[-1]['seconds']:.1f} s")
        if diverged_at is not None:
            log(f"diverged: non-finite loss by step {diverged_at}; stopping")
            break

    record = {
        "scenario": config["scenario"], "optimizer": config["optimizer"],
        "algorithm": preset["algorithm"], "weight_decay": weight_decay, "l2_mode": mode,
        "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "diverged": diverged_at is not None, "diverged_at_step": diverged_at,
        "cost": {"epochs": len(history), **asdict(cost)}, "history": history,
    }
    return model, record
