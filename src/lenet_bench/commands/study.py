"""Run the study: every optimizer preset x scenario x seed, on a Dask cluster or as DVC experiments.

examples:
  lenet-bench study                          # everything: the futility stop's seeds, then study.seeds for the rest
  lenet-bench study --presets momentum,adam --seeds 0 --scenarios standard
  lenet-bench study --dry-run                # what would run, and what is done
  lenet-bench study --scheduler tcp://host:8786   # the workers of a running Dask cluster
  lenet-bench study --cluster slurm --workers 32  # workers from Slurm (dask-jobqueue)
  lenet-bench study --with-dvc --jobs 2      # each run a DVC experiment, through DVC's local queue
  lenet-bench study --ablation               # the chosen method with one component off at a time (study.ablation)
  lenet-bench study --presets kfac --scenarios standard --tuning tuning/seed1 --export results/tuning_seed1.csv
                                             # the best settings of another tuning, its own export
  lenet-bench study --presets momentum --epochs 1 --export results/smoke.csv   # a smoke run

Without --seeds, every preset first runs the seeds of params.yaml's study.futility in each scenario; once a
scenario has them all, the presets the stop keeps (more than max_gap below the best) stay there and the rest
run every seed of study.seeds, in the same command.

Every run is made on the CPU with one torch thread (lenet_bench.study.export.DEVICE, THREADS), so that every
table compares runs made on one kind of hardware. On Dask, one run (a preset, seed and scenario) is one
task; results come back to this process, which alone appends each to results/study.csv as it arrives
(learning curves in results/study_curves.csv), so a stopped study loses only the runs in flight. A run
whose worker died goes to another worker; one that fails on its own is recorded beside the export
(results/study_failures.csv) and not retried. Runs already in the export with the same settings are skipped,
so a study can stop and go on later, on this machine or another. Exits non-zero if a run failed.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from lenet_bench.commands import dask_options
from lenet_bench.paths import DATASET, EXPORT


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--presets", help="comma-separated presets (default: every preset in params.yaml)")
    parser.add_argument("--scenarios", help="comma-separated scenarios (default: every scenario)")
    parser.add_argument("--seeds", help="seeds, e.g. 0,1,2 or 0-9, for every selected preset and scenario (default: "
                        "study.futility's seeds, then study.seeds for the presets the stop keeps running)")
    parser.add_argument("--epochs", type=int, help="override train.epochs (e.g. 1 for a smoke test, in a copy of the "
                        "repository: the export keeps one result per preset, scenario and seed, so this refuses "
                        "to replace results of another budget)")
    parser.add_argument("--export", type=Path, default=EXPORT,
                        help=f"the export to read and append to (default {EXPORT}; its learning curves go "
                             "beside it, <name>_curves.csv)")
    parser.add_argument("--ablation", action="store_true", help="the variants of params.yaml's study.ablation, each "
                        "a preset with one component off, on its scenario and seeds (export: results/ablation.csv)")
    parser.add_argument("--tuning", type=Path, help="take each preset's settings from the best finished trial of "
                        "this folder's tuning (e.g. tuning/seed1) instead of params.yaml; needs its own --export")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--redo", action="store_true",
                        help="run the selected results again even if the export has them (after a fix to a "
                             "method's code); each row is replaced when its new run is recorded")
    where = parser.add_argument_group("where the runs execute (default: a local Dask cluster, a worker per core)")
    dask_options.add_arguments(where, "local Dask worker processes, or Slurm jobs (default: cores)", None)
    where.add_argument("--with-dvc", action="store_true", help="queue each run as a DVC experiment instead")
    where.add_argument("--jobs", type=int, default=2, help="with --with-dvc: DVC queue workers (default 2)")
    where.add_argument("--poll", type=float, default=60,
                       help="with --with-dvc: seconds between checks (each `dvc queue status` costs CPU)")


def run(args) -> None:
    from lenet_bench import params as params_module
    from lenet_bench.params import ParamError
    from lenet_bench.study import ablation, cluster

    params = params_module.load()
    if args.with_dvc and (args.scheduler or args.scheduler_file or args.cluster or args.workers):
        sys.exit("error: --with-dvc runs on DVC's local queue: drop --scheduler, --scheduler-file, --cluster and "
                 "--workers")
    if not args.with_dvc:
        if refused := dask_options.check_timeout(args):
            sys.exit(refused)
        args.scheduler = cluster.scheduler_address(args.scheduler, args.scheduler_file)
    for flag, value in (("--workers", args.workers), ("--epochs", args.epochs), ("--jobs", args.jobs)):
        if value is not None and value < 1:
            sys.exit(f"error: {flag} must be at least 1, got {value}")
    if refused := dask_options.check_workers(args):
        sys.exit(refused)
    if args.ablation:
        if args.presets or args.tuning or args.scenarios or args.seeds or args.with_dvc:
            sys.exit("error: --ablation takes its presets, scenario and seeds from params.yaml's study.ablation; drop "
                     "--presets, --tuning, --scenarios, --seeds and --with-dvc")
        if "ablation" not in params["study"]:
            sys.exit("error: --ablation: params.yaml declares no study.ablation (a preset, a scenario, seeds and "
                     "variants; see its comments)")
        if args.export == EXPORT:
            args.export = ablation.EXPORT
        spec = params["study"]["ablation"]
        try:
            params, variants = ablation.tuned_variants(params)
        except (ValueError, ParamError) as err:
            sys.exit(f"error: {err}")
        args.presets, args.scenarios = ",".join(variants), spec["scenario"]
        args.seeds = ",".join(map(str, spec["seeds"]))
    if args.epochs is not None and args.epochs != params["train"]["epochs"] and args.export == EXPORT:
        sys.exit(f"error: --epochs {args.epochs} is not the study's budget ({params['train']['epochs']} epochs): write "
                 "such runs to an export of their own, e.g. --export results/smoke.csv")
    if args.tuning and args.export == EXPORT:
        sys.exit(f"error: --tuning runs settings params.yaml does not hold; give them an export of their own "
                 f"(--export results/tuning_{args.tuning.name}.csv), not {EXPORT}")
    while True:  # without --seeds, the futility stop's seeds first; once decided, the seeds it owes the rest
        runs = planned(params, args)
        if not runs or args.dry_run:
            return
        if args.with_dvc:
            with_dvc_queue(runs, args)
        else:
            on_dask(runs, args)
        if args.seeds:
            return


def planned(params: dict, args) -> list:
    """The runs still to do for the command line (printed; exits on a bad one), or none."""
    from lenet_bench.params import ParamError
    from lenet_bench.report.text import count, first_few
    from lenet_bench.study import export
    from lenet_bench.study.study import grid, owed_seeds, parse_seeds, plan, replaced_budgets
    from lenet_bench.study.study_task import data_md5

    presets = args.presets.split(",") if args.presets else list(params["optimizers"])
    scenarios = args.scenarios.split(",") if args.scenarios else list(params["scenarios"])
    try:
        if args.tuning:
            params = tuned_by(params, presets, args.tuning)
        current = export.read_export(export=args.export)
        seeds = parse_seeds(args.seeds) if args.seeds else None
        wanted = grid(presets, scenarios, seeds) if seeds else owed_seeds(current, params, presets, scenarios)
        if args.redo:
            current = current[~export.selected(current, presets, scenarios, seeds or params["study"]["seeds"])]
        runs, already = plan(params, wanted, export.THREADS, args.epochs, current)
    except (ValueError, ParamError) as err:
        sys.exit(f"error: {err}")
    if replaced := replaced_budgets(runs, export.read_export(export=args.export), params):
        sys.exit(f"error: --epochs {args.epochs} would replace {len(replaced)} result(s) of another epoch budget in "
                 f"{args.export} ({first_few(replaced)}); write a smoke run "
                 "to an export of its own: --export results/smoke.csv")
    todo = sum(len(run.scenarios) for run in runs)
    total = sum(len(s) for s in wanted.values())
    print(f"study: {count(len(presets), 'preset')} x {count(len(scenarios), 'scenario')}, {total} results "
          f"({'seeds ' + args.seeds if seeds else 'the futility stop decides the seeds'}); "
          f"{already} already in {args.export}, {todo} to run")
    if not runs:
        print(f"study: nothing to run: every result asked for is in {args.export} at the current settings"
              + ("" if args.redo else " (--redo runs them again)"))
        return []
    if args.dry_run:
        for run in runs:
            print(f"  {run.name}: {', '.join(run.scenarios)}")
        return runs
    if not args.with_dvc and data_md5() is None:
        sys.exit(f"error: {DATASET} is missing; make it first: dvc repro prepare_data")
    if args.redo:  # the old rows stay until their new runs are recorded: a stopped redo loses nothing
        print(f"--redo: {todo} result(s) in {args.export} are replaced as their new runs are recorded")
        args.redo = False  # once: the next round of the loop must not redo what this one recorded
    return runs


def tuned_by(params: dict, presets: list[str], folder: Path) -> dict:
    """params.yaml with each preset set to the best finished trial of its tuning in `folder`."""
    from lenet_bench.tuning import search, tuning_tables

    params = copy.deepcopy(params)
    for preset in presets:
        trials = tuning_tables.read_table(preset, folder=folder)
        if trials is None or tuning_tables.finished(trials) < params["tuning"]["trials"]:
            raise ValueError(f"--tuning {folder}: {preset} has no finished tuning there ({folder}/{preset}.csv); "
                             f"tune it first: lenet-bench tune --presets {preset} --sampler-seed <N>")
        params["optimizers"][preset] = search.with_values(params["optimizers"][preset],
                                                          tuning_tables.best_settings(preset, trials, params))
    return params


def on_dask(runs, args) -> None:
    """One task per run and scenario, the fewest samples per step first (the longest runs start first)."""
    from lenet_bench.study import cluster, export
    from lenet_bench.study.study_task import Task, code_commit, data_md5, execute

    commit, md5 = code_commit(), data_md5()
    failures_file = export.failures_path(args.export)  # beside the export: a smoke run's failures stay with it
    tasks = sorted((Task(f"{run.name}-{s}", s, run.params, commit, md5) for run in runs for s in run.scenarios),
                   key=lambda task: task.params["optimizers"][task.params["optimizer"]["name"]]["batch_size"])
    if commit.endswith("-dirty") or commit == "unknown":
        print(f"warning: the code is at {commit}: the export's rows will not name a commit that holds it")

    def recorded(task: Task, result: export.Experiment) -> None:
        export.record(result, [task.scenario], export=args.export)
        export.forget_failure(failures_file, task.params, task.scenario)
        m = result.metrics[f"metrics/{task.scenario}.json"]
        print(f"{task.name}: {100 * m['test']['accuracy']:.2f}% in {m['cost']['seconds']:.0f} s", flush=True)

    def failed(task: Task, err: BaseException) -> None:
        export.record_failure(failures_file, task.params, task.scenario, f"{type(err).__name__}: {err}")
        print(f"error: {err}", file=sys.stderr, flush=True)

    with cluster.connect(args.scheduler, args.cluster == "slurm", args.workers,
                         args.scheduler_timeout) as client:
        failures = cluster.run_all(client, execute, tasks, label=lambda task: task.name,
                                   on_result=recorded, on_failure=failed)
    if failures:
        sys.exit(f"error: {failures} of {len(tasks)} run(s) failed (listed in {failures_file}); fix, and run this "
                 "command again (it reruns only what is missing)")
    print(f"study: all {len(tasks)} runs recorded in {args.export}")


def free_name(name: str, taken: set[str]) -> str:
    """DVC names an experiment once per commit: a rerun gets a suffix."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def with_dvc_queue(runs, args) -> None:
    from lenet_bench.study import dvc_queue, export
    from lenet_bench.study.dvc_experiments import finished_experiments, with_curves
    from lenet_bench.study.study import adopt, overrides

    # What an earlier, stopped study command left: finished experiments to record, queued ones to wait
    # for (not with --redo: those ran the code that is being redone).
    if not args.redo:
        runs, adopted = adopt(runs, finished_experiments())
        if adopted:
            print(f"recorded {adopted} result(s) that finished experiments of this study already held")
        if not runs:
            return
    states = dvc_queue.queue_status()
    queued = {run.name: run for run in runs if states.get(run.name) in ("Queued", "Running") and not args.redo}
    if queued:
        print(f"waiting for {len(queued)} experiment(s) an earlier study command queued")
    taken = {e.name for e in finished_experiments()} | set(states)
    for run in runs:
        if run.name in queued:
            continue
        name = free_name(run.name, taken)
        taken.add(name)
        dvc_queue.queue_experiment(name, overrides(run.preset, run.seed, export.THREADS, args.epochs),
                                   [f"evaluate@{s}" for s in run.scenarios])
        queued[name] = run
    dvc_queue.start_queue(args.jobs)

    def record(names: list[str]) -> None:
        experiments = {e.name: e for e in finished_experiments()}
        for name in names:
            export.record(with_curves(experiments[name], queued[name].scenarios), queued[name].scenarios,
                          export=args.export)

    failed = dvc_queue.wait(queued, args.poll, record)
    if failed:
        sys.exit(f"error: {len(failed)} experiment(s) failed: {', '.join(sorted(failed))}; "
                 "see `dvc queue logs <name>`, fix, and run this command again (it reruns only what is missing)")
    print(f"study: all {len(queued)} experiments recorded in {args.export}")
