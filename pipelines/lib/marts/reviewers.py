"""Reviewer marts: change rates against funnel limits, and agreement between first and second opinion."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from pipelines.lib import stats
from pipelines.lib.marts.common import MartContext, query
from pipelines.lib.vocabulary import ALL, CHANGED_OUTCOMES
from pipelines.lib.warehouse import write_table


def build_reviewer_variation(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.reviewer_variation: each reviewer's change rate against exact binomial funnel limits.

    Changed = less_invasive, non_surgical, deferred, more_invasive or alternative; n counts the
    reviewer's classified cases (unclassified ones say nothing about the reviewer). The target
    is the specialty's overall change rate; rates are not case-mix adjusted (Spiegelhalter 2005).
    """
    df = query(conn, "reviewer_counts", changed=list(CHANGED_OUTCOMES))
    target, n = df["specialty_rate"].to_numpy(), df["n"].to_numpy()
    lo95, hi95 = stats.funnel_limits(target, n, 0.95)
    lo998, hi998 = stats.funnel_limits(target, n, 0.998)
    rate = pl.col("change_rate")
    out = df.with_columns(
        pl.Series("lower_95", lo95),
        pl.Series("upper_95", hi95),
        pl.Series("lower_998", lo998),
        pl.Series("upper_998", hi998),
    ).with_columns(
        pl.when(rate > pl.col("upper_998"))
        .then(pl.lit("high_998"))
        .when(rate > pl.col("upper_95"))
        .then(pl.lit("high_95"))
        .when(rate < pl.col("lower_998"))
        .then(pl.lit("low_998"))
        .when(rate < pl.col("lower_95"))
        .then(pl.lit("low_95"))
        .otherwise(pl.lit("within"))
        .alias("flag")
    )
    write_table(conn, "marts.reviewer_variation", out.sort("specialty", "reviewer_id"))


def build_concordance(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.concordance: Cohen's kappa on the invasiveness tier of first and second opinion, with raw agreement.

    The second opinion's tier: the recommended code's tier for less_invasive, more_invasive and
    alternative; the initial tier for confirmed; tier 0 for non_surgical. Deferred and
    unclassified cases have no second tier yet and are left out. Bootstrap 95% CI.
    """
    cells = query(conn, "concordance_cells")
    specialties = sorted(cells["specialty"].unique().to_list())
    rng = np.random.default_rng(ctx.settings.seed)
    rows = []
    for specialty in [ALL, *specialties]:
        part = cells if specialty == ALL else cells.filter(pl.col("specialty") == specialty)
        matrix = np.zeros((5, 5), dtype=np.int64)
        np.add.at(
            matrix, (part["initial_tier"].to_numpy(), part["second_tier"].to_numpy()), part["n"].to_numpy()
        )
        kappa, low, high, raw = stats.kappa_interval(matrix, ctx.settings.bootstrap_resamples, rng)
        rows.append((specialty, int(matrix.sum()), kappa, low, high, raw))
    out = pl.DataFrame(
        rows,
        schema={
            "specialty": pl.Utf8,
            "n": pl.Int64,
            "kappa": pl.Float64,
            "kappa_ci_low": pl.Float64,
            "kappa_ci_high": pl.Float64,
            "raw_agreement": pl.Float64,
        },
        orient="row",
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    write_table(conn, "marts.concordance", out)
