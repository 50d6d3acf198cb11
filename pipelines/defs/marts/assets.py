"""Marts: one asset per marts.* table, each a thin call to its builder in pipelines.lib.marts, with
exactly the tables it reads as dependencies. Invariant checks run in the mart's own step."""

from pathlib import Path

import dagster as dg

from pipelines.defs.marts import checks
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import OWNERS, key, keys
from pipelines.lib.marts import MARTS, Mart, MartContext
from pipelines.lib.training.propensity import build_targeting

#: Marts the site does not publish: the review queue is case level, for people; a reviewer's CUSUM
#: statistic moves with each of their cases, so only its signal month is published (through
#: marts.reviewer_variation).
UNPUBLISHED = {"review_queue", "reviewer_cusum"}
COST_MARTS = {"cost_impact", "cost_impact_segments", "cost_sensitivity"}


def _mart_asset(mart: Mart) -> dg.AssetsDefinition:
    tags = {"pii": "pseudonymous"} if mart.name in UNPUBLISHED else {"published": "site"}
    owners = ["team:payer-analytics"] if mart.name in COST_MARTS else OWNERS["marts"]

    @dg.asset(
        key=key(mart.table),
        group_name="marts",
        kinds={"duckdb"},
        pool="duckdb_writer",
        deps=keys(mart.reads),
        check_specs=checks.specs(mart.table),
        description=mart.description,
        owners=owners,
        tags=tags,
    )
    def _mart(context: dg.AssetExecutionContext, secondlook: SecondLook):
        ctx = MartContext(secondlook.settings(), context.run_id, secondlook.as_of_date())
        with secondlook.writer() as conn:
            mart.build(conn, ctx)
            rows = conn.execute(f"SELECT count(*) FROM {mart.table}").fetchall()[0][0]
            results = checks.results(conn, mart.table)
        yield dg.MaterializeResult(metadata={"dagster/row_count": int(rows)})
        yield from results

    return _mart


mart_assets = [_mart_asset(m) for m in MARTS]


@dg.asset(
    key=key("marts.targeting"),
    group_name="marts",
    kinds={"duckdb"},
    pool="duckdb_writer",
    deps=keys(["models.change_propensity"]),
    owners=["team:data-science"],
    tags={"published": "site"},
    description="Lift by decile of out-of-fold propensity scores: what routing the top decile to review buys.",
)
def targeting(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        n = build_targeting(conn, Path(secondlook.warehouse))
    return dg.MaterializeResult(metadata={"dagster/row_count": n})
