"""Tune presets on Optuna, each with the same budget of trials from its declared search space.

examples:
  lenet-bench tune --presets adam               # tune one preset (resumes a stopped tuning)
  lenet-bench tune --presets adam,nadam --workers 2   # a local Dask cluster of two workers, one thread each
  lenet-bench tune --all                        # every preset but tuning.fixed, one after the other
  lenet-bench tune --presets adam --storage postgresql://host/db --scheduler tcp://host:8786   # many machines
  lenet-bench tune --presets adam --apply       # write the best finished trial into presets.yaml
  lenet-bench tune --all --table-only           # rebuild tuning/<preset>.csv from the storages
  lenet-bench tune --presets kfac --unpruned    # the same trials, none pruned (tuning/unpruned/), for the audit
  lenet-bench tune --audit                      # replay successive halving on the unpruned tunings: which rungs
  lenet-bench tune --presets kfac --sampler-seed 1   # an independent tuning (tuning/seed1/): tuning variance
  lenet-bench tune --ablation                   # each variant of study.ablation: its lr tuned again (tuning/ablation/)
  lenet-bench tune --presets adam --trials 2 --epochs 1 --storage /tmp/smoke.journal   # a smoke tuning
  optuna-dashboard tuning/adam.journal          # browse a tuning (pip install 'lenet-bench[dashboards]')

Trials train for train.epochs on the training images less tuning.validation_size and are judged on
those held out; a pruner stops those that fall behind at the rungs. Each trial prints one line; the
table of every trial is tuning/<preset>.csv, rewritten after each one. With more than one worker (or a
--scheduler, or --cluster slurm), each worker is one Dask task taking trials from the shared storage
until the budget is spent. To stop without losing a trial, `touch tuning/STOP`: the workers finish the
trials they are running and take no more (delete the file to go on).
"""
from __future__ import annotations

import argparse
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from lenet_bench.commands import dask_options
from lenet_bench.paths import DATASET, PARAMS

POLL_SECONDS = 5  # how often the progress bar reads the tuning's storage
MAX_ROUNDS = 3  # rounds of workers in one command: the reruns of trials whose worker died go in the next


def chosen_presets(args, params: dict) -> list[str]:
    from lenet_bench.params import did_you_mean

    tuned = [name for name in params["optimizers"] if name not in params["tuning"]["fixed"]]
    if args.all:
        return tuned
    if not args.presets:
        sys.exit("error: name the presets to tune: --presets adam,nadam (comma-separated), or give --all")
    names = args.presets.split(",")
    for name in names:
        if name in params["tuning"]["fixed"]:
            sys.exit(f"error: preset '{name}' is in tuning.fixed (the brief's baseline) and is not tuned")
        if name not in params["optimizers"]:
            sys.exit(f"error: unknown preset '{name}'{did_you_mean(name, tuned)}; presets: {', '.join(tuned)}")
    return names


def apply(preset: str, params: dict) -> None:
    from lenet_bench import params as params_module
    from lenet_bench import params_writer
    from lenet_bench.tuning import tuning_tables

    trials = tuning_tables.read_table(preset)
    budget = params["tuning"]["trials"]
    if trials is None:
        sys.exit(f"error: {preset}: no {tuning_tables.TABLES}/{preset}.csv; tune it first: "
                 f"lenet-bench tune --presets {preset}")
    if tuning_tables.finished(trials) < budget:
        sys.exit(f"error: {preset}: {tuning_tables.finished(trials)} of its {budget} trials have finished; "
                 f"finish the tuning first: lenet-bench tune --presets {preset}")
    try:
        values = tuning_tables.best_settings(preset, trials, params)
    except tuning_tables.TuningError as err:
        sys.exit(f"error: {err}")
    changes = params_writer.set_preset(params_module.presets_file(PARAMS), preset, values)
    print(f"{preset}: best trial {int(tuning_tables.best(trials, params)['number'])} of tuning/{preset}.csv")
    print("\n".join(f"  {change}" for change in changes) or f"  optimizers.{preset} already holds its settings")


def table_for(location: str, args) -> Path | None:
    """Where the tuning's table goes: --table if given; beside its journal; for a database given by
    --storage, nowhere. A table under tuning/ belongs to the storage beside it, and no other."""
    if args.table:
        return args.table
    if "://" in location:
        return None
    return Path(location).with_suffix(".csv")


