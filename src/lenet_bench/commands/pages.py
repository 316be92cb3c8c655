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
    from lenet_bench.report.pages import PAGES, render

    stale = []
    for page in PAGES:
        path = args.root / page
        current = path.read_text()
        rendered = render(current, args.root)
        if rendered != current:
            stale.append(page)
            if not args.check:
                path.write_text(rendered)
    if args.check and stale:
        sys.exit(f"out of date: {', '.join(stale)}; run `lenet-bench pages`")
    print(f"rewrote {', '.join(stale)}" if stale else "every page is up to date")
