"""Checks on the marts: the invariants of pipelines.lib.marts.invariants, ERROR and blocking,
since a failure means the site would publish rates or dollars that do not add up."""

import dagster as dg
import duckdb

from pipelines.defs.checking import check_specs, evaluate
from pipelines.lib.marts.invariants import CHECKS


def specs(table: str) -> list[dg.AssetCheckSpec]:
    return check_specs(CHECKS, table)


def results(conn: duckdb.DuckDBPyConnection, table: str) -> list[dg.AssetCheckResult]:
    return evaluate(conn, CHECKS, table)
