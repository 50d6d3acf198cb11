"""The `secondlook` command's errors for people: one line, non-zero exit, nothing half-written."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from pipelines.cli.main import main
from pipelines.lib.warehouse import WarehouseBusy, writer_lock


def test_missing_landing_folder_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--landing", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == f"secondlook: landing folder {tmp_path / 'nope'} does not exist or is not a folder"
    assert not (tmp_path / "w.duckdb").exists()


def test_warehouse_path_that_is_a_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "landing").mkdir()
    code = main(["run", "--landing", str(tmp_path / "landing"), "--warehouse", str(tmp_path)])
    assert code == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_file_that_is_not_a_warehouse_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "landing").mkdir()
    bogus = tmp_path / "w.duckdb"
    bogus.write_text("this is not a database")
    code = main(["run", "--landing", str(tmp_path / "landing"), "--warehouse", str(bogus)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(f"secondlook: cannot open warehouse {bogus}")


def _hold_lock(path: str, seconds: float) -> None:
    with writer_lock(Path(path)):
        time.sleep(seconds)


def test_second_writer_exits_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "landing").mkdir()
    warehouse = tmp_path / "w.duckdb"
    holder = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(str(warehouse), 3.0))
    holder.start()
    try:
        time.sleep(0.5)
        with (
            pytest.raises(WarehouseBusy, match="is being written by pid"),
            writer_lock(warehouse, wait_seconds=0.2),
        ):
            pass
        code = main(["run", "--landing", str(tmp_path / "landing"), "--warehouse", str(warehouse)])
        assert code == 2
        assert "is being written by pid" in capsys.readouterr().err
        with writer_lock(warehouse, wait_seconds=10):  # waits for the holder, then gets the lock
            pass
    finally:
        holder.join()


def test_generate_rejects_a_bad_dirty_fraction(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--cases", "10", "--out", str(tmp_path), "--dirty-fraction", "2"])
    assert exc.value.code == 2
    assert "must be between 0 and 0.5" in capsys.readouterr().err


def test_the_summary_is_read_before_the_writer_lock_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run waiting on the lock opens the warehouse read-write the moment it is released;
    reading the summary after that would fail one run or the other."""
    import pipelines.cli.run as run_module

    (tmp_path / "landing").mkdir()
    warehouse = tmp_path / "w.duckdb"
    held: list[bool] = []
    real_render = run_module.render

    def render_checking_the_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            with writer_lock(warehouse):
                held.append(False)
        except WarehouseBusy:
            held.append(True)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(run_module, "render", render_checking_the_lock)
    outcome = run_module.run_pipeline(tmp_path / "landing", warehouse, tmp_path / "site", progress=False)
    assert held == [True]
    assert outcome.summary.startswith("Files: none in the landing folder this run")


def test_review_export_refuses_the_site_and_a_name_that_would_not_land(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    from pipelines.lib.review.export import ExportError, export_review_queue

    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA marts")
    site = tmp_path / "site"
    with pytest.raises(ExportError, match="must not be written into the site"):
        export_review_queue(conn, site / "opinion_labels_x.csv", site)
    with pytest.raises(ExportError, match="name the file opinion_labels"):
        export_review_queue(conn, tmp_path / "queue.csv", site)
    assert main(["review", "export", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_review_export_neutralises_formula_cells_and_leaves_the_label_columns_empty(tmp_path: Path) -> None:
    import duckdb
    import polars as pl

    from pipelines.lib.review.export import export_review_queue

    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA marts; CREATE SCHEMA staging")
    conn.execute(
        "CREATE TABLE staging.opinions AS SELECT 'o1' AS opinion_id, '=HYPERLINK(1)' AS summary_text"
    )
    conn.execute(
        "CREATE TABLE marts.review_queue AS SELECT 'o1' AS opinion_id, 'c1' AS case_id, 'spine' AS specialty, "
        "'22612' AS initial_procedure_code, 'Lumbar fusion' AS initial_procedure, 'confirmed' AS best_guess, "
        "'needs_review' AS reason, NULL::VARCHAR AS review_note, 0.5 AS confidence, 10.0 AS priority"
    )
    out = tmp_path / "opinion_labels_q.csv"
    assert export_review_queue(conn, out) == 1
    row = pl.read_csv(out, infer_schema=False).row(0, named=True)
    assert row["narrative"] == "'=HYPERLINK(1)" and row["opinion_id"] == "o1"
    assert row["outcome"] is None and row["labelled_at"] is None and row["labeller"] is None
