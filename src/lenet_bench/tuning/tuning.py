"""The tuning engine: a preset's trials on Optuna, each a training run judged on the validation hold-out.

Every tuning has the same terms (params.yaml `tuning`): a budget of trials, drawn and enqueued when the
tuning is created (Optuna's QMCSampler, a scrambled Sobol sequence seeded once per tuning, no setting
twice), so that workers only ever take trials from the queue and the budget holds whatever their number;
a successive-halving pruner at the same rungs for every preset. A tuning lives in an Optuna storage (by
default tuning/<preset>.journal), so a stopped one resumes where it was, and its table,
tuning/<preset>.csv, is rebuilt from the storage after every trial. Variants of a tuning (unpruned, for the
pruning audit; another sampler seed, for tuning variance) live in folders of their own (`folder`).
"""
from __future__ import annotations

import json
import math
import os
import socket
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
import pandas as pd
import torch
from optuna.trial import TrialState

from lenet_bench import atomic_files
from lenet_bench.core import data
from lenet_bench.core.training import library_versions, train
from lenet_bench.device import resolve as resolve_device
from lenet_bench.locks import folder_lock
from lenet_bench.params import NO_PRUNING, run_config
from lenet_bench.paths import TUNING as TABLES
from lenet_bench.study import study_task
from lenet_bench.study.export import with_settings
from lenet_bench.tuning import search
from lenet_bench.tuning.audit import INTERRUPTED, PRECISION
from lenet_bench.tuning.tuning_tables import TuningError, recorded_epochs, rungs

STOP = TABLES / "STOP"  # while this file exists, workers finish their trials and take no new ones
WORKER_STOPPED = "its worker stopped mid-trial"  # the error of an interrupted trial
MAX_DRAWS = 64  # Sobol points a tuning may draw (repeats skipped) before its space counts as too small

optuna.logging.set_verbosity(optuna.logging.WARNING)


def terms(preset: str, params: dict) -> dict:
    """What makes two tunings comparable; recorded with a tuning and checked when it resumes."""
    tuning = params["tuning"]
    return {"trials": tuning["trials"], "rungs": rungs(params), "epochs": params["train"]["epochs"],
            "sampler": dict(tuning["sampler"]), "validation_size": tuning["validation_size"],
            "train_seed": params["train"]["seed"],
            "space": [d.describe() for d in search.parse(preset, params["optimizers"][preset])]}


def default_storage(preset: str, root: Path = Path("."), folder: Path = TABLES) -> str:
    return str(root / folder / f"{preset}.journal")


def open_storage(location: str):
    """A database URL (sqlite:///..., postgresql://...) or the path of a journal file; TuningError (one
    line) where it cannot be opened or a journal is damaged."""
    if "://" in location:
        try:
            return optuna.storages.RDBStorage(location)
        except Exception as err:  # noqa: BLE001 - SQLAlchemy's many errors: an unknown dialect, no such folder
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise TuningError(f"--storage {location}: cannot open this database ({reason}); give a URL such as "
                              "sqlite:///tuning.db or postgresql://user@host/db, or a journal file's path") from None
    path = Path(location)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as err:
        raise TuningError(f"--storage {location}: cannot write a journal there ({err.strerror}); give a path "
                          "in a folder you can write to") from None
    check_journal(path)
    backend = optuna.storages.journal.JournalFileBackend(
        location, lock_obj=optuna.storages.journal.JournalFileOpenLock(location))
    return optuna.storages.JournalStorage(backend)


def check_journal(path: Path) -> None:
    """Every line of a journal but a last one cut short by a killed writer is a JSON record (Optuna
    replays it in full); name the first that is not."""
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):
        try:
            json.loads(line)
        except ValueError:
            raise TuningError(f"{path}: line {number} is not a JSON record, so the journal is damaged; restore it "
                              f"(git checkout -- {path}) or delete it and its table to tune again") from None


class _DeclaredSpaceQMC(optuna.samplers.QMCSampler):
    """Optuna's QMCSampler over a space given up front: left to itself, it draws the first trial at random
    to learn the space."""

    def __init__(self, space: dict, **settings):
        with warnings.catch_warnings():  # experimental in name since Optuna 3.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(**settings)
        self._space = space

    def infer_relative_search_space(self, study, trial):
        return self._space


