"""Tables (CSV + HTML views) of each safe mart.

Kept apart from the page layout so each view is one small function: which columns a reader
sees, in which words, and what the download holds. Every function takes a safe frame from
`publication.publish`; counts become "<11"/"*" text, hidden measures stay empty.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dashboards.formatting import (
    DASH,
    assumption_names,
    money_short,
    money_text,
    number_text,
    outcome_names,
    pct_text,
    price_basis_names,
    range_text,
    specialty_names,
    words,
)
from dashboards.palette import OUTCOMES, outcome_label
from dashboards.publication import REALIZED_MEASURES, VERIFIED_MEASURES
from dashboards.suppression import DEFAULT_THRESHOLD, PRIMARY_SUFFIX, SUPPRESSED_SUFFIX, count_text
from dashboards.tables import Table
from pipelines.lib.vocabulary import FLAG_ORDER, FLAGS_BEYOND_95, FUNNEL_FLAGS, HEADLINE_OUTCOMES


def _drop_flags(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop([c for c in df.columns if c.endswith((PRIMARY_SUFFIX, SUPPRESSED_SUFFIX))])


def _ci(low: str, high: str, fmt) -> pl.Expr:
    return range_text(pl.col(low), pl.col(high), fmt)


def outcome_rates_table(
    rates: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    """Specialty rows x outcome columns, each cell "rate (n)"; CSV long with the intervals."""
    csv = _drop_flags(rates.with_columns(count_text("n", threshold), count_text("total", threshold)))
    cell = (
        pl.when(pl.col("rate").is_not_null())
        .then(
            pct_text(pl.col("rate")) + pl.lit(" (") + count_text("n", threshold, thousands=True) + pl.lit(")")
        )
        .otherwise(count_text("n", threshold, thousands=True))
    )
    long = rates.with_columns(_cell=cell, _total=count_text("total", threshold, thousands=True))
    wide = long.pivot(on="outcome", index=["specialty", "_total"], values="_cell")
    present = [o for o in OUTCOMES if o in wide.columns]
    html = wide.select(
        specialty_names().alias("Specialty"),
        pl.col("_total").alias("Cases reviewed"),
        *[pl.col(o).alias(outcome_label(o)) for o in present],
    )
    note = (
        f"Each cell: share of reviewed cases (cases). 95% Wilson intervals are in the CSV. "
        f"&lt;{threshold}: fewer than {threshold} cases; *: hidden so a small cell cannot be recovered from totals."
    )
    others = tuple(outcome_label(o) for o in present if o not in HEADLINE_OUTCOMES)
    details = (("More invasive, alternative and unclassified", others),) if others else ()
    return Table(slug, title, csv, html, note=note, details=details)


def outcome_detail_table(
    rates: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    """One specialty's outcomes, one per row, with the Wilson interval."""
    csv = _drop_flags(rates.with_columns(count_text("n", threshold), count_text("total", threshold)))
    html = rates.select(
        outcome_names().alias("Outcome"),
        count_text("n", threshold, thousands=True).alias("Cases"),
        pct_text(pl.col("rate")).alias("Share"),
        _ci("ci_low", "ci_high", pct_text).alias("95% CI (Wilson)"),
    )
    return Table(slug, title, csv, html)


def monthly_table(monthly: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD) -> Table:
    """Month rows x outcome share columns; CSV long with centre line, limits and signals."""
    csv = _drop_flags(monthly.with_columns(count_text("n", threshold), count_text("total", threshold))).sort(
        "specialty", "month", "outcome"
    )
    long = monthly.with_columns(
        _cell=pl.when(pl.col("rate").is_not_null())
        .then(
            pct_text(pl.col("rate"))
            + pl.when(pl.col("signal").fill_null(False)).then(pl.lit(" ▲")).otherwise(pl.lit(""))
        )
        .otherwise(count_text("n", threshold)),
        _total=count_text("total", threshold, thousands=True),
        _month=pl.col("month").cast(pl.String).str.slice(0, 7),
    )
    wide = long.pivot(on="outcome", index=["_month", "_total"], values="_cell").sort("_month")
    present = [o for o in OUTCOMES if o in wide.columns]
    html = wide.select(
        pl.col("_month").alias("Month"),
        pl.col("_total").alias("Cases"),
        *[pl.col(o).alias(outcome_label(o)) for o in present],
    )
    return Table(slug, title, csv, html, note="▲ outside the 3-sigma p-chart limits (signal).")


