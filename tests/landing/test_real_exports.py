"""Files as real tools export them: each loads, or is refused with one line saying what to change.

Excel (US and European "CSV", "CSV UTF-8" and "Unicode Text"), LibreOffice, pandas and Polars
(Parquet with float codes and timestamps), JSON Lines with nulls. Each fixture is written here the
way its tool writes it (encoding, byte-order mark, delimiter, line ends, number and date format).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.landing.ingest import FileResult, IngestReport, ingest

TODAY = dt.date(2026, 6, 30)
CASES = [
    "case_id",
    "patient_key",
    "specialty",
    "referral_date",
    "age_band",
    "sex",
    "region",
    "payer_type",
    "plan_id",
    "diagnosis_code",
    "initial_procedure_code",
    "urgency",
]
FOLLOW_UPS = ["case_id", "procedure_code", "service_date", "allowed_amount"]


def case(case_id: str, referral: str, code: str = "22612") -> list[str]:
    return [
        case_id,
        f"p-{case_id}",
        "spine",
        referral,
        "50-59",
        "F",
        "CA",
        "commercial",
        "pl1",
        "M51.16",
        code,
        "elective",
    ]


def csv_bytes(
    rows: list[list[str]],
    *,
    sep: str = ",",
    newline: str = "\r\n",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    text = newline.join(sep.join(r) for r in rows) + newline
    prefix = "\ufeff" if bom and not encoding.startswith("utf-16") else ""
    return (prefix + text).encode(encoding)


def run(conn: duckdb.DuckDBPyConnection, folder: Path, date_format: str = "auto") -> IngestReport:
    return ingest(conn, folder, run_id="r1", today=TODAY, date_format=date_format)


def only(report: IngestReport, name: str) -> FileResult:
    return next(f for f in report.files if f.file_name == name)


def how_read(conn: duckdb.DuckDBPyConnection, name: str) -> tuple:
    return conn.execute(
        "SELECT status, encoding, delimiter, quote, decimal_separator, date_format, normalised "
        "FROM audit.ingest_files WHERE file_name = ?",
        [name],
    ).fetchall()[0]


def staged(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_excel_european_csv_semicolons_bom_crlf_day_first_dates_and_decimal_commas_load(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Excel "CSV UTF-8" on a German or French Windows: `;`, a BOM, CRLF, 25/03/2026, 1.234,50."""
    rows = [CASES, case("c1", "25/03/2026"), case("c2", "03/04/2026")]
    (tmp_path / "cases_eu.csv").write_bytes(csv_bytes(rows, sep=";", bom=True))
    follow = [FOLLOW_UPS, ["c1", "22612", "15/05/2026", "1.234,50"], ["c2", "22612", "02/05/2026", "980"]]
    (tmp_path / "follow_ups_eu.csv").write_bytes(csv_bytes(follow, sep=";", bom=True))
    run(conn, tmp_path)
    assert how_read(conn, "cases_eu.csv") == (
        "loaded",
        "UTF-8 with BOM",
        ";",
        '"',
        ".",
        "dd/mm/yyyy",
        ["referral_date: 2 date(s) read as dd/mm/yyyy (a day above 12 decides)"],
    )
    assert staged(conn, "SELECT case_id, referral_date FROM staging.cases ORDER BY 1") == [
        ("c1", dt.date(2026, 3, 25)),
        ("c2", dt.date(2026, 4, 3)),
    ]
    assert how_read(conn, "follow_ups_eu.csv")[4:] == (
        ",",
        "dd/mm/yyyy",
        [
            "service_date: 2 date(s) read as dd/mm/yyyy (a day above 12 decides)",
            "allowed_amount: decimal comma read (1 value(s), 12,50 -> 12.50)",
        ],
    )
    assert staged(
        conn, "SELECT case_id, service_date, allowed_amount FROM staging.follow_ups ORDER BY 1"
    ) == [
        ("c1", dt.date(2026, 5, 15), 1234.5),
        ("c2", dt.date(2026, 5, 2), 980.0),
    ]


