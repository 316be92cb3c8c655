"""Write a preset's settings in place, keeping the file's comments and layout (ruamel.yaml round trip)."""
from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from lenet_bench import atomic_files
from lenet_bench.tuning import search


def _yaml() -> YAML:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long line
    return yaml


def set_preset(path: Path, preset: str, values: dict) -> list[str]:
    """Set `values` (dotted path -> value) in optimizers.<preset> of the file at `path` (presets.yaml);
    return the changes, one line each ('optimizers.adam.lr: 0.003 -> 0.0041'), empty if the preset
    already holds them."""
    yaml = _yaml()
    document = yaml.load(Path(path).read_text())
    node, changes = document["optimizers"][preset], []
    for key, value in values.items():
        old = search.get(node, key)
        if old == value:
            continue
        search.put(node, key, value)
        changes.append(f"optimizers.{preset}.{key}: {old} -> {value}")
    if changes:
        text = io.StringIO()
        yaml.dump(document, text)
        atomic_files.write_text(Path(path), text.getvalue())
    return changes
