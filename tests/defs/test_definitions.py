"""The Dagster code location loads, and its asset keys are the design's table names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[2]
DESIGN_TABLES = [
    "audit.ingest_files",
    "quarantine.rows",
    "staging.cases",
    "staging.opinions",
    "staging.follow_ups",
    "reference.procedures",
    "reference.pathways",
    "core.case_outcomes",
    "core.case_costs",
    "marts.outcome_rates",
    "marts.outcome_rates_monthly",
    "marts.cost_impact",
    "marts.reviewer_variation",
]


def test_definitions_load_with_every_design_table_as_an_asset() -> None:
    resolved = defs()
    keys = {".".join(k.path) for k in resolved.resolve_all_asset_keys()}
    missing = [t for t in DESIGN_TABLES if t not in keys]
    assert missing == []
    assert "dashboards.site" in keys and "models.text_classifier" in keys


def test_contract_rules_are_asset_checks_named_after_the_yaml() -> None:
    checks = {(".".join(k.asset_key.path), k.name) for k in defs().resolve_asset_graph().asset_check_keys}
    assert ("staging.cases", "specialty__invalid_value") in checks
    assert ("staging.opinions", "summary_text__identifier") in checks
    assert ("core.case_outcomes", "case_outcomes_one_row_per_case") in checks


def test_sensor_and_job_are_registered() -> None:
    resolved = defs()
    assert resolved.resolve_job_def("refresh_all") is not None
    assert resolved.resolve_sensor_def("landing_sensor").job_name == "refresh_all"


def test_dg_check_defs_passes() -> None:
    dg_bin = Path(sys.executable).with_name("dg")
    env = {**os.environ, "DAGSTER_HOME": str(ROOT / ".dagster_home_test")}
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    proc = subprocess.run(
        [str(dg_bin), "check", "defs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_sensor_asks_for_a_run_only_when_files_change(tmp_path: Path) -> None:
    from pipelines.defs.automation import landing_sensor
    from pipelines.defs.resources import SecondLook

    (tmp_path / "cases.csv").write_text("case_id\n")
    res = SecondLook(landing=str(tmp_path))
    ctx = dg.build_sensor_context(resources={"secondlook": res})
    first = landing_sensor(ctx)
    assert isinstance(first, dg.RunRequest)
    ctx2 = dg.build_sensor_context(cursor=ctx.cursor, resources={"secondlook": res})
    assert isinstance(landing_sensor(ctx2), dg.SkipReason)
    (tmp_path / "opinions.csv").write_text("opinion_id\n")
    ctx3 = dg.build_sensor_context(cursor=ctx.cursor, resources={"secondlook": res})
    assert isinstance(landing_sensor(ctx3), dg.RunRequest)
