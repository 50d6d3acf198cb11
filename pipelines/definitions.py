"""The Dagster code location of Second Look: everything under pipelines/defs/, autoloaded.

`dg dev` / `dagster dev` load this module; `secondlook run` materialises the same assets in one
process. Resources are built inside a `@dg.definitions` function (pipelines/defs/resources.py),
not at import, so the environment (SECONDLOOK_LANDING, ...) is read when the location loads.
DuckDB has one writer, so every step runs in one process, one run at a time (dagster.yaml).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(executor=dg.in_process_executor),
    )
