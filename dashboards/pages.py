"""Page contents: which figures and tables each page carries, from the safe marts.

`SafeMarts` suppresses every mart once, up front, so all pages share the same hidden cells.
Each `*_page` function returns a `Page` (body HTML + the tables whose CSVs go beside it); a
missing or empty mart turns its section into a short "not in this run" note instead of an error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from string import Template
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from dashboards import figures, views
from dashboards.disclosure import DEFAULT_PROTECTION
from dashboards.formatting import DASH, money_text, number_text, pct_text, price_basis_names
from dashboards.palette import HEADLINE_OUTCOMES, outcome_colour, outcome_label, specialty_label
from dashboards.publication import ALL, publish, summary_count
from dashboards.suppression import DEFAULT_THRESHOLD, check_no_small_counts, count_text, primary_label
from dashboards.tables import Table, render_table
from pipelines.lib.vocabulary import SPECIALTIES

#: No mode bar: with the titles outside the charts it would sit over the legend, and every chart's
#: numbers are in the table (and its CSV) beside it. Zoom by dragging; double-click resets.
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}


def _get(marts: dict[str, pl.DataFrame], name: str) -> pl.DataFrame | None:
    frame = marts.get(name)
    return frame if frame is not None and not frame.is_empty() else None


@dataclass
class SafeMarts:
    """Every mart after suppression (None when missing or empty), plus what pages derive from them."""

    threshold: int
    rates: pl.DataFrame | None
    monthly: pl.DataFrame | None
    flows: pl.DataFrame | None
    reviewers: pl.DataFrame | None
    turnaround: pl.DataFrame | None
    distribution: pl.DataFrame | None
    concordance: pl.DataFrame | None
    cost: pl.DataFrame | None
    segments: pl.DataFrame | None
    sensitivity: pl.DataFrame | None
    targeting: pl.DataFrame | None
    dq_files: pl.DataFrame | None
    dq_rules: pl.DataFrame | None
    dq_checks: pl.DataFrame | None
    summary: dict[str, str]
    turnaround_quantiles: dict[str, tuple[float, float]]
    specialties: list[str]
    hidden_specialties: list[str] = field(default_factory=list)
    pending: int | None = None  # None when hidden or unknown
    pending_marker: str | None = None  # "<11" or "*" when hidden
    disclosure: dict[str, int | float | None] = field(default_factory=dict)
    cost_assumptions: pl.DataFrame | None = None
    cost_rates: pl.DataFrame | None = None
    provenance: pl.DataFrame | None = None
    waiting: pl.DataFrame | None = None


#: The count columns of each safe mart: what the last guard (check_no_small_counts) inspects.
COUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    "rates": ("n", "total"),
    "monthly": ("n", "total"),
    "flows": ("n",),
    "reviewers": ("n", "observed"),
    "turnaround": ("n",),
    "distribution": ("n",),
    "concordance": ("n", "n_no_tier"),
    "cost": ("n_cases", "n_verified", "n_closed_cohort", "unpriced_changes"),
    "segments": ("n_cases", "n_verified", "n_closed_cohort", "unpriced_changes"),
    "cost_rates": ("n_closed", "n_events", "n_no_claims"),
    "provenance": ("n", "total"),
    "targeting": ("n",),
    "dq_rules": ("n_rows",),
    "dq_files": ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"),
    "waiting": ("n_waiting", "n_orphans"),
}


def check_safe(safe: SafeMarts) -> None:
    """The last guard before anything is written: no count of 1 to threshold-1 left in any safe mart."""
    for name, cols in COUNT_COLUMNS.items():
        frame = getattr(safe, name)
        if frame is not None:
            cols = tuple(c for c in cols if c in frame.columns)
            try:
                check_no_small_counts(frame, cols, safe.threshold)
            except ValueError as exc:
                raise ValueError(f"refusing to publish: {name}: {exc}") from None


def make_safe(
    marts: dict[str, pl.DataFrame], threshold: int = DEFAULT_THRESHOLD, protection: int = DEFAULT_PROTECTION
) -> SafeMarts:
    """Every mart through the publication layer, decided together; the only place raw counts are read."""
    published = publish(marts, threshold, protection)
    f = published.frames
    summary_frame = _get(marts, "run_summary")
    summary = (
        dict(
            zip(summary_frame["metric"].cast(pl.String), summary_frame["value"].cast(pl.String), strict=True)
        )
        if summary_frame is not None and {"metric", "value"} <= set(summary_frame.columns)
        else {}
    )
    hidden = sorted(s for s in _specialties(marts) if published.hidden(f"t|{s}"))
    safe = SafeMarts(
        threshold=threshold,
        rates=f.get("outcome_rates"),
        monthly=f.get("outcome_rates_monthly"),
        flows=f.get("procedure_flows"),
        reviewers=f.get("reviewer_variation"),
        turnaround=f.get("turnaround"),
        distribution=f.get("turnaround_distribution"),
        concordance=f.get("concordance"),
        cost=f.get("cost_impact"),
        segments=f.get("cost_impact_segments"),
        sensitivity=f.get("cost_sensitivity"),
        cost_assumptions=f.get("cost_assumptions"),
        cost_rates=f.get("cost_rates"),
        provenance=f.get("outcome_provenance"),
        targeting=f.get("targeting"),
        dq_files=f.get("data_quality_files"),
        dq_rules=f.get("data_quality_rules"),
        dq_checks=_get(marts, "data_quality_checks"),
        waiting=f.get("data_quality_waiting"),
        summary=summary,
        turnaround_quantiles={
            k: v
            for k, v in _turnaround_quantiles(_get(marts, "turnaround_distribution"), threshold).items()
            if not published.hidden(f"t|{k}")
        },
        specialties=_specialties(marts),
        hidden_specialties=hidden,
        pending=None if published.hidden("pending") else summary_count(marts, "pending"),
        pending_marker=published.marker("pending"),
        disclosure=published.decision.summary(),
    )
    return safe


def _specialties(marts: dict[str, pl.DataFrame]) -> list[str]:
    """Specialties with any data, in the contract's order first, then any others alphabetically."""
    contract = list(SPECIALTIES)
    found: set[str] = set()
    for name in ("outcome_rates", "cost_impact", "reviewer_variation", "procedure_flows", "turnaround"):
        frame = _get(marts, name)
        if frame is not None and "specialty" in frame.columns:
            found |= set(frame["specialty"].drop_nulls().cast(pl.String).unique().to_list())
    found.discard(ALL)
    return [s for s in contract if s in found] + sorted(found - set(contract))


