"""Invariants of the core tables: every reviewed case classified once, codes known, prices sane."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.lib.checks import Check, CheckResult, one_row
from pipelines.lib.sqlfiles import queries

SQL = queries(Path(__file__).with_name("sql") / "invariants.sql")


def case_outcomes_one_row_per_case(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """Every staged case with an opinion appears exactly once in core.case_outcomes, and nothing else does."""
    expected, missing, unexpected, duplicated = one_row(conn, SQL["case_outcomes_complete"])
    return CheckResult(
        int(expected),
        int(missing + unexpected + duplicated),
        metadata={"missing": missing, "unexpected": unexpected, "duplicated": duplicated},
    )


def initial_codes_in_catalogue(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """A case whose initial procedure code is not in the catalogue is unclassified, with a reason."""
    cases, unknown, classified = one_row(conn, SQL["initial_codes_known"])
    return CheckResult(int(cases), int(classified), metadata={"unknown_initial_codes": unknown})


def no_negative_prices(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """No price below zero in reference.procedures, core.prices or core.case_costs."""
    checked, catalogue, prices, cases = one_row(conn, SQL["negative_prices"])
    return CheckResult(
        int(checked),
        int(catalogue + prices + cases),
        metadata={"catalogue": catalogue, "prices_in_force": prices, "case_costs": cases},
    )


def cost_evidence_consistent(conn: duckdb.DuckDBPyConnection) -> CheckResult:
    """No horizon is closed past the claims-through date, a case's status agrees with its horizon,
    and every baseline completion and leakage rate in force is a share."""
    checked, early, mismatch, rates = one_row(conn, SQL["cost_evidence_consistent"])
    return CheckResult(
        int(checked),
        int(early + mismatch + rates),
        metadata={"closed_too_early": early, "status_mismatch": mismatch, "rates_out_of_range": rates},
    )


CHECKS: tuple[Check, ...] = (
    Check("case_outcomes_one_row_per_case", "core.case_outcomes", "ERROR", case_outcomes_one_row_per_case),
    Check("initial_codes_in_catalogue", "core.case_outcomes", "ERROR", initial_codes_in_catalogue),
    Check("no_negative_prices", "core.case_costs", "ERROR", no_negative_prices),
    Check("cost_evidence_consistent", "core.case_costs", "ERROR", cost_evidence_consistent),
)
