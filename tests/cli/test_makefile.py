"""`make demo` owns data/demo/: it removes it before regenerating, so repeated demos never pile up;
`make notebooks` passes --allow-root when run as root (Jupyter refuses root without it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(target: str, *variables: str) -> list[str]:
    """The recipe lines of `target` alone (-o keeps the venv stamp from being rebuilt)."""
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed-stamp", target, *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_demo_removes_its_folder_before_regenerating_landing_warehouse_and_site() -> None:
    lines = dry_run("demo", "DATA=/tmp/sl-demo", "CASES=100")
    assert lines[0].startswith('echo "make demo: removing /tmp/sl-demo/demo/ and regenerating')
    assert lines[1] == "rm -rf /tmp/sl-demo/demo"
    assert "generate --cases 100 --seed 42 --out /tmp/sl-demo/demo/landing" in lines[2]
    assert lines[3].endswith(
        "run --landing /tmp/sl-demo/demo/landing --warehouse /tmp/sl-demo/demo/warehouse.duckdb "
        "--site /tmp/sl-demo/demo/site"
    )


def test_notebooks_pass_allow_root_when_run_as_root() -> None:
    (launch,) = [line for line in dry_run("notebooks") if "jupyter lab" in line]
    flag = launch.split("jupyter lab", 1)[1].rsplit("notebooks/", 1)[0].strip()
    assert subprocess.run(
        ["sh", "-c", f"echo {flag}"], capture_output=True, text=True, check=True
    ).stdout.strip() == ("--allow-root" if os.geteuid() == 0 else "")
