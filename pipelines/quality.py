"""Invariants of the outcome, cost and mart tables, as plain checks the Dagster wiring turns into asset checks.

Each check is a function `(conn) -> CheckOutcome`; QUALITY_CHECKS lists them with the asset
(warehouse table) they guard, so a failing check in the UI points at one table and one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def _one(conn: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    return tuple(conn.execute(sql).fetchall()[0])


def check_case_outcomes_complete(conn: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """Every staged case with an opinion appears exactly once in core.case_outcomes (and nothing else does)."""
    missing, extra, duplicated = _one(
        conn,
        """
        WITH expected AS (SELECT DISTINCT o.case_id FROM staging.opinions o SEMI JOIN staging.cases c ON c.case_id = o.case_id),
             got AS (SELECT case_id, count(*) AS k FROM core.case_outcomes GROUP BY case_id)
        SELECT (SELECT count(*) FROM expected ANTI JOIN got USING (case_id)),
               (SELECT count(*) FROM got ANTI JOIN expected USING (case_id)),
               (SELECT count(*) FROM got WHERE k > 1)
        """,
    )
    return CheckOutcome(
        "case_outcomes_one_row_per_case",
        missing == 0 and extra == 0 and duplicated == 0,
        "Every case with an opinion appears exactly once in core.case_outcomes.",
        {"missing": missing, "unexpected": extra, "duplicated": duplicated},
    )


def check_rates_sum_to_one(conn: duckdb.DuckDBPyConnection, tolerance: float = 1e-9) -> CheckOutcome:
    """Each specialty's outcome rates (unclassified included) sum to 1."""
    rows = conn.execute(
        """SELECT specialty, sum(rate) AS s FROM marts.outcome_rates WHERE total > 0
           GROUP BY specialty HAVING abs(sum(rate) - 1) > ? ORDER BY specialty""",
        [tolerance],
    ).fetchall()
    return CheckOutcome(
        "outcome_rates_sum_to_one",
        not rows,
        "Each specialty's outcome rates, unclassified included, sum to 1.",
        {"failing": {s: v for s, v in rows}},
    )


def check_gross_adds_up(conn: duckdb.DuckDBPyConnection, tolerance: float = 1e-6) -> CheckOutcome:
    """Specialty gross avoided sums to the 'all' row, and the 'all' row equals core.case_costs' total."""
    by_specialty, overall, cases = _one(
        conn,
        """SELECT (SELECT coalesce(sum(gross_avoided), 0) FROM marts.cost_impact WHERE specialty <> 'all'),
                  (SELECT coalesce(sum(gross_avoided), 0) FROM marts.cost_impact WHERE specialty = 'all'),
                  (SELECT coalesce(sum(projected_avoided), 0) FROM core.case_costs)""",
    )
    scale = max(1.0, abs(overall))
    passed = abs(by_specialty - overall) <= tolerance * scale and abs(cases - overall) <= tolerance * scale
    return CheckOutcome(
        "gross_avoided_adds_up",
        passed,
        "Per-specialty gross avoided sums to the overall gross, which equals the sum over cases.",
        {"sum_of_specialties": by_specialty, "overall": overall, "sum_over_cases": cases},
    )


def check_no_negative_prices(conn: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """No negative price in the catalogue, the payer's prices or the priced cases."""
    catalogue, payer, cases = _one(
        conn,
        """SELECT (SELECT count(*) FROM reference.procedures WHERE cost_usd < 0),
                  (SELECT count(*) FROM core.prices WHERE price < 0),
                  (SELECT count(*) FROM core.case_costs WHERE cost_initial < 0 OR cost_recommended < 0)""",
    )
    return CheckOutcome(
        "no_negative_prices",
        catalogue == 0 and payer == 0 and cases == 0,
        "No negative price in reference.procedures, core.prices (payer overrides) or core.case_costs.",
        {"catalogue": catalogue, "effective_prices": payer, "case_costs": cases},
    )


def check_initial_codes_known(conn: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """Every initial code is in the catalogue, or its case is unclassified with a reason."""
    bad, unknown = _one(
        conn,
        """SELECT count(*) FILTER (WHERE outcome <> 'unclassified' OR reason IS NULL),
                  count(*)
           FROM core.case_outcomes co
           ANTI JOIN reference.procedures p ON p.procedure_code = co.initial_procedure_code""",
    )
    return CheckOutcome(
        "initial_codes_in_catalogue",
        bad == 0,
        "Every initial procedure code is in the catalogue, or its case is unclassified with a reason.",
        {"unknown_initial_codes": unknown, "classified_despite_unknown_code": bad},
    )


@dataclass(frozen=True)
class QualityCheck:
    name: str
    asset: str
    description: str
    run: Callable[[duckdb.DuckDBPyConnection], CheckOutcome]


QUALITY_CHECKS: list[QualityCheck] = [
    QualityCheck("case_outcomes_one_row_per_case", "core.case_outcomes",
                 "Every case with an opinion appears exactly once.", check_case_outcomes_complete),
    QualityCheck("initial_codes_in_catalogue", "core.case_outcomes",
                 "Unknown initial codes are unclassified with a reason.", check_initial_codes_known),
    QualityCheck("no_negative_prices", "core.case_costs",
                 "No negative price anywhere.", check_no_negative_prices),
    QualityCheck("outcome_rates_sum_to_one", "marts.outcome_rates",
                 "Each specialty's rates sum to 1.", check_rates_sum_to_one),
    QualityCheck("gross_avoided_adds_up", "marts.cost_impact",
                 "Specialty gross sums to the overall gross.", check_gross_adds_up),
]


def run_quality_checks(conn: duckdb.DuckDBPyConnection) -> list[CheckOutcome]:
    return [check.run(conn) for check in QUALITY_CHECKS]
