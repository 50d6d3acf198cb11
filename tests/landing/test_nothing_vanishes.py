"""Nothing in the landing folder vanishes: over-long rows, links, folders and opinions whose case
never arrives are each accounted for, in the file audit, in quarantine or in the run summary."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import duckdb
import pytest

from pipelines.cli.summary import waiting_section
from pipelines.lib.landing.files import MAX_ROW_BYTES, scan_file
from pipelines.lib.landing.ingest import ingest
from pipelines.lib.marts import MartContext
from pipelines.lib.marts.quality import build_data_quality_waiting
from pipelines.lib.settings import load_settings
from tests.landing.test_ingest import CASE_HEADER, OPINION_HEADER, TODAY, audit, case_row, reasons, write

FORTY_MB = 40_000_000


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def run(conn: duckdb.DuckDBPyConnection, folder: Path, run_id: str = "r1"):
    return ingest(conn, folder, run_id=run_id, today=TODAY)


def opinion(i: int, text: str = "") -> str:
    return f"o{i},c1,r1,2026-02-01,defer,,,{text},"


# --- rows longer than the reader's limit --------------------------------------------------------


def test_the_issues_40_mb_row_is_quarantined_as_too_long_not_dropped(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The reproduction: an unquoted 40 MB narrative on the last row. DuckDB's CSV reader, past
    its line limit, dropped it and the file was audited `loaded` with rows_read 2 of 3."""
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(tmp_path, "opinions.csv", [OPINION_HEADER, opinion(1), opinion(2), opinion(3, "x" * FORTY_MB)])
    run(conn, tmp_path)
    assert audit(conn)["opinions.csv"] == ("partial", 3, 2, 1, 0)
    assert reasons(conn) == [("opinions.csv", 3, ["row_too_long"])]
    assert conn.execute("SELECT record FROM quarantine.rows").fetchall() == [("{}",)]
    err = conn.execute("SELECT error FROM audit.ingest_files WHERE file_name = 'opinions.csv'").fetchall()[0][
        0
    ]
    assert err == "1 row(s) longer than the reader's limit (40.0 MB): row_too_long"
    assert sorted(r[0] for r in conn.execute("SELECT opinion_id FROM staging.opinions").fetchall()) == [
        "o1",
        "o2",
    ]


@pytest.mark.parametrize("where", ["first", "middle"])
@pytest.mark.parametrize("quoted", [False, True])
def test_a_row_past_the_limit_keeps_every_other_row_and_its_row_number(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path, where: str, quoted: bool
) -> None:
    big = "y" * (MAX_ROW_BYTES + 10)
    text = f'"{big}"' if quoted else big
    rows = [opinion(1), opinion(2), opinion(3)]
    at = {"first": 0, "middle": 1}[where]
    rows[at] = opinion(at + 1, text)
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(tmp_path, "opinions.csv", [OPINION_HEADER, *rows], newline="\r\n")
    run(conn, tmp_path)
    assert audit(conn)["opinions.csv"] == ("partial", 3, 2, 1, 0)
    assert reasons(conn) == [("opinions.csv", at + 1, ["row_too_long"])]
    staged = conn.execute("SELECT opinion_id, source_row FROM staging.opinion_versions ORDER BY 2").fetchall()
    assert staged == [(f"o{i + 1}", i + 1) for i in range(3) if i != at]


