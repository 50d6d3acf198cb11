"""The publication layer: every number the site, its CSVs and its charts show comes from here.

`publish(marts)` makes the marts safe to publish in four steps:

1. **Dimensions need support.** A reviewer, plan or payer type with fewer than `threshold`
   cases is folded into "other" before any table is built; reviewer and plan ids are re-keyed
   (stable pseudonyms such as "Reviewer 07", kept in the warehouse for the quality team).
2. **Cells and relations.** Every published count becomes a cell of one system
   (dashboards.disclosure), with every way counts add up: rows and columns of a table, the same
   count in two tables (a specialty's cases on the outcome, cost and turnaround pages), counts a
   reader can recompute from what is shown (a reviewer's changes are n x change rate; agreements
   are raw agreement x n; programme cost is cases x fee) and the ones no table shows but others
   determine (pending cases are loaded rows minus reviewed cases).
3. **Protection and audit** over that whole system (dashboards.disclosure.protect).
4. **Dependents.** Every rate, interval, limit and dollar figure declares the cells it rests on
   and is hidden with them.

Conventions of every safe frame (what pages, views and figures read): hidden counts are null,
`<count>_primary` marks "<11", `<count>_suppressed` marks "<11" or "*", and measures resting on a
hidden cell are null.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from dashboards.disclosure import DEFAULT_PROTECTION, Cells, Decision, protect
from dashboards.suppression import DEFAULT_THRESHOLD, PRIMARY_SUFFIX, SUPPRESSED_SUFFIX
from pipelines.lib.stats import funnel_band, funnel_limits
from pipelines.lib.vocabulary import (
    ALL,
    CHANGED_OUTCOMES,
    FLAG_NOT_ASSESSED,
    FUNNEL_FLAGS,
    REVIEW_OUTCOMES,
    UNCLASSIFIED,
)

OTHER = "other"
COST_MEASURES = (
    "gross_avoided", "gross_ci_low", "gross_ci_high", "program_cost", "net_avoided", "net_ci_low",
    "net_ci_high", "per_case_net", "per_case_ci_low", "per_case_ci_high", "roi", "roi_ci_low", "roi_ci_high",
    "deferred_avoided", "deferred_ci_low", "deferred_ci_high",
)  # fmt: skip
REALIZED_MEASURES = ("realized_avoided", "realized_ci_low", "realized_ci_high")
#: The verified net charges the fee for every review of the closed cohort: beside the verified gross
#: it gives n_closed_cohort back, so it is hidden with that count.
VERIFIED_MEASURES = ("verified_net", "verified_ci_low", "verified_ci_high")
#: Counts of cost_impact (and its segments) that add up over the table like n_cases, each its own
#: cell: key prefix and the count's column.
COST_COUNTS = {"cc": "n_closed_cohort", "cu": "unpriced_changes"}
#: Outcomes whose cases have a second invasiveness tier (agreement leaves the others out).
TIERED = tuple(o for o in REVIEW_OUTCOMES if o != "deferred")
LEAKAGE_OUTCOMES = ("non_surgical", "deferred")
#: The case-mix columns of marts.reviewer_variation that rest on E (hidden with the specialty's
#: changes, since the reviewers' E add up to them).
OE_COLUMNS = (
    "expected",
    "variance",
    "o_e",
    "o_e_ci_low",
    "o_e_ci_high",
    "z",
    "z_adjusted",
    "o_e_lower_95",
    "o_e_upper_95",
    "o_e_lower_998",
    "o_e_upper_998",
    "flag",
)


def _k(prefix: str, *cols: str) -> pl.Expr:
    """A cell key: `prefix|col1|col2...`; the same count in two tables gets the same key."""
    parts: list[pl.Expr] = [pl.lit(prefix)]
    for c in cols:
        parts += [pl.lit("|"), pl.col(c).cast(pl.String).fill_null("∅")]
    return pl.concat_str(parts).alias("key")


def _get(marts: dict[str, pl.DataFrame], name: str) -> pl.DataFrame | None:
    frame = marts.get(name)
    return frame if frame is not None and not frame.is_empty() else None


def _has_all(df: pl.DataFrame) -> bool:
    return "specialty" in df.columns and bool((df["specialty"] == ALL).any())


def _rel(df: pl.DataFrame, relation: pl.Expr, key: pl.Expr) -> pl.DataFrame:
    return df.select(relation.alias("relation"), key.alias("key"))


# --- step 1: dimensions with support, published under pseudonyms -------------------------------


def pseudonyms(values: pl.Series, prefix: str, salt: str = "") -> pl.DataFrame:
    """value -> "Prefix NN", numbered in salted-hash order so the numbers reveal nothing of the ids.

    The warehouse keeps the assignments (core.publication_keys) so they stay stable across runs;
    this is the fallback for marts handed in without them (tests, notebooks).
    """
    distinct = sorted(
        set(values.drop_nulls().cast(pl.String).to_list()),
        key=lambda v: hashlib.sha256(f"{salt}|{v}".encode()).hexdigest(),
    )
    width = max(2, len(str(len(distinct))))
    return pl.DataFrame(
        {"value": distinct, "label": [f"{prefix} {i + 1:0{width}d}" for i in range(len(distinct))]},
        schema={"value": pl.String, "label": pl.String},
    )


def _labels(keys: pl.DataFrame | None, dimension: str, values: pl.Series, prefix: str) -> pl.DataFrame:
    if keys is not None and {"dimension", "value", "label"} <= set(keys.columns):
        mine = keys.filter(pl.col("dimension") == dimension).select("value", "label")
        missing = set(values.drop_nulls().cast(pl.String).to_list()) - set(mine["value"].to_list())
        if not missing:
            return mine
    return pseudonyms(values, prefix)


def fold_reviewers(reviewers: pl.DataFrame, threshold: int, keys: pl.DataFrame | None) -> pl.DataFrame:
    """Reviewers re-keyed, and those with fewer than `threshold` classified cases folded into one
    "other" row per specialty (pooled n and changes; it is not a unit of the funnel)."""
    labels = _labels(keys, "reviewer", reviewers["reviewer_id"], "Reviewer")
    out = reviewers.join(labels, left_on=pl.col("reviewer_id").cast(pl.String), right_on="value", how="left")
    out = out.with_columns(pl.col("label").alias("reviewer_id")).drop("label")
    if "n_changed" not in out.columns:
        out = out.with_columns(
            (pl.col("n") * pl.col("change_rate")).round(0).cast(pl.Int64).alias("n_changed")
        )
    small = pl.col("n") < threshold
    folded = (
        out.filter(small)
        .group_by("specialty")
        .agg(pl.col("n").sum(), pl.col("n_changed").sum(), pl.len().alias("reviewers_folded"))
        .with_columns(reviewer_id=pl.lit(OTHER), change_rate=pl.col("n_changed") / pl.col("n"))
    )
    if "observed" in out.columns:
        folded = folded.with_columns(observed=pl.col("n_changed"))
    big = out.filter(~small).with_columns(reviewers_folded=pl.lit(None, dtype=pl.UInt32))
    return pl.concat([big, folded], how="diagonal_relaxed").sort(
        "specialty", pl.col("reviewer_id") == OTHER, "reviewer_id"
    )


def fold_segments(segments: pl.DataFrame, threshold: int, keys: pl.DataFrame | None) -> pl.DataFrame:
    """Plans re-keyed (a configured display name, else "Plan NN"); segments of fewer than
    `threshold` cases folded into "other" per dimension (money summed, intervals unknown)."""
    plans = segments.filter(pl.col("dimension") == "plan_id")
    labels = _labels(keys, "plan", plans["segment"].filter(plans["segment"] != "unknown"), "Plan")
    out = (
        segments.join(labels, left_on="segment", right_on="value", how="left")
        .with_columns(
            segment=pl.when((pl.col("dimension") == "plan_id") & pl.col("label").is_not_null())
            .then(pl.col("label"))
            .otherwise(pl.col("segment"))
        )
        .drop("label")
    )
    small = (pl.col("n_cases") < threshold) | (pl.col("segment") == OTHER)
    sums = [
        c
        for c in (
            "n_cases",
            "n_verified",
            "gross_avoided",
            "program_cost",
            "net_avoided",
            "realized_avoided",
            "verified_net",
            "deferred_avoided",
            *COST_COUNTS.values(),
        )
        if c in out.columns
    ]
    folded = (
        out.filter(small).group_by("dimension").agg(pl.col(sums).sum()).with_columns(segment=pl.lit(OTHER))
    )
    return pl.concat([out.filter(~small), folded], how="diagonal_relaxed").sort(
        "dimension", pl.col("segment") == OTHER, "segment"
    )


def fold_bins(dist: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """Turnaround bins whose count over all specialties is below `threshold` are merged into their
    neighbour (the first bins into the next, later ones into the one before), the same way for
    every specialty, so each specialty's bins still add up to its cases and tables compare. A bin
    keeps the mart's meaning: `days` is its upper edge. Without this the rare long waits would be
    a breakdown of a small count and could not be shown at all."""
    if not _has_all(dist):
        return dist
    whole = dist.filter(pl.col("specialty") == ALL).sort("days")
    edges, counts = whole["days"].to_list(), whole["n"].to_list()
    groups: list[list[int]] = [[e] for e in edges]
    sizes = list(counts)
    while len(groups) > 1 and min(sizes) < threshold:  # a handful of bins, not rows of data
        i = sizes.index(min(sizes))
        j = i + 1 if i == 0 else i - 1
        lo, hi = min(i, j), max(i, j)
        groups[lo : hi + 1] = [groups[lo] + groups[hi]]
        sizes[lo : hi + 1] = [sizes[lo] + sizes[hi]]
    upper = {e: max(g) for g in groups for e in g}
    return (
        dist.with_columns(
            pl.col("days").replace_strict(upper, default=pl.col("days"), return_dtype=dist.schema["days"])
        )
        .group_by("specialty", "days", maintain_order=True)
        .agg(pl.col("n").sum())
        .sort(pl.col("specialty") != ALL, "specialty", "days")
    )


def collapse_flows(marts: dict[str, pl.DataFrame], threshold: int) -> dict[str, pl.DataFrame]:
    """Mark (`_collapsed`) the flows below `threshold`. A flow row exists only where its count is
    at least 1, so every listed "<11" flow is a lower bound on its outcome; the Sankey never
    draws them, so they are not published at all (their counts stay in the audit as helpers).
    Breakdowns of any small count are collapsed generally by the audit (disclosure.collapse)."""
    out = dict(marts)
    if (flows := _get(marts, "procedure_flows")) is not None:
        out["procedure_flows"] = flows.with_columns(_collapsed=pl.col("n") < threshold)
    return out


def _published(frame: pl.DataFrame) -> pl.Series | bool:
    return ~frame["_collapsed"] if "_collapsed" in frame.columns else True


def _shown(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows a page shows: collapsed breakdowns are left out."""
    return frame.filter(~pl.col("_collapsed")).drop("_collapsed") if "_collapsed" in frame.columns else frame


