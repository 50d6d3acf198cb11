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
# `core.case_costs` is written by `pipelines.costs.case_costs` under the run's
# `CostAssumptions`. This notebook calls **the same function** on the same inputs
# (`load_cost_inputs` reads them from the warehouse, read-only) with other assumptions, and
# sums the result with `pipelines.marts.cost_measures`, the function behind
# `marts.cost_impact` (gross, programme cost, net, ROI, 95% stratified bootstrap intervals).
# Nothing is written back.
#
# The assumptions moved: **prices** (every unit cost scaled, or a payer's own price list),
# **leakage** (the share of non-surgical and deferred cases that have the surgery anyway),
# the **programme fee** per review, and the **horizon** in which a follow-up claim counts as
# leakage. First, the notebook checks that it reproduces the stored figures exactly.

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
from datetime import date

from dashboards.figures import cost_figure, tornado_figure
from dashboards.palette import PROJECTED, VERIFIED
from pipelines.lib.core.costs import (
    LEAKAGE_HIGH,
    LEAKAGE_LOW,
    CostAssumptions,
    case_costs,
    effective_prices,
    load_cost_inputs,
    sensitivity_scenarios,
)
from pipelines.lib.marts.costs import cost_measures
from pipelines.lib.settings import Settings

summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
settings = Settings(**json.loads(summary["settings"]))  # the settings of the run that built the warehouse
AS_OF = date.fromisoformat(summary["as_of"])  # the date the run judged every horizon against
outcomes, prices, pathways, follow_ups = load_cost_inputs(conn)
base = CostAssumptions.from_settings(settings)
pl.Config.set_float_precision(2)
pl.Config.set_thousands_separator(",")
print(f"{outcomes.height:,} cases with an opinion; as of {AS_OF}")
base


# %%
def measures(costs: pl.DataFrame, fee: float, by: str | None = None) -> pl.DataFrame:
    """marts.cost_impact's measures (cost_measures) over all cases, or per `by` plus 'all'."""
    if by is None:
        codes, labels = np.zeros(costs.height, dtype=np.int64), ["all"]
    else:
        labels = costs[by].unique().sort().to_list()
        codes = (costs[by].rank("dense").cast(pl.Int64) - 1).to_numpy()
    return cost_measures(
        codes,
        labels,
        costs["projected_avoided"].fill_null(0.0).to_numpy(),
        costs["realized_avoided"].fill_null(0.0).to_numpy(),
        costs["realized_status"].is_in(["verified_avoided", "leaked"]).to_numpy(),
        fee,
        settings.bootstrap_resamples,
        settings.seed,
        with_total="all" if by else None,
    )


def scenario(
    assumptions: CostAssumptions, price_table: pl.DataFrame = prices, **label: object
) -> pl.DataFrame:
    """Net avoided (all cases) under `assumptions`, labelled with the values in `label`."""
    costs = case_costs(outcomes, price_table, pathways, follow_ups, assumptions, AS_OF)
    return measures(costs, assumptions.program_fee_usd).with_columns(
        **{k: pl.lit(v) for k, v in label.items()}
    )


def sweep_plot(
    frame: pl.DataFrame, x: str, title: str, x_title: str, marks: dict[str, float] | None = None
) -> go.Figure:
    """Net avoided with its 95% bootstrap band along one assumption; `marks` are labelled lines."""
    marks = marks or {}
    fig = go.Figure(
        [
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
            go.Scatter(
                x=frame[x],
                y=frame["net_avoided"],
                mode="lines+markers",
                name="net avoided",
                line={"color": "#0072B2"},
            ),
        ]
    )
    for name, value in marks.items():
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
# and `marts.cost_impact` per specialty. If these checks fail, the notebook is not looking at
# what the pipeline published.

# %%
baseline_costs = case_costs(outcomes, prices, pathways, follow_ups, base, AS_OF)
stored = conn.sql("SELECT case_id, projected_avoided, realized_status FROM core.case_costs").pl()
paired = baseline_costs.join(stored, on="case_id", suffix="_stored")
assert paired.height == stored.height == baseline_costs.height
differs = paired.filter(
    (
        (pl.col("projected_avoided").fill_null(0) - pl.col("projected_avoided_stored").fill_null(0)).abs()
        > 0.01
    )
    | (pl.col("realized_status") != pl.col("realized_status_stored"))
)
assert differs.height == 0, f"{differs.height} cases differ from core.case_costs"

baseline = measures(baseline_costs, base.program_fee_usd, by="specialty").rename({"segment": "specialty"})
published = conn.sql("SELECT specialty, gross_avoided, net_avoided FROM marts.cost_impact").pl()
check = baseline.join(published, on="specialty", suffix="_mart")
assert check.height == published.height
assert (check["gross_avoided"] - check["gross_avoided_mart"]).abs().max() < 0.5
baseline.select(
    "specialty",
    "n_cases",
    "gross_avoided",
    "program_cost",
    "net_avoided",
    "net_ci_low",
    "net_ci_high",
    "per_case_net",
    "roi",
    "n_verified",
    "realized_avoided",
)

