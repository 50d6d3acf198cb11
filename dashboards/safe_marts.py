"""Each mart made safe to publish: counts suppressed, and whatever is built on them hidden too.

One function per mart, so the figure and the table and the CSV of a mart all come from the same
suppressed frame and can never disagree about which cell is hidden. Tables that share totals
with another published table (the months of a specialty add up to its yearly outcome counts; the
Sankey flows of an outcome add up to its count) are suppressed with that table's cells as locked
margins, so a complement chosen on one page cannot be undone by subtraction on another.

Conventions of every returned frame: hidden counts are null, `<count>_primary` marks 1..10
("<11"), `<count>_suppressed` marks primary or complementary ("*"); rates, intervals and money
resting on a hidden count are null.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import polars as pl

from dashboards.suppression import (
    DEFAULT_THRESHOLD,
    PRIMARY_SUFFIX,
    SUPPRESSED_SUFFIX,
    hide_where,
    primary_mask,
    suppress_counts,
    suppress_with_margins,
)
from pipelines.lib.stats import funnel_limits

ALL = "all"
TOTAL_CELL = "__total__"  # the row-total cell of a bordered table
ALL_MONTHS = "__all_months__"  # the yearly margin beside monthly cells
MARGIN = "__margin__"

COST_MEASURES = (
    "gross_avoided",
    "gross_ci_low",
    "gross_ci_high",
    "program_cost",
    "net_avoided",
    "net_ci_low",
    "net_ci_high",
    "per_case_net",
    "per_case_ci_low",
    "per_case_ci_high",
    "roi",
    "roi_ci_low",
    "roi_ci_high",
    "deferred_avoided",
    "deferred_ci_low",
    "deferred_ci_high",
)
REALIZED_MEASURES = ("realized_avoided", "realized_ci_low", "realized_ci_high")
#: The verified headline charges the fee for every review of the closed cohort: with realized_avoided
#: shown, it gives n_closed_cohort back, so it is hidden with that count.
VERIFIED_MEASURES = ("verified_net", "verified_ci_low", "verified_ci_high")
#: Counts of cost_impact beside n_cases, each suppressed over the table like n_verified.
COST_COUNTS = ("n_verified", "n_closed_cohort", "unpriced_changes")


def _flags(col: str) -> tuple[str, str]:
    return col + PRIMARY_SUFFIX, col + SUPPRESSED_SUFFIX


def _with_force(df: pl.DataFrame, specialties: Collection[str]) -> pl.DataFrame:
    """Adds `_force`: rows of specialties that must be hidden whole (their total is hidden elsewhere)."""
    if "specialty" not in df.columns or not specialties:
        return df.with_columns(_force=pl.lit(False))
    return df.with_columns(_force=pl.col("specialty").is_in(list(specialties)).fill_null(False))


def _has_all(df: pl.DataFrame, col: str = "specialty") -> bool:
    return col in df.columns and df.height > 0 and bool((df[col] == ALL).any())


def outcome_cells(rates: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """outcome_rates as a bordered specialty x outcome table, suppressed, raw counts kept.

    Cells: each (specialty, outcome) count plus each specialty's total (outcome TOTAL_CELL).
    Rows add up to their total; when the 'all' specialty is published, columns add up to it
    too, and the totals column adds up to the overall total.
    """
    n_cells = rates.select("specialty", "outcome", pl.col("n").cast(pl.Int64).alias("value"))
    totals = (
        rates.group_by("specialty", maintain_order=True)
        .agg(pl.col("total").first().cast(pl.Int64).alias("value"))
        .with_columns(outcome=pl.lit(TOTAL_CELL))
        .select("specialty", "outcome", "value")
    )
    cells = pl.concat([n_cells, totals]).with_columns(locked=pl.lit(False))
    groupings = [["specialty"]] + ([["outcome"]] if _has_all(rates) else [])
    return suppress_with_margins(cells, "value", groupings, threshold)


def safe_outcome_rates(rates: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """marts.outcome_rates with counts suppressed and the rates/intervals of hidden cells hidden.

    A hidden total hides every rate of its row, because the shown counts divided by their
    rates would give the total back.
    """
    if rates.is_empty():
        return rates.with_columns(pl.lit(False).alias(c) for c in (*_flags("n"), *_flags("total")))
    cells = outcome_cells(rates, threshold)
    n_flags = cells.filter(pl.col("outcome") != TOTAL_CELL).select(
        "specialty",
        "outcome",
        pl.col("value_primary").alias("n_primary"),
        pl.col("value_suppressed").alias("n_suppressed"),
    )
    t_flags = cells.filter(pl.col("outcome") == TOTAL_CELL).select(
        "specialty",
        pl.col("value_primary").alias("total_primary"),
        pl.col("value_suppressed").alias("total_suppressed"),
    )
    out = rates.join(n_flags, on=["specialty", "outcome"], how="left").join(
        t_flags, on="specialty", how="left"
    )
    out = hide_where(out, pl.col("n_suppressed") | pl.col("total_suppressed"), ["rate", "ci_low", "ci_high"])
    out = hide_where(out, pl.col("n_suppressed"), ["n"])
    return hide_where(out, pl.col("total_suppressed"), ["total"])


def _month_key(col: str = "month") -> pl.Expr:
    return pl.col(col).cast(pl.String)


def safe_outcome_rates_monthly(
    monthly: pl.DataFrame,
    rates: pl.DataFrame | None,
    threshold: int = DEFAULT_THRESHOLD,
    hide_specialties: Collection[str] = (),
) -> pl.DataFrame:
    """marts.outcome_rates_monthly suppressed as a specialty x month x outcome cube.

    Groups: each month's outcomes add up to its total; each specialty-outcome's months add up
    to the yearly count published in outcome_rates (locked margins); with an 'all' specialty,
    the specialties of a month-outcome add up to it. A hidden month total hides that month's
    control limits (their width gives the total away); a hidden yearly count hides the centre
    line (it is the yearly rate).
    """
    flags = (*_flags("n"), *_flags("total"))
    if monthly.is_empty():
        return monthly.with_columns(pl.lit(False).alias(c) for c in flags)
    base = monthly.with_columns(_mk=_month_key())
    n_cells = base.select("specialty", "_mk", "outcome", pl.col("n").cast(pl.Int64).alias("value"))
    tot_cells = (
        base.group_by("specialty", "_mk", maintain_order=True)
        .agg(pl.col("total").first().cast(pl.Int64).alias("value"))
        .with_columns(outcome=pl.lit(TOTAL_CELL))
        .select("specialty", "_mk", "outcome", "value")
    )
    cells = _with_force(pl.concat([n_cells, tot_cells]), hide_specialties).with_columns(
        locked=pl.lit(False), value_primary=pl.lit(False), value_suppressed=pl.lit(False)
    )
    margins = None
    if rates is not None and not rates.is_empty():
        margins = outcome_cells(rates, threshold).with_columns(
            _mk=pl.lit(ALL_MONTHS), locked=pl.lit(True), _force=pl.lit(False)
        )
        cells = pl.concat([cells, margins.select(cells.columns)])
    groupings = [["specialty", "_mk"], ["specialty", "outcome"]]
    if _has_all(monthly):
        groupings.append(["_mk", "outcome"])
    res = suppress_with_margins(cells, "value", groupings, threshold, force="_force").filter(
        ~pl.col("locked")
    )
    n_flags = res.filter(pl.col("outcome") != TOTAL_CELL).select(
        "specialty",
        "_mk",
        "outcome",
        pl.col("value_primary").alias("n_primary"),
        pl.col("value_suppressed").alias("n_suppressed"),
    )
    t_flags = res.filter(pl.col("outcome") == TOTAL_CELL).select(
        "specialty",
        "_mk",
        pl.col("value_primary").alias("total_primary"),
        pl.col("value_suppressed").alias("total_suppressed"),
    )
    out = base.join(n_flags, on=["specialty", "_mk", "outcome"], how="left").join(
        t_flags, on=["specialty", "_mk"], how="left"
    )
    if margins is not None:
        centre_hidden = margins.filter(pl.col("outcome") != TOTAL_CELL).select(
            "specialty", "outcome", pl.col("value_suppressed").alias("_centre_hidden")
        )
        out = out.join(centre_hidden, on=["specialty", "outcome"], how="left")
    else:
        out = out.with_columns(_centre_hidden=pl.lit(False))
    out = out.with_columns(pl.col("_centre_hidden").fill_null(False))
    hidden_rate = pl.col("n_suppressed") | pl.col("total_suppressed")
    out = hide_where(out, hidden_rate, ["rate", "signal"])
    out = hide_where(out, pl.col("total_suppressed") | pl.col("_centre_hidden"), ["lcl", "ucl"])
    out = hide_where(out, pl.col("_centre_hidden"), ["center_line"])
    out = hide_where(out, pl.col("n_suppressed"), ["n"])
    out = hide_where(out, pl.col("total_suppressed"), ["total"])
    return out.drop("_mk", "_centre_hidden")


def safe_procedure_flows(
    flows: pl.DataFrame,
    rates: pl.DataFrame | None,
    threshold: int = DEFAULT_THRESHOLD,
    hide_specialties: Collection[str] = (),
) -> pl.DataFrame:
    """marts.procedure_flows with small flows hidden.

    The flows of one specialty and outcome add up to that outcome's published count, so those
    counts are locked margins of the grouping.
    """
    if flows.is_empty():
        return flows.with_columns(pl.lit(False).alias(c) for c in _flags("n"))
    keys = ["specialty", "source", "target", "outcome"]
    cells = _with_force(
        flows.select(*keys, pl.col("n").cast(pl.Int64).alias("value")), hide_specialties
    ).with_columns(locked=pl.lit(False), value_primary=pl.lit(False), value_suppressed=pl.lit(False))
    if rates is not None and not rates.is_empty():
        margins = (
            outcome_cells(rates, threshold)
            .filter(pl.col("outcome") != TOTAL_CELL)
            .with_columns(
                source=pl.lit(MARGIN), target=pl.lit(MARGIN), locked=pl.lit(True), _force=pl.lit(False)
            )
        )
        cells = pl.concat([cells, margins.select(cells.columns)])
    res = suppress_with_margins(cells, "value", [["specialty", "outcome"]], threshold, force="_force").filter(
        ~pl.col("locked")
    )
    out = flows.join(
        res.select(
            *keys,
            pl.col("value_primary").alias("n_primary"),
            pl.col("value_suppressed").alias("n_suppressed"),
        ),
        on=keys,
        how="left",
    )
    return hide_where(out, pl.col("n_suppressed"), ["n"])


def safe_reviewer_variation(
    reviewers: pl.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    hide_specialties: Collection[str] = (),
    incomplete_specialties: Collection[str] = (),
) -> pl.DataFrame:
    """marts.reviewer_variation without reviewers of fewer than `threshold` cases.

    Spiegelhalter-style funnels hide units with n <= 10 (literature.md §4.4). A specialty's
    reviewer counts add up to its total, so a lone hidden reviewer would be recovered by
    subtraction: the next-smallest reviewer is hidden with it. Hidden reviewers keep their row
    (so pages can say how many are hidden) with every measure null. `n_changed` is dropped from
    the output, but a point's n times its change rate gives it back, as n minus that gives the
    confirmed count: a reviewer whose changed or confirmed count is from 1 to threshold-1 is
    hidden too (CMS: no cell derivable from percentages).

    Cross-table guard: the reviewers of a specialty add up to its classified cases, i.e. its total
    minus its unclassified count. In `incomplete_specialties` (some outcome count is hidden) that
    sum must not be exact, so the smallest reviewer is hidden from the start and the usual rule
    then hides one more; `hide_specialties` (total hidden) lose every reviewer. The mart's
    specialty rate is changed / classified cases at full precision, so its denominator would give
    the hidden count back too: there the funnel is centred on the reviewers shown (a rate any
    reader can compute from the points) and its limits and flags are recomputed around it.
    """
    if reviewers.is_empty():
        return reviewers.drop("n_changed", strict=False).with_columns(
            pl.lit(False).alias(c) for c in _flags("n")
        )
    smallest = (pl.col("n").rank("ordinal").over("specialty") == 1) & pl.col("specialty").is_in(
        list(incomplete_specialties)
    )
    changed = (
        pl.col("n_changed")
        if "n_changed" in reviewers.columns
        else (pl.col("n") * pl.col("change_rate")).round(0)
    ).cast(pl.Int64)
    implied = primary_mask(changed, threshold) | primary_mask(pl.col("n").cast(pl.Int64) - changed, threshold)
    work = _with_force(reviewers, hide_specialties).with_columns(_force=pl.col("_force") | smallest | implied)
    out = suppress_counts(work, ["n"], ["specialty"], threshold, force="_force").drop(
        ["n_changed", "_force"], strict=False
    )
    measures = [c for c in out.columns if c not in ("reviewer_id", "specialty", *_flags("n"))]
    out = hide_where(out, pl.col("n_suppressed"), measures)
    return _recentre_funnel(out, incomplete_specialties)


def _recentre_funnel(reviewers: pl.DataFrame, specialties: Collection[str]) -> pl.DataFrame:
    """Centres the funnel of `specialties` on the reviewers shown: limits and flags follow."""
    needed = {"specialty_rate", "lower_95", "upper_95", "lower_998", "upper_998", "flag"}
    if not specialties or not needed <= set(reviewers.columns):
        return reviewers
    mine = pl.col("specialty").is_in(list(specialties)) & ~pl.col("n_suppressed")
    shown_rate = pl.when(mine).then(pl.col("n") * pl.col("change_rate")).sum().over("specialty") / pl.when(
        mine
    ).then(pl.col("n")).sum().over("specialty")
    out = reviewers.with_columns(_mine=mine, _rate=shown_rate)
    rate = out["_rate"].fill_null(0.0).to_numpy()
    n = out["n"].fill_null(1).cast(pl.Float64).to_numpy()
    limits = {}
    for coverage, low_col, high_col in ((0.95, "lower_95", "upper_95"), (0.998, "lower_998", "upper_998")):
        low, high = funnel_limits(rate, n, coverage)
        limits[low_col], limits[high_col] = low, high
    r = pl.col("change_rate")
    flag = (
        pl.when(r > pl.col("_u998"))
        .then(pl.lit("high_998"))
        .when(r > pl.col("_u95"))
        .then(pl.lit("high_95"))
        .when(r < pl.col("_l998"))
        .then(pl.lit("low_998"))
        .when(r < pl.col("_l95"))
        .then(pl.lit("low_95"))
        .otherwise(pl.lit("within"))
    )
    out = out.with_columns(
        _l95=pl.Series(limits["lower_95"]),
        _u95=pl.Series(limits["upper_95"]),
        _l998=pl.Series(limits["lower_998"]),
        _u998=pl.Series(limits["upper_998"]),
    ).with_columns(_flag=flag)
    replace = {
        "specialty_rate": "_rate",
        "lower_95": "_l95",
        "upper_95": "_u95",
        "lower_998": "_l998",
        "upper_998": "_u998",
        "flag": "_flag",
    }
    return out.with_columns(
        pl.when(pl.col("_mine")).then(pl.col(new)).otherwise(pl.col(old)).alias(old)
        for old, new in replace.items()
    ).drop("_mine", "_rate", "_l95", "_u95", "_l998", "_u998", "_flag")


def safe_by_count(
    df: pl.DataFrame,
    count_col: str,
    group_cols: Sequence[str] | Sequence[Sequence[str]],
    dependent: tuple[str, ...] | list[str],
    threshold: int = DEFAULT_THRESHOLD,
    hide_specialties: Collection[str] = (),
) -> pl.DataFrame:
    """Generic: suppress one count column and hide the measures that rest on it.

    Rows of `hide_specialties` are hidden from the start: their total is hidden on another page,
    and any sum of their rows here would give it back."""
    if df.is_empty():
        return df.with_columns(pl.lit(False).alias(c) for c in _flags(count_col))
    out = suppress_counts(
        _with_force(df, hide_specialties), [count_col], group_cols, threshold, force="_force"
    )
    return hide_where(out.drop("_force"), pl.col(count_col + SUPPRESSED_SUFFIX), list(dependent))


def safe_turnaround(
    turnaround: pl.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    hide_specialties: Collection[str] = (),
    monthly_safe: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """marts.turnaround: months of a specialty add up to its total; small months lose their quantiles.

    A month's n here is the same count as that month's total in outcome_rates_monthly, so every
    month hidden there is hidden here too (`monthly_safe`, the suppressed monthly mart): a
    complement chosen on one table must not be printed on the other.
    """
    if turnaround.is_empty():
        return turnaround.with_columns(pl.lit(False).alias(c) for c in _flags("n"))
    groupings: list[list[str]] = [["specialty"]] + ([["month"]] if _has_all(turnaround) else [])
    work = _with_force(turnaround, hide_specialties)
    if monthly_safe is not None and not monthly_safe.is_empty():
        hidden_months = monthly_safe.group_by("specialty", "month").agg(
            _month_hidden=pl.col("total_suppressed").any()
        )
        work = (
            work.join(hidden_months, on=["specialty", "month"], how="left")
            .with_columns(_force=pl.col("_force") | pl.col("_month_hidden").fill_null(False))
            .drop("_month_hidden")
        )
    out = suppress_counts(work, ["n"], groupings, threshold, force="_force").drop("_force")
    return hide_where(out, pl.col("n_suppressed"), ["median_days", "p90_days"])


def safe_turnaround_distribution(
    dist: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD, hide_specialties: Collection[str] = ()
) -> pl.DataFrame:
    """marts.turnaround_distribution: the bins of a specialty add up to its total."""
    groupings: list[list[str]] = [["specialty"]] + ([["days"]] if _has_all(dist) else [])
    return safe_by_count(dist, "n", groupings, (), threshold, hide_specialties)


def safe_concordance(
    conc: pl.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    hide_specialties: Collection[str] = (),
    incomplete_specialties: Collection[str] = (),
) -> pl.DataFrame:
    """marts.concordance: kappa on fewer than 11 cases is hidden (literature.md §4.5 caveat 3).

    A specialty whose outcome counts are partly hidden keeps its kappa but not its n: n counts the
    classified cases, and total minus n would give its hidden unclassified count back. Its raw
    agreement goes with n, since the fraction's denominator is n."""
    out = safe_by_count(
        conc,
        "n",
        [[]],
        ("kappa", "kappa_ci_low", "kappa_ci_high", "raw_agreement"),
        threshold,
        hide_specialties,
    )
    if incomplete_specialties and not out.is_empty():
        extra = pl.col("specialty").is_in(list(incomplete_specialties)) & ~pl.col("n_suppressed")
        # raw agreement is agreements / n at full precision: its denominator would name the hidden n
        out = hide_where(out, extra, ["raw_agreement"]).with_columns(
            n=pl.when(extra).then(None).otherwise(pl.col("n")), n_suppressed=pl.col("n_suppressed") | extra
        )
    return out