def _turnaround_quantiles(dist: pl.DataFrame | None, threshold: int) -> dict[str, tuple[float, float]]:
    """Median and 90th percentile (bin upper edges) of each specialty with enough cases."""
    if dist is None:
        return {}
    q = (
        dist.sort("specialty", "days")
        .with_columns(
            share=pl.col("n").cum_sum().over("specialty") / pl.col("n").sum().over("specialty"),
            total=pl.col("n").sum().over("specialty"),
        )
        .group_by("specialty")
        .agg(
            median=pl.col("days").filter(pl.col("share") >= 0.5).min(),
            p90=pl.col("days").filter(pl.col("share") >= 0.9).min(),
            total=pl.col("total").first(),
        )
        .filter(pl.col("total") >= threshold)
    )
    return {s: (float(m), float(p)) for s, m, p, _ in q.iter_rows()}


@dataclass
class Page:
    """One HTML page: file name, nav label, heading, body and the tables to write as CSV."""

    filename: str
    nav_label: str
    heading: str
    body: str
    tables: list[Table] = field(default_factory=list)
    scripts: str = ""


class PageBuilder:
    """Accumulates a page's HTML, numbering plot containers and collecting tables."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.parts: list[str] = []
        self.tables: list[Table] = []
        self.scripts: list[str] = []
        self._n = 0
        self._section = ""

    def html(self, text: str) -> None:
        self.parts.append(text)

    def section(self, title: str, intro: str = "", anchor: str = "") -> None:
        self._section = title
        anchor = anchor or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        self.parts.append(f'<h2 id="{anchor}">{escape(title)}</h2>')
        if intro:
            self.parts.append(f'<p class="section-intro">{intro}</p>')

    def figure(self, fig: go.Figure, caption: str = "", size: str = "") -> None:
        """A chart whose title is page text above it, not Plotly's: a wrapped legend grows up
        into the top margin, and over a Plotly title it would overlap (seen at 1024 px); as text
        the title wraps, prints and reads to a screen reader like the page's other headings."""
        self._n += 1
        div_id = f"{self.slug}-fig-{self._n}"
        title = fig.layout.title.text or ""
        fig = go.Figure(fig)
        fig.update_layout(title_text="")
        if fig.layout.margin.t is None:
            fig.update_layout(margin_t=24)  # the legend, when there is one, widens it as it needs
        spec = pio.to_json(fig, validate=False, pretty=False).replace("</", "<\\/")
        label = escape(title) if title else "chart"
        self.parts.append(
            '<figure class="chart">'
            + (
                f'<p class="chart-title" id="{div_id}-title">{escape(title)}</p>'
                if title and title.lower() != self._section.lower()
                else ""
            )
            + f'<div id="{div_id}" class="plot {size}" role="img" aria-label="{label}"></div>'
            + (f"<figcaption>{caption}</figcaption>" if caption else "")
            + "</figure>"
        )
        self.scripts.append(
            f'(function(){{var f={spec};Plotly.newPlot("{div_id}",f.data,f.layout,{json.dumps(PLOT_CONFIG)});}})();'
        )

    def table(self, table: Table) -> None:
        self.tables.append(table)
        self.parts.append(render_table(table))

    def missing(self, what: str) -> None:
        self.parts.append(
            f'<p class="missing">{escape(what)} is not available in this run (the mart is missing or empty).</p>'
        )

    def cards(self, cards: list[tuple[str, str, str, str]]) -> None:
        """(label, value, sub-line, colour) cards."""
        items = "".join(
            f'<div class="card" style="border-top-color:{colour}"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
            for label, value, sub, colour in cards
        )
        self.parts.append(f'<div class="cards">{items}</div>')

    def page(self, filename: str, nav_label: str, heading: str) -> Page:
        script = f"<script>\n{chr(10).join(self.scripts)}\n</script>" if self.scripts else ""
        return Page(filename, nav_label, heading, "\n".join(self.parts), self.tables, script)


def specialty_filename(specialty: str) -> str:
    """`specialty-<slug>.html`; the slug keeps only safe characters of a data-driven name."""
    return f"specialty-{re.sub(r'[^a-z0-9]+', '-', specialty.lower()).strip('-') or 'unknown'}.html"