# %%
cost_figure(baseline.filter(pl.col("specialty") != "all")).show()

# %% [markdown]
# ## Prices
#
# Unit costs are the catalogue's reference prices (`reference.procedures`, each with its
# `cost_source` and `cost_year`) unless the payer sent its own (`procedure_costs`). The
# multiplier scales every unit cost, pathways included; the published tornado uses x0.8 and
# x1.2. Projected savings scale exactly with it; the programme fee does not, so the break-even
# moves.

# %%
price_sweep = pl.concat(
    [
        scenario(replace(base, price_multiplier=float(m)), multiplier=float(m))
        for m in np.round(np.arange(0.6, 1.41, 0.1), 2)
    ]
)
sweep_plot(
    price_sweep,
    "multiplier",
    "Net avoided as every price moves together",
    "Price multiplier",
    {"published tornado x0.8": 0.8, "x1.2": 1.2},
).show()
price_sweep.select("multiplier", "gross_avoided", "net_avoided", "net_ci_low", "net_ci_high", "roi")

# %%
# A payer's own price list replaces the reference price code by code (effective_prices).
# Illustration only: a hypothetical payer that pays 1.5x the reference price for open and
# major surgery (tiers 3-4) and the reference price for everything else.
catalogue = conn.sql("SELECT * FROM reference.procedures").pl()
payer_list = catalogue.filter(pl.col("tier") >= 3).select(
    "procedure_code", (pl.col("cost_usd") * 1.5).alias("cost_usd")
)
payer_prices = effective_prices(catalogue, payer_list)
pl.concat(
    [
        scenario(base, prices, prices="prices in the warehouse"),
        scenario(base, payer_prices, prices="hypothetical payer: tiers 3-4 at 1.5x"),
    ]
).select("prices", "gross_avoided", "net_avoided", "net_ci_low", "net_ci_high", "per_case_net", "roi")

# %% [markdown]
# ## Leakage
#
# A non-surgical or deferred case is credited with its pathway cost **plus leakage x the
# initial procedure's cost**: some of those patients have the surgery anyway. The leakage in
# force per specialty is in `core.leakage_rates` (observed from claims once enough
# closed-horizon cases support it, else the catalogue default). Published leakage ranges from
# 18% (*Schmerz* 2023, spine, about 2 years) to 38% (*J Am Coll Surg* 1997, 2-year claims);
# the sweep sets every specialty to one value.

# %%
conn.sql(
    "SELECT specialty, default_leakage, n_observed, n_leaked, observed_leakage, leakage_used, leakage_basis, "
    "horizon_months FROM core.leakage_rates ORDER BY specialty"
).pl()

# %%
leakage_sweep = pl.concat(
    [
        scenario(replace(base, leakage_override=float(x)), leakage=float(x))
        for x in np.round(np.arange(0.0, 0.61, 0.05), 2)
    ]
)
sweep_plot(
    leakage_sweep,
    "leakage",
    "Net avoided by leakage (same in every specialty)",
    "Leakage (share of non-surgical and deferred cases operated anyway)",
    {"Schmerz 2023: 18%": LEAKAGE_LOW, "J Am Coll Surg 1997: 38%": LEAKAGE_HIGH},
).update_xaxes(tickformat=".0%").show()

# %% [markdown]
# ## Programme fee
#
# The fee enters only the programme cost (reviews x fee), so one set of case costs serves
# every fee. Published price points: $565 per case (MyConsult, 2005), about $750 for a
# hospital second opinion and up to $2,500 (Purview blog, via literature.md §3.1). The
# break-even fee is the gross saving per review.

# %%
fee_sweep = pl.concat(
    [measures(baseline_costs, float(fee)).with_columns(fee=pl.lit(float(fee))) for fee in range(0, 3001, 250)]
)
gross_all = float(baseline.filter(pl.col("specialty") == "all")["gross_avoided"][0])
n_all = int(baseline.filter(pl.col("specialty") == "all")["n_cases"][0])
print(f"break-even fee: ${gross_all / n_all:,.0f} per review (gross saving per review)")
sweep_plot(
    fee_sweep,
    "fee",
    "Net avoided by programme fee per review",
    "Fee per review (USD)",
    {"MyConsult 2005: $565": 565, "typical: $750": 750, "upper end: $2,500": 2500},
).show()

# %% [markdown]
# ## Horizon
#
# A follow-up claim in the initial procedure's family counts as leakage when it falls within
# the horizon after the opinion. literature.md §3.3 suggests reporting 6, 12 and 24 months. A
# longer horizon sees more of the surgery that happened anyway, but fewer cases have a closed
# window by the run date, so fewer are verified; and the observed leakage replaces a
# specialty's default only when enough closed-horizon cases support it.

