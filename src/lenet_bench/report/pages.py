"""Markdown tables generated from committed files, kept between markers in README.md and report/*.md
(`lenet-bench pages` rewrites them)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from lenet_bench.params import load as load_params
from lenet_bench.registry import ALGORITHMS
from lenet_bench.report import calibration
from lenet_bench.report.results import read_audit, tuning_tables
from lenet_bench.report.text import device_label, escaped, hardware, mean_std
from lenet_bench.report.tuning_text import tuning_section
from lenet_bench.study.export import Sorted, read_export, sort_runs
from lenet_bench.tuning import audit


def _target(settings: dict) -> str:
    return f"{100 * settings['train']['target_accuracy']:.2f}%"


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _reached(epoch, grad_evals, seconds) -> str:
    if epoch is None or pd.isna(epoch):
        return "never"
    return f"epoch {epoch:.2f} ({grad_evals / 1e6:.2f} M grads, {seconds:.0f} s)"  # checked at quarter epochs


def _exported(root: Path, keep) -> pd.DataFrame:
    """The rows of the committed results/experiments.csv that `keep` selects (maybe none)."""
    path = root / "results" / "experiments.csv"
    runs = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["experiment", "scenario"])
    return runs[keep(runs)]


NOTHING_YET = "_nothing exported yet: see `lenet-bench export-experiments`_"


def sparse_table(root: Path) -> str:
    """Every exported run of the sparse scenario, against the exported dense (standard) run of the same
    preset, seed and thread count."""
    runs = _exported(root, lambda r: r["scenario"].isin(["sparse", "standard"]))
    sparse, dense = runs[runs["scenario"] == "sparse"], runs[runs["scenario"] == "standard"]
    if sparse.empty:
        return NOTHING_YET
    rows = ["| experiment | method | bound | nonzero fc1+fc2 | units fc1/fc2 | test accuracy | vs dense | test loss |",
            "|---|---|---|---|---|---|---|---|"]
    for _, r in sparse.sort_values(["density_bound", "test_accuracy"], ascending=[False, False]).iterrows():
        same = dense[(dense["preset"] == r["preset"]) & (dense["seed"] == r["seed"])
                     & (dense["threads"] == r["threads"]) & (dense["epochs_budget"] == r["epochs_budget"])]
        gap = r["test_accuracy"] - same["test_accuracy"].iloc[0] if not same.empty else None
        versus = f"{100 * gap:+.2f} pp vs {same['experiment'].iloc[0]}" if not same.empty else "–"
        rows.append(f"| {r['experiment']} | {r['sparsity_method']} | {r['density_bound']:g} "
                    f"| {int(r['nonzero_fc1_fc2']):,} ({100 * r['density']:.1f}%) "
                    f"| {int(r['fc1_units'])}/{int(r['fc2_units'])} | {_percent(r['test_accuracy'])} "
                    f"| {versus} | {r['test_loss']:.4f} |")
    return "\n".join(rows)


def pipeline_table(root: Path) -> str:
    """One row per scenario of the committed `dvc repro` run."""
    settings = load_params(root / "params.yaml")
    scenarios = settings["scenarios"]
    rows = [f"| scenario | preset | test accuracy | test loss | reached {_target(settings)} at | epochs "
            "| gradient evals | steps | train seconds | ran on | L2 applied |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in scenarios:
        path = root / "metrics" / f"{name}.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        record = root / "records" / f"{name}.json"
        if not record.exists() and "run" not in m:  # a stage in progress removed it: this scenario has no run yet
            continue
        cost, run = m["cost"], json.loads(record.read_text()) if record.exists() else m["run"]
        l2 = "none" if run["l2_mode"] == "none" else f"{run['l2_mode']}, wd={run['weight_decay']:g}"
        rows.append(f"| {name} | {run['optimizer']} | {_percent(m['test']['accuracy'])} | {m['test']['loss']:.4f} "
                    f"| {_reached(m['target']['epoch'], m['target']['grad_evals'], m['target']['seconds'])} "
                    f"| {cost['epochs']} | {cost['grad_evals']:,} | {cost['steps']:,} "
                    f"| {cost['seconds']:.0f} | {_hardware(run)} | {l2} |")
    return "\n".join(rows)


def _hardware(run: dict) -> str:
    """Where a run's seconds come from: the device, and on the CPU its threads and the machine's load."""
    device = run.get("device", "cpu")
    if device != "cpu" or "threads" not in run:
        return device
    load = f", load {run['load_average'] / run['cpus']:.2f}/CPU" if run.get("load_average") is not None else ""
    return device_label("cpu", run["threads"]) + load


def presets_table(root: Path) -> str:
    """Every preset of presets.yaml with its family, library and settings."""
    settings = load_params(root / "params.yaml")
    default = settings["optimizer"]["name"]
    rows = ["| preset | family | algorithm | library | batch | lr | schedule | own settings |",
            "|---|---|---|---|---|---|---|---|"]
    for name, preset in settings["optimizers"].items():
        algorithm = ALGORITHMS[preset["algorithm"]]
        library = algorithm.library
        schedule = dict(preset.get("schedule") or {"name": "constant"})
        schedule_text = schedule.pop("name") + "".join(f", {k}={v}" for k, v in schedule.items())
        own = ", ".join(f"{k}={preset[k]}" for k in algorithm.settings if k in preset) or "–"
        label = f"**{name}** (default)" if name == default else name
        rows.append(f"| {label} | {escaped(preset.get('family', '–'))} | {preset['algorithm']} | `{library}` "
                    f"| {preset['batch_size']:,} | {preset['lr']:g} | {schedule_text} | {own} |")
    return "\n".join(rows)


def speed_table(root: Path) -> str:
    """The committed outputs of benchmarks/epoch_speed.py: epoch_speed.json (CPU), epoch_speed_cuda.json."""
    results = [json.loads(p.read_text()) for p in (root / "benchmarks" / "epoch_speed.json",
                                                    root / "benchmarks" / "epoch_speed_cuda.json") if p.exists()]
    if not results:
        return _not_measured("epoch_speed")
    rows = ["| where | the brief's DataLoader loop (s/epoch) | this project's loop (s/epoch) | speed-up | median of |",
            "|---|---|---|---|---|"]
    for b in results:
        where = (f"{escaped(b['gpu'])} ({escaped(b['machine'])})" if "gpu" in b
                 else f"CPU only: {escaped(b['machine'])}, {b['threads']} torch threads") + f", torch {b['torch']}"
        rows.append(f"| {where} | {b['brief_seconds']:.2f} | {b['project_seconds']:.2f} "
                    f"| **{b['speedup']:.2f}×** | {b['repeats']} |")
    return "\n".join(rows)


def _benchmark(root: Path, name: str) -> dict | None:
    """The committed output of benchmarks/<name>.py, if it was measured."""
    path = root / "benchmarks" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _not_measured(name: str) -> str:
    return f"_not measured yet: run `python benchmarks/{name}.py --output benchmarks/{name}.json`_"


def _measured_on(b: dict) -> str:
    """Where a single-process CPU benchmark ran: threads, machine, and the load it shared the machine with."""
    return (f"{b['threads']} torch thread{'s' if b['threads'] > 1 else ''}, {escaped(b['machine'])}, "
            f"load average {b['load_average_before']:g} before it started")


def parallel_jobs_line(root: Path) -> str:
    """The committed output of benchmarks/parallel_jobs.py."""
    if (b := _benchmark(root, "parallel_jobs")) is None:
        return _not_measured("parallel_jobs")
    return (f"Two runs of `{b['preset']}` (one epoch on {b['samples']:,} images) took "
            f"{b['one_job_two_threads_seconds']:.1f} s one after the other with 2 threads each, and "
            f"{b['two_jobs_one_thread_seconds']:.1f} s at once with 1 thread each: **{b['speedup']:.2f}x** the "
            f"throughput ({b['cpus']} CPUs, torch {b['torch']}).")


def full_gradient_line(root: Path) -> str:
    """The committed output of benchmarks/full_gradient.py."""
    if (b := _benchmark(root, "full_gradient")) is None:
        return _not_measured("full_gradient")
    return (f"The gradient of {b['batch']:,} images took {b['one_pass_seconds']:.1f} s in one pass and "
            f"{b['chunked_seconds']:.1f} s in chunks of {b['chunk']:,}: **{b['speedup']:.2f}x** ({b['device']}, "
            f"{_measured_on(b)}; median of {b['repeats']}).")


def single_sample_line(root: Path) -> str:
    """The committed output of benchmarks/single_sample_step.py."""
    if (b := _benchmark(root, "single_sample_step")) is None:
        return _not_measured("single_sample_step")
    return (f"A one-sample step through the training loop took {b['loop_ms_per_step']:.2f} ms and a bare torch step "
            f"(zero_grad, loss, backward, step) {b['bare_ms_per_step']:.2f} ms: **{b['overhead']:.2f}x** "
            f"({_measured_on(b)}; median of {b['repeats']} blocks of {b['steps']} steps).")


def tuning_table(root: Path) -> str:
    """Each preset's tuning budget (tuning/<preset>.csv): the report's table."""
    params = load_params(root / "params.yaml")
    return tuning_section(params, tuning_tables(root, params))


def audit_table(root: Path) -> str:
    """The pruning audit's replay (tuning/audit.csv), with every audited preset's regret and epochs."""
    replays = read_audit(root)
    if replays is None:
        return "_the pruning audit has not run yet: see `lenet-bench tune --audit`_"
    return audit.markdown(replays, load_params(root / "params.yaml")["tuning"]["audit"]["max_regret"])


def preset_runs_table(root: Path) -> str:
    """One full-budget run of every preset (experiments named preset-<name>) in every scenario."""
    runs = _exported(root, lambda r: r["experiment"].str.startswith("preset-"))
    if runs.empty:
        return NOTHING_YET
    target = _target(load_params(root / "params.yaml"))
    rows = [f"| preset | lr | scenario | test accuracy | test loss | reached {target} at | gradient evals | steps "
            "| train seconds | threads |", "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in runs.sort_values(["scenario", "test_accuracy"], ascending=[False, False]).iterrows():
        reached = _reached(r["target_epoch"], r["target_grad_evals"], r["target_seconds"])
        rows.append(f"| {r['preset']} | {r['lr']:g} | {r['scenario']} | {_percent(r['test_accuracy'])} "
                    f"| {r['test_loss']:.4f} | {reached} | {int(r['grad_evals']):,} | {int(r['steps']):,} "
                    f"| {r['seconds']:.0f} | {int(r['threads'])} |")
    return "\n".join(rows)


def study_table(root: Path) -> str:
    """Every preset of params.yaml with its family and library, and its study results (results/study.csv):
    mean ± std over seeds per scenario, and the cost of the standard runs."""
    path = root / "results" / "study.csv"
    settings = load_params(root / "params.yaml")
    empty = pd.DataFrame(columns=["preset"])
    runs = sort_runs(read_export(root), settings) if path.exists() else Sorted(empty, empty, empty)
    study, stale, elsewhere = calibration.apply(runs.current, calibration.read(root)), runs.stale, runs.elsewhere
    scenarios = list(settings["scenarios"])
    target = _target(settings)
    rows = ["| preset | family | library | seeds | " + " | ".join(f"{s} test accuracy" for s in scenarios)
            + f" | standard test loss | standard: reached {target} | gradient evals | calibrated s/epoch |",
            "|---|---|---|---|" + "---|" * len(scenarios) + "---|---|---|---|"]
    for name, preset in settings["optimizers"].items():
        library = f"`{ALGORITHMS[preset['algorithm']].library}`"
        runs = study[study["preset"] == name]
        if runs.empty:
            why = ("settings changed since its study runs" if name in set(stale["preset"])
                   else f"only on other hardware ({hardware(elsewhere[elsewhere['preset'] == name])})"
                   if name in set(elsewhere["preset"]) else "not in the study yet")
            rows.append(f"| {name} | {escaped(preset.get('family', '–'))} | {library} | – | "
                        + " | ".join(why if i == 0 else "" for i in range(len(scenarios)))
                        + " | | | | |")
            continue
        by = {s: runs[runs["scenario"] == s] for s in scenarios}
        standard = by[scenarios[0]]
        cells = [mean_std(by[s]["test_accuracy"], 100, unit="%") for s in scenarios]
        reached = standard["target_epoch"].dropna()
        rows.append(f"| {name} | {escaped(preset.get('family', '–'))} | {library} | {runs['seed'].nunique()} | "
                    + " | ".join(cells) + f" | {mean_std(standard['test_loss'], digits=4)} "
                    f"| {len(reached)}/{len(standard)}" + (f", epoch {reached.mean():.1f}" if len(reached) else "")
                    + f" | {standard['grad_evals'].mean() / 1e6:.2f} M "
                    f"| {_seconds((standard['seconds'] / standard['epochs']).mean())} |")
    return "\n".join(rows)


def _seconds(value: float) -> str:
    return "not timed" if pd.isna(value) else f"{value:.1f}"


def calibrated_speed_table(root: Path) -> str:
    """`lenet-bench speed`'s timings (results/speed.csv): every preset's epoch and gradient evaluation."""
    timings = calibration.read(root)
    if timings is None:
        return "_not timed yet: run `lenet-bench speed` on an idle machine_"
    table = calibration.calibrated(timings)
    rows = ["| preset | s/epoch | µs per gradient evaluation | slowest / fastest round | rounds | load before (max) |",
            "|---|---|---|---|---|---|"]
    for preset, t in table.sort_values("seconds_per_epoch").iterrows():
        rows.append(f"| {preset} | {t['seconds_per_epoch']:.1f} | {1e6 * t['seconds_per_grad_eval']:.0f} "
                    f"| {t['spread']:.2f}x | {int(t['rounds'])} | {t['load_before']:.2f} |")
    first = timings.iloc[0]
    return ("\n".join(rows) + f"\n\n{escaped(first['machine'])}, {int(first['threads'])} torch thread, "
            f"torch {escaped(first['torch'])}; "
            "load is the 1-minute load average before the timing, its own thread included.")


def baseline_seeds_table(root: Path) -> str:
    """The brief's baseline (preset sgd) after 3 epochs, over seeds (experiments named sgd-3ep-seed<n>)."""
    runs = _exported(root, lambda r: r["experiment"].str.startswith("sgd-3ep-") & (r["scenario"] == "standard"))
    if runs.empty:
        return NOTHING_YET
    rows = ["| seed | test accuracy after 3 epochs | test loss |", "|---|---|---|"]
    for _, r in runs.sort_values("seed").iterrows():
        rows.append(f"| {int(r['seed'])} | {_percent(r['test_accuracy'])} | {r['test_loss']:.4f} |")
    acc = runs["test_accuracy"]
    rows.append(f"| **spread** | {_percent(acc.min())} to {_percent(acc.max())} (mean {_percent(acc.mean())}) | |")
    return "\n".join(rows)


SECTIONS = {"presets": presets_table, "pipeline-results": pipeline_table, "preset-runs": preset_runs_table,
            "tuning": tuning_table, "audit": audit_table, "study": study_table,
            "baseline-seeds": baseline_seeds_table, "sparse-runs": sparse_table,
            "speed": speed_table, "calibrated-speed": calibrated_speed_table, "parallel-jobs": parallel_jobs_line,
            "full-gradient": full_gradient_line, "single-sample": single_sample_line}


def render(readme: str, root: Path) -> str:
    for name, table in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->).*?(<!-- {name}:end -->)", re.S)
        text = table(root)
        readme = pattern.sub(lambda m, text=text: f"{m.group(1)}\n{text}\n{m.group(2)}", readme)
    return readme


PAGES = ("README.md", "report/results.md", "report/tuning.md", "report/presets.md", "report/sparse.md",
         "report/speed.md")  # the pages with generated tables
