"""Publishing suppressed counts: the markers and their text, the last guard, and what the
publication layer (dashboards/publication.py) hides in each mart when marts are decided together.
The disclosure engine itself is pinned by tests/site/test_disclosure.py, the whole site by
tests/site/test_attack.py."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from dashboards.pages import COUNT_COLUMNS, check_safe, make_safe
from dashboards.publication import OTHER, fold_bins, publish
from dashboards.suppression import check_no_small_counts, count_text, primary_mask, thousands_text
from pipelines.lib.stats import funnel_limits
from pipelines.lib.vocabulary import FLAG_WITHIN, FUNNEL_FLAGS, REVIEW_OUTCOMES, UNCLASSIFIED
from tests.mart_fixtures import make_marts


@pytest.fixture(scope="session")
def fixture_safe():
    """The hand-made marts made safe once: the disclosure audit is the costly part."""
    return make_safe(make_marts())


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


def test_count_text_marks_primary_and_complementary_cells_differently() -> None:
    df = pl.DataFrame(
        {
            "n": [3, 20, 15, 1500],
            "n_primary": [True, False, False, False],
            "n_suppressed": [True, False, True, False],
        }
    )
    assert df.select(count_text("n"))["n"].to_list() == ["<11", "20", "*", "1500"]
    assert df.select(count_text("n", thousands=True))["n"].to_list() == ["<11", "20", "*", "1,500"]
    assert df.select(count_text("n", 5))["n"].to_list() == ["<5", "20", "*", "1500"]


def _attack_ranges(marts: dict[str, pl.DataFrame]) -> dict[str, tuple[int, int]]:
    """What the independent attacker of test_disclosure recovers from these marts once published."""
    from dashboards.publication import cell_model
    from tests.site.test_disclosure import _attack

    return _attack(cell_model(marts), publish(marts).decision)


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


def test_outcome_rates_hide_rates_resting_on_hidden_counts_and_small_totals() -> None:
    safe = publish({"outcome_rates": RATES}).frames["outcome_rates"]
    a = safe.filter(pl.col("specialty") == "a")
    assert a["n_primary"].to_list() == [False, False, True]  # the 4
    assert a["n_suppressed"].sum() >= 2  # ... and at least one complement beside it
    shown = safe.filter(~pl.col("n_suppressed") & ~pl.col("total_suppressed"))
    assert shown["rate"].null_count() == 0 and shown["ci_low"].null_count() == 0
    hidden = safe.filter(pl.col("n_suppressed") | pl.col("total_suppressed"))
    assert hidden["rate"].is_null().all() and hidden["ci_high"].is_null().all()
    # c's total (7) is "<11" and its breakdown is not published at all; 'all' minus a and b would
    # give the 7 back, so the smaller of the two other totals (a: 94) goes with it
    assert "c" not in safe["specialty"].to_list()
    assert safe.filter(pl.col("total_suppressed"))["specialty"].unique().to_list() == ["a"]
    assert safe.filter(pl.col("specialty") == "all")["n"].to_list() == [115, 72, 24]
    check_no_small_counts(safe, ["n", "total"])
    ranges = _attack_ranges({"outcome_rates": RATES})
    assert ranges and all(high - low >= 4 for low, high in ranges.values()), ranges


def test_outcome_rates_leave_a_table_of_large_cells_alone() -> None:
    big = RATES.filter(pl.col("specialty") == "b").with_columns(n=pl.col("n") * 10, total=pl.lit(1100))
    safe = publish({"outcome_rates": big}).frames["outcome_rates"]
    assert safe["n"].to_list() == [600, 300, 200]
    assert not safe["n_suppressed"].any() and not safe["total_suppressed"].any()
    assert safe["rate"].to_list() == pytest.approx([600 / 1100, 300 / 1100, 200 / 1100])


def _one_specialty_rates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "specialty": ["s"] * 3,
            "outcome": ["confirmed", "deferred", "unclassified"],
            "n": [60, 30, 6],
            "total": [96] * 3,
        }
    ).with_columns(rate=pl.col("n") / pl.col("total"), ci_low=pl.lit(0.0), ci_high=pl.lit(1.0))


def test_monthly_cells_cannot_undo_a_yearly_hidden_count() -> None:
    months = [dt.date(2025, 1, 1), dt.date(2025, 2, 1)]
    monthly = pl.DataFrame(
        {
            "specialty": ["s"] * 6,
            "month": [m for m in months for _ in range(3)],
            "outcome": ["confirmed", "deferred", "unclassified"] * 2,
            "n": [30, 15, 3, 30, 15, 3],
            "total": [48] * 6,
        }
    ).with_columns(
        rate=pl.col("n") / pl.col("total"),
        center_line=pl.lit(0.5),
        lcl=pl.lit(0.3),
        ucl=pl.lit(0.7),
        signal=pl.lit(False),
    )
    marts = {"outcome_rates": _one_specialty_rates(), "outcome_rates_monthly": monthly}
    published = publish(marts)
    yearly = published.frames["outcome_rates"]
    safe = published.frames["outcome_rates_monthly"]
    assert yearly.filter(pl.col("outcome") == "unclassified")["n_primary"].item()
    # whatever the yearly complement is, its months must not add back up to it
    # the months of the 6 (3 + 3) are a breakdown of a small count: not published at all
    assert "unclassified" not in safe["outcome"].to_list()
    # whatever the yearly complement is, its months must not add back up to it
    complements = yearly.filter(pl.col("n_suppressed") & ~pl.col("n_primary"))["outcome"].to_list()
    assert complements
    for outcome in complements:
        months_of = safe.filter(pl.col("outcome") == outcome)
        assert months_of["n"].null_count() >= 1, outcome
        # the centre line is the yearly rate, hidden with the yearly count
        assert months_of["center_line"].is_null().all(), outcome
    assert all(high - low >= 4 for low, high in _attack_ranges(marts).values())


def test_small_flows_are_not_published_and_large_ones_cannot_add_up_to_a_hidden_count() -> None:
    flows = pl.DataFrame(
        {
            "specialty": ["s"] * 4,
            "source": ["fusion", "decompression", "fusion", "fusion"],
            "target": ["deferred", "deferred", "fusion", "injection"],
            "outcome": ["deferred", "deferred", "confirmed", "unclassified"],
            "n": [12, 18, 60, 6],
        }
    )
    marts = {"outcome_rates": _one_specialty_rates(), "procedure_flows": flows}
    published = publish(marts)
    safe = published.frames["procedure_flows"]
    assert "unclassified" not in safe["outcome"].to_list()  # the flow of 6 is not drawn at all
    yearly = published.frames["outcome_rates"]
    complements = yearly.filter(pl.col("n_suppressed") & ~pl.col("n_primary"))["outcome"].to_list()
    assert complements
    for outcome in (o for o in complements if o in safe["outcome"].to_list()):
        assert safe.filter(pl.col("outcome") == outcome)["n"].null_count() >= 1, outcome
    assert all(high - low >= 4 for low, high in _attack_ranges(marts).values())


def test_rare_turnaround_bins_are_folded_into_their_neighbours_for_every_specialty() -> None:
    dist = pl.DataFrame(
        {
            "specialty": ["all"] * 4 + ["s"] * 4 + ["t"] * 4,
            "days": [7, 14, 30, 60] * 3,
            "n": [40, 50, 30, 3, 20, 25, 15, 2, 20, 25, 15, 1],
        }
    )
    folded = fold_bins(dist, 11)
    assert folded.filter(pl.col("specialty") == "all")["days"].to_list() == [7, 14, 60]
    assert folded.filter(pl.col("specialty") == "s")["n"].to_list() == [20, 25, 17]
    assert folded.filter(pl.col("specialty") == "t")["n"].to_list() == [20, 25, 16]
    # the bins still add up to each specialty's cases
    assert folded.group_by("specialty").agg(pl.col("n").sum()).sort("specialty")["n"].to_list() == [
        123,
        62,
        61,
    ]


def test_reviewers_with_too_few_cases_are_folded_into_other_and_ids_are_pseudonyms() -> None:
    rv = _reviewers([9, 10, 8, 40, 90], [5, 5, 4, 20, 45])
    safe = publish({"reviewer_variation": rv}).frames["reviewer_variation"]
    assert safe["reviewer_id"].to_list()[-1] == OTHER
    other = safe.filter(pl.col("reviewer_id") == OTHER)
    assert other["reviewers_folded"].item() == 3
    # 27 classified cases pooled (14 changed); 'other' is no unit of the funnel: no limits, no flag
    assert other["n"].item() == 27 and other["observed"].item() == 14
    assert other["flag"].is_null().all() and other["lower_95"].is_null().all()
    assert "n_changed" not in safe.columns
    named = safe.filter(pl.col("reviewer_id") != OTHER)["reviewer_id"].to_list()
    assert not set(named) & {"r0", "r1", "r2", "r3"}  # re-keyed, never the warehouse id
    check_no_small_counts(safe, ["n", "observed"])


def test_reviewer_whose_rate_and_n_imply_a_count_from_1_to_10_is_not_shown() -> None:
    # n and the change rate together give the changed (and confirmed) counts: 40 x 7.5% = 3 changed,
    # 50 x 90% = 5 confirmed. Both are cells of 1..10 and must not be derivable from the funnel.
    rv = _reviewers([40, 50, 60, 80, 100], [3, 45, 30, 40, 50])
    safe = publish({"reviewer_variation": rv}).frames["reviewer_variation"]
    hidden = safe.filter(pl.col("n_suppressed"))
    assert hidden.height >= 2
    assert hidden["change_rate"].is_null().all() and hidden["n"].is_null().all()
    shown = safe.filter(~pl.col("n_suppressed"))
    implied = (shown["n"] * shown["change_rate"]).round(0)
    assert ((implied >= 11) & (shown["n"] - implied >= 11)).all()
    assert 40 not in shown["n"].to_list() and 50 not in shown["n"].to_list()


def test_observed_and_expected_changes_are_shown_only_where_no_count_from_1_to_10_follows() -> None:
    # O = O/E x E = n x rate: the reviewer with 3 changed stays hidden with every O/E column
    rv = _reviewers([40, 50, 60, 80, 100], [3, 25, 30, 40, 50])
    safe = publish({"reviewer_variation": rv}).frames["reviewer_variation"]
    hidden = safe.filter(pl.col("n_suppressed"))
    assert hidden.height == 1  # no table adds the reviewers up here, so no complement is needed
    assert 40 not in safe["n"].to_list()
    for col in ("observed", "expected", "o_e", "flag", "change_rate"):
        assert hidden[col].is_null().all(), col
    shown = safe.filter(~pl.col("n_suppressed"))
    assert ((shown["observed"] >= 11) & (shown["n"] - shown["observed"] >= 11)).all()
    assert (shown["o_e"] * shown["expected"]).round(6).to_list() == shown["observed"].cast(
        pl.Float64
    ).to_list()


def test_funnel_of_a_specialty_with_a_hidden_outcome_count_is_centred_on_the_reviewers_shown() -> None:
    # The mart's specialty rate is changes / classified cases: with an outcome count of the
    # specialty hidden it would give that count back, so the funnel is re-centred on the points shown.
    rv = _reviewers([30, 40, 50, 60], [15, 20, 26, 31])
    counts = {"confirmed": 88, "less_invasive": 92, UNCLASSIFIED: 4}
    outcomes = [*REVIEW_OUTCOMES, UNCLASSIFIED]
    rates = pl.DataFrame(
        {
            "specialty": ["s"] * len(outcomes),
            "outcome": outcomes,
            "n": [counts.get(o, 0) for o in outcomes],
            "total": [184] * len(outcomes),
        }
    ).with_columns(rate=pl.col("n") / pl.col("total"), ci_low=pl.lit(0.0), ci_high=pl.lit(1.0))
    safe = publish({"reviewer_variation": rv, "outcome_rates": rates}).frames["reviewer_variation"]
    shown = safe.filter(~pl.col("n_suppressed"))
    centre = (shown["n"] * shown["change_rate"]).sum() / shown["n"].sum()
    assert shown["specialty_rate"].to_list() == [pytest.approx(centre)] * shown.height
    assert centre != pytest.approx(92 / 180)
    low, high = funnel_limits(np.full(shown.height, centre), shown["n"].cast(pl.Float64).to_numpy(), 0.95)
    assert shown["lower_95"].to_list() == pytest.approx(low.tolist())
    assert shown["upper_95"].to_list() == pytest.approx(high.tolist())
    assert set(shown["raw_flag"].to_list()) <= set(FUNNEL_FLAGS.values())  # recomputed, in words
    complete = publish({"reviewer_variation": rv}).frames["reviewer_variation"]
    assert set(complete["specialty_rate"].drop_nulls().round(9).to_list()) == {round(92 / 180, 9)}


def _cost(**columns: list) -> pl.DataFrame:
    return pl.DataFrame({"specialty": ["a", "b", "c", "all"], **columns})


def test_cost_impact_hides_the_money_of_small_specialties_and_their_complement() -> None:
    cost = _cost(
        n_cases=[8, 40, 200, 248],
        gross_avoided=[1e4, 5e4, 3e5, 3.6e5],
        net_avoided=[4e3, 2e4, 1.5e5, 1.74e5],
        n_verified=[3, 20, 100, 123],
        realized_avoided=[1e3, 1e4, 5e4, 6.1e4],
        roi=[0.6, 0.7, 1.0, 0.9],
    )
    safe = publish({"cost_impact": cost}).frames["cost_impact"]
    # a's 8 cases are "<11" on the outcome page; its split into verified or not is not published
    assert safe["specialty"].to_list() == ["b", "c", "all"]
    # 'all' minus c would give a's 8 back: b (40) goes, with its money
    assert safe["n_cases_suppressed"].to_list() == [True, False, False]
    assert safe["gross_avoided"][0] is None and safe["realized_avoided"][0] is None
    assert safe["n_cases"][2] == 248 and safe["roi"][2] == 0.9
    check_no_small_counts(safe, ["n_cases", "n_verified"])


def test_cost_impact_closed_cohort_and_unpriced_changes_are_counts_like_n_cases() -> None:
    cost = _cost(
        n_cases=[60, 40, 200, 300],
        gross_avoided=[1e5, 5e4, 3e5, 4.5e5],
        n_verified=[30, 20, 100, 150],
        realized_avoided=[3e4, 1e4, 5e4, 9e4],
        n_closed_cohort=[7, 25, 120, 152],  # a: 7 closed reviews
        verified_net=[2.5e4, -8.75e3, -4e4, -2.375e4],
        verified_ci_low=[1e4, -2e4, -6e4, -5e4],
        verified_ci_high=[4e4, 1e3, -2e4, 1e3],
        unpriced_changes=[0, 3, 40, 43],  # b: 3 unpriced changes
    )
    safe = publish({"cost_impact": cost}).frames["cost_impact"]
    assert not safe["n_cases_suppressed"].any()
    assert safe["n_closed_cohort_primary"].to_list() == [True, False, False, False]
    assert safe["n_closed_cohort_suppressed"].sum() >= 2
    # the verified net rests on the closed cohort (fee x cohort): hidden with it
    hidden = safe.filter(pl.col("n_closed_cohort_suppressed"))
    assert hidden["verified_net"].is_null().all() and hidden["verified_ci_low"].is_null().all()
    assert safe["realized_avoided"][0] == 3e4
    # zero is not a small count and never a complement
    assert safe["unpriced_changes"][0] == 0 and safe["unpriced_changes_primary"][1]
    assert safe["unpriced_changes_suppressed"].sum() >= 2
    check_no_small_counts(safe, ["n_cases", "n_verified", "n_closed_cohort", "unpriced_changes"])


def test_cost_rates_hide_small_counts_and_every_rate_that_would_give_them_back() -> None:
    rates = pl.DataFrame(
        {
            "specialty": ["s"] * 4 + ["t"] * 2,
            "parameter": ["baseline_completion", *["leakage"] * 3, "baseline_completion", "leakage"],
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
    safe = publish({"cost_rates": rates}).frames["cost_rates"]
    check_no_small_counts(safe, ["n_closed", "n_events", "n_no_claims"])
    row = {(r["specialty"], r["outcome"]): r for r in safe.iter_rows(named=True)}
    # 200 - 190 = 10 cases not billed: the row's counts and rates go, its rate in force too
    assert row[("s", "confirmed")]["n_closed"] is None and row[("s", "confirmed")]["rate_used"] is None
    # 4 leaked of 60: the rate and its interval would give 4 back
    assert (row[("s", "less_invasive")]["n_events"], row[("s", "less_invasive")]["rate"]) == (None, None)
    # a pooled rate rests on all of the specialty's leakage counts: hidden with any of them
    # 8 closed deferred cases: a small count whose split into 3 and 5 is not published at all
    assert ("s", "deferred") not in row
    assert row[("t", "non_surgical")]["rate_used"] == 0.5 and row[("t", "confirmed")]["n_closed"] == 300


def test_concordance_hides_n_with_a_small_no_tier_count_and_drops_counts_published_elsewhere() -> None:
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
    safe = publish({"concordance": conc}).frames["concordance"]
    assert "n_deferred" not in safe.columns and "n_unclassified" not in safe.columns
    assert safe["n_no_tier_primary"].to_list() == [False, True, False]
    assert safe["n_no_tier_suppressed"].sum() >= 2  # 24 - 20 would give the 4 back
    tiny = publish({"concordance": conc.with_columns(n=pl.Series([500, 8, 300]))}).frames["concordance"]
    assert tiny["weighted_kappa"][1] is None and tiny["kappa"][1] is None
    assert tiny["raw_agreement"][1] is None


def test_concordance_raw_agreement_hidden_with_the_n_it_would_give_back() -> None:
    # raw agreement is agreements / n: 103/126 names the agreeing count once n is known
    conc = pl.DataFrame(
        {
            "specialty": ["a", "b"],
            "n": [126, 200],
            "kappa": [0.4, 0.5],
            "raw_agreement": [120 / 126, 0.7],  # 6 disagreements
        }
    )
    safe = publish({"concordance": conc}).frames["concordance"]
    assert safe["n"][0] is None and safe["raw_agreement"][0] is None
    assert safe["n"][1] == 200 and safe["raw_agreement"][1] == 0.7


def test_a_specialty_with_a_hidden_total_is_hidden_in_every_mart(fixture_safe) -> None:
    safe = fixture_safe
    assert "urology" in safe.hidden_specialties  # 8 cases
    for name in ("reviewers", "distribution", "turnaround", "monthly", "flows", "cost", "concordance"):
        frame = getattr(safe, name)
        if frame is None:
            continue
        count = {"cost": "n_cases"}.get(name, "n")
        rows = frame.filter(pl.col("specialty") == "urology")
        assert (rows[count].is_null() | (rows[count] == 0)).all(), f"{name} shows counts of urology"


def test_every_published_count_of_the_fixture_marts_is_zero_or_at_least_eleven(fixture_safe) -> None:
    safe = fixture_safe
    check_safe(safe)
    assert set(COUNT_COLUMNS) <= set(safe.__dataclass_fields__)
    for name, cols in COUNT_COLUMNS.items():
        frame = getattr(safe, name)
        for col in (c for c in cols if frame is not None and c in frame.columns):
            values = frame[col].drop_nulls()
            assert ((values == 0) | (values >= 11)).all(), (name, col)
    assert (safe.disclosure["narrowest_range"] or 0) >= 1  # no hidden small count is exact


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


def _waiting(n: int, orphans: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_type": ["opinions"],
            "n_waiting": [n],
            "oldest_waiting_days": [40],
            "n_orphans": [orphans],
            "orphan_after_days": [30],
        }
    )


@pytest.mark.parametrize(
    ("n", "orphans", "shown"),
    [
        (200, 50, (200, 50)),  # both large, and so is the 150 not yet orphaned
        (200, 4, (200, None)),  # 4 orphans: "<11", and the 196 would give them back
        (200, 195, (200, None)),  # 5 not yet orphaned: the orphans would give them back
        (6, 2, (None, None)),  # a small count, and its parts are not published at all
    ],
)
def test_waiting_opinions_and_their_orphans_are_counts_like_any_other(
    n: int, orphans: int, shown: tuple[int | None, int | None]
) -> None:
    safe = publish({"data_quality_waiting": _waiting(n, orphans)}).frames["data_quality_waiting"]
    assert (safe["n_waiting"].item(), safe["n_orphans"].item()) == shown
    assert safe["n_orphans_suppressed"].item() == (shown[1] is None)
    assert safe["n_waiting_primary"].item() == (n < 11)
    assert safe["n_orphans_primary"].item() == (1 <= orphans < 11 and n >= 11)
