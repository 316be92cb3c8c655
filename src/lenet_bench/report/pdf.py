"""The report as a printed document: Markdown to HTML with pandoc, HTML to an A4 PDF with WeasyPrint."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
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


# Markdown as pandoc reads it for print: no raw HTML, TeX or attributes pass through, so text that came from a data
# file (a description, a machine's name) is shown as text and can neither link nor embed anything.
PANDOC_INPUT = "markdown-raw_html-raw_tex-raw_attribute-native_divs-native_spans"


def own_files_only(markdown: Path):
    """A WeasyPrint URL fetcher that serves the report's own figures (figures/*.png beside `markdown`) and its
    stylesheet, and refuses every other URL (local files, http(s), data): nothing a report names can bring another
    file into the PDF. The refused URLs are kept in its `refused` list."""
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher

    allowed_folder, style = (markdown.parent / "figures").resolve(), STYLE.resolve()

    class OwnFilesOnly(URLFetcher):
        refused: list[str]

        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            path = Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" and not parsed.netloc else None
            if path is None or not (path == style or (path.parent == allowed_folder and path.suffix == ".png")):
                self.refused.append(url)
                raise ValueError(f"the report fetches only its own figures and stylesheet, not {url}")
            return super().fetch(url, headers)

    fetcher = OwnFilesOnly(allowed_protocols=("file",))
    fetcher.refused = []
    return fetcher


def render(markdown: Path):
    """`markdown` (figures relative to it) laid out on A4 pages: a WeasyPrint document. A URL in it other than the
    report's own figures and stylesheet is not fetched, and named on stderr."""
    require_tools()
    import weasyprint  # the optional `pdf` extra, checked above

    # The HTML sits beside the Markdown, so that figures/... resolve.
    html = markdown.parent / f".{markdown.stem}.print.html"
    try:
        # --columns: no Markdown line is "long", so pandoc fixes no column widths and tables size to their content
        subprocess.run(["pandoc", str(markdown), "--from", PANDOC_INPUT, "--standalone", "--columns", "100000",
                        "--metadata", f"pagetitle={markdown.stem}", "--css", str(STYLE), "--output", str(html)],
                       check=True)
        fetcher = own_files_only(markdown)
        document = weasyprint.HTML(filename=str(html), url_fetcher=fetcher).render()
        if fetcher.refused:
            print(f"warning: the report names {len(fetcher.refused)} URL(s) that are not its own figures or "
                  f"stylesheet; none was fetched: {', '.join(fetcher.refused[:5])}", file=sys.stderr)
        return document
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