def flows_table(flows: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD) -> Table:
    csv = _drop_flags(flows.with_columns(count_text("n", threshold)))
    html = flows.sort("n", descending=True, nulls_last=True).select(
        words(pl.col("source")).alias("First recommendation"),
        words(pl.col("target")).alias("Second opinion"),
        outcome_names().alias("Outcome"),
        count_text("n", threshold, thousands=True).alias("Cases"),
    )
    return Table(slug, title, csv, html, label_cols=3)


def _cusum_text() -> pl.Expr:
    """The month each reviewer's CUSUM first signalled, in words; blank when it has not."""

    def month(col: str) -> pl.Expr:
        return pl.col(col).cast(pl.String).str.slice(0, 7)

    high = pl.lit("more changes than expected, first signalled ") + month("cusum_high_signal_month")
    low = pl.lit("fewer changes than expected, first signalled ") + month("cusum_low_signal_month")
    return (
        pl.when(
            pl.col("cusum_high_signal_month").is_not_null() & pl.col("cusum_low_signal_month").is_not_null()
        )
        .then(high + pl.lit("; ") + low)
        .when(pl.col("cusum_high_signal_month").is_not_null())
        .then(high)
        .when(pl.col("cusum_low_signal_month").is_not_null())
        .then(low)
        .otherwise(pl.lit("no signal"))
    )


def reviewers_table(reviewers: pl.DataFrame, slug: str, title: str, max_rows: int = 200) -> Table:
    """Only reviewers shown in the funnel; hidden ones are counted in the note, never listed.

    Cases, expected and observed changes, O/E with its 95% interval and the flag in words (against
    the limits widened for over-dispersion), the CUSUM's first signal, and the raw rate beside."""
    shown = reviewers.filter(~pl.col("n_suppressed"))
    hidden = reviewers.height - shown.height
    order = {flag: i for i, flag in enumerate(FLAG_ORDER)}
    shown = shown.with_columns(_o=pl.col("flag").replace_strict(order, default=len(order))).sort(
        "_o", "n", descending=[False, True]
    )
    csv = _drop_flags(shown.drop("_o"))
    cusum = "cusum_high_signal_month" in shown.columns and "cusum_low_signal_month" in shown.columns
    html = shown.select(
        pl.col("reviewer_id").alias("Reviewer"),
        words(pl.col("flag")).alias("Compared with case mix"),
        pl.col("n").cast(pl.String).alias("Cases"),
        pl.col("observed").cast(pl.String).alias("Observed changes"),
        number_text(pl.col("expected"), 1).alias("Expected changes"),
        number_text(pl.col("o_e")).alias("O/E"),
        _ci("o_e_lower_998", "o_e_upper_998", number_text).alias("O/E 99.8% limits"),
        _ci("o_e_ci_low", "o_e_ci_high", number_text).alias("O/E 95% CI"),
        *([_cusum_text().alias("Over time (CUSUM)")] if cusum else []),
        pct_text(pl.col("change_rate")).alias("Change rate"),
        words(pl.col("raw_flag")).alias("Change rate, unadjusted"),
    )
    details = (
        (
            "The reviewer's own interval, the CUSUM over time and the unadjusted rate",
            (
                "O/E 95% CI",
                *(["Over time (CUSUM)"] if cusum else []),
                "Change rate",
                "Change rate, unadjusted",
            ),
        ),
    )
    note = (
        f"{hidden} reviewer(s) not shown: fewer than 11 cases, or fewer than 11 changed or confirmed, or hidden so "
        "their count cannot be recovered from the specialty total. Expected changes come from each case's "
        "referral-time case mix; the limits are widened for the spread between reviewers (see the methodology)."
    )
    return Table(
        slug,
        title,
        csv,
        html,
        note=note,
        max_rows=max_rows,
        label_cols=2,
        text_cols=("Over time (CUSUM)", "Change rate, unadjusted"),
        details=details,
    )