def test_json_lines_and_gzip_files_get_the_same_limit(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    base = {"case_id": "c1", "reviewer_id": "r1", "opinion_date": "2026-02-01", "recommendation": "defer"}
    rows = [{**base, "opinion_id": "o1"}, {**base, "opinion_id": "o2", "summary_text": "z" * FORTY_MB}]
    rows.append({**base, "opinion_id": "o3"})
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    (tmp_path / "opinions_a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    big = "z" * (MAX_ROW_BYTES + 1)
    with gzip.open(tmp_path / "opinions_b.csv.gz", "wt") as fh:
        fh.write("\n".join([OPINION_HEADER, opinion(4), opinion(5, big), opinion(6)]) + "\n")
    report = run(conn, tmp_path)
    a = audit(conn)
    assert a["opinions_a.jsonl"] == ("partial", 3, 2, 1, 0)
    assert a["opinions_b.csv.gz"] == ("partial", 3, 2, 1, 0)
    assert [r for r in reasons(conn)] == [
        ("opinions_a.jsonl", 2, ["row_too_long"]),
        ("opinions_b.csv.gz", 2, ["row_too_long"]),
    ]
    jsonl = next(f for f in report.files if f.file_name == "opinions_a.jsonl")
    assert jsonl.ignored_columns == []  # the placeholder's key is not a column of the file


def test_a_row_of_3_mb_is_read_whole_not_refused(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """DuckDB's default line limit is 2 MB; ours is 16 MB, and what is under it loads as written."""
    text = "Long narrative. " * 200_000
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(tmp_path, "opinions.csv", [OPINION_HEADER, opinion(1, f'"{text}"')])
    run(conn, tmp_path)
    assert audit(conn)["opinions.csv"] == ("loaded", 1, 1, 0, 0)
    assert conn.execute("SELECT length(summary_text) FROM staging.opinions").fetchall() == [
        (len(text.strip()),)
    ]


def test_a_header_past_the_limit_makes_the_file_unparseable_naming_line_1(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", ["case_id," + "h" * (MAX_ROW_BYTES + 5), "c1,x"])
    report = run(conn, tmp_path)
    assert (report.files[0].status, report.files[0].rows_read) == ("unparseable", 0)
    assert report.files[0].error.startswith("line 1 (the header) is 16.8 MB, longer than the 16 MB row limit")


def test_the_scan_finds_exactly_the_lines_past_the_limit(tmp_path: Path) -> None:
    """Lines crossing 1 MB read chunks are measured across them; short lines cost nothing."""
    limit = 3 << 20
    lines = [b"a" * 10, b"b" * (limit + 1), b"c" * limit, b"d" * (2 * limit), b"e"]
    path = tmp_path / "f.csv"
    path.write_bytes(b"\n".join(lines))  # the last line has no newline
    offsets = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    assert scan_file(path, limit).long_lines == ((offsets[1], limit + 1), (offsets[3], 2 * limit))
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n" + b"f" * (limit + 7))
    assert scan_file(path, limit).long_lines[-1] == (offsets[4], limit + 7)


# --- links, folders, special files --------------------------------------------------------------


def test_a_link_out_of_the_landing_folder_is_refused_and_never_read(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    outside = write(tmp_path / "elsewhere", "cases.csv", [CASE_HEADER, case_row("c-secret")])
    landing = tmp_path / "landing"
    write(landing, "cases_a.csv", [CASE_HEADER, case_row("c1")])
    (landing / "cases_linked.csv").symlink_to(outside)
    (landing / "cases_via_dir").symlink_to(outside.parent, target_is_directory=True)
    run(conn, landing)
    rows = conn.execute(
        "SELECT file_name, status, sha256, rows_read, error FROM audit.ingest_files ORDER BY file_name"
    ).fetchall()
    assert rows == [
        ("cases_a.csv", "loaded", rows[0][2], 1, None),
        (
            "cases_linked.csv",
            "refused",
            None,
            0,
            "symbolic link leading outside the landing folder: not followed, nothing read",
        ),
        (
            "cases_via_dir",
            "refused",
            None,
            0,
            "symbolic link leading outside the landing folder: not followed, nothing read",
        ),
    ]
    assert conn.execute("SELECT case_id FROM staging.cases").fetchall() == [("c1",)]


def test_a_link_to_a_file_inside_the_folder_is_read_like_the_file(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    target = write(tmp_path, "cases_2026-01.csv", [CASE_HEADER, case_row("c1")])
    (tmp_path / "cases_latest.csv").symlink_to(target.name)
    run(conn, tmp_path)
    assert audit(conn) == {
        "cases_2026-01.csv": ("loaded", 1, 1, 0, 0),
        "cases_latest.csv": ("duplicate_file", 1, 0, 0, 1),
    }


def test_dangling_links_folders_and_pipes_get_a_skipped_audit_row(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    (tmp_path / "opinions_gone.csv").symlink_to(tmp_path / "nowhere.csv")
    (tmp_path / "follow_ups_2025").mkdir()
    write(
        tmp_path / "follow_ups_2025",
        "follow_ups.csv",
        ["case_id,procedure_code,service_date", "c1,22612,2026-03-01"],
    )
    os.mkfifo(tmp_path / "cases_pipe.csv")
    report = run(conn, tmp_path)
    got = {f.file_name: (f.status, f.error) for f in report.files}
    assert got == {
        "cases.csv": ("loaded", None),
        "cases_pipe.csv": ("skipped", "not a regular file (a pipe, socket or device): nothing read"),
        "opinions_gone.csv": ("skipped", "dangling symbolic link: its target does not exist, nothing read"),
        "follow_ups_2025": ("skipped", "a folder: sub-folders of the landing folder are not read"),
    }
    assert conn.execute("SELECT count(*) FROM audit.ingest_files WHERE status = 'skipped'").fetchall() == [
        (3,)
    ]
    assert conn.execute("SELECT count(*) FROM staging.follow_ups").fetchall() == [(0,)]


def test_the_sensor_lists_a_dangling_link_without_failing(tmp_path: Path) -> None:
    from pipelines.defs.automation import landing_listing

    (tmp_path / "opinions_gone.csv").symlink_to(tmp_path / "nowhere.csv")
    (tmp_path / "cases").mkdir()
    assert set(landing_listing(tmp_path)) == {"opinions_gone.csv", "cases"}


# --- opinions whose case never arrives ------------------------------------------------------------


def test_waiting_opinions_are_counted_and_orphans_listed_after_the_configured_days(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "opinions.csv", [OPINION_HEADER, opinion(1), "o2,c2,r1,2026-02-01,defer,,,,", opinion(3)])
    run(conn, tmp_path)
    conn.execute(
        "UPDATE staging.opinions_waiting SET loaded_at = CASE opinion_id WHEN 'o1' THEN TIMESTAMP '2026-05-01' "
        "WHEN 'o2' THEN TIMESTAMP '2026-06-20' ELSE TIMESTAMP '2026-04-01 08:00' END"
    )
    conn.execute("INSERT INTO audit.runs (run_id, as_of) VALUES ('r1', DATE '2026-06-30')")
    settings = load_settings(env={"SECONDLOOK_ORPHAN_AFTER_DAYS": "45"})
    lines = waiting_section(conn, "r1", settings)
    assert lines == [
        "Waiting opinions (case not arrived yet): 3, the oldest waiting 90 days; 2 orphan(s) waiting 45 days or more",
        "  ! orphan opinion o3 (case c1, opinions.csv): waiting 90 days since 2026-04-01",
        "  ! orphan opinion o1 (case c1, opinions.csv): waiting 60 days since 2026-05-01",
    ]
    build_data_quality_waiting(conn, MartContext(settings, "r1", dt.date(2026, 6, 30)))
    assert conn.execute("SELECT * FROM marts.data_quality_waiting").fetchall() == [
        ("opinions", 3, 90, 2, 45, dt.date(2026, 6, 30))
    ]


def test_no_waiting_opinion_is_said_and_the_mart_holds_a_zero_row(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(tmp_path, "opinions.csv", [OPINION_HEADER, opinion(1)])
    run(conn, tmp_path)
    settings = load_settings(env={})
    assert waiting_section(conn, "r1", settings) == ["Waiting opinions (case not arrived yet): none"]
    build_data_quality_waiting(conn, MartContext(settings, "r1", dt.date(2026, 6, 30)))
    assert conn.execute("SELECT * FROM marts.data_quality_waiting").fetchall() == [
        ("opinions", 0, None, 0, settings.orphan_after_days, dt.date(2026, 6, 30))
    ]


@pytest.mark.parametrize("value", ["0", "-3", "3651", "soon"])
def test_orphan_after_days_out_of_range_is_refused_in_one_line(value: str) -> None:
    from pipelines.lib.settings import SettingsError

    with pytest.raises(SettingsError, match=f"SECONDLOOK_ORPHAN_AFTER_DAYS={value} is not allowed"):
        load_settings(env={"SECONDLOOK_ORPHAN_AFTER_DAYS": value})
