"""Build report/REPORT.md and its figures from the committed results; with --pdf, print it to A4.

    lenet-bench report [--pdf] [--root .] [--out report]
"""
import argparse
import tempfile
from pathlib import Path

from lenet_bench import pdf
from lenet_bench.errors import UserError
from lenet_bench.report import MAX_PAGES, build


def require_writable(folder: Path) -> None:
    """The report's folder can take files (before any figure is drawn)."""
    try:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"--out {folder}: cannot write the report there ({err.strerror}); give a folder you can "
                        "write to") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lenet-bench report", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, default=Path("report"))
    parser.add_argument("--pdf", action="store_true", help="also print it to REPORT.pdf (needs pandoc, weasyprint)")
    args = parser.parse_args(argv)
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
