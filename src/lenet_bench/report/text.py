"""Wording shared by the report, its pages and the commands' messages: counts, short lists, means with
spreads, where runs ran."""
from __future__ import annotations

import re

import pandas as pd

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def escaped(text: object) -> str:
    """Free text read from a data file (a description, a family, a machine's name), escaped for Markdown: it
    shows as the text it is, and can make no link, image, table cell or HTML tag."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def describe(scenarios: dict, name: str) -> str:
    """A scenario's description in params.yaml (escaped), or its name where it has none."""
    return escaped((scenarios.get(name) or {}).get("description", name))


def count(n: int, noun: str) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def first_few(items: list[str], shown: int = 3) -> str:
    """'a, b, c, ...': the first `shown` of a list that may be long."""
    return ", ".join(items[:shown]) + (", ..." if len(items) > shown else "")


def joined(items: list[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    return f" {conjunction} ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + f" {conjunction} {items[-1]}"


def mean_std(values: pd.Series, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
    """'mean<unit> ± std' over the values (no spread for one value; '–' for none)."""
    values = values.dropna() * scale
    if values.empty:
        return "–"
    spread = f" ± {values.std():.{digits}f}" if len(values) > 1 else ""
    return f"{values.mean():.{digits}f}{unit}{spread}"


def mean_or_dash(values: pd.Series, fmt: str) -> str:
    values = values.dropna()
    return "–" if values.empty else format(values.mean(), fmt)


def device_label(device: str, threads: int) -> str:
    """Where one run ran, e.g. 'cuda' or 'cpu, 1 thread'."""
    return device if device != "cpu" else f"cpu, {int(threads)} thread{'s' if threads != 1 else ''}"


def hardware(runs: pd.DataFrame) -> str:
    """Where runs ran, e.g. 'cuda' or 'cpu, 1 thread': seconds compare only within one."""
    return " + ".join(sorted({device_label(d, t) for d, t in zip(runs["device"], runs["threads"])}))


def load_line(study: pd.DataFrame) -> str:
    """The load the runs shared their machines with, where they recorded it (1-minute load average)."""
    if "load_average" not in study or study["load_average"].isna().all():
        return "no run recorded its machine's load"
    known = study.dropna(subset=["load_average"])
    per_cpu = known["load_average"] / known["cpus"]
    every = len(known) == len(study)
    who = "every run recorded" if every else f"{len(known)} of {len(study)} runs recorded"
    rest = "" if every else "; the others ran before loads were recorded"
    return (f"{who} its machine's load: a 1-minute load average of {per_cpu.min():.2f} to {per_cpu.max():.2f} "
            f"per CPU (median {per_cpu.median():.2f}){rest}")


def untimed_line(study: pd.DataFrame) -> str:
    """The presets whose seconds are unknown: not timed at the settings they ran with."""
    untimed = sorted(study.loc[study["seconds"].isna(), "preset"].unique())
    if not untimed or len(untimed) == study["preset"].nunique():
        return ""
    return (f" Not timed at the settings they ran with, so without seconds: {', '.join(untimed)} "
            "(`lenet-bench speed` times them again).")
