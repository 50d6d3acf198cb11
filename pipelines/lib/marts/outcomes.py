"""Outcome marts: rates with Wilson intervals, the monthly p-chart series and procedure flows."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from pipelines.lib import stats
from pipelines.lib.marts.common import MartContext, create_table, outcome_order, query, specialty_order
from pipelines.lib.vocabulary import OUTCOMES
from pipelines.lib.warehouse import write_table


def build_outcome_rates(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.outcome_rates: every outcome (zero counts included) per specialty and 'all', Wilson 95%.

    Pending cases are not in core.case_outcomes, so they never enter a rate; unclassified
    cases are in the denominator and shown as their own outcome.
    """
    counts = query(conn, "outcome_counts", outcomes=list(OUTCOMES))
    low, high = stats.wilson_interval(counts["n"].to_numpy(), counts["total"].to_numpy())
    out = counts.with_columns(
        pl.when(pl.col("total") > 0).then(pl.col("n") / pl.col("total")).alias("rate"),
        pl.Series("ci_low", low).fill_nan(None),
        pl.Series("ci_high", high).fill_nan(None),
    ).sort(specialty_order(), "specialty", outcome_order())
    write_table(conn, "marts.outcome_rates", out)


def build_outcome_rates_monthly(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.outcome_rates_monthly: the p-chart of each specialty x outcome over months of the opinion.

    Centre line = the outcome's rate over all months of that specialty; limits are 3-sigma for
    each month's own denominator; `signal` marks a month outside them.
    """
    counts = query(conn, "outcome_counts_monthly", outcomes=list(OUTCOMES))
    lcl, ucl = stats.p_chart_limits(counts["center_line"].to_numpy(), counts["total"].to_numpy())
    out = (
        counts.with_columns(
            pl.when(pl.col("total") > 0).then(pl.col("n") / pl.col("total")).alias("rate"),
            pl.Series("lcl", lcl).fill_nan(None),
            pl.Series("ucl", ucl).fill_nan(None),
        )
        .with_columns(
            ((pl.col("rate") < pl.col("lcl")) | (pl.col("rate") > pl.col("ucl")))
            .fill_null(False)
            .alias("signal")
        )
        .select("specialty", "month", "outcome", "n", "total", "rate", "center_line", "lcl", "ucl", "signal")
        .sort(specialty_order(), "specialty", "month", outcome_order())
    )
    write_table(conn, "marts.outcome_rates_monthly", out)


def build_procedure_flows(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.procedure_flows: Sankey links from the first recommendation's family to where the opinion led.

    target = the recommended family for less_invasive, more_invasive and alternative, else the
    outcome itself. Source and target are different sides of the diagram: the same family name
    can appear on both (e.g. open to laparoscopic hysterectomy), so nodes are labelled by side.
    """
    create_table(conn, "marts.procedure_flows", "procedure_flows")


def build_review_queue(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.review_queue: the cases a person should read, by uncertainty times the cost at stake (case level, never published)."""
    create_table(conn, "marts.review_queue", "review_queue")


#: People's labels the text path's accuracy needs before it is published (the issue's floor).
MIN_HUMAN_LABELS = 30


def text_path_accuracy(
    conn: duckdb.DuckDBPyConnection, threshold: float
) -> dict[str, float | int | str | None]:
    """Accuracy of the text path's own reading on opinions people labelled, Wilson 95%.

    None (with the count) below MIN_HUMAN_LABELS: a handful of labels is no validation.
    """
    rows = query(conn, "text_validation", threshold=float(threshold))
    n = rows.height
    if n < MIN_HUMAN_LABELS:
        return {
            "n": n,
            "accuracy": None,
            "ci_low": None,
            "ci_high": None,
            "basis": f"{n} human labels, fewer than {MIN_HUMAN_LABELS}: not yet validated",
        }
    correct = int((rows["label"] == rows["text_reading"]).sum())
    low, high = stats.wilson_interval(np.array([correct]), np.array([n]))
    return {
        "n": n,
        "accuracy": correct / n,
        "ci_low": float(low[0]),
        "ci_high": float(high[0]),
        "basis": f"{correct} of {n} human labels agree with the text path's reading",
    }


def build_outcome_provenance(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.outcome_provenance: per specialty and outcome, cases decided by structured fields, text extraction, the classifier and people, with the text path's validated accuracy.

    The counts add up to outcome_rates' n; the accuracy (on human labels, Wilson 95%) is the same
    on every row and null until MIN_HUMAN_LABELS labels exist.
    """
    counts = query(conn, "outcome_provenance", outcomes=list(OUTCOMES))
    acc = text_path_accuracy(conn, ctx.settings.text_model_threshold)
    out = counts.with_columns(
        pl.lit(acc["accuracy"], dtype=pl.Float64).alias("text_accuracy"),
        pl.lit(acc["ci_low"], dtype=pl.Float64).alias("text_accuracy_ci_low"),
        pl.lit(acc["ci_high"], dtype=pl.Float64).alias("text_accuracy_ci_high"),
        pl.lit(acc["n"], dtype=pl.Int64).alias("text_accuracy_n"),
        pl.lit(acc["basis"], dtype=pl.String).alias("text_accuracy_basis"),
    ).sort(specialty_order(), "specialty", outcome_order())
    write_table(conn, "marts.outcome_provenance", out)