# --- step 2: cells and relations -------------------------------------------------------------


def _outcome_cells(c: Cells, rates: pl.DataFrame) -> None:
    totals = rates.group_by("specialty", maintain_order=True).agg(pl.col("total").first())
    c.add(rates.select(_k("o", "specialty", "outcome"))["key"], rates["n"])
    c.add(totals.select(_k("t", "specialty"))["key"], totals["total"])
    c.sums(
        _rel(rates, _k("o-row", "specialty"), _k("o", "specialty", "outcome")),
        _rel(totals, _k("o-row", "specialty"), _k("t", "specialty")),
    )
    if _has_all(rates):
        parts, whole = rates.filter(pl.col("specialty") != ALL), rates.filter(pl.col("specialty") == ALL)
        c.sums(
            _rel(parts, _k("o-col", "outcome"), _k("o", "specialty", "outcome")),
            _rel(whole, _k("o-col", "outcome"), _k("o", "specialty", "outcome")),
        )
        tparts, twhole = totals.filter(pl.col("specialty") != ALL), totals.filter(pl.col("specialty") == ALL)
        c.sums(
            _rel(tparts, pl.lit("t-col"), _k("t", "specialty")),
            _rel(twhole, pl.lit("t-col"), _k("t", "specialty")),
        )


def _monthly_cells(c: Cells, monthly: pl.DataFrame, with_year: bool) -> None:
    months = monthly.group_by("specialty", "month", maintain_order=True).agg(pl.col("total").first())
    c.add(
        monthly.select(_k("m", "specialty", "month", "outcome"))["key"],
        monthly["n"],
        published=_published(monthly),
    )
    c.add(months.select(_k("mt", "specialty", "month"))["key"], months["total"])
    c.sums(
        _rel(monthly, _k("m-row", "specialty", "month"), _k("m", "specialty", "month", "outcome")),
        _rel(months, _k("m-row", "specialty", "month"), _k("mt", "specialty", "month")),
    )
    if with_year:  # the months of a specialty add up to its outcome counts and its total
        years = monthly.select("specialty", "outcome").unique()
        c.sums(
            _rel(monthly, _k("m-year", "specialty", "outcome"), _k("m", "specialty", "month", "outcome")),
            _rel(years, _k("m-year", "specialty", "outcome"), _k("o", "specialty", "outcome")),
        )
        specs = months.select("specialty").unique()
        c.sums(
            _rel(months, _k("mt-year", "specialty"), _k("mt", "specialty", "month")),
            _rel(specs, _k("mt-year", "specialty"), _k("t", "specialty")),
        )
    if _has_all(monthly):
        parts, whole = monthly.filter(pl.col("specialty") != ALL), monthly.filter(pl.col("specialty") == ALL)
        c.sums(
            _rel(parts, _k("m-col", "month", "outcome"), _k("m", "specialty", "month", "outcome")),
            _rel(whole, _k("m-col", "month", "outcome"), _k("m", "specialty", "month", "outcome")),
        )
        mparts, mwhole = months.filter(pl.col("specialty") != ALL), months.filter(pl.col("specialty") == ALL)
        c.sums(
            _rel(mparts, _k("mt-col", "month"), _k("mt", "specialty", "month")),
            _rel(mwhole, _k("mt-col", "month"), _k("mt", "specialty", "month")),
        )


