"""The static site: every page, its CSV downloads, the stylesheet and one copy of plotly.js.

`build_site` is the one entry point the pipeline calls (from an asset that reads the marts out of
DuckDB). It needs nothing but DataFrames, writes relative links only, and references no URL
outside the folder, so the site opens from file:// or any static server, offline.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import plotly
import polars as pl

from dashboards.disclosure import DEFAULT_PROTECTION
from dashboards.pages import (
    Page,
    SafeMarts,
    check_safe,
    cost_page,
    data_quality_page,
    make_safe,
    methodology_page,
    overview_page,
    specialty_page,
)
from dashboards.provenance import provenance_table
from dashboards.report import write_report_html
from dashboards.suppression import DEFAULT_THRESHOLD
from dashboards.tables import write_csv

PLOTLY_JS = "plotly.min.js"
#: The publication audit's decision summary, written beside the pages.
DISCLOSURE_FILE = "disclosure.json"
STATIC_ASSETS = ("site.css", "site.js", "favicon.svg")


def plotly_js_path() -> Path:
    """The plotly.js bundle shipped inside the plotly package (no CDN)."""
    return Path(plotly.__file__).parent / "package_data" / PLOTLY_JS


def _nav(pages: list[Page], current: Page) -> str:
    items = []
    for page in pages:
        attr = ' aria-current="page"' if page.filename == current.filename else ""
        items.append(f'    <li><a href="{page.filename}"{attr}>{escape(page.nav_label)}</a></li>')
    return "\n".join(items)


def _run_value(run_info: dict[str, Any], summary: dict[str, str], key: str) -> str:
    value = run_info.get(key) or summary.get(key)
    return escape(str(value)) if value not in (None, "") else "—"


def build_pages(
    marts: dict[str, pl.DataFrame],
    run_info: dict[str, Any],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    protection: int = DEFAULT_PROTECTION,
) -> tuple[list[Page], SafeMarts]:
    """Every page of the site in navigation order (overview, specialties, cost, data quality,
    methodology), from the marts made safe once: `build_site` writes them, and the board pack and
    its tests read the same `Page` objects rather than re-deriving what a page shows.

    `run_info` is updated in place with the reference frames and the provenance table.
    """
    # reference frames may arrive beside the marts instead of in run_info
    for key in ("price_sources", "pathways"):
        if run_info.get(key) is None and marts.get(key) is not None:
            run_info[key] = marts[key]
    safe = make_safe(marts, threshold, protection)
    check_safe(safe)  # fails the build rather than publish a count from 1 to threshold-1
    if safe.provenance is not None:
        run_info["provenance"] = provenance_table(safe.provenance, marts["outcome_provenance"], threshold)
    pages = [overview_page(safe, run_info)]
    pages += [specialty_page(safe, s) for s in safe.specialties]
    pages += [cost_page(safe, run_info), data_quality_page(safe), methodology_page(safe, run_info)]
    return pages, safe


def build_site(
    marts: dict[str, pl.DataFrame],
    out_dir: Path,
    run_info: dict[str, Any],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    protection: int = DEFAULT_PROTECTION,
) -> list[Path]:
    """Writes the site into `out_dir` and returns the page paths (overview first).

    `marts` is keyed by mart table name without schema; any may be missing or empty. `run_info`
    carries run_id, finished_at, data_freshness, settings (dict) and optionally price_sources /
    pathways frames (reference data; also accepted as keys of `marts`). Case-level frames such
    as review_queue are never read. Every count is suppressed below `threshold` with
    complementary suppression before anything is drawn or written. The board pack's document
    (`report.html`, not in the navigation) is written beside the pages.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_info = {**run_info}
    pages, safe = build_pages(marts, run_info, threshold=threshold, protection=protection)

    template = Template(
        resources.files("dashboards").joinpath("templates/page.html").read_text(encoding="utf-8")
    )
    common = {
        "run_id": _run_value(run_info, safe.summary, "run_id"),
        "finished_at": _run_value(run_info, safe.summary, "finished_at"),
        "data_freshness": _run_value(run_info, safe.summary, "data_freshness"),
        "threshold": threshold,
        "max_small": threshold - 1,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    written: list[Path] = []
    for page in pages:
        html = template.substitute(
            common,
            title=escape(page.heading),
            heading=escape(page.heading),
            nav=_nav(pages, page),
            content=page.body,
            scripts=page.scripts,
        )
        path = out_dir / page.filename
        path.write_text(html, encoding="utf-8")
        written.append(path)
        for table in page.tables:
            write_csv(table, out_dir, run_id=str(run_info.get("run_id") or safe.summary.get("run_id", "")))

    # what the publication audit decided, beside the pages it decided (audit.disclosure reads it)
    (out_dir / DISCLOSURE_FILE).write_text(
        json.dumps({"threshold": threshold, "summary": safe.disclosure}, indent=2), encoding="utf-8"
    )
    shutil.copyfile(plotly_js_path(), out_dir / PLOTLY_JS)
    for asset in STATIC_ASSETS:
        text = resources.files("dashboards").joinpath(f"static/{asset}").read_text(encoding="utf-8")
        (out_dir / asset).write_text(text, encoding="utf-8")
    # the board pack: the overview, the cost page and every specialty in one printable document
    write_report_html(pages, out_dir, common)
    return written
