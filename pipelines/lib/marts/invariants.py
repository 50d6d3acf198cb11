"""Invariants of the marts whose failure would publish wrong numbers: rates sum to 1, money adds up."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.lib.checks import Check, CheckResult, one_row
from pipelines.lib.sqlfiles import bind, queries
from pipelines.lib.vocabulary import ALL

SQL = queries(Path(__file__).with_name("sql") / "invariants.sql")


def outcome_rates_sum_to_one(conn: duckdb.DuckDBPyConnection, tolerance: float = 1e-9) -> CheckResult:
    """Each specialty's outcome rates, unclassified included, sum to 1."""
    sql = SQL["rates_off_one"]
    specialties, off, failing = one_row(conn, sql, bind(sql, {"tolerance": tolerance}))
    return CheckResult(int(specialties), int(off), metadata={"failing": failing or []})


def gross_avoided_adds_up(conn: duckdb.DuckDBPyConnection, tolerance: float = 1e-6) -> CheckResult:
    """Gross avoided per specialty sums to the overall gross, which equals the sum over cases."""
    sql = SQL["gross_totals"]
    by_specialty, overall, cases = one_row(conn, sql, bind(sql, {"all": ALL}))
    scale = tolerance * max(1.0, abs(overall))
    off = int(abs(by_specialty - overall) > scale) + int(abs(cases - overall) > scale)
    return CheckResult(
        2, off, metadata={"sum_of_specialties": by_specialty, "overall": overall, "sum_over_cases": cases}
    )


def reviewer_expected_equals_observed(
    conn: duckdb.DuckDBPyConnection, tolerance: float = 1e-6
) -> CheckResult:
    """Each specialty's expected changes (the reviewers' E) add up to its observed changes.

    The O/E funnel measures reviewers against their own specialty's practice; if the calibrated
    expectation drifted from the observed total, every reviewer of the specialty would move together.
    """
    sql = SQL["reviewer_expected_off"]
    specialties, off, failing = one_row(conn, sql, bind(sql, {"tolerance": tolerance}))
    return CheckResult(int(specialties), int(off), metadata={"failing": failing or []})


CHECKS: tuple[Check, ...] = (
    Check("outcome_rates_sum_to_one", "marts.outcome_rates", "ERROR", outcome_rates_sum_to_one),
    Check("gross_avoided_adds_up", "marts.cost_impact", "ERROR", gross_avoided_adds_up),
    Check(
        "reviewer_expected_equals_observed",
        "marts.reviewer_variation",
        "ERROR",
        reviewer_expected_equals_observed,
    ),
)
