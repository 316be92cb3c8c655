"""Build report/REPORT.md and its figures from the committed results; with --pdf, print it to A4.

examples:
  lenet-bench report                 # report/REPORT.md and report/figures/
  lenet-bench report --pdf           # and report/REPORT.pdf (needs pandoc; fails over the page limit)
  lenet-bench report --out /tmp/r    # somewhere else
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from lenet_bench.errors import UserError


def require_writable(folder: Path) -> None:
    """The report's folder can take files (before any figure is drawn)."""
    try:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"--out {folder}: cannot write the report there ({err.strerror}); give a folder you can "
                        "write to") from None


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository to read (default .)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="where to write it (default report)")
    parser.add_argument("--pdf", action="store_true", help="also print it to REPORT.pdf (needs pandoc, weasyprint)")


def run(args) -> None:
    from lenet_bench.report import pdf
    from lenet_bench.report.report import MAX_PAGES, build

    if args.pdf:
        pdf.require_tools()  # before anything is written
    require_writable(args.out)
    build(args.root, args.out)
    print(f"wrote {args.out / 'REPORT.md'}")
    if args.pdf:
        count = pdf.to_pdf(args.out / "REPORT.md", args.out / "REPORT.pdf")
        print(f"wrote {args.out / 'REPORT.pdf'}: {count} A4 pages")
        if count > MAX_PAGES:
            raise SystemExit(f"error: the report takes {count} pages, over the brief's {MAX_PAGES}")