def _cost_counts(out: pl.DataFrame, groups: list[list[str]], threshold: int) -> pl.DataFrame:
    """Suppress the counts beside n_cases (COST_COUNTS) like n_cases, and what rests on each."""
    for col in (c for c in COST_COUNTS if c in out.columns):
        out = (
            suppress_counts(
                out.with_columns(_force=pl.col("n_cases_suppressed")),
                [col],
                groups,
                threshold,
                force="_force",
            )
            .drop("_force")
            .with_columns(
                (pl.col(col + SUPPRESSED_SUFFIX) | pl.col("n_cases_suppressed")).alias(
                    col + SUPPRESSED_SUFFIX
                )
            )
        )
        out = hide_where(out, pl.col(col + SUPPRESSED_SUFFIX), [col])
    if "n_verified_suppressed" in out.columns:
        out = hide_where(
            out, pl.col("n_verified_suppressed"), [c for c in REALIZED_MEASURES if c in out.columns]
        )
    if "n_closed_cohort_suppressed" in out.columns:
        out = hide_where(
            out, pl.col("n_closed_cohort_suppressed"), [c for c in VERIFIED_MEASURES if c in out.columns]
        )
    return out


def safe_cost_impact(
    cost: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD, hide_specialties: Collection[str] = ()
) -> pl.DataFrame:
    """marts.cost_impact: money of a specialty with a hidden case count is hidden whole.

    Specialties add up to 'all' (cases and dollars), so the case counts are suppressed over the
    whole table and a complement's money goes with it. The other counts (verified cases, the
    closed cohort, unpriced changes) are suppressed the same way, a hidden n_cases hiding them
    too; verified figures rest on n_verified and the verified net on the closed cohort.
    """
    counts = ("n_cases", *[c for c in COST_COUNTS if c in cost.columns])
    if cost.is_empty():
        return cost.with_columns(pl.lit(False).alias(f) for c in counts for f in _flags(c))
    out = safe_by_count(
        cost, "n_cases", [[]], [c for c in COST_MEASURES if c in cost.columns], threshold, hide_specialties
    )
    return _cost_counts(out, [[]], threshold)


