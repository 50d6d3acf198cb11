"""The price of each procedure code, on one basis per code, with the year that price belongs to.

Why one basis per code, chosen in a fixed order: a plan priced from the catalogue and a leaked
claim priced at its allowed amount are not the same money, and mixing them within one saving
overstated verified savings. The order is the payer's own `procedure_costs`; else the mean
allowed amount of the code in the follow-up claims, once at least `MIN_CLAIMS_OBSERVED_PRICE`
claims carry one (the same cell size as the publication rule, so a mean never rests on one
patient); else the reference catalogue.

Catalogue prices keep their own year. A sourced medical-care price index (for example the BLS
CPI-U medical care series) would bring them to the run's price year; no copy of that series
with a citable source was found for this release, so none is shipped and the methodology page
says so. `year_note` states it per code.
"""

from __future__ import annotations

import polars as pl

#: Claims with an allowed amount a code needs before their mean becomes its price.
MIN_CLAIMS_OBSERVED_PRICE = 11
PRICE_BASES: tuple[str, ...] = ("payer", "observed", "catalogue")
CATALOGUE_YEAR_NOTE = (
    "catalogue price in its own year: not inflated, because no sourced medical-care price index is shipped"
)


def norm_code(col: str) -> pl.Expr:
    """Procedure codes compare trimmed and upper case (0-led and J-codes stay text)."""
    return pl.col(col).cast(pl.Utf8).str.strip_chars().str.to_uppercase()


def observed_prices(follow_ups: pl.DataFrame | None) -> pl.DataFrame:
    """Per code of the claims: n_observed_claims (with an allowed amount), their mean and SD, and the dates.

    The SD travels with the mean so the bootstrap can redraw the mean of a resample's claims.
    """
    schema = {
        "procedure_code": pl.Utf8,
        "n_observed_claims": pl.Int64,
        "observed_mean": pl.Float64,
        "observed_sd": pl.Float64,
        "first_service": pl.Date,
        "last_service": pl.Date,
        "observed_year": pl.Int32,
    }
    if follow_ups is None or follow_ups.height == 0:
        return pl.DataFrame(schema=schema)
    return (
        follow_ups.select(
            norm_code("procedure_code").alias("procedure_code"),
            pl.col("allowed_amount").cast(pl.Float64),
            "service_date",
        )
        .drop_nulls("allowed_amount")
        .group_by("procedure_code")
        .agg(
            pl.len().cast(pl.Int64).alias("n_observed_claims"),
            pl.col("allowed_amount").mean().alias("observed_mean"),
            pl.col("allowed_amount").std(ddof=0).fill_null(0.0).alias("observed_sd"),
            pl.col("service_date").min().alias("first_service"),
            pl.col("service_date").max().alias("last_service"),
            pl.col("service_date").dt.year().median().round().cast(pl.Int32).alias("observed_year"),
        )
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )


def effective_prices(
    catalogue: pl.DataFrame,
    payer_costs: pl.DataFrame | None,
    follow_ups: pl.DataFrame | None = None,
    price_year: int | None = None,
) -> pl.DataFrame:
    """core.prices: procedure_code, family, tier, price, basis, year, year_note and what each basis offered.

    `price_year` is the year the payer's prices belong to (the year of the claims-through date).
    A payer code missing from the catalogue keeps its price but has no family or tier (it can be
    priced, never classified); a code seen only in claims is priced by them once it has enough.
    """
    cat = catalogue.select(
        norm_code("procedure_code").alias("procedure_code"),
        "family",
        pl.col("tier").cast(pl.Int32),
        pl.col("cost_usd").cast(pl.Float64).alias("catalogue_price"),
        pl.col("cost_year").cast(pl.Int32).alias("catalogue_year")
        if "cost_year" in catalogue.columns
        else pl.lit(None, dtype=pl.Int32).alias("catalogue_year"),
    )
    payer_schema = {"procedure_code": pl.Utf8, "payer_price": pl.Float64}
    payer = (
        pl.DataFrame(schema=payer_schema)
        if payer_costs is None or payer_costs.height == 0
        else payer_costs.select(
            norm_code("procedure_code").alias("procedure_code"),
            pl.col("cost_usd").cast(pl.Float64).alias("payer_price"),
        )
        .drop_nulls("payer_price")
        .unique(subset="procedure_code", keep="last")
    )
    seen = observed_prices(follow_ups)
    merged = (
        cat.join(payer, on="procedure_code", how="full", coalesce=True)
        .join(seen, on="procedure_code", how="full", coalesce=True)
        .with_columns(pl.col("n_observed_claims").fill_null(0))
    )
    enough = pl.col("n_observed_claims") >= MIN_CLAIMS_OBSERVED_PRICE
    basis = (
        pl.when(pl.col("payer_price").is_not_null())
        .then(pl.lit("payer"))
        .when(enough)
        .then(pl.lit("observed"))
        .when(pl.col("catalogue_price").is_not_null())
        .then(pl.lit("catalogue"))
    )
    out = merged.with_columns(basis.alias("basis")).filter(pl.col("basis").is_not_null())
    span = (
        pl.lit("mean allowed amount of ")
        + pl.col("n_observed_claims").cast(pl.Utf8)
        + pl.lit(" claims dated ")
        + pl.col("first_service").cast(pl.Utf8)
        + pl.lit(" to ")
        + pl.col("last_service").cast(pl.Utf8)
    )
    return out.select(
        "procedure_code",
        "family",
        "tier",
        pl.when(pl.col("basis") == "payer")
        .then(pl.col("payer_price"))
        .when(pl.col("basis") == "observed")
        .then(pl.col("observed_mean"))
        .otherwise(pl.col("catalogue_price"))
        .alias("price"),
        "basis",
        pl.when(pl.col("basis") == "payer")
        .then(pl.lit(price_year, dtype=pl.Int32))
        .when(pl.col("basis") == "observed")
        .then(pl.col("observed_year"))
        .otherwise(pl.col("catalogue_year"))
        .alias("year"),
        pl.when(pl.col("basis") == "payer")
        .then(pl.lit("the payer's price list, taken as current"))
        .when(pl.col("basis") == "observed")
        .then(span)
        .when(pl.col("catalogue_year").is_null())
        .then(pl.lit("catalogue price; its year is not given"))
        .otherwise(pl.lit(CATALOGUE_YEAR_NOTE))
        .alias("year_note"),
        "payer_price",
        "catalogue_price",
        "catalogue_year",
        "n_observed_claims",
        "observed_mean",
        "observed_sd",
    ).sort("procedure_code")
