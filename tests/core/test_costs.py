"""Cost avoided per case (DESIGN "Cost avoided"): every formula on hand-computed cases.

Spine figures from the catalogue: fusion 22630 and 22612 $29,231, discectomy 63030 $9,000,
conservative pathway $625, work-up $1,200, default leakage 0.18 [schmerz2023], baseline
completion 1.0 (assumed). Claims dated in 2024 and a claims-through date of 2025-12-31 close the
12-month horizons of opinions dated 2024-01-10.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.lib import stats
from pipelines.lib.core.claims import claims_through, merged_coverage
from pipelines.lib.core.costs import CostAssumptions, CostInputs, build_case_costs, case_costs
from pipelines.lib.core.outcomes import build_case_outcomes
from pipelines.lib.core.prices import effective_prices
from pipelines.lib.core.rates import completion_in_force, leakage_in_force
from pipelines.lib.core.scenarios import sensitivity_scenarios
from pipelines.lib.reference.catalogue import read_catalogue
from pipelines.lib.settings import load_settings
from tests.builders import FOLLOW_UPS, cases_frame, load_reference, opinions_frame, write_staging

CATALOGUE, PATHWAYS = read_catalogue()
OPINION = date(2024, 1, 10)  # its 12-month horizon ends 2025-01-10
THROUGH = date(2025, 12, 31)
FUSION, DISC, CONSERVATIVE, WORKUP, LEAK = 29231.0, 9000.0, 625.0, 1200.0, 0.18
BASE = CostAssumptions(claims_through=THROUGH)


def outcomes_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "case_id": pl.Utf8,
        "patient_key": pl.Utf8,
        "specialty": pl.Utf8,
        "payer_type": pl.Utf8,
        "plan_id": pl.Utf8,
        "outcome": pl.Utf8,
        "opinion_date": pl.Date,
        "initial_procedure_code": pl.Utf8,
        "recommended_procedure_code": pl.Utf8,
    }
    defaults = {"specialty": "spine", "opinion_date": OPINION, "initial_procedure_code": "22630"}
    return pl.DataFrame(
        [
            {
                c: r.get(c, defaults.get(c, f"p-{r['case_id']}" if c == "patient_key" else None))
                for c in schema
            }
            for r in rows
        ],
        schema=schema,
    )


def claims(rows: list[tuple[str, str, date, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [dict(zip(FOLLOW_UPS, r, strict=True)) for r in rows], schema=FOLLOW_UPS, orient="row"
    )


def inputs(outcomes: list[dict], follow_ups=None, enrollment=None, payer=None) -> CostInputs:
    return CostInputs(outcomes_frame(outcomes), CATALOGUE, PATHWAYS, payer, follow_ups, enrollment)


def by_case(df: pl.DataFrame) -> dict[str, dict]:
    return {r["case_id"]: r for r in df.iter_rows(named=True)}


def test_a_non_surgical_case_that_leaks():
    out = by_case(
        case_costs(
            inputs(
                [{"case_id": "ns", "outcome": "non_surgical"}],
                claims([("ns", "22612", date(2024, 6, 1), 25000.0)]),  # same family as 22630
            ),
            BASE,
        ).cases
    )["ns"]
    # E0 = c P(initial) + (1 - c) P_conservative with c = 1 (assumed); E1 = P_conservative + l P(initial)
    assert out["expected_without"] == pytest.approx(FUSION)
    assert out["expected_with"] == pytest.approx(CONSERVATIVE + LEAK * FUSION)
    assert out["projected_avoided"] == pytest.approx(FUSION - CONSERVATIVE - LEAK * FUSION)  # 23,344.42
    # verified: the fusion was billed anyway; O = its paid amount + the conservative pathway
    assert (out["realized_status"], out["horizon_closed"]) == ("leaked", True)
    assert out["observed_cost"] == pytest.approx(25000.0 + CONSERVATIVE)
    assert out["realized_avoided"] == pytest.approx(FUSION - 25000.0 - CONSERVATIVE)  # 3,606


def test_a_less_invasive_case_whose_recommended_code_is_billed():
    out = by_case(
        case_costs(
            inputs(
                [{"case_id": "li", "outcome": "less_invasive", "recommended_procedure_code": "63030"}],
                claims([("li", "63030", date(2024, 3, 1), 8500.0), ("li", "99213", date(2024, 5, 1), 90.0)]),
            ),
            BASE,
        ).cases
    )["li"]
    assert out["cost_recommended"] == DISC
    assert out["projected_avoided"] == pytest.approx(FUSION - DISC - LEAK * FUSION)  # 14,969.42
    assert out["realized_status"] == "avoided"  # claims seen, none in the fusion family
    assert out["observed_cost"] == pytest.approx(8500.0)  # the plan at its paid amount, not its price
    assert out["realized_avoided"] == pytest.approx(FUSION - 8500.0)


def test_a_confirmed_case_is_not_applicable_and_claims_nothing():
    out = by_case(
        case_costs(
            inputs(
                [{"case_id": "conf", "outcome": "confirmed", "recommended_procedure_code": "22630"}],
                claims([("conf", "22630", date(2024, 2, 1), 30000.0)]),
            ),
            BASE,
        ).cases
    )["conf"]
    assert (out["realized_status"], out["projected_avoided"], out["realized_avoided"]) == (
        "not_applicable",
        0.0,
        0.0,
    )
    assert out["family_billed"] is True  # its own plan completes the first plan: evidence for c


def test_a_case_with_no_claims_is_no_claims_and_stays_out_of_the_rates():
    result = case_costs(
        inputs(
            [{"case_id": "silent", "outcome": "deferred"}, {"case_id": "seen", "outcome": "deferred"}],
            claims([("seen", "99213", date(2024, 5, 1), 90.0)]),
        ),
        BASE,
    )
    out = by_case(result.cases)
    assert (out["silent"]["realized_status"], out["silent"]["realized_avoided"]) == ("no_claims", None)
    assert out["silent"]["projected_avoided"] == pytest.approx(FUSION - WORKUP - LEAK * FUSION)
    deferred = result.leakage.filter((pl.col("specialty") == "spine") & (pl.col("outcome") == "deferred"))
    assert deferred.select("n_closed", "n_leaked", "n_no_claims").row(0) == (1, 0, 1)


def test_enrollment_through_the_horizon_makes_a_case_without_claims_count_as_not_leaked():
    enrollment = pl.DataFrame(
        {
            "patient_key": ["p-a", "p-a", "p-b"],
            "covered_from": [date(2023, 1, 1), date(2024, 7, 1), date(2023, 1, 1)],
            "covered_to": [date(2024, 6, 30), None, date(2024, 6, 30)],  # p-a adjoins: covered throughout
        }
    )
    result = case_costs(
        inputs(
            [{"case_id": "a", "outcome": "non_surgical"}, {"case_id": "b", "outcome": "non_surgical"}],
            claims([("x", "99213", date(2024, 5, 1), 90.0)]),
            enrollment,
        ),
        BASE,
    )
    out = by_case(result.cases)
    assert (out["a"]["covered"], out["a"]["realized_status"]) == (True, "avoided")
    assert out["a"]["realized_avoided"] == pytest.approx(FUSION - CONSERVATIVE)
    assert (out["b"]["covered"], out["b"]["realized_status"]) == (False, "no_claims")  # left mid-horizon
    merged = merged_coverage(enrollment).sort("patient_key")
    assert merged.rows() == [
        ("p-a", date(2023, 1, 1), date(9999, 12, 31)),
        ("p-b", date(2023, 1, 1), date(2024, 6, 30)),
    ]


def test_a_horizon_that_ends_after_the_run_date_but_before_claims_through_is_closed():
    # Run on 2025-06-01 (a back-dated run, or a feed that arrives early): the horizon of an
    # opinion dated 2024-09-01 ends 2025-09-01, after that run date, but the claims are complete
    # to 2025-12-31, so the horizon is closed and the claims decide.
    run_date = date(2025, 6, 1)
    result = case_costs(
        inputs(
            [{"case_id": "late", "outcome": "non_surgical", "opinion_date": date(2024, 9, 1)}],
            claims([("late", "22630", date(2025, 8, 1), 27000.0)]),
        ),
        BASE,
    )
    out = by_case(result.cases)["late"]
    assert out["horizon_end"] == date(2025, 9, 1) and out["horizon_end"] > run_date
    assert (out["horizon_closed"], out["realized_status"]) == (True, "leaked")
    # with claims complete only to 2025-08-31 the same horizon stays open
    earlier = case_costs(
        inputs(
            [{"case_id": "late", "outcome": "non_surgical", "opinion_date": date(2024, 9, 1)}],
            claims([("late", "22630", date(2025, 8, 1), 27000.0)]),
        ),
        CostAssumptions(claims_through=date(2025, 8, 31)),
    )
    assert by_case(earlier.cases)["late"]["realized_status"] == "window_open"


def test_claims_through_is_the_setting_else_the_latest_claim_minus_the_run_out():
    feed = claims([("a", "99213", date(2026, 3, 31), 90.0), ("b", "99213", date(2025, 1, 2), 90.0)])
    derived = claims_through(feed, None, 90)
    assert derived.date == date(2025, 12, 31)
    assert derived.basis == "latest service_date 2026-03-31 minus 90 days of claims run-out"
    assert claims_through(feed, date(2026, 1, 31), 90).basis == "set by the claims_through setting"
    nothing = claims_through(None, None, 90)
    assert (nothing.date, nothing.basis) == (None, "no follow-up claims: no horizon is closed")
    # without claims nothing is closed, whatever the opinion date
    out = case_costs(inputs([{"case_id": "x", "outcome": "non_surgical"}]), CostAssumptions()).cases
    assert out.row(0, named=True)["realized_status"] == "window_open"


def test_baseline_completion_below_one_lowers_the_counterfactual():
    confirmed = [{"case_id": f"c{i}", "outcome": "confirmed"} for i in range(30)]
    rows = [(f"c{i}", "22630", date(2024, 3, 1), 29000.0) for i in range(27)]
    rows += [(f"c{i}", "99213", date(2024, 3, 1), 90.0) for i in range(27, 30)]  # seen, never operated
    result = case_costs(
        inputs([*confirmed, {"case_id": "ns", "outcome": "non_surgical"}], claims(rows)), BASE
    )
    c = result.baseline.filter(pl.col("specialty") == "spine").row(0, named=True)
    low, high = stats.wilson_interval(27, 30)
    assert (c["n_closed"], c["n_completed"], c["rate"], c["basis"]) == (30, 27, 0.9, "observed")
    assert (c["ci_low"], c["ci_high"]) == (pytest.approx(float(low)), pytest.approx(float(high)))
    ns = by_case(result.cases)["ns"]
    # 27 fusion claims at $29,000 make the observed mean the price of 22630 (one basis per code)
    assert (ns["cost_initial"], ns["price_basis"]) == (29000.0, "observed")
    e0 = 0.9 * 29000.0 + 0.1 * CONSERVATIVE  # 26,162.50
    assert ns["expected_without"] == pytest.approx(e0)
    assert ns["projected_avoided"] == pytest.approx(e0 - CONSERVATIVE - LEAK * 29000.0)
    # one case fewer and the observed rate no longer rests on enough cases: c falls back to 1.0
    fewer = case_costs(inputs(confirmed[:29], claims(rows[:29])), BASE).baseline
    spine = fewer.filter(pl.col("specialty") == "spine").row(0, named=True)
    assert (spine["rate_used"], spine["basis"], spine["used_ci_low"]) == (1.0, "assumed", None)


def test_leakage_falls_back_from_the_outcome_to_the_pooled_rate_to_the_default():
    n = np.array([[40, 10, 25, 0, 0]])  # spine: less_invasive, non_surgical, deferred, more, alternative
    k = np.array([[4, 3, 5, 0, 0]])
    rate, basis = leakage_in_force(n, k, np.array([0.18]), 30)
    assert rate[0].tolist() == pytest.approx([0.1, 12 / 75, 12 / 75, 12 / 75, 12 / 75])
    assert basis[0].tolist() == [0, 1, 1, 1, 1]  # observed, then pooled over the changed outcomes
    rate, basis = leakage_in_force(
        np.array([[10, 5, 5, 0, 0]]), np.array([[1, 1, 1, 0, 0]]), np.array([0.18]), 30
    )
    assert rate[0].tolist() == [0.18] * 5 and basis[0].tolist() == [2] * 5
    c, observed = completion_in_force(np.array([29, 30]), np.array([29, 27]), np.array([1.0, 1.0]), 30)
    assert c.tolist() == [1.0, 0.9] and observed.tolist() == [False, True]


def test_leakage_table_per_outcome_with_wilson_intervals():
    rows = [
        {"case_id": f"l{i}", "outcome": "less_invasive", "recommended_procedure_code": "63030"}
        for i in range(40)
    ]
    fu = [(f"l{i}", "63030", date(2024, 3, 1), 9000.0) for i in range(40)]
    fu += [(f"l{i}", "22630", date(2024, 9, 1), 28000.0) for i in range(4)]
    table = case_costs(inputs(rows, claims(fu)), BASE).leakage
    li = table.filter((pl.col("specialty") == "spine") & (pl.col("outcome") == "less_invasive")).row(
        0, named=True
    )
    low, high = stats.wilson_interval(4, 40)
    assert (li["n_closed"], li["n_leaked"], li["rate_used"], li["basis"]) == (40, 4, 0.1, "observed")
    assert (li["used_ci_low"], li["used_ci_high"]) == (pytest.approx(float(low)), pytest.approx(float(high)))
    other = table.filter((pl.col("specialty") == "spine") & (pl.col("outcome") == "deferred")).row(
        0, named=True
    )
    assert (other["basis"], other["rate_used"]) == ("pooled", 0.1)  # 4 of 40 over the changed outcomes
    urology = table.filter(pl.col("specialty") == "urology").row(0, named=True)
    assert (urology["basis"], urology["rate_used"], urology["used_ci_low"], urology["used_ci_high"]) == (
        "default",
        0.38,
        0.18,
        0.38,
    )


def test_the_recommended_code_itself_is_not_leakage():
    # open -> laparoscopic hysterectomy stays in the family 'hysterectomy': the plan, not leakage
    out = by_case(
        case_costs(
            inputs(
                [
                    {
                        "case_id": "lap",
                        "specialty": "gynecology",
                        "outcome": "less_invasive",
                        "initial_procedure_code": "58150",
                        "recommended_procedure_code": "58571",
                    }
                ],
                claims([("lap", "58571", date(2024, 3, 1), 9000.0)]),
            ),
            BASE,
        ).cases
    )["lap"]
    assert (out["realized_status"], out["observed_cost"]) == ("avoided", 9000.0)


def test_a_change_without_a_priced_code_claims_nothing_and_is_counted():
    out = by_case(
        case_costs(
            inputs([{"case_id": "tm", "outcome": "less_invasive", "recommended_procedure_code": None}]), BASE
        ).cases
    )["tm"]
    assert (out["projected_avoided"], out["unpriced_change"], out["cost_recommended"]) == (0.0, True, None)


def test_prices_one_basis_per_code_payer_then_observed_then_catalogue():
    payer = pl.DataFrame({"procedure_code": ["22630", " 0999t "], "cost_usd": [31000.0, 500.0]})
    feed = claims(
        [(f"x{i}", "63030", date(2025, 5, 1), 8000.0 + 100 * i) for i in range(11)]
        + [(f"y{i}", "63047", date(2025, 5, 1), 12000.0) for i in range(10)]  # one claim short
        + [(f"z{i}", "22630", date(2025, 5, 1), 20000.0) for i in range(20)]  # the payer's price wins
    )
    prices = effective_prices(CATALOGUE, payer, feed, 2025)
    row = {r["procedure_code"]: r for r in prices.iter_rows(named=True)}
    assert (row["22630"]["price"], row["22630"]["basis"], row["22630"]["year"]) == (31000.0, "payer", 2025)
    assert (row["63030"]["price"], row["63030"]["basis"]) == (pytest.approx(8500.0), "observed")
    assert row["63030"]["year_note"] == "mean allowed amount of 11 claims dated 2025-05-01 to 2025-05-01"
    assert (row["63047"]["basis"], row["63047"]["year"]) == ("catalogue", row["63047"]["catalogue_year"])
    assert "not inflated" in row["63047"]["year_note"]
    assert (row["0999T"]["price"], row["0999T"]["family"]) == (500.0, None)


def test_price_multiplier_and_discount_scale_every_projected_saving_exactly():
    rows = [
        {"case_id": "less", "outcome": "less_invasive", "recommended_procedure_code": "63030"},
        {"case_id": "ns", "outcome": "non_surgical"},
        {"case_id": "def", "outcome": "deferred"},
    ]
    base = case_costs(inputs(rows), BASE).cases["projected_avoided"]
    up = case_costs(inputs(rows), CostAssumptions(claims_through=THROUGH, price_multiplier=1.2)).cases
    assert up["projected_avoided"].to_list() == pytest.approx((base * 1.2).to_list())
    discounted = case_costs(inputs(rows), CostAssumptions(claims_through=THROUGH, discount_rate_annual=0.03))
    factor = 1.03**-0.5  # savings in the middle of a 12-month horizon
    assert discounted.cases["projected_avoided"].to_list() == pytest.approx((base * factor).to_list())


def test_sensitivity_scenarios_hold_each_rate_at_its_interval_end():
    rows = [
        {"case_id": f"l{i}", "outcome": "less_invasive", "recommended_procedure_code": "63030"}
        for i in range(40)
    ]
    fu = [(f"l{i}", "63030", date(2024, 3, 1), 9000.0) for i in range(40)]
    fu += [(f"l{i}", "22630", date(2024, 9, 1), 28000.0) for i in range(4)]
    result = case_costs(inputs(rows, claims(fu)), BASE)
    scenarios = {
        (s.assumption, s.scenario): s for s in sensitivity_scenarios(BASE, result.baseline, result.leakage)
    }
    assert set(a for a, _ in scenarios) == {
        "baseline_completion",
        "leakage_less_invasive",
        "leakage_non_surgical",
        "leakage_deferred",
        "leakage_more_invasive",
        "leakage_alternative",
        "prices",
        "program_fee",
        "horizon",
        "discount_rate",
    }
    low = scenarios[("leakage_less_invasive", "low")]
    moved = case_costs(inputs(rows, claims(fu)), low.assumptions)
    wilson_low = float(stats.wilson_interval(4, 40)[0])
    spine = moved.leakage.filter((pl.col("specialty") == "spine") & (pl.col("outcome") == "less_invasive"))
    assert spine.row(0, named=True)["rate_used"] == pytest.approx(wilson_low)
    assert moved.cases["projected_avoided"][0] == pytest.approx(FUSION - DISC - wilson_low * FUSION)
    assert scenarios[("horizon", "high")].assumptions.horizon_months == 24


def test_build_case_costs_writes_the_documented_tables(tmp_path):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_reference(conn)
    cases = cases_frame(
        [
            {
                "case_id": "a",
                "specialty": "spine",
                "initial_procedure_code": "22630",
                "payer_type": "medicare",
            },
            {"case_id": "b", "specialty": "spine", "initial_procedure_code": "22630", "plan_id": "p1"},
        ]
    )
    opinions = opinions_frame(
        [
            {"case_id": "a", "recommendation": "conservative", "opinion_date": OPINION},
            {"case_id": "b", "recommended_procedure_code": "63030", "opinion_date": OPINION},
        ]
    )
    payer = pl.DataFrame({"procedure_code": ["63030"], "cost_usd": [8000.0]})
    feed = claims([("a", "99213", date(2024, 6, 1), 90.0), ("b", "99213", date(2026, 3, 31), 90.0)])
    write_staging(conn, cases, opinions, feed, payer)  # b's only claim falls after its horizon
    build_case_outcomes(conn, None, 0.6)
    build_case_costs(conn, load_settings(env={}))
    columns = [r[0] for r in conn.sql("DESCRIBE core.case_costs").fetchall()]
    assert columns[:8] == [
        "case_id",
        "specialty",
        "outcome",
        "cost_initial",
        "cost_recommended",
        "projected_avoided",
        "realized_status",
        "realized_avoided",
    ]
    rows = conn.sql(
        "SELECT case_id, payer_type, plan_id, projected_avoided, realized_status FROM core.case_costs ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("a", "medicare", None, pytest.approx(FUSION - CONSERVATIVE - LEAK * FUSION), "avoided"),
        ("b", None, "p1", pytest.approx(FUSION - 8000.0 - LEAK * FUSION), "no_claims"),
    ]
    assert conn.sql("SELECT claims_through, claims_through_basis FROM core.claims_through").fetchall() == [
        (date(2025, 12, 31), "latest service_date 2026-03-31 minus 90 days of claims run-out")
    ]
    assert conn.sql("SELECT basis FROM core.prices WHERE procedure_code = '63030'").fetchall() == [("payer",)]
    assert conn.sql("SELECT count(*) FROM core.leakage_rates WHERE specialty = 'spine'").fetchall() == [(5,)]
    assert conn.sql("SELECT basis FROM core.baseline_rates WHERE specialty = 'spine'").fetchall() == [
        ("assumed",)
    ]
