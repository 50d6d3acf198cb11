"""Shared fixtures: a warehouse built end to end by `secondlook run` on generated data.

Building it takes a while, so it is built once per test session (whichever xdist worker asks
first) and shared, read-only, by the tests of both workers.
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


def shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder of this test session that every xdist worker sees (the pattern of xdist's docs):
    what is built there is built once per session, whichever worker asks first."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def built_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> BuiltRun:
    """Built once per session under a file lock, then read (never written) by tests on any worker:
    tests that run again copy it first."""
    import json

    from filelock import FileLock

    from pipelines.cli.run import run_pipeline
    from pipelines.generate import generate

    root = shared_root(tmp_path_factory, worker_id) / "e2e"
    root.mkdir(parents=True, exist_ok=True)
    landing, warehouse, site = root / "landing", root / "warehouse.duckdb", root / "site"
    done = root / "built.json"
    with FileLock(str(root.with_suffix(".lock"))):
        if not done.exists():
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
            record = {"summary": outcome.summary, "failed": outcome.failed_steps, "generated": generated}
            done.write_text(json.dumps(record, default=str), encoding="utf-8")
    record = json.loads(done.read_text(encoding="utf-8"))
    return BuiltRun(landing, warehouse, site, record["summary"], record["failed"], record["generated"])


@pytest.fixture(scope="session")
def built_warehouse(built_run: BuiltRun) -> Path:
    return built_run.warehouse


@pytest.fixture(scope="session")
def fixture_site(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, list[Path]]:
    """The site of the hand-made marts (tests/mart_fixtures.py), built once per session under a
    file lock and read by the site and browser tests of either worker: (folder, pages in order)."""
    import json

    from filelock import FileLock

    from dashboards.site import build_site
    from tests.mart_fixtures import make_marts, make_run_info

    out = shared_root(tmp_path_factory, worker_id) / "fixture-site"
    done = out.with_suffix(".json")
    with FileLock(str(out.with_suffix(".lock"))):
        if not done.exists():
            marts = make_marts()
            pages = build_site(marts, out, make_run_info(marts))
            done.write_text(json.dumps([p.name for p in pages]), encoding="utf-8")
    return out, [out / name for name in json.loads(done.read_text(encoding="utf-8"))]
