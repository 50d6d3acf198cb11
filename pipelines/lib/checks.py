"""Invariants of the warehouse tables as plain checks: what each guards, how bad a failure is, and
DQD-style counts (rows checked, rows violating, the share, the threshold it is held to).

A check is written once, here or in the stage module beside the table it guards; the Dagster
wiring turns it into an asset check with its name, its description (the function's docstring)
and its severity. ERROR means the numbers downstream would be wrong, so the check blocks what
depends on the table; WARN is a data-quality finding that is recorded and shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import duckdb

Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class CheckResult:
    """The counts of one evaluation. `threshold` is the share of violating rows allowed (0 for invariants)."""

    rows_checked: int
    rows_violating: int
    threshold: float = 0.0
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.rows_violating / self.rows_checked if self.rows_checked else 0.0

    @property
    def passed(self) -> bool:
        return self.share <= self.threshold


@dataclass(frozen=True)
class Check:
    """A named invariant of one warehouse table."""

    name: str
    table: str
    severity: Severity
    measure: Callable[[duckdb.DuckDBPyConnection], CheckResult]

    @property
    def description(self) -> str:
        """The measuring function's docstring, first paragraph: the one text of the check."""
        return " ".join((self.measure.__doc__ or self.name).strip().split("\n\n")[0].split())

    def run(self, conn: duckdb.DuckDBPyConnection) -> CheckResult:
        return self.measure(conn)


def one_row(conn: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple:
    """The single row a counting query returns."""
    return tuple(conn.execute(sql, params).fetchall()[0])