def tune(preset: str, params: dict, args, folder: Path) -> None:
    import optuna

    from lenet_bench.tuning import tuning, tuning_tables

    location = args.storage or tuning.default_storage(preset, folder=folder)
    table = table_for(location, args)
    if args.table_only and "://" not in location and not Path(location).exists():
        print(f"{preset}: not tuned yet ({location} does not exist)")
        return
    storage = tuning.open_storage(location)
    try:  # a table is rebuilt from the tuning as it stands: nothing is created or enqueued for it
        study = (optuna.load_study(study_name=preset, storage=storage) if args.table_only
                 else tuning.open_tuning(preset, params, storage, location))
    except (tuning_tables.TuningError, KeyError) as err:
        sys.exit(f"error: {err}")
    if not args.table_only:
        report_orphans(preset, tuning.fail_orphans(study, storage, location, everywhere=args.fail_running))
    waiting = len(study.get_trials(deepcopy=False, states=(tuning.TrialState.WAITING,)))
    rungs = tuning_tables.rungs(params)
    pruning = f"pruning at epochs {', '.join(map(str, rungs))}" if rungs else "no pruning"
    print(f"{preset}: {params['tuning']['trials']} trials, {waiting} still to run, {args.workers} worker(s); "
          f"{pruning}; table: {table or 'none (give --table PATH)'}", flush=True)
    if (Path(".") / tuning.STOP).exists() and waiting and not args.table_only:
        print(f"{preset}: {tuning.STOP} exists, so no trial starts; delete it to go on")
    elif waiting and not args.table_only:
        with trials_bar(study, params["tuning"]["trials"]):
            for _ in range(MAX_ROUNDS):  # a worker that died left its trial running: it runs again
                if args.workers == 1 and not (args.scheduler or args.cluster):
                    tuning.work(preset, params, location, DATASET, table=table)
                else:
                    on_cluster(preset, params, location, args, waiting, table)
                orphans = tuning.fail_orphans(study, storage, location)
                report_orphans(preset, orphans)
                waiting = len(study.get_trials(deepcopy=False, states=(tuning.TrialState.WAITING,)))
                if not orphans or not waiting or (Path(".") / tuning.STOP).exists():
                    break
    trials = tuning.table(study, params)
    if table is not None:
        tuning.write_table(table, study, params)
    summarize(preset, trials, params, table)


def report_orphans(preset: str, orphans: list[int]) -> None:
    if orphans:
        print(f"{preset}: trial(s) {', '.join(map(str, orphans))} had lost their worker: marked FAIL (interrupted), "
              "enqueued again with the same settings")


@contextmanager
def trials_bar(study, total: int):
    """A progress bar over the tuning's finished trials, read from its storage every few seconds while
    the workers run (they may be on other machines)."""
    from tqdm import tqdm

    from lenet_bench.tuning.tuning import interrupted

    def finished() -> int:
        return sum(t.state.is_finished() and not interrupted(t) for t in study.get_trials(deepcopy=False))

    stop = threading.Event()
    with tqdm(total=total, initial=finished(), unit="trial", dynamic_ncols=True) as bar:
        def poll() -> None:
            while not stop.wait(POLL_SECONDS):
                bar.update(finished() - bar.n)
        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            bar.update(finished() - bar.n)


def on_cluster(preset: str, params: dict, location: str, args, waiting: int, table: Path | None) -> None:
    """One Dask task per worker, each taking trials from the shared storage until none is left."""
    from lenet_bench.study import cluster, study_task
    from lenet_bench.tuning import tuning

    if "://" not in location and args.scheduler:
        print(f"{preset}: workers on other machines need {location} on a shared file system, or --storage URL")
    job = tuning.Worker(preset, params, location, str(DATASET), study_task.code_commit(),
                        study_task.data_md5(), str(table) if table else None)
    with cluster.connect(args.scheduler, args.cluster == "slurm", args.workers,
                         args.scheduler_timeout) as client:
        workers = min(args.workers, waiting) if not args.scheduler else len(client.scheduler_info()["workers"])
        failures = cluster.run_all(client, tuning.work_on, [job.numbered(i) for i in range(max(workers, 1))],
                                   label=lambda j: f"tune-{preset}-{j.number}", bar=False,
                                   on_result=lambda j, done: None,
                                   on_failure=lambda j, err: print(f"error: {preset} worker {j.number}: {err}"))
    if failures:
        print(f"{preset}: {failures} worker task(s) failed; their trials, if any, are marked FAIL")


