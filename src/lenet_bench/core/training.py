"""One training loop for every optimizer: closure-based steps, data held on the device, cost counted."""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass
from importlib import metadata

import torch
import torch.nn.functional as F
from torch.optim import swa_utils
from tqdm import tqdm

from lenet_bench.core.evaluation import evaluate, gradient_chunk, within_bound
from lenet_bench.core.model import LeNet5
from lenet_bench.core.optimizers import build_optimizer, set_mode
from lenet_bench.core.schedules import batch_sizes, build_scheduler, epoch_steps, step_clock
from lenet_bench.core.sparsity import Sparsifier
from lenet_bench.registry import ALGORITHMS, l2_mode

DIVERGENCE_CHECK_EVERY = 50  # steps between host syncs that look for a NaN/inf loss


@dataclass
class Cost:
    grad_evals: int = 0  # one per sample per backward pass; a Hessian- or Gauss-Newton-vector product counts two
    steps: int = 0       # optimizer steps
    seconds: float = 0.0  # wall time spent training, per-epoch test evaluation excluded


def l2_penalty(model, coefficient: float) -> torch.Tensor:
    """coefficient * ||w||^2 over all parameters, for optimizers without a weight_decay."""
    return coefficient * sum(p.square().sum() for p in model.parameters())


class Objective:
    """The closure every optimizer step calls: the mini-batch objective at the current weights,
    cross-entropy (+ wd/2 ||w||^2 when the optimizer has no weight_decay), its gradient left in
    p.grad. It describes its batch for the optimizers that need more than a gradient: the model
    and inputs (Gauss-Newton products), the batch's place in a fixed partition (SAGA), the sparse
    scenario's masks (parameter name -> mask of the weights allowed to be nonzero), and it
    counts the extra cost they report. The first call's cross-entropy is kept for the train loss.
    A batch larger than `chunk` is evaluated chunk by chunk, the gradients summed: the same
    objective and gradient, without activations that outgrow the CPU's caches."""

    def __init__(self, model, optimizer, x, y, cost: Cost, l2_in_loss: float = 0.0, create_graph: bool = False,
                 batch_index: int = 0, batch_count: int = 1, chunk: int | None = None,
                 masks: dict[str, torch.Tensor] | None = None):
        self.model, self.optimizer, self.x, self.y, self.cost = model, optimizer, x, y, cost
        self.l2_in_loss, self.create_graph = l2_in_loss, create_graph
        self.batch_index, self.batch_count, self.masks = batch_index, batch_count, masks or {}
        self.chunk = chunk or gradient_chunk(x.device)
        self.first_loss: torch.Tensor | None = None

    def __call__(self) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        if len(self.y) <= self.chunk:
            cross_entropy = self._backward(F.cross_entropy(self.model(self.x), self.y))
        else:
            cross_entropy = 0.0
            for xs, ys in zip(self.x.split(self.chunk), self.y.split(self.chunk)):
                cross_entropy = cross_entropy + self._backward(
                    F.cross_entropy(self.model(xs), ys) * (len(ys) / len(self.y)))
        loss = cross_entropy
        if self.l2_in_loss:
            loss = cross_entropy + self._backward(l2_penalty(self.model, self.l2_in_loss))
        self.cost.grad_evals += len(self.y)
        if self.first_loss is None:
            self.first_loss = cross_entropy
        return loss

    def _backward(self, value: torch.Tensor) -> torch.Tensor:
        """Accumulate value's gradient in p.grad (keeping the graph if the optimizer differentiates
        p.grad); return value, detached."""
        if not self.create_graph:
            value.backward()  # the plain path: at one sample a step, every microsecond shows
            return value.detach()
        with warnings.catch_warnings():
            # torch warns of the reference cycle create_graph makes between a parameter and its
            # gradient; zero_grad(set_to_none=True) at the next call breaks it.
            warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
            value.backward(create_graph=True)
        return value.detach()

    def count_backward(self, samples: int) -> None:
        """Count one more backward pass, on `samples` samples (K-FAC's curvature pass)."""
        self.cost.grad_evals += samples

    def count_products(self, products: int, samples: int | None = None) -> None:
        """Count Hessian- or Gauss-Newton-vector products on `samples` of the batch (default all)."""
        self.cost.grad_evals += 2 * products * (len(self.y) if samples is None else samples)