def safe_cost_segments(segments: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """marts.cost_impact_segments: segments of one dimension add up to the overall total."""
    counts = ("n_cases", *[c for c in COST_COUNTS if c in segments.columns])
    if segments.is_empty():
        return segments.with_columns(pl.lit(False).alias(f) for c in counts for f in _flags(c))
    group = ["dimension", "specialty"] if "specialty" in segments.columns else ["dimension"]
    out = safe_by_count(
        segments, "n_cases", [group], [c for c in COST_MEASURES if c in segments.columns], threshold
    )
    return _cost_counts(out, [group], threshold)


def safe_cost_rates(
    rates: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD, hide_specialties: Collection[str] = ()
) -> pl.DataFrame:
    """marts.cost_rates: the rates in force, their counts suppressed like every count.

    n_closed, n_events and n_no_claims are counts of people. A rate with its n gives the events
    back, and its Wilson interval gives n back, so where either count is hidden the observed rate
    and interval go too; so does the rate in force when it is that observed rate. n_closed minus
    n_events (the cases not billed) is a count as well: a row where it is from 1 to threshold-1
    is hidden from the start. The leakage rows of a specialty add up to its pooled counts, whose
    rate is published where the pooled rate is in force: they are suppressed as one group, and a
    pooled rate hides with any hidden count of its specialty.
    """
    counts = ("n_closed", "n_events", "n_no_claims")
    if rates.is_empty():
        return rates.with_columns(pl.lit(False).alias(f) for c in counts for f in _flags(c))
    implied = primary_mask(pl.col("n_closed").cast(pl.Int64) - pl.col("n_events").cast(pl.Int64), threshold)
    work = _with_force(rates, hide_specialties).with_columns(_force=pl.col("_force") | implied)
    out = suppress_counts(work, list(counts), [["specialty", "parameter"]], threshold, force="_force").drop(
        "_force"
    )
    hidden = pl.col("n_closed_suppressed") | pl.col("n_events_suppressed")
    own = ["rate", "ci_low", "ci_high"]
    out = hide_where(out, hidden, own)
    in_force = ["rate_used", "used_ci_low", "used_ci_high"]
    out = hide_where(out, hidden & (pl.col("basis") == "observed"), in_force)
    any_hidden = (hidden & (pl.col("parameter") == "leakage")).any().over("specialty")
    out = hide_where(out, any_hidden & (pl.col("basis") == "pooled"), in_force)
    return hide_where(out, pl.col("specialty").is_in(list(hide_specialties)), in_force)


def safe_cost_assumptions(assumptions: pl.DataFrame, hide_specialties: Collection[str] = ()) -> pl.DataFrame:
    """marts.cost_assumptions holds no counts; a specialty whose cases are hidden is left out with its pages."""
    if assumptions.is_empty() or not hide_specialties:
        return assumptions
    return assumptions.filter(~pl.col("specialty").is_in(list(hide_specialties)))


def safe_cost_sensitivity(sensitivity: pl.DataFrame, cost_safe: pl.DataFrame | None) -> pl.DataFrame:
    """marts.cost_sensitivity: a specialty whose cost row is hidden has its tornado hidden too."""
    if sensitivity.is_empty() or cost_safe is None or cost_safe.is_empty():
        return sensitivity
    hidden = cost_safe.filter(pl.col("n_cases_suppressed")).get_column("specialty")
    return sensitivity.filter(~pl.col("specialty").is_in(hidden.implode()))


def safe_targeting(targeting: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """marts.targeting: deciles add up to all scored cases."""
    whole_table: list[list[str]] = [[]]
    return safe_by_count(
        targeting,
        "n",
        whole_table,
        ("mean_score", "observed_change_rate", "lift", "cumulative_lift"),
        threshold,
    )


DQ_ROW_MEASURES = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")


def safe_data_quality_files(files: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """marts.data_quality_files: rows read = loaded + quarantined + duplicate, suppressed as a group.

    Row counts are counts of case records, so they follow the same rule as every other count.
    File counts are counts of files, not of people, and are published as they are.
    """
    flag_cols = [f for c in DQ_ROW_MEASURES for f in _flags(c)]
    if files.is_empty():
        return files.with_columns(pl.lit(False).alias(c) for c in flag_cols)
    keys = ["record_type", "status"]
    present = [c for c in DQ_ROW_MEASURES if c in files.columns]
    long = files.select(*keys, *present).unpivot(index=keys, variable_name="measure", value_name="value")
    long = long.with_columns(pl.col("value").cast(pl.Int64))
    res = suppress_counts(long, ["value"], [keys], threshold)
    wide_parts = []
    for suffix in ("", PRIMARY_SUFFIX, SUPPRESSED_SUFFIX):
        part = res.pivot(on="measure", index=keys, values="value" + suffix)
        wide_parts.append(part.rename({m: m + suffix for m in present}))
    out = files.select(*keys, *[c for c in files.columns if c not in (*keys, *present)])
    for part in wide_parts:
        out = out.join(part, on=keys, how="left", nulls_equal=True)
    return out


def safe_data_quality_rules(rules: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """marts.data_quality_rules: one row can break several rules, so no additive total: primary only."""
    if rules.is_empty():
        return rules.with_columns(pl.lit(False).alias(c) for c in _flags("n_rows"))
    return suppress_counts(rules, ["n_rows"], (), threshold)


def specialties_hidden(rates_safe: pl.DataFrame | None) -> tuple[list[str], list[str]]:
    """(specialties whose total is hidden, specialties with some outcome count hidden) in outcome_rates.

    Other marts repeat sums of these counts (a specialty's reviewers, its turnaround bins, its
    concordance n), so they hide the first kind whole and guard the second kind.
    """
    if rates_safe is None or rates_safe.is_empty():
        return [], []
    whole = rates_safe.filter(pl.col("total_suppressed"))["specialty"].unique().sort().to_list()
    partial = (
        rates_safe.filter(pl.col("n_suppressed") & ~pl.col("total_suppressed"))["specialty"]
        .unique()
        .sort()
        .to_list()
    )
    return whole, partial


def safe_single_count(value: int | None, threshold: int = DEFAULT_THRESHOLD) -> tuple[int | None, bool]:
    """A lone published count (pending cases): (value or None, hidden?)."""
    if value is None:
        return None, False
    hidden = bool(pl.select(primary_mask(pl.lit(value), threshold)).item())
    return (None if hidden else value), hidden
