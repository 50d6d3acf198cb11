"""HTML tables and their CSV downloads.

A `Table` carries two views of one suppressed frame: `csv` (suppressed counts read "<11" or "*",
hidden measures are empty) and `html` (formatted text). Both are built by the pages from the same
safe mart, so the download never holds more than the screen. The file written from `csv` has
numbers in its count columns and the markers in a column beside each (`csv_frame`).

A table must read without scrolling sideways at 1024 px. So a view names the columns a reader
needs first; the others go into `details`, groups of columns shown as further tables (the label
columns repeated) behind a disclosure under the first. Long tables show their first rows and a
"show all" control instead of a scroll box, and print in full. Every header carries its
definition as a tooltip (dashboards.glossary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboards.formatting import DASH, csv_safe, html_escape
from dashboards.glossary import definition

#: Rows a table shows before its "show all" control; the rest are on the page, folded.
FOLD_AFTER = 15


@dataclass
class Table:
    """One published table: its CSV stem, a title, both views, and a note under it."""

    slug: str
    title: str
    csv: pl.DataFrame
    html: pl.DataFrame
    note: str = ""
    label_cols: int = 1  # leading text columns (left-aligned); the rest are numbers
    text_cols: tuple[str, ...] = ()  # further text columns among the numbers (left-aligned, wrapping)
    key_cols: int = 1  # leading columns repeated in every details table, so its rows read alone
    max_rows: int | None = None  # rows on the page at all; the CSV always has all
    #: (summary, html columns) groups shown behind a disclosure, each as its own table
    details: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fold_after: int = FOLD_AFTER

    @property
    def csv_name(self) -> str:
        return f"{self.slug}.csv"

    def groups(self) -> list[tuple[str, list[str]]]:
        """("", the first table's columns), then each details group; label columns lead each."""
        labels = self.html.columns[: self.key_cols]
        tucked = {c for _, cols in self.details for c in cols}
        unknown = tucked - set(self.html.columns)
        if unknown:
            raise ValueError(f"table {self.slug}: details name columns it does not have: {sorted(unknown)}")
        first = [c for c in self.html.columns if c not in tucked]
        rest = [
            (summary, labels + [c for c in self.html.columns if c in cols and c not in labels])
            for summary, cols in self.details
        ]
        return [("", first), *rest]


#: A cell a view wrote as a count: digits with thousands commas, or a suppression marker.
COUNT_OR_MARKER = r"^(<\d+|\*|\d[\d,]*)$"
MARKER = r"^(<\d+|\*)$"
#: Columns read as counts even where no cell of this run is suppressed.
COUNT_NAME = r"^(n|total|observed)$|^n_|^rows_"
#: The suffix of the marker column beside each count column of a download.
MARKER_SUFFIX = "_marker"
#: The period of a site that has only one: every case of the warehouse.
DEFAULT_PERIOD = "all time"


def csv_frame(table: Table, run_id: str, period: str) -> pl.DataFrame:
    """The download as a spreadsheet or pandas reads it: every count column a number (empty
    where hidden), with a `<column>_marker` column beside it ("<11": a count from 1 to
    10; "*": hidden so that such a count cannot be recovered; empty: shown), and the run id and
    period of the site in every row, so a file saved alone still says what it is."""
    frame = table.csv
    if {"run_id", "period"} & set(frame.columns):
        raise ValueError(f"table {table.slug}: run_id and period are the download's own columns")
    out: list[pl.Expr] = [pl.lit(run_id).alias("run_id"), pl.lit(period).alias("period")]
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.String and _is_count_column(frame, name):
            out.append(col.str.replace_all(",", "").cast(pl.Int64, strict=False).alias(name))
            out.append(pl.when(col.str.contains(MARKER)).then(col).alias(name + MARKER_SUFFIX))
        else:
            out.append(col)
    return frame.select(out)


def _is_count_column(frame: pl.DataFrame, name: str) -> bool:
    values = frame[name].drop_nulls()
    if values.is_empty() or not values.str.contains(COUNT_OR_MARKER).all():
        return False
    return bool(values.str.contains(MARKER).any()) or re.search(COUNT_NAME, name) is not None


def write_csv(table: Table, out_dir: Path, run_id: str = "", period: str = DEFAULT_PERIOD) -> Path:
    """Writes the suppressed CSV beside the pages and returns its path; no cell of it can run as
    a spreadsheet formula."""
    path = out_dir / table.csv_name
    csv_safe(csv_frame(table, run_id, period)).write_csv(path)
    return path


def _numeric(table: Table, column: str) -> bool:
    return table.html.columns.index(column) >= table.label_cols and column not in table.text_cols


def _header(table: Table, columns: list[str]) -> str:
    cells = []
    for c in columns:
        numeric = _numeric(table, c)
        cells.append(
            f'<th scope="col"{" class=num" if numeric else ""} title="{_escape(definition(c))}">'
            f"{_escape(c.strip())}</th>"
        )
    return "".join(cells)


def _body(table: Table, frame: pl.DataFrame, columns: list[str]) -> str:
    if frame.is_empty() or not columns:
        return f'<tr><td colspan="{max(len(columns), 1)}" class="empty">No rows</td></tr>'
    cells = [
        pl.concat_str(
            pl.lit("<td class=num>" if _numeric(table, c) else "<td>"),
            html_escape(pl.col(c).cast(pl.String)).fill_null(DASH),
            pl.lit("</td>"),
        )
        for c in columns
    ]
    fold = table.fold_after if frame.height > table.fold_after + 5 else frame.height
    opening = (
        pl.when(pl.int_range(pl.len()) >= fold).then(pl.lit('<tr class="extra">')).otherwise(pl.lit("<tr>"))
    )
    rows = frame.select(pl.concat_str([opening, *cells, pl.lit("</tr>")]).alias("r"))["r"]
    return "\n".join(rows.to_list())


def _one_table(table: Table, frame: pl.DataFrame, columns: list[str]) -> str:
    folded = frame.height > table.fold_after + 5
    control = (
        f'<button type="button" class="show-all" aria-expanded="false" data-rows="{frame.height}">'
        f"Show all {frame.height:,} rows</button>"
        if folded
        else ""
    )
    return (
        f'<div class="table-wrap"><table class="data{" folded" if folded else ""}">'
        f"<thead><tr>{_header(table, columns)}</tr></thead>"
        f"<tbody>{_body(table, frame, columns)}</tbody></table></div>{control}"
    )


def render_table(table: Table) -> str:
    """The table as HTML (escaped, vectorised), with its CSV link, its details and its note."""
    frame = table.html
    shown = frame if table.max_rows is None else frame.head(table.max_rows)
    groups = table.groups()
    parts = [_one_table(table, shown, groups[0][1])]
    for summary, columns in groups[1:]:
        parts.append(
            f'<details class="table-details"><summary>{_escape(summary)}</summary>'
            f"{_one_table(table, shown, columns)}</details>"
        )
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
        f"{''.join(parts)}{more}{note}</div>"
    )


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
