"""Build report/REPORT.md and its figures from the committed results; with --pdf, print it to A4.

    lenet-bench report [--pdf] [--root .] [--out report]
"""
import argparse
from pathlib import Path

from lenet_bench import pdf
from lenet_bench.report import MAX_PAGES, build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lenet-bench report", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, default=Path("report"))
    parser.add_argument("--pdf", action="store_true", help="also print it to REPORT.pdf (needs pandoc, weasyprint)")
    args = parser.parse_args(argv)
    if args.pdf:
        pdf.require_tools()  # before anything is written
    build(args.root, args.out)
    print(f"wrote {args.out / 'REPORT.md'}")
    if args.pdf:
        count = pdf.to_pdf(args.out / "REPORT.md", args.out / "REPORT.pdf")
        print(f"wrote {args.out / 'REPORT.pdf'}: {count} A4 pages")
        if count > MAX_PAGES:
            raise SystemExit(f"error: the report takes {count} pages, over the brief's {MAX_PAGES}")
