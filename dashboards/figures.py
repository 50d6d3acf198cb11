"""Plotly figure builders: one function per chart, each taking an already-suppressed mart frame.

Builders never suppress anything themselves: pages pass them the frames of `publication.publish`, the
same frames the tables and CSV downloads are written from, so a chart cannot show what its
table hides. Hidden values arrive as nulls and are simply not drawn; hover text says so.

Every figure has a title, axis titles with units, hover text, and outcome colours from
`palette` so an outcome has one colour on every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from dashboards.formatting import (
    assumption_names,
    html_escape,
    money_short,
    money_text,
    number_text,
    outcome_colours,
    outcome_names,
    pct_text,
    specialty_names,
    words,
)
from dashboards.palette import (
    FLAG_COLOURS,
    FLAG_SYMBOLS,
    GRID,
    HEADLINE_OUTCOMES,
    INK,
    LIMIT_95,
    LIMIT_998,
    MUTED,
    OUTCOMES,
    PROJECTED,
    VERIFIED,
    WARNING,
    outcome_colour,
    outcome_label,
    specialty_label,
)
from dashboards.suppression import DEFAULT_THRESHOLD, count_text, primary_label
from pipelines.lib.stats import funnel_limits, oe_limits
from pipelines.lib.vocabulary import FLAG_ORDER, FLAG_WITHIN

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

# A small template of our own: Plotly's default template adds ~8 kB of JSON to every figure.
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": FONT, "size": 14, "color": INK},
        "title": {"x": 0, "xanchor": "left", "font": {"size": 17}},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 70, "r": 30, "t": 60, "b": 60},
        "hoverlabel": {"font": {"family": FONT, "size": 13}, "align": "left"},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        # the standoff keeps the first x label clear of the lowest y label at the origin
        "xaxis": {
            "gridcolor": GRID,
            "linecolor": MUTED,
            "zerolinecolor": GRID,
            "automargin": True,
            "ticklabelstandoff": 6,
        },
        "yaxis": {"gridcolor": GRID, "linecolor": MUTED, "zerolinecolor": GRID, "automargin": True},
    }
)

SUPPRESSED_HOVER = "suppressed (small cell)"
ALL_SUPPRESSED = "Every cell of this chart is suppressed (fewer than 11 cases, or needed to protect one)"


def _figure(title: str, x_title: str, y_title: str, **layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title},
        xaxis_title={"text": x_title},
        yaxis_title={"text": y_title},
        **layout,
    )
    return fig


def _empty_note(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(
        text=text,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        font={"size": 15, "color": MUTED},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _rate_hover(df: pl.DataFrame, threshold: int) -> list[str]:
    """Per-cell hover text for a rate with its Wilson interval and counts."""
    text = df.select(
        pl.when(pl.col("rate").is_null())
        .then(
            pl.lit(SUPPRESSED_HOVER)
            + pl.lit(" · n ")
            + count_text("n", threshold).fill_null("?")
            + pl.lit(" of ")
            + count_text("total", threshold, thousands=True).fill_null("?")
        )
        .otherwise(
            pct_text(pl.col("rate"))
            + pl.lit(" (95% CI ")
            + pl.coalesce(pct_text(pl.col("ci_low")), pl.lit("?"))
            + pl.lit(" – ")
            + pl.coalesce(pct_text(pl.col("ci_high")), pl.lit("?"))
            + pl.lit(")<br>n = ")
            + count_text("n", threshold, thousands=True)
            + pl.lit(" of ")
            + count_text("total", threshold, thousands=True)
        )
        .alias("t")
    )
    return text["t"].to_list()


def outcome_mix_figure(
    rates: pl.DataFrame,
    specialties: Sequence[str],
    *,
    title: str = "Outcome mix by specialty",
    threshold: int = DEFAULT_THRESHOLD,
) -> go.Figure:
    """Grouped bars of each outcome's share with Wilson 95% error bars.

    With several specialties the x axis is the specialty and each outcome is a trace; with one
    specialty the x axis is the outcome. Either way each outcome is one trace in its colour.
    """
    single = len(specialties) == 1
    fig = _figure(title, "Outcome" if single else "Specialty", "Share of reviewed cases (%)")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    sub = rates.filter(pl.col("specialty").is_in(list(specialties)))
    if sub.is_empty():
        return _empty_note(fig, "No outcome rates in this run")
    if sub["rate"].is_null().all():
        return _empty_note(fig, ALL_SUPPRESSED)
    order = {s: i for i, s in enumerate(specialties)}
    sub = sub.with_columns(_o=pl.col("specialty").replace_strict(order, default=len(order))).sort("_o")
    for outcome in OUTCOMES:
        part = sub.filter(pl.col("outcome") == outcome)
        if part.is_empty():
            continue
        rate = part["rate"].to_list()
        hi = part.select((pl.col("ci_high") - pl.col("rate")).clip(0).alias("e"))["e"].to_list()
        lo = part.select((pl.col("rate") - pl.col("ci_low")).clip(0).alias("e"))["e"].to_list()
        x = [outcome_label(outcome)] if single else part.select(specialty_names())["specialty"].to_list()
        fig.add_trace(
            go.Bar(
                name=outcome_label(outcome),
                x=x,
                y=rate,
                marker={"color": outcome_colour(outcome)},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": hi,
                    "arrayminus": lo,
                    "color": INK,
                    "thickness": 1.2,
                    "width": 3,
                },
                customdata=_rate_hover(part, threshold),
                hovertemplate="<b>%{x}</b> · " + outcome_label(outcome) + "<br>%{customdata}<extra></extra>",
                offsetgroup="outcomes" if single else None,
            )
        )
    fig.update_layout(barmode="group", bargap=0.2, bargroupgap=0.05)
    return fig


def trend_figure(
    monthly: pl.DataFrame,
    specialty: str = "all",
    outcomes: Sequence[str] = HEADLINE_OUTCOMES,
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> go.Figure:
    """Monthly share of each headline outcome; hidden months leave a gap in the line."""
    fig = _figure(
        f"Monthly trend — {specialty_label(specialty)}", "Month of opinion", "Share of reviewed cases (%)"
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    sub = monthly.filter(pl.col("specialty") == specialty).sort("month")
    if sub.is_empty():
        return _empty_note(fig, "No monthly rates in this run")
    if sub.filter(pl.col("outcome").is_in(list(outcomes)))["rate"].is_null().all():
        return _empty_note(fig, ALL_SUPPRESSED)
    for outcome in outcomes:
        part = sub.filter(pl.col("outcome") == outcome)
        if part.is_empty():
            continue
        fig.add_trace(
            go.Scatter(
                name=outcome_label(outcome),
                x=part["month"].to_list(),
                y=part["rate"].to_list(),
                mode="lines+markers",
                line={"color": outcome_colour(outcome), "width": 2.5},
                marker={"size": 6},
                connectgaps=False,
                customdata=_monthly_hover(part, threshold),
                hovertemplate="%{x|%b %Y} · " + outcome_label(outcome) + "<br>%{customdata}<extra></extra>",
            )
        )
    return fig


def _monthly_hover(part: pl.DataFrame, threshold: int) -> list[str]:
    return part.select(
        pl.when(pl.col("rate").is_null())
        .then(pl.lit(SUPPRESSED_HOVER))
        .otherwise(
            pct_text(pl.col("rate"))
            + pl.lit("<br>n = ")
            + count_text("n", threshold, thousands=True)
            + pl.lit(" of ")
            + count_text("total", threshold, thousands=True)
        )
        .alias("t")
    )["t"].to_list()


P_CHART_TRACES = 5  # rate, centre line, UCL, LCL, signals — per outcome


def p_chart_figure(
    monthly: pl.DataFrame,
    specialty: str,
    *,
    default_outcome: str = "confirmed",
    threshold: int = DEFAULT_THRESHOLD,
) -> go.Figure:
    """Monthly p-chart: the outcome's share per month, centre line and 3-sigma limits.

    One set of five traces per outcome; buttons switch the outcome shown (the confirmed share
    by default). Points outside the limits are marked as signals.
    """
    # no x title: the months read as months, and the legend sits where it would be
    fig = _figure(f"Monthly p-chart — {specialty_label(specialty)}", "", "Share of reviewed cases (%)")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    sub = monthly.filter(pl.col("specialty") == specialty).sort("month")
    present = [o for o in OUTCOMES if not sub.filter(pl.col("outcome") == o).is_empty()]
    if not present:
        return _empty_note(fig, "No monthly rates in this run")
    if sub["rate"].is_null().all():
        return _empty_note(fig, ALL_SUPPRESSED)
    shown = default_outcome if default_outcome in present else present[0]
    for outcome in present:
        part = sub.filter(pl.col("outcome") == outcome)
        months = part["month"].to_list()
        visible = outcome == shown
        colour = outcome_colour(outcome)
        fig.add_trace(
            go.Scatter(
                name=f"{outcome_label(outcome)} share",
                x=months,
                y=part["rate"].to_list(),
                mode="lines+markers",
                line={"color": colour, "width": 2.5},
                marker={"size": 7},
                visible=visible,
                connectgaps=False,
                customdata=_monthly_hover(part, threshold),
                hovertemplate="%{x|%b %Y}<br>%{customdata}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                name="Centre line",
                x=months,
                y=part["center_line"].to_list(),
                mode="lines",
                line={"color": INK, "dash": "dash", "width": 1.5},
                visible=visible,
                hovertemplate="centre %{y:.1%}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                name="Upper limit (3σ)",
                x=months,
                y=part["ucl"].to_list(),
                mode="lines",
                line_shape="hvh",
                line={"color": MUTED, "dash": "dot", "width": 1.5},
                visible=visible,
                hovertemplate="upper limit %{y:.1%}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                name="Lower limit (3σ)",
                x=months,
                y=part["lcl"].to_list(),
                mode="lines",
                line_shape="hvh",
                line={"color": MUTED, "dash": "dot", "width": 1.5},
                visible=visible,
                hovertemplate="lower limit %{y:.1%}<extra></extra>",
            )
        )
        signals = part.filter(pl.col("signal").fill_null(False))
        fig.add_trace(
            go.Scatter(
                name="Signal (outside 3σ)",
                x=signals["month"].to_list(),
                y=signals["rate"].to_list(),
                mode="markers",
                marker={"color": WARNING, "size": 13, "symbol": "circle-open", "line": {"width": 2.5}},
                visible=visible,
                hovertemplate="%{x|%b %Y}: %{y:.1%} is outside the 3σ limits<extra></extra>",
            )
        )
    notes = {o: _suppressed_series_note(sub.filter(pl.col("outcome") == o), o, threshold) for o in present}
    buttons = []
    for i, outcome in enumerate(present):
        vis = [j // P_CHART_TRACES == i for j in range(len(present) * P_CHART_TRACES)]
        buttons.append(
            {
                "label": outcome_label(outcome),
                "method": "update",
                "args": [
                    {"visible": vis},
                    {"annotations": notes[outcome]},
                ],
            }
        )
    # the menu sits alone in the top margin, left; the legend is below the plot, where a wrapped
    # legend cannot reach the menu at any width
    fig.update_layout(
        updatemenus=[
            {
                "type": "dropdown",
                "buttons": buttons,
                "active": present.index(shown),
                "x": 0.0,
                "xanchor": "left",
                "y": 1.02,
                "yanchor": "bottom",
                "showactive": True,
            }
        ],
        annotations=notes[shown],
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.14, "yanchor": "top"},
        margin={"t": 56, "b": 40},
    )
    return fig


def _suppressed_series_note(part: pl.DataFrame, outcome: str, threshold: int) -> list[dict[str, object]]:
    """The in-place message of a menu choice whose months are (nearly) all hidden: without it,
    an outcome with every month suppressed draws an empty frame and one with a single month a
    lone dot, and either reads as a broken chart."""
    shown = int(part["rate"].is_not_null().sum())
    months = part.height
    if shown >= 2:
        return []
    why = f"<br>(fewer than {threshold} cases, or hidden to protect such a month)"
    label = outcome_label(outcome)
    head = "every month is" if shown == 0 else f"{months - 1} of {months} months are"
    text = f"{label}: {head} suppressed{why}"
    return [
        {
            "text": text,
            "showarrow": False,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
            "font": {"size": 14, "color": MUTED},
            "bgcolor": "rgba(255,255,255,0.85)",
        }
    ]


def sankey_figure(flows: pl.DataFrame, specialty: str, *, threshold: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Flows from the first recommendation's procedure family to the second opinion's.

    Hidden (small) flows are left out; node sizes are the sums of the flows drawn.
    """
    fig = _figure(f"From first to second recommendation — {specialty_label(specialty)}", "", "")
    sub = flows.filter((pl.col("specialty") == specialty) & pl.col("n").is_not_null() & (pl.col("n") > 0))
    if sub.is_empty():
        return _empty_note(fig, f"No flows of {threshold} or more cases to show")
    # nodes: first recommendations (left), then second-opinion families or outcomes (right)
    sources = sub.select(pl.col("source").unique(maintain_order=True))
    targets = sub.group_by("target", maintain_order=True).agg(
        n_outcomes=pl.col("outcome").n_unique(), outcome=pl.col("outcome").first()
    )
    src_index = dict(zip(sources["source"].to_list(), range(sources.height), strict=True))
    tgt_index = dict(
        zip(targets["target"].to_list(), range(sources.height, sources.height + targets.height), strict=True)
    )
    node_labels = pl.concat(
        [
            sources.select(
                (pl.lit("First: ") + outcome_names("source")).alias("label"), pl.lit(MUTED).alias("colour")
            ),
            # a target reached by one outcome takes its colour; one reached by several stays neutral
            targets.select(
                (pl.lit("Second: ") + outcome_names("target")).alias("label"),
                pl.when(pl.col("n_outcomes") == 1)
                .then(outcome_colours())
                .otherwise(pl.lit("#BBBBBB"))
                .alias("colour"),
            ),
        ]
    )
    links = sub.select(
        pl.col("source").replace_strict(src_index).alias("s"),
        pl.col("target").replace_strict(tgt_index).alias("t"),
        "n",
        outcome_colours(alpha=0.45).alias("colour"),
        outcome_names().alias("label"),
    )
    fig.add_trace(
        go.Sankey(
            arrangement="snap",
            node={
                "label": node_labels["label"].to_list(),
                "color": node_labels["colour"].to_list(),
                "pad": 18,
                "thickness": 18,
                "line": {"color": "white", "width": 0.5},
                "hovertemplate": "%{label}<br>%{value:,} cases in the flows shown<extra></extra>",
            },
            link={
                "source": links["s"].to_list(),
                "target": links["t"].to_list(),
                "value": links["n"].to_list(),
                "color": links["colour"].to_list(),
                "customdata": links["label"].to_list(),
                "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} cases · outcome %{customdata}<extra></extra>",
            },
        )
    )
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _flag_points(fig: go.Figure, sub: pl.DataFrame, x: str, y: str, flag_col: str) -> None:
    """One marker trace per flag present, in the vocabulary's order, coloured and shaped by flag."""
    for flag in FLAG_ORDER:
        part = sub.filter(pl.col(flag_col) == flag)
        if part.is_empty():
            continue
        fig.add_trace(
            go.Scatter(
                name=flag[:1].upper() + flag[1:],
                x=part[x].to_list(),
                y=part[y].to_list(),
                mode="markers",
                marker={
                    "color": FLAG_COLOURS[flag],
                    "size": 9 if flag == FLAG_WITHIN else 12,
                    "symbol": FLAG_SYMBOLS[flag],
                    "line": {
                        "color": FLAG_COLOURS[flag] if "open" in FLAG_SYMBOLS[flag] else "white",
                        "width": 1.5,
                    },
                },
                customdata=part["_hover"].to_list(),
                hovertemplate="%{customdata}<extra></extra>",
            )
        )


