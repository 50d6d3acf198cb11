"""The Dagster code location: every asset, check, sensor and job of Second Look.

`dg dev` / `dagster dev` load this module; `secondlook run` materialises the same assets in
one process. Resources are built inside the `@dg.definitions` function, not at import, so the
environment (SECONDLOOK_LANDING, ...) is read when the code location loads.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets.core import case_costs, case_outcomes
from pipelines.assets.ingest import landing_ingest
from pipelines.assets.marts import mart_assets
from pipelines.assets.modelling import model_assets
from pipelines.assets.reference import reference_catalogue
from pipelines.assets.site import site
from pipelines.resources import SecondLook
from pipelines.sensors import landing_sensor, refresh_job


def all_assets() -> list[dg.AssetsDefinition]:
    return [landing_ingest, reference_catalogue, *model_assets, case_outcomes, case_costs, *mart_assets, site]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets(),
        jobs=[refresh_job],
        sensors=[landing_sensor],
        resources={"secondlook": SecondLook.from_env()},
        # DuckDB has one writer: run every step in one process, one run at a time (dagster.yaml).
        executor=dg.in_process_executor,
    )
