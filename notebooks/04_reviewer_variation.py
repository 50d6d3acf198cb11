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
# # Reviewer variation: funnel plots, agreement, and case mix
#
# Do some reviewers change the first recommendation more often than others, and is that the
# reviewer or the cases they get?
#
# * **Funnel plots** (Spiegelhalter, *Stat Med* 2005): each reviewer's change rate against the
#   number of cases reviewed, with exact binomial 95% and 99.8% limits around the specialty's
#   rate (`marts.reviewer_variation`, drawn by `dashboards.figures.funnel_figure`). Reviewers
#   with fewer than 11 cases are not drawn.
# * **Agreement**: Cohen's kappa between the invasiveness tier of the first and second
#   recommendation (`marts.concordance`), beside raw agreement, on the Landis & Koch (1977) bands.
# * **Case mix**: indirect standardisation of each reviewer's expected change rate from the
#   specialty x initial procedure x urgency mix of their cases, and the observed / expected ratio.

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
from dashboards.figures import agreement_figure, funnel_figure
from dashboards.palette import specialty_label
from dashboards.safe_marts import safe_reviewer_variation
from dashboards.views import landis_koch
from pipelines.lib import stats
from pipelines.lib.vocabulary import CHANGED_OUTCOMES

reviewers = conn.sql("SELECT * FROM marts.reviewer_variation").pl()
specialties = sorted(reviewers["specialty"].unique().to_list())
reviewers.group_by("specialty").agg(
    reviewers=pl.len(),
    cases=pl.col("n").sum(),
    rate=(pl.col("n_changed").sum() / pl.col("n").sum()).round(3),
    **{flag: (pl.col("flag") == flag).sum() for flag in ("high_998", "high_95", "low_95", "low_998")},
).sort("specialty")

# %% [markdown]
# ## Funnel plots
#
# Points outside the 99.8% limits are unlikely to be chance alone *given the specialty's rate*;
# they are not yet adjusted for the cases each reviewer sees.

# %%
safe = safe_reviewer_variation(reviewers)
for specialty in specialties:
    funnel_figure(safe, specialty).show()


# %% [markdown]
# ### Over-dispersion
#
# If reviewers differed only by chance, the squared z-scores of their rates around the
# specialty rate would average about 1. The ratio φ = Σz² / (k − 1) measures the excess
# (Spiegelhalter 2005 suggests widening limits by √φ when φ is clearly above 1).


# %%
def dispersion(frame: pl.DataFrame, observed: str, expected: str, variance: str) -> pl.DataFrame:
    """φ per specialty: mean squared z of observed vs expected counts (k - 1 degrees of freedom)."""
    return (
        frame.with_columns(z2=(pl.col(observed) - pl.col(expected)) ** 2 / pl.col(variance))
        .group_by("specialty")
        .agg(k=pl.len(), phi=(pl.col("z2").sum() / (pl.len() - 1)).round(2))
        .sort("specialty")
    )


crude_phi = dispersion(
    reviewers.with_columns(
        expected=pl.col("n") * pl.col("specialty_rate"),
        variance=pl.col("n") * pl.col("specialty_rate") * (1 - pl.col("specialty_rate")),
    ),
    "n_changed",
    "expected",
    "variance",
)
crude_phi

# %% [markdown]
# ## Agreement between the first and second recommendation
#
# Kappa depends on prevalence, so raw agreement is shown beside it (literature.md §4.5). For
# context: an inter-heart-team kappa of 0.58 (*EHJ-QCCO* 2022) and weighted kappa of about
# 0.63–0.65 for pancreatic-cancer second-opinion management (PMC5995638).

# %%
concordance = conn.sql("SELECT * FROM marts.concordance").pl()
agreement_figure(concordance, "all").show()
concordance.with_columns(pl.col(pl.Float64).round(3), landis_koch=landis_koch(pl.col("kappa")))

# %% [markdown]
# ## How much of the variation is case mix?
#
# **Indirect standardisation.** Each case gets the change rate of all classified cases in its
# stratum, specialty x initial procedure code x urgency; a reviewer's *expected* number of
# changes is the sum of those rates over their cases, and *observed / expected* (O/E) says how
# far they stand from what their case mix predicts. A stratum with fewer than `MIN_STRATUM`
# cases borrows the rate of specialty x procedure, and failing that of the specialty, so a
# reviewer who is most of a tiny stratum is not simply compared with themselves.
#
# * O/E above 1: more changes than the case mix predicts;
# * the **adjusted rate** = O/E x specialty rate goes on the same funnel as the crude rate;
# * the limits for each reviewer are exact binomial around their *expected* rate
#   (`pipelines.stats.funnel_limits` takes one target per reviewer).

