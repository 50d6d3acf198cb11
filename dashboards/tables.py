"""HTML tables and their CSV downloads.

A `Table` carries two views of one suppressed frame: `csv` (machine-friendly: suppressed counts
read "<11" or "*", hidden measures are empty) and `html` (formatted text). Both are built by the
pages from the same safe mart, so the download never holds more than the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.formatting import DASH, csv_safe, html_escape


@dataclass
class Table:
    """One published table: its CSV stem, a title, both views, and a note under it."""

    slug: str
    title: str
    csv: pl.DataFrame
    html: pl.DataFrame
    note: str = ""
    label_cols: int = 1  # leading text columns (left-aligned); the rest are numbers
    max_rows: int | None = None  # rows shown on the page; the CSV always has all

    @property
    def csv_name(self) -> str:
        return f"{self.slug}.csv"


def write_csv(table: Table, out_dir: Path) -> Path:
    """Writes the suppressed CSV beside the pages and returns its path; no cell of it can run as
    a spreadsheet formula."""
    path = out_dir / table.csv_name
    csv_safe(table.csv).write_csv(path)
    return path


def render_table(table: Table) -> str:
    """The table as HTML (escaped, vectorised), with its CSV link and note."""
    frame = table.html
    shown = frame if table.max_rows is None else frame.head(table.max_rows)
    head = "".join(
        f'<th scope="col"{" class=num" if i >= table.label_cols else ""}>{_escape(c)}</th>'
        for i, c in enumerate(frame.columns)
    )
    if shown.is_empty() or not shown.columns:
        body = f'<tr><td colspan="{max(len(frame.columns), 1)}" class="empty">No rows</td></tr>'
    else:
        cells = [
            pl.concat_str(
                pl.lit("<td class=num>" if i >= table.label_cols else "<td>"),
                html_escape(pl.col(c).cast(pl.String)).fill_null(DASH),
                pl.lit("</td>"),
            )
            for i, c in enumerate(shown.columns)
        ]
        rows = shown.select(pl.concat_str([pl.lit("<tr>"), *cells, pl.lit("</tr>")]).alias("r"))["r"]
        body = "\n".join(rows.to_list())
    more = ""
    if table.max_rows is not None and frame.height > table.max_rows:
        more = (
            f'<p class="table-note">Showing {table.max_rows:,} of {frame.height:,} rows; '
            f'<a href="{table.csv_name}" download>the CSV</a> has them all.</p>'
        )
    note = f'<p class="table-note">{table.note}</p>' if table.note else ""
    return (
        f'<div class="table-block"><div class="table-head"><h3>{_escape(table.title)}</h3>'
        f'<a class="download" href="{table.csv_name}" download>Download CSV</a></div>'
        f'<div class="table-scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        f"{more}{note}</div>"
    )


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
