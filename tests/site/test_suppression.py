"""Small-cell suppression: primary (1..10 hidden), complementary (nothing recoverable from totals),
and the per-mart rules that hide rates, intervals and money resting on hidden counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.pages import COUNT_COLUMNS, check_safe, make_safe
from dashboards.safe_marts import (
    TOTAL_CELL,
    outcome_cells,
    safe_concordance,
    safe_cost_impact,
    safe_cost_rates,
    safe_outcome_rates,
    safe_outcome_rates_monthly,
    safe_procedure_flows,
    safe_reviewer_variation,
    safe_turnaround,
    specialties_hidden,
)
from dashboards.suppression import (
    check_no_small_counts,
    count_text,
    primary_mask,
    suppress_counts,
    suppress_with_margins,
    thousands_text,
)
from pipelines.lib.stats import funnel_limits
from pipelines.lib.vocabulary import FLAG_WITHIN, FUNNEL_FLAGS
from tests.mart_fixtures import make_marts


def _row(values: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"g": ["a"] * len(values), "cell": list(range(len(values))), "n": values})


def _hidden(df: pl.DataFrame, col: str = "n") -> list[bool]:
    return df[f"{col}_suppressed"].to_list()


def test_primary_mask_flags_one_to_ten_but_not_zero_or_eleven() -> None:
    df = pl.DataFrame({"n": [0, 1, 5, 10, 11, 250, None]})
    assert df.select(primary_mask("n"))["n"].to_list() == [False, True, True, True, False, False, False]
    assert df.select(primary_mask("n", threshold=5))["n"].to_list() == [
        False,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_primary_suppression_nulls_small_counts_and_flags_them() -> None:
    out = suppress_counts(pl.DataFrame({"n": [0, 3, 10, 11, 40]}), ["n"])
    assert out["n"].to_list() == [0, None, None, 11, 40]
    assert out["n_primary"].to_list() == [False, True, True, False, False]
    assert _hidden(out) == [False, True, True, False, False]


def test_single_hidden_cell_in_a_row_takes_the_next_smallest_with_it() -> None:
    out = suppress_counts(_row([3, 20, 15, 40]), ["n"], ["g"])
    assert _hidden(out) == [True, False, True, False]  # 15 is the complement, not 20 or 40
    assert out["n_primary"].to_list() == [True, False, False, False]
    assert out["n"].to_list() == [None, 20, None, 40]


def test_complement_is_never_a_zero_when_a_nonzero_cell_exists() -> None:
    out = suppress_counts(_row([0, 4, 0, 25, 60]), ["n"], ["g"])
    assert _hidden(out) == [False, True, False, True, False]


def test_two_small_cells_with_an_ambiguous_sum_need_no_complement() -> None:
    # 3 + 4 = 7 hidden: (1,6), (2,5), (3,4)... cannot be told apart
    out = suppress_counts(_row([3, 4, 30, 40]), ["n"], ["g"])
    assert _hidden(out) == [True, True, False, False]


@pytest.mark.parametrize("values", [[1, 1, 30, 40], [10, 10, 30, 40]])
def test_small_cells_whose_sum_pins_them_down_get_a_complement(values: list[int]) -> None:
    # two hidden cells summing to 2 must both be 1; summing to 20 must both be 10
    out = suppress_counts(_row(values), ["n"], ["g"])
    assert _hidden(out) == [True, True, True, False]


def test_one_beside_exactly_eleven_is_widened() -> None:
    # hidden sum 12 = one "<11" plus one "*" (>= 11): only 1 + 11 fits, so a third cell is hidden
    out = suppress_counts(_row([1, 11, 30, 40]), ["n"], ["g"])
    assert _hidden(out) == [True, True, True, False]


def test_groups_are_independent_and_no_grouping_means_primary_only() -> None:
    df = pl.DataFrame({"g": ["a", "a", "b", "b"], "n": [5, 70, 60, 50]})
    assert _hidden(suppress_counts(df, ["n"], ["g"])) == [True, True, False, False]
    assert _hidden(suppress_counts(df, ["n"])) == [True, False, False, False]
    assert _hidden(suppress_counts(df, ["n"], [[]])) == [True, False, False, True]  # whole table is one group


def test_two_way_table_suppresses_down_columns_as_well_as_rows() -> None:
    # rows: specialties; columns: outcomes; 'all' row holds the column totals
    df = pl.DataFrame(
        {
            "s": ["a", "a", "a", "b", "b", "b", "all", "all", "all"],
            "o": ["x", "y", "z"] * 3,
            "n": [4, 30, 50, 25, 35, 60, 29, 65, 110],
        }
    )
    out = suppress_counts(df, ["n"], [["s"], ["o"]])
    hidden = out.filter(pl.col("n_suppressed")).select("s", "o").rows()
    # a.x primary; row a -> a.y; column x -> b.x; column y now has a.y and needs nothing more, but row b has
    # b.x alone -> b.y; columns stay at two hidden each
    assert set(hidden) == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}
    _assert_no_group_exposed(out, [["s"], ["o"]])


def _assert_no_group_exposed(
    out: pl.DataFrame, groupings: list[list[str]], col: str = "n", raw: pl.Series | None = None
) -> None:
    """No group keeps exactly one hidden non-zero cell while it still has a visible non-zero cell
    (with no visible non-zero cell left, the one hidden cell is the group's whole total, which is
    then itself primary)."""
    raw = raw if raw is not None else out[col]
    work = out.with_columns(_raw=raw.fill_null(0))
    for keys in groupings:
        groups = work.group_by(keys).agg(
            k=(pl.col(f"{col}_suppressed") & (pl.col("_raw") > 0)).sum(),
            visible=(~pl.col(f"{col}_suppressed") & (pl.col("_raw") > 0)).sum(),
        )
        exposed = groups.filter((pl.col("k") == 1) & (pl.col("visible") > 0))
        assert exposed.is_empty(), f"group {keys} left with one hidden cell: {exposed}"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=60), min_size=4, max_size=4), min_size=2, max_size=6
    ),
)
def test_no_row_or_column_of_a_random_table_is_left_with_one_hidden_cell(rows: list[list[int]]) -> None:
    cells = [(f"r{i}", f"c{j}", v) for i, row in enumerate(rows) for j, v in enumerate(row)]
    df = pl.DataFrame(cells, schema=["r", "c", "n"], orient="row")
    out = suppress_counts(df, ["n"], [["r"], ["c"]])
    assert out.filter(primary_mask(pl.col("n"))).is_empty()  # nothing small is left visible
    primary = df.filter(primary_mask("n")).height
    assert out["n_primary"].sum() == primary
    assert df.filter(out["n_suppressed"] & (df["n"] == 0)).is_empty()  # zeros are never hidden
    _assert_no_group_exposed(out, [["r"], ["c"]], raw=df["n"])


def test_locked_margin_already_hidden_forces_a_hidden_cell_beneath_it() -> None:
    # a yearly count hidden on another page, its months all large: one month would give it back
    cells = pl.DataFrame(
        {
            "month": ["m1", "m2", "m3", "year"],
            "value": [12, 15, 20, 47],
            "locked": [False, False, False, True],
            "value_primary": [False, False, False, False],
            "value_suppressed": [False, False, False, True],
        }
    ).with_columns(k=pl.lit("x"))
    out = suppress_with_margins(cells, "value", [["k"]])
    assert out["value_suppressed"].to_list() == [True, False, False, True]
    assert out["value"].to_list() == [12, 15, 20, 47]  # raw values kept for reuse as margins


def test_forced_cells_start_hidden_and_count_as_complements() -> None:
    df = pl.DataFrame({"g": ["a", "a", "a"], "n": [30, 40, 50], "f": [False, True, False]})
    out = suppress_counts(df, ["n"], ["g"], force="f")
    assert _hidden(out) == [True, True, False]
    assert out["n_primary"].to_list() == [False, False, False]


def test_count_text_marks_primary_and_complementary_cells_differently() -> None:
    out = suppress_counts(_row([3, 20, 15, 1500]), ["n"], ["g"])
    assert out.select(count_text("n"))["n"].to_list() == ["<11", "20", "*", "1500"]
    assert out.select(count_text("n", thousands=True))["n"].to_list() == ["<11", "20", "*", "1,500"]
    assert suppress_counts(_row([3, 20, 15, 40]), ["n"], ["g"], threshold=5).select(count_text("n", 5))[
        "n"
    ].to_list() == ["<5", "20", "*", "40"]


def test_thousands_text_groups_digits_and_keeps_the_sign() -> None:
    df = pl.DataFrame({"x": [0, 999, 1000, -1234567, 12345678901, None]})
    assert df.select(thousands_text(pl.col("x")).alias("t"))["t"].to_list() == [
        "0",
        "999",
        "1,000",
        "-1,234,567",
        "12,345,678,901",
        None,
    ]


def test_check_no_small_counts_catches_a_leak() -> None:
    check_no_small_counts(pl.DataFrame({"n": [0, 11, None]}), ["n"])
    with pytest.raises(ValueError, match="unsuppressed small counts"):
        check_no_small_counts(pl.DataFrame({"n": [0, 7]}), ["n"])


RATES = pl.DataFrame(
    {
        "specialty": ["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["all"] * 3,
        "outcome": ["confirmed", "deferred", "unclassified"] * 4,
        "n": [50, 40, 4, 60, 30, 20, 5, 2, 0, 115, 72, 24],
        "total": [94] * 3 + [110] * 3 + [7] * 3 + [211] * 3,
    }
).with_columns(
    rate=pl.col("n") / pl.col("total"),
    ci_low=pl.col("n") / pl.col("total") - 0.05,
    ci_high=pl.col("n") / pl.col("total") + 0.05,
)


def test_safe_outcome_rates_hides_rates_of_hidden_cells_and_whole_rows_with_hidden_totals() -> None:
    safe = safe_outcome_rates(RATES)
    a = safe.filter(pl.col("specialty") == "a")
    assert a["n_primary"].to_list() == [False, False, True]  # the 4
    assert a["n_suppressed"].sum() >= 2  # ... and at least one complement beside it
    # a rate is shown exactly when its count and its total are
    shown = safe.filter(~pl.col("n_suppressed") & ~pl.col("total_suppressed"))
    assert shown["rate"].null_count() == 0 and shown["ci_low"].null_count() == 0
    hidden = safe.filter(pl.col("n_suppressed") | pl.col("total_suppressed"))
    assert hidden["rate"].is_null().all() and hidden["ci_high"].is_null().all()
    c = safe.filter(pl.col("specialty") == "c")
    assert c["total_primary"].all() and c["rate"].is_null().all()
    # c's total (7) would be 'all' minus a and b: a second total goes with it
    assert safe.unique("specialty").filter(pl.col("total_suppressed")).height >= 2
    cells = outcome_cells(RATES)
    _assert_no_group_exposed(
        cells.rename({"value_suppressed": "n_suppressed", "value": "n"}), [["specialty"], ["outcome"]]
    )
    assert safe.filter(pl.col("specialty") == "b")["n"].to_list()[0] == 60  # large cells stay visible


def test_safe_outcome_rates_leaves_large_cells_alone() -> None:
    big = RATES.filter(pl.col("specialty") == "b").with_columns(n=pl.col("n") * 10, total=pl.lit(1100))
    safe = safe_outcome_rates(big)
    assert safe["n"].to_list() == [600, 300, 200]
    assert not safe["n_suppressed"].any() and not safe["total_suppressed"].any()


def test_monthly_cells_cannot_undo_a_yearly_complement() -> None:
    rates = pl.DataFrame(
        {
            "specialty": ["s"] * 3,
            "outcome": ["confirmed", "deferred", "unclassified"],
            "n": [60, 30, 6],
            "total": [96] * 3,
        }
    ).with_columns(rate=pl.col("n") / pl.col("total"), ci_low=pl.lit(0.0), ci_high=pl.lit(1.0))
    import datetime as dt

    months = [dt.date(2025, 1, 1), dt.date(2025, 2, 1)]
    monthly = pl.DataFrame(
        {
            "specialty": ["s"] * 6,
            "month": [m for m in months for _ in range(3)],
            "outcome": ["confirmed", "deferred", "unclassified"] * 2,
            "n": [30, 15, 3, 30, 15, 3],
            "total": [48, 48, 48, 48, 48, 48],
        }
    ).with_columns(
        rate=pl.col("n") / pl.col("total"),
        center_line=pl.lit(0.5),
        lcl=pl.lit(0.3),
        ucl=pl.lit(0.7),
        signal=pl.lit(False),
    )
    yearly = safe_outcome_rates(rates)
    assert yearly.filter(pl.col("outcome") == "deferred")["n"][0] is None  # 30: complement of the 6
    safe = safe_outcome_rates_monthly(monthly, rates)
    deferred = safe.filter(pl.col("outcome") == "deferred")
    # with the yearly 30 hidden, both months of 15 must not be visible (15 + 15 = 30 gives it back)
    assert deferred["n"].null_count() >= 1
    assert deferred["center_line"].is_null().all()  # the yearly rate is the centre line
    assert safe.filter(pl.col("outcome") == "unclassified")["rate"].is_null().all()


def test_flows_of_an_outcome_cannot_add_up_to_its_hidden_count() -> None:
    flows = pl.DataFrame(
        {
            "specialty": ["s"] * 3,
            "source": ["fusion", "decompression", "fusion"],
            "target": ["deferred", "deferred", "fusion"],
            "outcome": ["deferred", "deferred", "confirmed"],
            "n": [12, 18, 60],
        }
    )
    rates = pl.DataFrame(
        {
            "specialty": ["s"] * 3,
            "outcome": ["confirmed", "deferred", "unclassified"],
            "n": [60, 30, 6],
            "total": [96] * 3,
        }
    ).with_columns(rate=pl.col("n") / pl.col("total"), ci_low=pl.lit(0.0), ci_high=pl.lit(1.0))
    assert safe_outcome_rates(rates).filter(pl.col("outcome") == "deferred")["n_suppressed"][0]
    safe = safe_procedure_flows(flows, rates)
    # the yearly 30 is hidden: 12 + 18 visible would give it back, so one of them goes
    assert safe.filter(pl.col("outcome") == "deferred")["n_suppressed"].to_list() == [True, False]
    assert safe.filter(pl.col("outcome") == "confirmed")["n"].to_list() == [60]


def test_turnaround_months_hidden_wherever_the_monthly_outcome_totals_are() -> None:
    import datetime as dt

    months = [dt.date(2025, m, 1) for m in (1, 2, 3, 4)]
    turnaround = pl.DataFrame(
        {
            "specialty": ["s"] * 4,
            "month": months,
            "n": [6, 40, 30, 50],
            "median_days": [5.0, 6.0, 7.0, 8.0],
            "p90_days": [9.0, 10.0, 11.0, 12.0],
        }
    )
    # the monthly outcome table hid January (6) and, as its complement, April (50), not March (30)
    monthly_safe = pl.DataFrame(
        {"specialty": ["s"] * 4, "month": months, "total_suppressed": [True, False, False, True]}
    )
    safe = safe_turnaround(turnaround, monthly_safe=monthly_safe)
    assert safe["n_suppressed"].to_list() == [True, False, False, True]
    assert safe["median_days"].to_list() == [None, 6.0, 7.0, None]
    alone = safe_turnaround(turnaround)
    assert alone["n_suppressed"].to_list() == [True, False, True, False]  # on its own it would pick March


def test_reviewer_variation_drops_small_reviewers_with_a_complement_and_no_changed_counts() -> None:
    rv = pl.DataFrame(
        {
            "reviewer_id": ["r1", "r2", "r3", "r4"],
            "specialty": ["s"] * 4,
            "n": [8, 12, 40, 90],
            "n_changed": [5, 6, 20, 45],
            "change_rate": [0.625, 0.5, 0.5, 0.5],
            "specialty_rate": [0.5] * 4,
            "lower_95": [0.1] * 4,
            "upper_95": [0.9] * 4,
            "lower_998": [0.05] * 4,
            "upper_998": [0.95] * 4,
            "raw_flag": [FLAG_WITHIN] * 4,
            "flag": [FLAG_WITHIN] * 4,
        }
    )
    safe = safe_reviewer_variation(rv)
    assert "n_changed" not in safe.columns
    assert safe["n_suppressed"].to_list() == [True, True, False, False]
    assert safe.filter(pl.col("n_suppressed"))["change_rate"].is_null().all()
    guarded = safe_reviewer_variation(rv.filter(pl.col("n") > 10), incomplete_specialties=["s"])
    assert guarded["n_suppressed"].to_list() == [True, True, False]  # the sum must not be exact


def test_cost_impact_hides_the_money_of_small_specialties_and_a_complement() -> None:
    cost = pl.DataFrame(
        {
            "specialty": ["a", "b", "c", "all"],
            "n_cases": [8, 40, 200, 248],
            "gross_avoided": [1e4, 5e4, 3e5, 3.6e5],
            "net_avoided": [4e3, 2e4, 1.5e5, 1.74e5],
            "n_verified": [3, 20, 100, 123],
            "realized_avoided": [1e3, 1e4, 5e4, 6.1e4],
            "roi": [0.6, 0.7, 1.0, 0.9],
        }
    )
    safe = safe_cost_impact(cost)
    assert safe["n_cases_suppressed"].to_list() == [True, True, False, False]
    assert safe["gross_avoided"].to_list()[:2] == [None, None] and safe["roi"][2] == 1.0
    assert safe["realized_avoided"].to_list()[:2] == [None, None]
    assert safe["n_verified"].to_list()[2:] == [100, 123]


def test_cost_impact_suppresses_the_closed_cohort_and_unpriced_changes_like_n_cases() -> None:
    cost = pl.DataFrame(
        {
            "specialty": ["a", "b", "c", "all"],
            "n_cases": [60, 40, 200, 300],
            "gross_avoided": [1e5, 5e4, 3e5, 4.5e5],
            "n_verified": [30, 20, 100, 150],
            "realized_avoided": [3e4, 1e4, 5e4, 9e4],
            "n_closed_cohort": [7, 25, 120, 152],  # a: 7 closed reviews
            "verified_net": [2.5e4, -8.75e3, -4e4, -2.375e4],
            "unpriced_changes": [0, 3, 40, 43],  # b: 3 unpriced changes
            "deferred_avoided": [1e4, 5e3, 2e4, 3.5e4],
        }
    )
    safe = safe_cost_impact(cost)
    assert safe["n_cases_suppressed"].to_list() == [False] * 4
    # 7 is hidden with a complement (25); the verified net of both goes, since fee x cohort gives it back
    assert safe["n_closed_cohort"].to_list() == [None, None, 120, 152]
    assert safe["verified_net"].to_list()[:2] == [None, None] and safe["realized_avoided"][0] == 3e4
    # 3 is hidden; zero is not a small count, so the next-smallest non-zero cell complements it
    assert safe["unpriced_changes"].to_list() == [0, None, None, 43]
    check_no_small_counts(safe, ["n_cases", "n_verified", "n_closed_cohort", "unpriced_changes"])


def test_cost_rates_hide_small_counts_and_every_rate_that_would_give_them_back() -> None:
    rates = pl.DataFrame(
        {
            "specialty": ["s"] * 4 + ["t"] * 2,
            "parameter": [
                "baseline_completion",
                "leakage",
                "leakage",
                "leakage",
                "baseline_completion",
                "leakage",
            ],
            "outcome": [
                "confirmed",
                "less_invasive",
                "non_surgical",
                "deferred",
                "confirmed",
                "non_surgical",
            ],
            "n_closed": [200, 60, 120, 8, 300, 100],
            "n_events": [190, 4, 30, 3, 280, 50],  # s/confirmed: 10 not billed; less_invasive: 4 leaked
            "n_no_claims": [20, 12, 15, 0, 30, 11],
            "rate": [0.95, 4 / 60, 0.25, 3 / 8, 280 / 300, 0.5],
            "ci_low": [0.9, 0.02, 0.18, 0.1, 0.94, 0.4],
            "ci_high": [0.97, 0.16, 0.33, 0.7, 0.98, 0.6],
            "rate_used": [0.95, 4 / 60, 0.25, 37 / 188, 280 / 300, 0.5],
            "basis": ["observed", "observed", "observed", "pooled", "observed", "observed"],
            "used_ci_low": [0.9, 0.02, 0.18, 0.14, 0.94, 0.4],
            "used_ci_high": [0.97, 0.16, 0.33, 0.25, 0.98, 0.6],
            "source": ["x"] * 6,
        }
    )
    safe = safe_cost_rates(rates)
    check_no_small_counts(safe, ["n_closed", "n_events", "n_no_claims"])
    row = {(r["specialty"], r["outcome"]): r for r in safe.iter_rows(named=True)}
    # 200 - 190 = 10 cases not billed: the row's counts and rates go, its rate in force too
    assert row[("s", "confirmed")]["n_closed"] is None and row[("s", "confirmed")]["rate_used"] is None
    # 4 leaked of 60: the rate and its interval would give 4 back
    assert (row[("s", "less_invasive")]["n_events"], row[("s", "less_invasive")]["rate"]) == (None, None)
    # a pooled rate rests on all of the specialty's leakage counts: hidden with any of them
    assert row[("s", "deferred")]["rate_used"] is None
    assert row[("t", "non_surgical")]["rate_used"] == 0.5 and row[("t", "confirmed")]["n_closed"] == 300


def test_concordance_n_hidden_where_outcome_counts_are_partly_hidden() -> None:
    conc = pl.DataFrame(
        {
            "specialty": ["a", "b"],
            "n": [90, 200],
            "kappa": [0.4, 0.5],
            "kappa_ci_low": [0.3, 0.4],
            "kappa_ci_high": [0.5, 0.6],
            "raw_agreement": [0.6, 0.7],
        }
    )
    safe = safe_concordance(conc, incomplete_specialties=["a"])
    assert safe["n"].to_list() == [None, 200]
    assert safe["kappa"].to_list() == [0.4, 0.5]


def test_a_specialty_with_a_hidden_total_is_hidden_in_every_mart() -> None:
    marts = make_marts()
    safe = make_safe(marts)
    hidden, partial = specialties_hidden(safe.rates)
    assert "urology" in hidden  # 8 cases
    assert "orthopedics" in partial or "gynecology" in partial or partial == []
    for name in ("reviewers", "distribution", "turnaround", "monthly", "flows", "cost", "concordance"):
        frame = getattr(safe, name)
        count = {"cost": "n_cases"}.get(name, "n")
        rows = frame.filter(pl.col("specialty").is_in(hidden))
        assert (rows[count].is_null() | (rows[count] == 0)).all(), (
            f"{name} shows counts of a hidden specialty"
        )


def test_every_published_count_of_the_fixture_marts_is_zero_or_at_least_eleven() -> None:
    safe = make_safe(make_marts())
    check_safe(safe)
    assert set(COUNT_COLUMNS) <= {f for f in safe.__dataclass_fields__}
    assert TOTAL_CELL not in safe.rates["outcome"].to_list()


def test_the_site_build_refuses_a_safe_mart_with_a_small_count(tmp_path, monkeypatch) -> None:
    import dashboards.site as site_module

    marts = make_marts()
    safe = make_safe(marts)
    safe.rates = safe.rates.with_columns(pl.lit(3, dtype=pl.Int64).alias("n"))
    with pytest.raises(ValueError, match="refusing to publish: rates"):
        check_safe(safe)
    monkeypatch.setattr(site_module, "make_safe", lambda *_args, **_kwargs: safe)
    with pytest.raises(ValueError, match="refusing to publish"):
        site_module.build_site(marts, tmp_path / "site", {"run_id": "r"})
    assert not (tmp_path / "site" / "index.html").exists()


def _reviewers(n: list[int], changed: list[int], specialty: str = "s") -> pl.DataFrame:
    total_n, total_changed = sum(n), sum(changed)
    return pl.DataFrame(
        {
            "reviewer_id": [f"r{i}" for i in range(len(n))],
            "specialty": [specialty] * len(n),
            "n": n,
            "n_changed": changed,
            "change_rate": [c / k for c, k in zip(changed, n, strict=True)],
            "specialty_rate": [total_changed / total_n] * len(n),
            "lower_95": [0.1] * len(n),
            "upper_95": [0.9] * len(n),
            "lower_998": [0.05] * len(n),
            "upper_998": [0.95] * len(n),
            "raw_flag": [FLAG_WITHIN] * len(n),
            "observed": changed,
            "expected": [k * 0.5 for k in n],
            "o_e": [c / (k * 0.5) for c, k in zip(changed, n, strict=True)],
            "flag": [FUNNEL_FLAGS[2]] + [FLAG_WITHIN] * (len(n) - 1),
        }
    )


def test_reviewer_whose_rate_and_n_imply_a_count_from_1_to_10_is_not_shown() -> None:
    # n and the change rate together give the changed (and confirmed) counts: 40 x 7.5% = 3 changed,
    # 50 x 90% = 5 confirmed. Both are cells of 1..10 and must not be derivable from the funnel.
    safe = safe_reviewer_variation(_reviewers([40, 50, 60, 80, 100], [3, 45, 30, 40, 50]))
    assert safe["n_suppressed"].to_list() == [True, True, False, False, False]
    shown = safe.filter(~pl.col("n_suppressed"))
    implied = (shown["n"] * shown["change_rate"]).round(0)
    assert implied.to_list() == [30.0, 40.0, 50.0]
    assert safe.filter(pl.col("n_suppressed"))["change_rate"].is_null().all()


def test_observed_and_expected_changes_are_shown_only_where_no_count_from_1_to_10_follows() -> None:
    # O = O/E x E = n x rate: the reviewer with 3 changed stays hidden with every O/E column, and
    # its complement with it; a shown reviewer's observed changes and confirmations are 11 or more
    safe = safe_reviewer_variation(_reviewers([40, 50, 60, 80, 100], [3, 25, 30, 40, 50]))
    hidden = safe.filter(pl.col("n_suppressed"))
    assert hidden["reviewer_id"].to_list() == ["r0", "r1"]
    for col in ("observed", "expected", "o_e", "flag", "change_rate"):
        assert hidden[col].is_null().all(), col
    shown = safe.filter(~pl.col("n_suppressed"))
    assert shown["observed"].to_list() == [30, 40, 50]
    assert ((shown["observed"] >= 11) & (shown["n"] - shown["observed"] >= 11)).all()
    assert (shown["o_e"] * shown["expected"]).round(6).to_list() == [30.0, 40.0, 50.0]


def test_specialty_rate_of_an_incomplete_specialty_cannot_give_back_its_classified_count() -> None:
    # The mart's specialty rate is 92/180: its denominator is the specialty's classified count, i.e.
    # total minus the hidden unclassified count. Where an outcome count is hidden, the funnel is
    # centred on the reviewers it shows instead (57/110), which a reader can already compute.
    rv = _reviewers([30, 40, 50, 60], [15, 20, 26, 31])
    safe = safe_reviewer_variation(rv, incomplete_specialties=["s"])
    shown = safe.filter(~pl.col("n_suppressed"))
    assert shown["n"].to_list() == [50, 60]
    assert shown["specialty_rate"].to_list() == [pytest.approx(57 / 110)] * 2
    low, high = funnel_limits(np.full(2, 57 / 110), np.array([50, 60]), 0.95)
    assert shown["lower_95"].to_list() == pytest.approx(low.tolist())
    assert shown["upper_95"].to_list() == pytest.approx(high.tolist())
    assert set(shown["raw_flag"].to_list()) <= set(FUNNEL_FLAGS.values())  # recomputed, in words
    assert shown["flag"].to_list() == [FLAG_WITHIN] * 2  # the O/E flag does not rest on the specialty rate
    complete = safe_reviewer_variation(rv)
    assert (
        complete["specialty_rate"].drop_nulls().to_list()
        == [pytest.approx(92 / 180)] * complete["specialty_rate"].drop_nulls().len()
    )


def test_concordance_hides_n_with_a_small_no_tier_count_and_drops_counts_published_elsewhere() -> None:
    # total - deferred - unclassified - n = the cases with no tier: 4 of them here, so n goes too
    conc = pl.DataFrame(
        {
            "specialty": ["all", "a", "b"],
            "n": [500, 200, 300],
            "weighted_kappa": [0.5, 0.45, 0.55],
            "kappa": [0.4, 0.35, 0.45],
            "raw_agreement": [0.6, 0.55, 0.65],
            "n_deferred": [40, 15, 25],
            "n_unclassified": [12, 5, 7],
            "n_no_tier": [24, 4, 20],
        }
    )
    safe = safe_concordance(conc)
    assert "n_deferred" not in safe.columns and "n_unclassified" not in safe.columns
    assert safe["n"].to_list() == [500, None, 300] and safe["n_no_tier"].to_list() == [24, None, 20]
    assert safe["raw_agreement"].to_list() == [0.6, None, 0.65]
    assert safe["weighted_kappa"].to_list() == [0.5, 0.45, 0.55]  # kappa on 200 cases stays
    tiny = safe_concordance(conc.with_columns(n=pl.Series([500, 8, 300])))
    assert tiny["weighted_kappa"][1] is None and tiny["kappa"][1] is None


def test_concordance_raw_agreement_hidden_with_the_n_it_would_give_back() -> None:
    # raw agreement is agreements / n: 103/126 at full precision names n = 126 exactly
    conc = pl.DataFrame(
        {
            "specialty": ["a", "b"],
            "n": [126, 200],
            "kappa": [0.4, 0.5],
            "kappa_ci_low": [0.3, 0.4],
            "kappa_ci_high": [0.5, 0.6],
            "raw_agreement": [103 / 126, 0.7],
        }
    )
    safe = safe_concordance(conc, incomplete_specialties=["a"])
    assert safe["n"].to_list() == [None, 200]
    assert safe["raw_agreement"].to_list() == [None, 0.7]
