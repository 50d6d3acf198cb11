"""Reviewer marts: each reviewer's changes against what their case mix predicts (O/E funnels widened
for over-dispersion, with the raw-rate funnel beside them), and agreement between first and second
opinion (linearly weighted kappa on the tier, Cohen's kappa beside it)."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from pipelines.lib import stats
from pipelines.lib.marts.case_mix import MODEL, STRATA, case_expectations
from pipelines.lib.marts.common import MartContext, query
from pipelines.lib.vocabulary import ALL, CUSUM_DIRECTIONS, FLAG_NOT_ASSESSED, FUNNEL_FLAGS
from pipelines.lib.warehouse import write_table

#: Reviewers with fewer cases than this do not enter the over-dispersion estimate: their z-scores
#: are too far from normal to measure spread with (and the site never shows them). They are
#: still compared with the widened limits.
MIN_CASES_FOR_DISPERSION = 11
#: Winsorising fraction and test level of the over-dispersion estimate [spiegelhalter2005b].
WINSOR, DISPERSION_ALPHA = 0.1, 0.05


def flag_words(band: np.ndarray) -> pl.Series:
    """`stats.funnel_band` values as the vocabulary's words; a missing band is 'not assessed'."""
    words = [FLAG_NOT_ASSESSED if np.isnan(b) else FUNNEL_FLAGS[int(b)] for b in band.tolist()]
    return pl.Series(words, dtype=pl.String)


def reviewer_expectations(cases: pl.DataFrame) -> pl.DataFrame:
    """Per reviewer and specialty: n, observed changes, expected changes E = sum p, their null
    variance V = sum p(1 - p), and which expectation the cases had (model, strata or mixed)."""
    share = pl.col("basis").eq(MODEL).mean()
    return (
        cases.group_by("reviewer_id", "specialty")
        .agg(
            n=pl.len().cast(pl.Int64),
            n_changed=pl.col("changed").sum().cast(pl.Int64),
            expected=pl.col("expected").sum(),
            variance=(pl.col("expected") * (1.0 - pl.col("expected"))).sum(),
            expected_basis=pl.when(share == 1.0)
            .then(pl.lit(MODEL))
            .when(share == 0.0)
            .then(pl.lit(STRATA))
            .otherwise(pl.lit("mixed")),
        )
        .with_columns(
            change_rate=pl.col("n_changed") / pl.col("n"),
            specialty_rate=pl.col("n_changed").sum().over("specialty") / pl.col("n").sum().over("specialty"),
        )
        .sort("specialty", "reviewer_id")
    )


def specialty_dispersion(reviewers: pl.DataFrame) -> pl.DataFrame:
    """phi, its chi-square p-value and tau^2 per specialty, from reviewers with enough cases."""
    rows = []
    for (specialty,), part in reviewers.group_by("specialty", maintain_order=True):  # a few specialties
        used = part.filter(pl.col("n") >= MIN_CASES_FOR_DISPERSION)
        d = stats.dispersion(
            used["z"].to_numpy(), used["se"].to_numpy(), winsor=WINSOR, alpha=DISPERSION_ALPHA
        )
        rows.append((specialty, d.units, d.phi, d.p_value, d.tau2))
    return pl.DataFrame(
        rows,
        schema={
            "specialty": pl.String,
            "dispersion_units": pl.Int64,
            "phi": pl.Float64,
            "phi_p_value": pl.Float64,
            "tau2": pl.Float64,
        },
        orient="row",
    )


