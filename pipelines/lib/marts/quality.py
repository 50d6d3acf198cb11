"""Data-quality marts: files and rows by ingest status, quarantined rows by rule, check results."""

from __future__ import annotations

import duckdb

from pipelines.lib.marts.common import MartContext, create_table


def build_data_quality_files(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_files: landing files and their rows by record type and file status."""
    create_table(conn, "marts.data_quality_files", "data_quality_files")


def build_data_quality_rules(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_rules: quarantined rows per record type, field and broken rule."""
    create_table(conn, "marts.data_quality_rules", "data_quality_rules")


def build_data_quality_checks(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.data_quality_checks: the latest result of every asset check, with its DQD-style counts."""
    create_table(conn, "marts.data_quality_checks", "data_quality_checks")
