"""Where a multi-run command's tasks execute: a Dask cluster. With no address, a LocalCluster of one
single-threaded worker process per core, stopped at the end; `scheduler` joins a running cluster
(`dask scheduler` / `dask worker`, each worker started in a checkout of the same commit); `slurm` asks
Slurm for workers through dask-jobqueue's SLURMCluster, configured in Dask's own config
(jobqueue.slurm in ~/.config/dask/jobqueue.yaml)."""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dask
from dask.system import CPU_COUNT  # the CPUs this process may use (cgroup limits too)
from distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from lenet_bench.errors import UserError

# A run whose worker died is given to another worker this many times in all before it counts as failed
# (Dask's KilledWorker); a run that fails on its own is not tried again.
ALLOWED_WORKER_DEATHS = 3
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def scheduler_address(scheduler: str | None, scheduler_file: Path | None) -> str | None:
    """The running scheduler a command joins: --scheduler, else the address in --scheduler-file (what
    `dask scheduler --scheduler-file` writes), else Dask's own setting (DASK_SCHEDULER_ADDRESS); None
    for a cluster of the command's own."""
    if scheduler and scheduler_file:
        raise UserError("give --scheduler or --scheduler-file, not both")
    if scheduler_file:
        try:
            return json.loads(Path(scheduler_file).read_text())["address"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UserError(f"--scheduler-file {scheduler_file}: no scheduler's address in it ({type(err).__name__}: "
                            f"{err}); give the file `dask scheduler --scheduler-file` writes") from None
    return scheduler or dask.config.get("scheduler-address", None)


@contextmanager
def connect(scheduler: str | None = None, slurm: bool = False, workers: int | None = None,
            timeout: float = 30) -> Iterator[Client]:
    """A client of the cluster the command asked for; a cluster started here stops at the end. UserError
    (one line) for a scheduler that does not answer within `timeout` seconds or a Slurm cluster that Dask's
    config does not describe."""
    if scheduler and slurm:
        raise UserError("give --scheduler or --cluster slurm, not both")
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_WORKER_DEATHS - 1}):
        if scheduler:
            try:
                client = Client(scheduler, timeout=f"{timeout}s")
            except (ValueError, TypeError) as err:  # not an address
                raise UserError(f"--scheduler {scheduler}: not a scheduler's address ({' '.join(str(err).split())}); "
                                "give one like tcp://host:8786") from None
            except OSError as err:  # refused, or timed out
                reason = " ".join(str(err).split())[:200] or type(err).__name__
                raise UserError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s ({reason}); "
                                "start one (`dask scheduler`), check the address, or wait longer with "
                                "--scheduler-timeout") from None
            cluster = None
        elif slurm:
            try:
                from dask_jobqueue import SLURMCluster
            except ImportError:
                raise UserError("--cluster slurm needs dask-jobqueue: pip install 'lenet-bench[slurm]'") from None
            try:
                cluster = SLURMCluster(cores=1, processes=1, job_script_prologue=[
                    f"export {k}={v}" for k, v in ONE_THREAD.items()])
            except (ValueError, KeyError) as err:  # what Dask's jobqueue config leaves out
                raise UserError(f"--cluster slurm: {' '.join(str(err).split())}; describe the jobs in Dask's config, "
                                "e.g. ~/.config/dask/jobqueue.yaml with jobqueue: {slurm: {queue: cpu, memory: 4GB, "
                                "walltime: '04:00:00'}} (README, 'Where runs execute')") from None
            cluster.scale(workers or 1)
            client = Client(cluster)
        else:
            cluster = LocalCluster(n_workers=workers or CPU_COUNT, threads_per_worker=1, processes=True,
                                   dashboard_address=":0" if _has_dashboard() else None, env=ONE_THREAD)
            client = Client(cluster)
    if _has_dashboard() and client.dashboard_link:
        print(f"dask dashboard: {client.dashboard_link}", flush=True)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _has_dashboard() -> bool:
    return importlib.util.find_spec("bokeh") is not None  # Dask serves its dashboard only with bokeh


def run_all(client: Client, function: Callable, items: list, label: Callable[[object], str],
            on_result: Callable[[object, object], None], on_failure: Callable[[object, BaseException], None],
            bar: bool = True) -> int:
    """Submit function(item) for every item, one task each, and hand each result (or failure) on as it
    arrives, in this process; one progress bar with done, failed and running (unless the caller draws
    its own). Returns the failures."""
    futures = {client.submit(function, item, key=f"{label(item)}-{dask.base.tokenize(item)}", pure=False): item
               for item in items}
    failed = 0
    with tqdm(total=len(futures), unit="run", dynamic_ncols=True, disable=not bar) as progress:
        for future in as_completed(futures):
            item = futures[future]
            try:
                result = future.result()
            except Exception as err:  # the run's own error, KilledWorker, or a cancelled future
                failed += 1
                on_failure(item, err)
            else:
                on_result(item, result)
            progress.update()
            running = sum(len(tasks) for tasks in client.processing().values())
            progress.set_postfix_str(f"failed {failed}, running {running}")
    return failed