def _shown_reviewers(reviewers: pl.DataFrame, specialty: str, sort: str) -> pl.DataFrame:
    """The funnel's units: reviewers shown, never the pooled "other" row (reviewers with too few
    cases, folded together by the publication layer; it has no limits of its own)."""
    unit = ~pl.col("n_suppressed")
    if "reviewers_folded" in reviewers.columns:
        unit &= pl.col("reviewers_folded").is_null()
    return reviewers.filter((pl.col("specialty") == specialty) & unit).sort(sort)


def funnel_figure(reviewers: pl.DataFrame, specialty: str) -> go.Figure:
    """Funnel plot of the raw change rate: each reviewer's share of cases changed against cases
    reviewed, with exact binomial 95% and 99.8% limits around the specialty rate (Spiegelhalter
    2005), not adjusted for case mix. Suppressed reviewers (fewer than 11 cases, or hidden as
    complements) are not drawn; colours and symbols follow the mart's `raw_flag` (in words)."""
    fig = _figure(
        f"Unadjusted change rates — {specialty_label(specialty)}", "Cases reviewed (n)", "Change rate (%)"
    )
    fig.update_yaxes(tickformat=".0%")
    sub = _shown_reviewers(reviewers, specialty, "n")
    if sub.is_empty():
        return _empty_note(fig, "No reviewer with 11 or more cases")
    flag_col = "raw_flag" if "raw_flag" in sub.columns else "flag"
    spread = sub.select(
        lo=pl.min_horizontal(pl.col("change_rate"), pl.col("lower_998")).min(),
        hi=pl.max_horizontal(pl.col("change_rate"), pl.col("upper_998")).max(),
    )
    lo, hi = spread["lo"][0], spread["hi"][0]
    if lo is not None and hi is not None:
        fig.update_yaxes(range=[max(0.0, lo - 0.05), min(1.0, hi + 0.05) + 0.01])
    rate_values = sub["specialty_rate"].drop_nulls()
    if rate_values.len():
        rate = float(rate_values[0])
        n_min, n_max = (int(cast(int, x)) for x in (sub["n"].min(), sub["n"].max()))
        grid = np.unique(np.round(np.geomspace(max(n_min, 1), max(n_max * 1.05, 2), 160)))
        for coverage, name, colour, dash in (
            (0.998, "99.8% limits", LIMIT_998, "dash"),
            (0.95, "95% limits", LIMIT_95, "dot"),
        ):
            low, high = funnel_limits(np.full(grid.shape, rate), grid, coverage)
            _limit_lines(fig, grid, low, high, name, colour, dash)
        fig.add_hline(
            y=rate,
            line={"color": INK, "width": 1.5},
            annotation_text=f"specialty rate {rate:.1%}",
            annotation_position="bottom right",
        )
    hover = sub.select(
        (
            pl.lit("<b>")
            + html_escape(pl.col("reviewer_id"))
            + pl.lit("</b><br>n = ")
            + pl.col("n").cast(pl.String)
            + pl.lit("<br>change rate ")
            + pct_text(pl.col("change_rate"))
            + pl.lit("<br>")
            + pl.col(flag_col)
            + pl.lit(" (unadjusted)")
        ).alias("t")
    )["t"]
    _flag_points(fig, sub.with_columns(_hover=hover), "n", "change_rate", flag_col)
    return fig


