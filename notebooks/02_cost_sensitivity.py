# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Cost avoided under other assumptions
#
# `core.case_costs` is written by `pipelines.lib.core.costs.case_costs` under the run's
# `CostAssumptions`. This notebook calls **the same function** on the same inputs
# (`load_cost_inputs` reads them from the warehouse, read-only) with other assumptions. For the
# published measures and their 95% bootstrap intervals it calls `scenario_impact`, which runs the
# mart's own builder on a scenario in a scratch database. Nothing is written back.
#
# The method (docs/method.md "Cost avoided"): per changed case,
# `E0 = c x P(initial) + (1 - c) x P(conservative)` without the review and
# `E1 = P(plan) + l x P(initial)` with it; `c` is the baseline completion of confirmed first
# plans, `l` the leakage of the case's specialty and outcome, both estimated from closed
# horizons (judged against the claims-through date). First, the notebook checks that it
# reproduces the stored figures to the cent.

# %%
import numpy as np
import plotly.graph_objects as go
import polars as pl

from pipelines.lib.readers import find_warehouse, open_warehouse

WAREHOUSE = find_warehouse()
conn = open_warehouse(WAREHOUSE)  # read-only: a notebook never writes to the warehouse
pl.Config.set_tbl_rows(40)
pl.Config.set_tbl_cols(20)
pl.Config.set_fmt_str_lengths(400)
print(f"warehouse: {WAREHOUSE}")

# %%
import json
from dataclasses import replace

from dashboards.figures import tornado_figure
from pipelines.lib.core.costs import CostAssumptions, case_costs, load_cost_inputs
from pipelines.lib.core.prices import effective_prices
from pipelines.lib.core.rates import LEAKAGE_HIGH, LEAKAGE_LOW
from pipelines.lib.core.scenarios import sensitivity_scenarios
from pipelines.lib.marts.costs import scenario_impact
from pipelines.lib.settings import Settings

summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
settings = Settings(**json.loads(summary["settings"]))  # the settings of the run that built the warehouse
inputs = load_cost_inputs(conn)
base = CostAssumptions.from_settings(settings)
pl.Config.set_float_precision(2)
pl.Config.set_thousands_separator(",")
print(f"{inputs.outcomes.height:,} cases with an opinion; claims through {summary.get('claims_through')}")
print(summary.get("claims_through_basis"))
base


# %%
def net_by_specialty(costs: pl.DataFrame, fee: float) -> pl.DataFrame:
    """Point net avoided per specialty and 'all': the sum of projected_avoided less fee x reviews."""
    per = costs.group_by("specialty").agg(
        pl.len().alias("n_cases"), pl.col("projected_avoided").sum().alias("gross_avoided")
    )
    both = pl.concat([per, per.select(pl.lit("all").alias("specialty"), pl.exclude("specialty").sum())])
    return both.with_columns((pl.col("gross_avoided") - fee * pl.col("n_cases")).alias("net_avoided"))


def net_all(assumptions: CostAssumptions, prices: pl.DataFrame | None = None) -> float:
    costs = case_costs(inputs, assumptions, prices).cases
    return float(costs["projected_avoided"].sum() - assumptions.program_fee_usd * costs.height)


def sweep_plot(
    frame: pl.DataFrame, x: str, title: str, x_title: str, marks: dict[str, float] | None = None
) -> go.Figure:
    """Net avoided along one assumption; a band where the frame carries the bootstrap interval."""
    traces = []
    if "net_ci_low" in frame.columns:
        traces += [
            go.Scatter(x=frame[x], y=frame["net_ci_high"], mode="lines", line={"width": 0}, showlegend=False),
            go.Scatter(
                x=frame[x],
                y=frame["net_ci_low"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(0,114,178,0.18)",
                name="95% bootstrap interval",
            ),
        ]
    traces.append(
        go.Scatter(
            x=frame[x],
            y=frame["net_avoided"],
            mode="lines+markers",
            name="net avoided",
            line={"color": "#0072B2"},
        )
    )
    fig = go.Figure(traces)
    for name, value in (marks or {}).items():
        fig.add_vline(x=value, line={"dash": "dot"}, annotation_text=name, annotation_textangle=-90)
    fig.add_hline(y=0, line={"color": "#222222", "width": 1})
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title="Net cost avoided (USD)",
        yaxis_tickprefix="$",
        yaxis_tickformat=",.0f",
    )
    return fig


# %% [markdown]
# ## Baseline: the stored figures, reproduced
#
# Under the run's own assumptions the function must give back `core.case_costs` case by case
# (projected and verified, to the cent), the rates in force, and — through the mart's own
# builder — `marts.cost_impact` with its intervals. If these checks fail, the notebook is not
# looking at what the pipeline published.

