"""Cost avoided per case: the DESIGN formula, payer prices, leakage and claims verification."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from pipelines.lib.core.costs import (
    CostAssumptions,
    build_case_costs,
    case_costs,
    effective_prices,
    observed_leakage,
)
from pipelines.lib.core.outcomes import build_case_outcomes
from pipelines.lib.reference.catalogue import read_catalogue
from pipelines.lib.settings import load_settings
from tests.builders import FOLLOW_UPS, cases_frame, load_reference, opinions_frame, write_staging

CATALOGUE, PATHWAYS = read_catalogue()
PRICES = effective_prices(CATALOGUE, None)
AS_OF = date(2026, 1, 1)
CLOSED = date(2024, 1, 10)  # opinion date whose 12-month horizon closed before AS_OF
OPEN = date(2025, 6, 1)

# spine (literature.md / catalogue): fusion 22630 $29,231; laminectomy 63047 $14,000; discectomy
# 63030 $9,000; conservative pathway $625; work-up $1,200; default leakage 0.18 (Schmerz 2023).
FUSION, CONSERVATIVE, WORKUP, LEAK = 29231.0, 625.0, 1200.0, 0.18


def outcomes_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "case_id": pl.Utf8,
        "specialty": pl.Utf8,
        "payer_type": pl.Utf8,
        "plan_id": pl.Utf8,
        "outcome": pl.Utf8,
        "opinion_date": pl.Date,
        "initial_procedure_code": pl.Utf8,
        "recommended_procedure_code": pl.Utf8,
    }
    defaults = {"specialty": "spine", "opinion_date": CLOSED, "initial_procedure_code": "22630"}
    return pl.DataFrame([{c: r.get(c, defaults.get(c)) for c in schema} for r in rows], schema=schema)


def claims(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{c: r.get(c) for c in FOLLOW_UPS} for r in rows], schema=FOLLOW_UPS)


def by_case(df: pl.DataFrame) -> dict[str, dict]:
    return {r["case_id"]: r for r in df.iter_rows(named=True)}


def test_formula_for_every_outcome_with_the_default_leakage():
    out = by_case(
        case_costs(
            outcomes_frame(
                [
                    {"case_id": "conf", "outcome": "confirmed"},
                    {"case_id": "less", "outcome": "less_invasive", "recommended_procedure_code": "63030"},
                    {
                        "case_id": "more",
                        "outcome": "more_invasive",
                        "initial_procedure_code": "63030",
                        "recommended_procedure_code": "22630",
                    },
                    {
                        "case_id": "alt",
                        "specialty": "orthopedics",
                        "outcome": "alternative",
                        "initial_procedure_code": "29881",
                        "recommended_procedure_code": "29888",
                    },
                    {"case_id": "ns", "outcome": "non_surgical"},
                    {"case_id": "def", "outcome": "deferred"},
                    {"case_id": "unc", "outcome": "unclassified", "initial_procedure_code": "12345"},
                ]
            ),
            PRICES,
            PATHWAYS,
            None,
            CostAssumptions(),
            AS_OF,
        )
    )
    assert out["conf"]["projected_avoided"] == 0.0
    assert out["conf"]["cost_recommended"] == FUSION
    assert out["less"]["projected_avoided"] == pytest.approx(FUSION - 9000.0)
    assert out["more"]["projected_avoided"] == pytest.approx(9000.0 - FUSION)  # escalation costs money
    assert out["alt"]["projected_avoided"] == pytest.approx(5627.0 - 9000.0)
    assert out["ns"]["cost_recommended"] == pytest.approx(CONSERVATIVE + LEAK * FUSION)
    assert out["ns"]["projected_avoided"] == pytest.approx(FUSION - CONSERVATIVE - LEAK * FUSION)
    assert out["def"]["projected_avoided"] == pytest.approx(FUSION - WORKUP - LEAK * FUSION)
    assert out["ns"]["leakage_used"] == LEAK and out["less"]["leakage_used"] is None
    assert out["unc"]["projected_avoided"] == 0.0
    assert out["unc"]["cost_initial"] is None and out["unc"]["price_source"] is None
    assert out["less"]["price_source"] == "catalogue"


def test_payer_prices_override_the_catalogue_per_code():
    payer = pl.DataFrame({"procedure_code": ["22630", " 0999t "], "cost_usd": [31000.0, 500.0]})
    prices = effective_prices(CATALOGUE, payer)
    assert prices.height == CATALOGUE.height + 1
    row = prices.filter(pl.col("procedure_code") == "22630").row(0, named=True)
    assert (row["price"], row["price_source"], row["family"]) == (31000.0, "payer", "spinal_fusion")
    extra = prices.filter(pl.col("procedure_code") == "0999T").row(0, named=True)
    assert (extra["price"], extra["family"], extra["tier"]) == (500.0, None, None)
    out = case_costs(
        outcomes_frame(
            [{"case_id": "less", "outcome": "less_invasive", "recommended_procedure_code": "63030"}]
        ),
        prices,
        PATHWAYS,
        None,
        CostAssumptions(),
        AS_OF,
    ).row(0, named=True)
    assert (out["cost_initial"], out["price_source"], out["projected_avoided"]) == (31000.0, "payer", 22000.0)


def _leakage_cohort(n: int, n_leaked: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """n closed-horizon spine non_surgical cases, all with claims; n_leaked had a fusion (22612, same family)."""
    outcomes = outcomes_frame([{"case_id": f"s{i}", "outcome": "non_surgical"} for i in range(n)])
    rows = [
        {
            "case_id": f"s{i}",
            "procedure_code": "99213",
            "service_date": date(2024, 3, 1),
            "allowed_amount": 90.0,
        }
        for i in range(n)
    ]
    rows += [
        {
            "case_id": f"s{i}",
            "procedure_code": "22612",
            "service_date": date(2024, 9, 1),
            "allowed_amount": 25000.0,
        }
        for i in range(n_leaked)
    ]
    return outcomes, claims(rows)


def test_observed_leakage_replaces_the_default_once_it_rests_on_enough_cases():
    outcomes, follow_ups = _leakage_cohort(30, 6)
    # cases without any claim count as not leaked: drop the office visits of ten of them
    follow_ups = follow_ups.filter(
        ~((pl.col("procedure_code") == "99213") & pl.col("case_id").is_in([f"s{i}" for i in range(20, 30)]))
    )
    used = case_costs(
        outcomes, PRICES, PATHWAYS, follow_ups, CostAssumptions(min_cases_observed_leakage=30), AS_OF
    )
    assert used["leakage_used"].unique().to_list() == [pytest.approx(0.2)]
    too_few = case_costs(
        outcomes, PRICES, PATHWAYS, follow_ups, CostAssumptions(min_cases_observed_leakage=31), AS_OF
    )
    assert too_few["leakage_used"].unique().to_list() == [LEAK]
    forced = case_costs(
        outcomes, PRICES, PATHWAYS, follow_ups, CostAssumptions(leakage_override={"spine": 0.5}), AS_OF
    )
    assert forced["leakage_used"].unique().to_list() == [0.5]


def test_observed_leakage_table_says_which_rate_is_in_force():
    evidence = pl.DataFrame(
        {
            "specialty": ["spine"] * 5 + ["urology"] * 2,
            "outcome": [
                "non_surgical",
                "deferred",
                "deferred",
                "confirmed",
                "non_surgical",
                "non_surgical",
                "deferred",
            ],
            "horizon_closed": [True, True, True, True, False, True, False],
            "leaked": [True, False, False, True, True, False, True],
        }
    )
    rates = by_case(observed_leakage(evidence, PATHWAYS, min_cases=3).rename({"specialty": "case_id"}))
    # spine: three closed non_surgical/deferred cases, one leaked (confirmed and open cases don't count)
    assert (rates["spine"]["n_observed"], rates["spine"]["n_leaked"]) == (3, 1)
    assert (rates["spine"]["leakage_used"], rates["spine"]["leakage_basis"]) == (
        pytest.approx(1 / 3),
        "observed",
    )
    assert (rates["urology"]["n_observed"], rates["urology"]["leakage_basis"]) == (1, "default")
    assert rates["urology"]["leakage_used"] == 0.38
    assert rates["cardiology"]["observed_leakage"] is None and rates["cardiology"]["leakage_used"] == 0.30
    no_feed = by_case(
        observed_leakage(evidence, PATHWAYS, min_cases=1, claims_available=False).rename(
            {"specialty": "case_id"}
        )
    )
    assert (no_feed["spine"]["n_observed"], no_feed["spine"]["leakage_basis"]) == (0, "default")


def test_without_a_claims_feed_the_default_leakage_stays():
    outcomes, _ = _leakage_cohort(40, 0)
    out = case_costs(outcomes, PRICES, PATHWAYS, None, CostAssumptions(min_cases_observed_leakage=1), AS_OF)
    assert out["leakage_used"].unique().to_list() == [LEAK]
    assert set(out["realized_status"]) == {"no_follow_up"}


def test_claims_verify_or_refute_the_avoided_surgery():
    outcomes = outcomes_frame(
        [
            {"case_id": "leak_paid", "outcome": "non_surgical"},
            {"case_id": "leak_unpriced", "outcome": "non_surgical"},
            {"case_id": "late", "outcome": "non_surgical"},
            {"case_id": "before", "outcome": "non_surgical"},
            {"case_id": "visit", "outcome": "non_surgical"},
            {"case_id": "silent", "outcome": "non_surgical"},
            {"case_id": "open", "outcome": "non_surgical", "opinion_date": OPEN},
        ]
    )
    follow_ups = claims(
        [
            {
                "case_id": "leak_paid",
                "procedure_code": "22630",
                "service_date": date(2024, 5, 1),
                "allowed_amount": 25000.0,
            },
            {"case_id": "leak_unpriced", "procedure_code": "22612", "service_date": date(2024, 5, 1)},
            {
                "case_id": "late",
                "procedure_code": "22630",
                "service_date": date(2025, 2, 1),
                "allowed_amount": 25000.0,
            },
            {
                "case_id": "before",
                "procedure_code": "22630",
                "service_date": date(2024, 1, 2),
                "allowed_amount": 25000.0,
            },
            {
                "case_id": "visit",
                "procedure_code": "99213",
                "service_date": date(2024, 2, 1),
                "allowed_amount": 90.0,
            },
            {
                "case_id": "open",
                "procedure_code": "22630",
                "service_date": date(2025, 8, 1),
                "allowed_amount": 25000.0,
            },
        ]
    )
    out = by_case(case_costs(outcomes, PRICES, PATHWAYS, follow_ups, CostAssumptions(), AS_OF))
    status = {k: v["realized_status"] for k, v in out.items()}
    assert status == {
        "leak_paid": "leaked",
        "leak_unpriced": "leaked",
        "late": "verified_avoided",
        "before": "no_follow_up",
        "visit": "verified_avoided",
        "silent": "no_follow_up",
        "open": "window_open",
    }
    # leaked: the initial cost minus the surgery's allowed amount and the conservative care already given
    assert out["leak_paid"]["realized_avoided"] == pytest.approx(FUSION - 25000.0 - CONSERVATIVE)
    # no allowed amount: the claimed code's price (22612, same family, $29,231) stands in
    assert out["leak_unpriced"]["realized_avoided"] == pytest.approx(FUSION - 29231.0 - CONSERVATIVE)
    assert out["visit"]["realized_avoided"] == pytest.approx(FUSION - CONSERVATIVE)
    assert out["silent"]["realized_avoided"] is None and out["open"]["realized_avoided"] is None
    assert out["open"]["horizon_closed"] is False and out["visit"]["horizon_closed"] is True


def test_the_recommended_plan_itself_is_not_leakage():
    outcomes = outcomes_frame(
        [
            # open -> laparoscopic hysterectomy stays in the family 'hysterectomy'
            {
                "case_id": "lap",
                "specialty": "gynecology",
                "outcome": "less_invasive",
                "initial_procedure_code": "58150",
                "recommended_procedure_code": "58571",
            },
            {"case_id": "conf", "outcome": "confirmed", "recommended_procedure_code": None},
        ]
    )
    follow_ups = claims(
        [
            {
                "case_id": "lap",
                "procedure_code": "58571",
                "service_date": date(2024, 3, 1),
                "allowed_amount": 9000.0,
            },
            {
                "case_id": "conf",
                "procedure_code": "22630",
                "service_date": date(2024, 3, 1),
                "allowed_amount": 30000.0,
            },
        ]
    )
    out = by_case(case_costs(outcomes, PRICES, PATHWAYS, follow_ups, CostAssumptions(), AS_OF))
    assert out["lap"]["realized_status"] == "verified_avoided"
    assert out["lap"]["realized_avoided"] == pytest.approx(7626.0 - 9228.0)
    assert out["conf"]["realized_status"] == "verified_avoided"
    assert out["conf"]["realized_avoided"] == 0.0  # a confirmed case claims nothing


def test_price_multiplier_scales_every_projected_saving_exactly():
    outcomes = outcomes_frame(
        [
            {"case_id": "less", "outcome": "less_invasive", "recommended_procedure_code": "63030"},
            {"case_id": "ns", "outcome": "non_surgical"},
            {"case_id": "def", "outcome": "deferred"},
            {
                "case_id": "more",
                "outcome": "more_invasive",
                "initial_procedure_code": "63030",
                "recommended_procedure_code": "22630",
            },
        ]
    )
    base = case_costs(outcomes, PRICES, PATHWAYS, None, CostAssumptions(), AS_OF)
    up = case_costs(outcomes, PRICES, PATHWAYS, None, CostAssumptions(price_multiplier=1.2), AS_OF)
    assert up["projected_avoided"].to_list() == pytest.approx((base["projected_avoided"] * 1.2).to_list())


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
            {"case_id": "a", "recommendation": "conservative", "opinion_date": CLOSED},
            {"case_id": "b", "recommended_procedure_code": "63030", "opinion_date": CLOSED},
        ]
    )
    payer = pl.DataFrame({"procedure_code": ["63030"], "cost_usd": [8000.0]})
    write_staging(conn, cases, opinions, claims([]), payer)
    build_case_outcomes(conn, None, 0.6)
    build_case_costs(conn, load_settings(env={}), AS_OF)
    columns = [r[0] for r in conn.sql("DESCRIBE core.case_costs").fetchall()]
    assert columns[:14] == [
        "case_id",
        "specialty",
        "payer_type",
        "plan_id",
        "outcome",
        "opinion_date",
        "cost_initial",
        "cost_recommended",
        "projected_avoided",
        "leakage_used",
        "price_source",
        "horizon_closed",
        "realized_status",
        "realized_avoided",
    ]
    rows = conn.sql(
        "SELECT case_id, payer_type, plan_id, projected_avoided FROM core.case_costs ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("a", "medicare", None, pytest.approx(FUSION - CONSERVATIVE - LEAK * FUSION)),
        ("b", None, "p1", pytest.approx(FUSION - 8000.0)),
    ]
    leak = conn.sql(
        "SELECT leakage_used, leakage_basis FROM core.leakage_rates WHERE specialty = 'spine'"
    ).fetchall()
    assert leak == [(LEAK, "default")]
    assert conn.sql("SELECT price_source FROM core.prices WHERE procedure_code = '63030'").fetchall() == [
        ("payer",)
    ]


def test_with_no_minimum_an_unobserved_specialty_keeps_its_default_leakage():
    # min_cases 0 means "use whatever is observed"; with nothing observed the default must stay,
    # not a NULL that silently zeroes every non_surgical/deferred saving
    rates = by_case(
        observed_leakage(
            pl.DataFrame(
                schema={
                    "specialty": pl.Utf8,
                    "outcome": pl.Utf8,
                    "horizon_closed": pl.Boolean,
                    "leaked": pl.Boolean,
                }
            ),
            PATHWAYS,
            min_cases=0,
        ).rename({"specialty": "case_id"})
    )
    assert (rates["spine"]["leakage_used"], rates["spine"]["leakage_basis"]) == (LEAK, "default")
    out = by_case(
        case_costs(
            outcomes_frame(
                [{"case_id": "ns", "outcome": "non_surgical"}, {"case_id": "def", "outcome": "deferred"}]
            ),
            PRICES,
            PATHWAYS,
            None,
            CostAssumptions(min_cases_observed_leakage=0),
            AS_OF,
        )
    )
    assert out["ns"]["projected_avoided"] == pytest.approx(FUSION - CONSERVATIVE - LEAK * FUSION)
    assert out["def"]["cost_recommended"] == pytest.approx(WORKUP + LEAK * FUSION)


def test_a_change_without_a_priced_recommended_code_claims_nothing():
    # the text model labels narrative-only opinions (no recommended code): such a less_invasive,
    # more_invasive or alternative case has no second price, so it claims nothing, projected or
    # realized, whatever the claims show (a leaked case must not earn more credit than a verified one)
    outcomes = outcomes_frame(
        [
            {"case_id": "verified", "outcome": "less_invasive"},
            {"case_id": "leaked", "outcome": "alternative"},
            {"case_id": "open", "outcome": "more_invasive", "opinion_date": OPEN},
        ]
    )
    follow_ups = claims(
        [
            {
                "case_id": "verified",
                "procedure_code": "99213",
                "service_date": date(2024, 3, 1),
                "allowed_amount": 90.0,
            },
            {
                "case_id": "leaked",
                "procedure_code": "22630",
                "service_date": date(2024, 5, 1),
                "allowed_amount": 25000.0,
            },
        ]
    )
    out = by_case(case_costs(outcomes, PRICES, PATHWAYS, follow_ups, CostAssumptions(), AS_OF))
    for case in ("verified", "leaked", "open"):
        assert out[case]["cost_recommended"] == FUSION, case
        assert out[case]["projected_avoided"] == 0.0, case
    assert (out["verified"]["realized_status"], out["verified"]["realized_avoided"]) == (
        "verified_avoided",
        0.0,
    )
    assert (out["leaked"]["realized_status"], out["leaked"]["realized_avoided"]) == ("leaked", 0.0)
