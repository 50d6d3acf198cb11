"""Writes the four notebooks of this folder from the cell sources below, outputs stripped.

Why a generator: notebook JSON is hard to review and easy to commit with outputs. Editing the
cells here and running `.venv/bin/python notebooks/build_notebooks.py` rewrites every notebook
with no outputs, no execution counts, stable cell ids (so a rebuild without edits changes
nothing in git) and the python3 kernelspec. tests/test_notebooks.py fails on a notebook with
outputs and executes each one against a warehouse built from generated data.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# Every notebook starts with the same cell: find the warehouse, open it read-only.
SETUP = '''
import os
from pathlib import Path

import duckdb
import numpy as np
import plotly.graph_objects as go
import polars as pl


def repo_root(start: Path) -> Path:
    """The folder holding pyproject.toml (notebooks run with the notebooks/ folder as cwd)."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() and (folder / "pipelines").is_dir():
            return folder
    raise FileNotFoundError(f"no Second Look repository above {start}")


def find_warehouse() -> Path:
    """SECONDLOOK_WAREHOUSE, else the demo's data/warehouse.duckdb; relative paths from the repo root."""
    path = Path(os.environ.get("SECONDLOOK_WAREHOUSE") or "data/warehouse.duckdb")
    path = path if path.is_absolute() else repo_root(Path.cwd().resolve()) / path
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `make demo`, or set SECONDLOOK_WAREHOUSE")
    return path


