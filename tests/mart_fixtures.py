"""Realistic mart frames for the dashboard tests and the site benchmark, shaped as docs/warehouse.md.

The marts are aggregated from a synthetic case-level frame (numpy draws, Polars aggregation), so
they agree with each other the way real marts do: a specialty's outcome counts add up to its
total, its months add up to its year, its flows add up to its outcome counts, 'all' is the sum
of the specialties. Small specialties and a long tail of reviewers and plans make sure that
cells from 1 to 10 occur, which is what the suppression tests need.

Only for tests and benchmarks: the pipeline builds the real marts from the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl

from pipelines.lib import stats as lib_stats

OUTCOMES = (
    "confirmed",
    "less_invasive",
    "non_surgical",
    "deferred",
    "more_invasive",
    "alternative",
    "unclassified",
)

# Per specialty: initial family (code, tier, price) and where each kind of change leads.
FAMILIES = pl.DataFrame(
    {
        "family": [
            "spinal_fusion",
            "spinal_decompression",
            "discectomy",
            "spinal_injection",
            "cabg",
            "valve_replacement",
            "pci",
            "tavr",
            "cardiac_cath",
            "knee_arthroplasty",
            "hip_arthroplasty",
            "knee_arthroscopy",
            "joint_injection",
            "mastectomy",
            "partial_mastectomy",
            "cholecystectomy",
            "hernia_repair",
            "hysterectomy",
            "endometrial_ablation",
            "prostatectomy",
            "prostate_resection",
            "prostate_biopsy",
        ],
        "price": [
            29231.0,
            15500.0,
            9800.0,
            1200.0,
            45487.0,
            52000.0,
            21052.0,
            46000.0,
            963.0,
            14275.0,
            14795.0,
            4647.0,
            350.0,
            18000.0,
            9500.0,
            19170.0,
            8700.0,
            13981.0,
            4200.0,
            17824.0,
            7900.0,
            1500.0,
        ],
    }
)

SPECIALTY_PLAN = {
    # specialty: (initial families, less invasive, more invasive, alternative)
    "spine": (["spinal_fusion", "spinal_decompression"], "spinal_injection", "spinal_fusion", "discectomy"),
    "cardiology": (["cabg", "pci", "valve_replacement"], "cardiac_cath", "cabg", "tavr"),
    "orthopedics": (
        ["knee_arthroplasty", "hip_arthroplasty"],
        "knee_arthroscopy",
        "hip_arthroplasty",
        "joint_injection",
    ),
    "oncology": (["mastectomy"], "partial_mastectomy", "mastectomy", "partial_mastectomy"),
    "general_surgery": (
        ["cholecystectomy", "hernia_repair"],
        "hernia_repair",
        "cholecystectomy",
        "hernia_repair",
    ),
    "gynecology": (["hysterectomy"], "endometrial_ablation", "hysterectomy", "endometrial_ablation"),
    "urology": (["prostatectomy"], "prostate_resection", "prostatectomy", "prostate_biopsy"),
}

OUTCOME_P = {
    "spine": [0.22, 0.12, 0.42, 0.12, 0.03, 0.06, 0.03],
    "cardiology": [0.45, 0.18, 0.15, 0.12, 0.03, 0.04, 0.03],
    "orthopedics": [0.40, 0.10, 0.20, 0.22, 0.02, 0.03, 0.03],
    "oncology": [0.55, 0.20, 0.05, 0.10, 0.04, 0.03, 0.03],
    "general_surgery": [0.60, 0.10, 0.15, 0.08, 0.02, 0.02, 0.03],
    "gynecology": [0.45, 0.20, 0.15, 0.10, 0.03, 0.04, 0.03],
    "urology": [0.40, 0.20, 0.20, 0.10, 0.03, 0.04, 0.03],
}

SMALL_SIZES = {"spine": 2400, "cardiology": 1800, "orthopedics": 1200, "gynecology": 40, "urology": 8}
PAYERS = ("commercial", "medicare", "medicaid", "self_pay", "other")
SETTINGS = {
    "program_fee_usd": 750.0,
    "horizon_months": 12,
    "min_cases_observed": 30,
    "bootstrap_resamples": 1000,
    "seed": 42,
    "text_model_threshold": 0.6,
    "text_model_f1_floor": 0.75,
    "min_labelled_narratives": 2000,
    "suppression_threshold": 11,
    "gx_max_rows": 200000,
}
TURNAROUND_EDGES = np.array([1, 2, 3, 4, 5, 6, 7, 10, 14, 21, 28, 42, 60, 90, 180, 365])
LAST_DAY = dt.date(2025, 12, 31)


def _zipf_weights(k: int, a: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** a
    return w / w.sum()


def make_cases(
    sizes: dict[str, int],
    *,
    seed: int = 0,
    reviewers_per_specialty: int = 14,
    n_plans: int = 25,
    months: int = 18,
) -> pl.DataFrame:
    """Synthetic case-level outcomes and costs (the shape of core.case_outcomes + case_costs)."""
    rng = np.random.default_rng(seed)
    parts = []
    for specialty, size in sizes.items():
        fams, less, more, alt = SPECIALTY_PLAN[specialty]
        outcome = rng.choice(len(OUTCOMES), size=size, p=OUTCOME_P[specialty])
        reviewer = rng.choice(reviewers_per_specialty, size=size, p=_zipf_weights(reviewers_per_specialty))
        parts.append(
            pl.DataFrame(
                {
                    "specialty": np.full(size, specialty),
                    "initial_family": rng.choice(fams, size=size),
                    "outcome": np.array(OUTCOMES)[outcome],
                    "reviewer_id": np.char.add(f"rv-{specialty[:4]}-", reviewer.astype(str)),
                    "less": np.full(size, less),
                    "more": np.full(size, more),
                    "alt": np.full(size, alt),
                }
            )
        )
    cases = pl.concat(parts)
    n = cases.height
    day = rng.integers(0, months * 30, size=n)
    opinion = np.datetime64(LAST_DAY) - day.astype("timedelta64[D]")
    turnaround = np.ceil(rng.gamma(2.0, 5.0, size=n)).astype(np.int64)
    plan_idx = rng.choice(n_plans, size=n, p=_zipf_weights(n_plans, 1.3))
    cases = cases.with_columns(
        opinion_date=pl.Series(opinion).cast(pl.Date),
        turnaround_days=pl.Series(turnaround),
        payer_type=pl.Series(rng.choice(PAYERS, size=n, p=[0.55, 0.25, 0.12, 0.03, 0.05])),
        plan_id=pl.Series(np.char.add("plan-", plan_idx.astype(str))),
        leaked=pl.Series(rng.random(n) < 0.2),
        score=pl.Series(rng.beta(2, 2, size=n)),
    )
    cases = cases.with_columns(
        target=pl.when(pl.col("outcome") == "confirmed")
        .then(pl.col("initial_family"))
        .when(pl.col("outcome") == "less_invasive")
        .then(pl.col("less"))
        .when(pl.col("outcome") == "more_invasive")
        .then(pl.col("more"))
        .when(pl.col("outcome") == "alternative")
        .then(pl.col("alt"))
        .otherwise(pl.col("outcome")),
        month=pl.col("opinion_date").dt.truncate("1mo"),
        changed=~pl.col("outcome").is_in(["confirmed", "unclassified"]),
        horizon_closed=pl.col("opinion_date") <= pl.lit(LAST_DAY - dt.timedelta(days=365)),
    )
    prices = FAMILIES.rename({"family": "initial_family", "price": "cost_initial"})
    target_prices = FAMILIES.rename({"family": "target", "price": "target_price"})
    cases = cases.join(prices, on="initial_family", how="left").join(target_prices, on="target", how="left")
    cost_recommended = (
        pl.when(pl.col("outcome").is_in(["confirmed", "unclassified"]))
        .then(pl.col("cost_initial"))
        .when(pl.col("outcome") == "non_surgical")
        .then(1500.0 + 0.2 * pl.col("cost_initial"))
        .when(pl.col("outcome") == "deferred")
        .then(800.0 + 0.3 * pl.col("cost_initial"))
        .otherwise(pl.col("target_price"))
    )
    cases = cases.with_columns(projected_avoided=pl.col("cost_initial") - cost_recommended)
    return cases.with_columns(
        realized_avoided=pl.when(~pl.col("horizon_closed"))
        .then(None)
        .when(pl.col("leaked") & pl.col("changed"))
        .then(0.0)
        .otherwise(pl.col("projected_avoided")),
        # a score that carries some signal about change, for the targeting deciles
        score=(0.35 * pl.col("changed").cast(pl.Float64) + pl.col("score")) / 1.35,
    ).drop("less", "more", "alt", "target_price")


def _with_all(cases: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([cases, cases.with_columns(specialty=pl.lit("all"))])


def _wilson(n: pl.Expr, total: pl.Expr, z: float = 1.959964) -> tuple[pl.Expr, pl.Expr]:
    p = n / total
    centre = (p + z**2 / (2 * total)) / (1 + z**2 / total)
    half = z * ((p * (1 - p) / total + z**2 / (4 * total**2)).sqrt()) / (1 + z**2 / total)
    return (centre - half).clip(0, 1), (centre + half).clip(0, 1)


def _outcome_grid(keys: pl.DataFrame) -> pl.DataFrame:
    return keys.join(pl.DataFrame({"outcome": list(OUTCOMES)}), how="cross")


def outcome_rates(cases: pl.DataFrame) -> pl.DataFrame:
    both = _with_all(cases)
    counts = both.group_by("specialty", "outcome").agg(n=pl.len())
    grid = _outcome_grid(both.select("specialty").unique(maintain_order=True))
    out = grid.join(counts, on=["specialty", "outcome"], how="left").with_columns(pl.col("n").fill_null(0))
    out = out.with_columns(total=pl.col("n").sum().over("specialty"))
    low, high = _wilson(pl.col("n"), pl.col("total"))
    return out.with_columns(rate=pl.col("n") / pl.col("total"), ci_low=low, ci_high=high).select(
        "specialty", "outcome", "n", "total", "rate", "ci_low", "ci_high"
    )


def outcome_rates_monthly(cases: pl.DataFrame) -> pl.DataFrame:
    both = _with_all(cases)
    counts = both.group_by("specialty", "month", "outcome").agg(n=pl.len())
    grid = _outcome_grid(both.select("specialty", "month").unique())
    out = grid.join(counts, on=["specialty", "month", "outcome"], how="left").with_columns(
        pl.col("n").fill_null(0)
    )
    out = out.with_columns(total=pl.col("n").sum().over("specialty", "month"))
    out = out.with_columns(
        rate=pl.col("n") / pl.col("total"),
        center_line=pl.col("n").sum().over("specialty", "outcome")
        / pl.col("total").sum().over("specialty", "outcome"),
    )
    sigma = (pl.col("center_line") * (1 - pl.col("center_line")) / pl.col("total")).sqrt()
    out = out.with_columns(
        lcl=(pl.col("center_line") - 3 * sigma).clip(0, 1), ucl=(pl.col("center_line") + 3 * sigma).clip(0, 1)
    )
    return (
        out.with_columns(signal=(pl.col("rate") < pl.col("lcl")) | (pl.col("rate") > pl.col("ucl")))
        .select("specialty", "month", "outcome", "n", "total", "rate", "center_line", "lcl", "ucl", "signal")
        .sort("specialty", "month", "outcome")
    )


def _cost_measures(fee: float) -> list[pl.Expr]:
    z = 1.959964
    sd_sum = pl.col("projected_avoided").std() * pl.len().sqrt()
    real_sd = pl.col("realized_avoided").std() * pl.col("realized_avoided").count().sqrt()
    return [
        pl.len().alias("n_cases"),
        pl.col("projected_avoided").sum().alias("gross_avoided"),
        (pl.col("projected_avoided").sum() - z * sd_sum).alias("gross_ci_low"),
        (pl.col("projected_avoided").sum() + z * sd_sum).alias("gross_ci_high"),
        (pl.len() * fee).alias("program_cost"),
        (pl.col("realized_avoided").count()).alias("n_verified"),
        pl.col("realized_avoided").sum().alias("realized_avoided"),
        (pl.col("realized_avoided").sum() - z * real_sd).alias("realized_ci_low"),
        (pl.col("realized_avoided").sum() + z * real_sd).alias("realized_ci_high"),
        pl.col("horizon_closed").sum().alias("n_closed_cohort"),
        pl.col("projected_avoided").filter(pl.col("outcome") == "deferred").sum().alias("deferred_avoided"),
        pl.lit(0, dtype=pl.Int64).alias("unpriced_changes"),
    ]


def _cost_derived(df: pl.DataFrame, fee: float) -> pl.DataFrame:
    df = df.with_columns(
        net_avoided=pl.col("gross_avoided") - pl.col("program_cost"),
        net_ci_low=pl.col("gross_ci_low") - pl.col("program_cost"),
        net_ci_high=pl.col("gross_ci_high") - pl.col("program_cost"),
        verified_net=pl.col("realized_avoided") - pl.col("n_closed_cohort") * fee,
        deferred_ci_low=pl.col("deferred_avoided") * 0.9,
        deferred_ci_high=pl.col("deferred_avoided") * 1.1,
    )
    df = df.with_columns(
        verified_ci_low=pl.col("realized_ci_low") - pl.col("n_closed_cohort") * fee,
        verified_ci_high=pl.col("realized_ci_high") - pl.col("n_closed_cohort") * fee,
    )
    return df.with_columns(
        per_case_net=pl.col("net_avoided") / pl.col("n_cases"),
        per_case_ci_low=pl.col("net_ci_low") / pl.col("n_cases"),
        per_case_ci_high=pl.col("net_ci_high") / pl.col("n_cases"),
        roi=pl.col("net_avoided") / pl.col("program_cost"),
        roi_ci_low=pl.col("net_ci_low") / pl.col("program_cost"),
        roi_ci_high=pl.col("net_ci_high") / pl.col("program_cost"),
    )


COST_COLUMNS = [
    "n_cases",
    "gross_avoided",
    "gross_ci_low",
    "gross_ci_high",
    "program_cost",
    "net_avoided",
    "net_ci_low",
    "net_ci_high",
    "per_case_net",
    "per_case_ci_low",
    "per_case_ci_high",
    "roi",
    "roi_ci_low",
    "roi_ci_high",
    "n_verified",
    "realized_avoided",
    "realized_ci_low",
    "realized_ci_high",
    "verified_net",
    "verified_ci_low",
    "verified_ci_high",
    "n_closed_cohort",
    "deferred_avoided",
    "deferred_ci_low",
    "deferred_ci_high",
    "unpriced_changes",
]


def cost_impact(cases: pl.DataFrame, fee: float = 750.0) -> pl.DataFrame:
    out = _with_all(cases).group_by("specialty", maintain_order=True).agg(_cost_measures(fee))
    return _cost_derived(out, fee).select("specialty", *COST_COLUMNS)


def cost_impact_segments(cases: pl.DataFrame, fee: float = 750.0) -> pl.DataFrame:
    parts = [
        cases.group_by(dim)
        .agg(_cost_measures(fee))
        .rename({dim: "segment"})
        .with_columns(dimension=pl.lit(dim))
        for dim in ("payer_type", "plan_id")
    ]
    return (
        _cost_derived(pl.concat(parts), fee)
        .select("dimension", "segment", *COST_COLUMNS)
        .sort("dimension", "n_cases", descending=[False, True])
    )


def cost_sensitivity(cases: pl.DataFrame, fee: float = 750.0) -> pl.DataFrame:
    both = _with_all(cases)
    base = (
        both.group_by("specialty", maintain_order=True)
        .agg(
            gross=pl.col("projected_avoided").sum(),
            n=pl.len(),
            leak_base=pl.when(pl.col("outcome").is_in(["non_surgical", "deferred"]))
            .then(pl.col("cost_initial"))
            .otherwise(0)
            .sum(),
        )
        .with_columns(base_net_avoided=pl.col("gross") - pl.col("n") * fee)
    )
    scenarios = pl.DataFrame(
        {
            "assumption": ["prices", "prices", "leakage", "leakage", "program_fee", "program_fee"],
            "scenario": ["low", "high"] * 3,
            "setting": [
                "prices -20%",
                "prices +20%",
                "leakage -10 pts",
                "leakage +10 pts",
                "fee $500",
                "fee $1,000",
            ],
            "price_k": [0.8, 1.2, 1.0, 1.0, 1.0, 1.0],
            "leak_d": [0.0, 0.0, -0.1, 0.1, 0.0, 0.0],
            "fee": [fee, fee, fee, fee, 500.0, 1000.0],
        }
    )
    out = base.join(scenarios, how="cross").with_columns(
        net_avoided=pl.col("gross") * pl.col("price_k")
        - pl.col("leak_d") * pl.col("leak_base")
        - pl.col("n") * pl.col("fee")
    )
    return out.with_columns(delta=pl.col("net_avoided") - pl.col("base_net_avoided")).select(
        "specialty", "assumption", "scenario", "setting", "net_avoided", "base_net_avoided", "delta"
    )


def cost_assumptions(cases: pl.DataFrame, fee: float = 750.0) -> pl.DataFrame:
    """marts.cost_assumptions in shape: one row per specialty and 'all' (no counts in it)."""
    names = ["all", *cases["specialty"].unique(maintain_order=True).to_list()]
    return pl.DataFrame(
        {
            "specialty": names,
            "claims_through": LAST_DAY - dt.timedelta(days=90),
            "claims_through_basis": f"latest service_date {LAST_DAY.isoformat()} minus 90 days of claims run-out",
            "horizon_months": 12,
            "baseline_completion_used": [None] + [0.92] * (len(names) - 1),
            "conservative_cost_used": [None] + [1500.0] * (len(names) - 1),
            "workup_cost_used": [None] + [800.0] * (len(names) - 1),
            "program_fee_usd": fee,
            "price_basis_summary": "observed 96.0%, catalogue 4.0%",
            "share_estimated": 0.031,
            "payer_priced_codes": 0,
            "baseline_basis": [None] + ["observed"] * (len(names) - 1),
            "min_cases_observed": 30,
            "discount_rate_annual": 0.0,
            "catalogue_price_years": "catalogue price in its own year: not inflated",
        }
    )


def cost_rates(cases: pl.DataFrame) -> pl.DataFrame:
    """marts.cost_rates in shape: c and l per changed outcome from the closed cases' leak flags."""
    closed = cases.filter(pl.col("horizon_closed"))
    c = (
        closed.filter(pl.col("outcome") == "confirmed")
        .group_by("specialty", maintain_order=True)
        .agg(n_closed=pl.len(), n_events=(~pl.col("leaked")).sum())
        .with_columns(parameter=pl.lit("baseline_completion"), outcome=pl.lit("confirmed"))
    )
    changed = ["less_invasive", "non_surgical", "deferred", "more_invasive", "alternative"]
    l_rows = (
        closed.filter(pl.col("outcome").is_in(changed))
        .group_by("specialty", "outcome", maintain_order=True)
        .agg(n_closed=pl.len(), n_events=pl.col("leaked").sum())
        .with_columns(parameter=pl.lit("leakage"))
    )
    out = pl.concat([c, l_rows.select(c.columns)]).with_columns(
        pl.col("n_closed").cast(pl.Int64),
        pl.col("n_events").cast(pl.Int64),
        n_no_claims=pl.lit(3, dtype=pl.Int64),
    )
    low, high = _wilson(pl.col("n_events"), pl.col("n_closed"))
    observed = pl.col("n_closed") >= 30
    return (
        out.with_columns(rate=pl.col("n_events") / pl.col("n_closed"), ci_low=low, ci_high=high)
        .with_columns(
            rate_used=pl.when(observed).then(pl.col("rate")).otherwise(0.2),
            basis=pl.when(observed).then(pl.lit("observed")).otherwise(pl.lit("default")),
            used_ci_low=pl.when(observed).then(pl.col("ci_low")).otherwise(0.18),
            used_ci_high=pl.when(observed).then(pl.col("ci_high")).otherwise(0.38),
            source=pl.lit("simulated"),
        )
        .select(
            "specialty",
            "parameter",
            "outcome",
            "n_closed",
            "n_events",
            "n_no_claims",
            "rate",
            "ci_low",
            "ci_high",
            "rate_used",
            "basis",
            "used_ci_low",
            "used_ci_high",
            "source",
        )
    )


