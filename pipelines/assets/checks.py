"""Wiring for the plain invariants of pipelines/quality.py: specs on the asset whose table each
guards, and results yielded (and stored in audit.check_results) in that asset's own step."""


import dagster as dg
import duckdb

from pipelines.checks_store import record_check_results
from pipelines.quality import QUALITY_CHECKS


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def quality_specs(table: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(c.name, asset=_key(table), description=c.description)
            for c in QUALITY_CHECKS if c.asset == table]


def run_quality(conn: duckdb.DuckDBPyConnection, run_id: str, table: str) -> list[dg.AssetCheckResult]:
    checks = [c for c in QUALITY_CHECKS if c.asset == table]
    outcomes = [c.run(conn) for c in checks]
    record_check_results(conn, run_id, table, [
        (c.name, o.passed, "ERROR", c.description, dict(o.metadata)) for c, o in zip(checks, outcomes, strict=True)])
    return [
        dg.AssetCheckResult(asset_key=_key(table), check_name=c.name, passed=o.passed,
                            description=o.description, metadata={k: str(v) for k, v in o.metadata.items()})
        for c, o in zip(checks, outcomes, strict=True)
    ]
