"""Marts: the aggregates the dashboards, exports and the run summary read (docs/warehouse.md).

One function per table, `(conn, settings) -> None`, each replacing `marts.<name>`; MART_BUILDERS
lists them in an order that satisfies their inputs (MART_INPUTS names the tables each reads, for
the Dagster wiring). Aggregation is set-based DuckDB SQL; only the small aggregated frames go
through numpy for the intervals (Wilson, p-chart, funnel, kappa, bootstrap).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
import numpy as np
import polars as pl

from pipelines import stats
from pipelines.costs import LEAKAGE_HIGH, LEAKAGE_LOW, CostAssumptions, sensitivity_scenarios
from pipelines.outcomes import CHANGED_OUTCOMES, OUTCOMES, build_review_queue
from pipelines.settings import Settings
from pipelines.warehouse import table_exists, write_table

ALL = "all"
_OUTCOME_LIST = "[" + ", ".join(f"'{o}'" for o in OUTCOMES) + "]"
_CHANGED_LIST = "(" + ", ".join(f"'{o}'" for o in CHANGED_OUTCOMES) + ")"
#: Upper edges (days) of the turnaround histogram; longer waits go to the next multiple of 365.
TURNAROUND_EDGES: tuple[int, ...] = (0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, 120, 150, 180, 270, 365)


def _sql_table(conn: duckdb.DuckDBPyConnection, table: str, sql: str) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}")



def _outcome_order() -> pl.Expr:
    return pl.col("outcome").replace_strict(list(OUTCOMES), list(range(len(OUTCOMES))), default=len(OUTCOMES))


def _specialty_order() -> pl.Expr:
    return pl.col("specialty") != ALL


# --- outcome rates -----------------------------------------------------------------------------


def build_outcome_rates(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.outcome_rates: every outcome (zero counts included) per specialty and 'all', Wilson 95%.

    Pending cases are not in core.case_outcomes, so they never enter a rate; unclassified
    cases are in the denominator and shown as their own outcome.
    """
    counts = conn.sql(
        f"""
        WITH c AS (
            SELECT specialty, outcome, count(*) AS n FROM core.case_outcomes GROUP BY ALL
            UNION ALL
            SELECT '{ALL}', outcome, count(*) FROM core.case_outcomes GROUP BY ALL
        ),
        specs AS (SELECT DISTINCT specialty FROM c UNION SELECT '{ALL}'),
        grid AS (SELECT specialty, unnest({_OUTCOME_LIST}) AS outcome FROM specs)
        SELECT g.specialty, g.outcome, CAST(coalesce(c.n, 0) AS BIGINT) AS n,
               CAST(sum(coalesce(c.n, 0)) OVER (PARTITION BY g.specialty) AS BIGINT) AS total
        FROM grid g LEFT JOIN c USING (specialty, outcome)
        """
    ).pl()
    low, high = stats.wilson_interval(counts["n"].to_numpy(), counts["total"].to_numpy())
    out = counts.with_columns(
        pl.when(pl.col("total") > 0).then(pl.col("n") / pl.col("total")).alias("rate"),
        pl.Series("ci_low", low).fill_nan(None),
        pl.Series("ci_high", high).fill_nan(None),
    ).sort(_specialty_order(), "specialty", _outcome_order())
    write_table(conn, "marts.outcome_rates", out)


