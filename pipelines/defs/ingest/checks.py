"""Great Expectations suites compiled from the contracts, as WARN asset checks on the staged tables.

They are data-quality findings: the row rules already decided, row by row, what was staged, so a
failure here says a rule let something through and is shown, not a reason to stop publishing.
"""

import datetime as dt

import dagster as dg
import duckdb

from pipelines.defs.tables import key
from pipelines.lib.landing.contracts import RECORD_TYPES, load_contracts
from pipelines.lib.landing.gx_adapter import check_name, expectations_for, validate_table
from pipelines.lib.settings import Settings


def gx_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per contract rule and staged table, named `field__rule` after the YAML."""
    specs = []
    for record_type in RECORD_TYPES:
        contract = load_contracts()[record_type]
        for e in expectations_for(contract, dt.date.today()):
            specs.append(
                dg.AssetCheckSpec(
                    check_name(e["meta"]["rule"]),
                    asset=key(contract.published_table),
                    description=f"{e['meta']['rule']} in {contract.path.name}: {e['meta']['description']} "
                    f"(Great Expectations {e['type']})",
                )
            )
    return specs


def run_gx_checks(
    conn: duckdb.DuckDBPyConnection, settings: Settings, today: dt.date
) -> list[dg.AssetCheckResult]:
    results = []
    for record_type in RECORD_TYPES:
        contract = load_contracts()[record_type]
        table = contract.published_table
        for o in validate_table(conn, contract, table, today, settings.gx_max_rows, settings.seed):
            checked, bad = int(o.element_count or 0), int(o.unexpected_count or 0)
            results.append(
                dg.AssetCheckResult(
                    asset_key=key(table),
                    check_name=o.check_name,
                    passed=o.success,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={
                        "rule": o.rule,
                        "expectation": o.expectation,
                        "rows_checked": checked,
                        "rows_violating": bad,
                        "share_violating": bad / checked if checked else 0.0,
                        "threshold": 0.0,
                        "sample": ", ".join(o.sample),
                    },
                )
            )
    return results
