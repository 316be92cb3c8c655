"""Time one training epoch of this project against the brief's DataLoader loop, in one process.

Both train the same LeNet-5 with the brief's optimizer (SGD, lr 0.001, batch 64) for one epoch over
the 60,000 training images; test evaluation is left out of both timings. Prints the ratio.

    python benchmarks/epoch_speed.py [--data data/fashion_mnist.pt] [--source DIR]
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
from torchvision import datasets, transforms

from lenet_bench import data, training
from lenet_bench.data import FILES
from lenet_bench.model import LeNet5


def brief_epoch(raw_dir: Path) -> float:
    """The brief's starter loop: torchvision dataset, ToTensor, DataLoader, loss.item() per step."""
    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name, md5 in FILES.items():
            (raw / name).write_bytes(data.read_verified(raw_dir, name, md5))
        train_dataset = datasets.FashionMNIST(root=root, train=True, download=False,
                                              transform=transforms.ToTensor())
        loader = torch.utils.data.DataLoader(train_dataset, batch_size=64, shuffle=True)
        model, criterion = LeNet5(), nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
        started = time.perf_counter()
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            loss.item()
        return time.perf_counter() - started


def project_epoch(dataset: dict) -> float:
    config = {"scenario": "benchmark", "optimizer": "sgd", "weight_decay": 0.0, "epochs": 1,
              "seed": 0, "threads": 0, "target_accuracy": 0.8938,
              "preset": {"algorithm": "sgd", "batch_size": 64, "lr": 0.001, "schedule": {"name": "constant"}}}
    _, record = training.train(config, dataset, torch.device("cpu"), log=lambda _: None)
    return record["cost"]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/fashion_mnist.pt", help="stored data set (dvc repro prepare_data)")
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist",
                        help="directory with the four original files, for the brief's loop")
    args = parser.parse_args()
    brief = brief_epoch(Path(args.source))
    ours = project_epoch(data.load(Path(args.data)))
    print(f"threads: {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"brief's DataLoader epoch: {brief:6.2f} s")
    print(f"this project's epoch:     {ours:6.2f} s")
    print(f"speed-up: {brief / ours:.2f}x")


if __name__ == "__main__":
    main()
