"""Cost marts: cost avoided per specialty and segment with bootstrap intervals, and its sensitivity."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from pipelines.lib import stats
from pipelines.lib.core.costs import LEAKAGE_HIGH, LEAKAGE_LOW, CostAssumptions, sensitivity_scenarios
from pipelines.lib.marts.common import MartContext, query, specialty_order
from pipelines.lib.vocabulary import ALL
from pipelines.lib.warehouse import write_table


def cost_measures(
    codes: np.ndarray,
    labels: list[str],
    projected: np.ndarray,
    realized: np.ndarray,
    verified: np.ndarray,
    fee: float,
    resamples: int,
    seed: int,
    with_total: str | None = None,
) -> pl.DataFrame:
    """Gross, programme cost, net, per case, ROI and realized totals per group, with 95% bootstrap CIs.

    `codes` (0..len(labels)-1) name each case's group. Cases are resampled within each group
    (stratified), so each group's review count and hence its programme cost are fixed; the
    optional total row (`with_total`, e.g. 'all') sums the groups' replicates. ROI = net
    avoided / programme cost: net dollars returned per programme dollar, as the methodology page
    states (the gross-to-cost ratio of J Am Coll Surg 1997, 1.34, is ROI + 1). realized_net =
    realized_avoided - fee x n_verified (the verified cohort pays its own reviews).
    """
    k = len(labels)
    rng = np.random.default_rng(seed)
    n = np.bincount(codes, minlength=k).astype(float)
    gross = np.bincount(codes, weights=projected, minlength=k)
    real = np.bincount(codes, weights=realized, minlength=k)
    n_ver = np.bincount(codes, weights=verified.astype(float), minlength=k)
    rep_g = stats.bootstrap_sums(projected, codes, n_strata=k, resamples=resamples, seed=rng)
    rep_r = stats.bootstrap_sums(realized, codes, n_strata=k, resamples=resamples, seed=rng)
    names = list(labels)
    if with_total is not None:
        names.append(with_total)
        n, gross, real, n_ver = (np.append(a, a.sum()) for a in (n, gross, real, n_ver))
        rep_g = np.column_stack([rep_g, rep_g.sum(axis=1)])
        rep_r = np.column_stack([rep_r, rep_r.sum(axis=1)])
    program = n * fee
    with np.errstate(divide="ignore", invalid="ignore"):
        per_n = np.where(n > 0, 1.0 / n, np.nan)
        per_fee = np.where(program > 0, 1.0 / program, np.nan)
    g_lo, g_hi = stats.percentile_interval(rep_g)
    r_lo, r_hi = stats.percentile_interval(rep_r)
    net = gross - program
    columns = {
        "n_cases": n.astype(np.int64),
        "gross_avoided": gross,
        "gross_ci_low": g_lo,
        "gross_ci_high": g_hi,
        "program_cost": program,
        "net_avoided": net,
        "net_ci_low": g_lo - program,
        "net_ci_high": g_hi - program,
        "per_case_net": net * per_n,
        "per_case_ci_low": (g_lo - program) * per_n,
        "per_case_ci_high": (g_hi - program) * per_n,
        "roi": net * per_fee,
        "roi_ci_low": (g_lo - program) * per_fee,
        "roi_ci_high": (g_hi - program) * per_fee,
        "n_verified": n_ver.astype(np.int64),
        "realized_avoided": real,
        "realized_ci_low": r_lo,
        "realized_ci_high": r_hi,
        "realized_net": real - fee * n_ver,
    }
    out = pl.DataFrame({"segment": names, **columns}, schema_overrides={"segment": pl.Utf8})
    return out.with_columns(pl.col(pl.Float64).fill_nan(None))


def _measures_by(cases: pl.DataFrame, column: str, ctx: MartContext, with_total: str | None) -> pl.DataFrame:
    """cost_measures over the groups of one column of the per-case frame (sql/cost_cases.sql)."""
    labels = cases[column].unique().sort()
    codes = cases[column].rank("dense").cast(pl.Int64) - 1 if cases.height else pl.Series([], dtype=pl.Int64)
    s = ctx.settings
    return cost_measures(
        codes.to_numpy(),
        labels.to_list(),
        cases["projected"].to_numpy(),
        cases["realized"].to_numpy(),
        cases["verified"].to_numpy(),
        s.program_fee_usd,
        s.bootstrap_resamples,
        s.seed,
        with_total=with_total,
    )


def build_cost_impact(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_impact: cost avoided per specialty and 'all', projected and verified, with 95% bootstrap CIs."""
    cases = query(conn, "cost_cases")
    out = _measures_by(cases, "specialty", ctx, with_total=ALL).rename({"segment": "specialty"})
    write_table(conn, "marts.cost_impact", out.sort(specialty_order(), "specialty"))


def build_cost_impact_segments(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_impact_segments: the cost_impact measures by payer type and by plan ('unknown' if missing)."""
    cases = query(conn, "cost_cases")
    parts = [
        _measures_by(cases, dimension, ctx, with_total=None).select(
            pl.lit(dimension).alias("dimension"), pl.all()
        )
        for dimension in ("payer_type", "plan_id")
    ]
    write_table(conn, "marts.cost_impact_segments", pl.concat(parts).sort("dimension", "segment"))


def build_cost_sensitivity(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_sensitivity: net avoided with each assumption moved alone (the tornado chart's data).

    Exact closed forms of costs.case_costs under costs.sensitivity_scenarios: prices x m scale
    every projected saving by m; a leakage L' changes each non_surgical/deferred case by
    (leakage_used - L') x cost_initial; the fee moves only the programme cost. Leakage low/high
    are the lowest and highest published rates (Schmerz 2023: 18%; J Am Coll Surg 1997: 38%).
    """
    agg = query(conn, "cost_sensitivity_terms")
    base = CostAssumptions.from_settings(ctx.settings)
    fee = base.program_fee_usd
    base_net = pl.col("gross") - fee * pl.col("n")
    rows = []
    for assumption, scenario, setting, moved in sensitivity_scenarios(base):
        if assumption == "prices":
            net = pl.col("gross") * (moved.price_multiplier / base.price_multiplier) - fee * pl.col("n")
        elif assumption == "leakage":
            level = LEAKAGE_LOW if scenario == "low" else LEAKAGE_HIGH
            net = pl.col("gross") + pl.col("leak_term") - level * pl.col("exposed") - fee * pl.col("n")
        else:
            net = pl.col("gross") - moved.program_fee_usd * pl.col("n")
        rows.append(
            agg.select(
                "specialty",
                pl.lit(assumption).alias("assumption"),
                pl.lit(scenario).alias("scenario"),
                pl.lit(setting).alias("setting"),
                net.cast(pl.Float64).alias("net_avoided"),
                base_net.cast(pl.Float64).alias("base_net_avoided"),
            )
        )
    out = pl.concat(rows).with_columns((pl.col("net_avoided") - pl.col("base_net_avoided")).alias("delta"))
    write_table(
        conn, "marts.cost_sensitivity", out.sort(specialty_order(), "specialty", "assumption", "scenario")
    )
