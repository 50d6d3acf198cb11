"""Checks on the core tables: the invariants of pipelines.lib.core.invariants, ERROR and blocking,
since a failure would make every rate or dollar downstream wrong."""

import dagster as dg
import duckdb

from pipelines.defs.checking import check_specs, evaluate
from pipelines.lib.core.invariants import CHECKS


def specs(table: str) -> list[dg.AssetCheckSpec]:
    return check_specs(CHECKS, table)


def results(conn: duckdb.DuckDBPyConnection, table: str) -> list[dg.AssetCheckResult]:
    return evaluate(conn, CHECKS, table)