def library_versions() -> dict[str, str]:
    """The versions of the libraries a run's numbers depend on, recorded with it."""
    return {name: metadata.version(name) for name in ("torch", "pytorch-optimizer", "schedulefree")}


def build_averaging(model, settings: dict | None, steps_at):
    """An averaged copy of the model (torch.optim.swa_utils) and the step from which it averages."""
    if not settings:
        return None, None
    if settings["name"] == "ema":
        averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(settings["decay"]))
        return averaged, 1
    return swa_utils.AveragedModel(model), max(1, steps_at(settings["start_epoch"]))  # swa: an equal average


def reached(checks: list[dict], target: float) -> bool:
    """Whether a check has reached `target` with the weights under the scenario's bound: the time to it is known."""
    return any(c["test_accuracy"] >= target and c.get("within_bound", True) for c in checks)


def check_positions(steps: int, checks_per_epoch: int) -> list[int]:
    """After which steps of an epoch of `steps` steps the test set is checked within the epoch: at each
    1/checks_per_epoch of it, the epoch's end left to the epoch's own evaluation (an epoch of one step,
    full-batch GD's, has no point within it)."""
    return sorted({round(k * steps / checks_per_epoch) for k in range(1, checks_per_epoch)} - {0, steps})


def train(config: dict, data: dict[str, torch.Tensor], device: torch.device, log=print, after_epoch=None):
    """Train LeNet-5 as `config` says; return the model (the averaged one, if the preset averages)
    and the run's record (history, target checks and cost). Each epoch is judged on the test set and on
    the validation set, where `data` has them; `after_epoch(row)` sees each epoch's history row (a tuning's
    pruner stops a trial from there by raising). Where `data` has a test set, it is also checked
    `checks_per_epoch` times an epoch until `target_accuracy` is reached (its time not charged to the run,
    as in AlgoPerf), so that the time to the target is found at that finer grain; in a sparse scenario
    each check records whether the judged weights already meet the bound."""
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    torch.manual_seed(config["seed"])
    model = LeNet5().to(device)
    preset, weight_decay, epochs = config["preset"], config["weight_decay"], config["epochs"]
    optimizer = build_optimizer(model, preset, weight_decay)
    mode = l2_mode(preset["algorithm"], weight_decay)
    x, y = data["train_x"], data["train_y"]
    sizes = batch_sizes(preset, epochs, len(y))
    steps_at = step_clock(epoch_steps(sizes, len(y)))
    scheduler = build_scheduler(optimizer, preset["schedule"], steps_at, epochs)
    sparsifier = Sparsifier(model, optimizer, config["sparsity"], steps_at) if config.get("sparsity") else None
    averaged, average_from = build_averaging(model, preset.get("averaging"), steps_at)
    shuffle = torch.Generator(device=device).manual_seed(config["seed"])
    algorithm = ALGORITHMS[preset["algorithm"]]
    # Optimizers with state per mini-batch (SAGA) need the same partition every epoch.
    partition = (torch.randperm(len(y), generator=shuffle, device=device).split(sizes[0])
                 if algorithm.fixed_batches else None)
    cost, history, checks, diverged_at, loads = Cost(), [], [], None, []
    checks_per_epoch = config.get("checks_per_epoch", 1) if "test_x" in data else 1
    target = config.get("target_accuracy", 0.0)  # checks within epochs stop once it is reached under the bound

    def judged_model():
        """The weights the optimizer vouches for (set_mode 'eval' first): the average, where there is one."""
        if averaged is None or cost.steps < average_from:
            return model
        if sparsifier is not None:
            sparsifier.mask(averaged.module)
        return averaged.module

    def check(epoch: float, seconds: float, judged, measured: tuple[float, float] | None = None) -> None:
        """Record a target check: the judged model's test loss and accuracy (`measured`, where known)."""
        loss, accuracy = measured or evaluate(judged, data["test_x"], data["test_y"])
        row = {"epoch": round(epoch, 4), "grad_evals": cost.grad_evals, "seconds": seconds,
               "test_loss": loss, "test_accuracy": accuracy}
        if config.get("sparsity"):
            row["within_bound"] = within_bound(judged.state_dict(), config["sparsity"])
        checks.append(row)

    l2_in_loss = weight_decay / 2 if mode == "loss" else 0.0
    if hasattr(optimizer, "use_full_gradient"):
        # SVRG corrects its steps with the gradient of the whole training objective, each sample counted.
        optimizer.use_full_gradient(Objective(model, optimizer, x, y, cost, l2_in_loss), steps_at(1))

    for epoch in range(1, epochs + 1):
        model.train()
        set_mode(optimizer, "train")
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        if partition is None:
            batches = torch.randperm(len(y), generator=shuffle, device=device).split(sizes[epoch - 1])
            order = range(len(batches))
        else:
            batches, order = partition, torch.randperm(len(partition), generator=shuffle, device=device).tolist()
        positions, paused = set(check_positions(len(order), checks_per_epoch)), 0.0
        for position, index in enumerate(tqdm(order, desc=f"epoch {epoch}/{epochs}", unit="step", leave=False,
                          disable=None, mininterval=0.5), start=1):
            batch = batches[index]
            closure = Objective(model, optimizer, x[batch], y[batch], cost, l2_in_loss, algorithm.create_graph,
                                index, len(batches), masks=sparsifier.masks if sparsifier else None)
            optimizer.step(closure)
            scheduler.step()
            cost.steps += 1
            if sparsifier is not None:
                sparsifier.after_step(cost.steps)
            if averaged is not None and cost.steps >= average_from:
                averaged.update_parameters(model)
            loss_sum += closure.first_loss * len(batch)
            if cost.steps % DIVERGENCE_CHECK_EVERY == 0 and not torch.isfinite(loss_sum):
                diverged_at = cost.steps
                break
            if position in positions and not reached(checks, target):
                paused_at = time.perf_counter()
                set_mode(optimizer, "eval")
                check(epoch - 1 + position / len(order), cost.seconds + paused_at - started - paused, judged_model())
                set_mode(optimizer, "train")
                model.train()
                paused += time.perf_counter() - paused_at
        train_loss = loss_sum.item() / len(y)  # the epoch's one host sync (also waits for the GPU)
        if diverged_at is None and not math.isfinite(train_loss):
            diverged_at = cost.steps
        if sparsifier is not None and (epoch == epochs or diverged_at is not None):
            sparsifier.finish()  # the bound holds exactly on the model that is evaluated and saved
        cost.seconds += time.perf_counter() - started - paused
        loads.append(os.getloadavg()[0])  # what shared the machine: seconds compare only at a known load
        set_mode(optimizer, "eval")  # evaluate, and finally save, the weights the optimizer vouches for
        judged = judged_model()
        row = {"epoch": epoch, "train_loss": train_loss}
        for split in ("test", "validation"):
            if f"{split}_x" in data:
                loss, accuracy = evaluate(judged, data[f"{split}_x"], data[f"{split}_y"])
                row[f"{split}_loss"], row[f"{split}_accuracy"] = loss, accuracy
        history.append({**row, **asdict(cost), "lr": optimizer.param_groups[0]["lr"]})
        if "test_x" in data:
            check(epoch, cost.seconds, judged, (row["test_loss"], row["test_accuracy"]))
        judged_on = "test" if "test_x" in data else "validation"
        log(f"epoch {epoch:>3}/{epochs}  train loss {train_loss:.4f}  {judged_on} loss {row[f'{judged_on}_loss']:.4f}  "
            f"{judged_on} acc {100 * row[f'{judged_on}_accuracy']:.2f}%  {history[-1]['seconds']:.1f} s")
        if after_epoch is not None:
            after_epoch(history[-1])
        if diverged_at is not None:
            log(f"diverged: non-finite loss by step {diverged_at}; stopping")
            break

    record = {
        "scenario": config["scenario"], "optimizer": config["optimizer"],
        "algorithm": preset["algorithm"], "weight_decay": weight_decay, "l2_mode": mode,
        "averaging": (preset.get("averaging") or {}).get("name", "none"),
        "device": str(device), "threads": torch.get_num_threads(), "versions": library_versions(),
        "cpus": os.cpu_count(), "load_average": round(sum(loads) / len(loads), 2),
        "diverged": diverged_at is not None, "diverged_at_step": diverged_at,
        "cost": {"epochs": len(history), **asdict(cost)}, "history": history, "checks": checks,
    }
    return judged, record
