"""`secondlook review export`: the review queue as a CSV a person fills in and lands as opinion_labels.

Each row is one narrative opinion of marts.review_queue, most important first (uncertainty times
the cost at stake): the narrative, the first doctor's procedure, the system's best guess and why,
and the empty columns of the opinion_labels contract (outcome, labelled_at, labeller, note). The
file is case level: it is written beside the warehouse, never into the published site. Landed
unchanged but filled in, it is an opinion_labels file; the extra columns are ignored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.landing.contracts import load_contracts

#: Free-text columns a spreadsheet could run as a formula: neutralised with a leading quote.
_FREE_TEXT = ("narrative", "why")
_FORMULA = r"^[=+\-@\t\r]"

EXPORT_SQL = """
SELECT q.opinion_id, q.case_id, q.specialty, q.initial_procedure_code, q.initial_procedure,
       o.summary_text AS narrative, q.best_guess, coalesce(q.review_note, q.reason) AS why, round(q.confidence, 3) AS confidence,
       round(q.priority, 2) AS priority
FROM marts.review_queue q JOIN staging.opinions o USING (opinion_id)
WHERE coalesce(length(trim(o.summary_text)) > 0, false)
ORDER BY q.priority DESC, q.specialty, q.case_id
"""


class ExportError(ValueError):
    """The export cannot be written where asked; the message is one line for a person."""


def default_export_path(warehouse: Path, today: dt.date | None = None) -> Path:
    """`<warehouse folder>/review/opinion_labels_review_<date>.csv`: a name that lands as opinion_labels."""
    today = today or dt.date.today()
    return warehouse.resolve().parent / "review" / f"opinion_labels_review_{today.isoformat()}.csv"


def export_review_queue(conn: duckdb.DuckDBPyConnection, out: Path, site: Path | None = None) -> int:
    """Write the queue to `out` (refusing a path inside the published site); returns the rows written."""
    if site is not None and out.resolve().is_relative_to(site.resolve()):
        raise ExportError(
            f"{out}: the review export is case level and must not be written into the site {site}"
        )
    if not out.name.lower().startswith("opinion_labels"):
        raise ExportError(
            f"{out.name}: name the file opinion_labels...csv so that, filled in, it lands as opinion_labels"
        )
    frame = (
        conn.sql(EXPORT_SQL)
        .pl()
        .with_columns(
            [
                pl.when(pl.col(c).str.contains(_FORMULA))
                .then(pl.lit("'") + pl.col(c))
                .otherwise(pl.col(c))
                .alias(c)
                for c in _FREE_TEXT
            ]
        )
    )
    label_columns = [p.name for p in load_contracts()["opinion_labels"].properties if p.name != "opinion_id"]
    frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in label_columns])
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(out)
    return frame.height