def summarize(preset: str, trials, params: dict, path: Path | None) -> None:
    from lenet_bench.tuning import tuning_tables

    trials_allowed, epochs = params["tuning"]["trials"], params["train"]["epochs"]
    spent = tuning_tables.budget_used(trials)
    line = (f"{preset}: {spent.done} of {trials_allowed} trials done ({spent.complete} finished, "
            f"{spent.pruned} pruned, {spent.failed} failed); {spent.epochs} epochs spent, "
            f"{spent.epochs / epochs:.1f} full runs against {trials_allowed} unpruned")
    chosen = tuning_tables.best(trials, params)
    if chosen is not None:
        line += (f"; best trial {int(chosen['number'])}: "
                 f"{100 * chosen[f'val_accuracy@{epochs}']:.2f}% on validation")
    print(line + (f"\nwrote {path}" if path else ""))


def run_audit(presets: list[str], params: dict) -> None:
    """Replay successive halving on the unpruned tunings of `presets`; print the table, write it to
    tuning/audit.csv, and say which rungs it chooses."""
    from lenet_bench import atomic_files
    from lenet_bench.tuning import audit, tuning_tables

    budget, epochs, settings = params["tuning"]["trials"], params["train"]["epochs"], params["tuning"]["audit"]
    _, unpruned = tuning_tables.variant(params, unpruned=True)
    tables = {}
    for preset in presets:
        trials = tuning_tables.read_table(preset, folder=unpruned)
        if trials is None:
            pruned = tuning_tables.read_table(preset)
            if pruned is not None and (pruned["state"] == "PRUNED").any():
                sys.exit(f"error: {preset}: its tuning ({tuning_tables.TABLES}/{preset}.csv) was pruned, so it has "
                         "no full curves to replay; tune it unpruned first: "
                         f"lenet-bench tune --presets {preset} --unpruned")
            sys.exit(f"error: {preset}: no unpruned tuning to replay ({unpruned}/{preset}.csv); "
                     f"run it first: lenet-bench tune --presets {preset} --unpruned")
        if tuning_tables.finished(trials) < budget:
            sys.exit(f"error: {preset}: {tuning_tables.finished(trials)} of the {budget} trials of its unpruned tuning "
                     f"have finished; finish it first: lenet-bench tune --presets {preset} --unpruned")
        if (trials["state"] == "PRUNED").any():
            sys.exit(f"error: {preset}: {unpruned}/{preset}.csv holds pruned trials, so it has no full curves "
                     "to replay; delete it and its journal, and tune it again with --unpruned")
        tables[preset] = trials
    replays = audit.audit(tables, settings, epochs)
    path = tuning_tables.TABLES / "audit.csv"
    atomic_files.write_text(path, replays.to_csv(index=False))
    print(audit.markdown(replays, settings["max_regret"]))
    choice = audit.chosen(replays, settings["max_regret"])
    wanted = audit.describe_rungs(choice)
    agrees = params["tuning"]["rungs"] == choice
    print(f"\nchosen rungs: {wanted} (the cheapest schedule within {100 * settings['max_regret']:.2f} points of "
          f"regret on every audited preset); params.yaml's tuning.rungs "
          + ("agrees" if agrees else f"differs: set it to {wanted}"))
    print(f"wrote {path}")


def committed_tuning_file(args) -> str | None:
    """Why --storage or --table is refused: a journal or table under tuning/ belongs to its own tuning (the
    committed evidence, found there by default), so a command never writes another one into it."""
    from lenet_bench.tuning.tuning_tables import TABLES

    for flag, value in (("--storage", args.storage), ("--table", args.table)):
        if value is None or "://" in str(value):
            continue
        path = Path(value).resolve()
        if path == TABLES.resolve() or TABLES.resolve() in path.parents:
            return (f"error: {flag} {value}: the journals and tables under {TABLES}/ are the committed tunings, each "
                    f"written only by its own tuning (the default); give a path outside it, e.g. {flag} "
                    f"/tmp/smoke{Path(str(value)).suffix or '.journal'}")
    return None