# %%
baseline = case_costs(inputs, base)
stored = conn.sql(
    "SELECT case_id, projected_avoided, realized_status, realized_avoided FROM core.case_costs"
).pl()
paired = baseline.cases.join(stored, on="case_id", suffix="_stored")
assert paired.height == stored.height == baseline.cases.height
differs = paired.filter(
    ((pl.col("projected_avoided") - pl.col("projected_avoided_stored")).abs() > 0.005)
    | (pl.col("realized_status") != pl.col("realized_status_stored"))
    | (
        (pl.col("realized_avoided").fill_null(0) - pl.col("realized_avoided_stored").fill_null(0)).abs()
        > 0.005
    )
)
assert differs.height == 0, f"{differs.height} cases differ from core.case_costs"
for table, frame in (("core.baseline_rates", baseline.baseline), ("core.leakage_rates", baseline.leakage)):
    published = conn.sql(f"SELECT * FROM {table}").pl()
    assert frame.sort(frame.columns[:2]).equals(published.sort(frame.columns[:2])), table

impact = scenario_impact(baseline, inputs, settings)
published = conn.sql("SELECT * FROM marts.cost_impact").pl()
check = impact.join(published, on="specialty", suffix="_mart")
assert check.height == published.height
for col in (
    "gross_avoided",
    "net_ci_low",
    "net_ci_high",
    "verified_net",
    "verified_ci_low",
    "verified_ci_high",
):
    assert (check[col] - check[f"{col}_mart"]).abs().max() < 0.01, col
impact.select(
    "specialty",
    "n_cases",
    "gross_avoided",
    "net_avoided",
    "net_ci_low",
    "net_ci_high",
    "roi",
    "n_closed_cohort",
    "verified_net",
    "verified_ci_low",
    "verified_ci_high",
    "deferred_avoided",
    "unpriced_changes",
)

# %% [markdown]
# ## The rates in force
#
# Baseline completion `c` per specialty and leakage `l` per specialty and changed outcome, each
# observed with its Wilson interval once `min_cases_observed` closed-horizon cases with some
# claim (or enrollment through the horizon) support it; `n_no_claims` are the closed cases left
# out because nothing shows whether they leaked.

# %%
conn.sql(
    "SELECT specialty, n_closed, n_completed, rate, ci_low, ci_high, rate_used, basis, n_no_claims "
    "FROM core.baseline_rates ORDER BY specialty"
).pl()

# %%
conn.sql(
    "SELECT specialty, outcome, n_closed, n_leaked, rate, ci_low, ci_high, rate_used, basis, n_no_claims "
    "FROM core.leakage_rates ORDER BY specialty, outcome"
).pl()

# %% [markdown]
# ## Prices
#
# One basis per code (`core.prices`): the payer's list, else the mean allowed amount of at
# least 11 claims, else the catalogue in its own year. The multiplier scales every unit cost,
# pathways included; projected savings scale exactly with it, the fee does not, so the
# break-even moves. The published tornado uses x0.8 and x1.2.

# %%
conn.sql(
    "SELECT basis, count(*) AS codes, min(year) AS first_year, max(year) AS last_year FROM core.prices GROUP BY 1"
).pl()

# %%
price_sweep = pl.DataFrame(
    [
        {"multiplier": float(m), "net_avoided": net_all(replace(base, price_multiplier=float(m)))}
        for m in np.round(np.arange(0.6, 1.41, 0.1), 2)
    ]
)
sweep_plot(
    price_sweep,
    "multiplier",
    "Net avoided as every price moves together",
    "Price multiplier",
    {"x0.8": 0.8, "x1.2": 1.2},
).show()
price_sweep

# %%
# A payer's own price list replaces the price in force code by code (effective_prices), and the
# mart's builder gives its intervals. Illustration only: a hypothetical payer that pays 1.5x the
# catalogue price for open and major surgery (tiers 3-4).
payer_list = inputs.catalogue.filter(pl.col("tier") >= 3).select(
    "procedure_code", (pl.col("cost_usd") * 1.5).alias("cost_usd")
)
payer_prices = effective_prices(inputs.catalogue, payer_list, inputs.follow_ups)
payer_impact = scenario_impact(case_costs(inputs, base, payer_prices), inputs, settings)
pl.concat(
    [
        impact.filter(pl.col("specialty") == "all").with_columns(prices=pl.lit("prices in force")),
        payer_impact.filter(pl.col("specialty") == "all").with_columns(
            prices=pl.lit("hypothetical payer: tiers 3-4 at 1.5x")
        ),
    ]
).select("prices", "gross_avoided", "net_avoided", "net_ci_low", "net_ci_high", "per_case_net", "roi")

# %% [markdown]
# ## Leakage and baseline completion
#
# Every specialty's `l` of every changed outcome held at one value, and every `c` held at one
# value. Published leakage at about two years ranges from 18% [schmerz2023] to 38% [jacs1997];
# the tornado instead moves each rate across its own 95% interval.

