"""Mart assets: one asset per marts.* table, each a thin call to its builder in pipelines/marts.py.

Plain quality checks (pipelines/quality.py) are declared on the asset whose table they test and
run in the same step, so marts.data_quality_checks (built last) sees every result of the run.
"""


import dagster as dg

from pipelines.assets.checks import quality_specs, run_quality
from pipelines.assets.core import CASE_COSTS, CASE_OUTCOMES
from pipelines.marts import MART_BUILDERS, MartBuilder
from pipelines.resources import SecondLook

INGEST_AUDIT = dg.AssetKey(["audit", "ingest_files"])
QUARANTINE = dg.AssetKey(["quarantine", "rows"])
MART_KEYS = [dg.AssetKey(["marts", name]) for name in MART_BUILDERS]
LATE = {"data_quality_checks", "run_summary"}  # read every other result of the run


def _deps(name: str) -> list[dg.AssetKey]:
    base = [CASE_OUTCOMES, CASE_COSTS, INGEST_AUDIT, QUARANTINE]
    if name in LATE:
        base += [k for k in MART_KEYS if k.path[-1] not in LATE]
    if name == "run_summary":
        base.append(dg.AssetKey(["marts", "data_quality_checks"]))
    return base


def _mart_asset(name: str, build: MartBuilder) -> dg.AssetsDefinition:
    key = dg.AssetKey(["marts", name])

    @dg.asset(key=key, group_name="marts", kinds={"duckdb"}, pool="duckdb_writer", deps=_deps(name),
              check_specs=quality_specs(f"marts.{name}"),
              description=(build.__doc__ or name).strip().splitlines()[0])
    def _mart(context: dg.AssetExecutionContext, secondlook: SecondLook):
        with secondlook.writer() as conn:
            build(conn, secondlook.settings())
            rows = conn.execute(f"SELECT count(*) FROM marts.{name}").fetchall()[0][0]
            checks = run_quality(conn, context.run_id, f"marts.{name}")
        yield dg.MaterializeResult(metadata={"dagster/row_count": int(rows)})
        yield from checks

    return _mart


mart_assets = [_mart_asset(name, build) for name, build in MART_BUILDERS.items()]
