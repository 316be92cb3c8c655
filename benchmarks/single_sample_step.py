"""Time one-sample steps (the sgd_basic preset) through the training loop against a bare torch loop.

At one sample a step, LeNet-5's arithmetic is small and the per-step work around it shows: the
loop's closure object, the scheduler step, the loss kept for the epoch. Both ways take SGD steps on
the same training images with the same model; they alternate in blocks of `--steps`, `--repeats`
times each, and the medians are compared. Prints the per-step times and their ratio.

    python benchmarks/single_sample_step.py [--steps 500] [--repeats 9] [--output benchmarks/single_sample_step.json]
"""
import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lenet_bench import atomic_files
from lenet_bench.core import data, training
from lenet_bench.core.model import LeNet5
from lenet_bench.core.schedules import build_scheduler, step_clock


def loop_steps(model, optimizer, scheduler, x, y, order) -> float:
    """Seconds per step of the training loop's own step: closure, optimizer and scheduler."""
    started, loss_sum, cost = time.perf_counter(), torch.zeros(()), training.Cost()
    for batch in order:
        closure = training.Objective(model, optimizer, x[batch], y[batch], cost)
        optimizer.step(closure)
        scheduler.step()
        loss_sum += closure.first_loss * len(batch)
    return (time.perf_counter() - started) / len(order)


def bare_steps(model, optimizer, x, y, order) -> float:
    """Seconds per step of the textbook loop: zero_grad, loss, backward, step."""
    started = time.perf_counter()
    for batch in order:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return (time.perf_counter() - started) / len(order)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/fashion_mnist.pt", help="stored data set (dvc repro prepare_data)")
    parser.add_argument("--steps", type=int, default=500, help="steps in each timed block")
    parser.add_argument("--repeats", type=int, default=9, help="blocks each way, alternating")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the study runs with 1)")
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = data.load(Path(args.data))
    x, y = dataset["train_x"], dataset["train_y"]
    torch.manual_seed(0)
    order = torch.randperm(len(y))[: args.steps].split(1)
    model = LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005)  # sgd_basic's algorithm and rate
    scheduler = build_scheduler(optimizer, {"name": "cosine"}, step_clock([len(y)]), 1)
    load_before = os.getloadavg()[0]  # other work on the machine slows both ways alike
    loop_steps(model, optimizer, scheduler, x, y, order)  # warm-up
    ours, bare = [], []
    for _ in range(args.repeats):
        ours.append(loop_steps(model, optimizer, scheduler, x, y, order))
        bare.append(bare_steps(model, optimizer, x, y, order))
    result = {
        "steps": args.steps, "repeats": args.repeats,
        "loop_ms_per_step": 1e3 * statistics.median(ours), "bare_ms_per_step": 1e3 * statistics.median(bare),
        "overhead": statistics.median(ours) / statistics.median(bare),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})", "load_average_before": round(load_before, 2),
    }
    print(f"training loop: {result['loop_ms_per_step']:.3f} ms a step (median of {args.repeats} x {args.steps})")
    print(f"bare loop:     {result['bare_ms_per_step']:.3f} ms a step")
    print(f"ratio: {result['overhead']:.2f}x; one sgd_basic epoch of {len(y):,} steps: "
          f"{len(y) * result['loop_ms_per_step'] / 1e3:.0f} s")
    if args.output:
        atomic_files.write_json(args.output, result)


if __name__ == "__main__":
    main()