def _first(frame: pl.DataFrame, expr: pl.Expr) -> Any:
    return frame.select(expr.alias("v"))["v"][0] if not frame.is_empty() else None


def _rate_card(rates: pl.DataFrame, specialty: str, outcome: str, t: int) -> tuple[str, str, str, str]:
    row = rates.filter((pl.col("specialty") == specialty) & (pl.col("outcome") == outcome))
    if row.is_empty():
        return (outcome_label(outcome), "—", "no data", outcome_colour(outcome))
    value = _first(row, pct_text(pl.col("rate")))
    sub = _first(
        row,
        pl.lit("95% CI ")
        + pct_text(pl.col("ci_low"))
        + pl.lit(" – ")
        + pct_text(pl.col("ci_high"))
        + pl.lit(" · n = ")
        + count_text("n", t, thousands=True),
    )
    if value is None:
        return (
            outcome_label(outcome),
            _first(row, count_text("n", t)) or "suppressed",
            "suppressed (small cell)",
            outcome_colour(outcome),
        )
    return (outcome_label(outcome), value, sub or "", outcome_colour(outcome))


def _cost_card(
    cost: pl.DataFrame | None, specialty: str, threshold: int = DEFAULT_THRESHOLD
) -> list[tuple[str, str, str, str]]:
    if cost is None:
        return []
    row = cost.filter(pl.col("specialty") == specialty)
    if row.is_empty() or row["net_avoided"][0] is None:
        return [("Net cost avoided", "—", "not available or suppressed", "#0072B2")]
    net = _first(row, money_text(pl.col("net_avoided")))
    ci = _first(
        row,
        pl.lit("95% CI ")
        + money_text(pl.col("net_ci_low"))
        + pl.lit(" – ")
        + money_text(pl.col("net_ci_high")),
    )
    roi = _first(row, number_text(pl.col("roi")))
    return [
        ("Net cost avoided (projected)", net, ci or "", "#0072B2"),
        *_verified_card(row, threshold),
        ("Return on programme cost", roi or "—", "net avoided per $1 of programme cost", "#009E73"),
    ]


def _verified_card(row: pl.DataFrame, threshold: int) -> list[tuple[str, str, str, str]]:
    """The verified headline beside the projected one: closed horizons only, every review's fee charged."""
    if "verified_net" not in row.columns:
        return []
    value = _first(row, money_text(pl.col("verified_net")))
    sub = _first(
        row,
        pl.lit("95% CI ")
        + money_text(pl.col("verified_ci_low"))
        + pl.lit(" – ")
        + money_text(pl.col("verified_ci_high"))
        + pl.lit(" · closed cohort of ")
        + count_text("n_closed_cohort", threshold, thousands=True),
    )
    if value is None:
        return [("Net cost avoided (verified)", "—", "no closed horizon yet, or suppressed", "#009E73")]
    return [
        (
            "Net cost avoided (verified)",
            value,
            sub or "closed horizons, every review's fee charged",
            "#009E73",
        )
    ]


def _verified_per_case_card(row: pl.DataFrame, threshold: int) -> list[tuple[str, str, str, str]]:
    """Verified net per case of the closed cohort, beside the projected net per case: the same
    basis (net of every review's fee, per reviewed case), on the cases whose horizon has closed."""
    if not {"verified_net", "n_closed_cohort"} <= set(row.columns):
        return []
    value = _first(
        row,
        pl.when(pl.col("n_closed_cohort") > 0).then(
            money_text(pl.col("verified_net") / pl.col("n_closed_cohort"))
        ),
    )
    if value is None:
        return [("Net per case (verified)", "—", "no closed horizon yet, or suppressed", "#009E73")]
    cohort = _first(row, count_text("n_closed_cohort", threshold, thousands=True)) or "—"
    return [("Net per case (verified)", value, f"over the closed cohort of {cohort} cases", "#009E73")]


def _assumption_cards(safe: SafeMarts) -> list[tuple[str, str, str, str]]:
    """The claims-through date and the deferred line, as the cost page's second row of cards."""
    cards = []
    if safe.cost_assumptions is not None:
        a = safe.cost_assumptions.filter(pl.col("specialty") == ALL)
        if not a.is_empty():
            through = a["claims_through"][0]
            cards.append(
                (
                    "Claims through",
                    str(through) if through is not None else "—",
                    str(a["claims_through_basis"][0] or ""),
                    "#777777",
                )
            )
    if safe.cost is not None and "deferred_avoided" in safe.cost.columns:
        row = safe.cost.filter(pl.col("specialty") == ALL)
        value = _first(row, money_text(pl.col("deferred_avoided")))
        if value is not None:
            cards.append(
                (
                    "Deferred savings (provisional)",
                    value,
                    "inside the projected gross; deferral may only delay surgery",
                    "#E69F00",
                )
            )
    return cards


def _month_range(monthly: pl.DataFrame | None) -> str:
    """'October 2024 to October 2026': the months of opinion the figures cover."""
    if monthly is None or monthly.is_empty():
        return ""
    first, last = monthly["month"].min(), monthly["month"].max()
    if not (isinstance(first, dt.date) and isinstance(last, dt.date)):
        return ""
    return f"{first:%B %Y} to {last:%B %Y}"


