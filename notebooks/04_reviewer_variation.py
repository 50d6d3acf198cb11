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
# # Reviewer variation: case mix, over-dispersion, funnels, CUSUMs and agreement
#
# Do some reviewers change the first recommendation more often than others, and is that the
# reviewer or the cases they get? This notebook reads what the pipeline published and re-derives
# it with the library's own functions (`pipelines.lib.stats`, `pipelines.lib.marts`), so each
# statistic is written once and the notebook cannot drift from the dashboard.
#
# * **Case mix** (`pipelines.lib.marts.case_mix`): every classified case's expected chance of a
#   changed plan, from the change-propensity model's out-of-fold score (else stratum rates of
#   specialty x initial procedure x urgency), calibrated per specialty. A reviewer's expected
#   changes E are the sum over their cases; O/E above 1 is more changes than the case mix predicts.
# * **Over-dispersion** (Spiegelhalter 2005): reviewers differ more than chance allows. φ from
#   winsorised z-scores measures it; the limits of the O/E funnel add a DerSimonian-Laird
#   between-reviewer variance τ² so that a flag means "beyond the ordinary spread as well as chance".
# * **Over time**: a risk-adjusted CUSUM per reviewer (Steiner et al. 2000), in `marts.reviewer_cusum`.
# * **Agreement**: linearly weighted κ on the tier, Cohen's κ beside it, raw agreement apart.

# %%
import html

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
from dashboards.figures import agreement_figure, funnel_figure, oe_funnel_figure
from dashboards.palette import specialty_label
from dashboards.publication import publish
from dashboards.views import dispersion_caption, landis_koch
from pipelines.lib import stats
from pipelines.lib.marts.case_mix import case_expectations
from pipelines.lib.marts.reviewers import MIN_CASES_FOR_DISPERSION, reviewer_comparison
from pipelines.lib.site.publish import read_marts
from pipelines.lib.vocabulary import FLAG_ORDER, FLAGS_BEYOND_95, FLAGS_BEYOND_998

reviewers = conn.sql("SELECT * FROM marts.reviewer_variation").pl()
specialties = sorted(reviewers["specialty"].unique().to_list())
reviewers.group_by("specialty").agg(
    reviewers=pl.len(),
    cases=pl.col("n").sum(),
    rate=(pl.col("n_changed").sum() / pl.col("n").sum()).round(3),
    phi=pl.col("phi").first().round(2),
    tau2=pl.col("tau2").first().round(4),
    flagged_raw=pl.col("raw_flag").is_in(list(FLAGS_BEYOND_95)).sum(),
    flagged_adjusted=pl.col("flag").is_in(list(FLAGS_BEYOND_95)).sum(),
    beyond_998_adjusted=pl.col("flag").is_in(list(FLAGS_BEYOND_998)).sum(),
).sort("specialty")

# %% [markdown]
# ## The comparison, re-derived with the library
#
# `case_expectations` reads the warehouse (classified cases, the propensity scores) and gives each
# case its calibrated expectation; `reviewer_comparison` turns those into the mart's columns. The
# result must be the published mart, column for column.

# %%
cases = case_expectations(conn)
again = reviewer_comparison(cases).sort("specialty", "reviewer_id")
published = reviewers.sort("specialty", "reviewer_id")
assert again.height == published.height
for column in ("n", "observed", "expected", "o_e", "phi", "tau2", "o_e_upper_998", "flag", "raw_flag"):
    left, right = again[column], published[column]
    if left.dtype.is_numeric():
        np.testing.assert_allclose(left.to_numpy(), right.to_numpy(), rtol=1e-9, equal_nan=True)
    else:
        assert left.to_list() == right.to_list(), column
print(f"{cases.height:,} classified cases; expectation from {cases['basis'].value_counts().rows()}")

# %% [markdown]
# ## How much of the spread is case mix?
#
# Crude change rate minus the specialty rate splits into (expected rate - specialty rate), the
# reviewer's case mix, and (crude - expected rate), what the case mix does not explain. φ measured
# on the crude rates (every case expecting the specialty rate) against φ on O/E shows how much of
# the excess spread the case mix accounts for. Both use `stats.dispersion`, the mart's estimator.


# %%
def specialty_phi(frame: pl.DataFrame, expected: str, variance: str) -> pl.DataFrame:
    """φ per specialty with the library's estimator, from reviewers with enough cases."""
    rows = []
    for (specialty,), part in frame.filter(pl.col("n") >= MIN_CASES_FOR_DISPERSION).group_by("specialty"):
        o, e, v = (part[c].to_numpy().astype(float) for c in ("observed", expected, variance))
        d = stats.dispersion(stats.standardised_z(o, e, v), np.sqrt(v) / e)
        rows.append((specialty, d.phi, d.tau2))
    return pl.DataFrame(rows, schema=["specialty", "phi", "tau2"], orient="row").sort("specialty")


crude = reviewers.with_columns(
    crude_expected=pl.col("n") * pl.col("specialty_rate"),
    crude_variance=pl.col("n") * pl.col("specialty_rate") * (1 - pl.col("specialty_rate")),
)
parts = reviewers.with_columns(expected_rate=pl.col("expected") / pl.col("n")).with_columns(
    case_mix=pl.col("expected_rate") - pl.col("specialty_rate"),
    reviewer=pl.col("change_rate") - pl.col("expected_rate"),
    crude=pl.col("change_rate") - pl.col("specialty_rate"),
)


def weighted_ss(c: str) -> pl.Expr:
    return (pl.col("n") * pl.col(c) ** 2).sum()


