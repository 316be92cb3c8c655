"""Is a study faster as two parallel jobs of one torch thread, or one job of two threads at a time?

Trains the same short run (a preset, one epoch on the first `--samples` training images)
twice each way, in this one script: (a) two runs one after the other, each with 2 threads;
(b) two runs at once, in two processes of 1 thread each. Prints the throughput ratio b/a.
It needs the CPU to itself: anything else running skews both sides.

    python benchmarks/parallel_jobs.py [--preset momentum] [--samples 20000] [--output benchmarks/parallel_jobs.json]
"""
import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from lenet_bench import atomic_files, params
from lenet_bench.core import data, training

DATA = Path("data/fashion_mnist.pt")


def one_run(threads: int, samples: int, preset: str) -> None:
    torch.set_num_threads(threads)
    project = params.load()
    project["optimizer"]["name"] = preset
    config = params.run_config(project, "standard")
    config.update(epochs=1, threads=threads)
    dataset = data.load(DATA, torch.device("cpu"))
    dataset["train_x"], dataset["train_y"] = dataset["train_x"][:samples], dataset["train_y"][:samples]
    training.train(config, dataset, torch.device("cpu"), log=lambda _: None)


def timed(commands: list[list[str]], parallel: bool) -> float:
    started = time.perf_counter()
    if parallel:
        for process in [subprocess.Popen(c) for c in commands]:
            if process.wait():
                sys.exit("a benchmark run failed")
    else:
        for c in commands:
            subprocess.run(c, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="momentum", help="the optimizer preset each run trains (default: momentum, "
                        "a typical first-order preset at batch 64)")
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # internal: one run with this many threads
    args = parser.parse_args()
    if args.run:
        one_run(args.run, args.samples, args.preset)
        return
    if not DATA.exists():
        sys.exit(f"error: {DATA} is missing; run `dvc repro prepare_data` first")
    presets = params.load()["optimizers"]
    if args.preset not in presets:
        sys.exit(f"error: unknown preset '{args.preset}'; presets: {', '.join(presets)}")
    run = [sys.executable, __file__, "--preset", args.preset, "--samples", str(args.samples), "--run"]
    env_note = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    sequential = timed([run + ["2"], run + ["2"]], parallel=False)
    parallel = timed([run + ["1"], run + ["1"]], parallel=True)
    result = {"preset": args.preset, "runs": 2, "samples": args.samples,
              "one_job_two_threads_seconds": round(sequential, 1),
              "two_jobs_one_thread_seconds": round(parallel, 1), "speedup": round(sequential / parallel, 2),
              "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__, **env_note}
    print(f"two runs, one after the other, 2 threads each: {sequential:.1f} s")
    print(f"two runs at once, 1 thread each:               {parallel:.1f} s")
    print(f"two parallel 1-thread jobs are {result['speedup']:.2f}x the throughput of one 2-thread job")
    if args.output:
        atomic_files.write_json(args.output, result)


if __name__ == "__main__":
    main()
