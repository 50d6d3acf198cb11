"""The board pack: `secondlook report` prints the overview, the cost page and one section per
specialty of a built site to one PDF through Debian's headless Chromium.

Read back with poppler (pdfinfo, pdftotext): every page numbered with the run, the period and the
suppression rule in its header; every table printed whole (its last row is in the text, folded
rows and details tables included); nothing from the site's navigation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboards.report import REPORT_FILE, ReportError, pdf_page_count, print_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.browser

if not (CHROMIUM.exists() and CHROMEDRIVER.exists() and shutil.which("pdftotext")):
    pytest.skip(
        "the board pack tests need Debian's chromium, chromium-driver and poppler-utils: run `make browser`",
        allow_module_level=True,
    )


class _LastRows(HTMLParser):
    """The text of each table's last body row, cell by cell, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1] = self._row
            self._row = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _squeeze(text: str) -> str:
    """Text without whitespace or soft hyphens: a cell that wraps over two printed lines still matches."""
    return re.sub(r"[\s\u00ad]+", "", text)


@pytest.fixture(scope="module")
def pack(fixture_site: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory):
    site, _ = fixture_site
    out = tmp_path_factory.mktemp("pack") / "board-pack.pdf"
    result = print_report(site, out)
    print(f"\nboard pack: {out} ({result.pages} pages in {result.seconds:.1f} s)")
    pages = []
    for number in range(1, result.pages + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), "-layout", str(out), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        pages.append(text)
    return site, out, result, pages


def test_the_pack_has_the_page_count_poppler_reads(pack) -> None:
    _, out, result, pages = pack
    info = subprocess.run(["pdfinfo", str(out)], check=True, capture_output=True, text=True).stdout
    poppler = int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])
    assert result.pages == poppler == pdf_page_count(out.read_bytes()) == len(pages)
    # a cover, the overview, the cost page and the specialties: more than a page each
    assert poppler >= 8


def test_every_page_names_the_run_the_period_and_its_number(pack) -> None:
    _, _, result, pages = pack
    assert result.run_id and result.period == "all time"
    for number, text in enumerate(pages, start=1):
        assert f"run {result.run_id} · period all time" in text, f"page {number}"
        assert "small cells suppressed (counts 1–10 shown as <11)" in text, f"page {number}"
        assert re.search(rf"page {number} of {len(pages)}\s*$", text.rstrip()), f"page {number}"


def test_every_table_of_the_pack_is_printed_to_its_last_row(pack) -> None:
    site, _, _, pages = pack
    parser = _LastRows()
    parser.feed((site / REPORT_FILE).read_text(encoding="utf-8"))
    assert len(parser.tables) >= 20
    printed = _squeeze("".join(pages))
    missing = [row for row in parser.tables if row and not all(_squeeze(c) in printed for c in row)]
    assert missing == []


def test_the_pack_has_its_sections_and_none_of_the_sites_chrome(pack) -> None:
    _, _, _, pages = pack
    text = "\n".join(pages)
    for heading in ("Board pack", "Overview", "Cost impact", "Spine", "Cardiology"):
        assert heading in text
    assert "Download CSV" not in text and "Show all" not in text
    # each specialty starts a new sheet: its heading is the first line under the header
    first_lines = [next((ln.strip() for ln in p.splitlines()[1:] if ln.strip()), "") for p in pages]
    assert {"Overview", "Spine", "Cardiology"} <= set(first_lines)


def test_a_site_without_a_pack_is_refused_with_the_command_that_builds_one(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"report.html not found: build the site first"):
        print_report(tmp_path, tmp_path / "pack.pdf")


def test_a_pack_asked_for_another_run_is_refused(fixture_site, tmp_path: Path) -> None:
    site, _ = fixture_site
    with pytest.raises(ReportError, match=r"was built by run .*, not run someone-else"):
        print_report(site, tmp_path / "pack.pdf", run_id="someone-else")
    assert not (tmp_path / "pack.pdf").exists()