decomposition = (
    parts.group_by("specialty")
    .agg(
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
overall = decomposition.select(pl.col("case_mix_ss").sum() / pl.col("crude_ss").sum()).item()
print(
    f"All specialties: case mix accounts for {overall:.0%} of reviewers' squared deviation from their "
    "specialty's rate (weighted by cases)"
)
decomposition.select("specialty", "case_mix_share", "reviewer_share").join(
    specialty_phi(crude, "crude_expected", "crude_variance").rename(
        {"phi": "phi_crude", "tau2": "tau2_crude"}
    ),
    on="specialty",
).join(reviewers.group_by("specialty").agg(phi_adjusted=pl.col("phi").first()), on="specialty")

# %% [markdown]
# The two shares need not add to 1 (case mix and reviewer effects can offset or reinforce each
# other). φ adjusted below φ crude means case mix accounted for part of the excess spread; φ still
# well above 1 is variation between reviewers that case mix does not explain, and τ² widens the
# limits by it.
#
# ## Funnels
#
# The O/E funnel is the one the dashboard leads with; the raw change-rate funnel is kept beside it
# for people who want the unadjusted view. Reviewers under 11 cases, or whose changed or confirmed
# cases number 1 to 10, are hidden by the publication layer (`publish` over the funnel's tables), as on the
# dashboard; reviewers under 11 cases are pooled into "other" and ids become pseudonyms.

# %%
marts = read_marts(conn)
wanted = ("reviewer_variation", "outcome_rates", "publication_keys")  # the funnel, its centre, the labels
safe = publish({k: marts[k] for k in wanted if k in marts}).frames["reviewer_variation"]
for specialty in specialties:
    print(f"{specialty_label(specialty)}: {html.unescape(dispersion_caption(safe, specialty))}")
    oe_funnel_figure(safe, specialty).show()
busiest = reviewers.group_by("specialty").agg(pl.col("n").sum()).sort("n", descending=True)["specialty"][0]
funnel_figure(safe, busiest).show()

# %% [markdown]
# ### Flags before and after
#
# Rows: where the raw change rate falls in its binomial funnel; columns: where O/E falls once the
# case mix is taken into account and the limits are widened for over-dispersion.

# %%
crosstab = (
    reviewers.group_by("raw_flag", "flag").len().pivot(on="flag", index="raw_flag", values="len").fill_null(0)
)
order = {f: i for i, f in enumerate(FLAG_ORDER)}
crosstab.select("raw_flag", *[f for f in FLAG_ORDER if f in crosstab.columns]).sort(
    pl.col("raw_flag").replace_strict(order, default=len(order))
)

# %% [markdown]
# ### Crude against expected
#
# Each point is a reviewer (11 cases or more). Spread along the horizontal axis is case mix:
# reviewers whose cases are expected to change more often. Spread above and below the diagonal
# is what case mix does not explain.

# %%
shown = parts.filter(pl.col("n") >= 11)
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
    xaxis_title="Expected change rate (case mix)",
    yaxis_title="Observed change rate",
    xaxis_tickformat=".0%",
    yaxis_tickformat=".0%",
    height=550,
)
fig.show()

# %% [markdown]
# ## Over time: risk-adjusted CUSUMs
#
# `marts.reviewer_cusum` holds each reviewer's two charts (odds of a change doubled, and halved),
# their statistic now, the threshold h for the stated in-control average run length, and the month
# each first signalled. The site publishes only the signal month (a case-by-case path would give
# each case's outcome away).

# %%
cusum = conn.sql("SELECT * FROM marts.reviewer_cusum").pl()
print(
    f"in-control ARL {cusum['in_control_arl'][0]:,} cases per chart, odds ratios "
    f"{sorted(cusum['odds_ratio'].unique().to_list())}"
)
cusum.group_by("specialty", "direction").agg(
    reviewers=pl.len(),
    threshold=pl.col("threshold").first().round(2),
    signalled=pl.col("signalled").sum(),
    signalling_now=pl.col("signalling_now").sum(),
).sort("specialty", "direction")

# %%
# A reviewer whose O/E flag and CUSUM agree is the first to look at; one with a CUSUM signal but
# no funnel flag may have changed recently.
reviewers.filter(
    pl.col("cusum_high_signal_month").is_not_null() | pl.col("cusum_low_signal_month").is_not_null()
).select(
    "specialty", "reviewer_id", "n", "o_e", "flag", "cusum_high_signal_month", "cusum_low_signal_month"
).sort("specialty", "o_e", descending=[False, True]).head(20)

# %% [markdown]
# ## Agreement between the first and second recommendation
#
# Kappa depends on prevalence, so raw agreement is shown beside it, on its own axis. Weighted κ
# gives partial credit by tier distance. For context: an inter-heart-team κ of 0.58 (*EHJ-QCCO*
# 2022) and weighted κ of about 0.63–0.65 for pancreatic-cancer second-opinion management.

# %%
concordance = conn.sql("SELECT * FROM marts.concordance").pl()
agreement_figure(concordance, "all").show()
concordance.with_columns(pl.col(pl.Float64).round(3), landis_koch=landis_koch(pl.col("weighted_kappa")))

# %% [markdown]
# ## Caveats
#
# * The case mix is only what the warehouse records at referral (specialty, procedure, tier,
#   urgency, age band, sex, payer, diagnosis chapter, region); severity, imaging and patient
#   preference are not in it, so O/E still carries unmeasured mix.
# * A flagged reviewer is a prompt to look, not a verdict: no gold standard says which opinion was
#   right (Garcia et al., *Ann Surg Oncol* 2018), and reviewers who see the first opinion anchor on
#   it (orthopaedic surgeons, OR 1.44, PMC3445697).

# %%
conn.close()
