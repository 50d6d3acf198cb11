"""What every mart builder shares: the SQL files beside it, the run it belongs to, row orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.settings import Settings
from pipelines.lib.sqlfiles import bind, queries
from pipelines.lib.vocabulary import ALL, OUTCOMES

SQL_DIR = Path(__file__).with_name("sql")


@dataclass(frozen=True)
class MartContext:
    """What a mart may know besides the warehouse: the settings in force and the run building it."""

    settings: Settings
    run_id: str = ""
    as_of: date | None = None


def sql(name: str) -> str:
    """The text of `sql/<name>.sql`: static SQL lives in files its tools can read, not in strings."""
    return queries(SQL_DIR / f"{name}.sql")[name]


def _bound(text: str, params: dict[str, object]) -> dict[str, object]:
    """The parameters the SQL names; $all (the all-specialties row) is offered to every query."""
    return bind(text, {"all": ALL, **params})


def query(conn: duckdb.DuckDBPyConnection, name: str, **params: object) -> pl.DataFrame:
    """Run `sql/<name>.sql` with named parameters into a Polars frame."""
    text = sql(name)
    return conn.sql(text, params=_bound(text, params)).pl()


def query_over(conn: duckdb.DuckDBPyConnection, name: str, over: str, **params: object) -> pl.DataFrame:
    """Run `sql/<name>.sql` over the relation `sql/<over>.sql` defines (a CTE named `over`): aggregates
    of per-case rows computed in DuckDB, so only the aggregates cross into Python."""
    body = "\n".join(line for line in sql(name).splitlines() if not line.lstrip().startswith("--")).strip()
    head = f"WITH {over} AS (\n{sql(over)}\n)"
    text = f"{head},\n{body[5:]}" if body[:5].upper() == "WITH " else f"{head}\n{body}"
    return conn.sql(text, params=_bound(text, params)).pl()


def create_table(conn: duckdb.DuckDBPyConnection, table: str, name: str, **params: object) -> None:
    """Replace `table` with the result of `sql/<name>.sql` (set-based, nothing crosses into Python)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    text = sql(name)
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS {text}", _bound(text, params))


def outcome_order() -> pl.Expr:
    """Sort key: outcomes in the vocabulary's order, unknown ones last."""
    return pl.col("outcome").replace_strict(list(OUTCOMES), list(range(len(OUTCOMES))), default=len(OUTCOMES))


def specialty_order() -> pl.Expr:
    """Sort key: the all-specialties row first."""
    return pl.col("specialty") != ALL