def build_outcome_rates_monthly(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.outcome_rates_monthly: p-chart per specialty x outcome over months of the opinion date.

    Centre line = the outcome's rate over all months of that specialty; limits are 3-sigma for
    each month's own denominator; `signal` marks a month outside them.
    """
    counts = conn.sql(
        f"""
        WITH base AS (
            SELECT specialty, CAST(date_trunc('month', opinion_date) AS DATE) AS month, outcome
            FROM core.case_outcomes
        ),
        c AS (
            SELECT specialty, month, outcome, count(*) AS n FROM base GROUP BY ALL
            UNION ALL
            SELECT '{ALL}', month, outcome, count(*) FROM base GROUP BY ALL
        ),
        cells AS (SELECT DISTINCT specialty, month FROM c),
        grid AS (SELECT specialty, month, unnest({_OUTCOME_LIST}) AS outcome FROM cells),
        full_grid AS (
            SELECT g.specialty, g.month, g.outcome, CAST(coalesce(c.n, 0) AS BIGINT) AS n,
                   CAST(sum(coalesce(c.n, 0)) OVER (PARTITION BY g.specialty, g.month) AS BIGINT) AS total
            FROM grid g LEFT JOIN c USING (specialty, month, outcome)
        )
        SELECT *, sum(n) OVER (PARTITION BY specialty, outcome) / sum(total) OVER (PARTITION BY specialty, outcome)
                  AS center_line
        FROM full_grid
        """
    ).pl()
    lcl, ucl = stats.p_chart_limits(counts["center_line"].to_numpy(), counts["total"].to_numpy())
    out = (
        counts.with_columns(
            pl.when(pl.col("total") > 0).then(pl.col("n") / pl.col("total")).alias("rate"),
            pl.Series("lcl", lcl).fill_nan(None),
            pl.Series("ucl", ucl).fill_nan(None),
        )
        .with_columns(((pl.col("rate") < pl.col("lcl")) | (pl.col("rate") > pl.col("ucl"))).fill_null(False).alias("signal"))
        .select("specialty", "month", "outcome", "n", "total", "rate", "center_line", "lcl", "ucl", "signal")
        .sort(_specialty_order(), "specialty", "month", _outcome_order())
    )
    write_table(conn, "marts.outcome_rates_monthly", out)


# --- cost impact -------------------------------------------------------------------------------

_COST_MEASURES = (
    "n_cases", "gross_avoided", "gross_ci_low", "gross_ci_high", "program_cost",
    "net_avoided", "net_ci_low", "net_ci_high", "per_case_net", "per_case_ci_low", "per_case_ci_high",
    "roi", "roi_ci_low", "roi_ci_high", "n_verified", "realized_avoided", "realized_ci_low",
    "realized_ci_high", "realized_net",
)


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
    states (the gross-to-cost ratio literature.md §3.1 quotes, J Am Coll Surg 1997: 1.34, is
    ROI + 1). realized_net = realized_avoided - fee x n_verified (the
    verified cohort pays its own reviews).
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
        "gross_avoided": gross, "gross_ci_low": g_lo, "gross_ci_high": g_hi,
        "program_cost": program,
        "net_avoided": net, "net_ci_low": g_lo - program, "net_ci_high": g_hi - program,
        "per_case_net": net * per_n, "per_case_ci_low": (g_lo - program) * per_n,
        "per_case_ci_high": (g_hi - program) * per_n,
        "roi": net * per_fee, "roi_ci_low": (g_lo - program) * per_fee, "roi_ci_high": (g_hi - program) * per_fee,
        "n_verified": n_ver.astype(np.int64),
        "realized_avoided": real, "realized_ci_low": r_lo, "realized_ci_high": r_hi,
        "realized_net": real - fee * n_ver,
    }
    out = pl.DataFrame({"segment": names, **columns}, schema_overrides={"segment": pl.Utf8})
    return out.with_columns(pl.col(pl.Float64).fill_nan(None))


def _cost_arrays(
    conn: duckdb.DuckDBPyConnection, group_sql: str
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(group codes, group labels, projected, realized (0 if unknown), verified flag) from core.case_costs."""
    df = conn.sql(
        f"""SELECT {group_sql} AS grp, coalesce(projected_avoided, 0.0) AS projected,
                   coalesce(realized_avoided, 0.0) AS realized,
                   realized_status IN ('verified_avoided', 'leaked') AS verified
            FROM core.case_costs"""
    ).pl()
    labels = df["grp"].unique().sort()
    codes = df["grp"].rank("dense").cast(pl.Int64) - 1 if df.height else pl.Series([], dtype=pl.Int64)
    return (
        codes.to_numpy(),
        labels.to_list(),
        df["projected"].to_numpy(),
        df["realized"].to_numpy(),
        df["verified"].fill_null(False).to_numpy(),
    )


def build_cost_impact(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.cost_impact: per specialty and 'all'; projected and verified side by side, 95% bootstrap CIs."""
    codes, labels, projected, realized, verified = _cost_arrays(conn, "specialty")
    out = cost_measures(
        codes, labels, projected, realized, verified, settings.program_fee_usd,
        settings.bootstrap_resamples, settings.seed, with_total=ALL,
    ).rename({"segment": "specialty"})
    write_table(conn, "marts.cost_impact", out.sort(_specialty_order(), "specialty"))


def build_cost_impact_segments(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.cost_impact_segments: the cost_impact measures by payer_type and by plan_id ('unknown' if missing)."""
    parts = []
    for dimension in ("payer_type", "plan_id"):
        codes, labels, projected, realized, verified = _cost_arrays(conn, f"coalesce({dimension}, 'unknown')")
        part = cost_measures(
            codes, labels, projected, realized, verified, settings.program_fee_usd,
            settings.bootstrap_resamples, settings.seed,
        )
        parts.append(part.select(pl.lit(dimension).alias("dimension"), pl.all()))
    write_table(conn, "marts.cost_impact_segments", pl.concat(parts).sort("dimension", "segment"))


def build_cost_sensitivity(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.cost_sensitivity: net avoided with each assumption moved alone (tornado chart data).

    Exact closed forms of costs.case_costs under costs.sensitivity_scenarios: prices x m scale
    every projected saving by m; a leakage L' changes each non_surgical/deferred case by
    (leakage_used - L') x cost_initial; the fee moves only the programme cost. Leakage low/high
    are the lowest and highest published rates (Schmerz 2023: 18%; J Am Coll Surg 1997: 38%).
    """
    agg = conn.sql(
        f"""
        WITH a AS (
            SELECT specialty, count(*) AS n, sum(coalesce(projected_avoided, 0)) AS gross,
                   sum(CASE WHEN leakage_used IS NOT NULL THEN cost_initial ELSE 0 END) AS exposed,
                   sum(coalesce(leakage_used * cost_initial, 0)) AS leak_term
            FROM core.case_costs GROUP BY specialty
        )
        SELECT * FROM a
        UNION ALL SELECT '{ALL}', sum(n), sum(gross), sum(exposed), sum(leak_term) FROM a
        """
    ).pl()
    if agg.filter(pl.col("specialty") == ALL)["n"].null_count():
        agg = agg.with_columns(pl.col("n", "gross", "exposed", "leak_term").fill_null(0))
    base = CostAssumptions.from_settings(settings)
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
    write_table(conn, "marts.cost_sensitivity", out.sort(_specialty_order(), "specialty", "assumption", "scenario"))


# --- reviewers, agreement, turnaround, flows ---------------------------------------------------


def build_reviewer_variation(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.reviewer_variation: change rate per reviewer and specialty against exact binomial funnel limits.

    Changed = less_invasive, non_surgical, deferred, more_invasive or alternative; n counts the
    reviewer's classified cases (unclassified ones say nothing about the reviewer). The target
    is the specialty's overall change rate; rates are not case-mix adjusted (Spiegelhalter 2005).
    """
    df = conn.sql(
        f"""
        WITH r AS (
            SELECT reviewer_id, specialty,
                   count(*) FILTER (WHERE outcome <> 'unclassified') AS n,
                   count(*) FILTER (WHERE outcome IN {_CHANGED_LIST}) AS n_changed
            FROM core.case_outcomes GROUP BY ALL
        )
        SELECT reviewer_id, specialty, n, n_changed, n_changed / n AS change_rate,
               sum(n_changed) OVER (PARTITION BY specialty) / sum(n) OVER (PARTITION BY specialty) AS specialty_rate
        FROM r WHERE n > 0
        """
    ).pl()
    target, n = df["specialty_rate"].to_numpy(), df["n"].to_numpy()
    lo95, hi95 = stats.funnel_limits(target, n, 0.95)
    lo998, hi998 = stats.funnel_limits(target, n, 0.998)
    rate = pl.col("change_rate")
    out = df.with_columns(
        pl.Series("lower_95", lo95), pl.Series("upper_95", hi95),
        pl.Series("lower_998", lo998), pl.Series("upper_998", hi998),
    ).with_columns(
        pl.when(rate > pl.col("upper_998")).then(pl.lit("high_998"))
        .when(rate > pl.col("upper_95")).then(pl.lit("high_95"))
        .when(rate < pl.col("lower_998")).then(pl.lit("low_998"))
        .when(rate < pl.col("lower_95")).then(pl.lit("low_95"))
        .otherwise(pl.lit("within"))
        .alias("flag")
    )
    write_table(conn, "marts.reviewer_variation", out.sort("specialty", "reviewer_id"))


def build_concordance(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.concordance: Cohen's kappa and raw agreement between the first and second tier.

    The second opinion's tier: the recommended code's tier for less_invasive, more_invasive and
    alternative; the initial tier for confirmed (same code, same-tier same family, or proceed
    without a code); tier 0 for non_surgical (conservative care, whatever code came with it).
    Deferred and unclassified cases have no second tier yet and are left out. Bootstrap 95% CI.
    """
    cells = conn.sql(
        """
        WITH t AS (
            SELECT specialty, initial_tier,
                   CASE outcome WHEN 'non_surgical' THEN 0 WHEN 'confirmed' THEN initial_tier
                        ELSE recommended_tier END AS second_tier
            FROM core.case_outcomes
            WHERE outcome IN ('confirmed', 'less_invasive', 'non_surgical', 'more_invasive', 'alternative')
              AND initial_tier IS NOT NULL
        )
        SELECT specialty, initial_tier, second_tier, count(*) AS n FROM t
        WHERE second_tier IS NOT NULL GROUP BY ALL
        """
    ).pl()
    specialties = sorted(cells["specialty"].unique().to_list())
    rng = np.random.default_rng(settings.seed)
    rows = []
    for specialty in [ALL, *specialties]:
        part = cells if specialty == ALL else cells.filter(pl.col("specialty") == specialty)
        matrix = np.zeros((5, 5), dtype=np.int64)
        np.add.at(matrix, (part["initial_tier"].to_numpy(), part["second_tier"].to_numpy()), part["n"].to_numpy())
        kappa, low, high, raw = stats.kappa_interval(matrix, settings.bootstrap_resamples, rng)
        rows.append((specialty, int(matrix.sum()), kappa, low, high, raw))
    out = pl.DataFrame(
        rows,
        schema={"specialty": pl.Utf8, "n": pl.Int64, "kappa": pl.Float64, "kappa_ci_low": pl.Float64,
                "kappa_ci_high": pl.Float64, "raw_agreement": pl.Float64},
        orient="row",
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    write_table(conn, "marts.concordance", out)


def build_turnaround(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.turnaround: median and 90th percentile days from referral to opinion, per specialty and month."""
    _sql_table(
        conn,
        "marts.turnaround",
        f"""
        WITH base AS (
            SELECT specialty, CAST(date_trunc('month', opinion_date) AS DATE) AS month, turnaround_days
            FROM core.case_outcomes
        ),
        u AS (SELECT * FROM base UNION ALL SELECT '{ALL}', month, turnaround_days FROM base)
        SELECT specialty, month, count(*) AS n,
               quantile_cont(turnaround_days, 0.5) AS median_days,
               quantile_cont(turnaround_days, 0.9) AS p90_days
        FROM u GROUP BY specialty, month ORDER BY specialty <> '{ALL}', specialty, month
        """,
    )


def build_turnaround_distribution(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.turnaround_distribution: case counts by turnaround bin (upper edge, days), per specialty and 'all'."""
    cases = " ".join(f"WHEN turnaround_days <= {e} THEN {e}" for e in TURNAROUND_EDGES)
    _sql_table(
        conn,
        "marts.turnaround_distribution",
        f"""
        WITH b AS (
            SELECT specialty,
                   CASE {cases} ELSE CAST(365 * ceil(turnaround_days / 365.0) AS INTEGER) END AS days
            FROM core.case_outcomes WHERE turnaround_days IS NOT NULL
        )
        SELECT specialty, days, count(*) AS n FROM b GROUP BY ALL
        UNION ALL
        SELECT '{ALL}', days, count(*) FROM b GROUP BY ALL
        ORDER BY specialty <> '{ALL}', specialty, days
        """,
    )


def build_procedure_flows(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.procedure_flows: Sankey links from the initial family to where the opinion led.

    target = the recommended family for less_invasive, more_invasive and alternative, else the
    outcome itself. Source and target are different sides of the diagram: the same family name
    can appear on both (e.g. open to laparoscopic hysterectomy), so label nodes by side.
    """
    _sql_table(
        conn,
        "marts.procedure_flows",
        f"""
        WITH f AS (
            SELECT specialty, coalesce(initial_family, 'unknown_code') AS source,
                   CASE WHEN outcome IN ('less_invasive', 'more_invasive', 'alternative')
                        THEN coalesce(recommended_family, outcome) ELSE outcome END AS target,
                   outcome
            FROM core.case_outcomes
        )
        SELECT specialty, source, target, outcome, count(*) AS n FROM f GROUP BY ALL
        UNION ALL
        SELECT '{ALL}', source, target, outcome, count(*) FROM f GROUP BY ALL
        ORDER BY specialty <> '{ALL}', specialty, n DESC, source, target
        """,
    )


# --- data quality and run summary -------------------------------------------------------------


def build_data_quality_files(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.data_quality_files: files and rows by record type and file status (audit.ingest_files)."""
    source = (
        "audit.ingest_files"
        if table_exists(conn, "audit.ingest_files")
        else "(SELECT NULL::VARCHAR AS record_type, NULL::VARCHAR AS status, NULL::BIGINT AS rows_read, "
        "NULL::BIGINT AS rows_loaded, NULL::BIGINT AS rows_quarantined, NULL::BIGINT AS rows_duplicate WHERE false)"
    )
    _sql_table(
        conn,
        "marts.data_quality_files",
        f"""
        SELECT record_type, status, count(*) AS n_files,
               CAST(coalesce(sum(rows_read), 0) AS BIGINT) AS rows_read,
               CAST(coalesce(sum(rows_loaded), 0) AS BIGINT) AS rows_loaded,
               CAST(coalesce(sum(rows_quarantined), 0) AS BIGINT) AS rows_quarantined,
               CAST(coalesce(sum(rows_duplicate), 0) AS BIGINT) AS rows_duplicate
        FROM {source} GROUP BY ALL ORDER BY record_type, status
        """,
    )


def build_data_quality_rules(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.data_quality_rules: quarantined rows per record type, field and rule (reasons are `field:rule`)."""
    source = (
        "quarantine.rows"
        if table_exists(conn, "quarantine.rows")
        else "(SELECT NULL::VARCHAR AS record_type, NULL::VARCHAR[] AS reasons WHERE false)"
    )
    _sql_table(
        conn,
        "marts.data_quality_rules",
        f"""
        WITH r AS (SELECT record_type, unnest(reasons) AS reason FROM {source})
        SELECT record_type,
               CASE WHEN strpos(reason, ':') > 0 THEN split_part(reason, ':', 1) END AS field,
               CASE WHEN strpos(reason, ':') > 0 THEN substr(reason, strpos(reason, ':') + 1) ELSE reason END AS rule,
               count(*) AS n_rows
        FROM r GROUP BY ALL ORDER BY record_type, n_rows DESC, field, rule
        """,
    )


def build_data_quality_checks(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.data_quality_checks: the latest result of every check (audit.check_results)."""
    source = (
        "audit.check_results"
        if table_exists(conn, "audit.check_results")
        else "(SELECT NULL::VARCHAR AS check_name, NULL::VARCHAR AS asset, NULL::BOOLEAN AS passed, "
        "NULL::VARCHAR AS severity, NULL::VARCHAR AS description, NULL::TIMESTAMP AS checked_at WHERE false)"
    )
    _sql_table(
        conn,
        "marts.data_quality_checks",
        f"""
        SELECT check_name, asset, passed, severity, description FROM {source}
        QUALIFY row_number() OVER (PARTITION BY check_name, asset ORDER BY checked_at DESC) = 1
        ORDER BY passed, asset, check_name
        """,
    )


def build_run_summary(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.run_summary: metric/value text pairs the CLI prints and the site shows.

    run_id, finished_at, data_freshness (latest opinion date), case counts (pending never in
    rates, unclassified always counted), net avoided with its 95% interval, the leakage in force
    per specialty and the settings.
    """
    def scalar(sql: str) -> object:
        return conn.execute(sql).fetchall()[0][0]

    metrics: list[tuple[str, str]] = []
    run_id = (
        scalar("SELECT run_id FROM audit.runs ORDER BY started_at DESC LIMIT 1")
        if table_exists(conn, "audit.runs") and scalar("SELECT count(*) FROM audit.runs")
        else None
    )
    metrics.append(("run_id", "" if run_id is None else str(run_id)))
    if run_id is not None:
        as_of = scalar(f"SELECT as_of FROM audit.runs WHERE run_id = '{run_id}'")
        metrics.append(("as_of", "" if as_of is None else str(as_of)))
    metrics.append(("finished_at", datetime.now(UTC).replace(microsecond=0).isoformat()))
    freshness = scalar("SELECT max(opinion_date) FROM core.case_outcomes")
    metrics.append(("data_freshness", "" if freshness is None else str(freshness)))
    if table_exists(conn, "staging.cases"):
        metrics.append(("cases", str(scalar("SELECT count(*) FROM staging.cases"))))
    metrics.append(("cases_with_opinion", str(scalar("SELECT count(*) FROM core.case_outcomes"))))
    pending = scalar("SELECT count(*) FROM core.pending_cases") if table_exists(conn, "core.pending_cases") else 0
    metrics.append(("pending", str(pending)))
    metrics.append(("unclassified", str(scalar("SELECT count(*) FROM core.case_outcomes WHERE outcome = 'unclassified'"))))
    if table_exists(conn, "marts.cost_impact"):
        row = conn.execute(
            "SELECT gross_avoided, net_avoided, net_ci_low, net_ci_high, roi, n_verified, realized_avoided "
            f"FROM marts.cost_impact WHERE specialty = '{ALL}'"
        ).fetchall()
        if row:
            for name, value in zip(
                ("gross_avoided", "net_avoided", "net_ci_low", "net_ci_high", "roi", "n_verified", "realized_avoided"),
                row[0],
                strict=True,
            ):
                metrics.append((name, "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)))
    if table_exists(conn, "core.leakage_rates"):
        leak = conn.sql("SELECT specialty, leakage_used, leakage_basis FROM core.leakage_rates ORDER BY specialty").fetchall()
        metrics.append(("leakage", json.dumps({s: {"rate": v, "basis": b} for s, v, b in leak})))
    metrics.append(("settings", json.dumps(settings.as_dict(), sort_keys=True)))
    write_table(conn, "marts.run_summary", pl.DataFrame(metrics, schema={"metric": pl.Utf8, "value": pl.Utf8}, orient="row"))


def build_review_queue_mart(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.review_queue (see outcomes.build_review_queue), in the builders' signature."""
    build_review_queue(conn)


MartBuilder = Callable[[duckdb.DuckDBPyConnection, Settings], None]

#: Table name (in schema `marts`) -> builder, in an order that satisfies MART_INPUTS.
MART_BUILDERS: dict[str, MartBuilder] = {
    "outcome_rates": build_outcome_rates,
    "outcome_rates_monthly": build_outcome_rates_monthly,
    "cost_impact": build_cost_impact,
    "cost_impact_segments": build_cost_impact_segments,
    "cost_sensitivity": build_cost_sensitivity,
    "reviewer_variation": build_reviewer_variation,
    "concordance": build_concordance,
    "turnaround": build_turnaround,
    "turnaround_distribution": build_turnaround_distribution,
    "procedure_flows": build_procedure_flows,
    "review_queue": build_review_queue_mart,
    "data_quality_files": build_data_quality_files,
    "data_quality_rules": build_data_quality_rules,
    "data_quality_checks": build_data_quality_checks,
    "run_summary": build_run_summary,
}

#: Warehouse tables each mart reads (optional ones are used when present).
MART_INPUTS: dict[str, tuple[str, ...]] = {
    "outcome_rates": ("core.case_outcomes",),
    "outcome_rates_monthly": ("core.case_outcomes",),
    "cost_impact": ("core.case_costs",),
    "cost_impact_segments": ("core.case_costs",),
    "cost_sensitivity": ("core.case_costs",),
    "reviewer_variation": ("core.case_outcomes",),
    "concordance": ("core.case_outcomes",),
    "turnaround": ("core.case_outcomes",),
    "turnaround_distribution": ("core.case_outcomes",),
    "procedure_flows": ("core.case_outcomes",),
    "review_queue": ("core.case_outcomes",),
    "data_quality_files": ("audit.ingest_files",),
    "data_quality_rules": ("quarantine.rows",),
    "data_quality_checks": ("audit.check_results",),
    "run_summary": (
        "audit.runs", "staging.cases", "core.case_outcomes", "core.pending_cases",
        "core.leakage_rates", "marts.cost_impact",
    ),
}


def build_all_marts(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Every mart in dependency order (the CLI's and the benchmark's one call)."""
    for builder in MART_BUILDERS.values():
        builder(conn, settings)
