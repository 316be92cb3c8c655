"""The report as a printed document: Markdown to an A4 PDF with pandoc and WeasyPrint, and its page count."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

STYLE = Path(__file__).with_name("print.css")
TOOLS = ("pandoc", "weasyprint")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def require_tools() -> None:
    if missing := missing_tools():
        raise SystemExit(f"error: printing the report needs {' and '.join(missing)}: "
                         "apt-get install pandoc weasyprint (scripts/setup.sh does it where apt-get is there)")


def to_pdf(markdown: Path, pdf: Path) -> int:
    """Write `markdown` (figures relative to it) as `pdf`; return its number of pages."""
    require_tools()
    with tempfile.TemporaryDirectory() as scratch:
        # The HTML sits beside the Markdown, so that figures/... resolve; only then is it moved.
        html = markdown.parent / f".{markdown.stem}.print.html"
        try:
            subprocess.run(["pandoc", str(markdown), "--standalone", "--metadata", f"pagetitle={markdown.stem}",
                            "--css", str(STYLE), "--output", str(html)], check=True)
            written = Path(scratch) / pdf.name
            subprocess.run(["weasyprint", "--quiet", str(html), str(written)], check=True)
        finally:
            html.unlink(missing_ok=True)
        shutil.move(written, pdf)
    return pages(pdf)


def pages(pdf: Path) -> int:
    """The page objects of a PDF (`/Type /Page`, not the `/Type /Pages` tree nodes)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf.read_bytes()))
