"""Reading the warehouse from outside a run: notebooks and ad hoc clients.

Readers open the released snapshot (`<warehouse>.published/current/warehouse.duckdb`), never the
file a run is writing: the snapshot is swapped in whole at the end of each successful run, so a
reader always sees one run's tables, and cannot break the run by holding the file open.
`SECONDLOOK_WAREHOUSE` names the warehouse; a relative path is taken from the repository root,
so a notebook started in notebooks/ and a script started at the root find the same one.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.lib.site.release import releases_dir, snapshot_path
from pipelines.lib.warehouse import WarehouseBusy

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
#: Where `make demo` writes (Makefile DEMO): read when no warehouse is named and none is at the default.
DEMO_WAREHOUSE = "data/demo/warehouse.duckdb"


def repo_root(start: Path) -> Path:
    """The folder holding pyproject.toml and pipelines/ at or above `start`."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() and (folder / "pipelines").is_dir():
            return folder
    raise FileNotFoundError(f"no Second Look repository above {start}")


def find_warehouse(env: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The file a reader should open: the released snapshot of SECONDLOOK_WAREHOUSE (else of
    `secondlook run`'s default data/warehouse.duckdb, else of the demo's), or the named file itself
    when it is already a snapshot."""
    env = dict(os.environ) if env is None else env
    named = env.get("SECONDLOOK_WAREHOUSE")
    path = Path(named or DEFAULT_WAREHOUSE)
    root = None if path.is_absolute() else repo_root((cwd or Path.cwd()).resolve())
    path = path if root is None else root / path
    if not named and root is not None and not path.exists() and (root / DEMO_WAREHOUSE).exists():
        path = root / DEMO_WAREHOUSE
    inside_releases = path.parent.parent.name.endswith(".published")
    chosen = path if inside_releases else snapshot_path(path)
    if not chosen.exists():
        where = (
            f"{path} has no released snapshot yet ({releases_dir(path)})"
            if path.exists()
            else f"{path} does not exist"
        )
        raise FileNotFoundError(f"{where}: run `make demo` or `secondlook run`, or set SECONDLOOK_WAREHOUSE")
    return chosen


def open_warehouse(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection: a reader can never change what a run published."""
    target = path or find_warehouse()
    try:
        return duckdb.connect(str(target), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(
                f"{target} is being written by a run; open its released snapshot instead ({snapshot_path(target)})"
            ) from None
        raise