WAREHOUSE = find_warehouse()
conn = duckdb.connect(str(WAREHOUSE), read_only=True)  # a notebook never writes to the warehouse
pl.Config.set_tbl_rows(40)
pl.Config.set_tbl_cols(20)
pl.Config.set_fmt_str_lengths(400)
print(f"warehouse: {WAREHOUSE}")
'''

CLOSE = "conn.close()"


def md(text: str) -> dict:
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str) -> dict:
    return new_code_cell(textwrap.dedent(text).strip())


# --- 01 ----------------------------------------------------------------------------------------

NB01 = [
    md("""
    # Outcomes by specialty, procedure, month, payer type and age band

    What share of second opinions confirmed the first recommendation, what share changed it, and
    how sure can we be? This notebook reads the warehouse **read-only** (marts and
    `core.case_outcomes`, see `docs/warehouse.md`).

    * Rates leave out **pending** cases (no opinion yet) and keep **unclassified** ones as an outcome
      of their own (DESIGN, "Outcome classification").
    * Intervals are Wilson 95% (Brown, Cai & DasGupta, *Stat Sci* 2001), computed with
      `pipelines.stats.wilson_interval`, the function behind `marts.outcome_rates`.
    * A case **changed** when its outcome is one of `pipelines.outcomes.CHANGED_OUTCOMES`; change
      rates count classified cases only, as `marts.reviewer_variation` does.
    * Counts here are **not suppressed**: this is analysis, not publication. The `small_cell` column
      marks what the CMS cell-size policy (ResDAC 2024: no count from 1 to 10) would hide; anything
      shared beyond the team goes through `dashboards.safe_marts` first.
    """),
    code(SETUP),
    code("""
    from dashboards.figures import outcome_mix_figure, p_chart_figure, trend_figure
    from dashboards.palette import OUTCOMES, specialty_label
    from dashboards.safe_marts import safe_outcome_rates, safe_outcome_rates_monthly
    from dashboards.suppression import primary_mask
    from pipelines import stats
    from pipelines.outcomes import CHANGED_OUTCOMES

    summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
    {k: summary.get(k) for k in ("run_id", "data_freshness", "cases", "cases_with_opinion", "pending", "unclassified")}
    """),
    md("""
    ## Outcome mix by specialty

    Straight from `marts.outcome_rates`: each outcome's share with its Wilson interval, per
    specialty and for all specialties together. The table is the mart as stored; the figures are
    drawn by the dashboard's own builders from the suppressed frame (`safe_outcome_rates`), so
    they look exactly as published.
    """),
    code("""
    rates = conn.sql("SELECT * FROM marts.outcome_rates").pl()
    specialties = [s for s in rates["specialty"].unique(maintain_order=True).to_list() if s != "all"]

    pct = lambda c: (pl.col(c) * 100).round(1).cast(pl.String)
    rates.with_columns(
        cell=pl.format("{} ({}–{})", pct("rate"), pct("ci_low"), pct("ci_high"))
    ).pivot(on="outcome", index=["specialty", "total"], values="cell")
    """),
    code("""
    safe_rates = safe_outcome_rates(rates)
    outcome_mix_figure(safe_rates, ["all"], title="Outcome mix, all specialties (Wilson 95%)").show()
    outcome_mix_figure(safe_rates, specialties).show()
    """),
    md("""
    ## Change rate by the first recommendation

    The helper below counts classified cases and changed cases per group in SQL and adds Wilson
    intervals. Groups are sorted by their rate; wide error bars are small groups.
    """),
    code("""
    CHANGED_SQL = "(" + ", ".join(f"'{o}'" for o in CHANGED_OUTCOMES) + ")"


    def change_rates(*columns: str, **expressions: str) -> pl.DataFrame:
        \"\"\"Per group of classified cases: n, n_changed, change_rate, Wilson 95% interval, small_cell.\"\"\"
        keys = {c: c for c in columns} | expressions
        select = ", ".join(f"coalesce(CAST({sql} AS VARCHAR), 'missing') AS {name}" for name, sql in keys.items())
        counts = conn.sql(f\"\"\"
            SELECT {select}, count(*) AS n, count(*) FILTER (WHERE outcome IN {CHANGED_SQL}) AS n_changed
            FROM core.case_outcomes WHERE outcome <> 'unclassified'
            GROUP BY ALL ORDER BY ALL\"\"\").pl()
        low, high = stats.wilson_interval(counts["n_changed"].to_numpy(), counts["n"].to_numpy())
        return counts.with_columns(
            change_rate=(pl.col("n_changed") / pl.col("n")).round(3),
            ci_low=pl.Series(low).round(3),
            ci_high=pl.Series(high).round(3),
            small_cell=primary_mask("n") | primary_mask("n_changed"),
        )


    def dot_plot(frame: pl.DataFrame, label: str, title: str, colour: str | None = None, by_rate: bool = True) -> go.Figure:
        \"\"\"Change rate per group with its interval, one colour per value of `colour`; rows by rate or as given.\"\"\"
        frame = frame.sort("change_rate") if by_rate else frame
        fig = go.Figure()
        groups = frame[colour].unique(maintain_order=True).to_list() if colour else [None]
        for group in groups:
            part = frame if group is None else frame.filter(pl.col(colour) == group)
            fig.add_trace(go.Scatter(
                x=part["change_rate"], y=part[label], mode="markers",
                name=specialty_label(group) if group else "change rate",
                error_x={"type": "data", "symmetric": False,
                         "array": (part["ci_high"] - part["change_rate"]).to_list(),
                         "arrayminus": (part["change_rate"] - part["ci_low"]).to_list()},
                customdata=part["n"], hovertemplate="%{y}: %{x:.1%} of %{customdata} cases<extra></extra>",
            ))
        fig.update_layout(title=title, xaxis_title="Change rate (Wilson 95%)", xaxis_tickformat=".0%",
                          height=max(350, 22 * frame.height),
                          yaxis={"type": "category", "categoryorder": "array", "categoryarray": frame[label].to_list()})
        return fig


    by_family = change_rates("specialty", "initial_family").with_columns(
        group=pl.concat_str([pl.col("specialty"), pl.col("initial_family")], separator=" · ")
    )
    dot_plot(by_family, "group", "Change rate by initial procedure family", colour="specialty").show()
    """),
    code("""
    # The fifteen commonest initial procedure codes (family and tier from reference.procedures).
    by_code = change_rates("specialty", "initial_procedure_code", "initial_family", "initial_tier")
    by_code.sort("n", descending=True).head(15)
    """),
    md("""
    ## By month of the opinion

    `marts.outcome_rates_monthly` holds a p-chart per specialty and outcome: the centre line is
    the outcome's rate over all months, the limits are 3 sigma for each month's own denominator,
    and a month outside them is a `signal`. The change rate per month below adds Wilson intervals.
    """),
    code("""
    monthly = conn.sql("SELECT * FROM marts.outcome_rates_monthly").pl()
    safe_monthly = safe_outcome_rates_monthly(monthly, rates)
    trend_figure(safe_monthly, "all").show()
    p_chart_figure(safe_monthly, "all").show()
    monthly.filter(pl.col("signal")).group_by("specialty", "outcome").agg(
        months_signalled=pl.len(), months=pl.col("month").sort()
    ).sort("specialty", "outcome")
    """),
    code("""
    by_month = change_rates(month="CAST(date_trunc('month', opinion_date) AS DATE)").filter(pl.col("month") != "missing")
    fig = go.Figure([
        go.Scatter(x=by_month["month"], y=by_month["ci_high"], mode="lines", line={"width": 0}, showlegend=False),
        go.Scatter(x=by_month["month"], y=by_month["ci_low"], mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor="rgba(0,114,178,0.18)", name="Wilson 95%"),
        go.Scatter(x=by_month["month"], y=by_month["change_rate"], mode="lines+markers", name="change rate",
                   line={"color": "#0072B2"}),
    ])
    fig.update_layout(title="Change rate by month of opinion, all specialties", yaxis_tickformat=".0%",
                      xaxis_title="Month of opinion", yaxis_title="Change rate")
    fig.show()
    """),
    md("""
    ## Slices: payer type and age band

    Payer type and age band are correlated (Medicare covers most patients over 65), so read
    the two slices together rather than one as the cause of the other. Missing values are their
    own group.
    """),
    code("""
    by_payer = change_rates("payer_type")
    by_age = change_rates("age_band")
    dot_plot(by_payer, "payer_type", "Change rate by payer type").show()
    dot_plot(by_age.sort("age_band"), "age_band", "Change rate by age band", by_rate=False).show()
    by_payer
    """),
    code("""
    # Specialty x payer type: rate (n); small cells would be suppressed if published.
    (
        change_rates("specialty", "payer_type")
        .with_columns(cell=pl.format("{} ({})", (pl.col("change_rate") * 100).round(1), pl.col("n"))
                      + pl.when(pl.col("small_cell")).then(pl.lit(" [small]")).otherwise(pl.lit("")))
        .pivot(on="payer_type", index="specialty", values="cell")
    )
    """),
    code("""
    # The whole outcome mix by age band: shares of each outcome among cases with an opinion.
    mix = (
        conn.sql("SELECT coalesce(age_band, 'missing') AS age_band, outcome, count(*) AS n "
                 "FROM core.case_outcomes GROUP BY ALL").pl()
        .with_columns(share=(pl.col("n") / pl.col("n").sum().over("age_band")).round(3))
        .pivot(on="outcome", index="age_band", values="share")
        .fill_null(0.0)
    )
    mix.select("age_band", *[o for o in OUTCOMES if o in mix.columns]).sort("age_band")
    """),
    md("""
    ## Reading these numbers

    * A change rate is not a rate of unnecessary surgery: there is no gold standard saying which
      opinion was right (Garcia et al., *Ann Surg Oncol* 2018), and non-confirmation rates are
      "unsatisfactory measures" of unnecessary surgery (*JAMA* 1979).
    * Patients who ask for a second opinion select themselves (Friedlob, *Health Care Financ Rev*
      1982): slices describe this programme's referrals, not a population.
    * Slices are crude: none is adjusted for the others. Notebook 04 shows how much of the
      variation between reviewers is case mix (specialty, procedure and urgency).
    """),
    code(CLOSE),
]

# --- 02 ----------------------------------------------------------------------------------------

NB02 = [
    md("""
    # Cost avoided under other assumptions

    `core.case_costs` is written by `pipelines.costs.case_costs` under the run's
    `CostAssumptions`. This notebook calls **the same function** on the same inputs
    (`load_cost_inputs` reads them from the warehouse, read-only) with other assumptions, and
    sums the result with `pipelines.marts.cost_measures`, the function behind
    `marts.cost_impact` (gross, programme cost, net, ROI, 95% stratified bootstrap intervals).
    Nothing is written back.

    The assumptions moved: **prices** (every unit cost scaled, or a payer's own price list),
    **leakage** (the share of non-surgical and deferred cases that have the surgery anyway),
    the **programme fee** per review, and the **horizon** in which a follow-up claim counts as
    leakage. First, the notebook checks that it reproduces the stored figures exactly.
    """),
    code(SETUP),
    code("""
    import json
    from dataclasses import replace
    from datetime import date

    from dashboards.figures import cost_figure, tornado_figure
    from dashboards.palette import PROJECTED, VERIFIED
    from pipelines.costs import (
        LEAKAGE_HIGH,
        LEAKAGE_LOW,
        CostAssumptions,
        case_costs,
        effective_prices,
        load_cost_inputs,
        sensitivity_scenarios,
    )
    from pipelines.marts import cost_measures
    from pipelines.settings import Settings

    summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
    settings = Settings(**json.loads(summary["settings"]))  # the settings of the run that built the warehouse
    AS_OF = date.fromisoformat(summary["as_of"])  # the date the run judged every horizon against
    outcomes, prices, pathways, follow_ups = load_cost_inputs(conn)
    base = CostAssumptions.from_settings(settings)
    pl.Config.set_float_precision(2)
    pl.Config.set_thousands_separator(",")
    print(f"{outcomes.height:,} cases with an opinion; as of {AS_OF}")
    base
    """),
    code("""
    def measures(costs: pl.DataFrame, fee: float, by: str | None = None) -> pl.DataFrame:
        \"\"\"marts.cost_impact's measures (cost_measures) over all cases, or per `by` plus 'all'.\"\"\"
        if by is None:
            codes, labels = np.zeros(costs.height, dtype=np.int64), ["all"]
        else:
            labels = costs[by].unique().sort().to_list()
            codes = (costs[by].rank("dense").cast(pl.Int64) - 1).to_numpy()
        return cost_measures(
            codes, labels,
            costs["projected_avoided"].fill_null(0.0).to_numpy(),
            costs["realized_avoided"].fill_null(0.0).to_numpy(),
            costs["realized_status"].is_in(["verified_avoided", "leaked"]).to_numpy(),
            fee, settings.bootstrap_resamples, settings.seed,
            with_total="all" if by else None,
        )


    def scenario(assumptions: CostAssumptions, price_table: pl.DataFrame = prices, **label: object) -> pl.DataFrame:
        \"\"\"Net avoided (all cases) under `assumptions`, labelled with the values in `label`.\"\"\"
        costs = case_costs(outcomes, price_table, pathways, follow_ups, assumptions, AS_OF)
        return measures(costs, assumptions.program_fee_usd).with_columns(
            **{k: pl.lit(v) for k, v in label.items()}
        )


    def sweep_plot(frame: pl.DataFrame, x: str, title: str, x_title: str, marks: dict[str, float] = {}) -> go.Figure:
        \"\"\"Net avoided with its 95% bootstrap band along one assumption; `marks` are labelled lines.\"\"\"
        fig = go.Figure([
            go.Scatter(x=frame[x], y=frame["net_ci_high"], mode="lines", line={"width": 0}, showlegend=False),
            go.Scatter(x=frame[x], y=frame["net_ci_low"], mode="lines", line={"width": 0}, fill="tonexty",
                       fillcolor="rgba(0,114,178,0.18)", name="95% bootstrap interval"),
            go.Scatter(x=frame[x], y=frame["net_avoided"], mode="lines+markers", name="net avoided",
                       line={"color": "#0072B2"}),
        ])
        for name, value in marks.items():
            fig.add_vline(x=value, line={"dash": "dot"}, annotation_text=name, annotation_textangle=-90)
        fig.add_hline(y=0, line={"color": "#222222", "width": 1})
        fig.update_layout(title=title, xaxis_title=x_title, yaxis_title="Net cost avoided (USD)",
                          yaxis_tickprefix="$", yaxis_tickformat=",.0f")
        return fig
    """),
    md("""
    ## Baseline: the stored figures, reproduced

    Under the run's own assumptions the function must give back `core.case_costs` case by case
    and `marts.cost_impact` per specialty. If these checks fail, the notebook is not looking at
    what the pipeline published.
    """),
    code("""
    baseline_costs = case_costs(outcomes, prices, pathways, follow_ups, base, AS_OF)
    stored = conn.sql("SELECT case_id, projected_avoided, realized_status FROM core.case_costs").pl()
    paired = baseline_costs.join(stored, on="case_id", suffix="_stored")
    assert paired.height == stored.height == baseline_costs.height
    differs = paired.filter(
        ((pl.col("projected_avoided").fill_null(0) - pl.col("projected_avoided_stored").fill_null(0)).abs() > 0.01)
        | (pl.col("realized_status") != pl.col("realized_status_stored"))
    )
    assert differs.height == 0, f"{differs.height} cases differ from core.case_costs"

    baseline = measures(baseline_costs, base.program_fee_usd, by="specialty").rename({"segment": "specialty"})
    published = conn.sql("SELECT specialty, gross_avoided, net_avoided FROM marts.cost_impact").pl()
    check = baseline.join(published, on="specialty", suffix="_mart")
    assert check.height == published.height
    assert (check["gross_avoided"] - check["gross_avoided_mart"]).abs().max() < 0.5
    baseline.select("specialty", "n_cases", "gross_avoided", "program_cost", "net_avoided", "net_ci_low",
                    "net_ci_high", "per_case_net", "roi", "n_verified", "realized_avoided")
    """),
    code("""
    cost_figure(baseline.filter(pl.col("specialty") != "all")).show()
    """),
    md("""
    ## Prices

    Unit costs are the catalogue's reference prices (`reference.procedures`, each with its
    `cost_source` and `cost_year`) unless the payer sent its own (`procedure_costs`). The
    multiplier scales every unit cost, pathways included; the published tornado uses x0.8 and
    x1.2. Projected savings scale exactly with it; the programme fee does not, so the break-even
    moves.
    """),
    code("""
    price_sweep = pl.concat([
        scenario(replace(base, price_multiplier=float(m)), multiplier=float(m))
        for m in np.round(np.arange(0.6, 1.41, 0.1), 2)
    ])
    sweep_plot(price_sweep, "multiplier", "Net avoided as every price moves together", "Price multiplier",
               {"published tornado x0.8": 0.8, "x1.2": 1.2}).show()
    price_sweep.select("multiplier", "gross_avoided", "net_avoided", "net_ci_low", "net_ci_high", "roi")
    """),
    code("""
    # A payer's own price list replaces the reference price code by code (effective_prices).
    # Illustration only: a hypothetical payer that pays 1.5x the reference price for open and
    # major surgery (tiers 3-4) and the reference price for everything else.
    catalogue = conn.sql("SELECT * FROM reference.procedures").pl()
    payer_list = catalogue.filter(pl.col("tier") >= 3).select("procedure_code", (pl.col("cost_usd") * 1.5).alias("cost_usd"))
    payer_prices = effective_prices(catalogue, payer_list)
    pl.concat([
        scenario(base, prices, prices="prices in the warehouse"),
        scenario(base, payer_prices, prices="hypothetical payer: tiers 3-4 at 1.5x"),
    ]).select("prices", "gross_avoided", "net_avoided", "net_ci_low", "net_ci_high", "per_case_net", "roi")
    """),
    md("""
    ## Leakage

    A non-surgical or deferred case is credited with its pathway cost **plus leakage x the
    initial procedure's cost**: some of those patients have the surgery anyway. The leakage in
    force per specialty is in `core.leakage_rates` (observed from claims once enough
    closed-horizon cases support it, else the catalogue default). Published leakage ranges from
    18% (*Schmerz* 2023, spine, about 2 years) to 38% (*J Am Coll Surg* 1997, 2-year claims);
    the sweep sets every specialty to one value.
    """),
    code("""
    conn.sql("SELECT specialty, default_leakage, n_observed, n_leaked, observed_leakage, leakage_used, leakage_basis, "
             "horizon_months FROM core.leakage_rates ORDER BY specialty").pl()
    """),
    code("""
    leakage_sweep = pl.concat([
        scenario(replace(base, leakage_override=float(x)), leakage=float(x))
        for x in np.round(np.arange(0.0, 0.61, 0.05), 2)
    ])
    sweep_plot(leakage_sweep, "leakage", "Net avoided by leakage (same in every specialty)",
               "Leakage (share of non-surgical and deferred cases operated anyway)",
               {"Schmerz 2023: 18%": LEAKAGE_LOW, "J Am Coll Surg 1997: 38%": LEAKAGE_HIGH}).update_xaxes(
        tickformat=".0%").show()
    """),
    md("""
    ## Programme fee

    The fee enters only the programme cost (reviews x fee), so one set of case costs serves
    every fee. Published price points: $565 per case (MyConsult, 2005), about $750 for a
    hospital second opinion and up to $2,500 (Purview blog, via literature.md §3.1). The
    break-even fee is the gross saving per review.
    """),
    code("""
    fee_sweep = pl.concat([
        measures(baseline_costs, float(fee)).with_columns(fee=pl.lit(float(fee)))
        for fee in range(0, 3001, 250)
    ])
    gross_all = float(baseline.filter(pl.col("specialty") == "all")["gross_avoided"][0])
    n_all = int(baseline.filter(pl.col("specialty") == "all")["n_cases"][0])
    print(f"break-even fee: ${gross_all / n_all:,.0f} per review (gross saving per review)")
    sweep_plot(fee_sweep, "fee", "Net avoided by programme fee per review", "Fee per review (USD)",
               {"MyConsult 2005: $565": 565, "typical: $750": 750, "upper end: $2,500": 2500}).show()
    """),
    md("""
    ## Horizon

    A follow-up claim in the initial procedure's family counts as leakage when it falls within
    the horizon after the opinion. literature.md §3.3 suggests reporting 6, 12 and 24 months. A
    longer horizon sees more of the surgery that happened anyway, but fewer cases have a closed
    window by the run date, so fewer are verified; and the observed leakage replaces a
    specialty's default only when enough closed-horizon cases support it.
    """),
    code("""
    rows, statuses = [], []
    for months in (6, 12, 24):
        costs = case_costs(outcomes, prices, pathways, follow_ups, replace(base, horizon_months=months), AS_OF)
        rows.append(measures(costs, base.program_fee_usd).with_columns(horizon_months=pl.lit(months)))
        statuses.append(costs.group_by("realized_status").len().with_columns(horizon_months=pl.lit(months)))
    horizon = pl.concat(rows)
    fig = go.Figure([
        go.Bar(name="projected net", x=horizon["horizon_months"], y=horizon["net_avoided"], marker_color=PROJECTED,
               error_y={"type": "data", "symmetric": False,
                        "array": (horizon["net_ci_high"] - horizon["net_avoided"]).to_list(),
                        "arrayminus": (horizon["net_avoided"] - horizon["net_ci_low"]).to_list()}),
        go.Bar(name="verified net (closed windows)", x=horizon["horizon_months"], y=horizon["realized_net"],
               marker_color=VERIFIED),
    ])
    fig.update_layout(title="Projected and verified net avoided by horizon", barmode="group",
                      xaxis={"title": "Horizon (months)", "type": "category"}, yaxis_title="USD",
                      yaxis_tickprefix="$", yaxis_tickformat=",.0f")
    fig.show()
    pl.concat(statuses).pivot(on="realized_status", index="horizon_months", values="len").join(
        horizon.select("horizon_months", "net_avoided", "n_verified", "realized_avoided", "realized_net"),
        on="horizon_months",
    ).sort("horizon_months")
    """),
    md("""
    ## Two assumptions at once: price level and leakage

    Net avoided per review over a grid of price multipliers and leakage values, the fee held at
    the run's setting. Adding the fee back gives the break-even fee of each scenario; where a
    contour reaches zero, the programme stops paying for itself.
    """),
    code("""
    multipliers = [0.6, 0.8, 1.0, 1.2, 1.4]
    leakages = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    grid = pl.DataFrame([
        {"multiplier": m, "leakage": x, "net_per_case": (
            case_costs(outcomes, prices, pathways, follow_ups,
                       replace(base, price_multiplier=m, leakage_override=x), AS_OF)["projected_avoided"].fill_null(0).mean()
            - base.program_fee_usd)}
        for m in multipliers for x in leakages
    ])
    z = grid.pivot(on="multiplier", index="leakage", values="net_per_case").drop("leakage").to_numpy()
    fig = go.Figure(go.Contour(x=multipliers, y=leakages, z=z, colorscale="Viridis",
                               contours={"showlabels": True}, colorbar={"title": "USD per review"}))
    fig.update_layout(title=f"Net avoided per review (fee ${base.program_fee_usd:,.0f})", xaxis_title="Price multiplier",
                      yaxis_title="Leakage", yaxis_tickformat=".0%")
    fig.show()
    """),
    md("""
    ## The published tornado, recomputed

    `marts.cost_sensitivity` computes the tornado chart in closed form. Recomputing each scenario
    of `sensitivity_scenarios` through `case_costs` must give the same net to the cent, which
    pins the closed form to the formula.
    """),
    code("""
    mart = conn.sql("SELECT * FROM marts.cost_sensitivity").pl()
    recomputed = []
    for assumption, level, setting, moved in sensitivity_scenarios(base):
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
    compared.filter(pl.col("specialty") == "all").select("assumption", "scenario", "setting", "net_avoided",
                                                         "net_recomputed", "delta")
    """),
    md("""
    ## Caveats

    * Projected savings assume the second plan is followed; only 61.2% of users of one programme
      planned to follow the recommendation (Meyer et al., *Am J Med* 2015). Leakage captures
      part of that, and only where claims arrive.
    * Deferred savings are provisional until the horizon closes (literature.md §3.3).
    * Catalogue prices mix bases (Medicare payment, hospital cost, commercial price, estimate):
      `reference.procedures.cost_basis` and `cost_year` say which, per code.
    """),
    code(CLOSE),
]

# --- 03 ----------------------------------------------------------------------------------------

NB03 = [
    md("""
    # Model evaluation: the opinion text classifier and the change-propensity model

    The models are trained by the pipeline and saved, with their metrics and model cards, in the
    `artifacts/` folder beside the warehouse (`pipelines.modelling.artifacts_dir`). This notebook
    loads them and looks at:

    1. the text classifier's held-out metrics, as the pipeline recorded them;
    2. the classifier on the warehouse's own narratives, labelled by the structured rules:
       confusion matrix, calibration, the confidence threshold, and the narratives it gets wrong;
    3. the change-propensity scores: lift by decile and calibration.

    Only a handful of misclassified narratives are shown (they are synthetic and anonymized);
    everything else is aggregated.
    """),
    code(SETUP),
    code("""
    import json

    from sklearn.metrics import roc_auc_score

    from dashboards.figures import targeting_figure
    from models.evaluation import (
        classification_metrics,
        expected_calibration_error,
        lift_by_decile,
        reliability_bins,
        threshold_metrics,
    )
    from models.persistence import load_model
    from models.propensity import labelled_cases, score_propensity
    from models.text_classifier import OUTCOME_LABELS, predict_text
    from pipelines.modelling import (
        PROPENSITY_METRICS_FILE,
        PROPENSITY_MODEL_FILE,
        REFERRALS_SQL,
        TEXT_METRICS_FILE,
        TEXT_MODEL_FILE,
        artifacts_dir,
        narratives,
    )
    from pipelines.outcomes import opinion_rule_outcomes
    from pipelines.settings import Settings

    summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
    settings = Settings(**json.loads(summary["settings"]))
    ARTIFACTS = artifacts_dir(WAREHOUSE)
    sorted(p.name for p in ARTIFACTS.iterdir())
    """),
    md("""
    ## 1. Held-out metrics recorded at training

    The pipeline holds out a fifth of the *phrasing groups* (near-identical wordings never sit on
    both sides of the split), so these figures describe wording the model has not seen.
    """),
    code("""
    metrics = json.loads((ARTIFACTS / TEXT_METRICS_FILE).read_text())
    print(metrics["training_source"])
    print(f"macro-F1 {metrics['macro_f1']:.3f} · accuracy {metrics['accuracy']:.3f} · ECE {metrics['ece']:.3f} "
          f"· {metrics['n_train']:,} train / {metrics['n_test']:,} test narratives")
    print("at the threshold:", metrics["at_threshold"])
    pl.DataFrame([{"outcome": k, **v} for k, v in metrics["per_class"].items()])
    """),
    code("""
    def confusion_heatmap(matrix, labels, title: str) -> go.Figure:
        \"\"\"Rows: the rules' label; columns: the model's; colour: share of the row.\"\"\"
        counts = np.asarray(matrix, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts / counts.sum(axis=1, keepdims=True)
        fig = go.Figure(go.Heatmap(
            z=share, x=list(labels), y=list(labels), colorscale="Blues", zmin=0, zmax=1,
            text=counts.astype(int), texttemplate="%{text}", colorbar={"title": "share of row"},
            hovertemplate="rules: %{y}<br>model: %{x}<br>%{text} narratives (%{z:.0%} of row)<extra></extra>",
        ))
        fig.update_layout(title=title, xaxis_title="Predicted by the model", yaxis_title="Label from the rules",
                          yaxis_autorange="reversed", height=520)
        return fig


    def reliability_plot(bins: pl.DataFrame, title: str) -> go.Figure:
        \"\"\"Mean predicted probability against the observed rate per bin; the diagonal is perfect.\"\"\"
        fig = go.Figure([
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#777777"}, name="perfect"),
            go.Scatter(x=bins["mean_predicted"], y=bins["observed_rate"], mode="lines+markers", name="model",
                       marker={"size": np.clip(np.sqrt(bins["n"].to_numpy()) * 2, 6, 30)},
                       customdata=bins["n"], hovertemplate="predicted %{x:.2f}, observed %{y:.2f}, n=%{customdata}<extra></extra>"),
        ])
        fig.update_layout(title=title, xaxis_title="Mean predicted probability", yaxis_title="Observed rate",
                          xaxis_range=[0, 1], yaxis_range=[0, 1.02], height=450)
        return fig


    confusion_heatmap(metrics["confusion_matrix"], metrics["labels"], "Held-out confusion matrix (training run)").show()
    reliability_plot(pl.DataFrame(metrics["reliability"]), "Held-out reliability of the top-class probability").show()
    """),
    md("""
    ## 2. The classifier on the warehouse's narratives

    Opinions that carry both structured fields and a narrative are labelled by the rules
    (`opinion_rule_outcomes`); the classifier reads only the narrative (plus specialty and the
    initial procedure family) and is compared with that label. When the model was trained on the
    warehouse itself (see `training_source` above) most of these narratives were in its training
    set, so the figures are optimistic; when it was trained on the generated corpus they are an
    independent test on different wording.
    """),
    code("""
    model = load_model(ARTIFACTS / TEXT_MODEL_FILE)
    labels = opinion_rule_outcomes(conn).filter(pl.col("outcome").is_in(list(OUTCOME_LABELS))).select("opinion_id", "outcome")
    labelled = narratives(conn).join(labels, on="opinion_id", how="inner")
    scored = labelled.join(predict_text(model, labelled), on="opinion_id").with_columns(
        correct=pl.col("predicted_outcome") == pl.col("outcome")
    )
    in_sample = metrics["training_source"].startswith("warehouse")
    print(f"{scored.height:,} labelled narratives; {'in-sample (optimistic)' if in_sample else 'not used in training'}")
    warehouse_metrics = classification_metrics(scored["outcome"].to_numpy(), scored["predicted_outcome"].to_numpy(),
                                               OUTCOME_LABELS)
    print(f"macro-F1 {warehouse_metrics['macro_f1']:.3f} · accuracy {warehouse_metrics['accuracy']:.3f}")
    confusion_heatmap(warehouse_metrics["confusion_matrix"], OUTCOME_LABELS,
                      "Warehouse narratives: rules' label against the model's").show()
    """),
    code("""
    bins = reliability_bins(scored["probability"].to_numpy(), scored["correct"].to_numpy())
    print(f"expected calibration error: {expected_calibration_error(bins):.3f}")
    reliability_plot(bins, "Reliability on the warehouse's narratives").show()

    # What the confidence threshold buys: share of narratives classified, and accuracy among them.
    trade = pl.DataFrame([
        threshold_metrics(scored["outcome"].to_numpy(), scored["predicted_outcome"].to_numpy(),
                          scored["probability"].to_numpy(), float(t))
        for t in np.round(np.arange(0.3, 0.96, 0.05), 2)
    ])
    fig = go.Figure([
        go.Scatter(x=trade["threshold"], y=trade["coverage"], name="coverage (classified)", mode="lines+markers"),
        go.Scatter(x=trade["threshold"], y=trade["accuracy_classified"], name="accuracy among classified",
                   mode="lines+markers"),
    ])
    fig.add_vline(x=settings.text_model_threshold, line={"dash": "dot"},
                  annotation_text=f"setting {settings.text_model_threshold}")
    fig.update_layout(title="Confidence threshold: coverage against accuracy", xaxis_title="Threshold",
                      yaxis_tickformat=".0%", yaxis_range=[0, 1.02])
    fig.show()
    """),
    md("""
    ### Error analysis

    Which confusions are common, where (specialty) they happen, and — for the most confident
    mistakes — what the narrative actually says. A confident mistake is either a wording the model
    has not learnt or a narrative that disagrees with its own structured fields.
    """),
    code("""
    wrong = scored.filter(~pl.col("correct"))
    print(f"{wrong.height:,} of {scored.height:,} narratives misclassified")
    wrong.group_by(pl.col("outcome").alias("rules_say"), pl.col("predicted_outcome").alias("model_says")).agg(
        n=pl.len(), mean_probability=pl.col("probability").mean().round(2)
    ).sort("n", descending=True).head(10)
    """),
    code("""
    scored.group_by("specialty").agg(
        n=pl.len(), error_rate=(1 - pl.col("correct").mean()).round(3),
        mean_probability=pl.col("probability").mean().round(3),
    ).sort("error_rate", descending=True)
    """),
    code("""
    # The six most confident mistakes (synthetic, anonymized narratives; no identifiers shown),
    # with the structured fields the rules decided from.
    structured = conn.sql(\"\"\"
        SELECT o.opinion_id, o.recommendation, p.family AS recommended_family
        FROM staging.opinions o LEFT JOIN reference.procedures p
          ON p.procedure_code = upper(trim(o.recommended_procedure_code))\"\"\").pl()
    (
        wrong.sort("probability", descending=True)
        .head(6)
        .join(structured, on="opinion_id", how="left", maintain_order="left")
        .select("specialty", "initial_family", "recommendation", "recommended_family",
                pl.col("outcome").alias("rules_say"), pl.col("predicted_outcome").alias("model_says"),
                pl.col("probability").round(2), "summary_text")
    )
    """),
    md("""
    ### Narrative-only opinions in production

    These are the cases the model actually decides (design rule 5). Below the threshold they are
    unclassified and go to `marts.review_queue`.
    """),
    code("""
    conn.sql(\"\"\"
        SELECT outcome_source, reason, count(*) AS n, round(avg(confidence), 3) AS mean_confidence
        FROM core.case_outcomes
        WHERE outcome_source = 'text_model' OR reason IN ('low_confidence', 'narrative_only', 'invalid_prediction')
        GROUP BY ALL ORDER BY n DESC\"\"\").pl()
    """),
    md("""
    ## 3. Change propensity: where do reviews change most?

    The propensity model scores each referral, from what is known when it is made, for the chance
    that the review changes the plan. Its recorded metrics are **out of fold** (cross-validation
    grouped by patient, so no patient is scored by a model that saw them), and `marts.targeting`
    publishes that out-of-fold lift. `core.case_scores` gives each case the model was fitted on
    its out-of-fold score (`score_basis = 'out_of_fold'`) and every other referral the final
    model's score. Below, the final model rescored on its own training cases shows how much an
    in-sample score would flatter it.
    """),
    code("""
    prop = json.loads((ARTIFACTS / PROPENSITY_METRICS_FILE).read_text())
    print(f"{prop['n']:,} classified cases of {prop['n_patients']:,} patients; base change rate {prop['base_rate']:.1%}")
    print(f"{prop['cv']}: ROC AUC {prop['roc_auc']:.3f} (folds {', '.join(f'{a:.3f}' for a in prop['roc_auc_folds'])}), "
          f"Brier {prop['brier']:.3f}, ECE {prop['ece']:.3f}, top-decile lift {prop['top_decile_lift']:.2f}")
    oof_lift = pl.DataFrame(prop["lift"])
    published = conn.sql("SELECT decile, lift FROM marts.targeting ORDER BY decile").pl()
    assert np.allclose(published["lift"].to_numpy(), oof_lift["lift"].to_numpy())  # the mart is the out-of-fold lift
    targeting_figure(oof_lift).show()
    reliability_plot(pl.DataFrame(prop["calibration"]), "Change propensity, out of fold: predicted against observed").show()
    """),
    code("""
    importance = pl.DataFrame(prop["permutation_importance"]).sort("importance_mean")
    fig = go.Figure(go.Bar(
        x=importance["importance_mean"], y=importance["feature"], orientation="h",
        error_x={"type": "data", "array": importance["importance_std"].to_list()},
    ))
    fig.update_layout(title="Permutation importance (drop in out-of-fold ROC AUC when a feature is shuffled)",
                      xaxis_title="Mean drop in ROC AUC", height=400)
    fig.show()
    """),
    code("""
    # The saved model reproduces the scores of referrals it was not fitted on; on its own training
    # cases its in-sample lift is the optimistic one, which is why those carry out-of-fold scores.
    propensity = load_model(ARTIFACTS / PROPENSITY_MODEL_FILE)
    referrals = conn.sql(REFERRALS_SQL).pl()
    rescored = score_propensity(propensity, referrals)
    stored = conn.sql("SELECT case_id, change_probability, score_basis FROM core.case_scores").pl()
    paired = rescored.join(stored, on="case_id", suffix="_stored")
    assert paired.height == stored.height
    by_model = paired.filter(pl.col("score_basis") == "model")
    assert (by_model["change_probability"] - by_model["change_probability_stored"]).abs().max() < 1e-9
    print(stored.group_by("score_basis").len().sort("score_basis"))

    fitted = labelled_cases(referrals).join(rescored, on="case_id")
    in_sample = lift_by_decile(fitted["changed"].to_numpy(), fitted["change_probability"].to_numpy())
    auc_in = roc_auc_score(fitted["changed"].to_numpy(), fitted["change_probability"].to_numpy())
    print(f"ROC AUC in sample {auc_in:.3f} against {prop['roc_auc']:.3f} out of fold")
    oof_lift.select("decile", "n", pl.col("lift").round(2).alias("lift_out_of_fold")).join(
        in_sample.select("decile", pl.col("lift").round(2).alias("lift_in_sample")), on="decile")
    """),
    code(CLOSE),
]

# --- 04 ----------------------------------------------------------------------------------------

NB04 = [
    md("""
    # Reviewer variation: funnel plots, agreement, and case mix

    Do some reviewers change the first recommendation more often than others, and is that the
    reviewer or the cases they get?

    * **Funnel plots** (Spiegelhalter, *Stat Med* 2005): each reviewer's change rate against the
      number of cases reviewed, with exact binomial 95% and 99.8% limits around the specialty's
      rate (`marts.reviewer_variation`, drawn by `dashboards.figures.funnel_figure`). Reviewers
      with fewer than 11 cases are not drawn.
    * **Agreement**: Cohen's kappa between the invasiveness tier of the first and second
      recommendation (`marts.concordance`), beside raw agreement, on the Landis & Koch (1977) bands.
    * **Case mix**: indirect standardisation of each reviewer's expected change rate from the
      specialty x initial procedure x urgency mix of their cases, and the observed / expected ratio.
    """),
    code(SETUP),
    code("""
    from dashboards.figures import agreement_figure, funnel_figure
    from dashboards.palette import specialty_label
    from dashboards.safe_marts import safe_reviewer_variation
    from dashboards.views import landis_koch
    from pipelines import stats
    from pipelines.outcomes import CHANGED_OUTCOMES

    reviewers = conn.sql("SELECT * FROM marts.reviewer_variation").pl()
    specialties = sorted(reviewers["specialty"].unique().to_list())
    reviewers.group_by("specialty").agg(
        reviewers=pl.len(), cases=pl.col("n").sum(), rate=(pl.col("n_changed").sum() / pl.col("n").sum()).round(3),
        **{flag: (pl.col("flag") == flag).sum() for flag in ("high_998", "high_95", "low_95", "low_998")},
    ).sort("specialty")
    """),
    md("""
    ## Funnel plots

    Points outside the 99.8% limits are unlikely to be chance alone *given the specialty's rate*;
    they are not yet adjusted for the cases each reviewer sees.
    """),
    code("""
    safe = safe_reviewer_variation(reviewers)
    for specialty in specialties:
        funnel_figure(safe, specialty).show()
    """),
    md("""
    ### Over-dispersion

    If reviewers differed only by chance, the squared z-scores of their rates around the
    specialty rate would average about 1. The ratio φ = Σz² / (k − 1) measures the excess
    (Spiegelhalter 2005 suggests widening limits by √φ when φ is clearly above 1).
    """),
    code("""
    def dispersion(frame: pl.DataFrame, observed: str, expected: str, variance: str) -> pl.DataFrame:
        \"\"\"φ per specialty: mean squared z of observed vs expected counts (k - 1 degrees of freedom).\"\"\"
        return frame.with_columns(z2=(pl.col(observed) - pl.col(expected)) ** 2 / pl.col(variance)).group_by(
            "specialty").agg(k=pl.len(), phi=(pl.col("z2").sum() / (pl.len() - 1)).round(2)).sort("specialty")


    crude_phi = dispersion(
        reviewers.with_columns(expected=pl.col("n") * pl.col("specialty_rate"),
                               variance=pl.col("n") * pl.col("specialty_rate") * (1 - pl.col("specialty_rate"))),
        "n_changed", "expected", "variance",
    )
    crude_phi
    """),
    md("""
    ## Agreement between the first and second recommendation

    Kappa depends on prevalence, so raw agreement is shown beside it (literature.md §4.5). For
    context: an inter-heart-team kappa of 0.58 (*EHJ-QCCO* 2022) and weighted kappa of about
    0.63–0.65 for pancreatic-cancer second-opinion management (PMC5995638).
    """),
    code("""
    concordance = conn.sql("SELECT * FROM marts.concordance").pl()
    agreement_figure(concordance, "all").show()
    concordance.with_columns(pl.col(pl.Float64).round(3), landis_koch=landis_koch(pl.col("kappa")))
    """),
    md("""
    ## How much of the variation is case mix?

    **Indirect standardisation.** Each case gets the change rate of all classified cases in its
    stratum, specialty x initial procedure code x urgency; a reviewer's *expected* number of
    changes is the sum of those rates over their cases, and *observed / expected* (O/E) says how
    far they stand from what their case mix predicts. A stratum with fewer than `MIN_STRATUM`
    cases borrows the rate of specialty x procedure, and failing that of the specialty, so a
    reviewer who is most of a tiny stratum is not simply compared with themselves.

    * O/E above 1: more changes than the case mix predicts;
    * the **adjusted rate** = O/E x specialty rate goes on the same funnel as the crude rate;
    * the limits for each reviewer are exact binomial around their *expected* rate
      (`pipelines.stats.funnel_limits` takes one target per reviewer).
    """),
    code("""
    MIN_STRATUM = 10
    CHANGED_SQL = "(" + ", ".join(f"'{o}'" for o in CHANGED_OUTCOMES) + ")"

    adjusted = conn.sql(f\"\"\"
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
    \"\"\").pl().join(reviewers.select("reviewer_id", "specialty", "specialty_rate", pl.col("flag").alias("crude_flag")),
                     on=["reviewer_id", "specialty"])

    expected_rate = (adjusted["expected"] / adjusted["n"]).to_numpy()
    n = adjusted["n"].to_numpy()
    lo95, hi95 = stats.funnel_limits(expected_rate, n, 0.95)
    lo998, hi998 = stats.funnel_limits(expected_rate, n, 0.998)


    def funnel_flag() -> pl.Expr:
        \"\"\"The mart's flag words: outside the 99.8% limits first, then the 95% ones.\"\"\"
        rate = pl.col("change_rate")
        return (
            pl.when(rate > pl.col("upper_998")).then(pl.lit("high_998"))
            .when(rate > pl.col("upper_95")).then(pl.lit("high_95"))
            .when(rate < pl.col("lower_998")).then(pl.lit("low_998"))
            .when(rate < pl.col("lower_95")).then(pl.lit("low_95"))
            .otherwise(pl.lit("within"))
        )


    adjusted = adjusted.with_columns(
        change_rate=pl.col("n_changed") / pl.col("n"),
        expected_rate=pl.Series(expected_rate),
        o_e=pl.col("n_changed") / pl.col("expected"),
        lower_95=pl.Series(lo95), upper_95=pl.Series(hi95), lower_998=pl.Series(lo998), upper_998=pl.Series(hi998),
    ).with_columns(adjusted_flag=funnel_flag())
    assert adjusted.height == reviewers.height
    assert adjusted["expected_rate"].is_between(0, 1).all()
    # Expected and observed totals agree per specialty except where small strata borrowed a pooled rate.
    adjusted.group_by("specialty").agg(
        reviewers=pl.len(), observed=pl.col("n_changed").sum(), expected=pl.col("expected").sum().round(1),
        median_o_e=pl.col("o_e").median().round(2),
    ).sort("specialty")
    """),
    md("""
    ### Crude against expected

    Each point is a reviewer (11 cases or more). Spread along the horizontal axis is case mix:
    reviewers whose cases are expected to change more often. Spread above and below the diagonal
    is what case mix does not explain.
    """),
    code("""
    shown = adjusted.filter(pl.col("n") >= 11)
    fig = go.Figure()
    for specialty in specialties:
        part = shown.filter(pl.col("specialty") == specialty)
        fig.add_trace(go.Scatter(x=part["expected_rate"], y=part["change_rate"], mode="markers",
                                 name=specialty_label(specialty), marker={"size": np.sqrt(part["n"].to_numpy()) + 4},
                                 customdata=part["n"], hovertemplate="expected %{x:.1%}, observed %{y:.1%}, n=%{customdata}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#777777"}, name="O = E"))
    fig.update_layout(title="Reviewers: observed change rate against the rate their case mix predicts",
                      xaxis_title="Expected change rate (indirect standardisation)", yaxis_title="Observed change rate",
                      xaxis_tickformat=".0%", yaxis_tickformat=".0%", height=550)
    fig.show()
    """),
    code("""
    # The share of reviewers' deviation from the specialty rate that case mix accounts for:
    # crude - specialty = (expected - specialty) [case mix] + (crude - expected) [the reviewer].
    parts = adjusted.with_columns(
        case_mix=pl.col("expected_rate") - pl.col("specialty_rate"),
        reviewer=pl.col("change_rate") - pl.col("expected_rate"),
        crude=pl.col("change_rate") - pl.col("specialty_rate"),
    )
    weighted_ss = lambda c: (pl.col("n") * pl.col(c) ** 2).sum()
    decomposition = parts.group_by("specialty").agg(
        reviewers=pl.len(),
        crude_ss=weighted_ss("crude"), case_mix_ss=weighted_ss("case_mix"), reviewer_ss=weighted_ss("reviewer"),
    ).with_columns(
        case_mix_share=(pl.col("case_mix_ss") / pl.col("crude_ss")).round(3),
        reviewer_share=(pl.col("reviewer_ss") / pl.col("crude_ss")).round(3),
    ).sort("specialty")
    adjusted_phi = dispersion(adjusted, "n_changed", "expected", "variance").rename({"phi": "phi_adjusted"})
    overall = decomposition.select(pl.col("case_mix_ss").sum() / pl.col("crude_ss").sum()).item()
    print(f"All specialties: case mix accounts for {overall:.0%} of reviewers' squared deviation from their "
          "specialty's rate (weighted by cases)")
    decomposition.select("specialty", "reviewers", "case_mix_share", "reviewer_share").join(
        crude_phi.select("specialty", pl.col("phi").alias("phi_crude")), on="specialty").join(
        adjusted_phi.select("specialty", "phi_adjusted"), on="specialty")
    """),
    md("""
    The two shares need not add to 1 (case mix and reviewer effects can offset or reinforce each
    other). φ adjusted below φ crude means case mix accounted for part of the excess spread; a
    φ adjusted still well above 1 is variation between reviewers that case mix does not explain.

    ### Flags before and after adjustment
    """),
    code("""
    FLAGS = ["low_998", "low_95", "within", "high_95", "high_998"]
    crosstab = adjusted.group_by("crude_flag", "adjusted_flag").len().pivot(
        on="adjusted_flag", index="crude_flag", values="len").fill_null(0)
    crosstab.select("crude_flag", *[f for f in FLAGS if f in crosstab.columns]).sort(
        pl.col("crude_flag").replace_strict(FLAGS, list(range(len(FLAGS)))))
    """),
    code("""
    # The adjusted rate (O/E x specialty rate) on the specialty's funnel, drawn by the same builder.
    # Points are flagged against the limits drawn (around the specialty rate), an approximation of
    # the exact limits around each reviewer's own expected rate used in the table above.
    # Reviewers under 11 cases are hidden by safe_reviewer_variation, as on the dashboard.
    standardised = adjusted.with_columns(change_rate=pl.col("o_e") * pl.col("specialty_rate"))
    lo95, hi95 = stats.funnel_limits(standardised["specialty_rate"].to_numpy(), n, 0.95)
    lo998, hi998 = stats.funnel_limits(standardised["specialty_rate"].to_numpy(), n, 0.998)
    standardised = standardised.with_columns(
        lower_95=pl.Series(lo95), upper_95=pl.Series(hi95), lower_998=pl.Series(lo998), upper_998=pl.Series(hi998),
    ).with_columns(flag=funnel_flag()).select(reviewers.columns)
    busiest = reviewers.group_by("specialty").agg(pl.col("n").sum()).sort("n", descending=True)["specialty"][0]
    fig = funnel_figure(safe_reviewer_variation(standardised), busiest)
    fig.update_layout(title=f"Adjusted for case mix — {specialty_label(busiest)}")
    fig.show()
    """),
    md("""
    ## Caveats

    * Strata are only what the warehouse records (specialty, procedure code, urgency); severity,
      imaging and patient preference are not in it, so adjusted rates still carry unmeasured mix.
    * A flagged reviewer is a prompt to look, not a verdict: no gold standard says which opinion
      was right (Garcia et al., *Ann Surg Oncol* 2018), and reviewers who see the first opinion
      anchor on it (orthopaedic surgeons, OR 1.44, PMC3445697).
    """),
    code(CLOSE),
]

NOTEBOOKS: dict[str, list[dict]] = {
    "01_explore_outcomes.ipynb": NB01,
    "02_cost_sensitivity.ipynb": NB02,
    "03_model_evaluation.ipynb": NB03,
    "04_reviewer_variation.ipynb": NB04,
}


def build(name: str, cells: list[dict]) -> nbformat.NotebookNode:
    """A notebook with stable cell ids, no outputs and the python3 kernel."""
    nb = new_notebook(cells=cells)
    stem = name.split("_")[0]
    for i, cell in enumerate(nb.cells):
        cell.id = f"nb{stem}-{i:02d}"
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The file text of notebook `name`, exactly as written to disk."""
    return nbformat.writes(build(name, NOTEBOOKS[name])) + "\n"


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        (HERE / name).write_text(render(name))
        print(f"wrote notebooks/{name} ({len(cells)} cells)")


if __name__ == "__main__":
    main()
