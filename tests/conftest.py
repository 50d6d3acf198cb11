"""Shared fixtures: a warehouse built end to end by `secondlook run` on generated data.

Building it takes a while, so it is session-scoped; tests that use it carry
`@pytest.mark.xdist_group("warehouse")` so one xdist worker builds it once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

N_CASES = 3000


@dataclass(frozen=True)
class BuiltRun:
    landing: Path
    warehouse: Path
    site: Path
    summary: str
    failed_steps: list[str]
    generated: dict


def _adversarial_files(landing: Path) -> None:
    """Files a real landing folder gets: one with identifiers, one broken, one header only."""
    (landing / "cases_with_names.csv").write_text(
        "case_id,patient_key,specialty,referral_date,initial_procedure_code,patient_name\n"
        "x1,p1,spine,2025-01-01,22612,Jane Roe\n"
    )
    (landing / "opinions_broken.csv").write_text('opinion_id,case_id\n"o1,c1\n')
    (landing / "follow_ups_empty.csv").write_text("case_id,procedure_code,service_date,allowed_amount\n")


@pytest.fixture(scope="session")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> BuiltRun:
    from pipelines.cli.run import run_pipeline
    from pipelines.generate import generate

    root = tmp_path_factory.mktemp("e2e")
    landing, warehouse, site = root / "landing", root / "warehouse.duckdb", root / "site"
    generated = generate(N_CASES, 5, landing, fmt="csv", dirty_fraction=0.02, enrollment=True)
    _adversarial_files(landing)
    # ~1,200 rule-labelled narratives: train on them (plus the corpus), as a real warehouse would.
    previous = os.environ.get("SECONDLOOK_MIN_LABELLED_NARRATIVES")
    os.environ["SECONDLOOK_MIN_LABELLED_NARRATIVES"] = "500"
    try:
        outcome = run_pipeline(landing, warehouse, site, progress=False)
    finally:
        if previous is None:
            os.environ.pop("SECONDLOOK_MIN_LABELLED_NARRATIVES")
        else:
            os.environ["SECONDLOOK_MIN_LABELLED_NARRATIVES"] = previous
    return BuiltRun(landing, warehouse, site, outcome.summary, outcome.failed_steps, generated)


@pytest.fixture(scope="session")
def built_warehouse(built_run: BuiltRun) -> Path:
    return built_run.warehouse
