"""marts.reviewer_cusum: each reviewer's risk-adjusted CUSUMs over time (Steiner et al. 2000 [steiner2000]).

A funnel compares reviewers over the whole period; a CUSUM watches each reviewer case by case, in
opinion-date order, and signals when their changes run persistently above (or below) what their
case mix predicts. Two charts per reviewer: odds of a change multiplied by `cusum_odds_ratio`
('higher') and divided by it ('lower'). The threshold h is set per specialty, from that
specialty's case mix, for the in-control average run length `cusum_in_control_arl` (cases).

The mart keeps the chart's state, not its path: a per-case path would give each case's outcome
away, and the site publishes only whether and in which month a chart signalled.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.lib import stats
from pipelines.lib.marts.case_mix import case_expectations
from pipelines.lib.marts.common import MartContext
from pipelines.lib.vocabulary import CUSUM_DIRECTIONS
from pipelines.lib.warehouse import write_table

SCHEMA = {
    "reviewer_id": pl.String,
    "specialty": pl.String,
    "direction": pl.String,
    "odds_ratio": pl.Float64,
    "in_control_arl": pl.Int64,
    "n": pl.Int64,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
    "signalled": pl.Boolean,
    "first_signal_month": pl.Date,
    "signalling_now": pl.Boolean,
    "first_month": pl.Date,
    "last_month": pl.Date,
}


def cusum_states(cases: pl.DataFrame, odds_ratio: float, in_control_arl: int) -> pl.DataFrame:
    """One row per reviewer, specialty and direction: the charts' current state.

    `cases` as from `case_mix.case_expectations`: sorted by specialty, reviewer and opinion date,
    with changed (0/1) and expected (probability). Each specialty's threshold comes from its own
    cases' expected probabilities (`stats.ra_cusum_threshold`).
    """
    if cases.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    work = cases.with_columns(
        _unit=pl.concat_str("specialty", "reviewer_id", separator="\x1f"),
        _month=pl.col("opinion_date").dt.truncate("1mo"),
    )
    unit = work["_unit"].to_numpy()
    changed, expected = work["changed"].to_numpy(), work["expected"].to_numpy()
    parts = []
    for direction, odds in zip(CUSUM_DIRECTIONS, (odds_ratio, 1.0 / odds_ratio), strict=True):
        thresholds = {
            s: stats.ra_cusum_threshold(part["expected"].to_numpy(), odds, in_control_arl)
            for (s,), part in work.group_by("specialty")
        }
        path = stats.cusum_path(stats.ra_cusum_scores(changed, expected, odds), unit)
        charted = work.with_columns(
            _s=pl.Series(path),
            _h=pl.col("specialty").replace_strict(thresholds, return_dtype=pl.Float64),
        ).with_columns(_over=pl.col("_s") > pl.col("_h"))
        state = charted.group_by("reviewer_id", "specialty", maintain_order=True).agg(
            n=pl.len(),
            statistic=pl.col("_s").last(),
            threshold=pl.col("_h").first(),
            signalled=pl.col("_over").any(),
            first_signal_month=pl.col("_month").filter(pl.col("_over")).first(),
            signalling_now=pl.col("_over").last(),
            first_month=pl.col("_month").first(),
            last_month=pl.col("_month").last(),
        )
        parts.append(
            state.with_columns(
                direction=pl.lit(direction),
                odds_ratio=pl.lit(float(odds)),
                in_control_arl=pl.lit(int(in_control_arl), dtype=pl.Int64),
            )
        )
    out = pl.concat(parts).select(list(SCHEMA)).cast(SCHEMA)  # type: ignore[arg-type]
    return out.sort("specialty", "reviewer_id", "direction")


def build_reviewer_cusum(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.reviewer_cusum: each reviewer's risk-adjusted CUSUMs: statistic, threshold, first signal.

    Scores per case W = y log R - log(1 - p + R p) (Steiner et al. 2000) with p the case-mix
    expectation of marts.reviewer_variation; S = max(0, S + W) in opinion-date order; a signal is
    S > h, h set for an in-control average run length of `cusum_in_control_arl` cases.
    """
    states = cusum_states(
        case_expectations(conn), ctx.settings.cusum_odds_ratio, ctx.settings.cusum_in_control_arl
    )
    write_table(conn, "marts.reviewer_cusum", states)
