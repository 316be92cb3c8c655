"""Seconds that compare: one training epoch of every preset, timed in one sitting on one machine,
interleaved (each round times every preset once, so that a change in the machine's load falls on all of
them alike), with one torch thread as the study trains, the median of several rounds. The load before
each timing is recorded with it. A study run's seconds are then its gradient evaluations times its
preset's calibrated seconds per gradient evaluation, never the wall time of a run made on a busy machine.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

import pandas as pd
import torch

from lenet_bench.core.training import library_versions, train
from lenet_bench.params import run_config
from lenet_bench.study.export import DEVICE, preset_settings, study_params


def machine() -> str:
    """The CPU model and its count of logical CPUs."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model} x {os.cpu_count()}"


def time_epoch(params: dict, preset: str, dataset: dict) -> dict:
    """Train `preset` for one epoch as a study run of the first scenario trains (CPU, one thread); its
    seconds (test evaluation left out) and gradient evaluations."""
    run = study_params(params, preset, params["train"]["seed"], 1, 1)
    _, record = train(run_config(run, next(iter(params["scenarios"]))), dataset, torch.device(DEVICE),
                      log=lambda _: None)
    return {"seconds": record["cost"]["seconds"], "grad_evals": record["cost"]["grad_evals"]}


def measure(params: dict, presets: list[str], dataset: dict, rounds: int, progress=print) -> pd.DataFrame:
    """Every preset's epoch, `rounds` times, interleaved; one row per timing, with the load before it."""
    torch.set_num_threads(1)
    rows = []
    for round_ in range(1, rounds + 1):
        for preset in presets:
            load = os.getloadavg()[0]
            timed = time_epoch(params, preset, dataset)
            rows.append({"preset": preset, "round": round_, **timed, "load_before": round(load, 2),
                         "preset_settings": preset_settings(params["optimizers"][preset])})
            progress(f"round {round_}/{rounds} {preset}: {timed['seconds']:.1f} s (load {load:.2f})")
    table = pd.DataFrame(rows)
    versions = library_versions()
    return table.assign(machine=machine(), cpus=os.cpu_count(), threads=1, torch=versions["torch"])