def distribution(d: search.Dimension) -> optuna.distributions.BaseDistribution:
    if d.choices is not None:
        return optuna.distributions.CategoricalDistribution(list(d.choices))
    if d.integer:
        return optuna.distributions.IntDistribution(d.low, d.high, log=d.log)
    return optuna.distributions.FloatDistribution(d.low, d.high, log=d.log)


def draw_settings(preset: str, params: dict) -> list[dict]:
    """The tuning's trials, in order: successive points of a scrambled Sobol sequence over the preset's
    space (Optuna's QMCSampler, seeded by tuning.sampler.seed), rounded as they will be trained; a point
    that repeats an earlier setting is skipped. The same params always give the same list."""
    dimensions = search.parse(preset, params["optimizers"][preset])
    tuning = params["tuning"]
    qmc = _DeclaredSpaceQMC({d.key: distribution(d) for d in dimensions}, qmc_type="sobol", scramble=True,
                            seed=tuning["sampler"]["seed"])
    drawing = optuna.create_study(sampler=qmc)  # in memory: only the draws are kept
    settings: list[dict] = []
    for _ in range(MAX_DRAWS):
        if len(settings) == tuning["trials"]:
            return settings
        trial = drawing.ask()
        values = search.suggest(trial, dimensions)
        drawing.tell(trial, 0.0)
        if values not in settings:
            settings.append(values)
    raise TuningError(f"{preset}: {MAX_DRAWS} draws from its space gave {len(settings)} distinct settings, "
                      f"fewer than tuning.trials ({tuning['trials']}); widen optimizers.{preset}.search")


def pruner(params: dict) -> optuna.pruners.BasePruner:
    settings = params["tuning"]["rungs"]
    if settings == NO_PRUNING:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=settings["min_epochs"],
                                                  reduction_factor=settings["reduction_factor"],
                                                  min_early_stopping_rate=0)


def opening_lock(location: str):
    """Commands that open one tuning at once take turns, or each would top up the queue: beside a journal
    file, or for a database in this machine's tuning/."""
    return folder_lock(TABLES if "://" in location else Path(location).parent)


def open_tuning(preset: str, params: dict, storage, location: str) -> optuna.Study:
    """Create the preset's tuning with its budget of trials drawn and enqueued, or load it and check that it
    was made on the same terms. `location` is the storage's path or URL."""
    wanted, draws = terms(preset, params), draw_settings(preset, params)
    with opening_lock(location):
        try:  # loaded first: a journal records every attempt to create, even one that finds the tuning there
            study = optuna.load_study(study_name=preset, storage=storage, pruner=pruner(params))
        except KeyError:
            study = optuna.create_study(study_name=preset, storage=storage, direction="maximize",
                                        pruner=pruner(params))
            study.set_user_attr("terms", wanted)
        else:
            made = study.user_attrs.get("terms")
            if made is not None and made != wanted:
                changed = ", ".join(k for k in wanted if made.get(k) != wanted[k])
                raise TuningError(f"the tuning of {preset} in its storage was made on other terms ({changed} "
                                  "differ from params.yaml); restore them, or delete the storage to start over"
                                  ) from None
        for values in draws[len(study.get_trials(deepcopy=False)):]:  # a creator stopped while enqueuing leaves fewer
            study.enqueue_trial(values, skip_if_exists=False)
    return study


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> bool | None:
    """Whether a worker on this host still runs; None for a worker on another host."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphans(study: optuna.Study, storage, location: str, everywhere: bool = False) -> list[int]:
    """Mark FAIL, as interrupted, the trials left RUNNING by workers that are gone: on this host, those whose
    process has ended; with `everywhere`, those of other hosts too. An interrupted trial (these, or one that
    an earlier command marked) is enqueued again with the same settings, once: an interruption is no
    verdict on a setting, and the budget is spent on trials that ran. Return the numbers marked now."""
    study_id, failed = storage.get_study_id_from_name(study.study_name), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        alive = _alive(trial.user_attrs.get("worker", ":0"))
        if alive is False or (alive is None and everywhere):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "error", WORKER_STOPPED)
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            failed.append(trial.number)
    with opening_lock(location):  # two commands never enqueue one rerun twice
        trials = study.get_trials(deepcopy=False)
        rerun = {t.user_attrs.get("rerun_of") for t in trials}
        for trial in trials:
            if interrupted(trial) and trial.number not in rerun:
                study.enqueue_trial(trial.system_attrs["fixed_params"], user_attrs={"rerun_of": trial.number},
                                    skip_if_exists=False)
    return failed


def interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state == TrialState.FAIL and trial.user_attrs.get("error") == WORKER_STOPPED


def claim(study: optuna.Study, storage) -> optuna.Trial | None:
    """Take a trial from the tuning's queue, or None when none is left: never a trial beyond the budget."""
    study_id = storage.get_study_id_from_name(study.study_name)
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, waiting.number)
        try:
            if not storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                continue  # another worker took it first
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        trial = optuna.Trial(study, trial_id)  # its settings were drawn when it was enqueued
        trial.set_user_attr("worker", worker_id())
        return trial
    return None


