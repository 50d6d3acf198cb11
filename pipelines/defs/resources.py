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
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from pipelines.lib.settings import Settings, load_settings
from pipelines.lib.warehouse import connect, mark_run_started, writer_lock

DEFAULT_LANDING = "data/landing"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_SITE = "data/site"


class SecondLook(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Paths, the as-of date and the warehouse writer of a run.

    Within a run the writer is opened once, at the first step that writes, and held until the
    run ends (with the one-writer lock): a reader opening the file meanwhile gets a clear
    "busy" error instead of breaking a later step, and reads the released snapshot instead.
    """

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

    _run_id: str | None = PrivateAttr(default=None)
    _stack: ExitStack | None = PrivateAttr(default=None)
    _conn: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Nothing is opened here: sensors initialise resources too, and must not take the writer.
        self._run_id = context.run_id

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._conn = None, None

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

    @property
    def run_id(self) -> str:
        return self._run_id or ""

    def _open(self) -> duckdb.DuckDBPyConnection:
        """The run's writer: the lock (unless the caller holds it), one connection and the run marker."""
        stack = ExitStack()
        try:
            if not self.lock_held:
                stack.enter_context(writer_lock(self.warehouse_path, wait_seconds=self.lock_wait_seconds))
            conn = stack.enter_context(closing(connect(self.warehouse_path)))
            previous = mark_run_started(self.warehouse_path, self.run_id)
        except BaseException:
            stack.close()
            raise
        if previous:
            dg.get_dagster_logger().warning(
                f"the last run ({previous.get('run_id')}, started {previous.get('started_at')}) did not finish: "
                "nothing of it was published"
            )
        self._stack, self._conn = stack, conn
        return conn

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse connection that writes. In a run it is the run's own, held to the end; outside
        one (a step called directly) it is opened for the block and closed after it."""
        if self._run_id is not None:
            yield self._conn if self._conn is not None else self._open()
            return
        with ExitStack() as stack:
            if not self.lock_held:
                stack.enter_context(writer_lock(self.warehouse_path, wait_seconds=self.lock_wait_seconds))
            yield stack.enter_context(closing(connect(self.warehouse_path)))

    def say(self, message: str) -> None:
        """A progress line for the CLI (the UI has the run log instead)."""
        if self.progress:
            print(f"  {time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"secondlook": SecondLook.from_env()})
