"""Cost avoided per case: DESIGN "Cost avoided" as pure functions on Polars frames.

`case_costs` is the one implementation of the method. Notebooks call it with other
`CostAssumptions` (prices +-20%, another horizon, a rate held at an interval's end) and get the
numbers the pipeline would publish; `build_case_costs` only reads the warehouse, calls it and
writes the result.

Per case, with `P` the price in force (core.prices), `c` the baseline completion of the
specialty and `l` the leakage of its specialty and outcome (core.baseline_rates,
core.leakage_rates):
  E0 = c * P(initial) + (1 - c) * P_conservative        what the first plan would have cost
  E1 = P_plan + l * P(initial)                          what the second opinion's plan costs
  P_plan = the conservative pathway (non_surgical), the work-up (deferred), P(recommended)
           (less_invasive, more_invasive, alternative)
  projected_avoided = (E0 - E1) x discount factor; confirmed and unclassified cases claim 0, and
           so does a change without a priced code (an "unpriced change")
Verified, once the horizon has closed against the claims-through date:
  realized_status   not_applicable | window_open | leaked | avoided | no_claims
  realized_avoided  E0 - O, with O the case's observed cost: its initial-family and recommended-
                    procedure claims at paid amounts, plus P_plan for a pathway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from pipelines.lib.core.claims import (
    LEAKAGE_OUTCOMES,
    PATHWAY_OUTCOMES,
    PRICED_CHANGE_OUTCOMES,
    ClaimsThrough,
    case_evidence,
    claims_through,
    horizons_evidence,
)
from pipelines.lib.core.prices import effective_prices, norm_code
from pipelines.lib.core.rates import Override, baseline_rates, leakage_rates
from pipelines.lib.settings import Settings
from pipelines.lib.warehouse import table_exists, write_table

REALIZED_STATUSES: tuple[str, ...] = ("not_applicable", "window_open", "leaked", "avoided", "no_claims")
#: Statuses whose saving the claims verify (the case's own observed cost is known).
VERIFIED_STATUSES: tuple[str, ...] = ("leaked", "avoided")


@dataclass(frozen=True)
class CostAssumptions:
    """Everything the cost method depends on besides the data.

    price_multiplier scales every unit cost (procedure prices and pathway costs alike), so
    projected savings scale with it exactly; paid claim amounts are money actually spent and
    are never scaled. The overrides hold `c` (per specialty) or `l` (per specialty, or per
    "specialty/outcome") at a value, for the sensitivity analysis.
    """

    program_fee_usd: float = 750.0
    horizon_months: int = 12
    min_cases_observed: int = 30
    claims_through: dt.date | None = None
    claims_runout_days: int = 90
    discount_rate_annual: float = 0.0
    price_multiplier: float = 1.0
    baseline_override: Override = None
    leakage_override: Override = None

    @classmethod
    def from_settings(cls, settings: Settings, **changes: object) -> CostAssumptions:
        base = cls(
            program_fee_usd=float(settings.program_fee_usd),
            horizon_months=int(settings.horizon_months),
            min_cases_observed=int(settings.min_cases_observed),
            claims_through=settings.claims_through,
            claims_runout_days=int(settings.claims_runout_days),
            discount_rate_annual=float(settings.discount_rate_annual),
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    @property
    def discount_factor(self) -> float:
        """Savings fall, on average, in the middle of the horizon: (1 + r) ^ -(horizon / 2 in years)."""
        return float((1.0 + self.discount_rate_annual) ** (-(self.horizon_months / 12.0) / 2.0))


@dataclass(frozen=True)
class CostInputs:
    """The warehouse tables the cost method reads (enrollment and claims optional)."""

    outcomes: pl.DataFrame
    catalogue: pl.DataFrame
    pathways: pl.DataFrame
    payer_costs: pl.DataFrame | None = None
    follow_ups: pl.DataFrame | None = None
    enrollment: pl.DataFrame | None = None

    def through(self, assumptions: CostAssumptions) -> ClaimsThrough:
        return claims_through(self.follow_ups, assumptions.claims_through, assumptions.claims_runout_days)

    def prices(self, assumptions: CostAssumptions) -> pl.DataFrame:
        """core.prices under these assumptions (the payer's prices belong to the claims-through year)."""
        through = self.through(assumptions).date
        return effective_prices(
            self.catalogue, self.payer_costs, self.follow_ups, through.year if through else None
        )


@dataclass(frozen=True)
class CostResult:
    """core.case_costs, core.baseline_rates, core.leakage_rates and the claims-through date of one run."""

    cases: pl.DataFrame
    baseline: pl.DataFrame
    leakage: pl.DataFrame
    through: ClaimsThrough
    prices: pl.DataFrame


#: What the rates read of each case's claims (claims.case_evidence).
EVIDENCE: tuple[str, ...] = ("horizon_closed", "has_claims", "covered", "family_billed")


def _rates(
    cases: pl.DataFrame, pathways: pl.DataFrame, a: CostAssumptions
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return (
        baseline_rates(cases, pathways, a.min_cases_observed, a.horizon_months, a.baseline_override),
        leakage_rates(cases, pathways, a.min_cases_observed, a.horizon_months, a.leakage_override),
    )


def case_rates(
    inputs: CostInputs, assumptions: CostAssumptions, prices: pl.DataFrame, horizons: tuple[int, ...]
) -> dict[int, tuple[pl.DataFrame, pl.DataFrame]]:
    """core.baseline_rates and core.leakage_rates alone, as case_costs estimates them, for each of
    several horizons (other cases close, other claims fall inside), from one pass over the claims."""
    evidence = horizons_evidence(
        inputs.outcomes,
        prices,
        inputs.follow_ups,
        inputs.enrollment,
        horizons,
        inputs.through(assumptions).date,
    )
    cases = inputs.outcomes.select("case_id", "specialty", "outcome").join(evidence, on="case_id", how="left")
    out = {}
    for h in horizons:
        per = cases.select("specialty", "outcome", *[pl.col(f"{f}_{h}").alias(f) for f in EVIDENCE])
        out[h] = _rates(per, inputs.pathways, replace(assumptions, horizon_months=h))
    return out


def case_costs(
    inputs: CostInputs, assumptions: CostAssumptions, prices: pl.DataFrame | None = None
) -> CostResult:
    """Every case of `inputs.outcomes` (core.case_outcomes columns) priced, projected and verified.

    `prices` replaces core.prices (e.g. a payer's list in a notebook); by default the prices in
    force are derived from the inputs.
    """
    a = assumptions
    m = float(a.price_multiplier)
    through = inputs.through(a)
    prices = inputs.prices(a) if prices is None else prices
    outcomes = inputs.outcomes
    evidence = case_evidence(
        outcomes, prices, inputs.follow_ups, inputs.enrollment, a.horizon_months, through.date
    )
    lookup = prices.select("procedure_code", "price", "basis")
    base = (
        outcomes.select(
            "case_id",
            "specialty",
            *[
                pl.col(c) if c in outcomes.columns else pl.lit(None, dtype=pl.Utf8).alias(c)
                for c in ("payer_type", "plan_id")
            ],
            "outcome",
            "opinion_date",
            norm_code("initial_procedure_code").alias("initial_code"),
            pl.when(pl.col("outcome").is_in(PRICED_CHANGE_OUTCOMES))
            .then(norm_code("recommended_procedure_code"))
            .alias("recommended_code"),
        )
        .join(
            lookup.rename({"procedure_code": "initial_code", "price": "_p_init", "basis": "price_basis"}),
            on="initial_code",
            how="left",
        )
        .join(
            lookup.rename(
                {"procedure_code": "recommended_code", "price": "_p_rec", "basis": "recommended_price_basis"}
            ),
            on="recommended_code",
            how="left",
        )
        .join(evidence, on="case_id", how="left")
    )
    baseline, leakage = _rates(base.select("specialty", "outcome", *EVIDENCE), inputs.pathways, a)
    paths = inputs.pathways.select(
        "specialty",
        (pl.col("conservative_cost_usd").cast(pl.Float64) * m).alias("conservative_cost"),
        (pl.col("workup_cost_usd").cast(pl.Float64) * m).alias("_workup"),
    )
    outcome = pl.col("outcome")
    changed = outcome.is_in(LEAKAGE_OUTCOMES)
    p_init = pl.col("_p_init") * m
    p_plan = (
        pl.when(outcome == "non_surgical")
        .then(pl.col("conservative_cost"))
        .when(outcome == "deferred")
        .then(pl.col("_workup"))
        .when(outcome.is_in(PRICED_CHANGE_OUTCOMES))
        .then(pl.col("_p_rec") * m)
        .when(outcome.is_in(("confirmed", "unclassified")))
        .then(p_init)
    )
    priced = changed & pl.col("_p_init").is_not_null() & pl.col("cost_recommended").is_not_null()
    closed = pl.col("horizon_closed")
    status = (
        pl.when(~changed)
        .then(pl.lit("not_applicable"))
        .when(~closed)
        .then(pl.lit("window_open"))
        .when(pl.col("family_billed"))
        .then(pl.lit("leaked"))
        .when(pl.col("has_claims") | pl.col("covered"))
        .then(pl.lit("avoided"))
        .otherwise(pl.lit("no_claims"))
    )
    observed_cost = (
        pl.col("leaked_cost")
        + pl.when(outcome.is_in(PRICED_CHANGE_OUTCOMES)).then(pl.col("plan_cost_paid")).otherwise(0.0)
        + pl.when(outcome.is_in(PATHWAY_OUTCOMES)).then(pl.col("cost_recommended")).otherwise(0.0)
    )
    df = (
        base.join(
            baseline.select("specialty", pl.col("rate_used").alias("baseline_completion_used")),
            on="specialty",
            how="left",
        )
        .join(
            leakage.select("specialty", "outcome", pl.col("rate_used").alias("leakage_used")),
            on=["specialty", "outcome"],
            how="left",
        )
        .join(paths, on="specialty", how="left")
        .with_columns(p_init.alias("cost_initial"), p_plan.alias("cost_recommended"))
        .with_columns(
            (
                pl.col("baseline_completion_used") * pl.col("cost_initial")
                + (1.0 - pl.col("baseline_completion_used")) * pl.col("conservative_cost")
            ).alias("expected_without"),
            pl.when(changed)
            .then(pl.col("cost_recommended") + pl.col("leakage_used") * pl.col("cost_initial"))
            .alias("expected_with"),
            priced.alias("_priced"),
            (changed & ~priced).alias("unpriced_change"),
            status.alias("realized_status"),
        )
        .with_columns(
            pl.when(pl.col("_priced"))
            .then((pl.col("expected_without") - pl.col("expected_with")) * a.discount_factor)
            .otherwise(0.0)
            .fill_nan(0.0)
            .fill_null(0.0)
            .alias("projected_avoided"),
            pl.when(pl.col("_priced") & pl.col("realized_status").is_in(VERIFIED_STATUSES))
            .then(observed_cost)
            .alias("observed_cost"),
        )
        .with_columns(
            pl.when(~closed | (pl.col("realized_status") == "no_claims"))
            .then(None)
            .when(pl.col("observed_cost").is_not_null())
            .then(pl.col("expected_without") - pl.col("observed_cost"))
            .otherwise(0.0)
            .alias("realized_avoided")
        )
    )
    cases = df.select(
        "case_id",
        "specialty",
        "outcome",
        "cost_initial",
        "cost_recommended",
        "projected_avoided",
        "realized_status",
        "realized_avoided",
        "payer_type",
        "plan_id",
        "opinion_date",
        "initial_code",
        "recommended_code",
        pl.when(pl.col("cost_initial").is_not_null()).then("price_basis").alias("price_basis"),
        "recommended_price_basis",
        "baseline_completion_used",
        pl.when(changed).then("leakage_used").alias("leakage_used"),
        "conservative_cost",
        "expected_without",
        "expected_with",
        pl.lit(a.discount_factor, dtype=pl.Float64).alias("discount_factor"),
        "unpriced_change",
        "horizon_end",
        "horizon_closed",
        "has_claims",
        "covered",
        "family_billed",
        "leaked_cost",
        "plan_cost_paid",
        "observed_cost",
    )
    return CostResult(cases, baseline, leakage, through, prices)


def load_cost_inputs(conn: duckdb.DuckDBPyConnection) -> CostInputs:
    """The cost method's inputs from the warehouse (read-only: notebooks call this too)."""
    outcomes = conn.sql(
        """SELECT case_id, patient_key, specialty, payer_type, plan_id, outcome, opinion_date,
                  initial_procedure_code, recommended_procedure_code
           FROM core.case_outcomes"""
    ).pl()

    def optional(table: str, columns: str) -> pl.DataFrame | None:
        return conn.sql(f"SELECT {columns} FROM {table}").pl() if table_exists(conn, table) else None

    return CostInputs(
        outcomes=outcomes,
        catalogue=conn.sql("SELECT * FROM reference.procedures").pl(),
        pathways=conn.sql("SELECT * FROM reference.pathways").pl(),
        payer_costs=optional("staging.procedure_costs", "procedure_code, cost_usd"),
        follow_ups=optional("staging.follow_ups", "case_id, procedure_code, service_date, allowed_amount"),
        enrollment=optional("staging.enrollment", "patient_key, covered_from, covered_to"),
    )


def claims_through_frame(through: ClaimsThrough, horizon_months: int) -> pl.DataFrame:
    """core.claims_through: the one date every horizon of the run is judged against, and its basis."""
    return pl.DataFrame(
        {
            "claims_through": [through.date],
            "claims_through_basis": [through.basis],
            "latest_service_date": [through.latest_service],
            "horizon_months": [int(horizon_months)],
        },
        schema={
            "claims_through": pl.Date,
            "claims_through_basis": pl.Utf8,
            "latest_service_date": pl.Date,
            "horizon_months": pl.Int32,
        },
    )


def build_case_costs(conn: duckdb.DuckDBPyConnection, settings: Settings) -> CostResult:
    """Write core.prices, core.claims_through, core.baseline_rates, core.leakage_rates and core.case_costs."""
    assumptions = CostAssumptions.from_settings(settings)
    result = case_costs(load_cost_inputs(conn), assumptions)
    for table, data in (
        ("prices", result.prices),
        ("claims_through", claims_through_frame(result.through, assumptions.horizon_months)),
        ("baseline_rates", result.baseline),
        ("leakage_rates", result.leakage),
        ("case_costs", result.cases),
    ):
        write_table(conn, f"core.{table}", data)
    return result
