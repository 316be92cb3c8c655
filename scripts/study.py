"""Run the study: every optimizer preset x scenario x seed, as queued DVC experiments.

    python scripts/study.py                                   # everything, seeds 0 1 2, 2 jobs
    python scripts/study.py --presets momentum,adam --seeds 0 --scenarios standard
    python scripts/study.py --dry-run                         # what would run, and what is done
    python scripts/study.py --without-dvc --jobs 2            # no DVC queue: the stage commands directly
    python scripts/study.py --top 3 --seeds 0-9 --scenarios standard   # more seeds for the three leaders

Every run is made on the CPU with one torch thread (lenet_bench.study.DEVICE, THREADS), so that every
table compares runs made on one kind of hardware.

Each finished experiment's results are appended at once to results/study.csv (one row per
preset, scenario and seed, with the parameters that produced it; learning curves in
results/study_curves.csv). Runs already there with the same parameters are skipped, so a study
can stop and go on later, on this machine or another. Exits non-zero if any experiment failed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from lenet_bench import params as params_module
from lenet_bench.experiments import finished_experiments, queue_status, start_queue
from lenet_bench.params import ParamError
from lenet_bench.study import (
    THREADS,
    adopt,
    forget,
    leaders,
    overrides,
    parse_seeds,
    plan,
    prepared_dataset,
    queue_experiment,
    read_export,
    record,
    run_without_dvc,
    selected,
)

# One torch thread per job, whatever the number of jobs: on a 2-core machine two such jobs gave 1.70x
# the throughput of one job of two threads (small convolutions scale poorly over threads;
# benchmarks/parallel_jobs.json).
THREADS_PER_JOB = THREADS


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def free_name(name: str, taken: set[str]) -> str:
    """DVC names an experiment once per commit: a rerun gets a suffix."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", help="comma-separated presets (default: every preset in params.yaml)")
    parser.add_argument("--scenarios", help="comma-separated scenarios (default: every scenario)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds, e.g. 0,1,2 or 0-9 (default: 0,1,2)")
    parser.add_argument("--top", type=int, help="instead of --presets: the N presets with the best mean test "
                        "accuracy in the first scenario, from the export")
    parser.add_argument("--jobs", type=int, default=2, help="experiments run in parallel (default: 2)")
    parser.add_argument("--epochs", type=int, help="override train.epochs (e.g. 1 for a smoke test)")
    parser.add_argument("--poll", type=float, default=60,
                        help="seconds between progress checks (each `dvc queue status` costs seconds of CPU)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--redo", action="store_true",
                        help="run the selected results again even if the export has them (after a fix to a "
                             "method's code); their rows leave the export when the new runs are queued")
    parser.add_argument("--without-dvc", action="store_true",
                        help="run dvc.yaml's stage commands directly, one scenario per job, in scratch folders")
    args = parser.parse_args()

    params = params_module.load()
    if args.top is not None and args.presets:
        sys.exit("error: give --presets or --top, not both")
    presets = args.presets.split(",") if args.presets else list(params["optimizers"])
    if args.top is not None:
        presets = leaders(read_export(), params, args.top)
        if len(presets) < args.top:
            sys.exit(f"error: --top {args.top}: the export has {len(presets)} preset(s) at the current settings")
        print(f"--top {args.top}: {', '.join(presets)}")
    scenarios = args.scenarios.split(",") if args.scenarios else list(params["scenarios"])
    try:
        seeds = parse_seeds(args.seeds)
        export = read_export()
        if args.redo:
            export = export[~selected(export, presets, scenarios, seeds)]
        runs, already = plan(params, presets, scenarios, seeds, THREADS_PER_JOB, args.epochs, export)
    except (ValueError, ParamError) as err:
        sys.exit(f"error: {err}")
    total = len(presets) * len(scenarios) * len(seeds)
    print(f"study: {len(presets)} presets x {len(scenarios)} scenarios x {len(seeds)} seeds = {total} results; "
          f"{already} already in results/study.csv, {total - already} to run in {len(runs)} experiments")
    if args.dry_run or not runs:
        for run in runs:
            print(f"  {run.name}: {', '.join(run.scenarios)}")
        return
    if args.redo:
        print(f"--redo: {forget(presets, scenarios, seeds)} result(s) taken out of results/study.csv to run again")
    if args.without_dvc:
        run_directly(runs, args.jobs)
        return
    # What an earlier, stopped study command left: finished experiments to record, queued ones to wait
    # for (not with --redo: those ran the code that is being redone).
    if not args.redo:
        runs, adopted = adopt(runs, finished_experiments())
        if adopted:
            print(f"recorded {adopted} result(s) that finished experiments of this study already held")
        if not runs:
            return
    states = queue_status()
    queued = {run.name: run for run in runs if states.get(run.name) in ("Queued", "Running") and not args.redo}
    if queued:
        print(f"waiting for {len(queued)} experiment(s) an earlier study command queued")
    taken = set(dvc("exp", "list", "--name-only").split()) | set(states)
    for run in runs:
        if run.name in queued:
            continue
        name = free_name(run.name, taken)
        taken.add(name)
        queue_experiment(name, overrides(run.preset, run.seed, THREADS_PER_JOB, args.epochs),
                         [f"evaluate@{s}" for s in run.scenarios])
        queued[name] = run
    start_queue(args.jobs)

    recorded, failed, last = set(), set(), None
    while len(recorded) + len(failed) < len(queued):
        states = queue_status()
        finished = [n for n in queued if states.get(n) == "Success" and n not in recorded]
        if finished:
            experiments = {e.name: e for e in finished_experiments()}
            for name in finished:
                record(experiments[name], queued[name].scenarios)
                recorded.add(name)
            # Recorded, its queue entry is no longer needed (the experiment stays): each one kept
            # makes every `dvc queue status` slower (about 0.1 s of CPU per entry).
            dvc("queue", "remove", *finished)
        failed |= {n for n in queued if states.get(n) == "Failed"}
        running = sorted(n for n in queued if states.get(n) == "Running")
        line = (f"[{len(recorded) + len(failed)}/{len(queued)} experiments done, {len(failed)} failed] "
                f"running: {', '.join(running) or '-'}")
        if line != last:
            print(line, flush=True)
            last = line
        if len(recorded) + len(failed) < len(queued):
            time.sleep(args.poll)
    if failed:
        sys.exit(f"error: {len(failed)} experiment(s) failed: {', '.join(sorted(failed))}; "
                 "see `dvc queue logs <name>`, fix, and run this command again (it reruns only what is missing)")
    print(f"study: all {len(queued)} experiments recorded in results/study.csv")


