"""The sensitivity scenarios of the cost method: each assumption moved alone to a low and a high value.

Why these ends: `c` and each `l` move across their own 95% intervals (the data's uncertainty,
not a literature range), prices by 20% either way, the fee by half, the horizon to 6 and 24
months (everything recomputed: other cases close, the rates are re-estimated) and the discount
rate to 0% and 3% a year. A rate with no interval of its own (an assumed `c`) stays where it is,
and the analysis says so. marts.cost_sensitivity computes the same nets in closed form; the
notebook recomputes each scenario with `case_costs` and must land on the same cents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from pipelines.lib.core.claims import LEAKAGE_OUTCOMES
from pipelines.lib.core.costs import CostAssumptions
from pipelines.lib.vocabulary import outcome_label

SCENARIOS: tuple[str, ...] = ("low", "high")
PRICE_SWING, FEE_SWING = 0.2, 0.5
HORIZONS: tuple[int, int] = (6, 24)
DISCOUNTS: tuple[float, float] = (0.0, 0.03)


@dataclass(frozen=True)
class Scenario:
    """One assumption at one end: its name, the end, the words for the 'all' row, the assumptions."""

    assumption: str
    scenario: str
    setting: str
    assumptions: CostAssumptions


def _ends(rates: pl.DataFrame, key: pl.Expr) -> dict[str, dict[str, float]]:
    """{'low': {key: value}, 'high': {...}}: the interval ends of each rate in force, or the rate itself."""
    frame = rates.select(
        key.alias("k"),
        pl.coalesce("used_ci_low", "rate_used").alias("low"),
        pl.coalesce("used_ci_high", "rate_used").alias("high"),
    ).drop_nulls("low")
    return {end: dict(zip(frame["k"].to_list(), frame[end].to_list(), strict=True)) for end in SCENARIOS}


def leakage_assumption(outcome: str) -> str:
    return f"leakage_{outcome}"


def sensitivity_scenarios(
    base: CostAssumptions, baseline: pl.DataFrame, leakage: pl.DataFrame
) -> list[Scenario]:
    """Every scenario of marts.cost_sensitivity, from the rates in force (core.baseline_rates, core.leakage_rates)."""
    out: list[Scenario] = []
    c_ends = _ends(baseline, pl.col("specialty"))
    for end in SCENARIOS:
        out.append(
            Scenario(
                "baseline_completion",
                end,
                f"c of every specialty at the {end} end of its 95% interval (an assumed c has none and stays)",
                replace(base, baseline_override=c_ends[end]),
            )
        )
    for outcome in LEAKAGE_OUTCOMES:
        ends = _ends(
            leakage.filter(pl.col("outcome") == outcome),
            pl.col("specialty") + pl.lit("/") + pl.col("outcome"),
        )
        for end in SCENARIOS:
            out.append(
                Scenario(
                    leakage_assumption(outcome),
                    end,
                    f"leakage of {outcome_label(outcome).lower()} cases at the {end} end of each specialty's interval",
                    replace(base, leakage_override=ends[end]),
                )
            )
    fee = base.program_fee_usd
    for end, sign in zip(SCENARIOS, (-1, 1), strict=True):
        m = 1.0 + sign * PRICE_SWING
        out.append(
            Scenario(
                "prices", end, f"all prices x{m:g}", replace(base, price_multiplier=base.price_multiplier * m)
            )
        )
    for end, sign in zip(SCENARIOS, (-1, 1), strict=True):
        m = 1.0 + sign * FEE_SWING
        out.append(
            Scenario(
                "program_fee",
                end,
                f"fee ${fee * m:,.0f} per review (x{m:g})",
                replace(base, program_fee_usd=fee * m),
            )
        )
    for end, months in zip(SCENARIOS, HORIZONS, strict=True):
        out.append(
            Scenario(
                "horizon", end, f"horizon {months} months (recomputed)", replace(base, horizon_months=months)
            )
        )
    for end, rate in zip(SCENARIOS, DISCOUNTS, strict=True):
        out.append(
            Scenario(
                "discount_rate", end, f"discount {rate:.0%} a year", replace(base, discount_rate_annual=rate)
            )
        )
    return out