# %%
MIN_STRATUM = 10
CHANGED_SQL = "(" + ", ".join(f"'{o}'" for o in CHANGED_OUTCOMES) + ")"

adjusted = (
    conn.sql(f"""
    WITH c AS (
        SELECT reviewer_id, specialty, initial_procedure_code AS code, coalesce(urgency, 'missing') AS urgency,
               CAST(outcome IN {CHANGED_SQL} AS INTEGER) AS changed
        FROM core.case_outcomes WHERE outcome <> 'unclassified'
    ),
    rated AS (
        SELECT *,
               count(*) OVER (PARTITION BY specialty, code, urgency) AS n3,
               avg(changed) OVER (PARTITION BY specialty, code, urgency) AS p3,
               count(*) OVER (PARTITION BY specialty, code) AS n2,
               avg(changed) OVER (PARTITION BY specialty, code) AS p2,
               avg(changed) OVER (PARTITION BY specialty) AS p1
        FROM c
    ),
    expected AS (
        SELECT *, CASE WHEN n3 >= {MIN_STRATUM} THEN p3 WHEN n2 >= {MIN_STRATUM} THEN p2 ELSE p1 END AS p
        FROM rated
    )
    SELECT reviewer_id, specialty, count(*) AS n, CAST(sum(changed) AS BIGINT) AS n_changed,
           sum(p) AS expected, sum(p * (1 - p)) AS variance
    FROM expected GROUP BY ALL ORDER BY specialty, reviewer_id
""")
    .pl()
    .join(
        reviewers.select("reviewer_id", "specialty", "specialty_rate", pl.col("flag").alias("crude_flag")),
        on=["reviewer_id", "specialty"],
    )
)

expected_rate = (adjusted["expected"] / adjusted["n"]).to_numpy()
n = adjusted["n"].to_numpy()
lo95, hi95 = stats.funnel_limits(expected_rate, n, 0.95)
lo998, hi998 = stats.funnel_limits(expected_rate, n, 0.998)


def funnel_flag() -> pl.Expr:
    """The mart's flag words: outside the 99.8% limits first, then the 95% ones."""
    rate = pl.col("change_rate")
    return (
        pl.when(rate > pl.col("upper_998"))
        .then(pl.lit("high_998"))
        .when(rate > pl.col("upper_95"))
        .then(pl.lit("high_95"))
        .when(rate < pl.col("lower_998"))
        .then(pl.lit("low_998"))
        .when(rate < pl.col("lower_95"))
        .then(pl.lit("low_95"))
        .otherwise(pl.lit("within"))
    )


adjusted = adjusted.with_columns(
    change_rate=pl.col("n_changed") / pl.col("n"),
    expected_rate=pl.Series(expected_rate),
    o_e=pl.col("n_changed") / pl.col("expected"),
    lower_95=pl.Series(lo95),
    upper_95=pl.Series(hi95),
    lower_998=pl.Series(lo998),
    upper_998=pl.Series(hi998),
).with_columns(adjusted_flag=funnel_flag())
assert adjusted.height == reviewers.height
assert adjusted["expected_rate"].is_between(0, 1).all()
# Expected and observed totals agree per specialty except where small strata borrowed a pooled rate.
adjusted.group_by("specialty").agg(
    reviewers=pl.len(),
    observed=pl.col("n_changed").sum(),
    expected=pl.col("expected").sum().round(1),
    median_o_e=pl.col("o_e").median().round(2),
).sort("specialty")

# %% [markdown]
# ### Crude against expected
#
# Each point is a reviewer (11 cases or more). Spread along the horizontal axis is case mix:
# reviewers whose cases are expected to change more often. Spread above and below the diagonal
# is what case mix does not explain.

# %%
shown = adjusted.filter(pl.col("n") >= 11)
fig = go.Figure()
for specialty in specialties:
    part = shown.filter(pl.col("specialty") == specialty)
    fig.add_trace(
        go.Scatter(
            x=part["expected_rate"],
            y=part["change_rate"],
            mode="markers",
            name=specialty_label(specialty),
            marker={"size": np.sqrt(part["n"].to_numpy()) + 4},
            customdata=part["n"],
            hovertemplate="expected %{x:.1%}, observed %{y:.1%}, n=%{customdata}<extra></extra>",
        )
    )
