"""Load params.yaml and check it, before any work starts, with one-line errors that name the key."""
from __future__ import annotations

import difflib
import math
import numbers
import re
from pathlib import Path

import yaml

from lenet_bench.errors import UserError
from lenet_bench.problem import SPARSE_LAYERS, TRAIN_SIZE
from lenet_bench.registry import (
    ALGORITHMS,
    COSTS,
    DEVICES,
    PAIRED_TESTS,
    PRESET_KEYS,
    SCHEDULES,
    SPARSITY_METHODS,
    SPARSITY_SCOPES,
    TIE_BREAKS,
    l2_mode,
    smallest_p,
)
from lenet_bench.tuning import search

PRESETS_FILE = "presets.yaml"  # the presets' own params file, beside params.yaml
SECTIONS = ("data", "train", "optimizer", "optimizers", "scenarios", "tuning", "study")
DATA_KEYS = ("sources", "validation_size")
TRAIN_KEYS = ("epochs", "seed", "device", "threads", "checks_per_epoch", "target_accuracy")
TUNING_KEYS = ("trials", "sampler", "validation_size", "rungs", "audit", "variance_seeds", "fixed")
SAMPLERS = ("qmc",)   # Optuna's QMCSampler, a scrambled Sobol sequence: the same kind for every preset
SAMPLER_KEYS = ("name", "seed")
RUNG_KEYS = ("min_epochs", "reduction_factor")
NO_PRUNING = "none"
AUDIT_KEYS = ("presets", "min_epochs", "reduction_factors", "max_regret")
STUDY_KEYS = ("seeds", "futility", "ranking", "ablation")
FUTILITY_KEYS = ("seeds", "max_gap")
RANKING_KEYS = ("test", "alpha", "cost", "tie_break")
ABLATION_KEYS = ("preset", "scenario", "seeds", "lr_trials", "variants")
LABELS = ("family", "search")  # what a preset says about itself: changing it must not re-train
SCENARIO_KEYS = ("description", "weight_decay", "sparsity")
SPARSITY_KEYS = ("density", "layers", "scope", "method")
AVERAGING = {"ema": "decay", "swa": "start_epoch"}  # each kind of iterate averaging and its setting


class ParamError(UserError, ValueError):
    """A parameter in params.yaml is missing, misspelt or out of range, or the file is not YAML."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2 numbers, as DVC reads and writes them: PyYAML follows YAML 1.1, where 3e-05 (what
    `dvc exp run -S lr=0.00003` writes) is a string, not a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def load(path: str | Path = "params.yaml") -> dict:
    """params.yaml with the presets of presets.yaml beside it, as one tree, read as DVC reads them;
    ParamError (one line: file, line and column) if one is not YAML, or both hold a section."""
    path = Path(path)
    params = _read(path)
    presets = path.with_name(PRESETS_FILE)
    return merge(params, _read(presets), presets) if presets.exists() else params


def merge(params: dict, presets: dict, where: str | Path = PRESETS_FILE) -> dict:
    """params.yaml's tree with presets.yaml's sections added; a section in both is an error."""
    if both := sorted(set(params) & set(presets)):
        raise ParamError(f"{where}: {', '.join(both)} is in params.yaml too; keep each section in one of the two")
    return {**params, **presets}


def presets_file(path: str | Path = "params.yaml") -> Path:
    """The file that holds the presets (`optimizers`): presets.yaml beside params.yaml, where there is one."""
    presets = Path(path).with_name(PRESETS_FILE)
    return presets if presets.exists() else Path(path)


def _read(path: Path) -> dict:
    try:
        return parse(path.read_text())
    except FileNotFoundError:
        raise ParamError(f"{path}: not found; run this command in the project's folder") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ParamError(f"{where}: not valid YAML ({problem}); fix that line, or restore the file: "
                         f"git checkout -- {path}") from None


def parse(text: str) -> dict:
    """params.yaml's text, read as DVC reads it."""
    return yaml.load(text, Loader=_Loader) or {}


