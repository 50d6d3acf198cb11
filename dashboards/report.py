"""The board pack: the overview, the cost page and one section per specialty as one PDF.

Two halves. `write_report_html` runs inside `build_site` and writes `report.html`: one document
(not in the navigation) holding the bodies of those pages, each as a section that starts on a new
printed page, built from the same `Page` objects as the site, so the pack can never show a number
the site does not. `print_report` prints that document through Debian's headless Chromium
(selenium + the DevTools command `Page.printToPDF`), with the run id, the period and the
suppression note in every page's header and "page N of M" in every footer.

The printed layout comes from the `@media print` block at the end of static/site.css (no
navigation, full tables, no controls). Plotly draws a chart at its container's width when the
page loads, so the page is laid out at the printable width in print media before it loads:
each chart is drawn at the width it is printed at, never cut at the right edge.
"""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Literal

from dashboards.pages import Page
from dashboards.tables import DEFAULT_PERIOD

#: The pack's document, written beside the pages by `build_site`.
REPORT_FILE = "report.html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: Paper (width, height) in inches. Letter is the default: the programme's readers are US payers.
PAPER = {"letter": (8.5, 11.0), "a4": (8.27, 11.69)}
#: Margins in inches: the top and bottom ones hold the header and footer lines.
MARGIN_SIDE, MARGIN_TOP, MARGIN_BOTTOM = 0.5, 0.65, 0.6
CSS_PX_PER_INCH = 96
#: How long the charts of a large pack may take to draw before printing gives up.
DRAW_TIMEOUT_S = 120.0


class ReportError(Exception):
    """A problem a person can fix (a missing site or browser): the CLI prints it as one line."""


@dataclass(frozen=True)
class ReportResult:
    """What was printed: the PDF, its page count, and the run and period its headers name."""

    path: Path
    pages: int
    run_id: str
    period: str
    seconds: float


# --- report.html, written by build_site ------------------------------------------------------


def pack_pages(pages: list[Page]) -> list[Page]:
    """The pages of the pack in its order: the overview, the cost page, then every specialty
    (in the site's order, suppressed ones too: their page says why they show nothing). The data
    quality and methodology pages stay on the site; the cover says where."""
    overview = [p for p in pages if p.filename == "index.html"]
    cost = [p for p in pages if p.filename == "cost.html"]
    specialties = [p for p in pages if p.filename.startswith("specialty-")]
    return overview + cost + specialties


def section_id(page: Page) -> str:
    """The id of a page's section in the pack: `pack-index`, `pack-cost`, `pack-specialty-spine`."""
    return f"pack-{Path(page.filename).stem}"


def _section_body(page: Page, in_pack: dict[str, str]) -> str:
    """A page's body made to sit beside the others: its h2 ids prefixed with the page (every
    specialty has an "outcome-mix"), and its links to other pages of the pack turned into links
    to their sections, so the PDF's links stay inside the PDF."""
    stem = Path(page.filename).stem
    body = re.sub(r'<h2 id="([^"]*)"', lambda m: f'<h2 id="{stem}-{m[1]}"', page.body)
    body = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{stem}-{m[1]}"', body)  # links within the page
    return re.sub(
        r'href="([^"#]+)(#[^"]*)?"',
        lambda m: f'href="#{in_pack[m[1]]}"' if m[1] in in_pack else m[0],
        body,
    )


def write_report_html(pages: list[Page], out_dir: Path, common: dict[str, Any]) -> Path:
    """Writes `report.html` into `out_dir` from the site's pages and returns its path.

    `common` holds the template values every page of the site gets (run_id, finished_at,
    data_freshness, threshold, max_small, generated), already escaped.
    """
    sections = pack_pages(pages)
    in_pack = {p.filename: section_id(p) for p in sections}
    template = Template(
        resources.files("dashboards").joinpath("templates/report.html").read_text(encoding="utf-8")
    )
    contents = "\n".join(f'  <li><a href="#{section_id(p)}">{escape(p.heading)}</a></li>' for p in sections)
    body = "\n".join(
        f'<section class="pack-section" id="{section_id(p)}">\n<h1>{escape(p.heading)}</h1>\n'
        f"{_section_body(p, in_pack)}\n</section>"
        for p in sections
    )
    html = template.substitute(
        common,
        period=escape(DEFAULT_PERIOD),
        contents=contents,
        sections=body,
        scripts="\n".join(p.scripts for p in sections if p.scripts),
    )
    path = Path(out_dir) / REPORT_FILE
    path.write_text(html, encoding="utf-8")
    return path