def _flow_cells(c: Cells, flows: pl.DataFrame, with_outcomes: bool) -> None:
    key = _k("f", "specialty", "source", "target", "outcome")
    c.add(flows.select(key)["key"], flows["n"], published=_published(flows))
    if with_outcomes:
        outs = flows.select("specialty", "outcome").unique()
        c.sums(
            _rel(flows, _k("f-o", "specialty", "outcome"), key),
            _rel(outs, _k("f-o", "specialty", "outcome"), _k("o", "specialty", "outcome")),
        )
    if _has_all(flows):
        parts, whole = flows.filter(pl.col("specialty") != ALL), flows.filter(pl.col("specialty") == ALL)
        c.sums(
            _rel(parts, _k("f-col", "source", "target", "outcome"), key),
            _rel(whole, _k("f-col", "source", "target", "outcome"), key),
        )


def _per_specialty_sum(
    c: Cells, frame: pl.DataFrame, prefix: str, part_cols: Sequence[str], with_total: bool
) -> None:
    """Cells `prefix|specialty|part...` adding up to the specialty's total (and across specialties)."""
    key = _k(prefix, "specialty", *part_cols)
    c.add(frame.select(key)["key"], frame["n"], published=_published(frame))
    if with_total:
        specs = frame.select("specialty").unique()
        c.sums(
            _rel(frame, _k(f"{prefix}-t", "specialty"), key),
            _rel(specs, _k(f"{prefix}-t", "specialty"), _k("t", "specialty")),
        )
    if _has_all(frame):
        parts, whole = frame.filter(pl.col("specialty") != ALL), frame.filter(pl.col("specialty") == ALL)
        rel = _k(f"{prefix}-col", *part_cols) if part_cols else pl.lit(f"{prefix}-col")
        c.sums(_rel(parts, rel, key), _rel(whole, rel, key))


def _split_cells(
    c: Cells, frame: pl.DataFrame, prefix: str, keys: Sequence[str], whole: str, part: str
) -> None:
    """A count and its part, both derivable: `prefix|keys` = `prefix+|keys` + `prefix-|keys`."""
    k, kp, km = _k(prefix, *keys), _k(prefix + "+", *keys), _k(prefix + "-", *keys)
    c.add(frame.select(k)["key"], frame[whole])
    c.add(frame.select(kp)["key"], frame[part])
    c.add(frame.select(km)["key"], frame[whole] - frame[part])
    rel = _k(prefix + "-split", *keys)
    c.relate(
        pl.concat([frame.select(rel)["key"]] * 3),
        pl.concat([frame.select(x)["key"] for x in (kp, km, k)]),
        [1] * frame.height + [1] * frame.height + [-1] * frame.height,
    )


def _outcome_sum(c: Cells, relation: str, keys: list[str], coefs: list[int]) -> None:
    c.relate([relation] * len(keys), keys, coefs)


def _reviewer_cells(c: Cells, reviewers: pl.DataFrame, outcomes: bool) -> None:
    _split_cells(c, reviewers, "r", ["specialty", "reviewer_id"], "n", "n_changed")
    if not outcomes:
        return
    for s in reviewers["specialty"].unique().to_list():
        mine = reviewers.filter(pl.col("specialty") == s)
        ids = mine.select(_k("r", "specialty", "reviewer_id"))["key"].to_list()
        changed = [k.replace("r|", "r+|", 1) for k in ids]
        kept = [k.replace("r|", "r-|", 1) for k in ids]
        _outcome_sum(c, f"r-n|{s}", [*ids, f"t|{s}", f"o|{s}|{UNCLASSIFIED}"], [1] * len(ids) + [-1, 1])
        _outcome_sum(
            c,
            f"r-c|{s}",
            [*changed, *(f"o|{s}|{o}" for o in CHANGED_OUTCOMES)],
            [1] * len(ids) + [-1] * len(CHANGED_OUTCOMES),
        )
        _outcome_sum(c, f"r-u|{s}", [*kept, f"o|{s}|confirmed"], [1] * len(ids) + [-1])
    if "expected" in reviewers.columns:
        # E is calibrated so that a specialty's expected changes add up to its observed ones: the
        # reviewers' E, all shown, publish the specialty's changes (the "other" row shows no E)
        whole = reviewers.group_by("specialty").agg(
            pl.col("n_changed").sum(), (pl.col("reviewer_id") == OTHER).any().alias("folded")
        )
        c.add(whole.select(_k("re", "specialty"))["key"], whole["n_changed"], published=~whole["folded"])
        c.sums(
            _rel(reviewers, _k("re-sum", "specialty"), _k("r+", "specialty", "reviewer_id")),
            _rel(whole, _k("re-sum", "specialty"), _k("re", "specialty")),
        )


def _concordance_cells(c: Cells, conc: pl.DataFrame, outcomes: pl.DataFrame | None) -> None:
    frame = conc.with_columns(
        agree=(pl.col("raw_agreement").fill_null(0) * pl.col("n")).round(0).cast(pl.Int64)
    )
    _split_cells(c, frame, "c", ["specialty"], "n", "agree")
    if outcomes is None:
        if "n_no_tier" in frame.columns:  # published on its own: its specialties add up to 'all'
            _count_cells(c, frame, "cx", ["specialty"], "n_no_tier")
            if _has_all(frame):
                parts, whole = (
                    frame.filter(pl.col("specialty") != ALL),
                    frame.filter(pl.col("specialty") == ALL),
                )
                c.sums(
                    _rel(parts, pl.lit("cx-col"), _k("cx", "specialty")),
                    _rel(whole, pl.lit("cx-col"), _k("cx", "specialty")),
                )
        return
    tiered = outcomes.filter(pl.col("outcome").is_in(TIERED)).group_by("specialty").agg(pl.col("n").sum())
    gap = frame.join(tiered.rename({"n": "tiered"}), on="specialty").with_columns(
        gap=pl.col("tiered") - pl.col("n")
    )
    # cases of a tiered outcome without a tier on one side (a narrative change with no code): the
    # agreement table's n_no_tier where the mart has it, else a helper cell (outcome counts minus
    # agreement's n give it even when no table shows it)
    if "n_no_tier" in gap.columns and (gap["n_no_tier"] != gap["gap"]).any():
        raise ValueError("marts.concordance: n + n_no_tier is not the cases of a tiered outcome")
    c.add(gap.select(_k("cx", "specialty"))["key"], gap["gap"], published="n_no_tier" in gap.columns)
    for s in gap["specialty"].to_list():
        _outcome_sum(
            c, f"c-o|{s}", [f"c|{s}", f"cx|{s}", *(f"o|{s}|{o}" for o in TIERED)], [1, 1] + [-1] * len(TIERED)
        )


