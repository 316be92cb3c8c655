"""DVC's local experiment queue: queue an experiment, read the queue's states, start its workers, and
wait for a set of experiments, handing each one on as it succeeds."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lenet_bench.study.export import export_lock


def queue_experiment(name: str, overrides: list[str], targets: list[str], root: Path = Path(".")) -> None:
    """`dvc exp run --queue` one experiment. DVC stashes the workspace and puts it back meanwhile, so
    the export's lock is held: a result another study command recorded then would be lost."""
    command = ["dvc", "exp", "run", "--queue", "-q", "-n", name, *[a for o in overrides for a in ("-S", o)], *targets]
    with export_lock(root):
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def queue_status(attempts: int = 3, pause: float = 10.0) -> dict[str, str]:
    """`dvc queue status`, parsed: experiment name -> Queued | Running | Success | Failed. It can fail
    for a moment while a worker moves a task ("Invalid experiment ..."), so it is tried again."""
    for attempt in range(attempts):
        result = subprocess.run(["dvc", "queue", "status"], capture_output=True, text=True)
        if result.returncode == 0:
            break
        if attempt + 1 < attempts:
            time.sleep(pause)
    else:
        raise SystemExit(f"error: dvc queue status failed ({attempts} attempt(s)):\n{result.stdout}{result.stderr}")
    states = {}
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[-1] in ("Queued", "Running", "Success", "Failed"):
            states[fields[1]] = fields[-1]
    return states


def start_queue(jobs: int) -> None:
    """Have `jobs` DVC queue workers. `dvc queue start -j N` starts those of workers 1..N that are
    not running, so a second command sharing the queue adds none. Workers inherit stdout: a captured
    pipe would stay open, and block the caller, until they all exit, so their output goes nowhere
    (`dvc queue logs` has it)."""
    subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(names, poll: float, on_success: Callable[[list[str]], None]) -> set[str]:
    """Wait until every named experiment has succeeded or failed, calling `on_success` with those that
    succeeded since the last check, then taking them off the queue (each entry kept makes every
    `dvc queue status` slower, about 0.1 s of CPU per entry; the experiment itself stays). One progress
    line per change. Returns the names that failed."""
    names, succeeded, failed, last = set(names), set(), set(), None
    while len(succeeded) + len(failed) < len(names):
        states = queue_status()
        finished = sorted(n for n in names - succeeded if states.get(n) == "Success")
        if finished:
            on_success(finished)
            succeeded |= set(finished)
            subprocess.run(["dvc", "queue", "remove", *finished], check=True, capture_output=True)
        failed |= {n for n in names if states.get(n) == "Failed"}
        running = sorted(n for n in names if states.get(n) == "Running")
        line = (f"[{len(succeeded) + len(failed)}/{len(names)} experiments done, {len(failed)} failed] "
                f"running: {', '.join(running) or '-'}")
        if line != last:
            print(line, flush=True)
            last = line
        if len(succeeded) + len(failed) < len(names):
            time.sleep(poll)
    return failed
