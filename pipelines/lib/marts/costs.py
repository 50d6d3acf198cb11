"""Cost marts: cost avoided per specialty and segment with bootstrap intervals, the assumptions in
force, the rates behind them, and the sensitivity of the net to each assumption."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import polars as pl

from pipelines.lib import stats
from pipelines.lib.core.claims import LEAKAGE_OUTCOMES
from pipelines.lib.core.costs import CostAssumptions, CostInputs, CostResult, case_rates, load_cost_inputs
from pipelines.lib.marts.common import MartContext, query, query_over, specialty_order
from pipelines.lib.marts.cost_bootstrap import (
    MainDraw,
    Replicates,
    main_bootstrap,
    rate_model,
    segment_bootstrap,
)
from pipelines.lib.settings import Settings
from pipelines.lib.vocabulary import ALL, CHANGED_OUTCOMES
from pipelines.lib.warehouse import table_exists, write_table

#: Horizons (months) the sensitivity analysis recomputes everything for, and discount rates it applies.
SENSITIVITY_HORIZONS = (6, 24)
SENSITIVITY_DISCOUNT = (0.0, 0.03)


def over_cases(conn: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """An aggregate of sql/<name>.sql over the per-case rows of sql/cost_cases.sql, computed in DuckDB."""
    return query_over(conn, name, "cost_cases", changed=list(CHANGED_OUTCOMES))


def key_frames(conn: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame | None, dict[str, float]]:
    """(keys, their claims per code, claims of cases not resampled per code): the bootstrap's inputs."""
    keys = over_cases(conn, "cost_keys")
    if not table_exists(conn, "staging.follow_ups"):
        return keys, None, {}
    outside = query(conn, "cost_outside_claims")
    return (
        keys,
        over_cases(conn, "cost_key_claims"),
        dict(zip(outside["code"].to_list(), outside["n_claims"].cast(pl.Float64).to_list(), strict=True)),
    )


#: The last main draw and what it was drawn from: cost_impact and cost_impact_segments of one run
#: share it instead of drawing the same replicates twice (same inputs and seed give the same draw).
_LAST_DRAW: dict[tuple[object, ...], MainDraw] = {}


