"""Persist asset-check outcomes to audit.check_results so the data-quality page can show them
(Tuva's lesson: data quality must be queryable in tables, not only in run logs)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import duckdb

from pipelines.warehouse import ensure_audit_tables


def record_check_results(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    asset: str,
    results: Iterable[tuple[str, bool, str, str, dict[str, object]]],
) -> None:
    """Replace this run's results for `asset` with (check_name, passed, severity, description, metadata)."""
    ensure_audit_tables(conn)
    rows = [(name, asset, passed, severity, desc, json.dumps(meta, default=str), run_id)
            for name, passed, severity, desc, meta in results]
    conn.execute("DELETE FROM audit.check_results WHERE run_id = ? AND asset = ?", [run_id, asset])
    if rows:
        conn.executemany(
            "INSERT INTO audit.check_results VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)", rows
        )
