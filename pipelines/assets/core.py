"""Core assets: one row per case — its outcome (rules 1-6) and its costs."""


from pathlib import Path

import dagster as dg

from pipelines.assets.checks import quality_specs, run_quality
from pipelines.assets.modelling import TEXT_MODEL
from pipelines.costs import build_case_costs
from pipelines.modelling import narrative_predictions
from pipelines.outcomes import build_case_outcomes
from pipelines.resources import SecondLook
from pipelines.warehouse import run_as_of

CASE_OUTCOMES = dg.AssetKey(["core", "case_outcomes"])
PENDING = dg.AssetKey(["core", "pending_cases"])
CASE_COSTS = dg.AssetKey(["core", "case_costs"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(CASE_OUTCOMES, group_name="core", kinds={"duckdb"},
                     deps=[["staging", "cases"], ["staging", "opinions"], ["reference", "procedures"], TEXT_MODEL]),
        dg.AssetSpec(PENDING, group_name="core", kinds={"duckdb"}, deps=[["staging", "cases"]]),
    ],
    check_specs=quality_specs("core.case_outcomes"),
    pool="duckdb_writer",
    description="Each case's outcome from its latest opinion (DESIGN rules 1-6); cases without an opinion are pending.",
)
def case_outcomes(context: dg.AssetExecutionContext, secondlook: SecondLook):
    settings = secondlook.settings()
    with secondlook.writer() as conn:
        predictions = narrative_predictions(conn, Path(secondlook.warehouse))
        build_case_outcomes(conn, predictions, settings.text_model_threshold)
        by_outcome = dict(conn.execute(
            "SELECT outcome, count(*) FROM core.case_outcomes GROUP BY 1 ORDER BY 1").fetchall())
        pending = conn.execute("SELECT count(*) FROM core.pending_cases").fetchall()[0][0]
        checks = run_quality(conn, context.run_id, "core.case_outcomes")
    secondlook.say(f"outcomes: {sum(by_outcome.values()):,} cases classified or counted, {pending:,} pending")
    yield dg.MaterializeResult(asset_key=CASE_OUTCOMES, metadata={
        "dagster/row_count": sum(by_outcome.values()), **{f"n_{k}": int(v) for k, v in by_outcome.items()}})
    yield dg.MaterializeResult(asset_key=PENDING, metadata={"dagster/row_count": int(pending)})
    yield from checks


@dg.asset(
    key=CASE_COSTS, group_name="core", kinds={"duckdb"}, pool="duckdb_writer",
    check_specs=quality_specs("core.case_costs"),
    deps=[CASE_OUTCOMES, ["staging", "follow_ups"], ["staging", "procedure_costs"],
          ["reference", "procedures"], ["reference", "pathways"]],
    description="Per case: initial and recommended cost, projected avoided, and what follow-up claims verify.",
)
def case_costs(context: dg.AssetExecutionContext, secondlook: SecondLook):
    settings = secondlook.settings()
    with secondlook.writer() as conn:
        build_case_costs(conn, settings, run_as_of(conn, context.run_id))
        n, gross = conn.execute("SELECT count(*), sum(projected_avoided) FROM core.case_costs").fetchall()[0]
        checks = run_quality(conn, context.run_id, "core.case_costs")
    secondlook.say(f"costs: {n:,} cases, projected avoided ${gross or 0:,.0f} before program fees")
    yield dg.MaterializeResult(metadata={"dagster/row_count": int(n), "gross_projected_avoided": float(gross or 0)})
    yield from checks
