"""The one Dagster resource: where the landing folder, warehouse and site are, and how to write.

Paths default from SECONDLOOK_LANDING / SECONDLOOK_WAREHOUSE / SECONDLOOK_SITE / SECONDLOOK_COSTS
(read when the resource is built, not at import), so `dg dev` can be pointed at any folder.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.settings import Settings, load_settings
from pipelines.warehouse import connect, writer_lock

DEFAULT_LANDING = "data/landing"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_SITE = "data/site"


class SecondLook(dg.ConfigurableResource):  # type: ignore[type-arg]
    landing: str = DEFAULT_LANDING
    warehouse: str = DEFAULT_WAREHOUSE
    site: str = DEFAULT_SITE
    costs: str = ""
    # True when the caller (the `secondlook run` CLI) already holds the writer lock for the run.
    lock_held: bool = False
    progress: bool = False
    # Seconds an asset started from the UI waits for another writer to finish.
    lock_wait_seconds: float = 600.0

    @classmethod
    def from_env(cls) -> SecondLook:
        env = os.environ
        return cls(
            landing=env.get("SECONDLOOK_LANDING", DEFAULT_LANDING),
            warehouse=env.get("SECONDLOOK_WAREHOUSE", DEFAULT_WAREHOUSE),
            site=env.get("SECONDLOOK_SITE", DEFAULT_SITE),
            costs=env.get("SECONDLOOK_COSTS", ""),
        )

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse)

    def settings(self) -> Settings:
        return load_settings()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, holding the one-writer lock unless the caller holds it."""
        if self.lock_held:
            conn = connect(self.warehouse_path)
            try:
                yield conn
            finally:
                conn.close()
            return
        with writer_lock(self.warehouse_path, wait_seconds=self.lock_wait_seconds):
            conn = connect(self.warehouse_path)
            try:
                yield conn
            finally:
                conn.close()

    def say(self, message: str) -> None:
        """A progress line for the CLI (the UI has the run log instead)."""
        if self.progress:
            print(f"  {time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)
