"""A preset's search space (optimizers.<preset>.search in params.yaml): what a tuning may vary.

    search:
      lr: {low: 0.002, high: 2.0, log: true}     # a range, on a log or linear scale
      momentum: {low: 0.8, high: 0.99}
      batch_size: {choices: [32, 64, 128]}       # or a list of choices

A key names a setting of the preset; a nested one takes a dot: `averaging.decay`, `schedule.warmup_fraction`,
`betas.1` (the second beta). Every space searches lr on a log scale over at least three decades and may add at
most two settings of its own; the preset's current value lies inside each dimension, so that the tuned
preset is one the space could have drawn.
"""
from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

from lenet_bench.errors import UserError

LR_DECADES = 3        # the least span of the lr range, in powers of ten
MAX_OWN_SETTINGS = 2  # settings a space may search besides lr
SIGNIFICANT_DIGITS = 3  # a drawn float is rounded to these, so that params.yaml stays readable
DIMENSION_KEYS = ("low", "high", "log", "choices")


class SpaceError(UserError, ValueError):
    """A search space is malformed or does not contain its preset."""


@dataclass(frozen=True)
class Dimension:
    key: str                      # the setting's dotted path in the preset
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple | None = None

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.key} in {list(self.choices)}"
        return f"{self.key} in [{self.low:g}, {self.high:g}]{' (log)' if self.log else ''}"


def get(preset: dict, key: str):
    """The value at a dotted path of the preset (`betas.1` indexes a list); KeyError if absent."""
    value = preset
    for part in key.split("."):
        if isinstance(value, list):
            if not part.isdigit() or int(part) >= len(value):
                raise KeyError(key)
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(key)
    return value


def put(preset, key: str, value) -> None:
    """Set the value at a dotted path of the preset, in place (any mapping and list, YAML round-trip ones too)."""
    *parents, last = key.split(".")
    node = preset
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value


def with_values(preset: dict, values: dict) -> dict:
    """A copy of the preset with `values` (dotted path -> value) set in it."""
    result = copy.deepcopy(preset)
    for key, value in values.items():
        put(result, key, value)
    return result


def parse(name: str, preset: dict) -> list[Dimension]:
    """The preset's declared space, checked; SpaceError (one line, naming the key) on the first problem."""
    where = f"optimizers.{name}.search"
    space = preset.get("search")
    if not isinstance(space, dict) or not space:
        raise SpaceError(f"{where}: must map settings of the preset to ranges or choices, got {space!r}")
    if "lr" not in space:
        raise SpaceError(f"{where}.lr: missing; every space searches the learning rate")
    if len(space) - 1 > MAX_OWN_SETTINGS:
        raise SpaceError(f"{where}: searches {len(space) - 1} settings besides lr; at most {MAX_OWN_SETTINGS}")
    dimensions = [_dimension(where, key, spec, preset) for key, spec in space.items()]
    lr = dimensions[list(space).index("lr")]
    if lr.choices is not None or not lr.log or lr.high < lr.low * 10 ** LR_DECADES * (1 - 1e-9):  # 3e-5 x 1000 > 0.03
        raise SpaceError(f"{where}.lr: must be a log range over at least {LR_DECADES} decades "
                         f"(high >= {10 ** LR_DECADES} x low), got {lr.describe()}")
    return dimensions


def _dimension(where: str, key: str, spec, preset: dict) -> Dimension:
    where = f"{where}.{key}"
    if key == "search" or key == "family" or key == "algorithm":
        raise SpaceError(f"{where}: unknown key; '{key}' is not a setting that can be searched")
    try:
        current = get(preset, key)
    except KeyError:
        raise SpaceError(f"{where}: unknown key; the preset has no setting '{key}' (set it in the preset "
                         "first, so that its current value lies in the space)") from None
    if not isinstance(spec, dict):
        raise SpaceError(f"{where}: must be {{low: .., high: .., log: ..}} or {{choices: [..]}}, got {spec!r}")
    for field in spec:
        if field not in DIMENSION_KEYS:
            raise SpaceError(f"{where}.{field}: unknown key; allowed: {', '.join(DIMENSION_KEYS)}")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise SpaceError(f"{where}: choices cannot be combined with low, high or log")
        choices = spec["choices"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise SpaceError(f"{where}.choices: must be a list of at least two values, got {choices!r}")
        if current not in choices:
            raise SpaceError(f"{where}: the preset's current value {current!r} is not among the choices {choices}")
        return Dimension(key, choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{where}: a range needs both low and high")
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    for field, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
            raise SpaceError(f"{where}.{field}: must be a number, got {bound!r}")
    if not isinstance(log, bool):
        raise SpaceError(f"{where}.log: must be true or false, got {log!r}")
    if not low < high:
        raise SpaceError(f"{where}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise SpaceError(f"{where}: a log range needs bounds > 0, got low {low}")
    if isinstance(current, bool) or not isinstance(current, numbers.Real) or not low <= current <= high:
        raise SpaceError(f"{where}: the preset's current value {current!r} lies outside [{low}, {high}]")
    integer = all(isinstance(v, numbers.Integral) for v in (low, high, current))
    return Dimension(key, low=low, high=high, log=log, integer=integer)


def rounded(value: float) -> float:
    """`value` to SIGNIFICANT_DIGITS significant digits."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS - 1}e}")


def suggest(trial, dimensions: list[Dimension]) -> dict:
    """Draw one setting of the space from an Optuna trial; floats rounded (what is trained is what is shown)."""
    values = {}
    for d in dimensions:
        if d.choices is not None:
            values[d.key] = trial.suggest_categorical(d.key, list(d.choices))
        elif d.integer:
            values[d.key] = trial.suggest_int(d.key, d.low, d.high, log=d.log)
        else:
            values[d.key] = min(max(rounded(trial.suggest_float(d.key, d.low, d.high, log=d.log)), d.low), d.high)
    return values

