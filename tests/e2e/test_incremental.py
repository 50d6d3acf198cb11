"""A run with nothing new recomputes nothing (issue 14): tested by what each run materialises."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipelines.cli.run import run_pipeline
from pipelines.generate import generate


@pytest.fixture(scope="session")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("incremental")
    generate(200, 11, root / "landing", fmt="csv", dirty_fraction=0.0, enrollment=True)
    return root


def test_nothing_new_recomputes_nothing_and_full_rebuilds_everything(folder: Path) -> None:
    landing, warehouse, site = folder / "landing", folder / "w.duckdb", folder / "site"
    first = run_pipeline(landing, warehouse, site, progress=False)
    assert first.failed_steps == [] and "staging.cases" in first.materialised
    assert "models.change_propensity" in first.materialised and "dashboards.site" in first.materialised
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        first_staged = conn.execute(
            "SELECT (SELECT count(*) FROM staging.cases), (SELECT count(*) FROM staging.opinions)"
        ).fetchall()
    assert first_staged[0][0] > 0

    again = run_pipeline(landing, warehouse, site, progress=False)
    assert again.materialised == [] and again.run_id == first.run_id
    assert again.summary.startswith(
        f"Nothing new: landing files, costs, settings and code are those of run {first.run_id}"
    )
    assert again.site_index == site / "index.html"

    # A file touched but not changed is the same input: its content hash decides, not its mtime.
    cases = next(landing.glob("cases*.csv"))
    os.utime(cases, ns=(cases.stat().st_atime_ns, cases.stat().st_mtime_ns + 10**9))
    assert run_pipeline(landing, warehouse, site, progress=False).materialised == []

    full = run_pipeline(landing, warehouse, site, progress=False, full=True)
    assert full.failed_steps == [] and set(full.materialised) == set(first.materialised)
    assert full.summary.startswith("Full rebuild (--full)")
    # recomputed, yet nothing loaded twice: every file is known by its content
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        statuses = conn.execute(
            "SELECT DISTINCT status FROM audit.ingest_files WHERE run_id = ?", [full.run_id]
        ).fetchall()
        staged = conn.execute(
            "SELECT (SELECT count(*) FROM staging.cases), (SELECT count(*) FROM staging.opinions)"
        ).fetchall()
    assert {s for (s,) in statuses} == {"duplicate_file"}
    assert staged == first_staged
    assert run_pipeline(landing, warehouse, site, progress=False).materialised == []


def test_changed_settings_and_landing_files_recompute(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a published warehouse with nothing new, a new file and a new fee."""
    landing, warehouse, site = folder / "landing", folder / "w.duckdb", folder / "site"
    base = run_pipeline(landing, warehouse, site, progress=False)  # a no-op after the test above
    assert base.failed_steps == []
    lines = next(landing.glob("follow_ups*.csv")).read_text().splitlines(keepends=True)
    (landing / "follow_ups_extra.csv").write_text("".join(lines[:1] + lines[1:3]))
    monkeypatch.setenv("SECONDLOOK_PROGRAM_FEE_USD", "900")
    new = run_pipeline(landing, warehouse, site, progress=False)
    assert new.failed_steps == [] and "staging.follow_ups" in new.materialised
    assert new.summary.splitlines()[0].startswith("Recomputed: landing files, settings changed since run")
    assert run_pipeline(landing, warehouse, site, progress=False).materialised == []
