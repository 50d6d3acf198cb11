"""Data-quality marts: files and rows by ingest status, quarantined rows by rule, check results,
opinions waiting for their case."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.lib.marts.common import MartContext, create_table, query, sql
from pipelines.lib.sqlfiles import bind


def build_data_quality_files(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_files: the latest ingest's landing files and their rows by record type
    and file status."""
    create_table(conn, "marts.data_quality_files", "data_quality_files")


def build_data_quality_runs(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_runs: every ingest run's files and rows, oldest first (the history
    beside the latest run's files)."""
    create_table(conn, "marts.data_quality_runs", "data_quality_runs")


def build_data_quality_rules(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_rules: quarantined rows per record type, field and broken rule."""
    create_table(conn, "marts.data_quality_rules", "data_quality_rules")


def build_data_quality_checks(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_checks: the latest result of every asset check, with its DQD-style counts."""
    create_table(conn, "marts.data_quality_checks", "data_quality_checks")


def waiting_opinions(conn: duckdb.DuckDBPyConnection, as_of: date, orphan_after_days: int) -> pl.DataFrame:
    """Each opinion waiting for its case, with the days it has waited and whether it is an orphan
    (waited orphan_after_days or more): what the run summary lists for people to chase."""
    return query(conn, "waiting_opinions", as_of=as_of, orphan_after_days=orphan_after_days)


def build_data_quality_waiting(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_waiting: opinions waiting for their case: count, oldest age in days, orphans."""
    text = f"WITH waiting AS ({sql('waiting_opinions')}) {sql('data_quality_waiting')}"
    params = {"as_of": ctx.as_of or date.today(), "orphan_after_days": ctx.settings.orphan_after_days}
    conn.execute(f"CREATE OR REPLACE TABLE marts.data_quality_waiting AS {text}", bind(text, params))
