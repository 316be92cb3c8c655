"""Rewrite the generated tables of README.md and report/*.md from the committed results.

examples:
  lenet-bench pages            # rewrite the generated sections of every page; print which changed
  lenet-bench pages --check    # exit 1 if a page is out of date
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository to read (default .)")
    parser.add_argument("--check", action="store_true", help="fail if a page is not up to date")


def run(args) -> None:
    from lenet_bench.atomic_files import write_text
    from lenet_bench.report.pages import PAGES, render

    if missing := [page for page in ("params.yaml", *PAGES) if not (args.root / page).is_file()]:
        sys.exit(f"error: --root {args.root}: no {', '.join(missing)} there; give the project's folder")
    rendered = {}  # every page rendered before any is written: a failure leaves them all as they were
    for page in PAGES:
        current = (args.root / page).read_text()
        if (text := render(current, args.root)) != current:
            rendered[page] = text
    stale = list(rendered)
    if not args.check:
        for page, text in rendered.items():
            write_text(args.root / page, text)
    if args.check and stale:
        sys.exit(f"out of date: {', '.join(stale)}; run `lenet-bench pages`")
    print(f"rewrote {', '.join(stale)}" if stale else "every page is up to date")
