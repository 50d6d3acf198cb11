"""Shared fixtures: a warehouse built end to end by `secondlook run` on generated data.

Building it takes a while, so it is built once per test session (whichever xdist worker asks
first) and shared, read-only, by the tests of both workers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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


def shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder of this test session that every xdist worker sees (the pattern of xdist's docs):
    what is built there is built once per session, whichever worker asks first."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def built_once(marker: Path, build: Callable[[], object]) -> object:
    """`build()`'s JSON record, from `marker` if a worker of this session already built it: the
    first to take the lock builds, the others wait, then read."""
    from filelock import FileLock

    marker.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(marker.with_suffix(".lock"))):
        if not marker.exists():
            marker.write_text(json.dumps(build(), default=str), encoding="utf-8")
    return json.loads(marker.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def built_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> BuiltRun:
    """Built once per session (`built_once`), then read (never written) by tests on any worker:
    tests that run again copy it first."""
    from pipelines.cli.run import run_pipeline
    from pipelines.generate import generate

    root = shared_root(tmp_path_factory, worker_id) / "e2e"
    landing, warehouse, site = root / "landing", root / "warehouse.duckdb", root / "site"

    def build() -> dict:
        generated = generate(N_CASES, 5, landing, fmt="csv", dirty_fraction=0.02, enrollment=True)
        _adversarial_files(landing)
        # ~1,200 rule-labelled narratives: train on them (plus the corpus), as a real warehouse would.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SECONDLOOK_MIN_LABELLED_NARRATIVES", "500")
            outcome = run_pipeline(landing, warehouse, site, progress=False)
        return {"summary": outcome.summary, "failed": outcome.failed_steps, "generated": generated}

    record = built_once(root / "built.json", build)
    assert isinstance(record, dict)
    return BuiltRun(landing, warehouse, site, record["summary"], record["failed"], record["generated"])


@pytest.fixture(scope="session")
def built_warehouse(built_run: BuiltRun) -> Path:
    return built_run.warehouse


@pytest.fixture(scope="session")
def fixture_site(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, list[Path]]:
    """The site of the hand-made marts (tests/mart_fixtures.py), built once per session
    (`built_once`) and read by the site and browser tests of either worker: (folder, pages in order)."""
    from dashboards.site import build_site
    from tests.mart_fixtures import make_marts, make_run_info

    out = shared_root(tmp_path_factory, worker_id) / "fixture-site"

    def build() -> list[str]:
        marts = make_marts()
        return [p.name for p in build_site(marts, out, make_run_info(marts))]

    names = built_once(out.with_suffix(".json"), build)
    assert isinstance(names, list)
    return out, [out / name for name in names]
