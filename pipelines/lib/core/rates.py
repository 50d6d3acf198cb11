"""Baseline completion `c` and leakage `l`: the observed rates, their Wilson intervals, the rate in force.

Why the rule is written on count arrays: the bootstrap re-estimates `c` and every `l` in each
replicate, fallbacks included, so the point estimate and the replicates must go through the same
function. `completion_in_force` and `leakage_in_force` take counts of any leading shape (one set of
counts, or one per replicate) and return the rate in force with its basis.

Fallbacks, each taken when fewer than `min_cases` closed-horizon cases with evidence support a rate:
- `c` per specialty: the observed share of confirmed cases billed for the initial family; else
  `reference.pathways.baseline_completion` (basis `assumed` when its source says so).
- `l` per specialty and changed outcome: the observed share billed for the initial family; else
  the specialty's rate pooled over the changed outcomes (`pooled`); else the default (`default`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from pipelines.lib import stats
from pipelines.lib.core.claims import LEAKAGE_OUTCOMES

#: The published range of "surgery anyway" after a second opinion advised against it, used as the
#: interval of a default leakage (no data of ours supports it): 18% of 161 spine patients at about
#: two years [schmerz2023]; 38% of non-confirmed patients at two years [jacs1997].
LEAKAGE_LOW = 0.18
LEAKAGE_HIGH = 0.38
LEAKAGE_BASES: tuple[str, ...] = ("observed", "pooled", "default")

Override = float | Mapping[str, float] | None


def completion_in_force(
    n_closed: ArrayLike, n_completed: ArrayLike, reference: ArrayLike, min_cases: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """(rate in force, observed?) for counts of shape (..., specialties)."""
    n = np.asarray(n_closed, dtype=float)
    k = np.asarray(n_completed, dtype=float)
    observed = n >= max(int(min_cases), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(observed, k / np.where(n > 0, n, 1.0), np.asarray(reference, dtype=float))
    return rate, observed


def leakage_in_force(
    n_closed: ArrayLike, n_leaked: ArrayLike, default: ArrayLike, min_cases: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """(rate in force, basis index into LEAKAGE_BASES) for counts of shape (..., specialties, outcomes)."""
    n = np.asarray(n_closed, dtype=float)
    k = np.asarray(n_leaked, dtype=float)
    floor = max(int(min_cases), 1)
    pooled_n, pooled_k = n.sum(axis=-1, keepdims=True), k.sum(axis=-1, keepdims=True)
    own, pooled = n >= floor, pooled_n >= floor
    with np.errstate(divide="ignore", invalid="ignore"):
        own_rate = k / np.where(n > 0, n, 1.0)
        pooled_rate = pooled_k / np.where(pooled_n > 0, pooled_n, 1.0)
    fallback = np.where(pooled, pooled_rate, np.asarray(default, dtype=float)[..., None])
    rate = np.where(own, own_rate, fallback)
    basis = np.where(own, 0, np.where(pooled, 1, 2)).astype(np.int64)
    return rate, basis


def _override(frame: pl.DataFrame, keys: list[str], override: Override) -> pl.Expr:
    """The override for each row (null where none): one value for all, or per specialty / (specialty, outcome)."""
    if override is None:
        return pl.lit(None, dtype=pl.Float64)
    if not isinstance(override, Mapping):
        return pl.lit(float(override), dtype=pl.Float64)
    key = pl.concat_str([pl.col(k) for k in keys], separator="/") if len(keys) > 1 else pl.col(keys[0])
    return key.replace_strict(
        {str(k): float(v) for k, v in override.items()}, default=None, return_dtype=pl.Float64
    )


def _counts(cases: pl.DataFrame, outcomes: tuple[str, ...], by: list[str], event: str) -> pl.DataFrame:
    """Closed-horizon cases of `outcomes` per group: with evidence, with the event, with no claims seen."""
    evidence = pl.col("has_claims") | pl.col("covered")
    return (
        cases.filter(pl.col("outcome").is_in(outcomes) & pl.col("horizon_closed"))
        .group_by(by)
        .agg(
            evidence.sum().cast(pl.Int64).alias("n_closed"),
            (evidence & pl.col("family_billed")).sum().cast(pl.Int64).alias(event),
            (~evidence).sum().cast(pl.Int64).alias("n_no_claims"),
        )
    )


def baseline_rates(
    cases: pl.DataFrame,
    pathways: pl.DataFrame,
    min_cases: int,
    horizon_months: int,
    override: Override = None,
) -> pl.DataFrame:
    """core.baseline_rates: per specialty, c observed among closed confirmed cases with evidence, and in force.

    `cases` needs specialty, outcome, horizon_closed, has_claims, covered, family_billed.
    """
    ref = pathways.select(
        "specialty",
        pl.col("baseline_completion").cast(pl.Float64).alias("reference_rate"),
        pl.col("baseline_completion_source").alias("reference_source"),
    )
    out = (
        ref.join(
            _counts(cases, ("confirmed",), ["specialty"], "n_completed"),
            on="specialty",
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col("n_closed", "n_completed", "n_no_claims").fill_null(0))
        .sort("specialty")
    )
    n, k = out["n_closed"].to_numpy(), out["n_completed"].to_numpy()
    reference = out["reference_rate"].fill_null(1.0).to_numpy()
    used, observed = completion_in_force(n, k, reference, min_cases)
    low, high = stats.wilson_interval(k, n)
    assumed = (
        out["reference_source"].fill_null("assumed").str.to_lowercase().str.starts_with("assumed").to_numpy()
    )
    basis = np.where(observed, "observed", np.where(assumed, "assumed", "reference"))
    return (
        out.with_columns(
            pl.Series("rate", np.where(n > 0, k / np.maximum(n, 1), np.nan)).fill_nan(None),
            pl.Series("ci_low", low).fill_nan(None),
            pl.Series("ci_high", high).fill_nan(None),
            pl.Series("_used", used),
            pl.Series("_basis", basis),
        )
        .with_columns(_override(out, ["specialty"], override).alias("_override"))
        .select(
            "specialty",
            "n_closed",
            "n_completed",
            "rate",
            "ci_low",
            "ci_high",
            pl.coalesce("_override", "_used").alias("rate_used"),
            pl.when(pl.col("_override").is_not_null())
            .then(pl.lit("override"))
            .otherwise("_basis")
            .alias("basis"),
            # the interval of the rate in force: an assumed value has none
            pl.when(pl.col("_override").is_null() & (pl.col("_basis") == "observed"))
            .then("ci_low")
            .alias("used_ci_low"),
            pl.when(pl.col("_override").is_null() & (pl.col("_basis") == "observed"))
            .then("ci_high")
            .alias("used_ci_high"),
            "n_no_claims",
            "reference_rate",
            "reference_source",
            pl.lit(int(horizon_months), dtype=pl.Int32).alias("horizon_months"),
        )
    )


def leakage_rates(
    cases: pl.DataFrame,
    pathways: pl.DataFrame,
    min_cases: int,
    horizon_months: int,
    override: Override = None,
) -> pl.DataFrame:
    """core.leakage_rates: per specialty x changed outcome, l observed, pooled, default and in force.

    An override is one value for every rate, or a mapping keyed by specialty or "specialty/outcome".
    """
    defaults = pathways.select(
        "specialty", pl.col("default_leakage").cast(pl.Float64), "leakage_source"
    ).sort("specialty")
    grid = defaults.join(pl.DataFrame({"outcome": list(LEAKAGE_OUTCOMES)}), how="cross")
    counts = _counts(cases, LEAKAGE_OUTCOMES, ["specialty", "outcome"], "n_leaked")
    extra = counts.join(defaults.select("specialty"), on="specialty", how="anti")
    if extra.height:  # a specialty without a pathway row has no default: it borrows none
        grid = pl.concat(
            [
                grid,
                extra.select("specialty")
                .unique()
                .join(pl.DataFrame({"outcome": list(LEAKAGE_OUTCOMES)}), how="cross")
                .with_columns(default_leakage=pl.lit(None, pl.Float64), leakage_source=pl.lit(None, pl.Utf8))
                .select(grid.columns),
            ]
        )
    order = {o: i for i, o in enumerate(LEAKAGE_OUTCOMES)}
    out = (
        grid.join(counts, on=["specialty", "outcome"], how="left")
        .with_columns(pl.col("n_closed", "n_leaked", "n_no_claims").fill_null(0))
        .with_columns(pl.col("outcome").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
        .sort("specialty", "_o")
    )
    specialties = out["specialty"].unique(maintain_order=True).to_list()
    shape = (len(specialties), len(LEAKAGE_OUTCOMES))
    n = out["n_closed"].to_numpy().reshape(shape)
    k = out["n_leaked"].to_numpy().reshape(shape)
    default = out["default_leakage"].fill_null(np.nan).to_numpy().reshape(shape)[:, 0]
    used, basis = leakage_in_force(n, k, default, min_cases)
    pooled_n = np.repeat(n.sum(axis=1), shape[1])
    pooled_k = np.repeat(k.sum(axis=1), shape[1])
    low, high = stats.wilson_interval(k.ravel(), n.ravel())
    p_low, p_high = stats.wilson_interval(pooled_k, pooled_n)
    basis_flat = basis.ravel()
    d = np.repeat(default, shape[1])
    used_low = np.select([basis_flat == 0, basis_flat == 1], [low, p_low], np.minimum(LEAKAGE_LOW, d))
    used_high = np.select([basis_flat == 0, basis_flat == 1], [high, p_high], np.maximum(LEAKAGE_HIGH, d))
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(n.ravel() > 0, k.ravel() / n.ravel(), np.nan)
        pooled = np.where(pooled_n > 0, pooled_k / pooled_n, np.nan)
    out = out.with_columns(
        pl.Series("rate", own).fill_nan(None),
        pl.Series("ci_low", low).fill_nan(None),
        pl.Series("ci_high", high).fill_nan(None),
        pl.Series("_used", used.ravel()).fill_nan(None),
        pl.Series("_basis", np.asarray(LEAKAGE_BASES)[basis_flat]),
        pl.Series("used_ci_low", used_low).fill_nan(None),
        pl.Series("used_ci_high", used_high).fill_nan(None),
        pl.Series("pooled_n_closed", pooled_n.astype(np.int64)),
        pl.Series("pooled_n_leaked", pooled_k.astype(np.int64)),
        pl.Series("pooled_rate", pooled).fill_nan(None),
    )
    out = out.with_columns(_override(out, ["specialty", "outcome"], override).alias("_override"))
    if isinstance(override, Mapping):  # a key may also name a whole specialty
        out = out.with_columns(
            pl.coalesce("_override", _override(out, ["specialty"], override)).alias("_override")
        )
    overridden = pl.col("_override").is_not_null()
    return out.select(
        "specialty",
        "outcome",
        "n_closed",
        "n_leaked",
        "rate",
        "ci_low",
        "ci_high",
        pl.coalesce("_override", "_used").alias("rate_used"),
        pl.when(overridden).then(pl.lit("override")).otherwise("_basis").alias("basis"),
        pl.when(~overridden).then("used_ci_low").alias("used_ci_low"),
        pl.when(~overridden).then("used_ci_high").alias("used_ci_high"),
        "n_no_claims",
        "pooled_n_closed",
        "pooled_n_leaked",
        "pooled_rate",
        "default_leakage",
        "leakage_source",
        pl.lit(int(horizon_months), dtype=pl.Int32).alias("horizon_months"),
    )
