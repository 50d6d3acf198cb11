"""What the follow-up claims can show about each case: the claims-through date and the evidence.

Why a claims-through date: claims arrive weeks after the service, so the latest months of a
claims extract are incomplete. A horizon judged against the run date would count a case as
"closed, nothing happened" while part of its window has no claims data yet, and leakage would
look lower than it is. A horizon is closed only when `opinion_date + horizon <= claims_through`,
the date up to which claims are complete: the setting, else the latest `service_date` minus the
run-out (`claims_runout_days`). With no claims at all, nothing is closed.

Why evidence of coverage: a closed case with no claim at all cannot show leakage (the patient may
have left the plan), so it stays out of the rates and is shown as "no claims seen", unless an
`enrollment` input shows the patient covered through the whole horizon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from pipelines.lib.core.prices import norm_code
from pipelines.lib.vocabulary import CHANGED_OUTCOMES

#: Changed outcomes whose plan is a procedure of its own, priced by its code.
PRICED_CHANGE_OUTCOMES: tuple[str, ...] = ("less_invasive", "more_invasive", "alternative")
#: Changed outcomes whose plan is a pathway (conservative care, a work-up).
PATHWAY_OUTCOMES: tuple[str, ...] = ("non_surgical", "deferred")
#: Outcomes with a leakage rate of their own (docs/method.md "Cost avoided").
LEAKAGE_OUTCOMES: tuple[str, ...] = tuple(CHANGED_OUTCOMES)
OPEN_ENDED = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class ClaimsThrough:
    """The date up to which claims are complete, and how it was set (in words, for every reader)."""

    date: dt.date | None
    basis: str
    latest_service: dt.date | None = None


def claims_through(
    follow_ups: pl.DataFrame | None, setting: dt.date | None, runout_days: int
) -> ClaimsThrough:
    """The setting if given, else the latest service_date minus the run-out; None without claims."""
    latest = (
        None
        if follow_ups is None or follow_ups.height == 0
        else follow_ups.select(pl.col("service_date").max()).item()
    )
    if setting is not None:
        return ClaimsThrough(setting, "set by the claims_through setting", latest)
    if latest is None:
        return ClaimsThrough(None, "no follow-up claims: no horizon is closed", None)
    through = latest - dt.timedelta(days=int(runout_days))
    return ClaimsThrough(
        through,
        f"latest service_date {latest.isoformat()} minus {int(runout_days)} days of claims run-out",
        latest,
    )


def merged_coverage(enrollment: pl.DataFrame | None) -> pl.DataFrame:
    """Coverage periods per patient with overlapping or adjoining periods merged (open end = 9999-12-31)."""
    schema = {"patient_key": pl.Utf8, "covered_from": pl.Date, "covered_to": pl.Date}
    if enrollment is None or enrollment.height == 0:
        return pl.DataFrame(schema=schema)
    periods = (
        enrollment.select(
            pl.col("patient_key").cast(pl.Utf8),
            pl.col("covered_from").cast(pl.Date),
            pl.col("covered_to").cast(pl.Date).fill_null(OPEN_ENDED),
        )
        .drop_nulls(["patient_key", "covered_from"])
        .sort("patient_key", "covered_from")
    )
    reach = pl.col("covered_to").cum_max().shift(1).over("patient_key")
    starts = (reach.is_null() | (pl.col("covered_from") > reach.dt.offset_by("1d"))).cast(pl.Int64)
    return (
        periods.with_columns(starts.cum_sum().over("patient_key").alias("_island"))
        .group_by("patient_key", "_island")
        .agg(pl.col("covered_from").min(), pl.col("covered_to").max())
        .select(list(schema))
    )


def case_evidence(
    outcomes: pl.DataFrame,
    prices: pl.DataFrame,
    follow_ups: pl.DataFrame | None,
    enrollment: pl.DataFrame | None,
    horizon_months: int,
    through: dt.date | None,
) -> pl.DataFrame:
    """Per case: horizon_end, horizon_closed, has_claims, covered, family_billed, leaked_cost, plan_cost_paid.

    Claims count from the opinion date to the end of the horizon. `family_billed`: a claim of
    the initial code or its family, the recommended code's own claims excluded (open to
    laparoscopic hysterectomy stays in the family and is the plan, not leakage); for a confirmed
    case that claim is the completion of the first plan. `leaked_cost` sums those claims' paid
    amounts, `plan_cost_paid` the recommended code's own claims; a claim without an amount is
    valued at its code's price in force (core.prices). `has_claims`: any claim in the window.
    `covered`: an enrollment period runs from the opinion date through the horizon's end.
    """
    cases = (
        outcomes.select(
            "case_id",
            pl.col("patient_key").cast(pl.Utf8)
            if "patient_key" in outcomes.columns
            else pl.lit(None, dtype=pl.Utf8).alias("patient_key"),
            "outcome",
            "opinion_date",
            norm_code("initial_procedure_code").alias("_initial"),
            # a confirmed case's plan is the first plan: its claims are the completion, not excluded
            pl.when(pl.col("outcome").is_in(LEAKAGE_OUTCOMES))
            .then(norm_code("recommended_procedure_code"))
            .alias("_plan"),
        )
        .join(
            prices.select(pl.col("procedure_code").alias("_initial"), pl.col("family").alias("_family")),
            on="_initial",
            how="left",
        )
        .with_columns(pl.col("opinion_date").dt.offset_by(f"{int(horizon_months)}mo").alias("horizon_end"))
        .with_columns(
            (
                pl.lit(through is not None)
                & (pl.col("horizon_end") <= pl.lit(through if through is not None else OPEN_ENDED))
            ).alias("horizon_closed")
        )
    )
    base = cases.select("case_id", "horizon_end", "horizon_closed")
    evidence_schema = {
        "case_id": pl.Utf8,
        "has_claims": pl.Boolean,
        "family_billed": pl.Boolean,
        "leaked_cost": pl.Float64,
        "plan_cost_paid": pl.Float64,
    }
    if follow_ups is None or follow_ups.height == 0:
        per_case = pl.DataFrame(schema=evidence_schema)
    else:
        claims = (
            follow_ups.select(
                pl.col("case_id").cast(pl.Utf8),
                norm_code("procedure_code").alias("_code"),
                "service_date",
                pl.col("allowed_amount").cast(pl.Float64),
            )
            .join(
                cases.select("case_id", "opinion_date", "horizon_end", "_initial", "_plan", "_family"),
                on="case_id",
            )
            .filter(pl.col("service_date").is_between(pl.col("opinion_date"), pl.col("horizon_end")))
            .join(
                prices.select(
                    pl.col("procedure_code").alias("_code"),
                    pl.col("family").alias("_claim_family"),
                    pl.col("price").alias("_claim_price"),
                ),
                on="_code",
                how="left",
            )
        )
        is_plan = (pl.col("_code") == pl.col("_plan")).fill_null(False)
        in_family = (pl.col("_code") == pl.col("_initial")) | (
            pl.col("_claim_family") == pl.col("_family")
        ).fill_null(False)
        paid = pl.coalesce("allowed_amount", "_claim_price", pl.lit(0.0))
        per_case = (
            claims.with_columns((in_family & ~is_plan).alias("_leak"), is_plan.alias("_is_plan"))
            .group_by("case_id")
            .agg(
                pl.lit(True).alias("has_claims"),
                pl.col("_leak").any().alias("family_billed"),
                paid.filter(pl.col("_leak")).sum().alias("leaked_cost"),
                paid.filter(pl.col("_is_plan")).sum().alias("plan_cost_paid"),
            )
            .select(list(evidence_schema))
        )
    coverage = merged_coverage(enrollment)
    covered = (
        cases.select("case_id", "patient_key", "opinion_date", "horizon_end")
        .join(coverage, on="patient_key")
        .filter(
            (pl.col("covered_from") <= pl.col("opinion_date"))
            & (pl.col("covered_to") >= pl.col("horizon_end"))
        )
        .select("case_id", pl.lit(True).alias("covered"))
        .unique("case_id")
    )
    return (
        base.join(per_case, on="case_id", how="left")
        .join(covered, on="case_id", how="left")
        .with_columns(
            pl.col("has_claims").fill_null(False),
            pl.col("covered").fill_null(False),
            pl.col("family_billed").fill_null(False),
            pl.col("leaked_cost").fill_null(0.0),
            pl.col("plan_cost_paid").fill_null(0.0),
        )
    )