def trial_settings(preset: str, params: dict, values: dict) -> dict[str, object]:
    """What makes params.yaml one trial's, by dotted key: the preset with the drawn values, on the hold-out
    split, one thread (one worker a core: small convolutions scale poorly over threads)."""
    return {"optimizer.name": preset, "data.validation_size": params["tuning"]["validation_size"],
            "train.threads": 1, **{f"optimizers.{preset}.{key}": value for key, value in values.items()}}


def trial_config(preset: str, params: dict, values: dict) -> dict:
    """The run configuration of one trial, in the first scenario."""
    return run_config(with_settings(params, trial_settings(preset, params, values)), next(iter(params["scenarios"])))


def hold_out_split(params: dict, dataset_path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    """Training and validation images only: the test set plays no part in a tuning."""
    dataset = data.hold_out(data.load(dataset_path, device), params["tuning"]["validation_size"])
    return {k: v for k, v in dataset.items() if not k.startswith("test_")}


def run_trial(trial: optuna.Trial, preset: str, params: dict, dataset: dict, device: torch.device) -> str:
    """Train one trial, reporting each epoch's validation accuracy to the pruner (which judges it at the
    rungs, never after its last epoch); tell the tuning how it ended; return its one-line account."""
    dimensions = search.parse(preset, params["optimizers"][preset])
    values = search.suggest(trial, dimensions)
    trial.set_user_attr("settings", values)
    trial.set_user_attr("device", str(device))
    trial.set_user_attr("versions", library_versions())
    seconds, judged = 0.0, set(rungs(params))

    def after_epoch(row: dict) -> None:
        nonlocal seconds
        seconds = row["seconds"]
        trial.set_user_attr(f"epoch{row['epoch']}", {"accuracy": row["validation_accuracy"],
                                                     "loss": row["validation_loss"], "seconds": row["seconds"]})
        trial.report(row["validation_accuracy"], row["epoch"])
        if row["epoch"] in judged and trial.should_prune():
            raise optuna.TrialPruned()

    state, value = TrialState.COMPLETE, None
    try:
        _, record = train(trial_config(preset, params, values), dataset, device, log=lambda _: None,
                          after_epoch=after_epoch)
        value = record["history"][-1]["validation_accuracy"]
    except optuna.TrialPruned:
        state = TrialState.PRUNED
    except Exception as err:  # noqa: BLE001 - a bad setting fails its trial, not the tuning
        state = TrialState.FAIL
        trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
    trial.set_user_attr("seconds", round(seconds, 1))
    trial.set_user_attr("load", round(os.getloadavg()[0], 2))  # what else ran on the machine meanwhile
    frozen = trial.study.tell(trial, value if state == TrialState.COMPLETE else None,
                              state=None if state == TrialState.COMPLETE else state)
    return account(preset, frozen)


def epochs_trained(attrs: dict) -> list[int]:
    """The epochs a trial recorded (user attributes epoch1, epoch2, ... set by run_trial), in order."""
    return sorted(int(k[len("epoch"):]) for k in attrs if k.startswith("epoch"))


def account(preset: str, trial: optuna.trial.FrozenTrial) -> str:
    settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in trial.user_attrs.get("settings", {}).items())
    epochs = epochs_trained(trial.user_attrs)
    accuracy = ", ".join(f"{100 * trial.user_attrs[f'epoch{e}']['accuracy']:.2f}% @{e}" for e in epochs
                         if e in trial.intermediate_values)
    outcome = {TrialState.COMPLETE: "finished", TrialState.PRUNED: f"pruned after epoch {epochs[-1] if epochs else 0}",
               TrialState.FAIL: f"failed ({trial.user_attrs.get('error', 'no reason recorded')})"}[trial.state]
    return (f"{preset} trial {trial.number}: {settings} | validation {accuracy or '-'} | {outcome} | "
            f"{trial.user_attrs.get('seconds', 0):.0f} s")


