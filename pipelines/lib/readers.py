"""Reading the warehouse from outside a run: notebooks and ad hoc clients open it read-only.

`SECONDLOOK_WAREHOUSE` names the file; a relative path is taken from the repository root, so a
notebook started in notebooks/ and a script started at the root find the same warehouse.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"


def repo_root(start: Path) -> Path:
    """The folder holding pyproject.toml and pipelines/ at or above `start`."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() and (folder / "pipelines").is_dir():
            return folder
    raise FileNotFoundError(f"no Second Look repository above {start}")


def find_warehouse(env: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    """SECONDLOOK_WAREHOUSE, else the demo's data/warehouse.duckdb; relative paths from the repository root."""
    env = dict(os.environ) if env is None else env
    path = Path(env.get("SECONDLOOK_WAREHOUSE") or DEFAULT_WAREHOUSE)
    path = path if path.is_absolute() else repo_root((cwd or Path.cwd()).resolve()) / path
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `make demo`, or set SECONDLOOK_WAREHOUSE")
    return path


def open_warehouse(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection: a reader can never change what a run published."""
    return duckdb.connect(str(path or find_warehouse()), read_only=True)
