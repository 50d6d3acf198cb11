"""The run summary tells what happened: how files were read, rows this run beside the warehouse,
opinions refused rather than pending, payer prices in force, and the exit status for schedulers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.cli.main import main
from pipelines.cli.summary import (
    LoadCounts,
    how_read_section,
    load_counts,
    payer_prices_section,
    pending_counts,
    rows_section,
)
from pipelines.lib.landing.ingest import ingest

TODAY = dt.date(2026, 6, 30)
CASE_HEADER = (
    "case_id,patient_key,specialty,referral_date,age_band,sex,region,payer_type,plan_id,"
    "diagnosis_code,initial_procedure_code,urgency"
)
OPINION_HEADER = "opinion_id,case_id,reviewer_id,opinion_date,recommendation,recommended_procedure_code"


def case_row(case_id: str) -> str:
    return f"{case_id},p-{case_id},spine,2026-01-05,50-59,F,CA,commercial,pl1,M51.16,22612,elective"


def write(folder: Path, name: str, lines: list[str], sep: str = ",") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(line.replace(",", sep) for line in lines) + "\n")


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_an_unreadable_file_adds_no_rows_to_this_run_beside_the_warehouses(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path / "a", "cases_1.csv", [CASE_HEADER, case_row("c1"), case_row("c2")])
    ingest(conn, tmp_path / "a", run_id="r1", today=TODAY)
    write(tmp_path / "b", "cases_2.csv", [CASE_HEADER, case_row("c3"), case_row("c3"), "c4,,spine"])
    ingest(conn, tmp_path / "b", run_id="r2", today=TODAY)
    assert rows_section(conn, "r2") == [
        "Rows (read = loaded + quarantined + duplicate: identity holds):",
        "                   this run   all runs (warehouse)",
        "  read                    0                      2",
        "  loaded                  0                      2",
        "  quarantined             0                      0",
        "  duplicate               0                      0",
    ]


def test_rows_side_by_side_count_each_run(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write(tmp_path / "a", "cases_1.csv", [CASE_HEADER, case_row("c1"), case_row("c2")])
    ingest(conn, tmp_path / "a", run_id="r1", today=TODAY)
    write(
        tmp_path / "b",
        "cases_2.csv",
        [CASE_HEADER, case_row("c3"), case_row("c3"), case_row("c4").replace("spine", "dermatology")],
    )
    ingest(conn, tmp_path / "b", run_id="r2", today=TODAY)
    assert rows_section(conn, "r2")[2:] == [
        "  read                    3                      5",
        "  loaded                  1                      3",
        "  quarantined             1                      1",
        "  duplicate               1                      1",
    ]


def test_how_files_were_read_names_the_detected_dialect_and_the_ignored_columns(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "cases_eu.csv",
        [CASE_HEADER + ",notes,ward", case_row("c1").replace("2026-01-05", "25/01/2026") + ",x,y"],
        sep=";",
    )
    write(tmp_path, "cases_plain.csv", [CASE_HEADER, case_row("c2")])
    ingest(conn, tmp_path, run_id="r1", today=TODAY)
    assert how_read_section(conn, "r1") == [
        "How files were read:",
        "  cases_eu.csv: read as delimiter ';', dates dd/mm/yyyy; referral_date: 1 date(s) read as dd/mm/yyyy "
        "(a day above 12 decides)",
        "  cases_eu.csv: ignored column(s), not in the contract and never stored: notes, ward",
    ]


def test_a_case_whose_only_opinion_was_quarantined_is_not_pending(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1"), case_row("c2"), case_row("c3")])
    write(
        tmp_path,
        "opinions.csv",
        [OPINION_HEADER, "o1,c1,r1,2026-02-01,proceed,22612", "o2,c2,r1,2026-02-01,proceed,64483.5"],
    )
    ingest(conn, tmp_path, run_id="r1", today=TODAY)
    conn.execute(
        "CREATE SCHEMA IF NOT EXISTS core; CREATE TABLE core.pending_cases AS SELECT c.case_id FROM staging.cases c "
        "ANTI JOIN staging.opinions o USING (case_id)"
    )
    assert pending_counts(conn) == (1, 1)  # c3 has no opinion; c2's only opinion was refused


def test_payer_prices_in_force_name_the_codes_unknown_to_the_catalogue(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "procedure_costs_payer.csv",
        ["procedure_code,cost_usd", "22612,41000", "63030,9000", "99999,15"],
    )
    ingest(conn, tmp_path, run_id="r1", today=TODAY)
    conn.execute(
        "CREATE SCHEMA IF NOT EXISTS reference; CREATE TABLE reference.procedures AS "
        "SELECT * FROM (VALUES ('22612'), ('63030'), ('27447')) t(procedure_code)"
    )
    assert payer_prices_section(conn) == [
        "Payer prices in force: 3 code(s) from procedure_costs_payer.csv; 2 matched the catalogue "
        "(their price replaces its price); 1 unknown to the catalogue: 99999"
    ]


def test_load_counts_list_the_refused_and_unreadable_files_of_the_run(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(tmp_path, "cases_names.csv", [CASE_HEADER + ",patient_name", case_row("c2") + ",Ann"])
    write(tmp_path, "opinions_broken.csv", [OPINION_HEADER, "o1,c1"])
    ingest(conn, tmp_path, run_id="r1", today=TODAY)
    assert load_counts(conn, "r1") == LoadCounts(
        1, 1, ("cases_names.csv (rejected)", "opinions_broken.csv (unparseable)")
    )


@pytest.mark.parametrize("strict", [False, True])
def test_a_run_that_loads_nothing_into_an_empty_warehouse_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], strict: bool
) -> None:
    write(tmp_path / "landing", "cases.csv", [CASE_HEADER + ",patient_name", case_row("c1") + ",Ann"])
    warehouse = tmp_path / "w.duckdb"
    args = ["run", "--landing", str(tmp_path / "landing"), "--warehouse", str(warehouse)]
    code = main([*args, "--site", str(tmp_path / "site"), *(["--strict"] if strict else [])])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3
    assert err == (
        f"secondlook: nothing loaded: no row of {tmp_path / 'landing'} was loaded and the warehouse "
        f"{warehouse} is empty; fix the files named above (! lines) and run again"
    )


def test_strict_makes_a_rejected_file_a_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    write(landing, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(landing, "cases_names.csv", [CASE_HEADER + ",patient_name", case_row("c2") + ",Ann"])
    args = ["run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb")]
    code = main([*args, "--site", str(tmp_path / "site"), "--strict"])
    captured = capsys.readouterr()
    assert code == 4
    assert (
        captured.err.strip().splitlines()[-1]
        == "secondlook: --strict: 1 file(s) refused: cases_names.csv (rejected)"
    )
    assert "Payer prices: none in force" in captured.out