def current_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else os.environ.get("STUDY_COMMIT", "unknown")


def run_directly(runs, jobs: int) -> None:
    """One job per run and scenario, the fewest samples per step first (the longest jobs start first)."""
    tasks = sorted(((run, s) for run in runs for s in run.scenarios),
                   key=lambda task: task[0].params["optimizers"][task[0].preset]["batch_size"])
    try:
        dataset = prepared_dataset()
    except FileNotFoundError as err:
        sys.exit(f"error: {err}")
    commit, scratch = current_commit(), Path(tempfile.mkdtemp(prefix="study-"))
    failed = []
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(run_without_dvc, run, s, scratch / f"{run.name}-{s}", commit, dataset): (run, s)
                   for run, s in tasks}
        for done, future in enumerate(as_completed(futures), 1):
            run, scenario = futures[future]
            try:
                exp = future.result()
            except RuntimeError as err:
                failed.append(f"{run.name} {scenario}")
                print(f"error: {err}", file=sys.stderr)
            else:
                record(exp, [scenario])
                shutil.rmtree(exp.workdir)  # recorded: only a failed run's folder is kept, for its log
                m = exp.metrics[f"metrics/{scenario}.json"]
                print(f"[{done}/{len(tasks)}] {run.name} {scenario}: {100 * m['test']['accuracy']:.2f}% "
                      f"in {m['cost']['seconds']:.0f} s", flush=True)
    if failed:
        sys.exit(f"error: {len(failed)} run(s) failed ({', '.join(failed)}); logs are in {scratch}")
    scratch.rmdir()
    print(f"study: all {len(tasks)} runs recorded in results/study.csv")


if __name__ == "__main__":
    main()
