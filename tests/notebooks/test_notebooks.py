"""Notebooks: jupytext percent-format sources (`notebooks/*.py`, no outputs to commit), read-only on
the warehouse, and each one executed end to end (nbclient) on a warehouse built from generated data.

The executed notebooks carry their own checks (notebook 02 asserts that it reproduces
core.case_costs, marts.cost_impact and marts.cost_sensitivity), so a notebook that drifts from
the pipeline fails here, not in a data scientist's hands.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import duckdb
import jupytext
import nbformat
import pytest

from pipelines.lib.readers import find_warehouse, open_warehouse

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
EXPECTED = (
    "01_explore_outcomes.py",
    "02_cost_sensitivity.py",
    "03_model_evaluation.py",
    "04_reviewer_variation.py",
)


def read(name: str) -> nbformat.NotebookNode:
    return jupytext.read(NOTEBOOK_DIR / name)


def test_every_notebook_is_a_percent_format_source_on_the_python3_kernel() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.py")) == list(EXPECTED)
    assert not list(NOTEBOOK_DIR.glob("*.ipynb")), "commit the .py sources only; .ipynb files are generated"
    for name in EXPECTED:
        nb = read(name)
        assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3, name


@pytest.mark.parametrize("name", EXPECTED)
def test_every_warehouse_connection_is_read_only(name: str) -> None:
    sources = "\n".join(c.source for c in read(name).cells if c.cell_type == "code")
    assert "open_warehouse(" in sources, "the notebook never opens the warehouse"
    assert not re.findall(r"duckdb\.connect\(", sources), "open the warehouse with open_warehouse (read-only)"


def test_the_reader_opens_the_released_snapshot_read_only_never_the_live_file(tmp_path: Path) -> None:
    import os

    live = tmp_path / "w.duckdb"
    with duckdb.connect(str(live)) as conn:
        conn.execute("CREATE TABLE t AS SELECT 'live' AS x")
    release = tmp_path / "w.published" / "run-1"
    release.mkdir(parents=True)
    with duckdb.connect(str(release / "warehouse.duckdb")) as conn:
        conn.execute("CREATE TABLE t AS SELECT 'released' AS x")
    os.symlink("run-1", tmp_path / "w.published" / "current")
    path = find_warehouse({"SECONDLOOK_WAREHOUSE": str(live)})
    assert path == tmp_path / "w.published" / "current" / "warehouse.duckdb"
    assert find_warehouse({"SECONDLOOK_WAREHOUSE": str(path)}) == path
    conn = open_warehouse(path)
    try:
        assert conn.execute("SELECT x FROM t").fetchall() == [("released",)]
        with pytest.raises(duckdb.Error, match="read-only"):
            conn.execute("CREATE TABLE u AS SELECT 1")
    finally:
        conn.close()
    (tmp_path / "w.published" / "current").unlink()
    with pytest.raises(FileNotFoundError, match="has no released snapshot yet"):
        find_warehouse({"SECONDLOOK_WAREHOUSE": str(live)})


def test_a_relative_warehouse_path_is_resolved_from_the_repository_root() -> None:
    with pytest.raises(FileNotFoundError) as caught:
        find_warehouse({"SECONDLOOK_WAREHOUSE": "no-such-folder/warehouse.duckdb"}, cwd=NOTEBOOK_DIR)
    assert str(ROOT / "no-such-folder" / "warehouse.duckdb") in str(caught.value)


# --- execution -----------------------------------------------------------------------------------


def _digest(folder_or_file: Path) -> dict[str, str]:
    files = (
        [folder_or_file]
        if folder_or_file.is_file()
        else sorted(p for p in folder_or_file.rglob("*") if p.is_file())
    )
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _output_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.extend(str(v) for v in out.get("data", {}).values())
            parts.extend(str(v) for v in out.get("traceback", []))
    return "\n".join(parts)


@pytest.mark.notebooks
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_end_to_end_on_a_generated_warehouse(
    name: str, built_warehouse: Path, monkeypatch: pytest.MonkeyPatch, record_property
) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("SECONDLOOK_WAREHOUSE", str(built_warehouse))  # the kernel inherits it
    snapshot = find_warehouse({"SECONDLOOK_WAREHOUSE": str(built_warehouse)})
    watched = [built_warehouse, built_warehouse.parent / "artifacts", snapshot.resolve().parent]
    before = {k: v for path in watched if path.exists() for k, v in _digest(path).items()}
    nb = read(name)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    record_property("seconds", round(seconds, 1))
    print(f"{name}: {seconds:.1f} s")

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    text = _output_text(nb)
    assert f"warehouse: {snapshot}" in text, "the notebook did not open the snapshot of SECONDLOOK_WAREHOUSE"

    after = {k: v for path in watched if path.exists() for k, v in _digest(path).items()}
    assert after == before, "the notebook changed the warehouse or its artifacts"

    # No case-level identifier reaches an output (notebook 03 shows narratives, never their ids).
    with duckdb.connect(str(built_warehouse), read_only=True) as conn:
        identifiers = {
            r[0]
            for r in conn.execute(
                "SELECT case_id FROM staging.cases UNION SELECT patient_key FROM staging.cases "
                "UNION SELECT opinion_id FROM staging.opinions"
            ).fetchall()
        }
    assert identifiers
    leaked = set(re.findall(r"[A-Za-z0-9_]+", text)) & identifiers
    assert not leaked, f"case-level identifiers in the outputs: {sorted(leaked)[:5]}"
