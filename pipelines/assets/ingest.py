"""Ingest assets: the landing folder -> staging, quarantine.rows and audit.ingest_files.

The Great Expectations suites compiled from the contracts are declared as asset checks on the
staged tables and run in the same step, right after the rows land, so their results are in
audit.check_results before anything downstream reads them.
"""


import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.checks_store import record_check_results
from pipelines.contracts import load_contracts
from pipelines.gx_adapter import check_name, expectations_for, validate_table
from pipelines.ingest import ingest
from pipelines.resources import SecondLook
from pipelines.settings import Settings
from pipelines.warehouse import start_run

STAGED = {
    "cases": "staging.cases",
    "opinions": "staging.opinions",
    "follow_ups": "staging.follow_ups",
    "procedure_costs": "staging.procedure_costs",
}
INGEST_KEYS = [dg.AssetKey(["staging", t]) for t in STAGED] + [
    dg.AssetKey(["staging", "opinions_waiting"]),
    dg.AssetKey(["quarantine", "rows"]),
    dg.AssetKey(["audit", "ingest_files"]),
]


def gx_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per contract rule and staged table, named `field__rule` after the YAML."""
    specs = []
    for record_type, contract in load_contracts().items():
        if record_type not in STAGED:
            continue
        for e in expectations_for(contract, dt.date.today()):
            specs.append(dg.AssetCheckSpec(
                check_name(e["meta"]["rule"]), asset=dg.AssetKey(["staging", record_type]),
                description=f"{e['meta']['rule']} in {contract.path.name}: {e['meta']['description']} "
                            f"(Great Expectations {e['type']})",
            ))
    return specs


def run_gx_checks(conn: duckdb.DuckDBPyConnection, run_id: str, settings: Settings) -> list[dg.AssetCheckResult]:
    results = []
    for record_type, table in STAGED.items():
        contract = load_contracts()[record_type]
        outcomes = validate_table(conn, contract, table, dt.date.today(), settings.gx_max_rows, settings.seed)
        record_check_results(conn, run_id, table, [
            (o.check_name, o.success, "ERROR", o.rule, {"unexpected": o.unexpected_count, "rows": o.element_count})
            for o in outcomes
        ])
        results += [
            dg.AssetCheckResult(
                asset_key=dg.AssetKey(["staging", record_type]), check_name=o.check_name, passed=o.success,
                metadata={"rule": o.rule, "expectation": o.expectation, "rows_checked": o.element_count or 0,
                          "unexpected": o.unexpected_count or 0, "sample": ", ".join(o.sample)},
            )
            for o in outcomes
        ]
    return results


@dg.multi_asset(
    specs=[dg.AssetSpec(k, group_name="ingest", kinds={"duckdb"}) for k in INGEST_KEYS],
    check_specs=gx_check_specs(),
    pool="duckdb_writer",
    description="Validate every landing file against its contract; stage, quarantine or count each row.",
)
def landing_ingest(context: dg.AssetExecutionContext, secondlook: SecondLook):
    landing = Path(secondlook.landing)
    extra = [(Path(secondlook.costs), "procedure_costs")] if secondlook.costs else []
    with secondlook.writer() as conn:
        start_run(conn, context.run_id, secondlook.landing, secondlook.warehouse, secondlook.settings().as_dict())
        report = ingest(conn, landing, run_id=context.run_id, extra_files=extra)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in STAGED.values()}
        totals = report.totals()
        secondlook.say(
            f"ingest: {totals['files']} files, {totals['rows_loaded']:,} rows loaded, "
            f"{totals['rows_quarantined']:,} quarantined, {totals['rows_duplicate']:,} duplicate"
        )
        for res in report.files:
            if res.message():
                context.log.warning(res.message())
        for key in INGEST_KEYS:
            table = ".".join(key.path)
            meta: dict[str, int] = {}
            if table in counts:
                meta["dagster/row_count"] = int(counts[table])
            if table == "audit.ingest_files":
                meta.update({k: int(v) for k, v in totals.items()})
            if table == "staging.opinions_waiting":
                meta.update({"waiting": report.waiting, "matched_this_run": report.matched_waiting})
            yield dg.MaterializeResult(asset_key=key, metadata=meta)
        gx = run_gx_checks(conn, context.run_id, secondlook.settings())
    failed = sum(not r.passed for r in gx)
    secondlook.say(f"contract checks (Great Expectations): {len(gx) - failed} passed, {failed} failed")
    yield from gx