# %%
leakage_sweep = pl.DataFrame(
    [
        {"leakage": float(x), "net_avoided": net_all(replace(base, leakage_override=float(x)))}
        for x in np.round(np.arange(0.0, 0.61, 0.05), 2)
    ]
)
sweep_plot(
    leakage_sweep,
    "leakage",
    "Net avoided by leakage (the same in every specialty and outcome)",
    "Leakage (share of changed cases operated on anyway)",
    {"18% [schmerz2023]": LEAKAGE_LOW, "38% [jacs1997]": LEAKAGE_HIGH},
).update_xaxes(tickformat=".0%").show()

# %%
completion_sweep = pl.DataFrame(
    [
        {"completion": float(x), "net_avoided": net_all(replace(base, baseline_override=float(x)))}
        for x in np.round(np.arange(0.7, 1.01, 0.05), 2)
    ]
)
sweep_plot(
    completion_sweep,
    "completion",
    "Net avoided by baseline completion c (the same in every specialty)",
    "Share of first plans carried out without the review",
).update_xaxes(tickformat=".0%").show()

# %% [markdown]
# ## Programme fee
#
# The fee enters only the programme cost (reviews x fee), so one set of case costs serves every
# fee. Published price points: $565 per case (MyConsult, 2005) and about $750 for a hospital
# second opinion [purview-fees]. The break-even fee is the gross saving per review.

# %%
gross_all = float(impact.filter(pl.col("specialty") == "all")["gross_avoided"][0])
n_all = int(impact.filter(pl.col("specialty") == "all")["n_cases"][0])
print(f"break-even fee: ${gross_all / n_all:,.0f} per review (gross saving per review)")
fee_sweep = pl.DataFrame(
    [{"fee": float(fee), "net_avoided": gross_all - fee * n_all} for fee in range(0, 3001, 250)]
)
sweep_plot(
    fee_sweep,
    "fee",
    "Net avoided by programme fee per review",
    "Fee per review (USD)",
    {"$565": 565, "$750": 750},
).show()

# %% [markdown]
# ## Horizon
#
# A longer horizon sees more of the surgery that happens anyway, but fewer horizons have closed
# by the claims-through date; both change the estimated rates. Each horizon is recomputed from
# the claims, with its own intervals.

# %%
rows = []
for months in (6, 12, 24):
    moved = replace(base, horizon_months=months)
    result = case_costs(inputs, moved)
    measures = scenario_impact(result, inputs, settings.replace(horizon_months=months)).filter(
        pl.col("specialty") == "all"
    )
    rows.append(measures.with_columns(horizon_months=pl.lit(months)))
horizon = pl.concat(rows)
sweep_plot(horizon, "horizon_months", "Net avoided by horizon (recomputed)", "Horizon (months)").show()
horizon.select(
    "horizon_months", "net_avoided", "net_ci_low", "net_ci_high", "n_closed_cohort", "verified_net"
)

# %% [markdown]
# ## The published tornado, recomputed
#
# `marts.cost_sensitivity` computes each swing in closed form. Recomputing every scenario of
# `sensitivity_scenarios` through `case_costs` must give the same net to the cent, which pins
# the closed form to the method.

# %%
mart = conn.sql("SELECT * FROM marts.cost_sensitivity").pl()
scenarios = sensitivity_scenarios(base, baseline.baseline, baseline.leakage)
recomputed = pl.concat(
    [
        net_by_specialty(case_costs(inputs, s.assumptions).cases, s.assumptions.program_fee_usd)
        .select("specialty", pl.col("net_avoided").alias("net_recomputed"))
        .with_columns(assumption=pl.lit(s.assumption), scenario=pl.lit(s.scenario))
        for s in scenarios
    ]
)
compared = mart.join(recomputed, on=["specialty", "assumption", "scenario"])
assert compared.height == mart.height
assert (compared["net_avoided"] - compared["net_recomputed"]).abs().max() < 0.01
tornado_figure(mart, "all").show()
compared.filter(pl.col("specialty") == "all").select(
    "assumption", "scenario", "setting", "net_avoided", "net_recomputed", "delta"
)

# %% [markdown]
# ## Caveats
#
# * The identifying assumption: confirmed cases' completion of the first plan stands for what the
#   changed cases would have done without the review.
# * Closed cases with no claims at all are left out of `c` and `l` unless enrollment shows them
#   covered; where covered patients often have nothing billed, that leaves `c` and `l` too high.
# * Projected savings assume the second plan is followed, apart from leakage; only 61.2% of the
#   users of one programme planned to follow it [meyer2015].
# * Deferred savings are provisional: deferral may only delay surgery [ferreira2022].
# * Catalogue prices keep their own year (`core.prices.year`): no price index is applied.

# %%
conn.close()
