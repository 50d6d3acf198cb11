"""Audit: the run's check results and its record, written from Dagster's own account of the run.

Neither lives inside another asset: audit.check_results gathers every check evaluation of the run
from the event log once the checked assets are done, and audit.runs records the run once the
site it published is in place. A subset run from the UI records what it ran.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from pipelines.defs.models.checks import TEXT_MODEL
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import key, keys
from pipelines.lib.audit import CheckRow, record_check_results, record_disclosure, record_run
from pipelines.lib.core import invariants as core_invariants
from pipelines.lib.dictionary import apply_comments
from pipelines.lib.faults import pause_point
from pipelines.lib.landing.contracts import RECORD_TYPES, load_contracts
from pipelines.lib.marts import invariants as mart_invariants
from pipelines.lib.site.publish import read_disclosure
from pipelines.lib.site.release import release, release_dir, snapshot, snapshot_path
from pipelines.lib.warehouse import mark_run_finished

#: Every asset that carries checks (contract suites, the text model's floor, the invariants): the
#: check results are gathered once they have all run.
CHECKED = sorted(
    {
        *(load_contracts()[r].published_table for r in RECORD_TYPES),
        TEXT_MODEL,
        *(c.table for c in (*core_invariants.CHECKS, *mart_invariants.CHECKS)),
    }
)


def _value(metadata: dict, name: str) -> object:
    entry = metadata.get(name)
    return getattr(entry, "value", entry)


def check_rows(instance: dg.DagsterInstance, run_id: str) -> list[CheckRow]:
    """Every asset check evaluated in the run, as rows for audit.check_results."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    rows = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        meta = dict(evaluation.metadata)
        counts = {k: _value(meta, k) for k in ("rows_checked", "rows_violating", "threshold")}
        rows.append(
            CheckRow(
                check_name=evaluation.check_name,
                asset=".".join(evaluation.asset_key.path),
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                description=evaluation.description or "",
                rows_checked=counts["rows_checked"],
                rows_violating=counts["rows_violating"],  # type: ignore[arg-type]
                threshold=counts["threshold"],  # type: ignore[arg-type]
                metadata={k: _value(meta, k) for k in meta if k not in counts and k != "share_violating"},
            )
        )
    return rows


@dg.asset(
    key=key("audit.check_results"),
    group_name="audit",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool="duckdb_writer",
    deps=keys(CHECKED),
    description="Every asset check of the run with its severity and DQD-style counts: rows checked, rows "
    "violating, share and threshold.",
)
def check_results(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    rows = check_rows(context.instance, context.run_id)
    with secondlook.writer() as conn:
        n = record_check_results(conn, context.run_id, rows)
    failed = sum(not r.passed for r in rows)
    return dg.MaterializeResult(metadata={"dagster/row_count": n, "failed": failed})


@dg.asset(
    key=key("audit.disclosure"),
    group_name="audit",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool="duckdb_writer",
    deps=keys(["dashboards.site"]),
    description="What the publication audit decided for the site this run built: counts published, small "
    "counts protected, complements, cells the integer program added, the narrowest range an attacker can "
    "reach, relations used and relations that did not hold. One row per measure and run.",
)
def disclosure(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    summary, threshold = read_disclosure(release_dir(secondlook.warehouse_path, context.run_id) / "site")
    with secondlook.writer() as conn:
        n = record_disclosure(conn, context.run_id, summary, threshold)
    secondlook.say(
        f"disclosure: {summary.get('cells_protected', 0)} small counts protected, "
        f"{summary.get('cells_hidden_as_complements', 0)} complements, narrowest range "
        f"{summary.get('narrowest_range')}"
    )
    return dg.MaterializeResult(
        metadata={"dagster/row_count": n, **{k: v for k, v in summary.items() if v is not None}}
    )


@dg.asset(
    key=key("audit.runs"),
    group_name="audit",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool="duckdb_writer",
    deps=keys(["dashboards.site", "audit.check_results", "audit.disclosure"]),
    description="One row per released run (started, finished, paths, settings, as-of date), written as the run "
    "releases its site and the reader snapshot of the warehouse together.",
)
def runs(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    stats = context.instance.get_run_stats(context.run_id)
    started = (
        dt.datetime.fromtimestamp(stats.start_time, dt.UTC).replace(tzinfo=None) if stats.start_time else None
    )
    warehouse, as_of = secondlook.warehouse_path, secondlook.as_of_date()
    with secondlook.writer() as conn:
        record_run(
            conn,
            context.run_id,
            started,
            secondlook.landing,
            secondlook.warehouse,
            secondlook.settings().as_dict(),
            as_of,
        )
        comments = apply_comments(conn)  # after every table is written, so the snapshot carries them
        snapshot(conn, warehouse, context.run_id)
    pause_point("release")  # tests kill the run here: site and snapshot ready, not yet swapped in
    finished = dt.datetime.now(dt.UTC).replace(microsecond=0)
    release(
        warehouse,
        Path(secondlook.site),
        context.run_id,
        {"finished_at": finished.isoformat(), "as_of": as_of.isoformat()},
    )
    mark_run_finished(warehouse, context.run_id)
    secondlook.say(f"released: site {secondlook.site} and reader snapshot {snapshot_path(warehouse)}")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "comments": comments,
            "site": dg.MetadataValue.path(str(Path(secondlook.site) / "index.html")),
            "snapshot": dg.MetadataValue.path(str(snapshot_path(warehouse))),
        }
    )
