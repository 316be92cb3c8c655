"""Time the gradient of a large batch evaluated in one pass against the same gradient in chunks.

The full-batch and large-batch presets (gd, lbfgs, lbfgs_minibatch, svrg's snapshots) spend their
time here. Both ways evaluate the training loop's Objective on the first `--batch` training
images: once as one forward/backward pass, once in chunks of `training.gradient_chunk` (or
`--chunk`). They alternate, `--repeats` times each, and the medians are compared. Prints the ratio.

    python benchmarks/full_gradient.py [--batch 60000] [--threads 1] [--output benchmarks/full_gradient.json]
"""
import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from lenet_bench import atomic_files
from lenet_bench.core import data, training
from lenet_bench.core.model import LeNet5


def gradient_seconds(model, x, y, chunk: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    started = time.perf_counter()
    training.Objective(model, optimizer, x, y, training.Cost(), chunk=chunk)()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/fashion_mnist.pt", help="stored data set (dvc repro prepare_data)")
    parser.add_argument("--batch", type=int, default=60_000, help="samples in the batch")
    parser.add_argument("--chunk", type=int, help="samples per chunk (default: training.gradient_chunk)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the study runs with 1)")
    parser.add_argument("--repeats", type=int, default=3, help="gradients each way, alternating")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dataset = data.load(Path(args.data), device)
    x, y = dataset["train_x"][: args.batch], dataset["train_y"][: args.batch]
    chunk = args.chunk or training.gradient_chunk(device)
    torch.manual_seed(0)
    model = LeNet5().to(device)
    load_before = os.getloadavg()[0]  # other work on the machine slows both ways alike
    whole, chunked = [], []
    for repeat in range(args.repeats):
        whole.append(gradient_seconds(model, x, y, chunk=len(y)))
        chunked.append(gradient_seconds(model, x, y, chunk=chunk))
        print(f"round {repeat + 1}: one pass {whole[-1]:.2f} s, chunks of {chunk} {chunked[-1]:.2f} s", flush=True)
    result = {
        "batch": len(y), "chunk": chunk, "one_pass_seconds": statistics.median(whole),
        "chunked_seconds": statistics.median(chunked),
        "speedup": statistics.median(whole) / statistics.median(chunked), "repeats": args.repeats,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})", "device": str(device),
        "load_average_before": round(load_before, 2),
    }
    print(f"one pass of {len(y)}: {result['one_pass_seconds']:6.2f} s (median)")
    print(f"chunks of {chunk}:  {result['chunked_seconds']:6.2f} s (median)")
    print(f"speed-up: {result['speedup']:.2f}x")
    if args.output:
        atomic_files.write_json(args.output, result)


if __name__ == "__main__":
    main()