# --- the PDF ---------------------------------------------------------------------------------


def _header_footer(run_id: str, period: str, threshold: int) -> tuple[str, str]:
    """Chromium's header and footer templates (rendered in the page margins, with no access to
    the page's stylesheet: every style is inline, the font size included, or it prints at 0)."""
    style = (
        "font-family: system-ui, 'DejaVu Sans', Arial, sans-serif; font-size: 8px; color: #555; "
        f"width: 100%; margin: 0 {MARGIN_SIDE}in; display: flex; justify-content: space-between;"
    )
    header = (
        f'<div style="{style}"><span>Second Look · run {escape(run_id)} · period {escape(period)} · '
        f"small cells suppressed (counts 1–{threshold - 1} shown as &lt;{threshold})</span></div>"
    )
    footer = (
        f'<div style="{style}"><span>Board pack · run {escape(run_id)}</span>'
        '<span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>'
    )
    return header, footer


def pdf_page_count(pdf: bytes) -> int:
    """Pages of a PDF Chromium wrote: its page objects (`/Type /Page`, not the `/Pages` tree
    nodes). Chromium's PDFs keep their page dictionaries uncompressed, so no PDF library is
    needed at run time; the tests check this count against pypdf's."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


_CHARTS_DRAWN = (
    "return document.readyState === 'complete' && typeof Plotly === 'object' && "
    "Array.from(document.querySelectorAll('.plot')).every(p => p.querySelector('svg.main-svg'));"
)
#: Everything a reader of paper needs open: every details disclosure and every folded table
#: (the print stylesheet shows them too; this also covers a stylesheet older than the pack),
#: and no link out of the PDF (a relative link would print as this machine's file:// path); the
#: cover's period reads the label the headers carry.
#: Then any chart whose container changed width is redrawn at it, and the fonts are awaited.
_PREPARE = """
const done = arguments[arguments.length - 1];
document.querySelectorAll('.pack-period').forEach(s => { s.textContent = arguments[0]; });
document.querySelectorAll('details').forEach(d => { d.open = true; });
document.querySelectorAll('table.folded').forEach(t => t.classList.add('open'));
document.querySelectorAll('a[href]').forEach(a => {
  if (!a.getAttribute('href').startsWith('#')) a.removeAttribute('href');
});
const stale = Array.from(document.querySelectorAll('.plot')).filter(
  p => p._fullLayout && Math.abs(p._fullLayout.width - p.clientWidth) > 1);
Promise.all(stale.map(p => Plotly.Plots.resize(p)))
  .then(() => document.fonts.ready)
  .then(() => done({
    run_id: document.body.dataset.runId || '',
    period: document.body.dataset.period || '',
    threshold: Number(document.body.dataset.threshold || 11),
    redrawn: stale.length,
  }), e => done({error: String(e)}));
"""


def chromium_options(
    chromium: Path, profile: Path, width: int, height: int, *, scrollbars: bool = True
) -> Any:
    """Options for Debian's headless Chromium, offline and quiet (no sync, updates or first-run
    pages), in its own profile folder: the pack's printer and the browser tests share them."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        *(() if scrollbars else ("--hide-scrollbars",)),
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    return options