def _cost_basis_facts(safe: SafeMarts) -> list[str]:
    """What the money rests on, in a payer's words: the months covered, the claims-through date,
    the price basis with the share on estimated prices, whether the payer's prices were applied,
    and the baseline completion and leakage (the deferred line is a card above)."""
    facts = []
    covered = _month_range(safe.monthly)
    if covered:
        facts.append(f"<strong>Period:</strong> all time, opinions from {escape(covered)}.")
    a = (
        safe.cost_assumptions.filter(pl.col("specialty") == ALL)
        if safe.cost_assumptions is not None
        else None
    )
    if a is not None and not a.is_empty():
        row = a.row(0, named=True)
        facts.append(
            f"<strong>Claims through:</strong> {escape(str(row['claims_through'] or '—'))} "
            f"({escape(str(row['claims_through_basis'] or ''))}): a case's horizon counts as verified only "
            "when it closed by then."
        )
        basis = _first(a, price_basis_names(pl.col("price_basis_summary"))) or "—"
        share = row.get("share_estimated")
        estimated = (
            f" {share:.1%} of the projected gross rests on at least one <em>estimated</em> catalogue price "
            "(not a published Medicare payment, hospital cost or commercial price)."
            if share is not None
            else ""
        )
        facts.append(f"<strong>Prices:</strong> the projected gross rests on {escape(basis)}.{estimated}")
        payer = row.get("payer_priced_codes")
        if payer is not None:
            facts.append(
                f"<strong>Payer prices:</strong> applied to {int(payer):,} procedure codes (the payer's "
                "procedure_costs file replaces the catalogue and observed prices code by code)."
                if payer
                else "<strong>Payer prices:</strong> none supplied; a payer's own procedure_costs file "
                "would replace these prices code by code."
            )
    if safe.cost_rates is not None and not safe.cost_rates.is_empty():
        facts.append(
            "<strong>Baseline completion and leakage:</strong> the share of confirmed cases that go on to "
            "surgery (c) and, per changed outcome, the share that has the initial surgery anyway (l), observed "
            "in each specialty's closed-horizon claims where there are enough cases; their 95% intervals are "
            'carried into every interval on this page (<a href="#assumptions-in-force">table below</a>).'
        )
    return facts


def _sentence(text: object) -> str:
    """A table value as the start of a sentence: its first letter in capitals."""
    words = str(text or "")
    return words[:1].upper() + words[1:]


def _cost_assumptions_section(b: PageBuilder, safe: SafeMarts) -> None:
    """What the cost figures assume, with each basis: the claims-through date, prices, c and every l."""
    t = safe.threshold
    if safe.cost_assumptions is not None:
        overall = safe.cost_assumptions.filter(pl.col("specialty") == ALL)
        if not overall.is_empty():
            row = overall.row(0, named=True)
            unpriced = ""
            if safe.cost is not None and "unpriced_changes" in safe.cost.columns:
                text = _first(
                    safe.cost.filter(pl.col("specialty") == ALL),
                    count_text("unpriced_changes", t, thousands=True),
                )
                if text not in (None, "0"):
                    unpriced = (
                        f" {escape(str(text))} changed cases have no priced recommended code (for example a label read "
                        "from a narrative) and claim nothing: they are counted as unpriced changes."
                    )
            b.html(
                f'<p class="section-intro">Claims are complete through <strong>{escape(str(row["claims_through"] or "—"))}'
                f"</strong> ({escape(str(row['claims_through_basis'] or ''))}). Price basis of the projected gross: "
                f"{escape(str(row['price_basis_summary'] or '—'))}. {escape(_sentence(row['catalogue_price_years']))}."
                f"{unpriced}</p>"
            )
        b.table(
            views.cost_assumptions_table(
                safe.cost_assumptions, "cost-assumptions", "Assumptions in force by specialty"
            )
        )
    else:
        b.missing("Cost assumptions (marts.cost_assumptions)")
    if safe.cost_rates is not None:
        b.table(
            views.cost_rates_table(
                safe.cost_rates, "cost-rates", "Baseline completion and leakage in force", t
            )
        )