def _cost_cells(c: Cells, cost: pl.DataFrame) -> None:
    verified = cost.with_columns(pl.col("n_verified").fill_null(0))
    c.add(verified.select(_k("t", "specialty"))["key"], verified["n_cases"])
    _split_cells(c, verified.rename({"n_cases": "n"}), "cv", ["specialty"], "n", "n_verified")
    for s in verified["specialty"].to_list():  # verified plus not verified is the specialty's cases
        _outcome_sum(c, f"cv-t|{s}", [f"cv|{s}", f"t|{s}"], [1, -1])
    if _has_all(cost):
        parts = verified.filter(pl.col("specialty") != ALL)["specialty"].to_list()
        for prefix in ("cv+", "cv-"):
            _outcome_sum(
                c,
                f"{prefix}-col",
                [f"{prefix}|{s}" for s in parts] + [f"{prefix}|{ALL}"],
                [1] * len(parts) + [-1],
            )


def _count_cells(c: Cells, frame: pl.DataFrame, prefix: str, group: Sequence[str], total: str) -> None:
    """Cells `prefix|group...` holding `frame`'s column `total` (the caller relates them)."""
    key = _k(prefix, *group)
    c.add(frame.select(key)["key"], frame[total].fill_null(0))


def _cost_counts(c: Cells, cost: pl.DataFrame) -> None:
    """The closed cohort and the unpriced changes of each specialty add up to the 'all' row."""
    for prefix, col in COST_COUNTS.items():
        if col not in cost.columns:
            continue
        _count_cells(c, cost, prefix, ["specialty"], col)
        if _has_all(cost):
            parts, whole = cost.filter(pl.col("specialty") != ALL), cost.filter(pl.col("specialty") == ALL)
            c.sums(
                _rel(parts, pl.lit(f"{prefix}-col"), _k(prefix, "specialty")),
                _rel(whole, pl.lit(f"{prefix}-col"), _k(prefix, "specialty")),
            )


def _segment_counts(c: Cells, segments: pl.DataFrame) -> None:
    """A dimension's segments add up to the 'all' row of cost_impact for each count."""
    for prefix, col in COST_COUNTS.items():
        if col not in segments.columns:
            continue
        _count_cells(c, segments, f"seg{prefix}", ["dimension", "segment"], col)
        for dim in segments["dimension"].unique().to_list():
            keys = (
                segments.filter(pl.col("dimension") == dim)
                .select(_k(f"seg{prefix}", "dimension", "segment"))["key"]
                .to_list()
            )
            _outcome_sum(c, f"seg{prefix}-t|{dim}", [*keys, f"{prefix}|{ALL}"], [1] * len(keys) + [-1])


def _cost_rate_cells(c: Cells, rates: pl.DataFrame) -> None:
    """marts.cost_rates: closed cases, those billed (events) and those not billed are counts of
    people (n_closed = n_events + the rest); cases with no claims are a count of their own."""
    frame = rates.rename({"n_closed": "n"})
    _split_cells(c, frame, "cr", ["specialty", "parameter", "outcome"], "n", "n_events")
    c.add(frame.select(_k("crn", "specialty", "parameter", "outcome"))["key"], frame["n_no_claims"])


#: What a rate rests on (marts.outcome_provenance): the deciding source's count column and name.
PROVENANCE_SOURCES: dict[str, str] = {
    "n_structured": "Structured fields",
    "n_text_extraction": "Text extraction",
    "n_text_model": "Text classifier",
    "n_human": "People's labels",
    "n_undecided": "Unclassified",
}


def provenance_long(provenance: pl.DataFrame) -> pl.DataFrame:
    """marts.outcome_provenance per specialty x source (specialty, source, n, total): the outcomes
    summed, the undecided cases being the specialty's unclassified ones."""
    decided = [c for c in PROVENANCE_SOURCES if c != "n_undecided"]
    per = provenance.group_by("specialty", maintain_order=True).agg(
        pl.col("n").sum().alias("total"), *[pl.col(c).sum() for c in decided]
    )
    per = per.with_columns((pl.col("total") - pl.sum_horizontal(decided)).alias("n_undecided"))
    return per.unpivot(
        index=["specialty", "total"], on=list(PROVENANCE_SOURCES), variable_name="source", value_name="n"
    ).select("specialty", "source", pl.col("n").cast(pl.Int64), pl.col("total").cast(pl.Int64))


def _provenance_key() -> pl.Expr:
    """The undecided cases are the outcome table's unclassified cell; the others their own."""
    return (
        pl.when(pl.col("source") == "n_undecided")
        .then(pl.concat_str([pl.lit("o|"), pl.col("specialty"), pl.lit(f"|{UNCLASSIFIED}")]))
        .otherwise(_k("pv", "specialty", "source"))
        .alias("key")
    )


def _provenance_cells(c: Cells, provenance: pl.DataFrame) -> None:
    """Each specialty's sources add up to its cases, and the specialties to 'all'. The text path's
    accuracy on people's labels is labels right over labels: both counts are cells."""
    long = provenance_long(provenance)
    keyed = long.with_columns(_provenance_key())
    c.add(keyed["key"], keyed["n"])
    totals = long.group_by("specialty", maintain_order=True).agg(pl.col("total").first())
    c.add(totals.select(_k("t", "specialty"))["key"], totals["total"])
    c.sums(
        keyed.select(_k("pv-row", "specialty").alias("relation"), "key"),
        totals.select(_k("pv-row", "specialty").alias("relation"), _k("t", "specialty")),
    )
    if _has_all(long):
        parts, whole = keyed.filter(pl.col("specialty") != ALL), keyed.filter(pl.col("specialty") == ALL)
        c.sums(
            parts.select(_k("pv-col", "source").alias("relation"), "key"),
            whole.select(_k("pv-col", "source").alias("relation"), "key"),
        )
    acc = provenance.filter(pl.col("text_accuracy").is_not_null()).head(1)
    if "text_accuracy_n" in provenance.columns and acc.height:
        frame = acc.select(
            pl.lit("text").alias("what"),
            pl.col("text_accuracy_n").cast(pl.Int64).alias("n"),
            (pl.col("text_accuracy") * pl.col("text_accuracy_n")).round(0).cast(pl.Int64).alias("right"),
        )
        _split_cells(c, frame, "acc", ["what"], "n", "right")