def _limit_lines(
    fig: go.Figure, grid: np.ndarray, low: np.ndarray, high: np.ndarray, name: str, colour: str, dash: str
) -> None:
    for i, y in enumerate((high, low)):
        fig.add_trace(
            go.Scatter(
                name=name,
                x=grid.tolist(),
                y=y.tolist(),
                mode="lines",
                legendgroup=name,
                showlegend=i == 0,
                line={"color": colour, "dash": dash, "width": 1.8},
                hovertemplate=f"{name} at %{{x:,.1f}}: %{{y:.2f}}<extra></extra>",
            )
        )


def oe_funnel_figure(reviewers: pl.DataFrame, specialty: str) -> go.Figure:
    """Funnel plot of observed / expected changes against expected changes, the case mix taken
    into account, with 95% and 99.8% limits widened by the specialty's between-reviewer variance
    tau^2 (Spiegelhalter 2005; DerSimonian-Laird).

    Each point is flagged against its own limits (the mart's `flag`). The lines are drawn for the
    specialty's average case: V = r E with r = sum V / sum E over the reviewers shown, so a point
    near a line may sit a hair to either side of its own limit; the table gives each reviewer's."""
    fig = _figure(
        f"Reviewers against their case mix — {specialty_label(specialty)}",
        "Expected changes given the cases reviewed (E)",
        "Observed / expected changes (O/E)",
    )
    sub = _shown_reviewers(reviewers, specialty, "expected")
    sub = sub.filter(pl.col("o_e").is_not_null() & pl.col("expected").is_not_null())
    if sub.is_empty():
        return _empty_note(fig, "No reviewer with 11 or more cases")
    tau2 = float(sub["tau2"].fill_null(0.0)[0])
    ratio = float(sub["variance"].sum()) / float(sub["expected"].sum())
    e_min, e_max = float(cast(float, sub["expected"].min())), float(cast(float, sub["expected"].max()))
    grid = np.geomspace(max(e_min * 0.9, 0.5), max(e_max * 1.05, 1.0), 160)
    for coverage, name, colour, dash in (
        (0.998, "99.8% limits", LIMIT_998, "dash"),
        (0.95, "95% limits", LIMIT_95, "dot"),
    ):
        low, high = oe_limits(grid, ratio * grid, tau2, coverage)
        _limit_lines(fig, grid, low, high, name, colour, dash)
    fig.add_hline(
        y=1.0,
        line={"color": INK, "width": 1.5},
        annotation_text="as expected (O/E = 1)",
        annotation_position="top left",
    )
    top = float(cast(float, sub.select(pl.max_horizontal("o_e", "o_e_upper_998").max()).item()))
    fig.update_yaxes(range=[0.0, max(2.0, top * 1.08)])
    fig.update_xaxes(type="log")
    hover = sub.select(
        (
            pl.lit("<b>")
            + html_escape(pl.col("reviewer_id"))
            + pl.lit("</b><br>n = ")
            + pl.col("n").cast(pl.String)
            + pl.lit("<br>observed ")
            + pl.col("observed").cast(pl.String)
            + pl.lit(", expected ")
            + number_text(pl.col("expected"), 1)
            + pl.lit("<br>O/E ")
            + number_text(pl.col("o_e"))
            + pl.lit(" (95% CI ")
            + number_text(pl.col("o_e_ci_low"))
            + pl.lit("–")
            + number_text(pl.col("o_e_ci_high"))
            + pl.lit(")<br>")
            + pl.col("flag")
        ).alias("t")
    )["t"]
    _flag_points(fig, sub.with_columns(_hover=hover), "expected", "o_e", "flag")
    return fig