def reviewer_comparison(cases: pl.DataFrame) -> pl.DataFrame:
    """The whole comparison from per-case expectations (`case_mix.case_expectations`): raw-rate
    funnel, O/E with its interval, z, the specialty's phi and tau^2, O/E limits and the flags."""
    df = reviewer_expectations(cases)
    n, target = df["n"].to_numpy(), df["specialty_rate"].to_numpy()
    lo95, hi95 = stats.funnel_limits(target, n, 0.95)
    lo998, hi998 = stats.funnel_limits(target, n, 0.998)
    rate = df["change_rate"].to_numpy()
    o, e, v = (df[c].to_numpy().astype(float) for c in ("n_changed", "expected", "variance"))
    with np.errstate(divide="ignore", invalid="ignore"):
        o_e = np.where(e > 0, o / e, np.nan)
        se = np.where(e > 0, np.sqrt(v) / e, np.nan)
    df = df.with_columns(
        lower_95=pl.Series(lo95),
        upper_95=pl.Series(hi95),
        lower_998=pl.Series(lo998),
        upper_998=pl.Series(hi998),
        raw_flag=flag_words(stats.funnel_band(rate, lo95, hi95, lo998, hi998)),
        observed=pl.col("n_changed"),
        o_e=pl.Series(o_e),
        z=pl.Series(stats.standardised_z(o, e, v)),
        se=pl.Series(se),
    )
    df = df.join(specialty_dispersion(df), on="specialty", how="left")
    tau2 = df["tau2"].to_numpy()
    oe_lo95, oe_hi95 = stats.oe_limits(e, v, tau2, 0.95)
    oe_lo998, oe_hi998 = stats.oe_limits(e, v, tau2, 0.998)
    ci_low, ci_high = stats.oe_interval(o, n, e)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_adjusted = (o_e - 1.0) / np.sqrt(se**2 + tau2)
    return df.with_columns(
        o_e_ci_low=pl.Series(ci_low),
        o_e_ci_high=pl.Series(ci_high),
        z_adjusted=pl.Series(z_adjusted),
        o_e_lower_95=pl.Series(oe_lo95),
        o_e_upper_95=pl.Series(oe_hi95),
        o_e_lower_998=pl.Series(oe_lo998),
        o_e_upper_998=pl.Series(oe_hi998),
        flag=flag_words(stats.funnel_band(o_e, oe_lo95, oe_hi95, oe_lo998, oe_hi998)),
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


COLUMNS = (
    "reviewer_id",
    "specialty",
    "n",
    "n_changed",
    "change_rate",
    "specialty_rate",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "raw_flag",
    "observed",
    "expected",
    "variance",
    "expected_basis",
    "o_e",
    "o_e_ci_low",
    "o_e_ci_high",
    "z",
    "z_adjusted",
    "phi",
    "phi_p_value",
    "tau2",
    "o_e_lower_95",
    "o_e_upper_95",
    "o_e_lower_998",
    "o_e_upper_998",
    "flag",
    "cusum_high_signal_month",
    "cusum_low_signal_month",
)


def build_reviewer_variation(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.reviewer_variation: each reviewer's observed changes against those expected from their case mix.

    Changed = less_invasive, non_surgical, deferred, more_invasive or alternative; n counts the
    reviewer's classified cases (unclassified ones say nothing about the reviewer). expected sums
    each case's expected change probability (case_mix: the propensity model's out-of-fold score,
    else stratum rates; calibrated per specialty). O/E limits at 95% and 99.8% are widened by the
    specialty's DerSimonian-Laird tau^2 when phi (winsorised z-scores) shows over-dispersion
    (Spiegelhalter 2005); `flag` says where O/E falls, in words. The raw change rate keeps its
    exact binomial funnel around the specialty rate (`raw_flag`). The CUSUM columns give the
    month each reviewer's risk-adjusted CUSUM first signalled (marts.reviewer_cusum).
    """
    out = reviewer_comparison(case_expectations(conn))
    states = conn.sql("SELECT * FROM marts.reviewer_cusum").pl()
    write_table(
        conn,
        "marts.reviewer_variation",
        with_cusum_signals(out, states).select(COLUMNS).sort("specialty", "reviewer_id"),
    )


def with_cusum_signals(reviewers: pl.DataFrame, states: pl.DataFrame) -> pl.DataFrame:
    """The month each reviewer's CUSUMs first signalled (marts.reviewer_cusum), one column per direction."""
    wide = states.select("reviewer_id", "specialty", "direction", "first_signal_month").pivot(
        on="direction", index=["reviewer_id", "specialty"], values="first_signal_month"
    )
    for direction in CUSUM_DIRECTIONS:
        if direction not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Date).alias(direction))
    wide = wide.select(
        "reviewer_id",
        "specialty",
        pl.col(CUSUM_DIRECTIONS[0]).cast(pl.Date).alias("cusum_high_signal_month"),
        pl.col(CUSUM_DIRECTIONS[1]).cast(pl.Date).alias("cusum_low_signal_month"),
    )
    return reviewers.join(wide, on=["reviewer_id", "specialty"], how="left")


#: Why a case is not in the agreement table's n (marts.concordance n_<reason> columns).
LEFT_OUT: tuple[str, ...] = ("deferred", "unclassified", "no_tier")
TIERS = 5  # invasiveness tiers 0-4: the rows and columns of every confusion matrix


def build_concordance(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.concordance: linearly weighted and Cohen's kappa on the tier of first and second opinion, with raw agreement.

    The second opinion's tier: the recommended code's tier for less_invasive, more_invasive and
    alternative; the initial tier for confirmed; tier 0 for non_surgical. Weighted kappa gives
    partial credit by tier distance (a 4 -> 3 change is not a 4 -> 0 one); Cohen's kappa beside it
    counts only exact agreement. Both use the same n cases; left out, and counted: deferred,
    unclassified, and cases with no tier on one side (n_deferred, n_unclassified, n_no_tier).
    Bootstrap 95% CIs.
    """
    cells = query(conn, "concordance_cells")
    specialties = sorted(cells["specialty"].unique().to_list())
    rng = np.random.default_rng(ctx.settings.seed)
    resamples = ctx.settings.bootstrap_resamples
    rows = []
    for specialty in [ALL, *specialties]:
        part = cells if specialty == ALL else cells.filter(pl.col("specialty") == specialty)
        used = part.filter(pl.col("left_out").is_null())
        matrix = np.zeros((TIERS, TIERS), dtype=np.int64)
        np.add.at(
            matrix, (used["initial_tier"].to_numpy(), used["second_tier"].to_numpy()), used["n"].to_numpy()
        )
        kappa, low, high, raw = stats.kappa_interval(matrix, resamples, rng)
        weighted, w_low, w_high, _ = stats.kappa_interval(matrix, resamples, rng, weights="linear")
        left = {r: int(part.filter(pl.col("left_out") == r)["n"].sum()) for r in LEFT_OUT}
        rows.append(
            (specialty, int(matrix.sum()), weighted, w_low, w_high, kappa, low, high, raw, *left.values())
        )
    out = pl.DataFrame(
        rows,
        schema={
            "specialty": pl.Utf8,
            "n": pl.Int64,
            "weighted_kappa": pl.Float64,
            "weighted_kappa_ci_low": pl.Float64,
            "weighted_kappa_ci_high": pl.Float64,
            "kappa": pl.Float64,
            "kappa_ci_low": pl.Float64,
            "kappa_ci_high": pl.Float64,
            "raw_agreement": pl.Float64,
            **{f"n_{r}": pl.Int64 for r in LEFT_OUT},
        },
        orient="row",
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    write_table(conn, "marts.concordance", out)
