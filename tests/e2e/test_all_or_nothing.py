"""A run publishes all or nothing: killed or interrupted, it never leaves a mixed or stale site.

Runs go through the real command in a child process; pause points (pipelines/lib/faults.py) hold a
run where the test wants to kill it (kill -9, no clean-up at all) or to read the warehouse.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.generate import generate
from pipelines.lib.readers import find_warehouse, open_warehouse
from pipelines.lib.site.release import current_dir, released_run, snapshot_path
from pipelines.lib.warehouse import WarehouseBusy, unfinished_run

# the tests go on from each other's release (make test sends a whole file to one worker)
pytestmark = pytest.mark.slow

FAST = {"SECONDLOOK_MIN_LABELLED_NARRATIVES": "50", "SECONDLOOK_TEXT_MODEL_CORPUS_SIZE": "500"}


def command(root: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    secondlook = Path(sys.executable).with_name("secondlook")
    args = [
        str(secondlook),
        "run",
        "--landing",
        str(root / "landing"),
        "--warehouse",
        str(root / "w.duckdb"),
        "--site",
        str(root / "site"),
        "--full",  # these runs repeat one landing folder on purpose: each must really run
    ]
    return subprocess.Popen(
        args,
        env={**os.environ, **FAST, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def paused(root: Path, point: str) -> tuple[subprocess.Popen[str], Path]:
    """A run started and held at `point`; returns the process and the pause file (remove it to go on)."""
    flag = root / f"pause-{point}"
    flag.unlink(missing_ok=True)  # left by a run killed at the same point earlier
    proc = command(root, {"SECONDLOOK_PAUSE_AT": point, "SECONDLOOK_PAUSE_FILE": str(flag)})
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "the run ended before the pause"
        assert time.monotonic() < deadline, "the run never reached the pause point"
        time.sleep(0.1)
    return proc, flag


def site_run_id(site: Path) -> set[str]:
    """The run ids every page of the site says it was built by."""
    ids = set()
    for page in site.glob("*.html"):
        ids |= set(re.findall(r"Run <code>([0-9a-f-]{36})</code>", page.read_text(encoding="utf-8")))
    return ids


def snapshot_run_id(warehouse: Path) -> str:
    with duckdb.connect(str(snapshot_path(warehouse)), read_only=True) as conn:
        return conn.execute("SELECT run_id FROM audit.runs ORDER BY finished_at DESC LIMIT 1").fetchall()[0][
            0
        ]


def assert_released_whole(root: Path, run_id: str) -> None:
    """The site and the snapshot users see are both wholly `run_id`'s."""
    warehouse = root / "w.duckdb"
    assert released_run(warehouse)["run_id"] == run_id
    assert site_run_id(root / "site") == {run_id}
    assert snapshot_run_id(warehouse) == run_id
    assert (root / "site").resolve() == (current_dir(warehouse) / "site").resolve()


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("aon")
    generate(200, 21, root / "landing")
    proc = command(root)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return root, released_run(root / "w.duckdb")["run_id"]


def test_a_run_killed_during_the_site_build_leaves_the_previous_release_whole(released) -> None:
    root, first = released
    generate(100, 22, root / "later")  # new data the killed run would have published
    for path in (root / "later").iterdir():
        path.rename(root / "landing" / path.name.replace(".", "_later.", 1))
    proc, _ = paused(root, "site_build")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert_released_whole(root, first)
    assert unfinished_run(root / "w.duckdb") is not None  # the killed run is remembered as unfinished


def test_a_run_killed_at_the_release_leaves_the_previous_release_whole(released) -> None:
    root, first = released
    proc, _ = paused(root, "release")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert_released_whole(root, first)


def test_a_reader_mid_run_gets_busy_or_the_snapshot_and_the_run_still_publishes_whole(released) -> None:
    root, first = released
    warehouse = root / "w.duckdb"
    killed = unfinished_run(warehouse)
    proc, flag = paused(root, "site_build")
    with pytest.raises(WarehouseBusy, match="being written by a run"):
        open_warehouse(warehouse)
    reader = open_warehouse(find_warehouse({"SECONDLOOK_WAREHOUSE": str(warehouse)}))
    try:  # the released snapshot stays readable, and is the previous run's
        assert reader.execute("SELECT count(*) FROM marts.outcome_rates").fetchall()[0][0] > 0
        assert reader.execute("SELECT max(run_id) FROM audit.runs WHERE run_id = ?", [first]).fetchall() == [
            (first,)
        ]
        flag.unlink()
        out, _ = proc.communicate(timeout=300)
    finally:
        reader.close()
    assert proc.returncode == 0, out
    latest = released_run(warehouse)["run_id"]
    assert latest != first
    assert_released_whole(root, latest)
    assert unfinished_run(warehouse) is None
    assert killed is not None and f"previous run ({killed['run_id']}" in out and "did not finish" in out
    record = json.loads((current_dir(warehouse) / "run.json").read_text())
    assert record["run_id"] == latest and record["finished_at"]
