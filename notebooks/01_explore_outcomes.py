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
# # Outcomes by specialty, procedure, month, payer type and age band
#
# What share of second opinions confirmed the first recommendation, what share changed it, and
# how sure can we be? This notebook reads the warehouse **read-only** (marts and
# `core.case_outcomes`, see `docs/warehouse.md`).
#
# * Rates leave out **pending** cases (no opinion yet) and keep **unclassified** ones as an outcome
#   of their own (DESIGN, "Outcome classification").
# * Intervals are Wilson 95% (Brown, Cai & DasGupta, *Stat Sci* 2001), computed with
#   `pipelines.stats.wilson_interval`, the function behind `marts.outcome_rates`.
# * A case **changed** when its outcome is one of `pipelines.outcomes.CHANGED_OUTCOMES`; change
#   rates count classified cases only, as `marts.reviewer_variation` does.
# * Counts here are **not suppressed**: this is analysis, not publication. The `small_cell` column
#   marks what the CMS cell-size policy (ResDAC 2024: no count from 1 to 10) would hide; anything
#   shared beyond the team goes through `dashboards.publication.publish` first.

# %%
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
from dashboards.figures import outcome_mix_figure, p_chart_figure, trend_figure
from dashboards.palette import OUTCOMES, specialty_label
from dashboards.publication import publish
from dashboards.suppression import primary_mask
from pipelines.lib import stats
from pipelines.lib.site.publish import read_marts
from pipelines.lib.vocabulary import CHANGED_OUTCOMES

summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
{
    k: summary.get(k)
    for k in ("run_id", "data_freshness", "cases", "cases_with_opinion", "pending", "unclassified")
}

# %% [markdown]
# ## Outcome mix by specialty
#
# Straight from `marts.outcome_rates`: each outcome's share with its Wilson interval, per
# specialty and for all specialties together. The table is the mart as stored; the figures are
# drawn by the dashboard's own builders from the frames the publication layer makes safe
# (`publish` over the tables they draw, decided together), so they look as the site draws them.

# %%
rates = conn.sql("SELECT * FROM marts.outcome_rates").pl()
specialties = [s for s in rates["specialty"].unique(maintain_order=True).to_list() if s != "all"]


def pct(c: str) -> pl.Expr:
    return (pl.col(c) * 100).round(1).cast(pl.String)


rates.with_columns(cell=pl.format("{} ({}–{})", pct("rate"), pct("ci_low"), pct("ci_high"))).pivot(
    on="outcome", index=["specialty", "total"], values="cell"
)

# %%
marts = read_marts(conn)
# the tables these figures draw, decided together: safe on their own; the site decides every mart
# at once, so it may hide a few more cells than this
published = publish({k: marts[k] for k in ("outcome_rates", "outcome_rates_monthly") if k in marts}).frames
safe_rates = published["outcome_rates"]
outcome_mix_figure(safe_rates, ["all"], title="Outcome mix, all specialties (Wilson 95%)").show()
outcome_mix_figure(safe_rates, specialties).show()

# %% [markdown]
# ## Change rate by the first recommendation
#
# The helper below counts classified cases and changed cases per group in SQL and adds Wilson
# intervals. Groups are sorted by their rate; wide error bars are small groups.

# %%
CHANGED_SQL = "(" + ", ".join(f"'{o}'" for o in CHANGED_OUTCOMES) + ")"


def change_rates(*columns: str, **expressions: str) -> pl.DataFrame:
    """Per group of classified cases: n, n_changed, change_rate, Wilson 95% interval, small_cell."""
    keys = {c: c for c in columns} | expressions
    select = ", ".join(f"coalesce(CAST({sql} AS VARCHAR), 'missing') AS {name}" for name, sql in keys.items())
    counts = conn.sql(f"""
        SELECT {select}, count(*) AS n, count(*) FILTER (WHERE outcome IN {CHANGED_SQL}) AS n_changed
        FROM core.case_outcomes WHERE outcome <> 'unclassified'
        GROUP BY ALL ORDER BY ALL""").pl()
    low, high = stats.wilson_interval(counts["n_changed"].to_numpy(), counts["n"].to_numpy())
    return counts.with_columns(
        change_rate=(pl.col("n_changed") / pl.col("n")).round(3),
        ci_low=pl.Series(low).round(3),
        ci_high=pl.Series(high).round(3),
        small_cell=primary_mask("n") | primary_mask("n_changed"),
    )


