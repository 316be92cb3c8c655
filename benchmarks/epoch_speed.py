"""Time one training epoch of this project against the brief's DataLoader loop, in one process.

Both train the same LeNet-5 with the brief's optimizer (SGD, lr 0.001, batch 64) for one epoch over
the 60,000 training images; test evaluation is left out of both timings. Prints the ratio.

    python benchmarks/epoch_speed.py [--repeats 3] [--device cpu] [--output benchmarks/epoch_speed.json]

With --device cuda both loops train on the GPU; the brief's loop then moves each batch there.

The two loops alternate, `--repeats` epochs each, and the medians are compared, which evens out a
noisy machine.
"""
import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
from torchvision import datasets, transforms

from lenet_bench import atomic_files
from lenet_bench.core import data, training
from lenet_bench.core.data import FILES
from lenet_bench.core.model import LeNet5


def brief_epoch(raw_dir: Path, device: torch.device, samples: int) -> float:
    """The brief's starter loop: torchvision dataset, ToTensor, DataLoader, loss.item() per step."""
    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name, md5 in FILES.items():
            (raw / name).write_bytes(data.read_verified(raw_dir, name, md5))
        train_dataset = datasets.FashionMNIST(root=root, train=True, download=False,
                                              transform=transforms.ToTensor())
        subset = torch.utils.data.Subset(train_dataset, range(min(samples, len(train_dataset))))
        loader = torch.utils.data.DataLoader(subset, batch_size=64, shuffle=True)
        model, criterion = LeNet5().to(device), nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
        started = time.perf_counter()
        model.train()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            loss.item()
        return time.perf_counter() - started


def project_epoch(dataset: dict, device: torch.device) -> float:
    """This project's loop (lenet_bench.core.training.train), same optimizer and batch size."""
    config = {"scenario": "benchmark", "optimizer": "sgd", "weight_decay": 0.0, "epochs": 1,
              "seed": 0, "threads": 0, "target_accuracy": 0.8938,
              "preset": {"algorithm": "sgd", "batch_size": 64, "lr": 0.001, "schedule": {"name": "constant"}}}
    _, record = training.train(config, dataset, device, log=lambda _: None)
    return record["cost"]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/fashion_mnist.pt", help="stored data set (dvc repro prepare_data)")
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist",
                        help="directory with the four original files, for the brief's loop")
    parser.add_argument("--repeats", type=int, default=3, help="epochs of each loop, alternating")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both loops run there)")
    parser.add_argument("--samples", type=int, default=60_000, help="training images an epoch (fewer: a quick check)")
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    device = torch.device(args.device)
    dataset = data.load(Path(args.data), device)
    dataset = {**dataset, "train_x": dataset["train_x"][: args.samples], "train_y": dataset["train_y"][: args.samples]}
    brief, ours = [], []
    for repeat in range(args.repeats):
        brief.append(brief_epoch(Path(args.source), device, args.samples))
        ours.append(project_epoch(dataset, device))
        print(f"round {repeat + 1}: brief {brief[-1]:.2f} s, project {ours[-1]:.2f} s", flush=True)
    result = {
        "brief_seconds": statistics.median(brief), "project_seconds": statistics.median(ours),
        "speedup": statistics.median(brief) / statistics.median(ours), "repeats": args.repeats,
        "samples": len(dataset["train_y"]),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})", "device": str(device),
        **({"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}),
    }
    print(f"brief's DataLoader epoch: {result['brief_seconds']:6.2f} s (median)")
    print(f"this project's epoch:     {result['project_seconds']:6.2f} s (median)")
    print(f"speed-up: {result['speedup']:.2f}x")
    if args.output:
        atomic_files.write_json(args.output, result)


if __name__ == "__main__":
    main()