def dispersion_caption(reviewers: pl.DataFrame, specialty: str) -> str:
    """What the specialty's phi and tau^2 mean, in a sentence or two for the funnel's caption."""
    sub = reviewers.filter((pl.col("specialty") == specialty) & pl.col("phi").is_not_null())
    if sub.is_empty():
        return "Too few reviewers with 11 or more cases to measure the spread between reviewers."
    row = sub.row(0, named=True)
    phi, p_value, tau2 = row["phi"], row["phi_p_value"], row["tau2"] or 0.0
    p_text = "p &lt; 0.001" if p_value is not None and p_value < 0.001 else f"p = {p_value:.3f}"
    if tau2 > 0:
        return (
            f"Reviewers differ more than chance allows: over-dispersion φ = {phi:.2f} ({p_text}; 1 means "
            f"chance alone). The limits add a between-reviewer variance τ² = {tau2:.4f}: reviewers' true "
            f"O/E spread around 1 with a standard deviation of about {np.sqrt(tau2):.2f} (±{np.sqrt(tau2):.0%}) "
            "for reasons the case mix does not explain, so a point is flagged only when it lies beyond that "
            "ordinary spread as well as chance."
        )
    return (
        f"Reviewers differ no more than chance allows (φ = {phi:.2f}, {p_text}; 1 means chance alone), "
        "so the limits are those of chance alone (τ² = 0)."
    )


def reviewer_flags_table(reviewers: pl.DataFrame, slug: str, title: str) -> Table:
    """Per specialty: reviewers shown, how many lie beyond the 99.8% (and 95%) O/E limits, and how
    many CUSUMs have signalled. Only reviewers already shown on the specialty pages are counted."""
    shown = reviewers.filter(~pl.col("n_suppressed"))
    has_cusum = "cusum_high_signal_month" in shown.columns
    frame = (
        shown.group_by("specialty")
        .agg(
            reviewers=pl.len(),
            higher_998=(pl.col("flag") == FUNNEL_FLAGS[2]).sum(),
            lower_998=(pl.col("flag") == FUNNEL_FLAGS[-2]).sum(),
            beyond_95=pl.col("flag").is_in(list(FLAGS_BEYOND_95)).sum(),
            raw_beyond_95=pl.col("raw_flag").is_in(list(FLAGS_BEYOND_95)).sum(),
            **(
                {
                    "cusum_signals": (
                        pl.col("cusum_high_signal_month").is_not_null()
                        | pl.col("cusum_low_signal_month").is_not_null()
                    ).sum()
                }
                if has_cusum
                else {}
            ),
        )
        .sort("specialty")
        .with_columns(pl.exclude("specialty").cast(pl.Int64))
    )
    html = frame.select(
        specialty_names().alias("Specialty"),
        pl.col("reviewers").cast(pl.String).alias("Reviewers shown"),
        pl.col("higher_998").cast(pl.String).alias("Higher than expected, beyond 99.8%"),
        pl.col("lower_998").cast(pl.String).alias("Lower than expected, beyond 99.8%"),
        pl.col("beyond_95").cast(pl.String).alias("Beyond 95% (either side)"),
        pl.col("raw_beyond_95").cast(pl.String).alias("Beyond 95%, unadjusted rate"),
        *([pl.col("cusum_signals").cast(pl.String).alias("CUSUM signals")] if has_cusum else []),
    )
    note = (
        "Counts of reviewers (not of patients) among those shown on the specialty pages. Compared with the "
        "changes their case mix predicts, with limits widened for the spread between reviewers; the "
        "unadjusted column is the raw change-rate funnel, for comparison."
    )
    return Table(slug, title, frame, html, note=note)