def dot_plot(
    frame: pl.DataFrame, label: str, title: str, colour: str | None = None, by_rate: bool = True
) -> go.Figure:
    """Change rate per group with its interval, one colour per value of `colour`; rows by rate or as given."""
    frame = frame.sort("change_rate") if by_rate else frame
    fig = go.Figure()
    groups = frame[colour].unique(maintain_order=True).to_list() if colour else [None]
    for group in groups:
        part = frame if group is None else frame.filter(pl.col(colour) == group)
        fig.add_trace(
            go.Scatter(
                x=part["change_rate"],
                y=part[label],
                mode="markers",
                name=specialty_label(group) if group else "change rate",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (part["ci_high"] - part["change_rate"]).to_list(),
                    "arrayminus": (part["change_rate"] - part["ci_low"]).to_list(),
                },
                customdata=part["n"],
                hovertemplate="%{y}: %{x:.1%} of %{customdata} cases<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="Change rate (Wilson 95%)",
        xaxis_tickformat=".0%",
        height=max(350, 22 * frame.height),
        yaxis={"type": "category", "categoryorder": "array", "categoryarray": frame[label].to_list()},
    )
    return fig


by_family = change_rates("specialty", "initial_family").with_columns(
    group=pl.concat_str([pl.col("specialty"), pl.col("initial_family")], separator=" · ")
)
dot_plot(by_family, "group", "Change rate by initial procedure family", colour="specialty").show()

# %%
# The fifteen commonest initial procedure codes (family and tier from reference.procedures).
by_code = change_rates("specialty", "initial_procedure_code", "initial_family", "initial_tier")
by_code.sort("n", descending=True).head(15)

# %% [markdown]
# ## By month of the opinion
#
# `marts.outcome_rates_monthly` holds a p-chart per specialty and outcome: the centre line is
# the outcome's rate over all months, the limits are 3 sigma for each month's own denominator,
# and a month outside them is a `signal`. The change rate per month below adds Wilson intervals.

# %%
monthly = conn.sql("SELECT * FROM marts.outcome_rates_monthly").pl()
safe_monthly = published["outcome_rates_monthly"]
trend_figure(safe_monthly, "all").show()
p_chart_figure(safe_monthly, "all").show()
monthly.filter(pl.col("signal")).group_by("specialty", "outcome").agg(
    months_signalled=pl.len(), months=pl.col("month").sort()
).sort("specialty", "outcome")

# %%
by_month = change_rates(month="CAST(date_trunc('month', opinion_date) AS DATE)").filter(
    pl.col("month") != "missing"
)
fig = go.Figure(
    [
        go.Scatter(
            x=by_month["month"], y=by_month["ci_high"], mode="lines", line={"width": 0}, showlegend=False
        ),
        go.Scatter(
            x=by_month["month"],
            y=by_month["ci_low"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(0,114,178,0.18)",
            name="Wilson 95%",
        ),
        go.Scatter(
            x=by_month["month"],
            y=by_month["change_rate"],
            mode="lines+markers",
            name="change rate",
            line={"color": "#0072B2"},
        ),
    ]
)
fig.update_layout(
    title="Change rate by month of opinion, all specialties",
    yaxis_tickformat=".0%",
    xaxis_title="Month of opinion",
    yaxis_title="Change rate",
)
fig.show()

# %% [markdown]
# ## Slices: payer type and age band
#
# Payer type and age band are correlated (Medicare covers most patients over 65), so read
# the two slices together rather than one as the cause of the other. Missing values are their
# own group.

# %%
by_payer = change_rates("payer_type")
by_age = change_rates("age_band")
dot_plot(by_payer, "payer_type", "Change rate by payer type").show()
dot_plot(by_age.sort("age_band"), "age_band", "Change rate by age band", by_rate=False).show()
by_payer

# %%
# Specialty x payer type: rate (n); small cells would be suppressed if published.
(
    change_rates("specialty", "payer_type")
    .with_columns(
        cell=pl.format("{} ({})", (pl.col("change_rate") * 100).round(1), pl.col("n"))
        + pl.when(pl.col("small_cell")).then(pl.lit(" [small]")).otherwise(pl.lit(""))
    )
    .pivot(on="payer_type", index="specialty", values="cell")
)

# %%
# The whole outcome mix by age band: shares of each outcome among cases with an opinion.
mix = (
    conn.sql(
        "SELECT coalesce(age_band, 'missing') AS age_band, outcome, count(*) AS n "
        "FROM core.case_outcomes GROUP BY ALL"
    )
    .pl()
    .with_columns(share=(pl.col("n") / pl.col("n").sum().over("age_band")).round(3))
    .pivot(on="outcome", index="age_band", values="share")
    .fill_null(0.0)
)
mix.select("age_band", *[o for o in OUTCOMES if o in mix.columns]).sort("age_band")

# %% [markdown]
# ## Reading these numbers
#
# * A change rate is not a rate of unnecessary surgery: there is no gold standard saying which
#   opinion was right (Garcia et al., *Ann Surg Oncol* 2018), and non-confirmation rates are
#   "unsatisfactory measures" of unnecessary surgery (*JAMA* 1979).
# * Patients who ask for a second opinion select themselves (Friedlob, *Health Care Financ Rev*
#   1982): slices describe this programme's referrals, not a population.
# * Slices are crude: none is adjusted for the others. Notebook 04 shows how much of the
#   variation between reviewers is case mix (specialty, procedure and urgency).

# %%
conn.close()
