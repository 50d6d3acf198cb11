"""The one Dagster resource: where the landing folder, warehouse and site are, the run's as-of
date, and how to write the warehouse.

Paths default from SECONDLOOK_LANDING / SECONDLOOK_WAREHOUSE / SECONDLOOK_SITE / SECONDLOOK_COSTS,
read when the code location loads (never at import), so `dg dev` can be pointed at any folder.
Every field is run configuration: the Launchpad can set `as_of` for any subset of assets.
"""

import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from pipelines.lib.settings import Settings, load_settings
from pipelines.lib.warehouse import connect, writer_lock

DEFAULT_LANDING = "data/landing"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_SITE = "data/site"


class SecondLook(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Paths, the as-of date and the warehouse writer of a run."""

    landing: str = Field(default=DEFAULT_LANDING, description="landing folder of input files")
    warehouse: str = Field(default=DEFAULT_WAREHOUSE, description="DuckDB warehouse file")
    site: str = Field(default=DEFAULT_SITE, description="folder the dashboards are published to")
    costs: str = Field(default="", description="a payer's procedure_costs file, optional")
    as_of: str = Field(
        default="",
        description="ISO date the run is 'today' for: rules such as 'not in the future' are judged "
        "against it. Empty (the default) means the date the run starts, in UTC.",
    )
    lock_held: bool = Field(default=False, description="the caller (`secondlook run`) holds the writer lock")
    progress: bool = Field(default=False, description="print a progress line per step (the CLI)")
    lock_wait_seconds: float = Field(default=600.0, description="how long a step waits for another writer")

    @classmethod
    def from_env(cls) -> "SecondLook":
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

    def as_of_date(self) -> dt.date:
        """The configured as-of date, or today (UTC) when none is set."""
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.datetime.now(dt.UTC).date()

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


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"secondlook": SecondLook.from_env()})
