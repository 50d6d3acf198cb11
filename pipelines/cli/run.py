"""`secondlook run`: materialise every asset in one process under the writer lock."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.cli.summary import LoadCounts, load_counts, render
from pipelines.defs.resources import SecondLook
from pipelines.lib.fingerprint import (
    changed_inputs,
    read_fingerprint,
    run_fingerprint,
    same_inputs,
    write_fingerprint,
)
from pipelines.lib.settings import Settings, load_settings
from pipelines.lib.site.release import released_run
from pipelines.lib.warehouse import WarehouseError, artifacts_dir, connect, unfinished_run, writer_lock


class RunError(RuntimeError):
    """The run could not start or did not complete; the message is one line for a person."""


@dataclass
class RunOutcome:
    run_id: str
    seconds: float
    summary: str
    site_index: Path | None
    failed_steps: list[str]
    #: Rows loaded by this run and by every run, and this run's refused or unreadable files.
    counts: LoadCounts
    #: Asset keys this run materialised ("staging.cases", ...); empty when nothing was new.
    materialised: list[str] = field(default_factory=list)


def preflight(landing: Path, warehouse: Path, costs: Path | None) -> None:
    """Refuse, with one line, what cannot work before anything is written."""
    if not landing.is_dir():
        raise RunError(f"landing folder {landing} does not exist or is not a folder")
    if costs is not None and not costs.is_file():
        raise RunError(f"costs file {costs} does not exist")
    if warehouse.exists() and warehouse.is_dir():
        raise RunError(
            f"warehouse path {warehouse} is a folder; give a file path such as data/warehouse.duckdb"
        )
    parent = warehouse.parent if str(warehouse.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise RunError(f"cannot write the warehouse {warehouse}: {probe} is not writable")


def _root_cause(error: object) -> str:
    """The innermost error of a Dagster step failure, as one line (Dagster wraps the real one)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    message = (getattr(error, "message", "") or "").strip()
    return message.splitlines()[0] if message else "unknown error"


def run_pipeline(
    landing: Path,
    warehouse: Path,
    site: Path,
    costs: Path | None = None,
    *,
    wait_seconds: float = 0.0,
    progress: bool = True,
    full: bool = False,
) -> RunOutcome:
    """Materialise every asset (with its checks) and return the summary read from the warehouse.

    When the landing files, the costs file, the settings and the code are those of the last run
    that completed and published (pipelines/lib/fingerprint.py), and its site is still there,
    nothing is recomputed: the outcome is that run's, with a summary that says so. `full`
    rebuilds everything regardless.
    """
    preflight(landing, warehouse, costs)
    settings = load_settings()
    started = time.monotonic()
    resource = SecondLook(
        landing=str(landing),
        warehouse=str(warehouse),
        site=str(site),
        costs=str(costs) if costs else "",
        lock_held=True,
        progress=progress,
    )
    with writer_lock(warehouse, wait_seconds=wait_seconds):
        connect(warehouse).close()  # fail early, in one line, on a file that is not a DuckDB warehouse
        interrupted = unfinished_run(warehouse)
        previous = read_fingerprint(artifacts_dir(warehouse))
        # `retrain` asks for one training, not for different results: it is not an input of the run.
        shaping = {k: v for k, v in settings.as_dict().items() if k != "retrain"}
        inputs = run_fingerprint(landing, costs, shaping, previous)
        unchanged = _nothing_new(previous, inputs, warehouse, site) if not full and not interrupted else None
        if unchanged is not None:
            return _no_op(unchanged, warehouse, site, settings, started)
        from pipelines.definitions import defs  # heavy imports only once the run can start

        result = dg.materialize(
            list(defs().assets or []),
            resources={"secondlook": resource},
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
        # Read the summary before releasing the lock: a run waiting for it opens the file read-write
        # at once, and DuckDB then refuses this reader (or this reader refuses that writer).
        try:
            conn = connect(warehouse, read_only=True)
        except WarehouseError as exc:
            raise RunError(str(exc)) from None
        released = released_run(warehouse)
        published = released is not None and released.get("run_id") == result.run_id
        try:
            summary = render(conn, result.run_id, settings, artifacts_dir(warehouse), published=published)
            counts = load_counts(conn, result.run_id)
        finally:
            conn.close()
    if interrupted:
        summary = (
            f"Note: the previous run ({interrupted.get('run_id')}, started {interrupted.get('started_at')}) did not "
            "finish; nothing of it was published.\n" + summary
        )
    if not published:
        shown = (
            f"run {released['run_id']} (finished {released.get('finished_at')})"
            if released
            else "nothing yet"
        )
        summary += (
            f"\nNothing was published by this run: the site and the reader snapshot still show {shown}."
        )
    failed = [e.step_key or "?" for e in result.all_events if e.is_step_failure]
    errors = [
        f"{e.step_key}: {_root_cause(e.step_failure_data.error)}"
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data
    ]
    blocked = [
        f"{'.'.join(e.asset_check_evaluation_data.asset_key.path)}:{e.asset_check_evaluation_data.check_name}"
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity == dg.AssetCheckSeverity.ERROR
    ]
    if blocked:
        summary += "\n" + "\n".join(
            f"  ! blocking check failed (nothing downstream was published): {b}" for b in blocked
        )
    if errors:
        summary += "\n" + "\n".join(f"  ! step failed: {e}" for e in errors)
    index = site / "index.html"
    materialised = sorted(
        {".".join(e.asset_key.path) for e in result.all_events if e.is_step_materialization and e.asset_key}
    )
    if published and not failed and not blocked:
        write_fingerprint(artifacts_dir(warehouse), inputs, result.run_id)
    elif previous is not None:  # a failed or unpublished run: the next one must not skip
        (artifacts_dir(warehouse) / "last_run.fingerprint.json").unlink(missing_ok=True)
    why = changed_inputs(previous, inputs) if previous else []
    if full:
        summary = "Full rebuild (--full): every asset recomputed.\n" + summary
    elif why:
        summary = (
            f"Recomputed: {', '.join(why)} changed since run {previous.get('run_id') if previous else '?'}.\n"
            + summary
        )
    return RunOutcome(
        result.run_id,
        time.monotonic() - started,
        summary,
        index if index.exists() else None,
        failed + [f"check {b}" for b in blocked],
        counts,
        materialised,
    )


def _nothing_new(
    previous: dict[str, object] | None, inputs: dict[str, object], warehouse: Path, site: Path
) -> str | None:
    """The run id of the last published run when this one would only repeat it, else None."""
    if previous is None or not same_inputs(previous, inputs) or not (site / "index.html").exists():
        return None
    released = released_run(warehouse)
    run_id = str(previous.get("run_id", ""))
    return run_id if released is not None and released.get("run_id") == run_id else None


def _no_op(run_id: str, warehouse: Path, site: Path, settings: Settings, started: float) -> RunOutcome:
    """The outcome of a run that found nothing new: the summary of the run it would repeat."""
    try:
        conn = connect(warehouse, read_only=True)
    except WarehouseError as exc:
        raise RunError(str(exc)) from None
    try:
        summary = render(conn, run_id, settings, artifacts_dir(warehouse), published=True)
        counts = load_counts(conn, run_id)
    finally:
        conn.close()
    head = (
        f"Nothing new: landing files, costs, settings and code are those of run {run_id}; nothing was "
        "recomputed and the site is unchanged (secondlook run --full rebuilds everything).\n"
    )
    return RunOutcome(run_id, time.monotonic() - started, head + summary, site / "index.html", [], counts, [])
