"""Notebooks: committed without outputs, generated from notebooks/build_notebooks.py, read-only on
the warehouse, and each one executed end to end (nbclient) on a warehouse built from generated data.

The executed notebooks carry their own checks (notebook 02 asserts that it reproduces
core.case_costs, marts.cost_impact and marts.cost_sensitivity), so a notebook that drifts from
the pipeline fails here, not in a data scientist's hands.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from pathlib import Path

import duckdb
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
EXPECTED = (
    "01_explore_outcomes.ipynb",
    "02_cost_sensitivity.ipynb",
    "03_model_evaluation.ipynb",
    "04_reviewer_variation.ipynb",
)
PRESENT = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
SETUP_MARKER = "def find_warehouse"


def output_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What makes a notebook unfit to commit: any output or execution count on a code cell."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i}: {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i}: execution_count {cell.execution_count}")
    return problems


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def setup_source(nb: nbformat.NotebookNode) -> str:
    cells = [c.source for c in nb.cells if c.cell_type == "code" and SETUP_MARKER in c.source]
    assert len(cells) == 1, "expected exactly one setup cell"
    return cells[0]


def test_every_notebook_the_issue_asks_for_is_there() -> None:
    assert set(EXPECTED) <= set(PRESENT)


def test_the_output_check_catches_outputs_and_execution_counts() -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("1 + 1", execution_count=3,
                                  outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                                                  execution_count=3)]),
        nbformat.v4.new_code_cell("x = 1", execution_count=4),
        nbformat.v4.new_code_cell("y = 2"),
    ])
    assert output_problems(nb) == ["cell 1: 1 output(s)", "cell 1: execution_count 3", "cell 2: execution_count 4"]


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_is_committed_without_outputs_on_the_python3_kernel(name: str) -> None:
    nb = read(name)
    assert output_problems(nb) == []
    assert nb.metadata["kernelspec"]["name"] == "python3"


def _generator():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOK_DIR / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_what_its_generator_writes(name: str) -> None:
    assert (NOTEBOOK_DIR / name).read_text() == _generator().render(name), (
        f"{name} differs from notebooks/build_notebooks.py: edit the generator and rerun it")


@pytest.mark.parametrize("name", EXPECTED)
def test_every_warehouse_connection_is_read_only(name: str) -> None:
    sources = "\n".join(c.source for c in read(name).cells if c.cell_type == "code")
    calls = re.findall(r"duckdb\.connect\((.*)", sources)  # the rest of each line that opens it
    assert calls, "the notebook never opens the warehouse"
    assert all("read_only=True" in args for args in calls), calls


@pytest.mark.parametrize("name", EXPECTED)
def test_setup_cell_opens_the_warehouse_from_the_environment_read_only(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("CREATE TABLE t AS SELECT 42 AS x")
    monkeypatch.chdir(NOTEBOOK_DIR)
    monkeypatch.setenv("SECONDLOOK_WAREHOUSE", str(warehouse))
    scope: dict = {}
    exec(setup_source(read(name)), scope)
    try:
        assert scope["WAREHOUSE"] == warehouse
        assert scope["conn"].execute("SELECT x FROM t").fetchall() == [(42,)]
        with pytest.raises(duckdb.Error, match="read-only"):
            scope["conn"].execute("CREATE TABLE u AS SELECT 1")
    finally:
        scope["conn"].close()


@pytest.mark.parametrize("name", EXPECTED)
def test_a_relative_warehouse_path_is_resolved_from_the_repository_root(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(NOTEBOOK_DIR)
    monkeypatch.setenv("SECONDLOOK_WAREHOUSE", "no-such-folder/warehouse.duckdb")
    with pytest.raises(FileNotFoundError) as caught:
        exec(setup_source(read(name)), {})
    assert str(ROOT / "no-such-folder" / "warehouse.duckdb") in str(caught.value)


# --- execution -----------------------------------------------------------------------------------


def _digest(folder_or_file: Path) -> dict[str, str]:
    files = [folder_or_file] if folder_or_file.is_file() else sorted(p for p in folder_or_file.rglob("*") if p.is_file())
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
@pytest.mark.xdist_group("warehouse")
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_end_to_end_on_a_generated_warehouse(
    name: str, built_warehouse: Path, monkeypatch: pytest.MonkeyPatch, record_property
) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("SECONDLOOK_WAREHOUSE", str(built_warehouse))  # the kernel inherits it
    watched = [built_warehouse, built_warehouse.parent / "artifacts"]
    before = {k: v for path in watched if path.exists() for k, v in _digest(path).items()}
    nb = read(name)
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    record_property("seconds", round(seconds, 1))
    print(f"{name}: {seconds:.1f} s")

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    text = _output_text(nb)
    assert f"warehouse: {built_warehouse}" in text, "the notebook did not read SECONDLOOK_WAREHOUSE"

    after = {k: v for path in watched if path.exists() for k, v in _digest(path).items()}
    assert after == before, "the notebook changed the warehouse or its artifacts"

    # No case-level identifier reaches an output (notebook 03 shows narratives, never their ids).
    with duckdb.connect(str(built_warehouse), read_only=True) as conn:
        identifiers = {r[0] for r in conn.execute(
            "SELECT case_id FROM staging.cases UNION SELECT patient_key FROM staging.cases "
            "UNION SELECT opinion_id FROM staging.opinions").fetchall()}
    assert identifiers
    leaked = set(re.findall(r"[A-Za-z0-9_]+", text)) & identifiers
    assert not leaked, f"case-level identifiers in the outputs: {sorted(leaked)[:5]}"
