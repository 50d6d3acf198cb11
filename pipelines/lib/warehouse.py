"""The DuckDB warehouse file: connections, the one-writer lock, and the ingest-owned tables.

DuckDB allows one writer per file. Every run that writes holds an exclusive advisory lock on a
sibling `<warehouse>.lock` file, so a second concurrent `secondlook run` (or a Dagster run
started from the UI) waits or exits with a clear message instead of corrupting the file.
Readers (dashboards, notebooks) open the file read-only.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

SCHEMAS = ("audit", "quarantine", "staging", "reference", "core", "marts")


class WarehouseBusy(RuntimeError):
    """Another process holds the writer lock."""


class WarehouseError(RuntimeError):
    """The warehouse file cannot be opened or created."""


def artifacts_dir(warehouse: Path) -> Path:
    """Trained models and their cards live beside the warehouse file, never in git."""
    return warehouse.resolve().parent / "artifacts"


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def writer_lock(warehouse: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the exclusive writer lock for `warehouse`, waiting up to `wait_seconds` for it."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(warehouse)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                    raise WarehouseBusy(
                        f"{warehouse} is being written by {holder}; wait for that run to finish "
                        "(or pass --wait SECONDS)"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def connect(warehouse: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a one-line WarehouseError when the path is unusable."""
    if read_only and not warehouse.exists():
        raise WarehouseError(f"warehouse {warehouse} does not exist; run `secondlook run` first")
    try:
        if not read_only:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(warehouse), read_only=read_only)
    except (duckdb.Error, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(f"cannot open warehouse {warehouse}: {first}") from None


def ensure_schemas(conn: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


AUDIT_DDL = Path(__file__).with_name("sql") / "audit_tables.sql"


def ensure_audit_tables(conn: duckdb.DuckDBPyConnection) -> None:
    ensure_schemas(conn)
    conn.execute(AUDIT_DDL.read_text(encoding="utf-8"))


def write_table(conn: duckdb.DuckDBPyConnection, qualified: str, frame: object) -> None:
    """Replace `schema.table` with a Polars (or Arrow) frame, creating the schema if needed."""
    schema = qualified.split(".")[0]
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    view = "_secondlook_in_" + qualified.replace(".", "_")
    data = frame.to_arrow() if hasattr(frame, "to_arrow") else frame
    conn.register(view, data)
    try:
        conn.execute(f"CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM {view}")
    finally:
        conn.unregister(view)


def table_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(row and row[0][0])


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> Any:
    """First value of a query. Uses fetchall(): DuckDB 2 keeps a half-read result open and
    refuses the connection's next statement until it is exhausted."""
    rows = conn.execute(sql, params).fetchall() if params is not None else conn.execute(sql).fetchall()
    return rows[0][0] if rows else None


def marker_path(warehouse: Path) -> Path:
    """`<warehouse>.run`: present while a run is under way, removed when it has published."""
    return warehouse.with_name(warehouse.name + ".run")


def mark_run_started(warehouse: Path, run_id: str) -> dict[str, str] | None:
    """Record that `run_id` is under way; returns the record of an earlier run that never finished."""
    path = marker_path(warehouse)
    previous = unfinished_run(warehouse)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    path.write_text(json.dumps({"run_id": run_id, "started_at": started, "pid": os.getpid()}))
    return previous if previous and previous.get("run_id") != run_id else None


def unfinished_run(warehouse: Path) -> dict[str, str] | None:
    """The run recorded as under way, if any (after a kill or a failure it stays behind)."""
    path = marker_path(warehouse)
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def mark_run_finished(warehouse: Path, run_id: str) -> None:
    """The run has published: forget it, unless another run has started since."""
    record = unfinished_run(warehouse)
    if record is not None and record.get("run_id") == run_id:
        marker_path(warehouse).unlink(missing_ok=True)
