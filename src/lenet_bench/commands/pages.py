"""Rewrite the generated tables of README.md and report/*.md from the committed results.

    lenet-bench pages            # rewrite the generated sections of every page
    lenet-bench pages --check    # exit 1 if a page is out of date
"""
import argparse
import sys
from pathlib import Path

from lenet_bench.pages import PAGES, render


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lenet-bench pages", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--check", action="store_true", help="fail if a page is not up to date")
    args = parser.parse_args(argv)
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
