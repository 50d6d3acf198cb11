"""Cost avoided per case: DESIGN "Cost avoided" as pure functions on Polars frames.

`case_costs` is the one implementation of the formula; notebooks call it with other
`CostAssumptions` (prices +-20%, another leakage, another horizon) and get the same numbers the
pipeline publishes. `build_case_costs` only reads the warehouse, calls it and writes the result.

Per case (literature.md §3.3, plan-vs-plan with claims follow-up):
  cost_initial      price of the initial code (payer's procedure_costs, else the catalogue)
  cost_recommended  confirmed/unclassified: cost_initial; less/more invasive, alternative: price of
                    the recommended code (cost_initial when there is no priced code, e.g. a text-model
                    label: such a case claims nothing); non_surgical: conservative pathway + leakage x
                    cost_initial; deferred: work-up + leakage x cost_initial
  projected_avoided cost_initial - cost_recommended (0 when the initial code has no price)
Leakage: a follow-up claim in the initial procedure's family within the horizon after the opinion
means the surgery happened anyway (J Am Coll Surg 1997: 38% of non-confirmed patients within two
years). A specialty's observed rate among closed-horizon non_surgical/deferred cases replaces the
catalogue default once it rests on `min_cases_observed_leakage` cases (and a claims feed exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

import duckdb
import polars as pl

from pipelines.lib.settings import Settings
from pipelines.lib.warehouse import table_exists, write_table

LEAKAGE_OUTCOMES: tuple[str, ...] = ("non_surgical", "deferred")
PRICED_CHANGE_OUTCOMES: tuple[str, ...] = ("less_invasive", "more_invasive", "alternative")

#: The published range of "surgery anyway" after a second opinion advised against it
#: (literature.md §3.1 item 3): Schmerz 2023, 18% of 161 spine patients at about 2 years;
#: J Am Coll Surg 1997, 38% of non-confirmed patients at 2 years. The sensitivity mart moves
#: every specialty's leakage to each end of this range.
LEAKAGE_LOW = 0.18
LEAKAGE_HIGH = 0.38


@dataclass(frozen=True)
class CostAssumptions:
    """Everything the cost formula depends on besides the data.

    price_multiplier scales every unit cost (procedure prices and pathway costs alike), so
    projected savings scale with it exactly. leakage_override replaces the leakage in force for
    every specialty (a float) or for the named ones (a mapping).
    """

    program_fee_usd: float = 750.0
    horizon_months: int = 12
    min_cases_observed_leakage: int = 30
    price_multiplier: float = 1.0
    leakage_override: float | Mapping[str, float] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **changes: object) -> CostAssumptions:
        base = cls(
            program_fee_usd=float(settings.program_fee_usd),
            horizon_months=int(settings.horizon_months),
            min_cases_observed_leakage=int(settings.min_cases_observed_leakage),
        )
        return replace(base, **changes)  # type: ignore[arg-type]


def effective_prices(catalogue: pl.DataFrame, payer_costs: pl.DataFrame | None) -> pl.DataFrame:
    """procedure_code, family, tier, price, price_source: the payer's price wins per code.

    A payer code missing from the catalogue keeps its price but has no family or tier (it can
    be priced, never classified).
    """
    cat = catalogue.select(
        pl.col("procedure_code").cast(pl.Utf8).str.strip_chars().str.to_uppercase(),
        "family",
        pl.col("tier").cast(pl.Int32),
        pl.col("cost_usd").cast(pl.Float64).alias("catalogue_price"),
    )
    if payer_costs is None or payer_costs.height == 0:
        return cat.select(
            "procedure_code",
            "family",
            "tier",
            pl.col("catalogue_price").alias("price"),
            pl.lit("catalogue").alias("price_source"),
        )
    payer = (
        payer_costs.select(
            pl.col("procedure_code").cast(pl.Utf8).str.strip_chars().str.to_uppercase(),
            pl.col("cost_usd").cast(pl.Float64).alias("payer_price"),
        )
        .drop_nulls("payer_price")
        .unique(subset="procedure_code", keep="last")
    )
    merged = cat.join(payer, on="procedure_code", how="full", coalesce=True)
    return merged.select(
        "procedure_code",
        "family",
        "tier",
        pl.coalesce("payer_price", "catalogue_price").alias("price"),
        pl.when(pl.col("payer_price").is_not_null())
        .then(pl.lit("payer"))
        .otherwise(pl.lit("catalogue"))
        .alias("price_source"),
    ).sort("procedure_code")


def _norm_code(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.strip_chars().str.to_uppercase()


def leakage_evidence(
    outcomes: pl.DataFrame,
    prices: pl.DataFrame,
    follow_ups: pl.DataFrame | None,
    horizon_months: int,
    as_of: date,
) -> pl.DataFrame:
    """Per case: horizon_closed, has_follow_up, leaked, leaked_cost.

    leaked: a claim whose code is the initial code or in the initial code's family, dated from
    the opinion up to `horizon_months` after it, that is not the second opinion's own plan: the
    recommended code itself is never leakage (open to laparoscopic hysterectomy stays in the
    family), and a confirmed case's surgery is the plan. leaked_cost sums those claims' allowed
    amounts, using the code's price where the amount is missing. has_follow_up: any claim on or
    after the opinion date (a claims feed that shows the patient at all), which separates
    "verified, no surgery" from "nothing seen".
    """
    cases = (
        outcomes.select(
            "case_id",
            "opinion_date",
            _norm_code("initial_procedure_code").alias("initial_code"),
            pl.coalesce(_norm_code("recommended_procedure_code"), pl.lit("")).alias("plan_code"),
            (pl.col("outcome") != "confirmed").alias("can_leak"),
        )
        .join(
            prices.select(
                pl.col("procedure_code").alias("initial_code"), pl.col("family").alias("initial_family")
            ),
            on="initial_code",
            how="left",
        )
        .with_columns(
            pl.col("opinion_date").dt.offset_by(f"{int(horizon_months)}mo").alias("horizon_end"),
        )
        .with_columns((pl.col("horizon_end") <= pl.lit(as_of)).alias("horizon_closed"))
    )
    if follow_ups is None or follow_ups.height == 0:
        return cases.select(
            "case_id",
            "horizon_closed",
            pl.lit(False).alias("has_follow_up"),
            pl.lit(False).alias("leaked"),
            pl.lit(0.0).alias("leaked_cost"),
        )
    claims = (
        follow_ups.select(
            "case_id",
            _norm_code("procedure_code").alias("claim_code"),
            "service_date",
            pl.col("allowed_amount").cast(pl.Float64),
        )
        .join(cases, on="case_id", how="inner")
        .filter(pl.col("service_date") >= pl.col("opinion_date"))
        .join(
            prices.select(
                pl.col("procedure_code").alias("claim_code"),
                pl.col("family").alias("claim_family"),
                pl.col("price").alias("claim_price"),
            ),
            on="claim_code",
            how="left",
        )
        .with_columns(
            (
                (pl.col("service_date") <= pl.col("horizon_end"))
                & pl.col("can_leak")
                & (pl.col("claim_code") != pl.col("plan_code"))
                & (
                    (pl.col("claim_code") == pl.col("initial_code"))
                    | (pl.col("claim_family") == pl.col("initial_family")).fill_null(False)
                )
            ).alias("is_leak")
        )
    )
    per_case = claims.group_by("case_id").agg(
        pl.col("is_leak").any().alias("leaked"),
        pl.when(pl.col("is_leak"))
        .then(pl.coalesce("allowed_amount", "claim_price"))
        .sum()
        .alias("leaked_cost"),
    )
    return cases.join(per_case, on="case_id", how="left").select(
        "case_id",
        "horizon_closed",
        pl.col("leaked").is_not_null().alias("has_follow_up"),
        pl.col("leaked").fill_null(False),
        pl.col("leaked_cost").fill_null(0.0),
    )


def observed_leakage(
    cases: pl.DataFrame,
    pathways: pl.DataFrame,
    min_cases: int,
    leakage_override: float | Mapping[str, float] | None = None,
    claims_available: bool = True,
) -> pl.DataFrame:
    """Per specialty: default_leakage, n_observed, n_leaked, observed_leakage, leakage_used, leakage_basis.

    `cases` needs specialty, outcome, horizon_closed, leaked. The observed rate is the share of
    closed-horizon non_surgical/deferred cases with a leaked claim; a case without any claim
    counts as not leaked, because a claims feed that exists shows surgery when it happens (only
    counting cases with some claim would overstate leakage). Without a claims feed at all
    (`claims_available` False) nothing is observed and the default stays. The observed rate is
    used once n_observed >= min_cases; an override wins over both.
    """
    obs = (
        cases.filter(pl.col("outcome").is_in(LEAKAGE_OUTCOMES) & pl.col("horizon_closed") & claims_available)
        .group_by("specialty")
        .agg(pl.len().alias("n_observed"), pl.col("leaked").sum().alias("n_leaked"))
    )
    out = (
        pathways.select("specialty", pl.col("default_leakage").cast(pl.Float64))
        .join(obs, on="specialty", how="full", coalesce=True)
        .with_columns(
            pl.col("n_observed").fill_null(0).cast(pl.Int64),
            pl.col("n_leaked").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            pl.when(pl.col("n_observed") > 0)
            .then(pl.col("n_leaked") / pl.col("n_observed"))
            .alias("observed_leakage")
        )
    )
    if isinstance(leakage_override, Mapping):
        override = pl.DataFrame(
            {"specialty": list(leakage_override), "override": [float(v) for v in leakage_override.values()]},
            schema={"specialty": pl.Utf8, "override": pl.Float64},
        )
        out = out.join(override, on="specialty", how="left")
    else:
        out = out.with_columns(
            pl.lit(None if leakage_override is None else float(leakage_override), dtype=pl.Float64).alias(
                "override"
            )
        )
    # n_observed > 0: with min_cases 0 an unobserved specialty keeps its default, never a NULL rate
    enough = (pl.col("n_observed") >= min_cases) & (pl.col("n_observed") > 0)
    return (
        out.with_columns(
            pl.coalesce(
                "override",
                pl.when(enough).then(pl.col("observed_leakage")).otherwise(pl.col("default_leakage")),
            ).alias("leakage_used"),
            pl.when(pl.col("override").is_not_null())
            .then(pl.lit("override"))
            .when(enough)
            .then(pl.lit("observed"))
            .otherwise(pl.lit("default"))
            .alias("leakage_basis"),
        )
        .drop("override")
        .sort("specialty")
    )


def case_costs(
    outcomes: pl.DataFrame,
    prices: pl.DataFrame,
    pathways: pl.DataFrame,
    follow_ups: pl.DataFrame | None,
    assumptions: CostAssumptions,
    as_of: date,
) -> pl.DataFrame:
    """One row per case of `outcomes` (core.case_outcomes columns) with the DESIGN cost columns.

    realized_status (claims-based, whatever the outcome): window_open until the horizon closes;
    then leaked (initial family billed), verified_avoided (claims seen, none in the family) or
    no_follow_up (no claims seen). realized_avoided, for verified_avoided and leaked only, is
    cost_initial minus what was actually spent on the plan: the recommended plan's base cost
    when nothing leaked; the leaked claims (allowed amounts where given) plus any conservative or
    work-up pathway already spent when it leaked. Confirmed and unclassified cases, and changes
    with no priced recommended code, claim nothing, so their realized_avoided is 0. Observed
    claim amounts are money actually paid and are not scaled by price_multiplier.
    """
    m = float(assumptions.price_multiplier)
    evidence = leakage_evidence(outcomes, prices, follow_ups, assumptions.horizon_months, as_of)
    price_lookup = prices.select("procedure_code", "price", "price_source")
    base = (
        outcomes.select(
            "case_id",
            "specialty",
            *[c for c in ("payer_type", "plan_id") if c in outcomes.columns],
            "outcome",
            "opinion_date",
            _norm_code("initial_procedure_code").alias("_initial"),
            _norm_code("recommended_procedure_code").alias("_recommended"),
        )
        .join(
            price_lookup.rename({"procedure_code": "_initial", "price": "_p_init"}),
            on="_initial",
            how="left",
        )
        .join(
            price_lookup.select(
                pl.col("procedure_code").alias("_recommended"), pl.col("price").alias("_p_rec")
            ),
            on="_recommended",
            how="left",
        )
        .join(evidence, on="case_id", how="left")
    )
    for col in ("payer_type", "plan_id"):
        if col not in base.columns:
            base = base.with_columns(pl.lit(None, dtype=pl.Utf8).alias(col))
    leak = observed_leakage(
        base,
        pathways,
        assumptions.min_cases_observed_leakage,
        assumptions.leakage_override,
        claims_available=follow_ups is not None and follow_ups.height > 0,
    ).select("specialty", "leakage_used")
    paths = pathways.select(
        "specialty",
        (pl.col("conservative_cost_usd").cast(pl.Float64) * m).alias("_conservative"),
        (pl.col("workup_cost_usd").cast(pl.Float64) * m).alias("_workup"),
    )
    outcome = pl.col("outcome")
    cost_initial = pl.col("_p_init") * m
    pathway = (
        pl.when(outcome == "non_surgical")
        .then(pl.col("_conservative"))
        .when(outcome == "deferred")
        .then(pl.col("_workup"))
        .otherwise(0.0)
    )
    # A change with no priced recommended code (a text-model label has no code) has no second
    # price: like an unclassified case it claims nothing, projected or realized.
    priced_change = outcome.is_in(PRICED_CHANGE_OUTCOMES) & pl.col("_p_rec").is_not_null()
    plan_base = (
        pl.when(priced_change)
        .then(pl.col("_p_rec") * m)
        .when(outcome.is_in(LEAKAGE_OUTCOMES))
        .then(pathway)
        .otherwise(pl.col("cost_initial"))
    )
    is_leakage_outcome = outcome.is_in(LEAKAGE_OUTCOMES)
    claims_nothing = outcome.is_in(("confirmed", "unclassified")) | (
        outcome.is_in(PRICED_CHANGE_OUTCOMES) & pl.col("_p_rec").is_null()
    )
    df = (
        base.join(leak, on="specialty", how="left")
        .join(paths, on="specialty", how="left")
        .with_columns(
            cost_initial.alias("cost_initial"),
            pl.when(is_leakage_outcome).then(pl.col("leakage_used")).alias("leakage_used"),
        )
        .with_columns(plan_base.alias("_plan_base"), pathway.alias("_pathway"))
        .with_columns(
            (
                pl.col("_plan_base")
                + pl.when(is_leakage_outcome)
                .then(pl.col("leakage_used") * pl.col("cost_initial"))
                .otherwise(0.0)
            ).alias("cost_recommended")
        )
        .with_columns(
            pl.when(claims_nothing)
            .then(0.0)
            .otherwise((pl.col("cost_initial") - pl.col("cost_recommended")).fill_null(0.0))
            .alias("projected_avoided"),
            pl.when(~pl.col("horizon_closed"))
            .then(pl.lit("window_open"))
            .when(pl.col("leaked"))
            .then(pl.lit("leaked"))
            .when(pl.col("has_follow_up"))
            .then(pl.lit("verified_avoided"))
            .otherwise(pl.lit("no_follow_up"))
            .alias("realized_status"),
        )
        .with_columns(
            pl.when(~pl.col("realized_status").is_in(("verified_avoided", "leaked")))
            .then(None)
            .when(claims_nothing)
            .then(0.0)
            .when(pl.col("realized_status") == "leaked")
            .then(pl.col("cost_initial") - pl.col("leaked_cost") - pl.col("_pathway"))
            .otherwise(pl.col("cost_initial") - pl.col("_plan_base"))
            .fill_nan(None)
            .alias("realized_avoided")
        )
    )
    return df.select(
        "case_id",
        "specialty",
        "payer_type",
        "plan_id",
        "outcome",
        "opinion_date",
        "cost_initial",
        "cost_recommended",
        "projected_avoided",
        "leakage_used",
        pl.when(pl.col("cost_initial").is_not_null()).then(pl.col("price_source")).alias("price_source"),
        "horizon_closed",
        "realized_status",
        "realized_avoided",
        "leaked_cost",
    )


def sensitivity_scenarios(base: CostAssumptions) -> list[tuple[str, str, str, CostAssumptions]]:
    """(assumption, scenario, setting, assumptions) for the tornado chart, each moved alone.

    prices: every unit cost x0.8 / x1.2. leakage: every specialty at the lowest / highest
    published leakage (LEAKAGE_LOW, LEAKAGE_HIGH). program_fee: the fee x0.5 / x1.5.
    """
    fee = base.program_fee_usd
    return [
        ("prices", "low", "all prices x0.8", replace(base, price_multiplier=base.price_multiplier * 0.8)),
        ("prices", "high", "all prices x1.2", replace(base, price_multiplier=base.price_multiplier * 1.2)),
        (
            "leakage",
            "low",
            f"leakage {LEAKAGE_LOW:.0%} in every specialty (lowest published: Schmerz 2023, 18% at about 2 years)",
            replace(base, leakage_override=LEAKAGE_LOW),
        ),
        (
            "leakage",
            "high",
            f"leakage {LEAKAGE_HIGH:.0%} in every specialty (highest published: J Am Coll Surg 1997, 38% at 2 years)",
            replace(base, leakage_override=LEAKAGE_HIGH),
        ),
        (
            "program_fee",
            "low",
            f"fee ${fee * 0.5:,.0f} per review (x0.5)",
            replace(base, program_fee_usd=fee * 0.5),
        ),
        (
            "program_fee",
            "high",
            f"fee ${fee * 1.5:,.0f} per review (x1.5)",
            replace(base, program_fee_usd=fee * 1.5),
        ),
    ]


def load_cost_inputs(
    conn: duckdb.DuckDBPyConnection,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """(outcomes, prices, pathways, follow_ups) from the warehouse, for case_costs."""
    outcomes = conn.sql(
        """SELECT case_id, specialty, payer_type, plan_id, outcome, opinion_date,
                  initial_procedure_code, recommended_procedure_code
           FROM core.case_outcomes"""
    ).pl()
    catalogue = conn.sql("SELECT * FROM reference.procedures").pl()
    payer = (
        conn.sql("SELECT procedure_code, cost_usd FROM staging.procedure_costs").pl()
        if table_exists(conn, "staging.procedure_costs")
        else None
    )
    pathways = conn.sql("SELECT * FROM reference.pathways").pl()
    follow_ups = (
        conn.sql("SELECT case_id, procedure_code, service_date, allowed_amount FROM staging.follow_ups").pl()
        if table_exists(conn, "staging.follow_ups")
        else None
    )
    return outcomes, effective_prices(catalogue, payer), pathways, follow_ups


def build_case_costs(conn: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    """Write core.case_costs, core.leakage_rates (the leakage in force and why) and core.prices."""
    outcomes, prices, pathways, follow_ups = load_cost_inputs(conn)
    assumptions = CostAssumptions.from_settings(settings)
    costs = case_costs(outcomes, prices, pathways, follow_ups, assumptions, as_of)
    rates = observed_leakage(
        costs.select(
            "specialty", "outcome", "horizon_closed", (pl.col("realized_status") == "leaked").alias("leaked")
        ),
        pathways,
        assumptions.min_cases_observed_leakage,
        claims_available=follow_ups is not None and follow_ups.height > 0,
    ).join(
        pathways.select(
            "specialty",
            "leakage_source",
            pl.lit(assumptions.horizon_months, dtype=pl.Int32).alias("horizon_months"),
        ),
        on="specialty",
        how="left",
    )
    for table, data in (("case_costs", costs), ("leakage_rates", rates), ("prices", prices)):
        write_table(conn, f"core.{table}", data)