def turnaround_table(
    turnaround: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    csv = _drop_flags(turnaround.with_columns(count_text("n", threshold))).sort("specialty", "month")
    html = turnaround.sort("month").select(
        pl.col("month").cast(pl.String).str.slice(0, 7).alias("Month"),
        count_text("n", threshold, thousands=True).alias("Cases"),
        number_text(pl.col("median_days"), 1).alias("Median days"),
        number_text(pl.col("p90_days"), 1).alias("90th percentile days"),
    )
    return Table(slug, title, csv, html)


def distribution_table(
    dist: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    csv = _drop_flags(dist.with_columns(count_text("n", threshold))).sort("specialty", "days")
    html = dist.sort("days").select(
        pl.col("days").cast(pl.String).alias("Days (bin upper edge)"),
        count_text("n", threshold, thousands=True).alias("Cases"),
    )
    return Table(slug, title, csv, html)


def concordance_table(conc: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD) -> Table:
    """Weighted kappa first (the tiers are ordinal), Cohen's kappa beside it, raw agreement apart."""
    csv = _drop_flags(
        conc.with_columns(
            count_text("n", threshold),
            *([count_text("n_no_tier", threshold)] if "n_no_tier" in conc.columns else []),
        )
    )
    weighted = "weighted_kappa" in conc.columns
    band = pl.col("weighted_kappa") if weighted else pl.col("kappa")
    html = conc.select(
        specialty_names().alias("Specialty"),
        count_text("n", threshold, thousands=True).alias("Cases"),
        *(
            [
                number_text(pl.col("weighted_kappa")).alias("Weighted κ (linear)"),
                _ci("weighted_kappa_ci_low", "weighted_kappa_ci_high", number_text).alias("95% CI"),
            ]
            if weighted
            else []
        ),
        number_text(pl.col("kappa")).alias("Cohen's κ"),
        _ci("kappa_ci_low", "kappa_ci_high", number_text).alias("95% CI "),
        pct_text(pl.col("raw_agreement")).alias("Raw agreement"),
        landis_koch(band).alias("Landis & Koch band"),
        *(
            [count_text("n_no_tier", threshold, thousands=True).alias("Left out: no tier")]
            if "n_no_tier" in conc.columns
            else []
        ),
    )
    details = (
        (
            "Cohen's unweighted κ and the cases left out",
            tuple(c for c in ("Cohen's κ", "95% CI ", "Left out: no tier") if c in html.columns),
        ),
    )
    note = (
        "Both kappas use the same cases: those with a tier on both sides. Left out of both: deferred cases "
        "(no second plan yet) and unclassified cases (counted in the outcome table), and cases with no tier on "
        "one side (an unknown initial code, or a change with no catalogue code, such as a narrative that named "
        "no procedure). Weighted κ gives partial credit by tier distance; the band is read from it."
    )
    return Table(slug, title, csv, html, note=note, details=details, text_cols=("Landis & Koch band",))


def landis_koch(kappa: pl.Expr) -> pl.Expr:
    """Landis & Koch (1977) benchmark words for a kappa."""
    return (
        pl.when(kappa.is_null())
        .then(None)
        .when(kappa < 0)
        .then(pl.lit("poor"))
        .when(kappa <= 0.20)
        .then(pl.lit("slight"))
        .when(kappa <= 0.40)
        .then(pl.lit("fair"))
        .when(kappa <= 0.60)
        .then(pl.lit("moderate"))
        .when(kappa <= 0.80)
        .then(pl.lit("substantial"))
        .otherwise(pl.lit("almost perfect"))
    )


def cost_table(
    cost: pl.DataFrame,
    slug: str,
    title: str,
    label_col: str = "specialty",
    label: str = "Specialty",
    threshold: int = DEFAULT_THRESHOLD,
    max_rows: int | None = None,
) -> Table:
    """Gross, programme cost, net, per case, ROI — projected and verified — with intervals."""
    csv = _drop_flags(
        cost.with_columns(
            count_text("n_cases", threshold),
            *[
                count_text(c, threshold)
                for c in ("n_verified", "n_closed_cohort", "unpriced_changes")
                if c in cost.columns
            ],
        )
    )
    name = specialty_names(label_col) if label_col == "specialty" else pl.col(label_col).cast(pl.String)
    money = money_short
    cols = [
        name.alias(label),
        count_text("n_cases", threshold, thousands=True).alias("Cases"),
        money(pl.col("net_avoided")).alias("Net avoided (projected)"),
        _ci("net_ci_low", "net_ci_high", money).alias("95% CI "),
        number_text(pl.col("roi")).alias("ROI"),
        _ci("roi_ci_low", "roi_ci_high", number_text).alias("ROI 95% CI"),
    ]
    verified_net = all(c in cost.columns for c in ("n_closed_cohort", *VERIFIED_MEASURES))
    if verified_net:
        cols += [
            money(pl.col("verified_net")).alias("Verified net"),
            _ci("verified_ci_low", "verified_ci_high", money).alias("Verified net 95% CI"),
        ]
    projected = [
        money(pl.col("gross_avoided")).alias("Gross avoided (projected)"),
        _ci("gross_ci_low", "gross_ci_high", money).alias("95% CI"),
        money(pl.col("program_cost")).alias("Programme cost"),
        money_text(pl.col("per_case_net")).alias("Net per case"),
    ]
    if "deferred_avoided" in cost.columns:
        projected.append(money(pl.col("deferred_avoided")).alias("Deferred (provisional)"))
    if "unpriced_changes" in cost.columns:
        projected.append(count_text("unpriced_changes", threshold, thousands=True).alias("Unpriced changes"))
    verified = []
    if all(c in cost.columns for c in ("n_verified", *REALIZED_MEASURES)):
        verified += [
            count_text("n_verified", threshold, thousands=True).alias("Verified cases"),
            money(pl.col("realized_avoided")).alias("Verified gross"),
            _ci("realized_ci_low", "realized_ci_high", money).alias("Verified 95% CI"),
        ]
    if verified_net:
        verified.append(count_text("n_closed_cohort", threshold, thousands=True).alias("Closed cohort"))
    cols += projected + verified
    details = (
        ("Gross, programme cost, per case and deferred", tuple(e.meta.output_name() for e in projected)),
        *(
            (
                (
                    "Verified against claims: cases, gross and the closed cohort",
                    tuple(e.meta.output_name() for e in verified),
                ),
            )
            if verified
            else ()
        ),
    )
    html = cost.select(cols)
    note = (
        "Projected: every classified case, E0 (the first plan, completed at the baseline rate) minus E1 (the second "
        "plan plus leakage). Verified: cases whose horizon has closed by the claims-through date, E0 minus what the "
        "claims show was spent; the verified net charges the fee for every review of the closed cohort. Deferred "
        "savings are inside the projected gross and provisional. Unpriced changes claim nothing. ROI = net avoided / "
        "programme cost. Intervals: 95% bootstrap over cases, re-estimating the rates and observed prices."
    )
    return Table(slug, title, csv, html, note=note, max_rows=max_rows, details=details)


def sensitivity_table(sens: pl.DataFrame, slug: str, title: str) -> Table:
    html = sens.sort("specialty", "assumption", "scenario").select(
        specialty_names().alias("Specialty"),
        assumption_names().alias("Assumption"),
        words(pl.col("scenario")).alias("Scenario"),
        pl.col("setting").alias("Setting"),
        money_short(pl.col("net_avoided")).alias("Net avoided"),
        money_short(pl.col("base_net_avoided")).alias("Base net"),
        money_short(pl.col("delta")).alias("Change"),
    )
    return Table(slug, title, sens, html, label_cols=4, key_cols=3)


def targeting_table(
    targeting: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    csv = _drop_flags(targeting.with_columns(count_text("n", threshold)))
    html = targeting.sort("decile").select(
        pl.col("decile").cast(pl.String).alias("Decile"),
        count_text("n", threshold, thousands=True).alias("Cases"),
        number_text(pl.col("mean_score")).alias("Mean score"),
        pct_text(pl.col("observed_change_rate")).alias("Observed change rate"),
        number_text(pl.col("lift")).alias("Lift"),
        number_text(pl.col("cumulative_lift")).alias("Cumulative lift"),
    )
    return Table(slug, title, csv, html)


def dq_files_table(files: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD) -> Table:
    counts = [
        c for c in ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate") if c in files.columns
    ]
    csv = _drop_flags(files.with_columns(count_text(c, threshold) for c in counts))
    if "run_id" in csv.columns:  # every download carries the publishing run as run_id
        csv = csv.rename({"run_id": "ingest_run_id"})
    labels = {
        "rows_read": "Rows read",
        "rows_loaded": "Loaded",
        "rows_quarantined": "Quarantined",
        "rows_duplicate": "Duplicate",
    }
    html = files.select(
        words(pl.col("record_type")).alias("Record type"),
        words(pl.col("status")).alias("Status"),
        pl.col("n_files").cast(pl.String).alias("Files"),
        *[count_text(c, threshold, thousands=True).alias(labels[c]) for c in counts],
    )
    note = "File counts are counts of files, not of people, and are shown as they are; row counts are suppressed."
    return Table(slug, title, csv, html, label_cols=2, note=note)


def dq_rules_table(rules: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD) -> Table:
    csv = _drop_flags(rules.with_columns(count_text("n_rows", threshold)))
    html = rules.sort("n_rows", descending=True, nulls_last=True).select(
        words(pl.col("record_type")).alias("Record type"),
        pl.col("field").alias("Field"),
        words(pl.col("rule")).alias("Rule"),
        count_text("n_rows", threshold, thousands=True).alias("Rows"),
    )
    return Table(
        slug, title, csv, html, label_cols=3, note="A row can break several rules, so rows do not add up."
    )


def dq_checks_table(checks: pl.DataFrame, slug: str, title: str) -> Table:
    html = checks.sort("passed", "check_name").select(
        pl.col("check_name").alias("Check"),
        pl.col("asset").alias("Asset"),
        pl.when(pl.col("passed")).then(pl.lit("✔ passed")).otherwise(pl.lit("✘ failed")).alias("Result"),
        pl.col("severity").cast(pl.String).fill_null(DASH).alias("Severity"),
        pl.col("description").alias("What it checks"),
    )
    return Table(slug, title, checks, html, label_cols=5)


#: The disclosure audit's summary (Decision.summary) in words, in the order a reader asks.
DISCLOSURE_MEASURES = {
    "cells_published": "Counts published (cells in tables, charts and downloads)",
    "cells_protected": "Small counts (1 to threshold-1) protected",
    "cells_hidden_as_complements": "Counts hidden so that no small count can be worked out (*)",
    "cells_added_by_audit": "... of which the audit's integer program found and added",
    "narrowest_range": "Narrowest range a reader can narrow a small count to (cases)",
    "protection_interval": "Protection interval asked for (cases)",
    "cells_below_interval": "Small counts with nothing left to hide around them (still not exact)",
    "relations": "Relations between published counts taken into account",
    "relations_not_holding": "Relations that did not hold in the data (left out, see logs)",
    "audit_rounds": "Rounds of the audit",
}


def disclosure_table(summary: dict[str, int | float | None], slug: str, title: str) -> Table:
    """The publication audit's decision summary: one row per measure, in words."""
    rows = [(label, summary.get(k)) for k, label in DISCLOSURE_MEASURES.items() if k in summary]
    csv = pl.DataFrame(
        {
            "measure": [k for k in DISCLOSURE_MEASURES if k in summary],
            "value": [None if v is None else float(v) for _, v in rows],
        },
        schema={"measure": pl.String, "value": pl.Float64},
    )
    html = pl.DataFrame(
        {
            "What": [label for label, _ in rows],
            "Value": [DASH if v is None else f"{v:,.0f}" for _, v in rows],
        },
        schema={"What": pl.String, "Value": pl.String},
    )
    return Table(slug, title, csv, html)


def key_value_table(items: dict[str, object], slug: str, title: str, note: str = "") -> Table:
    frame = pl.DataFrame(
        {"setting": list(items), "value": [str(v) for v in items.values()]},
        schema={"setting": pl.String, "value": pl.String},
    )
    return Table(
        slug, title, frame, frame.rename({"setting": "Setting", "value": "Value"}), note=note, label_cols=2
    )


#: The catalogue's columns as a reader names them (reference.procedures -> the methodology page).
PRICE_COLUMNS = {
    "procedure_code": "Procedure code",
    "description": "Description",
    "specialty": "Specialty",
    "family": "Family",
    "tier": "Tier",
    "cost_usd": "Price",
    "cost_basis": "Price basis",
    "cost_year": "Price year",
    "cost_is_estimate": "Estimate",
    "cost_source": "Price source",
}


def price_sources_table(prices: pl.DataFrame, slug: str, title: str) -> Table:
    """The reference catalogue: code, family, tier and price first; each price's source behind a
    disclosure (long citations would push the table past the page)."""
    wanted = [c for c in PRICE_COLUMNS if c in prices.columns]
    frame = prices.select(wanted)
    shown = {
        "procedure_code": pl.col("procedure_code").cast(pl.String),
        "description": pl.col("description").cast(pl.String),
        "specialty": specialty_names(),
        "family": words(pl.col("family")),
        "tier": pl.col("tier").cast(pl.String),
        "cost_usd": money_text(pl.col("cost_usd")),
        "cost_basis": words(pl.col("cost_basis")),
        "cost_year": pl.col("cost_year").cast(pl.String),
        "cost_is_estimate": pl.when(pl.col("cost_is_estimate")).then(pl.lit("yes")).otherwise(pl.lit("no"))
        if "cost_is_estimate" in wanted and prices.schema["cost_is_estimate"] == pl.Boolean
        else pl.col("cost_is_estimate").cast(pl.String),
        "cost_source": pl.col("cost_source").cast(pl.String),
    }
    html = frame.select(shown[c].alias(PRICE_COLUMNS[c]) for c in wanted)
    text = tuple(PRICE_COLUMNS[c] for c in ("cost_basis", "cost_is_estimate", "cost_source") if c in wanted)
    details = (("Where each price comes from", ("Price source",)),) if "cost_source" in wanted else ()
    label_cols = sum(c in wanted for c in ("procedure_code", "description", "specialty", "family"))
    return Table(slug, title, frame, html, label_cols=label_cols, text_cols=text, details=details)


def cost_assumptions_table(assumptions: pl.DataFrame, slug: str, title: str) -> Table:
    """marts.cost_assumptions: the assumptions in force per specialty, with their bases."""
    html = assumptions.select(
        specialty_names().alias("Specialty"),
        pl.col("claims_through").cast(pl.String).fill_null(DASH).alias("Claims through"),
        pl.col("horizon_months").cast(pl.String).alias("Horizon (months)"),
        (
            number_text(pl.col("baseline_completion_used"), 3)
            + pl.lit(" (")
            + pl.col("baseline_basis").fill_null(DASH)
            + pl.lit(")")
        )
        .fill_null(DASH)
        .alias("Baseline completion c"),
        money_text(pl.col("conservative_cost_used")).fill_null(DASH).alias("Conservative pathway"),
        money_text(pl.col("workup_cost_used")).fill_null(DASH).alias("Work-up"),
        money_text(pl.col("program_fee_usd")).alias("Fee per review"),
        price_basis_names(pl.col("price_basis_summary")).alias("Price basis (share of gross)"),
    )
    note = (
        "Claims are complete up to the claims-through date; a horizon is closed when the opinion date plus the "
        "horizon falls on or before it. Catalogue prices keep their own year: no sourced medical-care price index "
        "is applied."
    )
    return Table(
        slug,
        title,
        assumptions,
        html,
        note=note,
        label_cols=1,
        text_cols=("Baseline completion c", "Price basis (share of gross)"),
        details=(
            (
                "Conservative pathway, work-up and fee",
                ("Conservative pathway", "Work-up", "Fee per review", "Horizon (months)"),
            ),
        ),
    )


def cost_rates_table(rates: pl.DataFrame, slug: str, title: str, threshold: int = DEFAULT_THRESHOLD) -> Table:
    """marts.cost_rates: baseline completion and leakage per outcome, observed and in force."""
    csv = _drop_flags(
        rates.with_columns(count_text(c, threshold) for c in ("n_closed", "n_events", "n_no_claims"))
    )
    html = rates.select(
        specialty_names().alias("Specialty"),
        pl.when(pl.col("parameter") == "baseline_completion")
        .then(pl.lit("Baseline completion c"))
        .otherwise(pl.lit("Leakage l: ") + outcome_names("outcome"))
        .alias("Rate"),
        count_text("n_closed", threshold, thousands=True).alias("Closed cases with claims"),
        count_text("n_events", threshold, thousands=True).alias("Billed for the initial family"),
        count_text("n_no_claims", threshold, thousands=True).alias("No claims seen"),
        pct_text(pl.col("rate")).fill_null(DASH).alias("Observed"),
        _ci("ci_low", "ci_high", pct_text).fill_null(DASH).alias("Wilson 95% CI"),
        pct_text(pl.col("rate_used")).fill_null("suppressed").alias("In force"),
        pl.col("basis").alias("Basis"),
        pl.col("source").alias("Source"),
    ).select(
        "Specialty", "Rate", "In force", "Observed", "Wilson 95% CI", "Basis",
        "Closed cases with claims", "Billed for the initial family", "No claims seen", "Source",
    )  # fmt: skip
    note = (
        "Observed rates count closed-horizon cases with some claim (or enrollment through the horizon); cases with "
        "no claims at all are left out and shown as 'no claims seen'. A rate is observed at the minimum number of "
        "cases or more; below it leakage falls back to the specialty's pooled rate over changed outcomes, then to "
        "the published default, and baseline completion to its reference value."
    )
    return Table(
        slug,
        title,
        csv,
        html,
        note=note,
        label_cols=2,
        key_cols=2,
        text_cols=("Basis", "Source"),
        details=(
            (
                "The closed cases each rate is observed on, and the sources",
                ("Closed cases with claims", "Billed for the initial family", "No claims seen", "Source"),
            ),
        ),
    )