def work(preset: str, params: dict, location: str, dataset_path: Path, root: Path = Path("."),
         table: Path | None = None) -> int:
    """A worker: take trials from the tuning until none is left, rewriting its table (if it has one) after
    each; return how many it ran."""
    torch.set_num_threads(1)
    device = resolve_device(params["train"]["device"])
    storage = open_storage(location)
    study = optuna.load_study(study_name=preset, storage=storage, pruner=pruner(params))
    dataset, done = None, 0
    while not (root / STOP).exists() and (trial := claim(study, storage)) is not None:
        dataset = dataset if dataset is not None else hold_out_split(params, dataset_path, device)
        print(run_trial(trial, preset, params, dataset, device), flush=True)
        if table is not None:
            write_table(table, study, params)
        done += 1
    return done


@dataclass(frozen=True)
class Worker:
    """One tuning worker as a Dask task: what it tunes, where the tuning is kept, and the code and data
    the worker must have (study_task.check_worker)."""
    preset: str
    params: dict
    location: str
    dataset: str
    commit: str
    data_md5: str | None
    table: str | None = None  # where the tuning's table is rewritten after each trial; none for a scratch storage
    number: int = 0

    def numbered(self, number: int) -> Worker:
        return replace(self, number=number)


def work_on(job: Worker) -> int:
    """A Dask task: check the worker, then work; return how many trials it ran."""
    study_task.check_worker(job.commit, job.data_md5)
    return work(job.preset, job.params, job.location, Path(job.dataset), table=Path(job.table) if job.table else None)


def table(study: optuna.Study, params: dict) -> pd.DataFrame:
    """Every trial begun, by number: its settings, Optuna's state, epochs trained, validation accuracy
    and loss after each epoch it trained, and seconds of training."""
    keys = [d.key for d in search.parse(study.study_name, params["optimizers"][study.study_name])]
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.WAITING:
            continue
        attrs = trial.user_attrs
        row = {"number": trial.number, **{k: attrs.get("settings", {}).get(k) for k in keys},
               "state": INTERRUPTED if interrupted(trial) else trial.state.name,
               "epochs": len(epochs_trained(attrs))}
        for epoch in recorded_epochs(params):
            reached = attrs.get(f"epoch{epoch}", {})
            row[f"val_accuracy@{epoch}"] = _rounded(reached.get("accuracy"))
            row[f"val_loss@{epoch}"] = _rounded(reached.get("loss"))
        row.update(seconds=attrs.get("seconds"), device=attrs.get("device"), load=attrs.get("load"))
        rows.append(row)
    columns = ["number", *keys, "state", "epochs",
               *(f"val_{m}@{e}" for e in recorded_epochs(params) for m in ("accuracy", "loss")),
               "seconds", "device", "load"]
    return pd.DataFrame(rows, columns=columns)


def _rounded(value):
    return None if value is None or not math.isfinite(value) else round(value, PRECISION)


def write_table(path: Path, study: optuna.Study, params: dict) -> Path:
    atomic_files.write_text(path, table(study, params).to_csv(index=False))
    return path


