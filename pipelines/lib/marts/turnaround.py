"""Turnaround marts: days from referral to opinion, as monthly quantiles and as a distribution."""

from __future__ import annotations

import duckdb

from pipelines.lib.marts.common import MartContext, create_table

#: Upper edges (days) of the turnaround histogram; longer waits go to the next multiple of 365.
TURNAROUND_EDGES: tuple[int, ...] = (
    0,
    7,
    14,
    21,
    28,
    35,
    42,
    49,
    56,
    63,
    70,
    77,
    84,
    91,
    120,
    150,
    180,
    270,
    365,
)


def build_turnaround(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.turnaround: median and 90th percentile days from referral to opinion, per specialty and month."""
    create_table(conn, "marts.turnaround", "turnaround")


def build_turnaround_distribution(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.turnaround_distribution: cases by turnaround bin (upper edge in days), per specialty and 'all'."""
    create_table(
        conn, "marts.turnaround_distribution", "turnaround_distribution", edges=list(TURNAROUND_EDGES)
    )