def reviewer_variation(cases: pl.DataFrame) -> pl.DataFrame:
    """The library's own comparison on these cases, each expecting its specialty x family change
    rate (the stratum fallback), so the fixture has exactly the mart's columns and meaning."""
    from pipelines.lib.marts.case_mix import STRATA, calibrated
    from pipelines.lib.marts.cusum import cusum_states
    from pipelines.lib.marts.reviewers import COLUMNS, reviewer_comparison, with_cusum_signals

    classified = (
        cases.filter(pl.col("outcome") != "unclassified")
        .with_columns(
            changed=pl.col("changed").cast(pl.Int64),
            raw_expected=pl.col("changed").cast(pl.Float64).mean().over("specialty", "initial_family"),
            basis=pl.lit(STRATA),
        )
        .sort("specialty", "reviewer_id", "opinion_date")
    )
    expected = calibrated(classified)
    out = reviewer_comparison(expected)
    return (
        with_cusum_signals(out, cusum_states(expected, 2.0, 10_000))
        .select(COLUMNS)
        .sort("specialty", "reviewer_id")
    )


def concordance(cases: pl.DataFrame) -> pl.DataFrame:
    tiers = {
        "spinal_fusion": 4,
        "cabg": 4,
        "valve_replacement": 4,
        "knee_arthroplasty": 4,
        "hip_arthroplasty": 4,
        "prostatectomy": 4,
        "spinal_decompression": 3,
        "mastectomy": 3,
        "cholecystectomy": 3,
        "hernia_repair": 3,
        "hysterectomy": 3,
        "discectomy": 2,
        "pci": 2,
        "tavr": 2,
        "knee_arthroscopy": 2,
        "partial_mastectomy": 2,
        "prostate_resection": 2,
        "spinal_injection": 1,
        "cardiac_cath": 1,
        "joint_injection": 1,
        "endometrial_ablation": 1,
        "prostate_biopsy": 1,
        "non_surgical": 0,
    }
    t = pl.DataFrame({"fam": list(tiers), "tier": list(tiers.values())})
    both = (
        _with_all(cases)
        .join(t.rename({"fam": "initial_family", "tier": "t1"}), on="initial_family", how="left")
        .join(t.rename({"fam": "target", "tier": "t2"}), on="target", how="left")
        .with_columns(
            left_out=pl.when(pl.col("outcome").is_in(["deferred", "unclassified"]))
            .then(pl.col("outcome"))
            .when(pl.col("t1").is_null() | pl.col("t2").is_null())
            .then(pl.lit("no_tier"))
        )
    )
    rng = np.random.default_rng(0)
    rows = []
    for (specialty,), part in both.group_by("specialty", maintain_order=True):
        used = part.filter(pl.col("left_out").is_null())
        matrix = np.zeros((5, 5), dtype=np.int64)
        np.add.at(matrix, (used["t1"].to_numpy(), used["t2"].to_numpy()), 1)
        kappa = lib_stats.kappa_interval(matrix, 200, rng)
        weighted = lib_stats.kappa_interval(matrix, 200, rng, weights="linear")
        left = {
            r: part.filter(pl.col("left_out") == r).height for r in ("deferred", "unclassified", "no_tier")
        }
        rows.append((specialty, used.height, *weighted[:3], *kappa, *left.values()))
    columns = ["specialty", "n", "weighted_kappa", "weighted_kappa_ci_low", "weighted_kappa_ci_high"]
    columns += ["kappa", "kappa_ci_low", "kappa_ci_high", "raw_agreement", "n_deferred", "n_unclassified"]
    return pl.DataFrame(rows, schema=[*columns, "n_no_tier"], orient="row").sort("specialty")