def did_you_mean(given, allowed) -> str:
    close = difflib.get_close_matches(str(given), [str(a) for a in allowed], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _allowed(key: str, value, allowed) -> ParamError:
    return ParamError(f"{key}: unknown value '{value}'{did_you_mean(value, allowed)}; "
                      f"allowed: {', '.join(map(str, allowed))}")


def _check_keys(where: str, section, allowed, required=()) -> None:
    if not isinstance(section, dict):
        raise ParamError(f"{where}: must be a mapping, got {section!r}")
    for key in section:
        if key not in allowed:
            raise ParamError(f"{where}.{key}: unknown key{did_you_mean(key, allowed)}; "
                             f"allowed: {', '.join(allowed)}")
    for key in required:
        if key not in section:
            raise ParamError(f"{where}.{key}: missing; it is required")


def _number(key: str, value, low=None, high=None, integer=False, low_open=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ParamError(f"{key}: must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ParamError(f"{key}: must be a finite number, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        bounds = f"{'>' if low_open else '>='} {low}" + ("" if high is None else f" and <= {high}")
        raise ParamError(f"{key}: must be {bounds}, got {value}")
    return value


def check_preset(name: str, preset, epochs: int | None = None) -> None:
    where = f"optimizers.{name}"
    if not isinstance(preset, dict):
        raise ParamError(f"{where}: must be a mapping, got {preset!r}")
    algorithm = preset.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise _allowed(f"{where}.algorithm", algorithm, sorted(ALGORITHMS))
    _check_keys(where, preset, PRESET_KEYS + ALGORITHMS[algorithm].settings,
                required=("algorithm", "batch_size", "lr"))
    _number(f"{where}.lr", preset["lr"], low=0, low_open=True)
    _number(f"{where}.batch_size", preset["batch_size"], low=1, high=TRAIN_SIZE, integer=True)
    schedule = preset.get("schedule", {"name": "constant"})
    if not isinstance(schedule, dict) or schedule.get("name") not in SCHEDULES:
        name_ = schedule.get("name") if isinstance(schedule, dict) else schedule
        raise _allowed(f"{where}.schedule.name", name_, list(SCHEDULES))
    _check_keys(f"{where}.schedule", schedule, ("name", *SCHEDULES[schedule["name"]]))
    for key in SCHEDULES[schedule["name"]]:
        if key in schedule:
            _number(f"{where}.schedule.{key}", schedule[key], low=0)
    if "batch_growth" in preset:
        _number(f"{where}.batch_growth", preset["batch_growth"], low=1)
        if ALGORITHMS[algorithm].fixed_batches:
            raise ParamError(f"{where}.batch_growth: {algorithm} keeps a gradient per fixed mini-batch, "
                             "so its batch cannot grow; remove batch_growth")
    if "max_batch_size" in preset:
        _number(f"{where}.max_batch_size", preset["max_batch_size"], low=preset["batch_size"], integer=True)
    if "averaging" in preset:
        check_averaging(f"{where}.averaging", preset["averaging"], epochs)
    if "search" in preset:
        check_search(name, preset, epochs)


def check_search(name: str, preset: dict, epochs: int | None) -> None:
    """The space parses, and its every bound and choice makes a valid preset."""
    try:
        dimensions = search.parse(name, preset)
    except search.SpaceError as err:
        raise ParamError(str(err)) from None
    bare = {k: v for k, v in preset.items() if k != "search"}
    for d in dimensions:
        for value in d.choices if d.choices is not None else (d.low, d.high):
            try:
                check_preset(name, search.with_values(bare, {d.key: value}), epochs)
            except ParamError as err:
                raise ParamError(f"optimizers.{name}.search.{d.key}: {value!r} makes a bad preset: {err}") from None


def check_tuning(tuning, presets: dict) -> None:
    _check_keys("tuning", tuning, TUNING_KEYS, required=TUNING_KEYS)
    _number("tuning.trials", tuning["trials"], low=1, integer=True)
    _check_keys("tuning.sampler", tuning["sampler"], SAMPLER_KEYS, required=SAMPLER_KEYS)
    if tuning["sampler"]["name"] not in SAMPLERS:
        raise _allowed("tuning.sampler.name", tuning["sampler"]["name"], SAMPLERS)
    _number("tuning.sampler.seed", tuning["sampler"]["seed"], low=0, integer=True)
    _number("tuning.validation_size", tuning["validation_size"], low=1, high=TRAIN_SIZE - 1, integer=True)
    if tuning["rungs"] != NO_PRUNING:
        _check_keys("tuning.rungs", tuning["rungs"], RUNG_KEYS, required=RUNG_KEYS)
        _number("tuning.rungs.min_epochs", tuning["rungs"]["min_epochs"], low=1, integer=True)
        _number("tuning.rungs.reduction_factor", tuning["rungs"]["reduction_factor"], low=2, integer=True)
    fixed = tuning["fixed"]
    if not isinstance(fixed, list):
        raise ParamError(f"tuning.fixed: must be a list of presets that are not tuned, got {fixed!r}")
    for name in fixed:
        if name not in presets:
            raise _allowed("tuning.fixed", name, list(presets))
    for name, preset in presets.items():
        if name in fixed and "search" in preset:
            raise ParamError(f"optimizers.{name}.search: {name} is in tuning.fixed, so it is not tuned; "
                             "remove one of the two")
        if name not in fixed and "search" not in preset:
            raise ParamError(f"optimizers.{name}.search: missing; declare the space its tuning draws from "
                             f"(see lenet_bench/tuning/search.py), or list {name} in tuning.fixed")
    check_audit(tuning["audit"], presets, fixed)
    if tuning["sampler"]["seed"] in _seeds("tuning.variance_seeds", tuning["variance_seeds"]):
        raise ParamError(f"tuning.variance_seeds: {tuning['sampler']['seed']} is the committed tuning's own "
                         "(tuning.sampler.seed); each seed here must draw another tuning")


def check_audit(audit, presets: dict, fixed: list) -> None:
    _check_keys("tuning.audit", audit, AUDIT_KEYS, required=AUDIT_KEYS)
    for key, low in (("min_epochs", 1), ("reduction_factors", 2)):
        if not isinstance(audit[key], list) or not audit[key]:
            raise ParamError(f"tuning.audit.{key}: must be a non-empty list of integers, got {audit[key]!r}")
        for value in audit[key]:
            _number(f"tuning.audit.{key}", value, low=low, integer=True)
    _number("tuning.audit.max_regret", audit["max_regret"], low=0, high=1)
    if not isinstance(audit["presets"], list):  # empty: nothing is audited
        raise ParamError(f"tuning.audit.presets: must be a list of tuned presets, got {audit['presets']!r}")
    for name in audit["presets"]:
        if name not in presets or name in fixed:
            raise _allowed("tuning.audit.presets", name, [p for p in presets if p not in fixed])


def _seeds(key: str, seeds) -> list[int]:
    if not isinstance(seeds, list) or not seeds:
        raise ParamError(f"{key}: must be a non-empty list of seeds, got {seeds!r}")
    for seed in seeds:
        _number(key, seed, low=0, integer=True)
    if len(set(seeds)) < len(seeds):
        raise ParamError(f"{key}: lists a seed twice: {seeds}")
    return seeds


def check_study(study, presets: dict) -> None:
    """study: its seeds, the futility stop (its seeds among them) and a ranking rule whose test can pass Holm's
    correction over every comparison with the best preset at the declared seeds."""
    _check_keys("study", study, STUDY_KEYS, required=("seeds", "futility", "ranking"))
    seeds = _seeds("study.seeds", study["seeds"])
    futility = study["futility"]
    _check_keys("study.futility", futility, FUTILITY_KEYS, required=FUTILITY_KEYS)
    if outside := [s for s in _seeds("study.futility.seeds", futility["seeds"]) if s not in seeds]:
        raise ParamError(f"study.futility.seeds: {outside} not in study.seeds; the stop judges seeds every preset runs")
    _number("study.futility.max_gap", futility["max_gap"], low=0, high=1)
    rule = study["ranking"]
    _check_keys("study.ranking", rule, RANKING_KEYS, required=RANKING_KEYS)
    for key, allowed in (("test", PAIRED_TESTS), ("cost", COSTS), ("tie_break", TIE_BREAKS)):
        if rule[key] not in allowed:
            raise _allowed(f"study.ranking.{key}", rule[key], list(allowed))
    _number("study.ranking.alpha", rule["alpha"], low=0, high=1, low_open=True)
    comparisons = max(1, len(presets) - 1)
    if smallest_p(rule["test"], len(seeds)) >= rule["alpha"] / comparisons:
        raise ParamError(f"study.ranking.test: a {rule['test']} over {len(seeds)} seeds cannot go below p = "
                         f"{smallest_p(rule['test'], len(seeds)):.4g}, so no difference can pass Holm's correction "
                         f"over {comparisons} comparisons (alpha/{comparisons} = {rule['alpha'] / comparisons:.4g}); "
                         "use paired_t, or more seeds")


def check_ablation(ablation, presets: dict, scenarios: dict, study_seeds: list[int]) -> None:
    """study.ablation: a preset, a scenario, seeds of the study (each variant is paired with the preset's own runs),
    the lr trials of each variant's tuning, and variants that each change, add or (with null) remove settings."""
    _check_keys("study.ablation", ablation, ABLATION_KEYS, required=ABLATION_KEYS)
    if ablation["preset"] not in presets:
        raise _allowed("study.ablation.preset", ablation["preset"], list(presets))
    if ablation["scenario"] not in scenarios:
        raise _allowed("study.ablation.scenario", ablation["scenario"], list(scenarios))
    if outside := [s for s in _seeds("study.ablation.seeds", ablation["seeds"]) if s not in study_seeds]:
        raise ParamError(f"study.ablation.seeds: {outside} not in study.seeds; each variant is paired with the "
                         "preset's own runs of the same seeds")
    _number("study.ablation.lr_trials", ablation["lr_trials"], low=1, integer=True)
    preset = presets[ablation["preset"]]
    variants = ablation["variants"]
    if not isinstance(variants, dict) or not variants:
        raise ParamError("study.ablation.variants: must map variant names to the settings each changes, e.g. "
                         "no_momentum: {momentum: 0.0}")
    settable = {*PRESET_KEYS, *ALGORITHMS[preset["algorithm"]].settings} - set(LABELS)
    for name, changes in variants.items():
        where = f"study.ablation.variants.{name}"
        if not re.fullmatch(r"[a-z0-9_]+", str(name)):
            raise ParamError(f"{where}: a variant name takes lower-case letters, digits and _ only")
        if not isinstance(changes, dict) or not changes:
            raise ParamError(f"{where}: must map settings of the preset to their values, e.g. {{momentum: 0.0}}")
        for key in changes:
            try:
                search.get(preset, key)
            except KeyError:
                if key not in settable:
                    raise ParamError(f"{where}.{key}: preset {ablation['preset']} has no such setting, nor can it "
                                     f"take one; settable: {', '.join(sorted(settable))}") from None


def check_averaging(where: str, averaging, epochs: int | None) -> None:
    if not isinstance(averaging, dict) or averaging.get("name") not in AVERAGING:
        raise _allowed(f"{where}.name", averaging.get("name") if isinstance(averaging, dict) else averaging,
                       list(AVERAGING))
    name = averaging["name"]
    _check_keys(where, averaging, ("name", AVERAGING[name]), required=("name", AVERAGING[name]))
    if name == "ema":
        _number(f"{where}.decay", averaging["decay"], low=0, high=1, low_open=True)
    else:
        _number(f"{where}.start_epoch", averaging["start_epoch"], low=0, high=epochs)


def check_device(name) -> None:
    """train.device names a device, and this machine has it (torch is loaded here, on first use)."""
    if name not in DEVICES:
        raise _allowed("train.device", name, DEVICES)
    from lenet_bench.device import DeviceError, resolve

    try:
        resolve(name)
    except DeviceError as err:
        raise ParamError(str(err)) from None


def check(params: dict) -> None:
    """Check the whole of params.yaml; raise ParamError on the first problem."""
    _check_keys("params.yaml", params, SECTIONS, required=SECTIONS)
    _check_keys("data", params["data"], DATA_KEYS, required=DATA_KEYS)
    _number("data.validation_size", params["data"]["validation_size"], low=0, high=TRAIN_SIZE - 1, integer=True)
    if not isinstance(params["data"]["sources"], list) or not params["data"]["sources"]:
        raise ParamError("data.sources: must be a non-empty list of directories and/or 'torchvision'")
    train = params["train"]
    _check_keys("train", train, TRAIN_KEYS, required=TRAIN_KEYS)
    _number("train.epochs", train["epochs"], low=1, integer=True)
    _number("train.seed", train["seed"], low=0, integer=True)
    _number("train.threads", train["threads"], low=0, integer=True)
    _number("train.checks_per_epoch", train["checks_per_epoch"], low=1, integer=True)
    _number("train.target_accuracy", train["target_accuracy"], low=0, high=1, low_open=True)
    check_device(train["device"])
    _check_keys("optimizer", params["optimizer"], ("name",), required=("name",))
    presets = params["optimizers"]
    if not isinstance(presets, dict) or not presets:
        raise ParamError("optimizers: must map preset names to presets")
    for name, preset in presets.items():
        check_preset(name, preset, train["epochs"])
    if params["optimizer"]["name"] not in presets:
        raise _allowed("optimizer.name", params["optimizer"]["name"], list(presets))
    check_tuning(params["tuning"], presets)
    scenarios = params["scenarios"]
    if not isinstance(scenarios, dict) or not scenarios:
        raise ParamError("scenarios: must map scenario names to their settings")
    for name, scenario in scenarios.items():
        _check_keys(f"scenarios.{name}", scenario or {}, SCENARIO_KEYS)
        _number(f"scenarios.{name}.weight_decay", (scenario or {}).get("weight_decay", 0.0), low=0)
        if (scenario or {}).get("sparsity") is not None:
            check_sparsity(f"scenarios.{name}.sparsity", scenario["sparsity"], train["epochs"])
    check_study(params["study"], presets)
    if "ablation" in params["study"]:
        check_ablation(params["study"]["ablation"], presets, scenarios, params["study"]["seeds"])


def check_sparsity(where: str, sparsity, epochs: int) -> None:
    if not isinstance(sparsity, dict) or sparsity.get("method") not in SPARSITY_METHODS:
        method = sparsity.get("method") if isinstance(sparsity, dict) else sparsity
        raise _allowed(f"{where}.method", method, list(SPARSITY_METHODS))
    _check_keys(where, sparsity, SPARSITY_KEYS + tuple(SPARSITY_METHODS[sparsity["method"]]), required=SPARSITY_KEYS)
    _number(f"{where}.density", sparsity["density"], low=0, high=1, low_open=True)
    layers = sparsity["layers"]
    if not isinstance(layers, list) or not layers or any(layer not in SPARSE_LAYERS for layer in layers):
        raise ParamError(f"{where}.layers: must be a non-empty list of {', '.join(SPARSE_LAYERS)}, got {layers!r}")
    if sparsity["scope"] not in SPARSITY_SCOPES:
        raise _allowed(f"{where}.scope", sparsity["scope"], SPARSITY_SCOPES)
    for key in SPARSITY_METHODS[sparsity["method"]]:
        if key in sparsity:
            _number(f"{where}.{key}", sparsity[key], low=0, high=epochs if key.endswith("epoch") else None)


def run_config(params: dict, scenario: str) -> dict:
    """Everything one training run of `scenario` needs, from checked params."""
    if scenario not in params["scenarios"]:
        raise _allowed("scenario", scenario, list(params["scenarios"]))
    name = params["optimizer"]["name"]
    preset = {k: v for k, v in params["optimizers"][name].items() if k not in LABELS}
    config = {
        "scenario": scenario,
        "optimizer": name,
        "preset": {"schedule": {"name": "constant"}, **preset},
        "weight_decay": float((params["scenarios"][scenario] or {}).get("weight_decay", 0.0)),
        "validation_size": params["data"]["validation_size"],
        **params["train"],  # the target too: the test set is checked within epochs until it is reached
    }
    if config["weight_decay"]:  # how the penalty is applied is part of what a run is; only L2 runs carry it
        config["l2_mode"] = l2_mode(preset["algorithm"], config["weight_decay"])
    sparsity = (params["scenarios"][scenario] or {}).get("sparsity")
    if sparsity:  # only sparse scenarios carry the key, so adding it changed no dense run's config
        config["sparsity"] = sparsity
    return config
