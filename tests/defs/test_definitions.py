"""The Dagster code location: it loads, every table a run writes is an asset with its real
dependencies, checks carry their severity, and the graph is pinned by a snapshot for review."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.lib.landing.contracts import RECORD_TYPES, load_contracts
from pipelines.lib.marts import MARTS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("asset_graph.json")
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
WRITTEN_BY_A_RUN = [
    "core.prices",
    "core.leakage_rates",
    "staging.opinion_versions",
    "staging.opinions_waiting",
    "audit.check_results",
    "audit.runs",
    "core.pending_cases",
    "core.case_scores",
    "marts.targeting",
]


@pytest.fixture(scope="session")
def graph() -> dg.AssetGraph:  # type: ignore[name-defined]
    return defs().resolve_asset_graph()


def name(key: dg.AssetKey) -> str:
    return ".".join(key.path)


def snapshot(graph) -> dict[str, dict]:
    """Keys, dependencies, groups, owners, tags and checks (with blocking) of every asset."""
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=name):
        node = graph.get(key)
        out[name(key)] = {
            "group": node.group_name,
            "deps": sorted(name(k) for k in node.parent_keys),
            "owners": sorted(node.owners),
            "tags": dict(sorted(node.tags.items())),
            "checks": sorted(
                f"{c.name}{' (blocking)' if graph.get(c).blocking else ''}" for c in node.check_keys
            ),
        }
    return out


def test_the_asset_graph_matches_its_snapshot(graph) -> None:
    current = snapshot(graph)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "the asset graph changed: review the difference, then run UPDATE_SNAPSHOTS=1 pytest tests/defs"
    )


def test_every_table_a_run_writes_is_an_asset(graph) -> None:
    keys = {name(k) for k in graph.get_all_asset_keys()}
    assert [t for t in DESIGN_TABLES + WRITTEN_BY_A_RUN if t not in keys] == []
    assert {m.table for m in MARTS} <= keys
    assert "dashboards.site" in keys and "models.text_classifier" in keys


def test_each_mart_depends_on_exactly_the_tables_it_reads(graph) -> None:
    for mart in MARTS:
        assert sorted(name(k) for k in graph.get(dg.AssetKey(mart.table.split("."))).parent_keys) == sorted(
            mart.reads
        ), mart.name


def test_descriptions_are_distinct_and_every_asset_has_an_owner(graph) -> None:
    nodes = [graph.get(k) for k in graph.get_all_asset_keys()]
    descriptions = [n.description for n in nodes]
    assert all(descriptions) and len(set(descriptions)) == len(descriptions)
    assert all(n.owners for n in nodes)
    pii = {name(n.key) for n in nodes if n.tags.get("pii")}
    assert {"staging.cases", "core.case_outcomes", "quarantine.rows", "marts.review_queue"} <= pii
    published = {name(n.key) for n in nodes if n.tags.get("published")}
    assert "dashboards.site" in published and "marts.outcome_rates" in published
    assert not pii & published


def test_staged_tables_carry_the_contracts_column_schema(graph) -> None:
    for record_type in RECORD_TYPES:
        contract = load_contracts()[record_type]
        node = graph.get(dg.AssetKey(contract.table.split(".")))
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns][: len(contract.columns)] == contract.columns, record_type


def test_checks_that_guard_published_numbers_block_and_findings_warn(graph) -> None:
    blocking = {c.name for c in graph.asset_check_keys if graph.get(c).blocking}
    assert {"outcome_rates_sum_to_one", "gross_avoided_adds_up", "case_outcomes_one_row_per_case"} <= blocking
    assert "specialty__invalid_value" not in blocking and "heldout_macro_f1_floor" not in blocking
    checks = {(name(k.asset_key), k.name) for k in graph.asset_check_keys}
    assert ("staging.cases", "specialty__invalid_value") in checks
    assert ("staging.cases", "region__pattern") in checks


def test_sensor_and_job_are_registered() -> None:
    resolved = defs()
    assert resolved.resolve_job_def("refresh_all") is not None
    assert resolved.resolve_sensor_def("landing_sensor").job_name == "refresh_all"


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    dg_bin = Path(sys.executable).with_name("dg")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
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
    assert not (ROOT / ".dagster_home_test").exists()


def test_the_sensor_asks_for_a_run_only_when_files_change(tmp_path: Path) -> None:
    from pipelines.defs.automation import landing_sensor
    from pipelines.defs.resources import SecondLook

    (tmp_path / "cases.csv").write_text("case_id\n")
    res = SecondLook(landing=str(tmp_path), warehouse=str(tmp_path / "never-opened.duckdb"))
    with dg.build_sensor_context(resources={"secondlook": res}) as ctx:
        first = landing_sensor(ctx)
        cursor = ctx.cursor
    assert isinstance(first, dg.RunRequest)
    with dg.build_sensor_context(cursor=cursor, resources={"secondlook": res}) as ctx2:
        assert isinstance(landing_sensor(ctx2), dg.SkipReason)
    (tmp_path / "opinions.csv").write_text("opinion_id\n")
    with dg.build_sensor_context(cursor=cursor, resources={"secondlook": res}) as ctx3:
        assert isinstance(landing_sensor(ctx3), dg.RunRequest)
    assert not (tmp_path / "never-opened.duckdb").exists()  # a sensor never takes the writer


def test_as_of_is_run_configuration_with_today_as_the_documented_default() -> None:
    from datetime import UTC, date, datetime

    from pipelines.defs.resources import SecondLook

    assert SecondLook(as_of="2025-03-31").as_of_date() == date(2025, 3, 31)
    assert SecondLook().as_of_date() == datetime.now(UTC).date()
    assert "today" in (SecondLook.model_fields["as_of"].description or "").lower()
