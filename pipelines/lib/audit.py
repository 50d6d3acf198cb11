"""Run bookkeeping in the warehouse: the checks a run evaluated and the record of each run.

Tuva's lesson: data quality must be queryable in tables, not only in run logs. The Dagster
wiring gathers the run's check evaluations and hands them here as plain rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import duckdb

from pipelines.lib.warehouse import ensure_audit_tables


@dataclass(frozen=True)
class CheckRow:
    """One evaluated check as stored in audit.check_results."""

    check_name: str
    asset: str
    passed: bool
    severity: str
    description: str
    rows_checked: int | None = None
    rows_violating: int | None = None
    threshold: float | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def share_violating(self) -> float | None:
        if self.rows_checked is None or self.rows_violating is None:
            return None
        return self.rows_violating / self.rows_checked if self.rows_checked else 0.0


def record_check_results(conn: duckdb.DuckDBPyConnection, run_id: str, rows: Iterable[CheckRow]) -> int:
    """Replace this run's rows of audit.check_results; returns how many were written."""
    ensure_audit_tables(conn)
    values = [
        (
            r.check_name,
            r.asset,
            r.passed,
            r.severity,
            r.description,
            r.rows_checked,
            r.rows_violating,
            r.share_violating,
            r.threshold,
            json.dumps(dict(r.metadata), default=str),
            run_id,
        )
        for r in rows
    ]
    conn.execute("DELETE FROM audit.check_results WHERE run_id = ?", [run_id])
    if values:
        conn.executemany(
            "INSERT INTO audit.check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
            values,
        )
    return len(values)


def record_disclosure(
    conn: duckdb.DuckDBPyConnection, run_id: str, summary: Mapping[str, object], threshold: int
) -> int:
    """Replace this run's rows of audit.disclosure: what the publication audit decided for the
    site it built (dashboards.disclosure.Decision.summary), one row per measure."""
    ensure_audit_tables(conn)
    values = [
        (run_id, measure, None if value is None else float(value), threshold)  # type: ignore[arg-type]
        for measure, value in summary.items()
    ]
    conn.execute("DELETE FROM audit.disclosure WHERE run_id = ?", [run_id])
    if values:
        conn.executemany("INSERT INTO audit.disclosure VALUES (?, ?, ?, ?, now()::TIMESTAMP)", values)
    return len(values)


def record_run(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    started_at: dt.datetime | None,
    landing: str,
    warehouse: str,
    settings: Mapping[str, object],
    as_of: dt.date,
) -> None:
    """Write (or rewrite) the run's row of audit.runs, finished now."""
    ensure_audit_tables(conn)
    conn.execute("DELETE FROM audit.runs WHERE run_id = ?", [run_id])
    conn.execute(
        "INSERT INTO audit.runs VALUES (?, coalesce(?, now()::TIMESTAMP), now()::TIMESTAMP, ?, ?, ?, ?)",
        [
            run_id,
            started_at,
            landing,
            warehouse,
            json.dumps(dict(settings), sort_keys=True, default=str),
            as_of,
        ],
    )