def turnaround(cases: pl.DataFrame) -> pl.DataFrame:
    return (
        _with_all(cases)
        .group_by("specialty", "month")
        .agg(
            n=pl.len(),
            median_days=pl.col("turnaround_days").median(),
            p90_days=pl.col("turnaround_days").quantile(0.9, interpolation="linear"),
        )
        .sort("specialty", "month")
    )


def turnaround_distribution(cases: pl.DataFrame) -> pl.DataFrame:
    idx = np.searchsorted(TURNAROUND_EDGES, cases["turnaround_days"].to_numpy(), side="left")
    edges = TURNAROUND_EDGES[np.minimum(idx, len(TURNAROUND_EDGES) - 1)]
    binned = cases.with_columns(days=pl.Series(edges))
    return _with_all(binned).group_by("specialty", "days").agg(n=pl.len()).sort("specialty", "days")


def procedure_flows(cases: pl.DataFrame) -> pl.DataFrame:
    return (
        cases.group_by("specialty", pl.col("initial_family").alias("source"), "target", "outcome")
        .agg(n=pl.len())
        .sort("specialty", "source", "target")
    )


def targeting(cases: pl.DataFrame) -> pl.DataFrame:
    ranked = cases.with_columns(
        decile=(pl.col("score").rank("ordinal", descending=True) * 10 / pl.len())
        .ceil()
        .cast(pl.Int64)
        .clip(1, 10)
    )
    overall = ranked["changed"].mean()
    out = (
        ranked.group_by("decile")
        .agg(
            n=pl.len(),
            mean_score=pl.col("score").mean(),
            observed_change_rate=pl.col("changed").mean(),
            n_changed=pl.col("changed").sum(),
        )
        .sort("decile")
    )
    return out.with_columns(
        lift=pl.col("observed_change_rate") / overall,
        cumulative_lift=(pl.col("n_changed").cum_sum() / pl.col("n").cum_sum()) / overall,
    ).drop("n_changed")