def test_excel_us_csv_in_windows_1252_with_month_first_dates_loads(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Excel "CSV (Comma delimited)" on a US Windows: Windows-1252, no BOM, CRLF, 3/25/2026."""
    opinions = [
        ["opinion_id", "case_id", "reviewer_id", "opinion_date", "recommendation", "summary_text"],
        ["o1", "c1", "r1", "3/27/2026", "conservative", '"Physio first, café-style pacing; fee €0"'],
    ]
    (tmp_path / "cases_us.csv").write_bytes(csv_bytes([CASES, case("c1", "3/25/2026")], encoding="cp1252"))
    (tmp_path / "opinions_us.csv").write_bytes(csv_bytes(opinions, encoding="cp1252"))
    run(conn, tmp_path)
    assert how_read(conn, "cases_us.csv")[:6] == ("loaded", "UTF-8", ",", '"', ".", "mm/dd/yyyy")
    assert how_read(conn, "opinions_us.csv")[:6] == ("loaded", "Windows-1252", ",", '"', ".", "mm/dd/yyyy")
    assert staged(conn, "SELECT opinion_date, summary_text FROM staging.opinions") == [
        (dt.date(2026, 3, 27), "Physio first, café-style pacing; fee €0")
    ]


def test_excel_unicode_text_utf16_tab_delimited_loads(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Excel "Unicode Text (*.txt)": UTF-16LE with a BOM, tab-delimited, CRLF."""
    rows = [CASES, case("c1", "2026-01-05"), case("c2", "2026-01-06")]
    (tmp_path / "cases_unicode.txt").write_bytes(csv_bytes(rows, sep="\t", encoding="utf-16"))
    run(conn, tmp_path)
    assert how_read(conn, "cases_unicode.txt")[:6] == (
        "loaded",
        "UTF-16LE with BOM",
        "\t",
        '"',
        ".",
        "yyyy-mm-dd",
    )
    assert staged(conn, "SELECT count(*) FROM staging.cases") == [(2,)]


def test_libreoffice_csv_with_every_text_field_quoted_loads(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """LibreOffice Calc with "Quote all text cells": UTF-8, LF, every text field in quotes."""
    quoted = [[f'"{v}"' for v in CASES], [f'"{v}"' for v in case("c1", "2026-01-05")]]
    (tmp_path / "cases_lo.csv").write_bytes(csv_bytes(quoted, newline="\n"))
    run(conn, tmp_path)
    assert how_read(conn, "cases_lo.csv")[:6] == ("loaded", "UTF-8", ",", '"', ".", "yyyy-mm-dd")


def test_dates_no_day_above_12_decides_are_refused_naming_the_setting(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [CASES, case("c1", "03/04/2026"), case("c2", "05/06/2026")]
    (tmp_path / "cases.csv").write_bytes(csv_bytes(rows))
    report = run(conn, tmp_path)
    assert only(report, "cases.csv").message() == (
        "cases.csv: rejected: column referral_date: dates such as 03/04/2026 and 05/06/2026 read as "
        "dd/mm/yyyy and as mm/dd/yyyy alike (no day above 12 in the file): set date_format = "
        '"dd/mm/yyyy" or "mm/dd/yyyy" in settings.toml (or SECONDLOOK_DATE_FORMAT), or date_formats = '
        '"<file pattern>=dd/mm/yyyy" for this file alone, or write the dates as ISO 8601 (yyyy-mm-dd); '
        "nothing of the file loaded"
    )
    assert staged(conn, "SELECT count(*) FROM staging.cases") == [(0,)]


def test_the_date_format_setting_resolves_an_ambiguous_file(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [CASES, case("c1", "03/04/2026"), case("c2", "05/06/2026")]
    (tmp_path / "cases.csv").write_bytes(csv_bytes(rows))
    run(conn, tmp_path, date_format="mm/dd/yyyy")
    assert how_read(conn, "cases.csv")[5:] == (
        "mm/dd/yyyy",
        ["referral_date: 2 date(s) read as mm/dd/yyyy (setting date_format)"],
    )
    assert staged(conn, "SELECT referral_date FROM staging.cases ORDER BY 1") == [
        (dt.date(2026, 3, 4),),
        (dt.date(2026, 5, 6),),
    ]


def test_dates_in_both_orders_are_refused(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = [CASES, case("c1", "25/03/2026"), case("c2", "03/25/2026")]
    (tmp_path / "cases.csv").write_bytes(csv_bytes(rows))
    res = only(run(conn, tmp_path), "cases.csv")
    assert (res.status, res.error) == (
        "rejected",
        "column referral_date: dates in both orders (25/03/2026 has the day first, 03/25/2026 the month "
        "first): write the dates as ISO 8601 (yyyy-mm-dd); nothing of the file loaded",
    )


def test_a_header_that_is_one_delimited_field_says_the_delimiter_is_the_problem(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Rows pasted into one cell: Excel writes each line as one quoted field holding the `;`s."""
    rows = [['"' + ";".join(CASES) + '"'], ['"' + ";".join(case("c1", "2026-01-05")) + '"']]
    (tmp_path / "cases.csv").write_bytes(csv_bytes(rows))
    res = only(run(conn, tmp_path), "cases.csv")
    assert res.status == "quarantined"
    assert res.error == (
        "missing required column(s) case_id, patient_key, specialty, referral_date, initial_procedure_code "
        "(the header is one field that holds ';': the delimiter was not recognised; save the file with ';' "
        "or a comma between every field, the header included)"
    )


def test_a_ragged_row_still_reads_with_the_headers_delimiter(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """DuckDB's sniffer reads a file with one short row as a single `|` column; the header decides."""
    rows = [CASES, case("c1", "2026-01-05"), ["c2", "p2", "spine"]]
    (tmp_path / "cases.csv").write_bytes(csv_bytes(rows, newline="\n"))
    res = only(run(conn, tmp_path), "cases.csv")
    assert (res.status, res.delimiter) == ("unparseable", ",")
    assert "Line: 3" in (res.error or "")


def test_pandas_parquet_with_float_codes_and_timestamps_loads(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """pandas turns a code column with a gap into float64 (64483.0) and dates into datetime64."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "case_id": ["c1", "c2", "c3"],
            "patient_key": ["p1", "p2", "p3"],
            "specialty": ["spine"] * 3,
            "referral_date": pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-07"]),
            "initial_procedure_code": [64483.0, 22612.0, 63030.0],
            "diagnosis_code": ["M51.16", None, "M48.06"],
        }
    )
    frame.to_parquet(tmp_path / "cases_pandas.parquet")
    followups = pd.DataFrame(
        {
            "case_id": ["c1", "c2"],
            "procedure_code": [64483.0, 22612.0],
            "service_date": pd.to_datetime(["2026-03-01 00:00", "2026-03-02 00:00"], utc=True),
            "allowed_amount": [1200.5, float("nan")],
        }
    )
    followups.to_parquet(tmp_path / "follow_ups_pandas.parquet")
    run(conn, tmp_path)
    assert how_read(conn, "cases_pandas.parquet") == (
        "loaded",
        None,
        None,
        None,
        None,
        "yyyy-mm-dd",
        ["initial_procedure_code: 3 number(s) read as code text (64483.0 -> 64483)"],
    )
    assert staged(
        conn, "SELECT case_id, referral_date, initial_procedure_code FROM staging.cases ORDER BY 1"
    ) == [
        ("c1", dt.date(2026, 1, 5), "64483"),
        ("c2", dt.date(2026, 1, 6), "22612"),
        ("c3", dt.date(2026, 1, 7), "63030"),
    ]
    assert staged(
        conn,
        "SELECT case_id, procedure_code, service_date, allowed_amount FROM staging.follow_ups ORDER BY 1",
    ) == [
        ("c1", "64483", dt.date(2026, 3, 1), 1200.5),
        ("c2", "22612", dt.date(2026, 3, 2), None),
    ]


def test_polars_parquet_with_float_codes_and_dates_loads(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    import polars as pl

    pl.DataFrame(
        {
            "case_id": ["c1", "c2"],
            "patient_key": ["p1", "p2"],
            "specialty": ["spine", "urology"],
            "referral_date": [dt.date(2026, 1, 5), dt.date(2026, 2, 1)],
            "initial_procedure_code": [22612.0, 52601.0],
        }
    ).write_parquet(tmp_path / "cases_polars.parquet")
    run(conn, tmp_path)
    assert how_read(conn, "cases_polars.parquet")[0] == "loaded"
    assert staged(conn, "SELECT initial_procedure_code FROM staging.cases ORDER BY 1") == [
        ("22612",),
        ("52601",),
    ]


def test_json_lines_from_pandas_with_nulls_loads(conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """pandas `to_json(orient="records", lines=True, date_format="iso")`: nulls as null, float codes."""
    import pandas as pd

    pd.DataFrame(
        {
            "case_id": ["c1", "c2"],
            "patient_key": ["p1", "p2"],
            "specialty": ["spine", "spine"],
            "referral_date": pd.to_datetime(["2026-01-05", "2026-01-06"]),
            "age_band": ["50-59", None],
            "initial_procedure_code": [22612.0, 63030.0],
            "urgency": [None, "urgent"],
        }
    ).to_json(tmp_path / "cases_pandas.jsonl", orient="records", lines=True, date_format="iso")
    run(conn, tmp_path)
    assert how_read(conn, "cases_pandas.jsonl")[0] == "loaded"
    assert staged(
        conn,
        "SELECT case_id, referral_date, age_band, initial_procedure_code, urgency FROM staging.cases ORDER BY 1",
    ) == [
        ("c1", dt.date(2026, 1, 5), "50-59", "22612", None),
        ("c2", dt.date(2026, 1, 6), None, "63030", "urgent"),
    ]


def test_a_decimal_code_that_is_not_whole_stays_a_pattern_error(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Only an integer followed by `.0` is a number standing for a code; 6448.3 is not one."""
    (tmp_path / "cases.csv").write_bytes(csv_bytes([CASES, case("c1", "2026-01-05", code="6448.3")]))
    run(conn, tmp_path)
    assert staged(conn, "SELECT reasons FROM quarantine.rows") == [(["initial_procedure_code:pattern"],)]


def test_a_per_file_date_format_resolves_one_file_and_leaves_the_others_to_the_landing_setting(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "cases_eu.csv").write_bytes(csv_bytes([CASES, case("c1", "03/04/2026")]))
    (tmp_path / "cases_us.csv").write_bytes(csv_bytes([CASES, case("c2", "03/04/2026")]))
    ingest(
        conn,
        tmp_path,
        run_id="r1",
        today=TODAY,
        date_format="mm/dd/yyyy",
        date_formats={"CASES_EU*": "dd/mm/yyyy"},
    )
    assert how_read(conn, "cases_eu.csv")[5:] == (
        "dd/mm/yyyy",
        ["referral_date: 1 date(s) read as dd/mm/yyyy (setting date_formats: CASES_EU*)"],
    )
    assert staged(conn, "SELECT case_id, referral_date FROM staging.cases ORDER BY 1") == [
        ("c1", dt.date(2026, 4, 3)),
        ("c2", dt.date(2026, 3, 4)),
    ]


def test_a_date_formats_setting_that_cannot_be_used_is_refused_in_one_line() -> None:
    from pipelines.lib.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as err:
        load_settings(env={"SECONDLOOK_DATE_FORMATS": "cases_eu*=d/m/y"})
    assert str(err.value) == (
        "SECONDLOOK_DATE_FORMATS=cases_eu*=d/m/y is not allowed: 'cases_eu*=d/m/y' is not FILE-PATTERN=ORDER "
        "with ORDER dd/mm/yyyy or mm/dd/yyyy (pairs separated by ';', e.g. cases_eu*=dd/mm/yyyy)"
    )
    with pytest.raises(SettingsError, match="date_format must be one of auto, dd/mm/yyyy, mm/dd/yyyy"):
        load_settings(env={"SECONDLOOK_DATE_FORMAT": "yyyy/dd/mm"})


def test_an_unreadable_windows_1252_file_is_named_as_sent_not_as_its_utf8_copy(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [CASES, case("c1", "2026-01-05"), ["c2", "p2", "Zürich"]]
    (tmp_path / "cases.csv").write_bytes(csv_bytes(rows, encoding="cp1252", newline="\n"))
    res = only(run(conn, tmp_path), "cases.csv")
    assert (res.status, res.encoding) == ("unparseable", "Windows-1252")
    assert "secondlook-" not in (res.error or "") and "Line: 3" in (res.error or "")