fig.add_trace(
    go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#777777"}, name="O = E")
)
fig.update_layout(
    title="Reviewers: observed change rate against the rate their case mix predicts",
    xaxis_title="Expected change rate (indirect standardisation)",
    yaxis_title="Observed change rate",
    xaxis_tickformat=".0%",
    yaxis_tickformat=".0%",
    height=550,
)
fig.show()

# %%
# The share of reviewers' deviation from the specialty rate that case mix accounts for:
# crude - specialty = (expected - specialty) [case mix] + (crude - expected) [the reviewer].
parts = adjusted.with_columns(
    case_mix=pl.col("expected_rate") - pl.col("specialty_rate"),
    reviewer=pl.col("change_rate") - pl.col("expected_rate"),
    crude=pl.col("change_rate") - pl.col("specialty_rate"),
)


def weighted_ss(c: str) -> pl.Expr:
    return (pl.col("n") * pl.col(c) ** 2).sum()


decomposition = (
    parts.group_by("specialty")
    .agg(
        reviewers=pl.len(),
        crude_ss=weighted_ss("crude"),
        case_mix_ss=weighted_ss("case_mix"),
        reviewer_ss=weighted_ss("reviewer"),
    )
    .with_columns(
        case_mix_share=(pl.col("case_mix_ss") / pl.col("crude_ss")).round(3),
        reviewer_share=(pl.col("reviewer_ss") / pl.col("crude_ss")).round(3),
    )
    .sort("specialty")
)
adjusted_phi = dispersion(adjusted, "n_changed", "expected", "variance").rename({"phi": "phi_adjusted"})
overall = decomposition.select(pl.col("case_mix_ss").sum() / pl.col("crude_ss").sum()).item()
print(
    f"All specialties: case mix accounts for {overall:.0%} of reviewers' squared deviation from their "
    "specialty's rate (weighted by cases)"
)
decomposition.select("specialty", "reviewers", "case_mix_share", "reviewer_share").join(
    crude_phi.select("specialty", pl.col("phi").alias("phi_crude")), on="specialty"
).join(adjusted_phi.select("specialty", "phi_adjusted"), on="specialty")

# %% [markdown]
# The two shares need not add to 1 (case mix and reviewer effects can offset or reinforce each
# other). φ adjusted below φ crude means case mix accounted for part of the excess spread; a
# φ adjusted still well above 1 is variation between reviewers that case mix does not explain.
#
# ### Flags before and after adjustment

# %%
FLAGS = ["low_998", "low_95", "within", "high_95", "high_998"]
crosstab = (
    adjusted.group_by("crude_flag", "adjusted_flag")
    .len()
    .pivot(on="adjusted_flag", index="crude_flag", values="len")
    .fill_null(0)
)
crosstab.select("crude_flag", *[f for f in FLAGS if f in crosstab.columns]).sort(
    pl.col("crude_flag").replace_strict(FLAGS, list(range(len(FLAGS))))
)

# %%
# The adjusted rate (O/E x specialty rate) on the specialty's funnel, drawn by the same builder.
# Points are flagged against the limits drawn (around the specialty rate), an approximation of
# the exact limits around each reviewer's own expected rate used in the table above.
# Reviewers under 11 cases are hidden by safe_reviewer_variation, as on the dashboard.
standardised = adjusted.with_columns(change_rate=pl.col("o_e") * pl.col("specialty_rate"))
lo95, hi95 = stats.funnel_limits(standardised["specialty_rate"].to_numpy(), n, 0.95)
lo998, hi998 = stats.funnel_limits(standardised["specialty_rate"].to_numpy(), n, 0.998)
standardised = (
    standardised.with_columns(
        lower_95=pl.Series(lo95),
        upper_95=pl.Series(hi95),
        lower_998=pl.Series(lo998),
        upper_998=pl.Series(hi998),
    )
    .with_columns(flag=funnel_flag())
    .select(reviewers.columns)
)
busiest = reviewers.group_by("specialty").agg(pl.col("n").sum()).sort("n", descending=True)["specialty"][0]
fig = funnel_figure(safe_reviewer_variation(standardised), busiest)
fig.update_layout(title=f"Adjusted for case mix — {specialty_label(busiest)}")
fig.show()

# %% [markdown]
# ## Caveats
#
# * Strata are only what the warehouse records (specialty, procedure code, urgency); severity,
#   imaging and patient preference are not in it, so adjusted rates still carry unmeasured mix.
# * A flagged reviewer is a prompt to look, not a verdict: no gold standard says which opinion
#   was right (Garcia et al., *Ann Surg Oncol* 2018), and reviewers who see the first opinion
#   anchor on it (orthopaedic surgeons, OR 1.44, PMC3445697).

# %%
conn.close()