# %%
rows, statuses = [], []
for months in (6, 12, 24):
    costs = case_costs(outcomes, prices, pathways, follow_ups, replace(base, horizon_months=months), AS_OF)
    rows.append(measures(costs, base.program_fee_usd).with_columns(horizon_months=pl.lit(months)))
    statuses.append(costs.group_by("realized_status").len().with_columns(horizon_months=pl.lit(months)))
horizon = pl.concat(rows)
fig = go.Figure(
    [
        go.Bar(
            name="projected net",
            x=horizon["horizon_months"],
            y=horizon["net_avoided"],
            marker_color=PROJECTED,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (horizon["net_ci_high"] - horizon["net_avoided"]).to_list(),
                "arrayminus": (horizon["net_avoided"] - horizon["net_ci_low"]).to_list(),
            },
        ),
        go.Bar(
            name="verified net (closed windows)",
            x=horizon["horizon_months"],
            y=horizon["realized_net"],
            marker_color=VERIFIED,
        ),
    ]
)
fig.update_layout(
    title="Projected and verified net avoided by horizon",
    barmode="group",
    xaxis={"title": "Horizon (months)", "type": "category"},
    yaxis_title="USD",
    yaxis_tickprefix="$",
    yaxis_tickformat=",.0f",
)
fig.show()
pl.concat(statuses).pivot(on="realized_status", index="horizon_months", values="len").join(
    horizon.select("horizon_months", "net_avoided", "n_verified", "realized_avoided", "realized_net"),
    on="horizon_months",
).sort("horizon_months")

# %% [markdown]
# ## Two assumptions at once: price level and leakage
#
# Net avoided per review over a grid of price multipliers and leakage values, the fee held at
# the run's setting. Adding the fee back gives the break-even fee of each scenario; where a
# contour reaches zero, the programme stops paying for itself.

# %%
multipliers = [0.6, 0.8, 1.0, 1.2, 1.4]
leakages = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
grid = pl.DataFrame(
    [
        {
            "multiplier": m,
            "leakage": x,
            "net_per_case": (
                case_costs(
                    outcomes,
                    prices,
                    pathways,
                    follow_ups,
                    replace(base, price_multiplier=m, leakage_override=x),
                    AS_OF,
                )["projected_avoided"]
                .fill_null(0)
                .mean()
                - base.program_fee_usd
            ),
        }
        for m in multipliers
        for x in leakages
    ]
)
z = grid.pivot(on="multiplier", index="leakage", values="net_per_case").drop("leakage").to_numpy()
fig = go.Figure(
    go.Contour(
        x=multipliers,
        y=leakages,
        z=z,
        colorscale="Viridis",
        contours={"showlabels": True},
        colorbar={"title": "USD per review"},
    )
)
fig.update_layout(
    title=f"Net avoided per review (fee ${base.program_fee_usd:,.0f})",
    xaxis_title="Price multiplier",
    yaxis_title="Leakage",
    yaxis_tickformat=".0%",
)
fig.show()

# %% [markdown]
# ## The published tornado, recomputed
#
# `marts.cost_sensitivity` computes the tornado chart in closed form. Recomputing each scenario
# of `sensitivity_scenarios` through `case_costs` must give the same net to the cent, which
# pins the closed form to the formula.

# %%
mart = conn.sql("SELECT * FROM marts.cost_sensitivity").pl()
recomputed = []
for assumption, level, _setting, moved in sensitivity_scenarios(base):
    costs = case_costs(outcomes, prices, pathways, follow_ups, moved, AS_OF)
    recomputed.append(
        measures(costs, moved.program_fee_usd, by="specialty")
        .select(pl.col("segment").alias("specialty"), pl.col("net_avoided").alias("net_recomputed"))
        .with_columns(assumption=pl.lit(assumption), scenario=pl.lit(level))
    )
compared = mart.join(pl.concat(recomputed), on=["specialty", "assumption", "scenario"])
assert compared.height == mart.height
assert (compared["net_avoided"] - compared["net_recomputed"]).abs().max() < 0.01
tornado_figure(mart, "all").show()
compared.filter(pl.col("specialty") == "all").select(
    "assumption", "scenario", "setting", "net_avoided", "net_recomputed", "delta"
)

# %% [markdown]
# ## Caveats
#
# * Projected savings assume the second plan is followed; only 61.2% of users of one programme
#   planned to follow the recommendation (Meyer et al., *Am J Med* 2015). Leakage captures
#   part of that, and only where claims arrive.
# * Deferred savings are provisional until the horizon closes (literature.md §3.3).
# * Catalogue prices mix bases (Medicare payment, hospital cost, commercial price, estimate):
#   `reference.procedures.cost_basis` and `cost_year` say which, per code.

# %%
conn.close()