def _fingerprint(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> tuple[object, ...]:
    """What the main draw depends on, summarised: the settings and checksums of the tables it reads."""
    tables = conn.execute(
        """SELECT (SELECT count(*) FROM core.case_costs), (SELECT sum(hash(case_id, realized_status, projected_avoided,
                   observed_cost, initial_code, recommended_code)) FROM core.case_costs),
                  (SELECT sum(hash(t)) FROM core.prices t),
                  (SELECT sum(hash(t)) FROM core.baseline_rates t),
                  (SELECT sum(hash(t)) FROM core.leakage_rates t)"""
    ).fetchall()[0]
    return (*tables, tuple(sorted(ctx.settings.as_dict().items())))


def main_draw(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> MainDraw:
    """The bootstrap by specialty over core.case_costs, with c, l and prices re-estimated each time."""
    key = _fingerprint(conn, ctx)
    if key in _LAST_DRAW:
        return _LAST_DRAW[key]
    s = ctx.settings
    assumptions = CostAssumptions.from_settings(s)
    rates = rate_model(
        conn.sql("SELECT * FROM core.baseline_rates").pl(),
        conn.sql("SELECT * FROM core.leakage_rates").pl(),
        conn.sql("SELECT * FROM reference.pathways").pl(),
        s.min_cases_observed,
        assumptions.discount_factor,
    )
    keys, claims, outside = key_frames(conn)
    prices = conn.sql("SELECT * FROM core.prices").pl()
    draw = main_bootstrap(keys, claims, outside, prices, rates, s.bootstrap_resamples, s.seed)
    _LAST_DRAW.clear()
    _LAST_DRAW[key] = draw
    return draw


def cost_measures(
    point: pl.DataFrame,
    label: str,
    replicates: Replicates,
    labels: list[str],
    fee: float,
    with_total: str | None,
) -> pl.DataFrame:
    """Gross, programme cost, net, per case, ROI, verified and deferred figures per group, 95% intervals.

    `point` holds the case-level sums per group (column `label`); `replicates` their bootstrap
    replicates in the order of `labels`. The optional total row sums the groups' replicates.
    ROI = net avoided / programme cost: net dollars returned per programme dollar. The verified
    net charges the fee for every review of the closed cohort, confirmed and unclassified ones
    included: realized_avoided - fee x n_closed_cohort.
    """
    frame = (
        pl.DataFrame({label: labels}, schema={label: pl.Utf8}).join(point, on=label, how="left").fill_null(0)
    )
    reps = {k: getattr(replicates, k) for k in ("gross", "deferred", "realized", "cohort")}
    if with_total is not None:
        frame = pl.concat([frame, frame.select(pl.lit(with_total).alias(label), pl.exclude(label).sum())])
        reps = {k: np.column_stack([v, v.sum(axis=1)]) for k, v in reps.items()}
    n = frame["n_cases"].to_numpy().astype(float)
    program = n * fee
    g_lo, g_hi = stats.percentile_interval(reps["gross"])
    d_lo, d_hi = stats.percentile_interval(reps["deferred"])
    r_lo, r_hi = stats.percentile_interval(reps["realized"])
    v_lo, v_hi = stats.percentile_interval(reps["realized"] - fee * reps["cohort"])
    with np.errstate(divide="ignore", invalid="ignore"):
        per_n = np.where(n > 0, 1.0 / n, np.nan)
        per_fee = np.where(program > 0, 1.0 / program, np.nan)
    gross = frame["gross"].to_numpy()
    net = gross - program
    realized = frame["realized"].to_numpy()
    cohort = frame["n_closed_cohort"].to_numpy()
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
        "n_verified": frame["n_verified"].to_numpy().astype(np.int64),
        "realized_avoided": realized,
        "realized_ci_low": r_lo,
        "realized_ci_high": r_hi,
        "verified_net": realized - fee * cohort,
        "verified_ci_low": v_lo,
        "verified_ci_high": v_hi,
        "n_closed_cohort": cohort.astype(np.int64),
        "deferred_avoided": frame["deferred_gross"].to_numpy(),
        "deferred_ci_low": d_lo,
        "deferred_ci_high": d_hi,
        "unpriced_changes": frame["unpriced_changes"].to_numpy().astype(np.int64),
    }
    out = pl.DataFrame({label: frame[label], **columns}, schema_overrides={label: pl.Utf8})
    return out.with_columns(pl.col(pl.Float64).fill_nan(None))


def point_sums(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The case-level sums each measure starts from (the point estimates), per dimension and segment."""
    return over_cases(conn, "cost_point_sums")


def build_cost_impact(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_impact: cost avoided per specialty and 'all', projected and verified, with 95% bootstrap CIs.

    The bootstrap resamples cases within specialties and re-estimates c, every l and the
    observed prices in each replicate (pipelines.lib.marts.cost_bootstrap).
    """
    draw = main_draw(conn, ctx)
    sums = (
        point_sums(conn)
        .filter(pl.col("dimension") == "specialty")
        .select(pl.col("segment").alias("specialty"), pl.exclude("dimension", "segment"))
    )
    out = cost_measures(
        sums,
        "specialty",
        draw.replicates,
        draw.specialties,
        ctx.settings.program_fee_usd,
        ALL,
    )
    present = set(sums["specialty"].to_list()) | {ALL}
    out = out.filter(pl.col("specialty").is_in(list(present)))
    write_table(conn, "marts.cost_impact", out.sort(specialty_order(), "specialty"))


def build_cost_impact_segments(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_impact_segments: the cost_impact measures by payer type and by plan ('unknown' if missing)."""
    draw = main_draw(conn, ctx)
    sums, seg_keys, seg_codes = (
        point_sums(conn),
        over_cases(conn, "cost_segment_keys"),
        over_cases(conn, "cost_segment_codes"),
    )
    parts = []
    for dimension in ("payer_type", "plan_id"):
        keys = seg_keys.filter(pl.col("dimension") == dimension)
        if keys.is_empty():
            continue
        labels, reps = segment_bootstrap(
            keys, seg_codes.filter(pl.col("dimension") == dimension), draw, ctx.settings.seed
        )
        point = sums.filter(pl.col("dimension") == dimension).select(
            pl.col("segment").alias(dimension), pl.exclude("dimension", "segment")
        )
        measures = cost_measures(point, dimension, reps, labels, ctx.settings.program_fee_usd, None)
        parts.append(
            measures.rename({dimension: "segment"}).select(pl.lit(dimension).alias("dimension"), pl.all())
        )
    if not parts:  # no cases: the table keeps its columns
        zero = Replicates(*(np.zeros((1, 1)) for _ in range(4)))
        cols = (
            "n_cases",
            "gross",
            "deferred_gross",
            "realized",
            "n_verified",
            "n_closed_cohort",
            "unpriced_changes",
        )
        point = pl.DataFrame({"segment": ["-"], **{c: [0] for c in cols}})
        empty = cost_measures(point, "segment", zero, ["-"], ctx.settings.program_fee_usd, None)
        parts = [empty.select(pl.lit("-").alias("dimension"), pl.all()).clear()]
    write_table(conn, "marts.cost_impact_segments", pl.concat(parts).sort("dimension", "segment"))


def _rate_words(value: float | None, low: float | None, high: float | None, basis: str, end: str) -> str:
    if value is None:
        return "no rate"
    if low is None or high is None:
        return f"{value:.3f} ({basis}: no interval, unchanged)"
    return f"{(low if end == 'low' else high):.3f} ({end} end of {low:.3f}-{high:.3f}, {basis})"


def build_cost_sensitivity(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_sensitivity: net avoided with each assumption moved alone (the tornado chart's data).

    c and each l across their own 95% intervals and prices, fee and discount are exact closed forms
    of costs.case_costs (E0 and E1 are linear in c, l and the prices); the horizons of 6 and 24
    months are recomputed from the claims, since other cases close and the rates change.
    core.scenarios.sensitivity_scenarios holds the same scenarios as CostAssumptions.
    """
    from pipelines.lib.core.scenarios import (
        DISCOUNTS,
        FEE_SWING,
        HORIZONS,
        PRICE_SWING,
        leakage_assumption,
        sensitivity_scenarios,
    )

    base = CostAssumptions.from_settings(ctx.settings)
    fee, d = base.program_fee_usd, base.discount_factor
    terms = query(conn, "cost_sensitivity_terms", changed=list(CHANGED_OUTCOMES))
    spec = terms.group_by("specialty").agg(pl.col("n", "gross", "weight_c").sum())
    baseline_full = conn.sql("SELECT * FROM core.baseline_rates").pl()
    leakage_full = conn.sql("SELECT * FROM core.leakage_rates").pl()
    baseline = baseline_full.select("specialty", "rate_used", "used_ci_low", "used_ci_high", "basis")
    leakage = leakage_full.select("specialty", "outcome", "rate_used", "used_ci_low", "used_ci_high", "basis")
    rows: list[dict[str, object]] = []

    def add(
        specialty: str,
        assumption: str,
        scenario: str,
        setting: str,
        gross: float,
        fee_used: float,
        n: int,
        value: float | None,
        base_gross: float,
    ) -> None:
        rows.append(
            {
                "specialty": specialty,
                "assumption": assumption,
                "scenario": scenario,
                "setting": setting,
                "value": value,
                "net_avoided": gross - fee_used * n,
                "base_net_avoided": base_gross - fee * n,
            }
        )

    # Another horizon closes other cases and puts other claims inside it: c and every l are
    # re-estimated from the claims; the projected saving is linear in them (sql/cost_sensitivity_terms.sql).
    inputs = load_cost_inputs(conn)
    prices = conn.sql("SELECT * FROM core.prices").pl()
    horizon_gross: dict[tuple[str, int], float] = {}
    by_horizon = case_rates(inputs, base, prices, HORIZONS)
    for months in HORIZONS:
        moved = replace(base, horizon_months=months)
        c_h, l_h = by_horizon[months]
        c_map = dict(zip(c_h["specialty"].to_list(), c_h["rate_used"].to_list(), strict=True))
        l_map = {(sp, o): v for sp, o, v in l_h.select("specialty", "outcome", "rate_used").iter_rows()}
        for t in terms.iter_rows(named=True):
            if t["outcome"] not in LEAKAGE_OUTCOMES:
                continue
            key = (t["specialty"], months)
            c_value = c_map.get(t["specialty"]) or 0.0
            l_value = l_map.get((t["specialty"], t["outcome"])) or 0.0
            part = moved.discount_factor * (c_value * t["weight_c"] + t["fixed"] - l_value * t["weight_l"])
            horizon_gross[key] = horizon_gross.get(key, 0.0) + part
    b_rows = {r["specialty"]: r for r in baseline.iter_rows(named=True)}
    l_rows = {(r["specialty"], r["outcome"]): r for r in leakage.iter_rows(named=True)}
    weight_l = {(r["specialty"], r["outcome"]): r["weight_l"] for r in terms.iter_rows(named=True)}
    for r in spec.sort("specialty").iter_rows(named=True):
        s, n, gross = r["specialty"], int(r["n"]), float(r["gross"])
        b = b_rows.get(s, {})
        for end in ("low", "high"):
            value = b.get(f"used_ci_{end}")
            moved = b.get("rate_used") if value is None else value
            shift = 0.0 if moved is None else d * (moved - b["rate_used"]) * r["weight_c"]
            words = _rate_words(
                b.get("rate_used"), b.get("used_ci_low"), b.get("used_ci_high"), b.get("basis", ""), end
            )
            add(s, "baseline_completion", end, f"c {words}", gross + shift, fee, n, moved, gross)
        for outcome in LEAKAGE_OUTCOMES:
            lr = l_rows.get((s, outcome), {})
            for end in ("low", "high"):
                value = lr.get(f"used_ci_{end}")
                moved = lr.get("rate_used") if value is None else value
                w = weight_l.get((s, outcome), 0.0) or 0.0
                shift = 0.0 if moved is None else -d * (moved - lr["rate_used"]) * w
                words = _rate_words(
                    lr.get("rate_used"),
                    lr.get("used_ci_low"),
                    lr.get("used_ci_high"),
                    lr.get("basis", ""),
                    end,
                )
                add(s, leakage_assumption(outcome), end, f"l {words}", gross + shift, fee, n, moved, gross)
        for end, sign in (("low", -1), ("high", 1)):
            m = 1.0 + sign * PRICE_SWING
            add(s, "prices", end, f"all prices x{m:g}", gross * m, fee, n, m, gross)
            f = fee * (1.0 + sign * FEE_SWING)
            add(
                s,
                "program_fee",
                end,
                f"fee ${f:,.0f} per review (x{1.0 + sign * FEE_SWING:g})",
                gross,
                f,
                n,
                f,
                gross,
            )
        for end, months in zip(("low", "high"), HORIZONS, strict=True):
            add(
                s,
                "horizon",
                end,
                f"horizon {months} months (recomputed)",
                horizon_gross.get((s, months), 0.0),
                fee,
                n,
                float(months),
                gross,
            )
        for end, rate in zip(("low", "high"), DISCOUNTS, strict=True):
            factor = replace(base, discount_rate_annual=rate).discount_factor
            add(
                s,
                "discount_rate",
                end,
                f"discount {rate:.0%} a year",
                gross * factor / d,
                fee,
                n,
                rate,
                gross,
            )
    per_spec = pl.DataFrame(rows, schema=SENSITIVITY_SCHEMA, orient="row")
    # The 'all' row sums the specialties and takes its words from the scenarios themselves; a rate's
    # 'all' row has no one value (each specialty moves to its own end of its own interval).
    scenario_words = pl.DataFrame(
        [
            (x.assumption, x.scenario, x.setting)
            for x in sensitivity_scenarios(base, baseline_full, leakage_full)
        ],
        schema={"assumption": pl.Utf8, "scenario": pl.Utf8, "_words": pl.Utf8},
        orient="row",
    )
    per_rate = pl.col("assumption").is_in(["baseline_completion", *map(leakage_assumption, LEAKAGE_OUTCOMES)])
    total = (
        per_spec.group_by("assumption", "scenario", maintain_order=True)
        .agg(pl.col("value").first(), pl.col("net_avoided", "base_net_avoided").sum())
        .join(scenario_words, on=["assumption", "scenario"], how="left")
        .with_columns(
            pl.lit(ALL).alias("specialty"),
            pl.col("_words").alias("setting"),
            pl.when(per_rate).then(None).otherwise(pl.col("value")).alias("value"),
        )
        .select(per_spec.columns)
    )
    out = pl.concat([total, per_spec]).with_columns(
        (pl.col("net_avoided") - pl.col("base_net_avoided")).alias("delta")
    )
    write_table(
        conn, "marts.cost_sensitivity", out.sort(specialty_order(), "specialty", "assumption", "scenario")
    )


SENSITIVITY_SCHEMA = {
    "specialty": pl.Utf8,
    "assumption": pl.Utf8,
    "scenario": pl.Utf8,
    "setting": pl.Utf8,
    "value": pl.Float64,
    "net_avoided": pl.Float64,
    "base_net_avoided": pl.Float64,
}


def basis_summary(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per specialty and 'all': which price basis carries what share of the projected gross, in words.

    A case rests on the basis of its priced codes (the initial, and the recommended one where it
    is priced); one whose two codes have different bases is 'mixed'. Shares are of the sum of
    absolute case savings, so an escalation does not cancel a de-escalation.
    """
    shares = (
        query(conn, "cost_basis_shares", changed=list(CHANGED_OUTCOMES))
        .with_columns((pl.col("amount") / pl.col("amount").sum().over("specialty")).alias("share"))
        .sort("specialty", "share", "basis", descending=[False, True, False])
    )
    return shares.group_by("specialty", maintain_order=True).agg(
        pl.concat_str(
            pl.col("basis"), pl.lit(" "), (pl.col("share") * 100).round(1).cast(pl.Utf8), pl.lit("%")
        )
        .str.join(", ")
        .alias("price_basis_summary")
    )


def build_cost_assumptions(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_assumptions: per specialty and 'all', the assumptions in force and their bases.

    The claims-through date and how it was set, the horizon, c and its basis, the pathway costs,
    the fee, which price basis carries what share of the projected gross, how much of it rests on
    estimated catalogue prices, and how many codes the payer's own prices replaced (0: none supplied).
    """
    s = ctx.settings
    through = conn.sql("SELECT * FROM core.claims_through").pl()
    t = through.row(0, named=True) if through.height else {"claims_through": None, "claims_through_basis": ""}
    baseline = conn.sql(
        "SELECT specialty, rate_used AS baseline_completion_used, basis AS baseline_basis FROM core.baseline_rates"
    ).pl()
    pathways = conn.sql(
        "SELECT specialty, conservative_cost_usd AS conservative_cost_used, workup_cost_usd AS workup_cost_used "
        "FROM reference.pathways"
    ).pl()
    specialties = conn.sql("SELECT DISTINCT specialty FROM core.case_costs ORDER BY 1").pl()["specialty"]
    summary = basis_summary(conn)
    estimated = query(conn, "cost_estimate_shares", changed=list(CHANGED_OUTCOMES))
    payer_codes = conn.sql("SELECT count(*) FROM core.prices WHERE basis = 'payer'").fetchall()[0][0]
    notes = conn.sql(
        "SELECT string_agg(DISTINCT year_note, '; ' ORDER BY year_note) FROM core.prices WHERE basis = 'catalogue'"
    ).fetchall()[0][0]
    out = (
        pl.DataFrame({"specialty": [ALL, *specialties.to_list()]}, schema={"specialty": pl.Utf8})
        .join(baseline, on="specialty", how="left")
        .join(pathways, on="specialty", how="left")
        .join(summary, on="specialty", how="left")
        .join(estimated, on="specialty", how="left")
        .select(
            "specialty",
            pl.lit(t["claims_through"], dtype=pl.Date).alias("claims_through"),
            pl.lit(t["claims_through_basis"], dtype=pl.Utf8).alias("claims_through_basis"),
            pl.lit(int(s.horizon_months), dtype=pl.Int32).alias("horizon_months"),
            "baseline_completion_used",
            "conservative_cost_used",
            "workup_cost_used",
            pl.lit(float(s.program_fee_usd)).alias("program_fee_usd"),
            pl.col("price_basis_summary").fill_null("no priced change"),
            pl.col("share_estimated").cast(pl.Float64),
            pl.lit(int(payer_codes), dtype=pl.Int32).alias("payer_priced_codes"),
            "baseline_basis",
            pl.lit(int(s.min_cases_observed), dtype=pl.Int32).alias("min_cases_observed"),
            pl.lit(float(s.discount_rate_annual)).alias("discount_rate_annual"),
            pl.lit(notes or "no catalogue price in use", dtype=pl.Utf8).alias("catalogue_price_years"),
        )
    )
    write_table(conn, "marts.cost_assumptions", out)


def build_cost_rates(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.cost_rates: the baseline completion and every leakage rate in force, as published aggregates.

    One row per specialty x parameter x outcome: the closed-horizon cases with evidence
    (n_closed), those billed for the initial family (n_events), those with no claims seen, the
    observed rate with its Wilson interval, the rate in force, its basis and interval, and its source.
    """
    baseline = (
        conn.sql("SELECT * FROM core.baseline_rates")
        .pl()
        .select(
            "specialty",
            pl.lit("baseline_completion").alias("parameter"),
            pl.lit("confirmed").alias("outcome"),
            "n_closed",
            pl.col("n_completed").alias("n_events"),
            "n_no_claims",
            "rate",
            "ci_low",
            "ci_high",
            "rate_used",
            "basis",
            "used_ci_low",
            "used_ci_high",
            pl.when(pl.col("basis") == "observed")
            .then(pl.lit("observed: closed-horizon confirmed cases billed for the initial family"))
            .otherwise(pl.col("reference_source"))
            .alias("source"),
        )
    )
    leakage = (
        conn.sql("SELECT * FROM core.leakage_rates")
        .pl()
        .select(
            "specialty",
            pl.lit("leakage").alias("parameter"),
            "outcome",
            "n_closed",
            pl.col("n_leaked").alias("n_events"),
            "n_no_claims",
            "rate",
            "ci_low",
            "ci_high",
            "rate_used",
            "basis",
            "used_ci_low",
            "used_ci_high",
            pl.when(pl.col("basis") == "observed")
            .then(pl.lit("observed: closed-horizon cases of this outcome billed for the initial family"))
            .when(pl.col("basis") == "pooled")
            .then(pl.lit("pooled over the specialty's changed outcomes (too few cases of this outcome)"))
            .otherwise(pl.col("leakage_source"))
            .alias("source"),
        )
    )
    present = conn.sql("SELECT DISTINCT specialty FROM core.case_costs").pl()
    order = {o: i for i, o in enumerate(("confirmed", *LEAKAGE_OUTCOMES))}
    out = (
        pl.concat([baseline, leakage])
        .join(present, on="specialty", how="semi")
        .sort("specialty", pl.col("outcome").replace_strict(order, return_dtype=pl.Int32))
    )
    write_table(conn, "marts.cost_rates", out)


def scenario_impact(result: CostResult, inputs: CostInputs, settings: Settings) -> pl.DataFrame:
    """marts.cost_impact of one `case_costs` result, built by build_cost_impact itself in a scratch
    in-memory DuckDB (nothing is written to the warehouse): a notebook gets the published measures
    and intervals of another scenario without re-implementing them.

    The bootstrap re-estimates c, l and the observed prices from the claims, so its intervals are
    those of a run with these inputs and `settings`; a scenario that holds a rate or scales every
    price (an override, a price multiplier) has a point estimate here but not its own interval.
    """
    scratch = duckdb.connect()
    try:
        tables = {
            "core.case_costs": result.cases,
            "core.prices": result.prices,
            "core.baseline_rates": result.baseline,
            "core.leakage_rates": result.leakage,
            "reference.pathways": inputs.pathways,
        }
        if inputs.follow_ups is not None:
            tables["staging.follow_ups"] = inputs.follow_ups
        for table, frame in tables.items():
            write_table(scratch, table, frame)
        build_cost_impact(scratch, MartContext(settings))
        return scratch.sql("SELECT * FROM marts.cost_impact").pl()
    finally:
        scratch.close()