def data_quality(n_cases: int) -> dict[str, pl.DataFrame]:
    files = pl.DataFrame(
        {
            "run_id": "run-2",
            "record_type": ["cases", "opinions", "opinions", "follow_ups", "cases", "procedure_costs"],
            "status": ["loaded", "partial", "duplicate_file", "loaded", "rejected", "partial"],
            "n_files": [3, 2, 1, 1, 1, 1],
            "rows_read": [n_cases, n_cases + 64, 0, n_cases // 3, 0, 30],
            "rows_loaded": [n_cases, n_cases + 17, 0, n_cases // 3, 0, 24],
            "rows_quarantined": [0, 27, 0, 0, 0, 6],
            "rows_duplicate": [0, 20, 0, 0, 0, 0],
        }
    )
    rules = pl.DataFrame(
        {
            "record_type": ["opinions", "opinions", "opinions", "procedure_costs"],
            "field": ["opinion_date", "recommendation", "case_id", "cost_usd"],
            "rule": ["not_before_referral", "invalid_value", "required", "min_value"],
            "n_rows": [14, 3, 12, 6],
        }
    )
    checks = pl.DataFrame(
        {
            "check_name": [
                "cases__case_id__unique",
                "cases__specialty__in_set",
                "opinions__opinion_date__not_future",
                "text_model__macro_f1_floor",
            ],
            "asset": ["staging_cases", "staging_cases", "staging_opinions", "opinion_text_model"],
            "passed": [True, True, False, True],
            "severity": ["ERROR", "ERROR", "WARN", "ERROR"],
            "description": [
                "case_id is unique",
                "specialty is one of the contract values",
                "opinion_date is not in the future",
                "held-out macro-F1 >= 0.75",
            ],
        }
    )
    waiting = pl.DataFrame(
        {
            "record_type": ["opinions"],
            "n_waiting": [37],
            "oldest_waiting_days": [45],
            "n_orphans": [4],
            "orphan_after_days": [30],
            "as_of": [dt.date(2026, 1, 5)],
        }
    )
    return {
        "data_quality_files": files,
        "data_quality_rules": rules,
        "data_quality_checks": checks,
        "data_quality_waiting": waiting,
    }


def run_summary(cases: pl.DataFrame, pending: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "metric": ["run_id", "finished_at", "data_freshness", "pending", "unclassified", "settings"],
            "value": [
                "run-20260105-0001",
                "2026-01-05T06:12:00",
                str(cases["opinion_date"].max()),
                str(pending),
                str(cases.filter(pl.col("outcome") == "unclassified").height),
                json.dumps(SETTINGS),
            ],
        }
    )


def make_marts(
    sizes: dict[str, int] | None = None,
    *,
    seed: int = 0,
    reviewers_per_specialty: int = 14,
    n_plans: int = 25,
    pending: int = 6,
) -> dict[str, pl.DataFrame]:
    """Every mart the site reads, keyed by table name, from one synthetic population."""
    cases = make_cases(
        sizes or SMALL_SIZES, seed=seed, reviewers_per_specialty=reviewers_per_specialty, n_plans=n_plans
    )
    marts = {
        "outcome_rates": outcome_rates(cases),
        "outcome_rates_monthly": outcome_rates_monthly(cases),
        "cost_impact": cost_impact(cases),
        "cost_impact_segments": cost_impact_segments(cases),
        "cost_sensitivity": cost_sensitivity(cases),
        "cost_assumptions": cost_assumptions(cases),
        "cost_rates": cost_rates(cases),
        "reviewer_variation": reviewer_variation(cases),
        "concordance": concordance(cases),
        "turnaround": turnaround(cases),
        "turnaround_distribution": turnaround_distribution(cases),
        "procedure_flows": procedure_flows(cases),
        "targeting": targeting(cases),
        "run_summary": run_summary(cases, pending),
    }
    marts.update(data_quality(cases.height))
    return marts


def large_marts(
    n_cases: int = 1_000_000, *, seed: int = 1, reviewers: int = 5000, n_plans: int = 2000
) -> dict[str, pl.DataFrame]:
    """Marts of a million-case programme: seven specialties, thousands of reviewers and plans."""
    share = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05])
    sizes = dict(zip(SPECIALTY_PLAN, (share * n_cases).astype(int).tolist(), strict=True))
    return make_marts(sizes, seed=seed, reviewers_per_specialty=reviewers // len(sizes), n_plans=n_plans)


def price_sources() -> pl.DataFrame:
    """A few rows in the shape of reference.procedures (reference data, no case counts)."""
    return pl.DataFrame(
        {
            "procedure_code": ["22630", "27447", "33533", "97110", "62323"],
            "description": [
                "Lumbar fusion, posterior interbody",
                "Total knee replacement",
                "Coronary artery bypass",
                "Physical therapy, therapeutic exercise",
                "Lumbar epidural injection",
            ],
            "specialty": ["spine", "orthopedics", "cardiology", "spine", "spine"],
            "family": ["spinal_fusion", "knee_arthroplasty", "cabg", "physical_therapy", "spinal_injection"],
            "tier": [4, 4, 4, 0, 1],
            "cost_usd": [29231.0, 14275.0, 45487.0, 625.0, 1200.0],
            "cost_basis": [
                "medicare_payment",
                "medicare_payment",
                "medicare_payment",
                "medicare_payment",
                "estimate",
            ],
            "cost_year": [2026, 2026, 2015, 2016, 2026],
            "cost_source": [
                "CMS Procedure Price Lookup via Becker's ASC Review 2026-03-03",
                "CMS Procedure Price Lookup via Becker's ASC Review 2026-03-03",
                "Guduguntla V et al. JAMA Surg 2018;153(1):14-19",
                "Moran Company for APTQI via nationalpainreport.com",
                "MPFS/OPPS estimates (mymedicost.com)",
            ],
            "cost_is_estimate": [False, False, False, False, True],
        }
    )


def make_run_info(marts: dict[str, pl.DataFrame]) -> dict:
    """run_info as the pipeline passes it: run id, finish time, freshness, settings, price sources."""
    summary = dict(zip(marts["run_summary"]["metric"], marts["run_summary"]["value"], strict=True))
    return {
        "run_id": summary["run_id"],
        "finished_at": summary["finished_at"],
        "data_freshness": summary["data_freshness"],
        "settings": dict(SETTINGS),
        "price_sources": price_sources(),
    }