def turnaround_figure(
    distribution: pl.DataFrame,
    specialty: str,
    *,
    median_days: float | None = None,
    p90_days: float | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> go.Figure:
    """Histogram of days from referral to opinion, with the median and 90th percentile marked.

    Bins are the mart's upper edges; suppressed bins are drawn as a marker on the axis."""
    fig = _figure(
        f"Turnaround — {specialty_label(specialty)}",
        "Days from referral to opinion (bin upper edge)",
        "Cases",
    )
    sub = distribution.filter(pl.col("specialty") == specialty).sort("days")
    if sub.is_empty():
        return _empty_note(fig, "No turnaround data in this run")
    if sub["n"].is_null().all():
        return _empty_note(fig, ALL_SUPPRESSED)
    edges = sub["days"].to_list()
    idx = list(range(len(edges)))
    day, prev = pl.col("days").cast(pl.Int64), pl.col("days").cast(pl.Int64).shift(1)
    shown = sub.with_columns(
        _i=pl.int_range(pl.len()),
        _label=pl.when(prev.is_null())
        .then(pl.lit("≤") + day.cast(pl.String))
        .when(day - prev > 1)
        .then((prev + 1).cast(pl.String) + pl.lit("–") + day.cast(pl.String))
        .otherwise(day.cast(pl.String)),
    )
    labels = shown["_label"].to_list()
    visible = shown.filter(pl.col("n").is_not_null())
    fig.add_trace(
        go.Bar(
            name="Cases",
            x=visible["_i"].to_list(),
            y=visible["n"].to_list(),
            marker={"color": PROJECTED},
            customdata=visible["_label"].to_list(),
            hovertemplate="%{customdata} days: %{y:,} cases<extra></extra>",
        )
    )
    hidden = shown.filter(pl.col("n").is_null())
    if not hidden.is_empty():
        marks = hidden.select(count_text("n", threshold).alias("m"))["m"].to_list()
        fig.add_trace(
            go.Scatter(
                name=f"Suppressed bin ({primary_label(threshold)} or complement)",
                x=hidden["_i"].to_list(),
                y=[0] * hidden.height,
                mode="markers+text",
                text=marks,
                textposition="top center",
                marker={"symbol": "x-thin-open", "size": 10, "color": MUTED, "line": {"width": 2}},
                customdata=hidden["_label"].to_list(),
                hovertemplate="%{customdata} days: suppressed<extra></extra>",
            )
        )
    for value, name, dash in ((median_days, "Median", "dash"), (p90_days, "90th percentile", "dot")):
        if value is None:
            continue
        pos = _bin_position(edges, value)
        fig.add_vline(
            x=pos,
            line={"color": WARNING if name == "Median" else INK, "dash": dash, "width": 2},
            annotation_text=f"{name}: {value:g} days",
            annotation_position="top right",
        )
    fig.update_xaxes(tickmode="array", tickvals=idx, ticktext=labels)
    fig.update_layout(bargap=0.1)
    return fig


def _bin_position(edges: Sequence[float], value: float) -> float:
    """Where a day count falls on the bin-index axis (linear within its bin)."""
    lower = 0.0
    for i, edge in enumerate(edges):
        if value <= edge:
            width = max(edge - lower, 1e-9)
            return i - 0.5 + (value - lower) / width
        lower = edge
    return len(edges) - 0.5


LANDIS_KOCH = (
    (-1.0, 0.0, "poor"),
    (0.0, 0.2, "slight"),
    (0.2, 0.4, "fair"),
    (0.4, 0.6, "moderate"),
    (0.6, 0.8, "substantial"),
    (0.8, 1.0, "almost perfect"),
)


def _kappa_marker(
    name: str, value: float, low: float | None, high: float | None, colour: str, symbol: str
) -> go.Scatter:
    err = {
        "type": "data",
        "symmetric": False,
        "array": [max(high - value, 0)] if high is not None else [0],
        "arrayminus": [max(value - low, 0)] if low is not None else [0],
        "color": INK,
        "thickness": 1.5,
        "width": 8,
    }
    interval = f" (95% CI {low:.2f} – {high:.2f})" if low is not None and high is not None else ""
    return go.Scatter(
        name=f"{name} (95% CI)",
        x=[value],
        y=[name],
        mode="markers",
        error_x=err,
        marker={"color": colour, "size": 14, "symbol": symbol},
        hovertemplate=f"{name} = {value:.2f}{interval}<extra></extra>",
    )


def agreement_figure(concordance: pl.DataFrame, specialty: str) -> go.Figure:
    """Linearly weighted and Cohen's kappa with their intervals on the Landis & Koch (1977) bands,
    and raw agreement on an axis of its own: a share of cases is not a kappa, so it is not drawn
    over the kappa bands."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.12)
    fig.update_layout(
        template=TEMPLATE,
        title={"text": f"Agreement of first and second opinion — {specialty_label(specialty)}"},
    )
    row = concordance.filter(pl.col("specialty") == specialty)
    if row.is_empty() or row["kappa"].is_null().all():
        return _empty_note(fig, "Agreement not shown (no data or fewer than 11 cases)")
    get = row.row(0, named=True)
    kappa, lo, hi, raw = (get.get(c) for c in ("kappa", "kappa_ci_low", "kappa_ci_high", "raw_agreement"))
    weighted = get.get("weighted_kappa")
    for i, (a, b, name) in enumerate(LANDIS_KOCH):
        # the bands belong to kappa only: shade the kappa panel, label them along its top
        fig.add_shape(
            type="rect",
            xref="x",
            yref="y domain",
            x0=max(a, -0.2),
            x1=b,
            y0=0,
            y1=1,
            layer="below",
            fillcolor="#EDEDED" if i % 2 else "#F7F7F7",
            line_width=0,
        )
        fig.add_annotation(
            x=(max(a, -0.2) + b) / 2,
            y=1.0,
            xref="x",
            yref="y domain",
            text=name,
            showarrow=False,
            yanchor="bottom",
            font={"size": 11, "color": MUTED},
        )
    markers = []
    if weighted is not None:
        markers.append(
            _kappa_marker(
                "Weighted κ",
                weighted,
                get.get("weighted_kappa_ci_low"),
                get.get("weighted_kappa_ci_high"),
                PROJECTED,
                "diamond",
            )
        )
    markers.append(_kappa_marker("Cohen's κ", float(cast(float, kappa)), lo, hi, INK, "circle"))
    for trace in markers:
        fig.add_trace(trace, row=1, col=1)
    if raw is not None:
        fig.add_trace(
            go.Bar(
                name="Raw agreement",
                x=[raw],
                y=["Same tier"],
                orientation="h",
                marker={"color": VERIFIED},
                hovertemplate=f"raw agreement {raw:.1%}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(range=[-0.2, 1.0], zeroline=True, title_text="κ (agreement beyond chance)", row=1, col=1)
    fig.update_xaxes(range=[0.0, 1.0], tickformat=".0%", title_text="Raw agreement (same tier)", row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_layout(height=300, showlegend=False, margin={"l": 110, "t": 80}, bargap=0.5)
    return fig


def _labels(frame: pl.DataFrame, label_col: str) -> list[str]:
    """Axis labels of a cost frame: specialty names, or segment values in words."""
    expr = specialty_names(label_col) if label_col == "specialty" else words(pl.col(label_col))
    # Plotly reads tick and hover text as HTML: a configured plan name is text, never markup
    return frame.select(html_escape(expr).alias("x"))["x"].to_list()


def cost_figure(
    cost: pl.DataFrame,
    label_col: str = "specialty",
    *,
    title: str = "Cost avoided: projected beside verified",
) -> go.Figure:
    """Projected (all cases) and verified (closed follow-up window) cost avoided, gross and net of
    the programme fee, with 95% bootstrap intervals where the mart has them."""
    fig = _figure(title, "", "US dollars")
    fig.update_yaxes(tickprefix="$", tickformat=",.0f")
    visible = cost.filter(pl.col("gross_avoided").is_not_null())
    if visible.is_empty():
        return _empty_note(fig, "No cost figures to show (no data or suppressed)")
    x = _labels(visible, label_col)
    series = (
        ("Projected gross", "gross_avoided", "gross_ci_low", "gross_ci_high", PROJECTED, ""),
        ("Projected net of fee", "net_avoided", "net_ci_low", "net_ci_high", PROJECTED, "/"),
        ("Verified gross", "realized_avoided", "realized_ci_low", "realized_ci_high", VERIFIED, ""),
        ("Verified net of fee", "verified_net", "verified_ci_low", "verified_ci_high", VERIFIED, "/"),
    )
    for name, col, lo_col, hi_col, colour, pattern in series:
        if col not in visible.columns:
            continue
        y = visible[col].to_list()
        error = None
        if lo_col and hi_col and lo_col in visible.columns:
            up = visible.select((pl.col(hi_col) - pl.col(col)).clip(0).alias("u"))["u"].to_list()
            down = visible.select((pl.col(col) - pl.col(lo_col)).clip(0).alias("d"))["d"].to_list()
            error = {
                "type": "data",
                "symmetric": False,
                "array": up,
                "arrayminus": down,
                "color": INK,
                "thickness": 1.2,
                "width": 3,
            }
        hover = visible.select(
            pl.when(pl.col(col).is_null())
            .then(pl.lit(SUPPRESSED_HOVER + " or not yet verifiable"))
            .otherwise(
                money_text(pl.col(col))
                + (
                    pl.lit(" (95% CI ")
                    + money_text(pl.col(lo_col or col))
                    + pl.lit(" – ")
                    + money_text(pl.col(hi_col or col))
                    + pl.lit(")")
                    if lo_col
                    else pl.lit("")
                )
            )
            .fill_null(SUPPRESSED_HOVER)
            .alias("h")
        )["h"].to_list()
        fig.add_trace(
            go.Bar(
                name=name,
                x=x,
                y=y,
                error_y=error,
                marker={
                    "color": colour,
                    "pattern": {"shape": pattern, "fgcolor": "white", "solidity": 0.3, "fillmode": "overlay"},
                },
                customdata=hover,
                hovertemplate="<b>%{x}</b> · " + name + "<br>%{customdata}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    return fig


def roi_figure(
    cost: pl.DataFrame, label_col: str = "specialty", *, title: str = "Return on programme cost"
) -> go.Figure:
    """ROI (net avoided per dollar of programme cost) with its 95% interval."""
    fig = _figure(title, "", "Net avoided per $1 of fee")
    visible = cost.filter(pl.col("roi").is_not_null())
    if visible.is_empty():
        return _empty_note(fig, "No ROI to show (no data or suppressed)")
    x = _labels(visible, label_col)
    up = visible.select((pl.col("roi_ci_high") - pl.col("roi")).clip(0).alias("u"))["u"].to_list()
    down = visible.select((pl.col("roi") - pl.col("roi_ci_low")).clip(0).alias("d"))["d"].to_list()
    hover = visible.select(
        (
            number_text(pl.col("roi"))
            + pl.lit(" (95% CI ")
            + number_text(pl.col("roi_ci_low"))
            + pl.lit(" – ")
            + number_text(pl.col("roi_ci_high"))
            + pl.lit(")")
        )
        .fill_null("")
        .alias("h")
    )["h"].to_list()
    fig.add_trace(
        go.Bar(
            name="ROI",
            x=x,
            y=visible["roi"].to_list(),
            marker={"color": PROJECTED},
            error_y={"type": "data", "symmetric": False, "array": up, "arrayminus": down, "color": INK},
            customdata=hover,
            hovertemplate="<b>%{x}</b><br>ROI %{customdata}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line={"color": INK, "width": 1})
    return fig


def tornado_figure(sensitivity: pl.DataFrame, specialty: str = "all") -> go.Figure:
    """Tornado chart: how far net cost avoided moves when each assumption goes low or high.

    Assumptions are sorted by the width of their swing, widest on top. Each bar carries only its
    change in short money ("+$4.2M"): the scenario's setting in words is in the hover and in the
    sensitivity table, since a sentence beside every bar overlaps its neighbours at page width.
    """
    sub = sensitivity.filter(pl.col("specialty") == specialty)
    base = sub["base_net_avoided"].drop_nulls() if "base_net_avoided" in sub.columns else pl.Series([])
    # short enough for the printed page's width: Plotly never wraps an axis title
    base_text = f" (base ${float(base[0]) / 1e6:,.1f}M)" if base.len() else ""
    fig = _figure(
        f"Sensitivity of net cost avoided — {specialty_label(specialty)}",
        f"Change in net cost avoided{base_text}",
        "",
    )
    fig.update_xaxes(tickprefix="$", tickformat=",.3s")
    if sub.is_empty():
        return _empty_note(fig, "No sensitivity analysis in this run (or suppressed)")
    swing = sub.group_by("assumption").agg(w=pl.col("delta").abs().max())
    sub = sub.join(swing, on="assumption").sort("w", "assumption")
    sub = sub.with_columns(_label=html_escape(assumption_names("assumption")))
    for scenario, colour, name in (("low", LIMIT_95, "Low scenario"), ("high", PROJECTED, "High scenario")):
        part = sub.filter(pl.col("scenario") == scenario)
        if part.is_empty():
            continue
        labels = part.select(
            (
                pl.when(pl.col("delta") > 0).then(pl.lit("+")).otherwise(pl.lit(""))
                + money_short(pl.col("delta"))
            )
            .fill_null("")
            .alias("t"),
            (
                html_escape(pl.col("setting"))
                + pl.lit("<br>net ")
                + money_text(pl.col("net_avoided"))
                + pl.lit(" (change ")
                + money_text(pl.col("delta"))
                + pl.lit(")")
            ).alias("h"),
        )
        fig.add_trace(
            go.Bar(
                name=name,
                y=part["_label"].to_list(),
                x=part["delta"].to_list(),
                orientation="h",
                marker={"color": colour},
                text=labels["t"].to_list(),
                textposition="outside",
                textangle=0,
                textfont={"size": 12},
                cliponaxis=False,
                customdata=labels["h"].to_list(),
                hovertemplate="<b>%{y}</b><br>%{customdata}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line={"color": INK, "width": 1.5})
    widest = float(cast(float, sub["delta"].abs().max()) or 1.0)
    fig.update_xaxes(range=[-1.3 * widest, 1.3 * widest])
    fig.update_layout(barmode="overlay")
    return fig


def targeting_figure(targeting: pl.DataFrame) -> go.Figure:
    """Lift of the change-propensity score by decile (1 = highest scores) and its cumulative lift."""
    fig = _figure(
        "Where reviews change most: lift by score decile",
        "Score decile (1 = highest)",
        "Lift (× average change rate)",
    )
    visible = targeting.filter(pl.col("lift").is_not_null()).sort("decile")
    if visible.is_empty():
        return _empty_note(fig, "No targeting scores in this run")
    hover = visible.select(
        (
            pl.lit("observed change rate ")
            + pct_text(pl.col("observed_change_rate"))
            + pl.lit("<br>mean score ")
            + number_text(pl.col("mean_score"))
        ).alias("h")
    )["h"].to_list()
    fig.add_trace(
        go.Bar(
            name="Lift",
            x=visible["decile"].to_list(),
            y=visible["lift"].to_list(),
            marker={"color": PROJECTED},
            customdata=hover,
            hovertemplate="decile %{x}: lift %{y:.2f}<br>%{customdata}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            name="Cumulative lift",
            x=visible["decile"].to_list(),
            y=visible["cumulative_lift"].to_list(),
            mode="lines+markers",
            line={"color": WARNING, "width": 2.5},
            hovertemplate="top %{x} deciles: cumulative lift %{y:.2f}<extra></extra>",
        )
    )
    fig.add_hline(y=1, line={"color": INK, "dash": "dash", "width": 1})
    fig.update_xaxes(dtick=1)
    return fig


DQ_STATUS_COLOURS = {
    "loaded": VERIFIED,
    "partial": LIMIT_95,
    "rejected": WARNING,
    "unparseable": "#CC79A7",
    "duplicate_file": "#56B4E9",
    "empty": MUTED,
}


def files_figure(files: pl.DataFrame) -> go.Figure:
    """Files by ingest status, stacked by record type's status colour."""
    fig = _figure("Landing files by status", "Record type", "Files")
    if files.is_empty():
        return _empty_note(fig, "No files in this run")
    for status in files["status"].unique(maintain_order=True).to_list():
        part = files.filter(pl.col("status") == status)
        fig.add_trace(
            go.Bar(
                name=status.replace("_", " ").capitalize(),
                x=part.select(words(pl.col("record_type")).alias("x"))["x"].to_list(),
                y=part["n_files"].to_list(),
                marker={"color": DQ_STATUS_COLOURS.get(status, MUTED)},
                hovertemplate="%{x}: %{y} file(s) " + status.replace("_", " ") + "<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(dtick=1 if int(cast(int, files["n_files"].max()) or 0) < 10 else None)
    return fig


def rows_figure(files: pl.DataFrame, *, threshold: int = DEFAULT_THRESHOLD) -> go.Figure:
    """Rows loaded, quarantined and duplicate per record type and file status (suppressed).

    Horizontal bars: the labels ("Follow ups · duplicate file") read level on the y axis, where
    on an x axis they would be turned and overlap one another at page width."""
    fig = _figure("Rows by outcome of ingest", "Rows (log scale)", "")
    if files.is_empty():
        return _empty_note(fig, "No files in this run")
    x = files.select(
        (words(pl.col("record_type")) + pl.lit(" · ") + pl.col("status").str.replace_all("_", " ")).alias("x")
    )["x"].to_list()
    for col, name, colour in (
        ("rows_loaded", "Loaded", VERIFIED),
        ("rows_quarantined", "Quarantined", WARNING),
        ("rows_duplicate", "Duplicate", "#56B4E9"),
    ):
        if col not in files.columns:
            continue
        hover = files.select(count_text(col, threshold, thousands=True).fill_null("0").alias("h"))[
            "h"
        ].to_list()
        fig.add_trace(
            go.Bar(
                name=name,
                y=x,
                # a log axis has no 0: each bar starts at 1 row (not at minus infinity, far off
                # the page) and spans base + x, so it ends at its count
                x=files.select((pl.col(col) - 1).clip(0))[col].to_list(),
                base=1,
                orientation="h",
                marker={"color": colour},
                customdata=hover,
                hovertemplate="%{y}<br>" + name + ": %{customdata}<extra></extra>",
            )
        )
    biggest = max(
        (
            float(cast(float, files[c].max()) or 1)
            for c in ("rows_loaded", "rows_quarantined", "rows_duplicate")
            if c in files.columns
        ),
        default=10.0,
    )
    fig.update_xaxes(
        type="log", range=[0, float(np.log10(max(biggest, 10.0))) + 0.2], dtick=1, tickformat=","
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode="group")
    return fig


def rules_figure(rules: pl.DataFrame, *, top: int = 20) -> go.Figure:
    """Quarantined rows by broken rule (a row can break several), largest first; small ones hidden."""
    shown = rules.filter(pl.col("n_rows").is_not_null())
    cut = f": top {top} of {rules.height}" if shown.height > top else ""
    fig = _figure(f"Quarantined rows by rule{cut}", "Rows", "")
    visible = shown.sort("n_rows", descending=True).head(top)
    if visible.is_empty():
        return _empty_note(fig, "No rule with 11 or more quarantined rows")
    visible = visible.sort("n_rows")
    y = visible.select(
        (pl.col("record_type") + pl.lit(".") + pl.col("field") + pl.lit(": ") + pl.col("rule")).alias("y")
    )["y"].to_list()
    fig.add_trace(
        go.Bar(
            name="Rows",
            y=y,
            x=visible["n_rows"].to_list(),
            orientation="h",
            marker={"color": WARNING},
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    fig.update_layout(margin={"l": 240}, showlegend=False)
    return fig
