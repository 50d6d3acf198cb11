"""Marts built from a staged warehouse: documented columns, intervals, sums, sensitivity, quality checks."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score

from pipelines.lib import stats
from pipelines.lib.core import invariants as core_invariants
from pipelines.lib.core.costs import CostAssumptions, build_case_costs, case_costs, load_cost_inputs
from pipelines.lib.core.outcomes import build_case_outcomes
from pipelines.lib.core.scenarios import sensitivity_scenarios
from pipelines.lib.marts import MARTS, MartContext
from pipelines.lib.marts import invariants as mart_invariants
from pipelines.lib.marts.costs import build_cost_impact
from pipelines.lib.marts.cusum import build_reviewer_cusum
from pipelines.lib.marts.reviewers import build_reviewer_variation
from pipelines.lib.settings import load_settings
from pipelines.lib.vocabulary import CHANGED_OUTCOMES, CUSUM_DIRECTIONS, FUNNEL_FLAGS, OUTCOMES
from pipelines.lib.warehouse import ensure_audit_tables
from tests.builders import cases_frame, opinions_frame, staged_warehouse, synthetic_staging

AS_OF = date(2026, 6, 30)
SETTINGS = load_settings(env={}).replace(bootstrap_resamples=1000, seed=42)
CTX = MartContext(SETTINGS, "test-run", AS_OF)
CHECKS = (*core_invariants.CHECKS, *mart_invariants.CHECKS)


def build(conn: duckdb.DuckDBPyConnection) -> None:
    ensure_audit_tables(conn)
    build_case_outcomes(conn, None, SETTINGS.text_model_threshold)
    build_case_costs(conn, SETTINGS)
    for m in MARTS:
        m.build(conn, CTX)


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    conn = staged_warehouse(
        tmp_path_factory.mktemp("marts") / "w.duckdb", synthetic_staging(4000, seed=3, as_of=AS_OF)
    )
    build(conn)
    return conn


def mart(conn: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    return conn.sql(f"SELECT * FROM marts.{name}").pl()


def documented_columns() -> dict[str, list[str]]:
    """Table -> column names from the data dictionary (docs/warehouse.yaml, which writes
    docs/warehouse.md)."""
    from pipelines.lib.dictionary import load

    return {name: [c for c, _ in t.columns] for name, t in load().tables.items()}


def test_every_mart_has_exactly_the_documented_columns(warehouse):
    docs = documented_columns()
    docs["marts.run_summary"] = ["metric", "value"]
    docs["marts.cost_impact_segments"] = ["dimension", "segment", *docs["marts.cost_impact"][1:]]
    for m in MARTS:
        got = [r[0] for r in warehouse.sql(f"DESCRIBE {m.table}").fetchall()]
        assert got == docs[m.table], m.name
    for table in ("core.case_outcomes", "core.case_costs", "core.pending_cases"):
        got = [r[0] for r in warehouse.sql(f"DESCRIBE {table}").fetchall()]
        assert got[: len(docs[table])] == docs[table], table


def test_outcome_rates_cover_every_outcome_with_wilson_limits(warehouse):
    rates = mart(warehouse, "outcome_rates")
    specialties = rates["specialty"].unique().to_list()
    assert "all" in specialties and len(specialties) == 8
    assert rates.height == 8 * len(OUTCOMES)
    sums = rates.group_by("specialty").agg(pl.col("rate").sum())
    assert sums["rate"].to_list() == pytest.approx([1.0] * 8)
    low, high = stats.wilson_interval(rates["n"].to_numpy(), rates["total"].to_numpy())
    np.testing.assert_allclose(rates["ci_low"].to_numpy(), low)
    np.testing.assert_allclose(rates["ci_high"].to_numpy(), high)
    n_all = rates.filter(pl.col("specialty") == "all").select("outcome", "n").sort("outcome")
    n_sum = (
        rates.filter(pl.col("specialty") != "all").group_by("outcome").agg(pl.col("n").sum()).sort("outcome")
    )
    assert n_all.equals(n_sum)
    expected = warehouse.sql("SELECT count(*) FROM core.case_outcomes").fetchall()[0][0]
    assert set(rates["total"].filter(rates["specialty"] == "all")) == {expected}


def test_zero_count_outcomes_are_rows_not_gaps(tmp_path):
    cases = cases_frame(
        [{"case_id": c, "specialty": "urology", "initial_procedure_code": "55866"} for c in "ab"]
    )
    opinions = opinions_frame(
        [{"case_id": "a", "recommendation": "defer"}, {"case_id": "b", "recommendation": "defer"}]
    )
    conn = staged_warehouse(tmp_path / "w.duckdb", {"cases": cases, "opinions": opinions})
    build(conn)
    rates = mart(conn, "outcome_rates").filter(pl.col("specialty") == "urology")
    assert rates["outcome"].to_list() == list(OUTCOMES)
    assert dict(zip(rates["outcome"], rates["n"], strict=True))["deferred"] == 2
    assert rates.filter(pl.col("outcome") == "confirmed").row(0, named=True)["ci_low"] == 0.0


def test_monthly_rates_form_a_p_chart(warehouse):
    monthly = mart(warehouse, "outcome_rates_monthly").filter(
        (pl.col("specialty") == "spine") & (pl.col("outcome") == "non_surgical")
    )
    center = monthly["n"].sum() / monthly["total"].sum()
    assert monthly["center_line"].to_list() == pytest.approx([center] * monthly.height)
    lcl, ucl = stats.p_chart_limits(center, monthly["total"].to_numpy())
    np.testing.assert_allclose(monthly["lcl"].to_numpy(), lcl)
    np.testing.assert_allclose(monthly["ucl"].to_numpy(), ucl)
    outside = (monthly["rate"] < monthly["lcl"]) | (monthly["rate"] > monthly["ucl"])
    assert monthly["signal"].to_list() == outside.to_list()
    assert all(m.day == 1 for m in monthly["month"])


def test_cost_impact_adds_up_and_carries_bootstrap_intervals(warehouse):
    impact = mart(warehouse, "cost_impact")
    fee = SETTINGS.program_fee_usd
    parts = impact.filter(pl.col("specialty") != "all")
    total = impact.filter(pl.col("specialty") == "all").row(0, named=True)
    for col in ("n_cases", "n_closed_cohort", "n_verified", "unpriced_changes"):
        assert total[col] == parts[col].sum(), col
    for col in ("gross_avoided", "realized_avoided", "deferred_avoided", "verified_net"):
        assert total[col] == pytest.approx(parts[col].sum()), col
    costs = warehouse.sql(
        """SELECT sum(projected_avoided), count(*), count(*) FILTER (WHERE horizon_closed),
                  sum(realized_avoided) FILTER (WHERE horizon_closed),
                  sum(projected_avoided) FILTER (WHERE outcome = 'deferred'), count(*) FILTER (WHERE unpriced_change)
           FROM core.case_costs"""
    ).fetchall()[0]
    assert total["gross_avoided"] == pytest.approx(costs[0]) and total["n_cases"] == costs[1]
    assert (total["n_closed_cohort"], total["unpriced_changes"]) == (costs[2], costs[5])
    assert total["realized_avoided"] == pytest.approx(costs[3])
    assert total["deferred_avoided"] == pytest.approx(costs[4])
    for row in impact.iter_rows(named=True):
        assert row["program_cost"] == pytest.approx(fee * row["n_cases"])
        assert row["net_avoided"] == pytest.approx(row["gross_avoided"] - row["program_cost"])
        assert row["net_ci_low"] < row["net_avoided"] < row["net_ci_high"]
        assert row["per_case_ci_low"] < row["per_case_net"] < row["per_case_ci_high"]
        assert row["roi"] == pytest.approx(row["net_avoided"] / row["program_cost"])
        assert row["roi_ci_low"] < row["roi"] < row["roi_ci_high"]
        assert row["realized_ci_low"] <= row["realized_avoided"] <= row["realized_ci_high"]
        # the verified net charges every review of the closed cohort, confirmed ones included
        assert row["verified_net"] == pytest.approx(row["realized_avoided"] - fee * row["n_closed_cohort"])
        assert row["verified_ci_low"] < row["verified_net"] < row["verified_ci_high"]
        assert row["deferred_ci_low"] <= row["deferred_avoided"] <= row["deferred_ci_high"]
    # the 'all' interval is narrower, relative to its size, than a single specialty's
    spine = impact.filter(pl.col("specialty") == "spine").row(0, named=True)
    rel = lambda r: (r["gross_ci_high"] - r["gross_ci_low"]) / abs(r["gross_avoided"])  # noqa: E731
    assert rel(total) < rel(spine)


def test_the_replicate_arithmetic_on_the_observed_counts_gives_the_case_level_sums(warehouse):
    from pipelines.lib.marts.cost_bootstrap import point_totals
    from pipelines.lib.marts.costs import key_frames, main_draw, point_sums

    draw = main_draw(warehouse, CTX)
    keys, claims, outside = key_frames(warehouse)
    got = point_totals(keys, claims, outside, warehouse.sql("SELECT * FROM core.prices").pl(), draw.rates)
    sums = point_sums(warehouse).filter(pl.col("dimension") == "specialty").sort("segment")
    order = [draw.specialties.index(s) for s in sums["segment"]]
    assert got.gross[0, order] == pytest.approx(sums["gross"].to_numpy())
    assert got.realized[0, order] == pytest.approx(sums["realized"].to_numpy())
    assert got.deferred[0, order] == pytest.approx(sums["deferred_gross"].to_numpy())
    assert got.cohort[0, order] == pytest.approx(sums["n_closed_cohort"].to_numpy())


def test_cost_impact_is_reproducible_with_the_seed(warehouse):
    before = mart(warehouse, "cost_impact")
    build_cost_impact(warehouse, CTX)
    assert mart(warehouse, "cost_impact").equals(before)


def test_segments_partition_the_cases(warehouse):
    segments = mart(warehouse, "cost_impact_segments")
    total = mart(warehouse, "cost_impact").filter(pl.col("specialty") == "all").row(0, named=True)
    for dimension in ("payer_type", "plan_id"):
        part = segments.filter(pl.col("dimension") == dimension)
        assert part["n_cases"].sum() == total["n_cases"]
        assert part["n_closed_cohort"].sum() == total["n_closed_cohort"]
        assert part["gross_avoided"].sum() == pytest.approx(total["gross_avoided"])
        assert part["realized_avoided"].sum() == pytest.approx(total["realized_avoided"])
        assert (part["gross_ci_low"] < part["gross_avoided"]).all()
        assert (part["gross_avoided"] < part["gross_ci_high"]).all()
    assert set(segments.filter(pl.col("dimension") == "payer_type")["segment"]) == {
        "commercial",
        "medicare",
        "medicaid",
        "self_pay",
        "other",
    }


def test_sensitivity_equals_recomputing_case_costs_under_each_assumption(warehouse):
    sens = mart(warehouse, "cost_sensitivity")
    inputs = load_cost_inputs(warehouse)
    base = CostAssumptions.from_settings(SETTINGS)
    baseline = warehouse.sql("SELECT * FROM core.baseline_rates").pl()
    leakage = warehouse.sql("SELECT * FROM core.leakage_rates").pl()
    scenarios = sensitivity_scenarios(base, baseline, leakage)
    assert {(s.assumption, s.scenario) for s in scenarios} == set(
        sens.select("assumption", "scenario").unique().iter_rows()
    )
    for s in scenarios:
        recomputed = case_costs(inputs, s.assumptions).cases
        net = recomputed.group_by("specialty").agg(
            (pl.col("projected_avoided").sum() - s.assumptions.program_fee_usd * pl.len()).alias("net")
        )
        got = sens.filter((pl.col("assumption") == s.assumption) & (pl.col("scenario") == s.scenario))
        got_net = dict(zip(got["specialty"], got["net_avoided"], strict=True))
        for specialty, value in net.iter_rows():
            assert got_net[specialty] == pytest.approx(value, abs=0.01), (s.assumption, s.scenario, specialty)
        assert got_net["all"] == pytest.approx(net["net"].sum(), abs=0.01)
        assert got.filter(pl.col("specialty") == "all")["setting"][0] == s.setting
    assert (sens["delta"] == sens["net_avoided"] - sens["base_net_avoided"]).all()
    leak = sens.filter((pl.col("assumption") == "leakage_non_surgical") & (pl.col("specialty") == "all"))
    low, high = (leak.filter(pl.col("scenario") == s)["net_avoided"][0] for s in ("low", "high"))
    assert low > high  # more surgery anyway, less avoided


def test_cost_assumptions_and_rates_state_what_is_in_force(warehouse):
    assumptions = mart(warehouse, "cost_assumptions")
    through = warehouse.sql(
        "SELECT claims_through, claims_through_basis FROM core.claims_through"
    ).fetchall()[0]
    assert set(assumptions.select("claims_through", "claims_through_basis").iter_rows()) == {through}
    assert through[1].startswith("latest service_date ")
    spine = assumptions.filter(pl.col("specialty") == "spine").row(0, named=True)
    assert (spine["conservative_cost_used"], spine["workup_cost_used"], spine["horizon_months"]) == (
        625.0,
        1200.0,
        12,
    )
    assert spine["program_fee_usd"] == SETTINGS.program_fee_usd
    assert re.fullmatch(r"(\w+ \d+(\.\d)?%)(, \w+ \d+(\.\d)?%)*", spine["price_basis_summary"])
    # the share of the gross on estimated catalogue prices, from the case costs and the catalogue
    estimated = warehouse.sql(
        """
        SELECT sum(abs(c.projected_avoided)) FILTER (
                   (price_basis = 'catalogue' AND pi.cost_basis = 'estimate')
                   OR (recommended_price_basis = 'catalogue' AND pr.cost_basis = 'estimate'))
               / sum(abs(c.projected_avoided))
        FROM core.case_costs c
        LEFT JOIN reference.procedures pi ON pi.procedure_code = c.initial_code
        LEFT JOIN reference.procedures pr ON pr.procedure_code = c.recommended_code
        WHERE c.specialty = 'spine' AND list_contains($changed, c.outcome) AND NOT c.unpriced_change
        """,
        params={"changed": list(CHANGED_OUTCOMES)},
    ).fetchall()[0][0]
    assert spine["share_estimated"] == pytest.approx(estimated or 0.0)
    payer = warehouse.sql("SELECT count(*) FROM core.prices WHERE basis = 'payer'").fetchall()[0][0]
    assert 0.0 < spine["share_estimated"] < 1.0 and spine["payer_priced_codes"] == payer > 0
    rates = mart(warehouse, "cost_rates")
    core = warehouse.sql(
        "SELECT specialty, outcome, n_closed, n_leaked, rate_used FROM core.leakage_rates"
    ).pl()
    joined = rates.filter(pl.col("parameter") == "leakage").join(core, on=["specialty", "outcome"])
    assert (
        joined.height == core.filter(pl.col("specialty").is_in(rates["specialty"].unique().implode())).height
    )
    assert (joined["n_events"] == joined["n_leaked"]).all()
    assert (joined["rate_used"] == joined["rate_used_right"]).all()
    assert set(rates.filter(pl.col("parameter") == "baseline_completion")["outcome"]) == {"confirmed"}


def reviewer_warehouse(
    tmp_path: Path, outlier_cases: int = 40, cases: int = 400
) -> duckdb.DuckDBPyConnection:
    """Spine cases of one procedure: an outlier who changes every plan, nine reviewers changing a quarter."""
    rows, ops = [], []
    for i in range(cases):
        rows.append({"case_id": f"c{i}", "specialty": "spine", "initial_procedure_code": "22630"})
        reviewer = "outlier" if i < outlier_cases else f"r{i % 9}"
        changed = i < outlier_cases or i % 4 == 0
        ops.append(
            {
                "case_id": f"c{i}",
                "reviewer_id": reviewer,
                "recommendation": "conservative" if changed else "proceed",
            }
        )
    conn = staged_warehouse(
        tmp_path / "w.duckdb", {"cases": cases_frame(rows), "opinions": opinions_frame(ops)}
    )
    build_case_outcomes(conn, None, 0.6)
    return conn


def test_reviewer_far_above_the_specialty_rate_is_flagged_in_words(tmp_path):
    conn = reviewer_warehouse(tmp_path)
    build_reviewer_cusum(conn, CTX)
    build_reviewer_variation(conn, CTX)
    rv = mart(conn, "reviewer_variation")
    outlier = rv.filter(pl.col("reviewer_id") == "outlier").row(0, named=True)
    assert (outlier["n"], outlier["n_changed"], outlier["observed"], outlier["change_rate"]) == (
        40,
        40,
        40,
        1.0,
    )
    assert outlier["specialty_rate"] == pytest.approx((40 + 90) / 400)
    assert outlier["raw_flag"] == FUNNEL_FLAGS[2] == "higher than expected (beyond 99.8% limits)"
    lo, hi = stats.funnel_limits(outlier["specialty_rate"], 40, 0.998)
    assert (outlier["lower_998"], outlier["upper_998"]) == (
        pytest.approx(float(lo)),
        pytest.approx(float(hi)),
    )
    # no propensity scores in this warehouse: every case expects its stratum's rate, 130 / 400
    assert outlier["expected_basis"] == "stratum_rate"
    assert outlier["expected"] == pytest.approx(40 * 130 / 400)
    assert outlier["variance"] == pytest.approx(40 * 0.325 * 0.675)
    assert outlier["o_e"] == pytest.approx(40 / 13)
    assert outlier["flag"] == FUNNEL_FLAGS[2]
    assert outlier["o_e_ci_low"] > outlier["o_e_upper_998"] > 1 > outlier["o_e_lower_998"] >= 0
    assert outlier["cusum_high_signal_month"] is not None and outlier["cusum_low_signal_month"] is None
    others = rv.filter(pl.col("reviewer_id") != "outlier")
    assert not others["flag"].str.starts_with("higher").any()
    assert rv["phi"].n_unique() == 1 and rv["tau2"].n_unique() == 1  # one specialty, one dispersion
    cusum = mart(conn, "reviewer_cusum")
    assert cusum.height == 2 * rv.height and set(cusum["direction"]) == set(CUSUM_DIRECTIONS)
    row = cusum.filter((pl.col("reviewer_id") == "outlier") & (pl.col("direction") == "higher")).row(
        0, named=True
    )
    assert row["signalled"] and row["statistic"] > row["threshold"] > 0
    assert (
        row["in_control_arl"] == SETTINGS.cusum_in_control_arl
        and row["odds_ratio"] == SETTINGS.cusum_odds_ratio
    )


def test_reviewer_expectation_uses_the_propensity_scores_when_the_model_ran(tmp_path):
    conn = reviewer_warehouse(tmp_path)
    # the model's out-of-fold scores: the outlier's cases look riskier at referral (0.9), the rest 0.2
    conn.execute(
        """CREATE TABLE core.case_scores AS
           SELECT case_id, 'spine' AS specialty,
                  CASE WHEN CAST(substr(case_id, 2) AS INTEGER) < 40 THEN 0.9 ELSE 0.2 END AS change_probability,
                  'out_of_fold' AS score_basis, 0.0 AS expected_saving, 0.0 AS expected_avoided
           FROM core.case_outcomes"""
    )
    build_reviewer_cusum(conn, CTX)
    build_reviewer_variation(conn, CTX)
    rv = mart(conn, "reviewer_variation")
    assert set(rv["expected_basis"]) == {"propensity_model"}
    # calibrated in the large: the specialty's expected changes are its observed ones
    assert rv["expected"].sum() == pytest.approx(rv["observed"].sum(), rel=1e-9)
    p = stats.calibrate_in_the_large(np.r_[np.full(40, 0.9), np.full(360, 0.2)], np.zeros(400, int), [130])
    outlier = rv.filter(pl.col("reviewer_id") == "outlier").row(0, named=True)
    assert outlier["expected"] == pytest.approx(p[:40].sum())
    # referral-time risk explains most of the outlier's excess: O/E falls from 3.1 to about 1.1
    assert outlier["o_e"] == pytest.approx(40 / p[:40].sum()) and 1.0 < outlier["o_e"] < 1.2
    assert outlier["flag"] != FUNNEL_FLAGS[2]


def test_concordance_kappas_match_sklearn_on_the_documented_tier_mapping(warehouse):
    tiers = warehouse.sql(
        """SELECT specialty, initial_tier,
                  CASE outcome WHEN 'non_surgical' THEN 0 WHEN 'confirmed' THEN initial_tier ELSE recommended_tier END AS second
           FROM core.case_outcomes
           WHERE outcome NOT IN ('deferred', 'unclassified') AND initial_tier IS NOT NULL"""
    ).pl()
    counts = warehouse.sql(
        "SELECT specialty, outcome, count(*) AS n FROM core.case_outcomes GROUP BY ALL"
    ).pl()
    conc = mart(warehouse, "concordance")
    for specialty in ("all", "cardiology", "spine"):
        part = tiers if specialty == "all" else tiers.filter(pl.col("specialty") == specialty)
        part = part.filter(pl.col("second").is_not_null())
        row = conc.filter(pl.col("specialty") == specialty).row(0, named=True)
        a, b = part["initial_tier"].to_numpy(), part["second"].to_numpy()
        assert row["n"] == part.height
        assert row["kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
        assert row["weighted_kappa"] == pytest.approx(
            cohen_kappa_score(a, b, labels=list(range(5)), weights="linear"), abs=1e-12
        )
        assert row["raw_agreement"] == pytest.approx(float(np.mean(a == b)))
        assert row["kappa_ci_low"] < row["kappa"] < row["kappa_ci_high"]
        assert row["weighted_kappa_ci_low"] < row["weighted_kappa"] < row["weighted_kappa_ci_high"]
        # every case is either in n or left out for a stated reason
        mine = counts if specialty == "all" else counts.filter(pl.col("specialty") == specialty)
        by_outcome = dict(mine.group_by("outcome").agg(pl.col("n").sum()).iter_rows())
        assert row["n_deferred"] == by_outcome.get("deferred", 0)
        assert row["n_unclassified"] == by_outcome.get("unclassified", 0)
        assert row["n"] + row["n_deferred"] + row["n_unclassified"] + row["n_no_tier"] == mine["n"].sum()


def test_turnaround_median_and_p90_per_month(warehouse):
    turn = mart(warehouse, "turnaround")
    days = (
        warehouse.sql(
            """SELECT turnaround_days FROM core.case_outcomes
           WHERE specialty = 'oncology' AND date_trunc('month', opinion_date) = DATE '2025-03-01'"""
        )
        .pl()["turnaround_days"]
        .to_numpy()
    )
    row = turn.filter((pl.col("specialty") == "oncology") & (pl.col("month") == date(2025, 3, 1))).row(
        0, named=True
    )
    assert row["n"] == len(days)
    assert row["median_days"] == pytest.approx(np.quantile(days, 0.5))
    assert row["p90_days"] == pytest.approx(np.quantile(days, 0.9))
    dist = mart(warehouse, "turnaround_distribution")
    assert (
        dist.filter(pl.col("specialty") == "all")["n"].sum()
        == turn.filter(pl.col("specialty") == "all")["n"].sum()
    )


def test_procedure_flows_add_up_to_the_outcome_counts(warehouse):
    flows = mart(warehouse, "procedure_flows").filter(pl.col("specialty") == "all")
    rates = mart(warehouse, "outcome_rates").filter(pl.col("specialty") == "all")
    by_outcome = flows.group_by("outcome").agg(pl.col("n").sum())
    assert dict(by_outcome.iter_rows()) == {
        o: n for o, n in zip(rates["outcome"], rates["n"], strict=True) if n
    }
    changed = flows.filter(pl.col("outcome").is_in(["less_invasive", "more_invasive", "alternative"]))
    assert not set(changed["target"]) & set(OUTCOMES)  # coded changes point at a family


def test_data_quality_marts_summarise_audit_and_quarantine(tmp_path):
    conn = staged_warehouse(tmp_path / "w.duckdb", {"cases": cases_frame([]), "opinions": opinions_frame([])})
    conn.execute("CREATE SCHEMA IF NOT EXISTS audit; CREATE SCHEMA IF NOT EXISTS quarantine")
    conn.execute(
        """CREATE TABLE audit.ingest_files AS SELECT * FROM (VALUES
             ('cases_1.csv', 'cases', 'loaded', 10, 10, 0, 0, 'r1', TIMESTAMP '2026-01-01 10:00'),
             ('cases_1.csv', 'cases', 'duplicate_file', 10, 0, 0, 10, 'r2', TIMESTAMP '2026-01-02 10:00'),
             ('cases_2.csv', 'cases', 'partial', 10, 7, 2, 1, 'r2', TIMESTAMP '2026-01-02 10:00'),
             ('opinions.csv', 'opinions', 'partial', 5, 4, 1, 0, 'r2', TIMESTAMP '2026-01-02 10:01'))
           t(file_name, record_type, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, run_id,
             ingested_at)"""
    )
    conn.execute(
        """CREATE TABLE quarantine.rows AS SELECT * FROM (VALUES
             ('cases_2.csv', 'cases', 3, '{}', ['specialty:invalid_value', 'referral_date:future_date']),
             ('cases_2.csv', 'cases', 5, '{}', ['specialty:invalid_value']),
             ('opinions.csv', 'opinions', 1, '{}', ['no_signal']))
           t(file_name, record_type, row_number, record, reasons)"""
    )
    conn.execute(
        """CREATE TABLE audit.check_results AS SELECT * FROM (VALUES
             ('rates_sum', 'marts.outcome_rates', false, 'ERROR', 'old', 8, 1, 0.125, 0.0, '{}',
              TIMESTAMP '2026-01-01 10:00', 'r1'),
             ('rates_sum', 'marts.outcome_rates', true, 'ERROR', 'new', 8, 0, 0.0, 0.0, '{}',
              TIMESTAMP '2026-01-02 10:00', 'r2'))
           t(check_name, asset, passed, severity, description, rows_checked, rows_violating, share_violating,
             threshold, metadata, checked_at, run_id)"""
    )
    build(conn)
    # the latest run's files only: its second sighting of cases_1.csv, not the first run's load too
    files = mart(conn, "data_quality_files").filter(pl.col("record_type") == "cases").sort("status")
    assert files.select(
        "run_id", "status", "n_files", "rows_read", "rows_quarantined", "rows_duplicate"
    ).rows() == [
        ("r2", "duplicate_file", 1, 10, 0, 10),
        ("r2", "partial", 1, 10, 2, 1),
    ]
    # the history: one row per run, oldest first, never summed over runs
    runs = mart(conn, "data_quality_runs")
    assert runs.select(
        "run_id", "n_files", "n_new_files", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"
    ).rows() == [("r1", 1, 1, 10, 10, 0, 0), ("r2", 3, 2, 25, 11, 3, 11)]
    rules = mart(conn, "data_quality_rules")
    assert rules.rows() == [
        ("cases", "specialty", "invalid_value", 2),
        ("cases", "referral_date", "future_date", 1),
        ("opinions", None, "no_signal", 1),
    ]
    assert mart(conn, "data_quality_checks").rows() == [
        ("rates_sum", "marts.outcome_rates", True, "ERROR", "new", 8, 0, 0.0, 0.0)
    ]


def test_run_summary_reports_pending_unclassified_net_and_settings(warehouse):
    summary = dict(mart(warehouse, "run_summary").iter_rows())
    pending = warehouse.sql("SELECT count(*) FROM core.pending_cases").fetchall()[0][0]
    unclassified = warehouse.sql(
        "SELECT count(*) FROM core.case_outcomes WHERE outcome = 'unclassified'"
    ).fetchall()[0][0]
    assert int(summary["pending"]) == pending > 0
    assert int(summary["unclassified"]) == unclassified > 0
    total = mart(warehouse, "cost_impact").filter(pl.col("specialty") == "all").row(0, named=True)
    assert float(summary["net_avoided"]) == pytest.approx(total["net_avoided"], abs=0.01)
    assert json.loads(summary["settings"])["program_fee_usd"] == SETTINGS.program_fee_usd
    assert summary["claims_through"] and summary["claims_through_basis"].startswith("latest service_date")
    assert set(json.loads(summary["leakage"])["spine"]) == {
        "less_invasive",
        "non_surgical",
        "deferred",
        "more_invasive",
        "alternative",
    }
    assert set(json.loads(summary["baseline_completion"])) == {
        "cardiology",
        "general_surgery",
        "gynecology",
        "oncology",
        "orthopedics",
        "spine",
        "urology",
    }
    assert datetime.fromisoformat(summary["built_at"])
    assert (summary["run_id"], summary["as_of"]) == ("test-run", AS_OF.isoformat())


def test_quality_checks_pass_on_a_consistent_warehouse(warehouse):
    results = {c.name: c.run(warehouse) for c in CHECKS}
    assert all(r.passed for r in results.values()), {n: r for n, r in results.items() if not r.passed}
    assert all(r.rows_checked > 0 and r.rows_violating == 0 for r in results.values())
    assert {c.severity for c in CHECKS} == {"ERROR"}


def test_quality_checks_catch_broken_tables(tmp_path):
    conn = staged_warehouse(tmp_path / "w.duckdb", synthetic_staging(300, seed=1, as_of=AS_OF))
    build(conn)
    conn.execute("INSERT INTO core.case_outcomes SELECT * FROM core.case_outcomes LIMIT 1")
    conn.execute(
        "UPDATE core.case_outcomes SET outcome = 'confirmed' WHERE reason LIKE 'unknown_initial_code:%'"
    )
    conn.execute(
        "UPDATE marts.outcome_rates SET rate = rate + 0.01 WHERE specialty = 'spine' AND outcome = 'deferred'"
    )
    conn.execute("UPDATE marts.cost_impact SET gross_avoided = gross_avoided + 5 WHERE specialty = 'urology'")
    conn.execute("UPDATE core.prices SET price = -1 WHERE procedure_code = '22630'")
    conn.execute(
        "UPDATE marts.reviewer_variation SET expected = expected * 1.01 WHERE specialty = 'oncology'"
    )
    conn.execute("UPDATE core.claims_through SET claims_through = claims_through - INTERVAL 400 DAY")
    conn.execute(
        "UPDATE core.leakage_rates SET rate_used = 1.5 WHERE specialty = 'spine' AND outcome = 'deferred'"
    )
    results = {c.name: c.run(conn) for c in CHECKS}
    failed = {name: r.metadata for name, r in results.items() if not r.passed}
    assert set(failed) == {c.name for c in CHECKS}
    assert results["case_outcomes_one_row_per_case"].rows_violating == 1
    assert results["outcome_rates_sum_to_one"].share == pytest.approx(1 / 8)
    assert failed["case_outcomes_one_row_per_case"]["duplicated"] == 1
    assert failed["cost_evidence_consistent"]["closed_too_early"] > 0
    assert failed["cost_evidence_consistent"]["rates_out_of_range"] == 1
    assert list(failed["outcome_rates_sum_to_one"]["failing"]) == ["spine"]
    assert list(failed["reviewer_expected_equals_observed"]["failing"]) == ["oncology"]