def accuracy_shown(decision: Decision) -> bool:
    """The text path's accuracy may be published: none of its counts (labels, right, wrong) is hidden."""
    return not ({"acc|text", "acc+|text", "acc-|text"} & decision.hidden_keys)


def _safe_provenance(provenance: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = provenance_long(provenance).with_columns(_provenance_key().alias("_pk"))
    out = _flags(out, d, "n", pl.col("_pk"))
    out = _flags(out, d, "total", _k("t", "specialty")).drop("_pk")
    out = out.with_columns(
        pl.col("total_suppressed").any().over("specialty").alias("total_suppressed"),
        text_accuracy_shown=pl.lit(accuracy_shown(d)),
    )
    return out.with_columns(
        pl.when(pl.col("total_suppressed")).then(None).otherwise(pl.col("total")).alias("total")
    )


def _segment_cells(c: Cells, segments: pl.DataFrame) -> None:
    frame = segments.with_columns(pl.col("n_verified").fill_null(0)).rename({"n_cases": "n"})
    _split_cells(c, frame, "seg", ["dimension", "segment"], "n", "n_verified")
    for dim in frame["dimension"].unique().to_list():
        keys = (
            frame.filter(pl.col("dimension") == dim)
            .select(_k("seg", "dimension", "segment"))["key"]
            .to_list()
        )
        _outcome_sum(c, f"seg-t|{dim}", [*keys, f"t|{ALL}"], [1] * len(keys) + [-1])
        for sign in ("+", "-"):
            parts = [k.replace("seg|", f"seg{sign}|", 1) for k in keys]
            _outcome_sum(c, f"seg{sign}-t|{dim}", [*parts, f"cv{sign}|{ALL}"], [1] * len(keys) + [-1])


def _targeting_cells(c: Cells, targeting: pl.DataFrame, outcomes: bool) -> None:
    frame = targeting.with_columns(
        changed=(pl.col("observed_change_rate").fill_null(0) * pl.col("n")).round(0).cast(pl.Int64),
        _s=pl.lit(ALL),
    )
    _split_cells(c, frame, "g", ["decile"], "n", "changed")
    if not outcomes:
        return
    keys = frame.select(_k("g", "decile"))["key"].to_list()
    _outcome_sum(c, "g-n", [*keys, f"t|{ALL}", f"o|{ALL}|{UNCLASSIFIED}"], [1] * len(keys) + [-1, 1])
    _outcome_sum(
        c,
        "g-c",
        [k.replace("g|", "g+|", 1) for k in keys] + [f"o|{ALL}|{o}" for o in CHANGED_OUTCOMES],
        [1] * len(keys) + [-1] * len(CHANGED_OUTCOMES),
    )
    _outcome_sum(
        c, "g-u", [k.replace("g|", "g-|", 1) for k in keys] + [f"o|{ALL}|confirmed"], [1] * len(keys) + [-1]
    )


DQ_ROWS = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")


def _dq_cells(c: Cells, files: pl.DataFrame, reviewed: int | None, pending: int | None) -> None:
    long = files.unpivot(
        index=["record_type", "status"],
        on=[m for m in DQ_ROWS if m in files.columns],
        variable_name="measure",
        value_name="n",
    )
    c.add(long.select(_k("dq", "record_type", "status", "measure"))["key"], long["n"].cast(pl.Int64))
    for rt, status in files.select("record_type", "status").iter_rows():
        k = f"dq|{rt or '∅'}|{status or '∅'}"
        _outcome_sum(
            c,
            f"dq-row|{k}",
            [f"{k}|rows_read", f"{k}|rows_loaded", f"{k}|rows_quarantined", f"{k}|rows_duplicate"],
            [1, -1, -1, -1],
        )
    cases = files.filter(pl.col("record_type") == "cases")
    if reviewed is not None and cases.height:
        # staged cases = reviewed + pending: "loaded minus reviewed" gives the pending count, which
        # is a cell whether or not a page shows it
        loaded = int(cases["rows_loaded"].sum())
        if pending is None:  # shown or not, it is a cell; a relation that does not hold is dropped
            c.add(["pending"], [loaded - reviewed], published=False)
        keys = [f"dq|cases|{s}|rows_loaded" for s in cases["status"].to_list()]
        _outcome_sum(c, "dq-pending", [*keys, f"t|{ALL}", "pending"], [1] * len(keys) + [-1, -1])


def summary_count(marts: dict[str, pl.DataFrame], metric: str) -> int | None:
    """A count the run summary carries (pending cases), or None."""
    frame = _get(marts, "run_summary")
    if frame is None or not {"metric", "value"} <= set(frame.columns):
        return None
    values = frame.filter(pl.col("metric") == metric)["value"].to_list()
    return int(values[0]) if values and str(values[0]).isdigit() else None


def cell_model(marts: dict[str, pl.DataFrame]) -> Cells:
    """The cells and relations of everything `publish` will show, from the prepared marts."""
    c = Cells()
    rates = _get(marts, "outcome_rates")
    if rates is not None:
        _outcome_cells(c, rates)
    if (monthly := _get(marts, "outcome_rates_monthly")) is not None:
        _monthly_cells(c, monthly, with_year=rates is not None)
    if (flows := _get(marts, "procedure_flows")) is not None:
        _flow_cells(c, flows, with_outcomes=rates is not None)
    if (turnaround := _get(marts, "turnaround")) is not None:  # the same counts as the monthly totals
        c.add(turnaround.select(_k("mt", "specialty", "month"))["key"], turnaround["n"])
        if monthly is None:
            _per_specialty_sum(
                c, turnaround.rename({"n": "n"}), "mt", ["month"], with_total=rates is not None
            )
    if (dist := _get(marts, "turnaround_distribution")) is not None:
        _per_specialty_sum(c, dist, "d", ["days"], with_total=rates is not None)
    if (reviewers := _get(marts, "reviewer_variation")) is not None:
        _reviewer_cells(c, reviewers, outcomes=rates is not None)
    if (conc := _get(marts, "concordance")) is not None:
        _concordance_cells(c, conc, rates)
    if (cost := _get(marts, "cost_impact")) is not None:
        _cost_cells(c, cost)
        _cost_counts(c, cost)
    if (segments := _get(marts, "cost_impact_segments")) is not None and cost is not None:
        _segment_cells(c, segments)
        if _has_all(cost):
            _segment_counts(c, segments)
    if (provenance := _get(marts, "outcome_provenance")) is not None and rates is not None:
        _provenance_cells(c, provenance)
    if (cost_rates := _get(marts, "cost_rates")) is not None:
        _cost_rate_cells(c, cost_rates)
    if (targeting := _get(marts, "targeting")) is not None:
        _targeting_cells(c, targeting, outcomes=rates is not None)
    pending = summary_count(marts, "pending")
    if pending is not None:
        c.add(["pending"], [pending])
    if (files := _get(marts, "data_quality_files")) is not None:
        reviewed = None
        if rates is not None and _has_all(rates):
            reviewed = int(rates.filter(pl.col("specialty") == ALL)["total"][0])
        # the files are the latest run's: after several runs "loaded = reviewed + pending" does not
        # hold, and the audit leaves the relation out (relations_not_holding)
        _dq_cells(c, files, reviewed, pending)
    if (rules := _get(marts, "data_quality_rules")) is not None:
        c.add(rules.select(_k("dqr", "record_type", "field", "rule"))["key"], rules["n_rows"].cast(pl.Int64))
    if (waiting := _get(marts, "data_quality_waiting")) is not None:
        # opinions waiting for their case, and the orphans among them (the rest is a count too)
        _split_cells(c, waiting, "dqw", ["record_type"], "n_waiting", "n_orphans")
    return c


# --- step 4: safe frames ---------------------------------------------------------------------


def _flags(
    frame: pl.DataFrame, decision: Decision, count: str, key: pl.Expr, *, keep_rows: bool = False
) -> pl.DataFrame:
    """Add `<count>_primary`/`<count>_suppressed` from the decision and null the hidden counts.

    A row whose count is a collapsed breakdown (the part of a small total) is not published; with
    `keep_rows` (a secondary count of a row published for its other counts) the row stays, the
    count is null and unmarked (it reads as empty, neither "<11" nor "*"), and `<count>_collapsed`
    says so for the measures resting on it."""
    flags = decision.cells.select(
        pl.col("key").alias("_key"),
        pl.col("primary").alias("_p"),
        (pl.col("hidden") & pl.col("published")).alias("_h"),
        pl.col("collapsed").alias("_c"),
    )
    out = frame.with_columns(key.alias("_key")).join(flags, on="_key", how="left")
    collapsed = pl.col("_c").fill_null(False)
    if not keep_rows:
        out = out.filter(~collapsed)  # a collapsed breakdown is not published at all
    out = out.with_columns(
        (pl.col("_p").fill_null(False) & ~collapsed).alias(count + PRIMARY_SUFFIX),
        (pl.col("_h").fill_null(False) & ~collapsed).alias(count + SUPPRESSED_SUFFIX),
        pl.when(pl.col("_h").fill_null(False) | collapsed).then(None).otherwise(pl.col(count)).alias(count),
    )
    if keep_rows:
        out = out.with_columns(collapsed.alias(count + "_collapsed"))
    return out.drop("_key", "_p", "_h", "_c")


def _hidden(decision: Decision, key: pl.Expr) -> pl.Expr:
    """True where the cell `key` names is hidden (unknown keys: False)."""
    return key.is_in(pl.Series(list(decision.hidden_keys), dtype=pl.String).implode())


def _hide(frame: pl.DataFrame, condition: pl.Expr, cols: Sequence[str]) -> pl.DataFrame:
    present = [c for c in cols if c in frame.columns]
    return frame.with_columns(pl.when(condition).then(None).otherwise(pl.col(c)).alias(c) for c in present)


@dataclass
class Published:
    """The safe frames and what the audit proved."""

    frames: dict[str, pl.DataFrame]
    decision: Decision
    threshold: int

    def hidden(self, key: str) -> bool:
        return key in self.decision.hidden_keys

    def marker(self, key: str) -> str | None:
        """What a hidden cell prints: "<threshold" for a small count, "*" for one hidden to protect
        another (it is 0 or at least the threshold, and never printed as small); None if shown."""
        if not self.hidden(key):
            return None
        primary = self.decision.cells.filter(pl.col("key") == key)["primary"].to_list()
        return f"<{self.threshold}" if primary and primary[0] else "*"


def _safe_rates(rates: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = _flags(rates, d, "n", _k("o", "specialty", "outcome"))
    out = _flags(out, d, "total", _k("t", "specialty"))
    return _hide(out, pl.col("n_suppressed") | pl.col("total_suppressed"), ["rate", "ci_low", "ci_high"])


def _safe_monthly(monthly: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = _flags(monthly, d, "n", _k("m", "specialty", "month", "outcome"))
    out = _flags(out, d, "total", _k("mt", "specialty", "month"))
    centre = _hidden(d, _k("o", "specialty", "outcome")) | _hidden(d, _k("t", "specialty"))
    out = _hide(out, pl.col("n_suppressed") | pl.col("total_suppressed"), ["rate", "signal"])
    out = _hide(out, pl.col("total_suppressed") | centre, ["lcl", "ucl"])
    return _hide(out, centre, ["center_line"])


def _safe_reviewers(reviewers: pl.DataFrame, d: Decision, threshold: int) -> pl.DataFrame:
    out = _flags(reviewers, d, "n", _k("r", "specialty", "reviewer_id"))
    hidden = (
        pl.col("n_suppressed")
        | _hidden(d, _k("r+", "specialty", "reviewer_id"))
        | _hidden(d, _k("r-", "specialty", "reviewer_id"))
    )
    out = out.with_columns(n_suppressed=hidden, n=pl.when(hidden).then(None).otherwise(pl.col("n")))
    measures = [
        c
        for c in out.columns
        if c not in ("reviewer_id", "specialty", "reviewers_folded", "n", "n_primary", "n_suppressed")
    ]
    out = _hide(out, pl.col("n_suppressed"), measures).drop("n_changed", strict=False)
    # "other" pools reviewers with too few cases: it is not a unit of either funnel, and shows no E
    # (the reviewers' E would then add up to the specialty's changes)
    out = _hide(
        out,
        pl.col("reviewer_id") == OTHER,
        [c for c in measures if c not in ("change_rate", "observed", "reviewers_folded")],
    )
    if "expected" in out.columns:  # the specialty's changes hidden: so is the sum that gives them
        out = _hide(out, _hidden(d, _k("re", "specialty")), [c for c in measures if c in OE_COLUMNS])
    # The specialty rate (the funnel's centre) is changes / classified cases of the specialty: where
    # one of those outcome counts is hidden it would give it back, so the funnel is centred on the
    # reviewers shown instead, a rate any reader can work out from the points.
    parts = [
        _k("t", "specialty"),
        pl.concat_str([pl.lit("o|"), pl.col("specialty"), pl.lit(f"|{UNCLASSIFIED}")]),
    ]
    parts += [
        pl.concat_str([pl.lit("o|"), pl.col("specialty"), pl.lit(f"|{o}")])
        for o in (*CHANGED_OUTCOMES, "confirmed")
    ]
    centre_hidden = pl.any_horizontal([_hidden(d, p) for p in parts])
    return _recentre(out.with_columns(_centre_hidden=centre_hidden), threshold).drop("_centre_hidden")


def _recentre(reviewers: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """Centre the funnel of specialties flagged `_centre_hidden` on the reviewers shown."""
    raw_flag = "raw_flag" if "raw_flag" in reviewers.columns else "flag"
    needed = {"specialty_rate", "lower_95", "upper_95", "lower_998", "upper_998", raw_flag, "change_rate"}
    if not needed <= set(reviewers.columns) or not reviewers["_centre_hidden"].any():
        return reviewers
    unit = pl.col("_centre_hidden") & ~pl.col("n_suppressed") & (pl.col("reviewer_id") != OTHER)
    rate = pl.when(unit).then(pl.col("n") * pl.col("change_rate")).sum().over("specialty") / pl.when(
        unit
    ).then(pl.col("n")).sum().over("specialty")
    out = reviewers.with_columns(_unit=unit, _rate=rate)
    centre = out["_rate"].fill_null(0.0).fill_nan(0.0).to_numpy()
    n = out["n"].fill_null(1).cast(pl.Float64).to_numpy()
    lo95, hi95 = funnel_limits(centre, n, 0.95)
    lo998, hi998 = funnel_limits(centre, n, 0.998)
    band = funnel_band(out["change_rate"].fill_null(float("nan")).to_numpy(), lo95, hi95, lo998, hi998)
    flags = [FLAG_NOT_ASSESSED if np.isnan(b) else FUNNEL_FLAGS[int(b)] for b in band.tolist()]
    out = out.with_columns(
        _l95=pl.Series(lo95),
        _u95=pl.Series(hi95),
        _l998=pl.Series(lo998),
        _u998=pl.Series(hi998),
        _flag=pl.Series(flags, dtype=pl.String),
    )
    swap = {
        "specialty_rate": "_rate",
        "lower_95": "_l95",
        "upper_95": "_u95",
        "lower_998": "_l998",
        "upper_998": "_u998",
        raw_flag: "_flag",
    }
    return out.with_columns(
        pl.when(pl.col("_unit"))
        .then(pl.col(new))
        .when(pl.col("_centre_hidden"))
        .then(None)
        .otherwise(pl.col(old))
        .alias(old)
        for old, new in swap.items()
    ).drop("_unit", "_rate", "_l95", "_u95", "_l998", "_u998", "_flag")


def _safe_concordance(conc: pl.DataFrame, d: Decision) -> pl.DataFrame:
    """Agreement: n, and the kappas and raw agreement with it (raw agreement times n is the
    agreeing count); n_no_tier on its own cell. The deferred and unclassified counts it left out
    are outcome counts, published (or not) in the outcome table."""
    out = _flags(conc.drop("n_deferred", "n_unclassified", strict=False), d, "n", _k("c", "specialty"))
    hidden = pl.col("n_suppressed") | _hidden(d, _k("c+", "specialty")) | _hidden(d, _k("c-", "specialty"))
    out = out.with_columns(n_suppressed=hidden, n=pl.when(hidden).then(None).otherwise(pl.col("n")))
    if "n_no_tier" in out.columns:
        out = _flags(out, d, "n_no_tier", _k("cx", "specialty"))
    own = (
        "specialty",
        "n",
        "n_primary",
        "n_suppressed",
        "n_no_tier",
        "n_no_tier_primary",
        "n_no_tier_suppressed",
    )
    measures = [c for c in out.columns if c not in own]
    return _hide(out, pl.col("n_suppressed"), measures)


def _safe_cost(cost: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = _flags(cost, d, "n_cases", _k("t", "specialty"))
    out = _flags(out, d, "n_verified", _k("cv+", "specialty"))
    verified_hidden = (
        pl.col("n_verified_suppressed") | _hidden(d, _k("cv-", "specialty")) | pl.col("n_cases_suppressed")
    )
    out = out.with_columns(
        n_verified_suppressed=verified_hidden,
        n_verified=pl.when(verified_hidden).then(None).otherwise(pl.col("n_verified")),
    )
    out = _hide(out, pl.col("n_cases_suppressed"), COST_MEASURES)
    out = _hide(out, pl.col("n_verified_suppressed"), REALIZED_MEASURES)
    return _safe_cost_counts(out, d, "", ["specialty"])


def _safe_cost_counts(out: pl.DataFrame, d: Decision, prefix: str, key: Sequence[str]) -> pl.DataFrame:
    """The cohort and unpriced counts of cost_impact or its segments, hidden with n_cases; the
    verified net with the closed cohort."""
    for cell, col in COST_COUNTS.items():
        if col not in out.columns:
            continue
        out = _flags(out, d, col, _k(prefix + cell, *key), keep_rows=True)
        gone = pl.col(col + SUPPRESSED_SUFFIX) | pl.col("n_cases_suppressed")
        out = out.with_columns(
            gone.alias(col + SUPPRESSED_SUFFIX), pl.when(gone).then(None).otherwise(pl.col(col)).alias(col)
        )
    if "n_closed_cohort_suppressed" in out.columns:
        out = _hide(
            out, pl.col("n_closed_cohort_suppressed") | pl.col("n_closed_cohort_collapsed"), VERIFIED_MEASURES
        )
    return out.drop([c for c in out.columns if c.endswith("_collapsed")])


def _safe_cost_rates(rates: pl.DataFrame, d: Decision) -> pl.DataFrame:
    """A rate with its n gives the events back and its Wilson interval gives n: where either count
    (or their difference) is hidden the observed rate goes, and the rate in force when it is the
    observed one. A pooled leakage rate rests on every leakage count of its specialty."""
    k = ["specialty", "parameter", "outcome"]
    out = _flags(rates, d, "n_closed", _k("cr", *k))
    out = _flags(out, d, "n_events", _k("cr+", *k))
    out = _flags(out, d, "n_no_claims", _k("crn", *k))
    hidden = pl.col("n_closed_suppressed") | pl.col("n_events_suppressed") | _hidden(d, _k("cr-", *k))
    out = out.with_columns(
        n_closed_suppressed=hidden,
        n_events_suppressed=hidden,
        n_closed=pl.when(hidden).then(None).otherwise(pl.col("n_closed")),
        n_events=pl.when(hidden).then(None).otherwise(pl.col("n_events")),
    )
    out = _hide(out, hidden, ["rate", "ci_low", "ci_high"])
    in_force = ["rate_used", "used_ci_low", "used_ci_high"]
    out = _hide(out, hidden & (pl.col("basis") == "observed"), in_force)
    pooled = (hidden & (pl.col("parameter") == "leakage")).any().over("specialty") & (
        pl.col("basis") == "pooled"
    )
    return _hide(out, pooled | _hidden(d, _k("t", "specialty")), in_force)


def _safe_segments(segments: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = _flags(segments, d, "n_cases", _k("seg", "dimension", "segment"))
    out = _flags(out, d, "n_verified", _k("seg+", "dimension", "segment"))
    verified_hidden = (
        pl.col("n_verified_suppressed")
        | _hidden(d, _k("seg-", "dimension", "segment"))
        | pl.col("n_cases_suppressed")
    )
    out = out.with_columns(
        n_verified_suppressed=verified_hidden,
        n_verified=pl.when(verified_hidden).then(None).otherwise(pl.col("n_verified")),
    )
    out = _hide(out, pl.col("n_cases_suppressed"), COST_MEASURES)
    out = _hide(out, pl.col("n_verified_suppressed"), REALIZED_MEASURES)
    return _safe_cost_counts(out, d, "seg", ["dimension", "segment"])


def _safe_sensitivity(sens: pl.DataFrame, d: Decision) -> pl.DataFrame:
    """A tornado row moves money by an exact function of counts (the fee by cases x fee, leakage by
    the leaking outcomes' cases): it is dropped where those counts are hidden."""
    leak = pl.any_horizontal(
        [
            _hidden(d, pl.concat_str([pl.lit("o|"), pl.col("specialty"), pl.lit(f"|{o}")]))
            for o in LEAKAGE_OUTCOMES
        ]
    )
    # one leakage row per outcome (leakage_<outcome>), or one for all in older marts
    own = pl.any_horizontal(
        [
            (pl.col("assumption") == f"leakage_{o}")
            & _hidden(d, pl.concat_str([pl.lit("o|"), pl.col("specialty"), pl.lit(f"|{o}")]))
            for o in CHANGED_OUTCOMES
        ]
    )
    hidden = _hidden(d, _k("t", "specialty")) | ((pl.col("assumption") == "leakage") & leak) | own
    return sens.filter(~hidden)


def _safe_targeting(targeting: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = _flags(targeting, d, "n", _k("g", "decile"))
    hidden = pl.col("n_suppressed") | _hidden(d, _k("g+", "decile")) | _hidden(d, _k("g-", "decile"))
    out = out.with_columns(n_suppressed=hidden, n=pl.when(hidden).then(None).otherwise(pl.col("n"))).sort(
        "decile"
    )
    out = _hide(out, pl.col("n_suppressed"), ["mean_score", "observed_change_rate", "lift"])
    return _hide(out, pl.col("n_suppressed").cast(pl.Int32).cum_max() > 0, ["cumulative_lift"])


def _safe_dq(files: pl.DataFrame, d: Decision) -> pl.DataFrame:
    out = files
    for m in (m for m in DQ_ROWS if m in files.columns):
        out = _flags(out, d, m, pl.concat_str([_k("dq", "record_type", "status"), pl.lit(f"|{m}")]))
    return out


def _safe_waiting(waiting: pl.DataFrame, d: Decision) -> pl.DataFrame:
    """The waiting opinions' row is always shown; its orphans are hidden with the count they are
    part of (a part of a small count is not published: it reads as hidden, never as "*")."""
    out = _flags(waiting, d, "n_waiting", _k("dqw", "record_type"))
    parts = pl.any_horizontal(
        _hidden(d, _k(p, "record_type")) | _k(p, "record_type").is_in(_collapsed_keys(d).implode())
        for p in ("dqw+", "dqw-")
    )
    gone = parts | pl.col("n_waiting_suppressed")
    primary = _k("dqw+", "record_type").is_in(_primary_keys(d).implode()) & ~pl.col("n_waiting_suppressed")
    return out.with_columns(
        n_orphans_primary=primary,
        n_orphans_suppressed=gone,
        n_orphans=pl.when(gone).then(None).otherwise(pl.col("n_orphans")),
    )


def _collapsed_keys(d: Decision) -> pl.Series:
    return d.cells.filter(pl.col("collapsed"))["key"]


def _primary_keys(d: Decision) -> pl.Series:
    return d.cells.filter(pl.col("primary") & pl.col("published"))["key"]


def publish(
    marts: dict[str, pl.DataFrame], threshold: int = DEFAULT_THRESHOLD, protection: int = DEFAULT_PROTECTION
) -> Published:
    """Every mart made safe to publish, decided together (see the module docstring)."""
    keys = marts.get("publication_keys")
    prepared = dict(marts)
    if (reviewers := _get(marts, "reviewer_variation")) is not None:
        prepared["reviewer_variation"] = fold_reviewers(reviewers, threshold, keys)
    if (segments := _get(marts, "cost_impact_segments")) is not None:
        prepared["cost_impact_segments"] = fold_segments(segments, threshold, keys)
    if (dist := _get(marts, "turnaround_distribution")) is not None:
        prepared["turnaround_distribution"] = fold_bins(dist, threshold)
    prepared = collapse_flows(prepared, threshold)
    decision = protect(cell_model(prepared).model(), threshold, protection=protection)
    frames: dict[str, pl.DataFrame] = {}
    apply = {
        "outcome_rates": lambda f: _safe_rates(f, decision),
        "outcome_rates_monthly": lambda f: _safe_monthly(f, decision),
        "procedure_flows": lambda f: _flags(
            f, decision, "n", _k("f", "specialty", "source", "target", "outcome")
        ),
        "turnaround": lambda f: _hide(
            _flags(f, decision, "n", _k("mt", "specialty", "month")),
            pl.col("n_suppressed"),
            ["median_days", "p90_days"],
        ),
        "turnaround_distribution": lambda f: _flags(f, decision, "n", _k("d", "specialty", "days")),
        "reviewer_variation": lambda f: _safe_reviewers(f, decision, threshold),
        "concordance": lambda f: _safe_concordance(f, decision),
        "cost_impact": lambda f: _safe_cost(f, decision),
        "cost_impact_segments": lambda f: _safe_segments(f, decision),
        "cost_sensitivity": lambda f: _safe_sensitivity(f, decision),
        "cost_rates": lambda f: _safe_cost_rates(f, decision),
        "outcome_provenance": lambda f: _safe_provenance(f, decision),
        "cost_assumptions": lambda f: f.filter(~_hidden(decision, _k("t", "specialty"))),
        "targeting": lambda f: _safe_targeting(f, decision),
        "data_quality_files": lambda f: _safe_dq(f, decision),
        "data_quality_rules": lambda f: _flags(
            f, decision, "n_rows", _k("dqr", "record_type", "field", "rule")
        ),
        "data_quality_waiting": lambda f: _safe_waiting(f, decision),
    }
    for name, fn in apply.items():
        frame = _get(prepared, name)
        if frame is not None and not (shown := _shown(frame)).is_empty():
            frames[name] = fn(shown)
    return Published(frames, decision, threshold)