def overview_page(safe: SafeMarts, run_info: dict[str, Any]) -> Page:
    t = safe.threshold
    b = PageBuilder("overview")
    b.html(
        '<p class="intro">What second opinions changed: how often the recommended surgery was confirmed, changed to '
        "something less invasive or non-surgical, or deferred — by specialty, with 95% intervals — and what that is "
        "worth. Figures are aggregates of reviewed cases; pending cases are not in the rates.</p>"
    )
    cards = []
    if safe.rates is not None:
        total = safe.rates.filter(pl.col("specialty") == ALL)
        if not total.is_empty():
            cards.append(
                (
                    "Cases reviewed",
                    _first(total, count_text("total", t, thousands=True)) or "—",
                    f"all specialties · data up to {run_info.get('data_freshness', '—')}",
                    "#222222",
                )
            )
        cards += [_rate_card(safe.rates, ALL, o, t) for o in HEADLINE_OUTCOMES]
    cards += _cost_card(safe.cost, ALL, t)
    if ALL in safe.turnaround_quantiles:
        median, p90 = safe.turnaround_quantiles[ALL]
        cards.append(
            (
                "Turnaround",
                f"{median:.0f} days",
                f"median, referral to second opinion · 90% within {p90:.0f} days",
                "#555555",
            )
        )
    if cards:
        b.cards(cards)
    b.section(
        "Outcome mix by specialty",
        "Share of each specialty's reviewed cases by outcome; error bars are Wilson 95% intervals.",
    )
    if safe.rates is None:
        b.missing("Outcome rates (marts.outcome_rates)")
    else:
        shown = [s for s in safe.specialties if s not in safe.hidden_specialties]
        order = ([ALL] if not safe.rates.filter(pl.col("specialty") == ALL).is_empty() else []) + shown
        hidden = ", ".join(specialty_label(s) for s in safe.hidden_specialties)
        b.figure(
            figures.outcome_mix_figure(safe.rates, order, threshold=t),
            size="tall",
            caption=f"Not drawn, because their case counts are suppressed: {escape(hidden)}."
            if hidden
            else "",
        )
        b.table(
            views.outcome_rates_table(safe.rates, "overview-outcome-rates", "Outcome rates by specialty", t)
        )
    b.section(
        "Trend with control limits",
        "Each month's share of reviewed cases, all specialties, against the rate for the whole period "
        "(centre line) and 3-sigma limits for that month's number of cases; choose the outcome with the menu. "
        "A month outside the limits is a signal worth a look, not a verdict.",
    )
    if safe.monthly is None:
        b.missing("Monthly rates (marts.outcome_rates_monthly)")
    else:
        b.figure(figures.p_chart_figure(safe.monthly, ALL, threshold=t))
    b.section(
        "Net cost avoided",
        "Projected net cost avoided by specialty beside what follow-up claims have verified, "
        'with 95% bootstrap intervals. See <a href="cost.html">Cost impact</a> for payers\' detail.',
    )
    if safe.cost is None:
        b.missing("Cost impact (marts.cost_impact)")
    else:
        b.figure(
            figures.cost_figure(
                safe.cost.filter(pl.col("specialty") != ALL),
                title="Cost avoided by specialty: projected beside verified",
            )
        )
    b.section(
        "Reviewers beyond the limits",
        "How many reviewers in each specialty change plans more (or less) often than their case mix predicts, "
        "beyond the 99.8% limits widened for the ordinary spread between reviewers; each specialty page "
        "shows the funnel and the table.",
    )
    if safe.reviewers is None:
        b.missing("Reviewer variation (marts.reviewer_variation)")
    else:
        b.table(views.reviewer_flags_table(safe.reviewers, "overview-reviewer-flags", "Reviewers by flag"))
    if run_info.get("provenance") is not None:
        b.section(
            "What the rates rest on",
            "The share of each specialty's reviewed cases decided from structured fields (procedure codes, "
            "the coded recommendation), read from the narrative text (extraction, or the text classifier "
            "alone), or labelled by a person. Rates resting on text carry the text path's error; the "
            "methodology page gives its accuracy on people's labels.",
        )
        b.table(run_info["provenance"])
    b.section("Specialty pages")
    links = "".join(
        f'<li><a href="{specialty_filename(s)}">{escape(specialty_label(s))}</a></li>'
        for s in safe.specialties
    )
    b.html(
        f'<ul class="specialty-links">{links}</ul>'
        if links
        else '<p class="missing">No specialty has data in this run.</p>'
    )
    return b.page("index.html", "Overview", "Overview")


