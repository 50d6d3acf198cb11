"""Figure builders: each chart carries the traces, values and colours its safe mart says it should,
and draws nothing that the suppression hid."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from dashboards import figures
from dashboards.palette import OUTCOME_COLOURS, OUTCOMES
from dashboards.publication import publish
from pipelines.lib import stats as pipeline_stats
from pipelines.lib.vocabulary import FLAG_WITHIN, FUNNEL_FLAGS


def _safe(name: str, frame: pl.DataFrame, **others: pl.DataFrame | None) -> pl.DataFrame:
    """`frame` as the publication layer publishes it as marts.`name` beside `others`."""
    marts = {name: frame, **{k: v for k, v in others.items() if v is not None}}
    return publish(marts).frames.get(name, frame.clear())


def _rates(specialty: str, counts: list[int]) -> pl.DataFrame:
    total = sum(counts)
    return pl.DataFrame(
        {
            "specialty": [specialty] * len(OUTCOMES),
            "outcome": list(OUTCOMES),
            "n": counts,
            "total": [total] * len(OUTCOMES),
        }
    ).with_columns(
        rate=pl.col("n") / pl.col("total"),
        ci_low=pl.col("n") / pl.col("total") * 0.9,
        ci_high=pl.col("n") / pl.col("total") * 1.1,
    )


SPINE = _rates("spine", [200, 100, 400, 120, 30, 50, 4])
CARDIO = _rates("cardiology", [300, 150, 100, 100, 25, 20, 20])
RATES = pl.concat([SPINE, CARDIO])


def test_outcome_mix_has_one_trace_per_outcome_in_its_fixed_colour_with_wilson_error_bars() -> None:
    safe = _safe("outcome_rates", RATES)
    fig = figures.outcome_mix_figure(safe, ["spine", "cardiology"])
    assert [t.name for t in fig.data] == [
        "Confirmed",
        "Less invasive",
        "Non-surgical",
        "Deferred",
        "More invasive",
        "Alternative",
        "Unclassified",
    ]
    assert [t.marker.color for t in fig.data] == [OUTCOME_COLOURS[o] for o in OUTCOMES]
    confirmed = fig.data[0]
    assert list(confirmed.x) == ["Spine", "Cardiology"]
    assert confirmed.y == pytest.approx((200 / 904, 300 / 715))
    assert confirmed.error_y.array == pytest.approx((200 / 904 * 0.1, 300 / 715 * 0.1))
    assert confirmed.error_y.arrayminus == pytest.approx((200 / 904 * 0.1, 300 / 715 * 0.1))
    assert "n = 200 of 904" in confirmed.customdata[0]
    assert (
        fig.layout.yaxis.tickformat == ".0%" and fig.layout.yaxis.title.text == "Share of reviewed cases (%)"
    )


def test_outcome_mix_draws_no_bar_for_a_suppressed_cell() -> None:
    safe = _safe("outcome_rates", SPINE)  # unclassified = 4 and its complement (more invasive, 30) hidden
    fig = figures.outcome_mix_figure(safe, ["spine"])
    by_name = {t.name: t for t in fig.data}
    assert by_name["Unclassified"].y == (None,)
    assert by_name["More invasive"].y == (None,)
    assert "suppressed" in by_name["Unclassified"].customdata[0]
    assert by_name["Confirmed"].x == ("Confirmed",)  # one specialty: outcomes on the x axis
    assert by_name["Confirmed"].y[0] == pytest.approx(200 / 904)


def _monthly() -> tuple[pl.DataFrame, pl.DataFrame]:
    months = [dt.date(2025, m, 1) for m in (1, 2, 3)]
    confirmed = [60, 40, 90]
    frame = pl.DataFrame(
        {
            "specialty": ["spine"] * 6,
            "month": [m for m in months for _ in range(2)],
            "outcome": ["confirmed", "non_surgical"] * 3,
            "n": [confirmed[0], 140, confirmed[1], 160, confirmed[2], 110],
            "total": [200, 200, 200, 200, 200, 200],
        }
    ).with_columns(rate=pl.col("n") / pl.col("total"), center_line=pl.lit(190 / 600).cast(pl.Float64))
    sigma = (pl.col("center_line") * (1 - pl.col("center_line")) / pl.col("total")).sqrt()
    frame = frame.with_columns(lcl=pl.col("center_line") - 3 * sigma, ucl=pl.col("center_line") + 3 * sigma)
    frame = frame.with_columns(signal=(pl.col("rate") > pl.col("ucl")) | (pl.col("rate") < pl.col("lcl")))
    yearly = pl.DataFrame(
        {
            "specialty": ["spine"] * 2,
            "outcome": ["confirmed", "non_surgical"],
            "n": [190, 410],
            "total": [600, 600],
        }
    ).with_columns(rate=pl.col("n") / 600, ci_low=pl.lit(0.0), ci_high=pl.lit(1.0))
    return frame, yearly


def test_p_chart_has_rate_centre_limits_and_signals_per_outcome_with_a_menu() -> None:
    monthly, yearly = _monthly()
    fig = figures.p_chart_figure(_safe("outcome_rates_monthly", monthly, outcome_rates=yearly), "spine")
    assert len(fig.data) == 2 * figures.P_CHART_TRACES
    rate, centre, ucl, lcl, signal = fig.data[:5]
    assert rate.name == "Confirmed share" and rate.visible is True
    assert rate.y == pytest.approx((0.30, 0.20, 0.45))
    assert centre.y == pytest.approx((190 / 600,) * 3)
    expected_ucl = 190 / 600 + 3 * np.sqrt(190 / 600 * (410 / 600) / 200)
    assert ucl.y == pytest.approx((expected_ucl,) * 3) and lcl.y[0] < centre.y[0]
    assert list(signal.x) == [dt.date(2025, 2, 1), dt.date(2025, 3, 1)]  # 20% and 45% are outside the limits
    assert all(t.visible is False for t in fig.data[5:])
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["Confirmed", "Non-surgical"]
    assert buttons[1].args[0]["visible"] == [False] * 5 + [True] * 5


def test_sankey_links_carry_the_visible_flows_only() -> None:
    flows = pl.DataFrame(
        {
            "specialty": ["spine"] * 4,
            "source": ["spinal_fusion"] * 3 + ["spinal_decompression"],
            "target": ["non_surgical", "spinal_fusion", "spinal_injection", "non_surgical"],
            "outcome": ["non_surgical", "confirmed", "less_invasive", "non_surgical"],
            "n": [150, 80, 6, 40],
        }
    )
    fig = figures.sankey_figure(_safe("procedure_flows", flows), "spine")
    sankey = fig.data[0]
    assert sorted(sankey.link.value) == [40, 80, 150]  # the 6 is hidden and not drawn
    labels = list(sankey.node.label)
    assert "First: Spinal fusion" in labels and "Second: Non-surgical" in labels
    assert "Second: Spinal injection" not in labels
    link_outcomes = dict(zip(sankey.link.value, sankey.link.customdata, strict=True))
    assert link_outcomes[80] == "Confirmed"


def test_the_funnel_drawn_is_the_pipelines_own_at_the_edge_of_the_support() -> None:
    # A reviewer with 13 changes in 13 cases, in a specialty changing 90% of plans: the binomial
    # 99.9% quantile at n = 13 is 13 itself, so the limit is 100% and nobody is flagged for it.
    rv = pl.DataFrame(
        {
            "reviewer_id": ["edge", "big"],
            "specialty": ["spine", "spine"],
            "n": [13, 400],
            "change_rate": [1.0, 0.9],
            "specialty_rate": [0.9, 0.9],
        }
    )
    low, high = pipeline_stats.funnel_limits(np.full(2, 0.9), np.array([13, 400]), 0.998)
    rv = rv.with_columns(
        pl.Series("lower_998", low),
        pl.Series("upper_998", high),
        *[
            pl.Series(c, v)
            for c, v in zip(
                ("lower_95", "upper_95"),
                pipeline_stats.funnel_limits(np.full(2, 0.9), np.array([13, 400]), 0.95),
                strict=True,
            )
        ],
        pl.lit(FLAG_WITHIN).alias("raw_flag"),
        pl.lit(False).alias("n_primary"),
        pl.lit(False).alias("n_suppressed"),
    )
    assert high[0] == 1.0
    fig = figures.funnel_figure(rv, "spine")
    upper = next(t for t in fig.data if t.name == "99.8% limits")
    at_13 = dict(zip(upper.x, upper.y, strict=True))[13.0]
    assert at_13 == pytest.approx(1.0)


def _reviewers() -> pl.DataFrame:
    """Five spine reviewers as marts.reviewer_variation has them (the O/E columns from the library)."""
    n = np.array([5, 15, 66, 200, 400])
    observed = np.array([3, 8, 55, 100, 200])
    expected = np.array([2.5, 7.5, 30.0, 100.0, 205.0])
    variance = expected * 0.5
    tau2 = 0.01
    lo95, hi95 = pipeline_stats.oe_limits(expected, variance, tau2, 0.95)
    lo998, hi998 = pipeline_stats.oe_limits(expected, variance, tau2, 0.998)
    ci_low, ci_high = pipeline_stats.oe_interval(observed, n, expected)
    return pl.DataFrame(
        {
            "reviewer_id": ["r1", "r2", "r3", "r4", "r5"],
            "specialty": ["spine"] * 5,
            "n": n,
            "n_changed": observed,
            "change_rate": observed / n,
            "specialty_rate": [0.5] * 5,
            "lower_95": 0.4,
            "upper_95": 0.6,
            "lower_998": 0.3,
            "upper_998": 0.7,
            "raw_flag": [FLAG_WITHIN, FLAG_WITHIN, FUNNEL_FLAGS[2], FLAG_WITHIN, FLAG_WITHIN],
            "observed": observed,
            "expected": expected,
            "variance": variance,
            "o_e": observed / expected,
            "o_e_ci_low": ci_low,
            "o_e_ci_high": ci_high,
            "phi": 2.5,
            "phi_p_value": 0.0001,
            "tau2": tau2,
            "o_e_lower_95": lo95,
            "o_e_upper_95": hi95,
            "o_e_lower_998": lo998,
            "o_e_upper_998": hi998,
            "flag": [FLAG_WITHIN, FLAG_WITHIN, FUNNEL_FLAGS[2], FLAG_WITHIN, FLAG_WITHIN],
            "cusum_high_signal_month": [None, None, dt.date(2025, 3, 1), None, None],
            "cusum_low_signal_month": pl.Series([None] * 5, dtype=pl.Date),
        }
    )


def test_funnel_plots_only_unsuppressed_reviewers_coloured_by_flag() -> None:
    fig = figures.funnel_figure(_safe("reviewer_variation", _reviewers()), "spine")
    points = [t for t in fig.data if t.mode == "markers"]
    plotted = sorted(x for t in points for x in t.x)
    # r1 (5 cases) and its complement r2 are hidden; r3's 55 changed and 11 confirmed may be shown
    assert plotted == [66, 200, 400]
    high = next(t for t in points if t.name == "Higher than expected (beyond 99.8% limits)")
    assert list(high.x) == [66] and high.y == pytest.approx((55 / 66,)) and high.marker.color == "#D55E00"
    assert high.marker.symbol == "triangle-up"
    limit_names = {t.name for t in fig.data if t.mode == "lines"}
    assert limit_names == {"95% limits", "99.8% limits"}
    assert fig.layout.xaxis.title.text == "Cases reviewed (n)"


def test_oe_funnel_draws_the_limits_widened_by_tau2_around_one() -> None:
    fig = figures.oe_funnel_figure(_safe("reviewer_variation", _reviewers()), "spine")
    points = [t for t in fig.data if t.mode == "markers"]
    assert sorted(x for t in points for x in t.x) == [30.0, 100.0, 205.0]  # expected changes, hidden ones out
    high = next(t for t in points if t.name.startswith("Higher than expected (beyond 99.8%"))
    assert high.y == pytest.approx((55 / 30,))
    assert "O/E 1.83" in high.customdata[0] and "observed 55, expected 30" in high.customdata[0]
    upper = next(t for t in fig.data if t.name == "99.8% limits" and t.showlegend)
    # the line is 1 + z sqrt(r / E + tau2), r = sum V / sum E of the reviewers shown (0.5 here)
    x, y = np.array(upper.x), np.array(upper.y)
    np.testing.assert_allclose(y, 1 + 3.090232 * np.sqrt(0.5 / x + 0.01), rtol=1e-5)
    assert y.min() > 1 + 3.090232 * 0.1  # never narrower than the between-reviewer spread
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text.startswith("Observed / expected")


def test_dispersion_caption_says_what_phi_and_tau2_mean() -> None:
    from dashboards.views import dispersion_caption

    text = dispersion_caption(_reviewers(), "spine")
    assert "φ = 2.50" in text and "τ² = 0.0100" in text and "±10%" in text and "p &lt; 0.001" in text
    chance = dispersion_caption(_reviewers().with_columns(tau2=pl.lit(0.0), phi_p_value=pl.lit(0.4)), "spine")
    assert "no more than chance" in chance and "τ² = 0" in chance


def test_turnaround_histogram_marks_suppressed_bins_and_the_quantiles() -> None:
    dist = pl.DataFrame({"specialty": ["spine"] * 5, "days": [1, 2, 7, 14, 30], "n": [40, 120, 200, 60, 4]})
    rates = _rates("spine", [200, 100, 60, 40, 12, 12, 0])  # the 424 cases the bins add up to
    safe = _safe("turnaround_distribution", dist, outcome_rates=rates)
    fig = figures.turnaround_figure(safe, "spine", median_days=7, p90_days=14)
    bars, hidden = fig.data
    # 4 is primary; 40, the smallest other bin, is its complement (the bins add up to a published 424)
    assert list(bars.x) == [1, 2, 3] and list(bars.y) == [120, 200, 60]
    assert list(hidden.x) == [0, 4] and list(hidden.text) == ["*", "<11"] and list(hidden.y) == [0, 0]
    assert list(fig.layout.xaxis.ticktext) == ["≤1", "2", "3–7", "8–14", "15–30"]
    vlines = [s.x0 for s in fig.layout.shapes]
    assert vlines == pytest.approx([2.5, 3.5])  # 7 days: right edge of bin 3-7; 14: right edge of 8-14


def test_agreement_shows_both_kappas_with_intervals_and_raw_agreement_on_its_own_axis() -> None:
    conc = pl.DataFrame(
        {
            "specialty": ["spine"],
            "n": [300],
            "weighted_kappa": [0.55],
            "weighted_kappa_ci_low": [0.5],
            "weighted_kappa_ci_high": [0.61],
            "kappa": [0.45],
            "kappa_ci_low": [0.38],
            "kappa_ci_high": [0.52],
            "raw_agreement": [0.7],
            "n_deferred": [40],
            "n_unclassified": [3],
            "n_no_tier": [0],
        }
    )
    fig = figures.agreement_figure(_safe("concordance", conc), "spine")
    weighted, kappa, raw = fig.data
    assert weighted.x == (0.55,) and weighted.error_x.array == pytest.approx((0.06,))
    assert weighted.error_x.arrayminus == pytest.approx((0.05,))
    assert kappa.x == (0.45,) and kappa.error_x.array == pytest.approx((0.07,))
    assert raw.x == (0.7,) and raw.type == "bar"
    # kappa and raw agreement live on different x axes, and only kappa's carries the bands
    assert (weighted.xaxis, kappa.xaxis, raw.xaxis) == ("x", "x", "x2")
    assert fig.layout.xaxis.range == (-0.2, 1.0) and fig.layout.xaxis2.tickformat == ".0%"
    assert {s.xref for s in fig.layout.shapes} == {"x"}
    bands = [a.text for a in fig.layout.annotations if a.yref == "y domain"]
    assert bands == ["poor", "slight", "fair", "moderate", "substantial", "almost perfect"]


def test_agreement_on_fewer_than_eleven_cases_is_not_drawn() -> None:
    conc = pl.DataFrame(
        {
            "specialty": ["spine"],
            "n": [8],
            "kappa": [0.45],
            "kappa_ci_low": [0.1],
            "kappa_ci_high": [0.8],
            "raw_agreement": [0.7],
        }
    )
    fig = figures.agreement_figure(_safe("concordance", conc), "spine")
    assert len(fig.data) == 0 and "fewer than 11" in fig.layout.annotations[0].text


COST = pl.DataFrame(
    {
        "specialty": ["spine", "urology", "cardiology", "all"],
        "n_cases": [400, 6, 300, 706],
        "gross_avoided": [4e6, 5e4, 3e6, 7.05e6],
        "gross_ci_low": [3.5e6, 1e4, 2.5e6, 6.5e6],
        "gross_ci_high": [4.5e6, 9e4, 3.5e6, 7.6e6],
        "program_cost": [3e5, 4.5e3, 2.25e5, 5.3e5],
        "net_avoided": [3.7e6, 4.5e4, 2.775e6, 6.52e6],
        "net_ci_low": [3.2e6, 5e3, 2.3e6, 6e6],
        "net_ci_high": [4.2e6, 8.5e4, 3.3e6, 7e6],
        "per_case_net": [9250.0, 7500.0, 9250.0, 9235.0],
        "per_case_ci_low": [8000.0, 800.0, 7600.0, 8500.0],
        "per_case_ci_high": [10500.0, 14000.0, 11000.0, 9900.0],
        "roi": [12.3, 10.0, 12.3, 12.3],
        "roi_ci_low": [10.7, 1.0, 10.2, 11.3],
        "roi_ci_high": [14.0, 19.0, 14.7, 13.2],
        "n_verified": [150, 2, 100, 252],
        "realized_avoided": [1.2e6, 1e4, 9e5, 2.11e6],
        "realized_ci_low": [1e6, 0.0, 7e5, 1.8e6],
        "realized_ci_high": [1.4e6, 2e4, 1.1e6, 2.4e6],
        "verified_net": [9e5, 5.5e3, 6.75e5, 1.58e6],
        "verified_ci_low": [7e5, -4.5e3, 4.75e5, 1.27e6],
        "verified_ci_high": [1.1e6, 1.55e4, 8.75e5, 1.87e6],
        "n_closed_cohort": [400, 6, 300, 706],
    }
)


def test_cost_figure_puts_projected_beside_verified_with_intervals_and_hides_small_specialties() -> None:
    safe = _safe("cost_impact", COST)
    fig = figures.cost_figure(safe.filter(pl.col("specialty") != "all"))
    assert [t.name for t in fig.data] == [
        "Projected gross",
        "Projected net of fee",
        "Verified gross",
        "Verified net of fee",
    ]
    gross, net, verified, verified_net = fig.data
    # urology (6 cases) and its complement (cardiology, the next smallest) are hidden
    assert list(gross.x) == ["Spine"]
    assert gross.y == (4e6,) and gross.error_y.array == pytest.approx((5e5,))
    assert net.y == (3.7e6,) and net.error_y.arrayminus == pytest.approx((5e5,))
    assert verified.y == (1.2e6,) and verified.error_y.array == pytest.approx((2e5,))
    # the verified net charges the fee for the whole closed cohort, with its own interval
    assert verified_net.y == (9e5,) and verified_net.error_y.array == pytest.approx((2e5,))
    assert fig.layout.yaxis.tickprefix == "$"


def test_tornado_sorts_assumptions_by_swing_with_low_and_high_bars() -> None:
    sens = pl.DataFrame(
        {
            "specialty": ["all"] * 4,
            "assumption": ["prices", "prices", "program_fee", "program_fee"],
            "scenario": ["low", "high", "low", "high"],
            "setting": ["-20%", "+20%", "$500", "$1,000"],
            "net_avoided": [8e6, 12e6, 10.2e6, 9.6e6],
            "base_net_avoided": [10e6] * 4,
            "delta": [-2e6, 2e6, 2e5, -4e5],
        }
    )
    fig = figures.tornado_figure(sens, "all")
    low, high = fig.data
    # widest swing on top, assumptions in words
    assert low.orientation == "h" and list(low.y) == ["Fee per review", "Prices"]
    assert list(low.x) == [2e5, -2e6] and list(high.x) == [-4e5, 2e6]
    # each bar is labelled with its change in short money; the setting is in the hover
    assert list(low.text) == ["+$200k", "-$2.00M"] and list(high.text) == ["-$400k", "+$2.00M"]
    assert high.customdata[0].startswith("$1,000<br>net $9,600,000")
    assert fig.layout.xaxis.title.text == "Change in net cost avoided (base $10.0M)"


def test_targeting_figure_draws_lift_and_cumulative_lift_by_decile() -> None:
    targeting = pl.DataFrame(
        {
            "decile": [1, 2, 3],
            "n": [100, 100, 100],
            "mean_score": [0.9, 0.5, 0.1],
            "observed_change_rate": [0.8, 0.5, 0.2],
            "lift": [1.6, 1.0, 0.4],
            "cumulative_lift": [1.6, 1.3, 1.0],
        }
    ).with_columns(n_suppressed=pl.lit(False))
    fig = figures.targeting_figure(targeting)
    lift, cumulative = fig.data
    assert list(lift.x) == [1, 2, 3] and list(lift.y) == [1.6, 1.0, 0.4]
    assert list(cumulative.y) == [1.6, 1.3, 1.0]


def test_empty_inputs_give_a_labelled_empty_chart_not_an_error() -> None:
    empty_rates = _safe("outcome_rates", RATES.clear())
    for fig in (
        figures.outcome_mix_figure(empty_rates, ["spine"]),
        figures.trend_figure(RATES.clear().with_columns(month=pl.lit(None, dtype=pl.Date)), "all"),
        figures.sankey_figure(
            pl.DataFrame(
                schema={
                    "specialty": pl.String,
                    "source": pl.String,
                    "target": pl.String,
                    "outcome": pl.String,
                    "n": pl.Int64,
                }
            ),
            "spine",
        ),
        figures.tornado_figure(
            pl.DataFrame(
                schema={
                    "specialty": pl.String,
                    "assumption": pl.String,
                    "scenario": pl.String,
                    "setting": pl.String,
                    "net_avoided": pl.Float64,
                    "base_net_avoided": pl.Float64,
                    "delta": pl.Float64,
                }
            ),
            "all",
        ),
    ):
        assert len(fig.data) == 0
        assert fig.layout.annotations and fig.layout.annotations[0].text


def test_funnels_never_draw_the_pooled_other_row_as_a_reviewer() -> None:
    small = pl.DataFrame({"reviewer_id": ["s1", "s2", "s3"], "n": [9, 10, 8], "n_changed": [5, 5, 4]})
    frame = pl.concat([_reviewers(), small], how="diagonal_relaxed").with_columns(
        specialty=pl.lit("spine"), change_rate=pl.col("n_changed") / pl.col("n")
    )
    safe = _safe("reviewer_variation", frame)
    other = safe.filter(pl.col("reviewers_folded").is_not_null())
    assert other["n"].to_list() == [32]  # r1 and the three small reviewers, pooled and shown
    for fig in (figures.funnel_figure(safe, "spine"), figures.oe_funnel_figure(safe, "spine")):
        plotted = [x for t in fig.data if t.mode == "markers" for x in t.x]
        assert 32 not in plotted and plotted, plotted


def test_hover_text_shows_a_reviewer_label_as_text_never_as_markup() -> None:
    frame = _reviewers().with_columns(
        reviewer_id=pl.Series(["r1", "r2", '<a href="https://evil.example">r3</a>', "r4", "r5"]),
        n_suppressed=pl.lit(False),
    )
    fig = figures.funnel_figure(frame, "spine")
    hovers = [h for t in fig.data if t.mode == "markers" for h in t.customdata]
    assert any("&lt;a href=&quot;https://evil.example&quot;&gt;r3&lt;/a&gt;" in h for h in hovers)
    assert not any("<a href" in h for h in hovers)


def test_the_rules_chart_says_when_it_shows_only_the_top_rules() -> None:
    rules = pl.DataFrame(
        {
            "record_type": ["opinions"] * 25,
            "field": [f"f{i}" for i in range(25)],
            "rule": ["required"] * 25,
            "n_rows": [100 + i for i in range(24)] + [None],
        }
    )
    fig = figures.rules_figure(rules, top=20)
    assert fig.layout.title.text == "Quarantined rows by rule: top 20 of 25"
    assert len(fig.data[0].x) == 20 and max(fig.data[0].x) == 123
    assert figures.rules_figure(rules.head(5)).layout.title.text == "Quarantined rows by rule"
