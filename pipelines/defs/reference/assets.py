"""Reference: the versioned procedure catalogue and care pathways (pipelines/lib/reference/data/)."""

import dagster as dg

from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import spec
from pipelines.lib.reference.catalogue import read_catalogue, write_reference

PROCEDURES, PATHWAYS = "reference.procedures", "reference.pathways"


@dg.multi_asset(
    specs=[
        spec(
            PROCEDURES,
            "Procedure codes with family, invasiveness tier and a sourced reference price.",
            group="reference",
            published=True,
        ),
        spec(
            PATHWAYS,
            "Per specialty: conservative-care and work-up costs and the default leakage, with sources.",
            group="reference",
        ),
    ],
    pool="duckdb_writer",
    description="Load the reference catalogue, checked against its own contracts.",
)
def reference_catalogue(secondlook: SecondLook):
    procedures, pathways = read_catalogue()  # raises, naming each broken rule, on a bad catalogue
    with secondlook.writer() as conn:
        write_reference(conn, procedures, pathways)
    estimates = int(procedures["cost_is_estimate"].sum())
    secondlook.say(f"reference: {procedures.height} procedure codes ({estimates} priced by estimate)")
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(PROCEDURES.split(".")),
        metadata={"dagster/row_count": procedures.height, "priced_by_estimate": estimates},
    )
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(PATHWAYS.split(".")), metadata={"dagster/row_count": pathways.height}
    )
