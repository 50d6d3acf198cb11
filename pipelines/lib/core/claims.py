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
    periods = enrollment.select(
        pl.col("patient_key").cast(pl.Utf8),
        pl.col("covered_from").cast(pl.Date),
        pl.col("covered_to").cast(pl.Date).fill_null(OPEN_ENDED),
    ).drop_nulls(["patient_key", "covered_from"])
    # Most patients have one period: only those with several need the island walk (a window per
    # patient is slow over a million patients, so it runs on the few that need it).
    several = periods.filter(pl.col("patient_key").is_duplicated())
    single = periods.filter(~pl.col("patient_key").is_duplicated())
    if several.is_empty():
        return single.select(list(schema))
    reach = pl.col("covered_to").cum_max().shift(1).over("patient_key")
    starts = (reach.is_null() | (pl.col("covered_from") > reach.dt.offset_by("1d"))).cast(pl.Int64)
    merged = (
        several.sort("patient_key", "covered_from")
        .with_columns(starts.cum_sum().over("patient_key").alias("_island"))
        .group_by("patient_key", "_island")
        .agg(pl.col("covered_from").min(), pl.col("covered_to").max())
        .select(list(schema))
    )
    return pl.concat([single.select(list(schema)), merged])


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
    h = int(horizon_months)
    out = horizons_evidence(outcomes, prices, follow_ups, enrollment, (h,), through, amounts=True)
    return out.rename({f"{name}_{h}": name for name in (*HORIZON_FLAGS, "horizon_end")})


#: The evidence of one horizon, suffixed `_<months>` when several horizons are read at once.
HORIZON_FLAGS: tuple[str, ...] = ("horizon_closed", "has_claims", "covered", "family_billed")


def horizons_evidence(
    outcomes: pl.DataFrame,
    prices: pl.DataFrame,
    follow_ups: pl.DataFrame | None,
    enrollment: pl.DataFrame | None,
    horizons: tuple[int, ...],
    through: dt.date | None,
    amounts: bool = False,
) -> pl.DataFrame:
    """case_evidence for several horizons in one pass over the claims: per case and horizon h,
    horizon_end_<h>, horizon_closed_<h>, has_claims_<h>, covered_<h>, family_billed_<h>; with
    `amounts`, also leaked_cost and plan_cost_paid of the first horizon (case_evidence)."""
    ends = {h: pl.col("opinion_date").dt.offset_by(f"{int(h)}mo") for h in horizons}
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
        .with_columns(end.alias(f"horizon_end_{h}") for h, end in ends.items())
    )
    limit = pl.lit(through if through is not None else OPEN_ENDED)
    base = cases.select(
        "case_id",
        *[pl.col(f"horizon_end_{h}") for h in horizons],
        *[
            (pl.lit(through is not None) & (pl.col(f"horizon_end_{h}") <= limit)).alias(f"horizon_closed_{h}")
            for h in horizons
        ],
    )
    first = horizons[0]
    flags = [f"has_claims_{h}" for h in horizons] + [f"family_billed_{h}" for h in horizons]
    schema = {"case_id": pl.Utf8, **{f: pl.Boolean for f in flags}}
    if amounts:
        schema |= {"leaked_cost": pl.Float64, "plan_cost_paid": pl.Float64}
    if follow_ups is None or follow_ups.height == 0:
        per_case = pl.DataFrame(schema=schema)
    else:
        last_end = f"horizon_end_{max(horizons)}"
        claims = (
            follow_ups.select(
                pl.col("case_id").cast(pl.Utf8),
                norm_code("procedure_code").alias("_code"),
                "service_date",
                pl.col("allowed_amount").cast(pl.Float64),
            )
            .join(
                cases.select(
                    "case_id",
                    "opinion_date",
                    "_initial",
                    "_plan",
                    "_family",
                    *[f"horizon_end_{h}" for h in horizons],
                ),
                on="case_id",
            )
            .filter(pl.col("service_date").is_between(pl.col("opinion_date"), pl.col(last_end)))
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
        leak = in_family & ~is_plan
        inside = {h: pl.col("service_date") <= pl.col(f"horizon_end_{h}") for h in horizons}
        aggs = [inside[h].any().alias(f"has_claims_{h}") for h in horizons]
        aggs += [(inside[h] & leak).any().alias(f"family_billed_{h}") for h in horizons]
        if amounts:
            paid = pl.coalesce("allowed_amount", "_claim_price", pl.lit(0.0))
            aggs += [
                paid.filter(inside[first] & leak).sum().alias("leaked_cost"),
                paid.filter(inside[first] & is_plan).sum().alias("plan_cost_paid"),
            ]
        per_case = claims.group_by("case_id").agg(aggs).select(list(schema))
    coverage = merged_coverage(enrollment)
    # the end of the coverage period that holds the opinion date: covered through h when it reaches horizon_end_h
    reach = (
        cases.select("case_id", "patient_key", "opinion_date")
        .join(coverage, on="patient_key")
        .filter(
            (pl.col("covered_from") <= pl.col("opinion_date"))
            & (pl.col("covered_to") >= pl.col("opinion_date"))
        )
        # merged periods are disjoint: at most one holds the opinion date
        .select("case_id", pl.col("covered_to").alias("_covered_to"))
    )
    out = (
        base.join(per_case, on="case_id", how="left")
        .join(reach, on="case_id", how="left")
        .with_columns(
            *[pl.col(f).fill_null(False) for f in flags],
            *[
                (pl.col("_covered_to") >= pl.col(f"horizon_end_{h}")).fill_null(False).alias(f"covered_{h}")
                for h in horizons
            ],
        )
        .drop("_covered_to")
    )
    if amounts:
        out = out.with_columns(pl.col("leaked_cost", "plan_cost_paid").fill_null(0.0))
    return out