def tune_ablation(params: dict, args) -> None:
    """Tune the lr of every variant of study.ablation, one after the other, in tuning/ablation/."""
    from lenet_bench.study import ablation

    if "ablation" not in params["study"]:
        sys.exit("error: --ablation: params.yaml declares no study.ablation (a preset, a scenario, seeds and variants)")
    if args.presets or args.all or args.apply or args.unpruned or args.sampler_seed is not None or args.storage \
            or args.table:
        sys.exit("error: --ablation tunes the variants of study.ablation in tuning/ablation/; drop --presets, --all, "
                 "--apply, --unpruned, --sampler-seed, --storage and --table")
    if not args.table_only and not DATASET.exists():
        sys.exit(f"error: {DATASET} is missing; make it first: dvc repro prepare_data")
    params, variants = ablation.variant_tunings(params)
    for variant in variants:
        tune(variant, params, args, ablation.TUNINGS)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", help="comma-separated presets")
    parser.add_argument("positional", nargs="?", help=argparse.SUPPRESS)  # the old form, answered with the new
    parser.add_argument("--all", action="store_true", help="every preset but those in tuning.fixed")
    dask_options.add_arguments(parser, "Dask worker processes on this machine, or Slurm jobs (default 1: this process)",
                               1)
    parser.add_argument("--storage", help="an Optuna storage URL or journal path (default tuning/<preset>.journal)")
    parser.add_argument("--trials", type=int, help="override tuning.trials (a smoke tuning; needs --storage)")
    parser.add_argument("--epochs", type=int, help="override train.epochs (a smoke tuning; needs --storage)")
    parser.add_argument("--table", type=Path, help="where to write the table of trials (default: beside the journal; "
                        "none for a database --storage)")
    parser.add_argument("--apply", action="store_true", help="write each preset's best trial into presets.yaml")
    parser.add_argument("--table-only", action="store_true", help="rebuild the tables; run no trial")
    parser.add_argument("--unpruned", action="store_true",
                        help="tune with no pruning, in tuning/unpruned/ (the pruning audit replays these)")
    parser.add_argument("--sampler-seed", type=int,
                        help="draw the trials with another sampler seed, in tuning/seed<N>/ (tuning variance)")
    parser.add_argument("--audit", action="store_true",
                        help="replay successive halving on the unpruned tunings of tuning.audit.presets (or of the "
                             "presets named) and print which rungs to use; runs no trial")
    parser.add_argument("--ablation", action="store_true",
                        help="tune the lr of every variant of params.yaml's study.ablation (study.ablation.lr_trials "
                             "trials over its preset's lr range, the same rungs), in tuning/ablation/")
    parser.add_argument("--fail-running", action="store_true",
                        help="mark FAIL the trials other machines' workers left running (after those stopped)")


def run(args) -> None:
    if args.positional:
        sys.exit(f"error: name presets with --presets: lenet-bench tune --presets {args.positional}")
    from lenet_bench import params as params_module
    from lenet_bench.params import ParamError
    from lenet_bench.study import cluster
    from lenet_bench.tuning import tuning_tables

    if refused := dask_options.check_timeout(args):
        sys.exit(refused)
    args.scheduler = cluster.scheduler_address(args.scheduler, args.scheduler_file)
    params = params_module.load(PARAMS)
    try:
        params_module.check(params)
    except ParamError as err:
        sys.exit(f"error: params.yaml: {err}")
    if args.workers < 1:
        sys.exit(f"error: --workers must be at least 1, got {args.workers}")
    if refused := dask_options.check_workers(args):
        sys.exit(refused)
    for flag, value in (("--trials", args.trials), ("--epochs", args.epochs)):
        if value is not None and value < 1:
            sys.exit(f"error: {flag} must be at least 1, got {value}")
        if value is not None and not args.storage:
            sys.exit(f"error: {flag} makes a tuning on other terms than params.yaml's; keep it out of tuning/ with "
                     "--storage, e.g. --storage /tmp/smoke.journal")
    if refused := committed_tuning_file(args):
        sys.exit(refused)
    if args.trials:
        params["tuning"]["trials"] = args.trials
    if args.epochs:
        params["train"]["epochs"] = args.epochs
    if args.sampler_seed is not None and args.sampler_seed < 0:
        sys.exit(f"error: --sampler-seed must be at least 0, got {args.sampler_seed}")
    if args.audit and not (args.presets or args.all or params["tuning"]["audit"]["presets"]):
        sys.exit("error: tuning.audit.presets is empty; name the presets to audit there, or on the command line")
    if args.audit:
        run_audit(chosen_presets(args, params) if args.presets or args.all else params["tuning"]["audit"]["presets"],
                  params)
        return
    if args.ablation:
        tune_ablation(params, args)
        return
    presets = chosen_presets(args, params)
    if args.table and len(presets) > 1:
        sys.exit("error: --table names one table; tune one preset at a time with it")
    if args.apply and (args.unpruned or args.sampler_seed is not None or args.storage):
        sys.exit("error: --apply writes the best trial of the committed tuning (tuning/<preset>.csv) into "
                 "presets.yaml; drop --unpruned, --sampler-seed and --storage")
    if args.apply:
        for preset in presets:
            apply(preset, params)
        return
    if not args.table_only and not DATASET.exists():
        sys.exit(f"error: {DATASET} is missing; make it first: dvc repro prepare_data")
    params, folder = tuning_tables.variant(params, args.unpruned, args.sampler_seed)
    for preset in presets:
        tune(preset, params, args, folder)