def specialty_page(safe: SafeMarts, specialty: str) -> Page:
    t = safe.threshold
    slug = re.sub(r"[^a-z0-9]+", "-", specialty.lower()).strip("-") or "unknown"
    b = PageBuilder(slug)
    label = specialty_label(specialty)

    def only(frame: pl.DataFrame | None) -> pl.DataFrame | None:
        if frame is None:
            return None
        sub = frame.filter(pl.col("specialty") == specialty)
        return None if sub.is_empty() else sub

    rates = only(safe.rates)
    if specialty in safe.hidden_specialties:
        b.html(
            f'<p class="missing">{escape(label)}: the number of reviewed cases is suppressed — it is below '
            f"{t}, or hiding it is needed so that a smaller specialty cannot be recovered from the overall total. "
            "Its charts and tables are therefore not published; its cases are still counted in “All "
            "specialties”.</p>"
        )
        return b.page(specialty_filename(specialty), label, label)
    if rates is not None:
        b.cards(
            [_rate_card(rates, specialty, o, t) for o in HEADLINE_OUTCOMES]
            + _cost_card(safe.cost, specialty, t)
        )
    b.section("Outcome mix")
    if rates is None:
        b.missing("Outcome rates for this specialty")
    else:
        b.figure(figures.outcome_mix_figure(rates, [specialty], title=f"Outcome mix — {label}", threshold=t))
        b.table(views.outcome_detail_table(rates, f"{slug}-outcomes", f"Outcomes — {label}", t))

    b.section(
        "Monthly p-chart",
        "Each month's share against the specialty's rate for the period (centre line) and "
        "3-sigma limits; choose the outcome with the menu. Points outside the limits are signals worth a look.",
    )
    monthly = only(safe.monthly)
    if monthly is None:
        b.missing("Monthly rates for this specialty")
    else:
        b.figure(figures.p_chart_figure(monthly, specialty, threshold=t))
        b.table(views.monthly_table(monthly, f"{slug}-monthly", f"Monthly outcome shares — {label}", t))

    b.section(
        "From first to second recommendation",
        "Procedure family of the first recommendation (left) to the "
        "second opinion's family or outcome (right). Flows of fewer than 11 cases are not drawn.",
    )
    flows = only(safe.flows)
    if flows is None:
        b.missing("Procedure flows for this specialty")
    else:
        b.figure(figures.sankey_figure(flows, specialty, threshold=t), size="tall")
        b.table(views.flows_table(flows, f"{slug}-flows", f"Flows — {label}", t))

    b.section(
        "Reviewer variation",
        "Each reviewer's observed changes (cases not confirmed) against the changes expected from the cases "
        "they were sent, known at referral: O/E above 1 means more changes than the case mix predicts. Points "
        "outside the funnel differ by more than chance and the ordinary spread between reviewers explain, at "
        "95% or 99.8%. A flag is a prompt to look at the cases, not a verdict.",
    )
    reviewers = only(safe.reviewers)
    if reviewers is None:
        b.missing("Reviewer variation for this specialty")
    else:
        if "o_e" in reviewers.columns:
            b.figure(
                figures.oe_funnel_figure(reviewers, specialty),
                caption=views.dispersion_caption(reviewers, specialty),
            )
        b.table(views.reviewers_table(reviewers, f"{slug}-reviewers", f"Reviewers — {label}"))
        b.figure(
            figures.funnel_figure(reviewers, specialty),
            caption="The raw view: change rates around the specialty's rate, not adjusted for case mix or for "
            "the spread between reviewers.",
            size="short",
        )

    b.section("Turnaround", "Days from referral to opinion, with the median and 90th percentile.")
    dist = only(safe.distribution)
    if dist is None:
        b.missing("Turnaround distribution for this specialty")
    else:
        median, p90 = safe.turnaround_quantiles.get(specialty, (None, None))
        b.figure(figures.turnaround_figure(dist, specialty, median_days=median, p90_days=p90, threshold=t))
        b.table(
            views.distribution_table(
                dist, f"{slug}-turnaround-distribution", f"Turnaround distribution — {label}", t
            )
        )
    turnaround = only(safe.turnaround)
    if turnaround is not None:
        b.table(
            views.turnaround_table(
                turnaround, f"{slug}-turnaround-monthly", f"Turnaround by month — {label}", t
            )
        )

    b.section(
        "Agreement",
        "Linearly weighted κ on the invasiveness tier of the first and second recommendations (a change of "
        "one tier counts as a near miss, of four as a full disagreement), Cohen's unweighted κ beside it, on "
        "the Landis &amp; Koch (1977) bands; raw agreement, a share of cases rather than a κ, on its own axis.",
    )
    conc = only(safe.concordance)
    if conc is None:
        b.missing("Agreement (marts.concordance) for this specialty")
    else:
        b.figure(figures.agreement_figure(conc, specialty), size="short")
        b.table(views.concordance_table(conc, f"{slug}-agreement", f"Agreement — {label}", t))

    b.section(
        "Cost avoided", "Projected for every classified case; verified once the follow-up window has closed."
    )
    cost = only(safe.cost)
    if cost is None:
        b.missing("Cost impact for this specialty")
    else:
        b.figure(figures.cost_figure(cost, title=f"Cost avoided — {label}: projected beside verified"))
        b.table(views.cost_table(cost, f"{slug}-cost", f"Cost impact — {label}", threshold=t))
    return b.page(specialty_filename(specialty), label, label)


