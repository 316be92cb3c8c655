"""The report as a printed document: Markdown to HTML with pandoc, HTML to an A4 PDF with WeasyPrint."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

STYLE = Path(__file__).with_name("print.css")
# Each tool and how to get it: pandoc from the system, WeasyPrint from requirements.lock (the `pdf` extra).
INSTALL = {"pandoc": "apt-get install pandoc", "weasyprint": "pip install -e '.[pdf]'"}


def missing_tools() -> list[str]:
    found = {"pandoc": shutil.which("pandoc") is not None,
             "weasyprint": importlib.util.find_spec("weasyprint") is not None}
    return [name for name in INSTALL if not found[name]]


def require_tools() -> None:
    if missing := missing_tools():
        raise SystemExit(f"error: printing the report needs {' and '.join(missing)}: "
                         f"{'; '.join(INSTALL[name] for name in missing)} (scripts/setup.sh installs both)")


def render(markdown: Path):
    """`markdown` (figures relative to it) laid out on A4 pages: a WeasyPrint document."""
    require_tools()
    import weasyprint  # the optional `pdf` extra, checked above

    # The HTML sits beside the Markdown, so that figures/... resolve.
    html = markdown.parent / f".{markdown.stem}.print.html"
    try:
        # --columns: no Markdown line is "long", so pandoc fixes no column widths and tables size to their content
        subprocess.run(["pandoc", str(markdown), "--standalone", "--columns", "100000",
                        "--metadata", f"pagetitle={markdown.stem}", "--css", str(STYLE), "--output", str(html)],
                       check=True)
        return weasyprint.HTML(filename=str(html)).render()
    finally:
        html.unlink(missing_ok=True)


def to_pdf(markdown: Path, pdf: Path) -> int:
    """Write `markdown` (figures relative to it) as `pdf`; return its number of pages."""
    document = render(markdown)
    with tempfile.TemporaryDirectory() as scratch:  # only the finished PDF is moved in place
        written = Path(scratch) / pdf.name
        document.write_pdf(written)
        shutil.move(written, pdf)
    return len(document.pages)