def _driver(chromium: Path, chromedriver: Path, profile: Path, width: int, height: int) -> Any:
    """Headless Chromium through Debian's chromedriver (selenium never downloads a driver)."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:  # pragma: no cover - selenium is a dependency
        raise ReportError(f"selenium is not installed ({exc}): reinstall secondlook (`make venv`)") from None
    for path, package in ((chromium, "chromium"), (chromedriver, "chromium-driver")):
        if not path.exists():
            raise ReportError(
                f"headless Chromium is needed to print the pack and {path} is missing: run `make browser` "
                f"(apt-get install chromium chromium-driver; {package} provides it)"
            )
    options = chromium_options(chromium, profile, width, height, scrollbars=False)
    try:
        return webdriver.Chrome(service=Service(str(chromedriver)), options=options)
    except WebDriverException as exc:
        first = (exc.msg or str(exc)).strip().splitlines()[0]
        raise ReportError(f"headless Chromium did not start: {first}") from None


def print_report(
    site_dir: Path,
    out_pdf: Path,
    *,
    run_id: str | None = None,
    period: str = DEFAULT_PERIOD,
    paper: Literal["letter", "a4"] = "letter",
    chromium: Path = CHROMIUM,
    chromedriver: Path = CHROMEDRIVER,
) -> ReportResult:
    """Prints the site's board pack (`report.html`) to `out_pdf` and says what it printed.

    The run id is the site's own (the one its pages were built from); a `run_id` given is checked
    against it, so a scheduler asking for run B's pack never gets run A's pages under B's name.
    `period` is the label the headers carry (the site has one period for now: all time).
    """
    started = time.perf_counter()
    site_dir, out_pdf = Path(site_dir), Path(out_pdf)
    document = site_dir / REPORT_FILE
    if not document.is_file():
        raise ReportError(
            f"{document} not found: build the site first (`secondlook run --site {site_dir}`, "
            "or `make demo` for data/demo/site)"
        )
    width_in, height_in = PAPER[paper]
    # the printable area in CSS px: the page is laid out (and every chart drawn) at this width
    width = round((width_in - 2 * MARGIN_SIDE) * CSS_PX_PER_INCH)
    height = round((height_in - MARGIN_TOP - MARGIN_BOTTOM) * CSS_PX_PER_INCH)
    profile = Path(tempfile.mkdtemp(prefix="secondlook-chromium-"))
    try:
        driver = _driver(chromium, chromedriver, profile, width, height)
        try:
            pdf, found = _print(driver, document, width, height, width_in, height_in, period)
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if run_id is not None and run_id != found:
        raise ReportError(f"{site_dir} was built by run {found or '(unknown)'}, not run {run_id}")
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    out_pdf.write_bytes(pdf)
    return ReportResult(out_pdf, pdf_page_count(pdf), found, period, time.perf_counter() - started)


def _print(
    driver: Any, document: Path, width: int, height: int, width_in: float, height_in: float, period: str
) -> tuple[bytes, str]:
    """Loads the pack in print media at the printable size, waits for every chart, prints."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_page_load_timeout(DRAW_TIMEOUT_S)
    driver.set_script_timeout(DRAW_TIMEOUT_S)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.get(document.resolve().as_uri())
    try:
        WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.2).until(
            lambda d: d.execute_script(_CHARTS_DRAWN)
        )
    except TimeoutException:
        raise ReportError(
            f"the charts of {document} did not all draw within {DRAW_TIMEOUT_S:.0f} s"
        ) from None
    ready = driver.execute_async_script(_PREPARE, period)
    if "error" in ready:
        raise ReportError(f"preparing {document} for print failed: {ready['error']}")
    header, footer = _header_footer(ready["run_id"], period, int(ready["threshold"]))
    printed = driver.execute_cdp_cmd(
        "Page.printToPDF",
        {
            "paperWidth": width_in,
            "paperHeight": height_in,
            "marginTop": MARGIN_TOP,
            "marginBottom": MARGIN_BOTTOM,
            "marginLeft": MARGIN_SIDE,
            "marginRight": MARGIN_SIDE,
            "printBackground": True,
            "displayHeaderFooter": True,
            "headerTemplate": header,
            "footerTemplate": footer,
            "preferCSSPageSize": False,
            "generateDocumentOutline": True,
        },
    )
    return base64.b64decode(printed["data"]), str(ready["run_id"])
