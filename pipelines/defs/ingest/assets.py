"""Ingest: the landing folder -> staging, quarantine.rows and audit.ingest_files, losing no row.

Every table ingest writes is its own asset; the Great Expectations suites compiled from the
contracts run as checks on the staged tables in the same step, right after the rows land.
"""

from pathlib import Path

import dagster as dg

from pipelines.defs.ingest.checks import gx_check_specs, run_gx_checks
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import contract_schema, spec
from pipelines.lib.landing.contracts import RECORD_TYPES, load_contracts
from pipelines.lib.landing.ingest import ingest
from pipelines.lib.landing.normalise import parse_date_formats

CONTRACTS = load_contracts()
CASES = CONTRACTS["cases"].table
OPINIONS = CONTRACTS["opinions"]

DESCRIPTIONS = {
    "cases": "Valid referral rows (one per case), typed and normalised by the cases contract.",
    "follow_ups": "Valid follow-up claim rows: what was billed after the opinion.",
    "procedure_costs": "A payer's own price per procedure code; a later file wins per code.",
    "opinion_labels": "People's outcome for narrative opinions (the review export filled in); a label waits here "
    "until its opinion arrives, and the latest label of an opinion wins.",
    "enrollment": "Coverage periods per patient: a case with no claims counts as not leaked when covered.",
}


def _specs() -> list[dg.AssetSpec]:
    specs = []
    for record_type in RECORD_TYPES:
        contract = CONTRACTS[record_type]
        if record_type == "opinions":
            continue
        specs.append(
            spec(
                contract.table,
                DESCRIPTIONS[record_type],
                group="ingest",
                pii=record_type != "procedure_costs",
                schema=contract_schema(contract),
            )
        )
    schema = contract_schema(OPINIONS)
    specs += [
        spec(
            OPINIONS.waiting_table or "",
            "Valid opinions whose case has not arrived yet; matched on a later run.",
            group="ingest",
            deps=[CASES],
            pii=True,
            schema=schema,
        ),
        spec(
            OPINIONS.table,
            "Every valid version of every opinion whose case is known.",
            group="ingest",
            deps=[CASES, OPINIONS.waiting_table or ""],
            pii=True,
            schema=schema,
        ),
        spec(
            OPINIONS.published_table,
            "The latest version of each opinion_id: what outcomes are decided from.",
            group="ingest",
            deps=[OPINIONS.table],
            pii=True,
            schema=schema,
        ),
        spec(
            "quarantine.rows",
            "Every rejected row with its reasons (field:rule), identifier patterns masked.",
            group="ingest",
            pii=True,
        ),
        spec(
            "audit.ingest_files",
            "One row per landing file: status and rows read = loaded + quarantined + duplicate.",
            group="ingest",
        ),
    ]
    return specs


@dg.multi_asset(
    specs=_specs(),
    check_specs=gx_check_specs(),
    pool="duckdb_writer",
    description="Validate every landing file against its contract; stage, quarantine or count each row.",
)
def landing_ingest(context: dg.AssetExecutionContext, secondlook: SecondLook):
    landing = Path(secondlook.landing)
    extra = [(Path(secondlook.costs), "procedure_costs")] if secondlook.costs else []
    today = secondlook.as_of_date()
    with secondlook.writer() as conn:
        report = ingest(
            conn,
            landing,
            run_id=context.run_id,
            today=today,
            extra_files=extra,
            date_format=secondlook.settings().date_format,
            date_formats=parse_date_formats(secondlook.settings().date_formats),
        )
        totals = report.totals()
        secondlook.say(
            f"ingest: {totals['files']} files, {totals['rows_loaded']:,} rows loaded, "
            f"{totals['rows_quarantined']:,} quarantined, {totals['rows_duplicate']:,} duplicate"
        )
        for res in report.files:
            if res.message():
                context.log.warning(res.message())
        for asset_spec in _specs():
            table = ".".join(asset_spec.key.path)
            meta: dict[str, int] = {
                "dagster/row_count": int(conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            }
            if table == "audit.ingest_files":
                meta.update({k: int(v) for k, v in totals.items()})
            if table == OPINIONS.waiting_table:
                meta.update(
                    {
                        "waiting": report.waiting,
                        "matched_this_run": report.matched_waiting,
                        "quarantined_this_run": report.quarantined_waiting,
                    }
                )
            yield dg.MaterializeResult(asset_key=asset_spec.key, metadata=meta)
        gx = run_gx_checks(conn, secondlook.settings(), today)
    failed = sum(not r.passed for r in gx)
    secondlook.say(f"contract checks (Great Expectations): {len(gx) - failed} passed, {failed} failed")
    yield from gx