def cost_page(safe: SafeMarts, run_info: dict[str, Any]) -> Page:
    t = safe.threshold
    b = PageBuilder("cost")
    b.html(
        '<p class="intro">For payers: gross cost avoided, the programme cost, net, return on programme cost and per-case '
        "figures — projected for every classified case and verified against follow-up claims — by specialty, payer "
        "type and plan, with 95% bootstrap intervals, and how the net moves when the assumptions move.</p>"
    )
    if safe.cost is not None:
        overall = safe.cost.filter(pl.col("specialty") == ALL)
        if not overall.is_empty():
            b.cards(
                [
                    (
                        "Gross avoided (projected)",
                        _first(overall, money_text(pl.col("gross_avoided"))) or "—",
                        _first(
                            overall,
                            pl.lit("95% CI ")
                            + money_text(pl.col("gross_ci_low"))
                            + pl.lit(" – ")
                            + money_text(pl.col("gross_ci_high")),
                        )
                        or "",
                        "#0072B2",
                    ),
                    (
                        "Programme cost",
                        _first(overall, money_text(pl.col("program_cost"))) or "—",
                        "reviews × fee",
                        "#777777",
                    ),
                    *_cost_card(safe.cost, ALL, t),
                    (
                        "Net per case (projected)",
                        _first(overall, money_text(pl.col("per_case_net"))) or "—",
                        _first(
                            overall,
                            pl.lit("95% CI ")
                            + money_text(pl.col("per_case_ci_low"))
                            + pl.lit(" – ")
                            + money_text(pl.col("per_case_ci_high")),
                        )
                        or "",
                        "#56B4E9",
                    ),
                    *_verified_per_case_card(overall, t),
                    (
                        "Verified gross",
                        _first(overall, money_text(pl.col("realized_avoided"))) or "—",
                        _first(
                            overall,
                            pl.lit("on ")
                            + count_text("n_verified", t, thousands=True)
                            + pl.lit(" cases with closed follow-up"),
                        )
                        or "",
                        "#009E73",
                    ),
                ]
            )
    extra = _assumption_cards(safe)
    if extra:
        b.cards(extra)
    facts = _cost_basis_facts(safe)
    if facts:
        b.section("What the figures rest on")
        b.html('<ul class="facts">' + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    b.section("By specialty")
    if safe.cost is None:
        b.missing("Cost impact (marts.cost_impact)")
    else:
        by_spec = safe.cost.filter(pl.col("specialty") != ALL)
        b.figure(figures.cost_figure(by_spec, title="Cost avoided by specialty: projected beside verified"))
        b.figure(figures.roi_figure(by_spec, title="Return on programme cost by specialty"), size="short")
        b.table(views.cost_table(safe.cost, "cost-by-specialty", "Cost impact by specialty", threshold=t))
    b.section("By payer type and plan")
    if safe.segments is None:
        b.missing("Cost by segment (marts.cost_impact_segments)")
    else:
        payer = safe.segments.filter(pl.col("dimension") == "payer_type")
        if not payer.is_empty():
            b.figure(
                figures.cost_figure(
                    payer, "segment", title="Cost avoided by payer type: projected beside verified"
                )
            )
            b.table(
                views.cost_table(
                    payer, "cost-by-payer-type", "Cost impact by payer type", "segment", "Payer type", t
                )
            )
        plans = safe.segments.filter(pl.col("dimension") == "plan_id").sort(
            "n_cases", descending=True, nulls_last=True
        )
        if not plans.is_empty():
            b.table(
                views.cost_table(
                    plans, "cost-by-plan", "Cost impact by plan", "segment", "Plan", t, max_rows=100
                )
            )
    b.section(
        "Sensitivity to assumptions",
        "Net cost avoided when one assumption at a time moves to its low or high "
        "setting; the widest swings matter most.",
    )
    if safe.sensitivity is None or safe.sensitivity.is_empty():
        b.missing("Sensitivity analysis (marts.cost_sensitivity)")
    else:
        spec = (
            ALL
            if not safe.sensitivity.filter(pl.col("specialty") == ALL).is_empty()
            else safe.sensitivity["specialty"][0]
        )
        b.figure(figures.tornado_figure(safe.sensitivity, spec))
        b.table(views.sensitivity_table(safe.sensitivity, "cost-sensitivity", "Sensitivity by specialty"))
    b.section(
        "Targeting",
        "Cases ranked by the change-propensity model: how much more often reviews in the top deciles "
        "changed the recommendation than on average.",
    )
    if safe.targeting is None:
        b.missing("Targeting deciles (marts.targeting)")
    else:
        b.figure(figures.targeting_figure(safe.targeting))
        b.table(views.targeting_table(safe.targeting, "targeting", "Lift by score decile", t))
    b.section("Assumptions in force")
    _cost_assumptions_section(b, safe)
    # the run's configuration keys are on the methodology page: they mean nothing to a payer
    return b.page("cost.html", "Cost impact", "Cost impact (payers)")


def _settings(run_info: dict[str, Any], safe: SafeMarts) -> dict[str, Any]:
    settings = run_info.get("settings")
    if isinstance(settings, dict) and settings:
        return settings
    raw = safe.summary.get("settings")
    if raw:
        try:
            parsed = json.loads(raw)
            return parsed if isinstance(parsed, dict) else {"settings": raw}
        except json.JSONDecodeError:
            return {"settings": raw}
    return {}


def data_quality_page(safe: SafeMarts) -> Page:
    t = safe.threshold
    b = PageBuilder("dq")
    b.html(
        '<p class="intro">What arrived and what was kept: landing files by status, rows loaded, quarantined (by the '
        "data-contract rule they broke) and duplicate, the asset checks of this run, and the cases that are not in "
        "the rates yet.</p>"
    )
    pending = safe.pending
    unclassified = "—"
    if safe.rates is not None:
        row = safe.rates.filter((pl.col("specialty") == ALL) & (pl.col("outcome") == "unclassified"))
        if not row.is_empty():
            unclassified = _first(row, count_text("n", t, thousands=True)) or "—"
    failed = "—"
    if safe.dq_checks is not None and "passed" in safe.dq_checks.columns:
        failed = (
            f"{safe.dq_checks.filter(~pl.col('passed').fill_null(False)).height} of {safe.dq_checks.height}"
        )
    b.cards(
        [
            (
                "Pending cases",
                safe.pending_marker or (f"{pending:,}" if pending is not None else "—"),
                "no opinion yet: not in the rates",
                "#E69F00",
            ),
            ("Unclassified cases", unclassified, "counted and shown, never dropped", "#999999"),
            ("Failed checks", failed, "asset checks of this run", "#D55E00"),
        ]
    )
    latest = (
        str(safe.dq_files["run_id"][0])
        if safe.dq_files is not None and "run_id" in safe.dq_files.columns and not safe.dq_files.is_empty()
        else ""
    )
    b.section(
        "Landing files of the latest run",
        f"The files the latest ingest (run <code>{escape(latest)}</code>) saw and what became of their rows. "
        "A re-run sees every file again and loads nothing from a file already ingested (same bytes): those "
        "rows count as duplicates of that run only."
        if latest
        else "",
        anchor="landing-files",
    )
    if safe.dq_files is None:
        b.missing("File audit (marts.data_quality_files)")
    else:
        b.figure(figures.files_figure(safe.dq_files), size="short")
        b.figure(figures.rows_figure(safe.dq_files, threshold=t))
        b.table(
            views.dq_files_table(safe.dq_files, "dq-files", "Files and rows by record type and status", t)
        )
    b.section("Quarantined rows by rule")
    if safe.dq_rules is None:
        b.missing("Quarantine reasons (marts.data_quality_rules)")
    else:
        b.figure(figures.rules_figure(safe.dq_rules))
        b.table(views.dq_rules_table(safe.dq_rules, "dq-rules", "Quarantined rows by rule", t))
    b.section("Opinions waiting for their case")
    if safe.waiting is None:
        b.missing("Waiting opinions (marts.data_quality_waiting)")
    else:
        b.cards(_waiting_cards(safe.waiting, t))
    b.section("Asset checks")
    if safe.dq_checks is None:
        b.missing("Asset-check results (marts.data_quality_checks)")
    else:
        b.table(views.dq_checks_table(safe.dq_checks, "dq-checks", "Asset checks of this run"))
    b.section("Disclosure control of this run")
    b.html(
        '<p class="section-intro">What the publication audit decided for everything on this site, '
        "tables, charts and downloads together (see the methodology page).</p>"
    )
    b.table(views.disclosure_table(safe.disclosure, "dq-disclosure", "Disclosure audit of this run"))
    return b.page("data-quality.html", "Data quality", "Data quality")


def _waiting_cards(waiting: pl.DataFrame, t: int) -> list[tuple[str, str, str, str]]:
    """Opinions staged before their case arrived: how many, the oldest, the orphans among them."""
    row = waiting.row(0, named=True)

    def shown(col: str) -> str:
        if row.get(col + "_primary"):
            return primary_label(t)
        if row[col] is None:
            return "*" if row.get(col + "_suppressed") and col == "n_waiting" else DASH
        return f"{row[col]:,}"

    oldest = row.get("oldest_waiting_days")
    return [
        ("Opinions waiting", shown("n_waiting"), "staged, their case not yet arrived", "#E69F00"),
        (
            "Oldest wait",
            f"{oldest:,} days" if oldest is not None else DASH,
            "since the opinion arrived",
            "#999999",
        ),
        (
            "Orphans",
            shown("n_orphans"),
            f"waiting more than {row.get('orphan_after_days') or '—'} days: check the case feed",
            "#D55E00",
        ),
    ]


def _as_polars(frame: Any) -> pl.DataFrame | None:
    """Reference frames may come as Polars, pandas or Arrow; anything else counts as missing."""
    if frame is None or isinstance(frame, pl.DataFrame):
        return frame
    try:
        converted = pl.from_pandas(frame) if hasattr(frame, "iloc") else pl.DataFrame(frame)
    except (TypeError, ValueError):
        return None
    return converted if isinstance(converted, pl.DataFrame) else None


def methodology_page(safe: SafeMarts, run_info: dict[str, Any]) -> Page:
    settings = _settings(run_info, safe)
    b = PageBuilder("method")
    text = resources.files("dashboards").joinpath("templates/methodology.html").read_text(encoding="utf-8")
    b.html(
        Template(text).safe_substitute(
            threshold=safe.threshold,
            max_small=safe.threshold - 1,
            fee=f"{float(settings.get('program_fee_usd', 750)):,.0f}",
            horizon=settings.get("horizon_months", 12),
            min_leak=settings.get("min_cases_observed", 30),
            runout=settings.get("claims_runout_days", 90),
            text_threshold=settings.get("text_model_threshold", 0.6),
            bootstrap=f"{int(settings.get('bootstrap_resamples', 1000)):,}",
            cusum_odds=f"{float(settings.get('cusum_odds_ratio', 2.0)):g}",
            cusum_arl=f"{int(settings.get('cusum_in_control_arl', 10_000)):,}",
            cusum_year=f"{300 / int(settings.get('cusum_in_control_arl', 10_000)):.0%}",
        )
    )
    b.section(
        "Price sources",
        "Reference prices of the procedure catalogue, with their basis, year and published source. "
        "A payer's own prices replace them code by code when supplied.",
    )
    prices = _as_polars(run_info.get("price_sources"))
    if prices is not None and not prices.is_empty():
        b.table(views.price_sources_table(prices, "price-sources", "Reference procedure prices"))
    else:
        b.missing("The price catalogue (reference.procedures)")
    pathways = _as_polars(run_info.get("pathways"))
    if pathways is not None and not pathways.is_empty():
        b.table(
            Table(
                "pathways",
                "Conservative pathways, work-ups and default leakage",
                pathways,
                pathways.with_columns(pl.all().cast(pl.String)),
                label_cols=pathways.width,
            )
        )
    if run_info.get("provenance") is not None:  # rule 5: what each rate rests on (dashboards/provenance.py)
        b.section(
            "What the rates rest on",
            "Reviewed cases per specialty by what decided their outcome: structured fields, the narrative read by "
            "extraction, the text classifier alone, or a person's label.",
        )
        b.table(run_info["provenance"])
    if settings:
        b.table(views.key_value_table(settings, "method-settings", "Settings of this run"))
    return b.page("methodology.html", "Methodology", "Methodology")
