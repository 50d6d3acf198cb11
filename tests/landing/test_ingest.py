"""Ingest on adversarial landing folders: nothing lost, nothing leaked, nothing guessed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.lib.landing.ingest import ingest

TODAY = dt.date(2026, 6, 30)
CASE_HEADER = (
    "case_id,patient_key,specialty,referral_date,age_band,sex,region,payer_type,plan_id,"
    "diagnosis_code,initial_procedure_code,urgency"
)
OPINION_HEADER = (
    "opinion_id,case_id,reviewer_id,opinion_date,recommendation,recommended_procedure_code,"
    "diagnosis_changed,summary_text,updated_at"
)


def case_row(
    case_id: str, specialty: str = "spine", referral: str = "2026-01-05", code: str = "22612"
) -> str:
    return f"{case_id},p-{case_id},{specialty},{referral},50-59,F,CA,commercial,pl1,M51.16,{code},elective"


def write(folder: Path, name: str, lines: list[str], newline: str = "\n", bom: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    text = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def run(conn: duckdb.DuckDBPyConnection, folder: Path, run_id: str = "r1"):
    return ingest(conn, folder, run_id=run_id, today=TODAY)


def audit(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    rows = conn.execute(
        "SELECT file_name, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate "
        "FROM audit.ingest_files ORDER BY ingested_at"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def reasons(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, int, list[str]]]:
    return conn.execute(
        "SELECT file_name, row_number, reasons FROM quarantine.rows ORDER BY file_name, row_number"
    ).fetchall()


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_bom_crlf_quoted_commas_and_mixed_case_enums_load(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "cases_2026-01.csv",
        [
            CASE_HEADER + ",notes",
            'c1,p1, SPINE ,2026-01-05,50-59,f,ca,Commercial,pl1,m51.16,22612,ELECTIVE,"pain, left leg"',
        ],
        newline="\r\n",
        bom=True,
    )
    report = run(conn, tmp_path)
    assert audit(conn)["cases_2026-01.csv"] == ("loaded", 1, 1, 0, 0)
    assert report.files[0].ignored_columns == ["notes"]
    assert conn.execute(
        "SELECT specialty, sex, region, payer_type, diagnosis_code, urgency FROM staging.cases"
    ).fetchall() == [("spine", "F", "CA", "commercial", "M51.16", "elective")]


def test_identifier_columns_reject_the_whole_file(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER + ",Patient Name,DOB", case_row("c1") + ",Jane Roe,1960-01-01"])
    report = run(conn, tmp_path)
    res = report.files[0]
    assert res.status == "rejected"
    assert "patient name" in res.error.lower() and "dob" in res.error.lower()
    assert conn.execute("SELECT count(*) FROM staging.cases").fetchall() == [(0,)]
    assert conn.execute("SELECT count(*) FROM quarantine.rows").fetchall() == [(0,)]  # nothing of it stored


def test_full_zip_column_is_an_identifier_but_zip3_region_is_not(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases_a.csv", [CASE_HEADER + ",zip_code", case_row("c1") + ",10027"])
    write(tmp_path, "cases_b.csv", [CASE_HEADER, case_row("c2").replace(",CA,", ",100,")])
    run(conn, tmp_path)
    assert audit(conn)["cases_a.csv"][0] == "rejected"
    assert audit(conn)["cases_b.csv"] == ("loaded", 1, 1, 0, 0)


def test_malformed_file_is_recorded_and_the_run_goes_on(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases_bad.csv", [CASE_HEADER, case_row("c1"), "c2,p2,spine"])
    write(tmp_path, "cases_good.csv", [CASE_HEADER, case_row("c3")])
    (tmp_path / "opinions.parquet").write_bytes(b"not a parquet file")
    run(conn, tmp_path)
    a = audit(conn)
    assert a["cases_bad.csv"][0] == "unparseable"
    assert a["opinions.parquet"][0] == "unparseable"
    assert a["cases_good.csv"] == ("loaded", 1, 1, 0, 0)
    err = conn.execute("SELECT error FROM audit.ingest_files WHERE file_name = 'cases_bad.csv'").fetchall()[
        0
    ][0]
    assert "Line: 3" in err or "line 3" in err.lower()


def test_header_only_and_unknown_record_type(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(tmp_path, "cases_empty.csv", [CASE_HEADER])
    write(tmp_path, "claims.csv", ["a,b", "1,2"])
    run(conn, tmp_path)
    a = audit(conn)
    assert a["cases_empty.csv"] == ("empty", 0, 0, 0, 0)
    assert a["claims.csv"][0] == "rejected"


def test_quarantine_keeps_the_raw_row_and_names_field_and_rule(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "cases.csv",
        [
            CASE_HEADER,
            case_row("c1"),
            case_row("c2", specialty="Dermatology"),
            case_row("c3", referral="2026-07-01"),
        ],
    )
    run(conn, tmp_path)
    assert reasons(conn) == [
        ("cases.csv", 2, ["specialty:invalid_value"]),
        ("cases.csv", 3, ["referral_date:future_date"]),
    ]
    raw = json.loads(conn.execute("SELECT record FROM quarantine.rows WHERE row_number = 2").fetchall()[0][0])
    assert raw["specialty"] == "Dermatology" and raw["case_id"] == "c2"
    assert audit(conn)["cases.csv"] == ("partial", 3, 1, 2, 0)


def test_exact_duplicates_are_counted_and_conflicting_keys_quarantined(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1"), case_row("c1"), case_row("c1", code="63047")])
    run(conn, tmp_path)
    assert audit(conn)["cases.csv"] == ("partial", 3, 1, 1, 1)
    assert reasons(conn) == [("cases.csv", 3, ["case_id:not_unique"])]


def test_same_bytes_under_another_name_load_nothing_new(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    first = write(tmp_path / "a", "cases_oct.csv", [CASE_HEADER, case_row("c1"), case_row("c2")])
    run(conn, tmp_path / "a")
    shutil.copy(first, tmp_path / "a" / "cases_oct_resent.csv")
    run(conn, tmp_path / "a", run_id="r2")
    rows = conn.execute(
        "SELECT file_name, status, rows_read, rows_duplicate FROM audit.ingest_files "
        "WHERE run_id = 'r2' ORDER BY file_name"
    ).fetchall()
    assert rows == [
        ("cases_oct.csv", "duplicate_file", 2, 2),
        ("cases_oct_resent.csv", "duplicate_file", 2, 2),
    ]
    assert conn.execute("SELECT count(*) FROM staging.cases").fetchall() == [(2,)]


def test_opinion_before_referral_is_quarantined(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1", referral="2026-03-01")])
    write(tmp_path, "opinions.csv", [OPINION_HEADER, "o1,c1,r1,2026-02-01,defer,,,,"])
    run(conn, tmp_path)
    assert reasons(conn) == [("opinions.csv", 1, ["opinion_date:before_referral"])]


def test_orphan_opinion_waits_then_matches_its_case(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(
        tmp_path / "day1",
        "opinions.csv",
        [OPINION_HEADER, "o1,c1,r1,2026-02-01,conservative,,,,", "o2,c2,r1,2026-01-01,defer,,,,"],
    )
    run(conn, tmp_path / "day1")
    assert conn.execute("SELECT count(*) FROM staging.opinions_waiting").fetchall() == [(2,)]
    assert conn.execute("SELECT count(*) FROM staging.opinions").fetchall() == [(0,)]
    write(
        tmp_path / "day2", "cases.csv", [CASE_HEADER, case_row("c1"), case_row("c2", referral="2026-01-20")]
    )
    report = run(conn, tmp_path / "day2", run_id="r2")
    assert (report.matched_waiting, report.quarantined_waiting, report.waiting) == (1, 1, 0)
    assert conn.execute("SELECT opinion_id FROM staging.opinions").fetchall() == [("o1",)]
    # o2 precedes its case's referral: quarantined now, and its file's audit row says so
    assert audit(conn)["opinions.csv"] == ("partial", 2, 1, 1, 0)
    assert reasons(conn) == [("opinions.csv", 2, ["opinion_date:before_referral"])]


def test_correction_with_later_updated_at_supersedes(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(tmp_path / "d1", "cases.csv", [CASE_HEADER, case_row("c1")])
    write(
        tmp_path / "d1",
        "opinions.csv",
        [OPINION_HEADER, "o1,c1,r1,2026-02-01,proceed,,,,2026-02-01T10:00:00"],
    )
    run(conn, tmp_path / "d1")
    write(
        tmp_path / "d2",
        "opinions_fix.csv",
        [OPINION_HEADER, "o1,c1,r1,2026-02-01,conservative,,,,2026-02-03T08:00:00"],
    )
    run(conn, tmp_path / "d2", run_id="r2")
    assert conn.execute("SELECT opinion_id, recommendation FROM staging.opinions").fetchall() == [
        ("o1", "conservative")
    ]
    assert conn.execute("SELECT count(*) FROM staging.opinion_versions").fetchall() == [(2,)]


def test_parquet_and_jsonl_inputs_follow_the_same_rules(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    cases = pl.DataFrame(
        {
            "case_id": ["c1", "c2"],
            "patient_key": ["p1", "p2"],
            "specialty": ["Cardiology", "podiatry"],
            "referral_date": [dt.date(2026, 1, 5), dt.date(2026, 1, 6)],
            "initial_procedure_code": ["92928", "92928"],
        }
    )
    cases.write_parquet(tmp_path / "cases.parquet")
    pl.DataFrame(
        {
            "opinion_id": ["o1"],
            "case_id": ["c1"],
            "reviewer_id": ["r1"],
            "opinion_date": ["2026-02-01"],
            "recommendation": ["DEFER"],
            "diagnosis_changed": [True],
        }
    ).write_ndjson(tmp_path / "opinions.jsonl")
    run(conn, tmp_path)
    a = audit(conn)
    assert a["cases.parquet"] == ("partial", 2, 1, 1, 0)
    assert a["opinions.jsonl"] == ("loaded", 1, 1, 0, 0)
    assert conn.execute("SELECT recommendation, diagnosis_changed FROM staging.opinions").fetchall() == [
        ("defer", True)
    ]


def test_payer_prices_later_file_overrides_per_code(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(tmp_path / "d1", "procedure_costs.csv", ["procedure_code,cost_usd", "22612,30000", "27447,15000"])
    run(conn, tmp_path / "d1")
    write(tmp_path / "d2", "procedure_costs_2026.csv", ["procedure_code,cost_usd", "22612,32000", "29881,-5"])
    run(conn, tmp_path / "d2", run_id="r2")
    assert conn.execute(
        "SELECT procedure_code, cost_usd FROM staging.procedure_costs ORDER BY 1"
    ).fetchall() == [("22612", 32000.0), ("27447", 15000.0)]
    assert reasons(conn) == [("procedure_costs_2026.csv", 2, ["cost_usd:negative"])]


def test_accounting_identity_holds_for_every_file(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(
        tmp_path,
        "cases.csv",
        [CASE_HEADER, case_row("c1"), case_row("c1"), case_row("c2", specialty="x"), case_row("c3")],
    )
    write(
        tmp_path,
        "opinions.csv",
        [
            OPINION_HEADER,
            "o1,c1,r1,2026-02-01,conservative,,,,",
            "o1,c1,r1,2026-02-01,conservative,,,,",
            "o2,c3,r1,2026-02-01,,,,,",
            "o3,c9,r1,2026-02-01,defer,,,,",
        ],
    )
    run(conn, tmp_path)
    bad = conn.execute(
        "SELECT file_name FROM audit.ingest_files "
        "WHERE rows_read <> rows_loaded + rows_quarantined + rows_duplicate"
    ).fetchall()
    assert bad == []
    assert audit(conn)["opinions.csv"] == ("partial", 4, 2, 1, 1)


# --- second review: each test below pins a defect found and mended ---------------------------


def test_glob_characters_in_a_file_name_read_only_that_file(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases_a.csv", [CASE_HEADER, case_row("c1")])
    write(tmp_path, "cases_*.csv", [CASE_HEADER, case_row("c7")])
    write(tmp_path, "cases_[a].csv", [CASE_HEADER, case_row("c9")])
    run(conn, tmp_path)
    a = audit(conn)
    assert [a[n] for n in ("cases_a.csv", "cases_*.csv", "cases_[a].csv")] == [("loaded", 1, 1, 0, 0)] * 3
    assert conn.execute("SELECT source_file, case_id FROM staging.cases ORDER BY 2").fetchall() == [
        ("cases_a.csv", "c1"),
        ("cases_*.csv", "c7"),
        ("cases_[a].csv", "c9"),
    ]


def test_a_malformed_line_is_not_echoed_into_the_error(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path, "cases.csv", [CASE_HEADER, case_row("c1"), "c2,p2,spine SSN 123-45-6789 jane@example.org"]
    )
    write(tmp_path, "opinions.jsonl", ['{"opinion_id": "o1", "opinion_id": "call 212-555-0199"}'])
    report = run(conn, tmp_path)
    errors = {f.file_name: f.error for f in report.files}
    assert all("\n" not in e for e in errors.values())
    assert (
        "Line: 3" in errors["cases.csv"] and "Expected Number of Columns: 12 Found: 3" in errors["cases.csv"]
    )
    assert "duplicate key" in errors["opinions.jsonl"]
    for text in ("123-45-6789", "jane@example.org", "212-555-0199", "LINE 1", "Possible fixes"):
        assert all(text not in e for e in errors.values())


def test_a_rowid_column_in_the_file_does_not_confuse_row_numbers(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [
        {
            "rowid": 1,
            "case_id": f"c{i}",
            "patient_key": "p",
            "specialty": "spine" if i else "dermatology",
            "referral_date": "2026-01-05",
            "initial_procedure_code": "22612",
        }
        for i in range(3)
    ]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run(conn, tmp_path)
    assert audit(conn)["cases.jsonl"] == ("partial", 3, 2, 1, 0)
    assert reasons(conn) == [("cases.jsonl", 1, ["specialty:invalid_value"])]
    assert conn.execute("SELECT case_id, source_row FROM staging.cases ORDER BY 1").fetchall() == [
        ("c1", 2),
        ("c2", 3),
    ]


def test_json_lines_with_nested_values_quarantine_them_and_keep_strings_unquoted(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    base = {
        "patient_key": "p",
        "specialty": "spine",
        "referral_date": "2026-01-05",
        "initial_procedure_code": "22612",
    }
    rows = [
        {**base, "case_id": "c1"},
        {**base, "case_id": {"id": "c2"}},
        {**base, "case_id": "c3", "region": ["CA"]},
    ]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run(conn, tmp_path)
    assert conn.execute("SELECT case_id FROM staging.cases").fetchall() == [("c1",)]
    assert reasons(conn) == [
        ("cases.jsonl", 2, ["case_id:invalid_type"]),
        ("cases.jsonl", 3, ["region:pattern", "region:invalid_type"]),
    ]
    assert audit(conn)["cases.jsonl"] == ("partial", 3, 1, 2, 0)


def test_identifiers_nested_inside_an_object_reject_the_file(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    row = {
        "case_id": "c1",
        "patient_key": "p",
        "specialty": "dermatology",
        "referral_date": "2026-01-05",
        "initial_procedure_code": "22612",
        "patient": {"name": "Jane Roe", "contact": [{"ssn": "123-45-6789"}]},
    }
    (tmp_path / "cases.jsonl").write_text(json.dumps(row) + "\n")
    report = run(conn, tmp_path)
    assert report.files[0].status == "rejected"
    assert "patient.name" in report.files[0].error and "patient.contact.ssn" in report.files[0].error
    assert conn.execute("SELECT count(*) FROM quarantine.rows").fetchall() == [(0,)]


def test_parquet_with_a_repeated_column_name_is_refused_not_half_read(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["case_id", "case_id", "patient_key", "specialty", "referral_date", "initial_procedure_code"]
    values = ["c1", "c2", "p1", "spine", "2026-01-05", "22612"]
    pq.write_table(pa.table([pa.array([v]) for v in values], names=names), tmp_path / "cases.parquet")
    report = run(conn, tmp_path)
    assert (report.files[0].status, report.files[0].error) == (
        "unparseable",
        "repeated column name(s) case_id",
    )
    assert conn.execute("SELECT count(*) FROM staging.cases").fetchall() == [(0,)]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n"])
@pytest.mark.parametrize("name", ["cases.csv", "opinions.jsonl"])
def test_an_empty_file_is_recorded_as_empty(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    report = run(conn, tmp_path)
    assert (report.files[0].status, report.files[0].rows_read) == ("empty", 0)
    assert report.files[0].error == "empty file: no header and no rows"


def test_gzipped_csv_is_read(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    import gzip

    with gzip.open(tmp_path / "cases_2026.csv.gz", "wt") as fh:
        fh.write(CASE_HEADER + "\n" + case_row("c1") + "\n")
    run(conn, tmp_path)
    assert audit(conn)["cases_2026.csv.gz"] == ("loaded", 1, 1, 0, 0)


def test_a_file_that_cannot_be_read_is_recorded_and_the_run_goes_on(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases_long.csv", ["x" * 200_000])  # one header field beyond Python's csv field limit
    write(tmp_path, "cases_good.csv", [CASE_HEADER, case_row("c1")])
    report = ingest(
        conn,
        tmp_path,
        run_id="r1",
        today=TODAY,
        extra_files=[(tmp_path / "procedure_costs_gone.csv", "procedure_costs")],
    )
    status = {f.file_name: (f.status, f.rows_read) for f in report.files}
    assert status == {
        "cases_long.csv": ("unparseable", 0),
        "cases_good.csv": ("loaded", 1),
        "procedure_costs_gone.csv": ("unparseable", 0),
    }
    gone = next(f for f in report.files if f.file_name == "procedure_costs_gone.csv")
    assert gone.error.startswith("cannot read the file:")


def test_a_file_that_fails_half_way_leaves_nothing_behind(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.lib.landing.ingest as ingest_module

    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1"), case_row("c2", specialty="dermatology")])

    def disk_full(*args: object, **kwargs: object) -> int:
        raise duckdb.IOException("could not write: no space left on device")

    with monkeypatch.context() as m:
        m.setattr(ingest_module, "_insert", disk_full)
        with pytest.raises(duckdb.IOException):
            run(conn, tmp_path)
    run(conn, tmp_path, run_id="r2")  # the same file again, once the disk has room
    assert audit(conn)["cases.csv"] == ("partial", 2, 1, 1, 0)
    assert reasons(conn) == [("cases.csv", 2, ["specialty:invalid_value"])]


def test_quarantine_keeps_the_row_but_not_the_identifier(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(
        tmp_path,
        "opinions.csv",
        [
            OPINION_HEADER,
            'o1,c1,r1,2026-02-01,,,,"Patient (SSN 123-45-6789, jane@example.org) prefers PT",',
            'o2,c1,r1,2026-02-01,bogus,,,"call 212-555-0199 after the MRI",',
        ],
    )
    run(conn, tmp_path)
    records = [
        json.loads(r[0])
        for r in conn.execute("SELECT record FROM quarantine.rows ORDER BY row_number").fetchall()
    ]
    assert records[0]["summary_text"] == "Patient (SSN [redacted ssn], [redacted email]) prefers PT"
    assert records[1]["summary_text"] == "call [redacted phone] after the MRI"
    assert records[1]["recommendation"] == "bogus"  # the evidence of the bad row stays
    assert reasons(conn) == [
        ("opinions.csv", 1, ["summary_text:identifier_ssn", "summary_text:identifier_email"]),
        ("opinions.csv", 2, ["recommendation:invalid_value", "summary_text:identifier_phone"]),
    ]


def test_run_ids_and_file_names_are_bound_as_values_not_spliced_into_sql(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    run_id = "r'); DROP TABLE staging.cases; --"
    write(tmp_path, "cases_o'brien.csv", [CASE_HEADER, case_row("c1"), case_row("c2", specialty="nope")])
    run(conn, tmp_path, run_id=run_id)
    assert conn.execute("SELECT DISTINCT run_id, source_file FROM staging.cases").fetchall() == [
        (run_id, "cases_o'brien.csv")
    ]
    assert conn.execute("SELECT DISTINCT run_id, file_name FROM quarantine.rows").fetchall() == [
        (run_id, "cases_o'brien.csv")
    ]


def test_enrollment_stages_quarantines_and_audits_like_every_input(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "enrollment_2026.csv",
        [
            "patient_key,covered_from,covered_to",
            "P1,2024-01-01,2025-12-31",
            "P2,2024-06-01,",  # open-ended
            "P2,2024-06-01,",  # the same period again: a duplicate
            "P3,2025-05-01,2025-04-30",  # ends before it starts
            ",2024-01-01,2024-12-31",  # no patient
            "P4,soon,2024-12-31",
        ],
    )
    run(conn, tmp_path)
    assert audit(conn)["enrollment_2026.csv"] == ("partial", 6, 2, 3, 1)
    assert conn.execute(
        "SELECT patient_key, covered_from, covered_to FROM staging.enrollment ORDER BY 1"
    ).fetchall() == [("P1", dt.date(2024, 1, 1), dt.date(2025, 12, 31)), ("P2", dt.date(2024, 6, 1), None)]
    assert reasons(conn) == [
        ("enrollment_2026.csv", 4, ["covered_to:before_covered_from"]),
        ("enrollment_2026.csv", 5, ["patient_key:required"]),
        ("enrollment_2026.csv", 6, ["covered_from:invalid_type"]),
    ]


def test_the_enrollment_contract_compiles_to_a_gx_pair_check() -> None:
    from pipelines.lib.landing.contracts import load_contracts
    from pipelines.lib.landing.gx_adapter import expectations_for

    found = {
        e["meta"]["rule"]: e for e in expectations_for(load_contracts()["enrollment"], dt.date(2026, 1, 1))
    }
    pair = found["covered_to:before_covered_from"]
    assert pair["type"] == "expect_column_pair_values_a_to_be_greater_than_b"
    assert (pair["kwargs"]["column_A"], pair["kwargs"]["column_B"]) == ("covered_to", "covered_from")
