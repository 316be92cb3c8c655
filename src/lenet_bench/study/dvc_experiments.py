"""The finished DVC experiments of this machine, read from their git refs (refs/exps)."""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

from lenet_bench.params import PRESETS_FILE, merge
from lenet_bench.params import parse as parse_params
from lenet_bench.study.export import Experiment

# A finished experiment's ref: refs/exps/<baseline SHA, split after 2 characters>/<name>. The queue's
# own refs (refs/exps/celery/..., refs/exps/exec/...) do not match.
EXPERIMENT_REF = re.compile(r"refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/(.+)")


def finished_experiments(root: Path = Path(".")) -> list[Experiment]:
    """Experiments that ran to success: DVC gives an experiment its named ref only once it succeeded.

    Reads params.yaml, presets.yaml and metrics/<scenario>.json (git-tracked) from each experiment's commit, in
    one `git cat-file --batch`: `dvc exp show --json --all-commits` gives the same, but takes minutes
    with a few hundred experiments, and far longer while others train."""
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps"],
                          cwd=root, check=True, capture_output=True, text=True).stdout.splitlines()
    found = [(m[3], m[1] + m[2], rev) for ref, rev in (line.split() for line in refs)
             if (m := EXPERIMENT_REF.fullmatch(ref))]
    params_texts = git_files(root, [f"{rev}:params.yaml" for _, _, rev in found])
    presets_texts = git_files(root, [f"{rev}:{PRESETS_FILE}" for _, _, rev in found])  # none before the split
    found = [(name, baseline, rev, merge(parse_params(text), parse_params(presets) if presets else {}))
             for (name, baseline, rev), text, presets in zip(found, params_texts, presets_texts) if text is not None]
    # Every scenario's metrics, of the experiment and of its baseline, in one more git process.
    wanted = [f"{r}:metrics/{scenario}.json" for _, baseline, rev, params in found
              for r in (rev, baseline) for scenario in params.get("scenarios") or {}]
    metrics = {obj: json.loads(text) for obj, text in zip(wanted, git_files(root, wanted)) if text is not None}
    # Each scenario's run record (records/<scenario>.json, git-tracked; none before records existed).
    wanted = [f"{rev}:records/{scenario}.json" for _, _, rev, params in found
              for scenario in params.get("scenarios") or {}]
    records = {obj: json.loads(text) for obj, text in zip(wanted, git_files(root, wanted)) if text is not None}

    def metrics_at(r: str, params: dict) -> dict:
        return {path: metrics[f"{r}:{path}"] for path in (f"metrics/{s}.json" for s in params.get("scenarios") or {})
                if f"{r}:{path}" in metrics}

    def records_of(rev: str, params: dict) -> dict:
        return {s: records[f"{rev}:records/{s}.json"] for s in params.get("scenarios") or {}
                if f"{rev}:records/{s}.json" in records}

    return [Experiment(name=name, rev=rev, commit=baseline[:7], params=params, metrics=metrics_at(rev, params),
                       commit_metrics=metrics_at(baseline, params), records=records_of(rev, params))
            for name, baseline, rev, params in found]


def git_files(root: Path, objects: list[str]) -> list[str | None]:
    """The text of each `<rev>:<path>`, None where that commit has no such file, from one git process."""
    if not objects:
        return []
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, check=True, capture_output=True,
                         input="\n".join(objects).encode() + b"\n").stdout
    texts, at = [], 0
    for _ in objects:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        if header[-1] == b"missing":
            texts.append(None)
            at = header_end + 1
            continue
        size = int(header[2])
        texts.append(out[header_end + 1:header_end + 1 + size].decode())
        at = header_end + 1 + size + 1  # the content, then a newline
    return texts


def with_curves(exp: Experiment, scenarios, root: Path = Path(".")) -> Experiment:
    """The experiment with the learning curves (plots/<scenario>.csv) of these scenarios, read from its
    own commit, as export.record wants them."""
    shown = git_files(root, [f"{exp.rev}:plots/{scenario}.csv" for scenario in scenarios])
    return replace(exp, curves=dict(zip(scenarios, shown)))
