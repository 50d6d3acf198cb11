"""Reference assets: the versioned procedure catalogue and care pathways in pipelines/catalogue/."""


import dagster as dg

from pipelines.reference import read_catalogue, write_reference
from pipelines.resources import SecondLook

PROCEDURES = dg.AssetKey(["reference", "procedures"])
PATHWAYS = dg.AssetKey(["reference", "pathways"])


@dg.multi_asset(
    specs=[dg.AssetSpec(k, group_name="reference", kinds={"duckdb"}) for k in (PROCEDURES, PATHWAYS)],
    pool="duckdb_writer",
    description="Procedure families, invasiveness tiers, reference prices and pathway costs, each with its source.",
)
def reference_catalogue(secondlook: SecondLook):
    procedures, pathways = read_catalogue()  # raises, naming each broken rule, on a bad catalogue
    with secondlook.writer() as conn:
        write_reference(conn, procedures, pathways)
    estimates = int(procedures["cost_is_estimate"].sum())
    secondlook.say(f"reference: {procedures.height} procedure codes ({estimates} priced by estimate)")
    yield dg.MaterializeResult(asset_key=PROCEDURES, metadata={
        "dagster/row_count": procedures.height, "priced_by_estimate": estimates})
    yield dg.MaterializeResult(asset_key=PATHWAYS, metadata={"dagster/row_count": pathways.height})
