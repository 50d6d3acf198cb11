"""Plain checks (pipelines.lib.checks) as Dagster asset checks: specs on the asset whose table each
guards, evaluated in that asset's own step. An ERROR check blocks what depends on its table."""

from collections.abc import Iterable

import dagster as dg
import duckdb

from pipelines.defs.tables import key
from pipelines.lib.checks import Check, CheckResult

SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


def check_specs(checks: Iterable[Check], table: str | None = None) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            c.name, asset=key(c.table), description=c.description, blocking=c.severity == "ERROR"
        )
        for c in checks
        if table is None or c.table == table
    ]


def dqd_metadata(result: CheckResult) -> dict[str, float | int]:
    """The DQD-style counts every check result carries (OHDSI DataQualityDashboard)."""
    return {
        "rows_checked": int(result.rows_checked),
        "rows_violating": int(result.rows_violating),
        "share_violating": float(result.share),
        "threshold": float(result.threshold),
    }


def evaluate(
    conn: duckdb.DuckDBPyConnection, checks: Iterable[Check], table: str
) -> list[dg.AssetCheckResult]:
    """Run the checks guarding `table` and turn each into an AssetCheckResult."""
    out = []
    for check in (c for c in checks if c.table == table):
        result = check.run(conn)
        extra = {k: dg.MetadataValue.text(str(v)) for k, v in result.metadata.items()}
        out.append(
            dg.AssetCheckResult(
                asset_key=key(table),
                check_name=check.name,
                passed=result.passed,
                severity=SEVERITY[check.severity],
                description=check.description,
                metadata={**dqd_metadata(result), **extra},
            )
        )
    return out
