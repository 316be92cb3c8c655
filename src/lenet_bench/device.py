"""train.device -> a torch device: 'auto' picks cuda, then mps, then cpu."""
from __future__ import annotations

import torch

from lenet_bench.errors import UserError
from lenet_bench.registry import DEVICES


class DeviceError(UserError, ValueError):
    """train.device names no device, or one this machine lacks."""


def resolve(name) -> torch.device:
    if name not in DEVICES:
        raise DeviceError(f"train.device: unknown value '{name}'; allowed: {', '.join(DEVICES)}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise DeviceError(f"train.device: '{name}' was asked for but this machine has none; use auto or cpu")
    return torch.device(name)
