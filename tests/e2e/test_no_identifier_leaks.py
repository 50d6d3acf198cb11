"""End to end: identifiers planted in a landing folder, for every Safe Harbor category, in column
names and in values, in CSV, Parquet (nested fields) and JSON Lines (nested keys), reach no table
of the warehouse and no file of the built site. `secondlook run` on a small generated programme
(its own dirty rows carry identifiers too) plus the planted files; then every table and every
site file is searched for every planted value."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli.run import run_pipeline
from pipelines.generate import generate
from pipelines.generate.dirty import KEY_IDENTIFIERS

pytestmark = pytest.mark.slow

#: (text planted in a value, the identifying part that must appear nowhere), per Safe Harbor letter.
PLANTED: dict[str, list[tuple[str, str]]] = {
    "A": [("Seen with Mrs Quennell today.", "Quennell"), ("name: Ottoline Brack", "Ottoline")],
    "B": [("Lives near ZIP 04609.", "04609"), ("Home in Bangor, ME 04401.", "04401")],
    "C": [("DOB 07/19/1953 checked.", "07/19/1953"), ("Husband died on 2019-11-23.", "2019-11-23")],
    "D": [("Call 617-555-0198 to book.", "617-555-0198")],
    "E": [("Records by fax 212.555.0176.", "212.555.0176")],
    "F": [("Copy to q.plantagenet@leak.example.org.", "q.plantagenet@leak.example.org")],
    "G": [("SSN 532-18-0946 on the form.", "532-18-0946"), ("Member 532180947 ok.", "532180947")],
    "H": [("Chart MRN: 00772915.", "00772915")],
    "I": [("MBI 4TQ9-AC3-DE45 verified.", "4TQ9-AC3-DE45"), ("member id XJ4471902.", "XJ4471902")],
    "J": [("Card 4111 1111 1111 1111 on file.", "4111 1111 1111 1111"), ("account no 00912234.", "00912234")],
    "K": [("license number D7731204 seen.", "D7731204")],
    "L": [("Drove in, VIN 1HGCM82633A004352.", "1HGCM82633A004352")],
    "M": [
        ("Pacemaker serial number SN-88231.", "SN-88231"),
        ("Device 00:1A:2B:3C:4D:5E paired.", "00:1A:2B:3C:4D:5E"),
    ],
    "N": [("Images at https://portal.leak.example.org/u/8812 now.", "portal.leak.example.org")],
    "O": [("Video call from 192.168.77.45 dropped.", "192.168.77.45")],
    "P": [("fingerprint Rk9PQkFSYmF6cXV4cHJpbnQ stored.", "Rk9PQkFSYmF6cXV4cHJpbnQ")],
    "Q": [
        (
            "Photo data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB attached.",
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB",
        )
    ],
    "R": [("employee id EMP-778812 of the plant.", "EMP-778812")],
}
#: Planted in key fields, each alone in its value.
KEY_PLANTED = {"reviewer_id": "r.quennell@leak.example.org", "case_id_ssn": "532-18-0955"}
#: Columns named after each Safe Harbor category, holding this marker: files refused whole.
COLUMN_VALUE = "ColumnPlantedValue"
COLUMNS = {
    "A": "PatientFullName",
    "B": "HomeAddress",
    "C": "DateOfBirth",
    "D": "PhoneNumber",
    "E": "FaxNumber",
    "F": "EmailAddress",
    "G": "ssn_last4",
    "H": "MedicalRecordNumber",
    "I": "MemberId",
    "J": "AccountNumber",
    "K": "DriversLicense",
    "L": "LicensePlate",
    "M": "DeviceSerial",
    "N": "WebsiteUrl",
    "O": "IPAddress",
    "P": "Fingerprint",
    "Q": "Photo",
    "R": "NationalId",
}
#: The generator's own identifier rows (pipelines/generate/dirty.py), by their identifying part.
GENERATED = [
    "123-45-6789",
    "078-05-1120",
    "jane.doe@example.org",
    "r.smith@mailhost.net",
    "617-555-0142",
    "555-0187",
    "415.555.0123",
    "02139",
    "02118",
    "03/14/1961",
    "March 3, 1958",
    "portal.example.org",
    "192.168.10.45",
    "00482913",
    "1EG4-TE5-MK73",
    "Alvarez",
    *(v for _, _, values in KEY_IDENTIFIERS.values() for v in values),
]


@dataclass(frozen=True)
class Leaks:
    landing: Path
    warehouse: Path
    site: Path
    summary: str


def _opinion_rows(opinions: pl.DataFrame, texts: list[str], prefix: str) -> pl.DataFrame:
    """Copies of real opinion rows under fresh ids, each narrative ending in one planted text."""
    donors = opinions.head(len(texts))
    return donors.with_columns(
        pl.Series("opinion_id", [f"{prefix}{i:05d}" for i in range(len(texts))]),
        (pl.col("summary_text").fill_null("Second opinion given.") + " " + pl.Series(texts)).alias(
            "summary_text"
        ),
    )


def _clean_rows(opinions: pl.DataFrame, n: int, prefix: str) -> pl.DataFrame:
    """Real opinion rows under fresh ids: the planted rows must be a small share of their file,
    or the file is refused whole (which would leak nothing either, and test less)."""
    return opinions.slice(100, n).with_columns(
        pl.Series("opinion_id", [f"{prefix}C{i:05d}" for i in range(n)])
    )


def plant(landing: Path) -> None:
    opinions = pl.read_csv(landing / "opinions.csv", infer_schema=False)
    cases = pl.read_csv(landing / "cases.csv", infer_schema=False)
    texts = [t for examples in PLANTED.values() for t, _ in examples]
    # Values: one file per format, planted rows among clean ones.
    for fmt, prefix in (("csv", "PV"), ("parquet", "PW"), ("jsonl", "PX")):
        keyed = opinions.head(2).with_columns(
            pl.Series("opinion_id", [f"{prefix}K1", f"{prefix}K2"]),
            pl.Series("reviewer_id", [KEY_PLANTED["reviewer_id"], "RV0000"]),
            pl.Series("case_id", [opinions["case_id"][0], KEY_PLANTED["case_id_ssn"]]),
        )
        frame = pl.concat([_clean_rows(opinions, 400, prefix), _opinion_rows(opinions, texts, prefix), keyed])
        path = landing / f"opinions_planted.{fmt}"
        if fmt == "csv":
            frame.write_csv(path)
        elif fmt == "parquet":
            frame.with_columns(pl.struct(note=pl.col("summary_text")).alias("extra")).write_parquet(path)
        else:
            frame.write_ndjson(path)
    # Column names: every category, in each format (nested in Parquet and JSON Lines).
    base = cases.head(3)
    named = base.with_columns(pl.lit(COLUMN_VALUE).alias(c) for c in COLUMNS.values())
    named.write_csv(landing / "cases_named.csv")
    nested = base.with_columns(
        pl.struct(*(pl.lit(COLUMN_VALUE).alias(c) for c in COLUMNS.values())).alias("meta")
    )
    nested.write_parquet(landing / "cases_named.parquet")
    rows = [dict(r, meta={"person": {c: COLUMN_VALUE for c in COLUMNS.values()}}) for r in base.to_dicts()]
    (landing / "cases_named.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="session")
def leaks(tmp_path_factory: pytest.TempPathFactory) -> Leaks:
    root = tmp_path_factory.mktemp("leaks")
    landing, warehouse, site = root / "landing", root / "warehouse.duckdb", root / "site"
    generate(800, 9, landing, fmt="csv", dirty_fraction=0.05)
    plant(landing)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SECONDLOOK_BOOTSTRAP_RESAMPLES", "50")
        env.setenv("SECONDLOOK_TEXT_MODEL_CORPUS_SIZE", "2000")
        outcome = run_pipeline(landing, warehouse, site, progress=False)
    assert outcome.site_index is not None, outcome.summary
    return Leaks(landing, warehouse, site, outcome.summary)


def needles() -> list[str]:
    planted = [n for examples in PLANTED.values() for _, n in examples]
    return [*planted, *KEY_PLANTED.values(), COLUMN_VALUE, *GENERATED]


def _pattern(needle: str) -> re.Pattern[str]:
    """A needle as a whole token: a number inside a longer number or a decimal is not it."""
    return re.compile(r"(?<![\w.])" + re.escape(needle) + r"(?![\w])")


def test_the_planted_files_were_read_and_refused_or_quarantined(leaks: Leaks) -> None:
    conn = duckdb.connect(str(leaks.warehouse), read_only=True)
    status = dict(conn.execute("SELECT file_name, status FROM audit.ingest_files").fetchall())
    reasons = {r for (r,) in conn.execute("SELECT DISTINCT unnest(reasons) FROM quarantine.rows").fetchall()}
    conn.close()
    assert {status[f"cases_named.{x}"] for x in ("csv", "parquet", "jsonl")} == {"rejected"}
    assert {status[f"opinions_planted.{x}"] for x in ("csv", "parquet", "jsonl")} == {"partial"}
    for category in ("ssn", "email", "phone", "zip", "dob", "date", "url", "ip", "mrn", "beneficiary"):
        assert f"summary_text:identifier_{category}" in reasons, category
    for category in ("account", "licence", "vehicle", "device", "name", "photo", "biometric", "other_id"):
        assert f"summary_text:identifier_{category}" in reasons, category
    assert {"reviewer_id:identifier_email", "case_id:identifier_ssn", "plan_id:identifier_email"} <= reasons


def test_no_planted_identifier_is_in_any_table_of_the_warehouse(leaks: Leaks) -> None:
    conn = duckdb.connect(str(leaks.warehouse), read_only=True)
    tables = conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
    ).fetchall()
    assert len(tables) > 20
    found = {}
    for (table,) in tables:
        text = "\n".join(map(str, conn.execute(f"SELECT * FROM {table}").fetchall()))
        hits = [n for n in needles() if _pattern(n).search(text)]
        if hits:
            found[table] = hits
    conn.close()
    assert found == {}


def test_no_planted_identifier_is_in_any_file_of_the_site_or_the_summary(leaks: Leaks) -> None:
    files = [p for p in leaks.site.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in files) and any(p.suffix == ".html" for p in files)
    artifacts = [p for p in (leaks.warehouse.parent / "artifacts").glob("*") if p.suffix in (".md", ".json")]
    found = {}
    for path in [*files, *artifacts]:
        text = path.read_bytes().decode("utf-8", errors="replace")
        hits = [n for n in needles() if _pattern(n).search(text)]
        if hits:
            found[str(path.relative_to(path.parents[1]))] = hits
    assert found == {}
    assert [n for n in needles() if _pattern(n).search(leaks.summary)] == []


def test_the_search_would_find_a_planted_value_if_one_were_stored(leaks: Leaks) -> None:
    """The needles are in the landing folder, so a search that finds nothing is a real search."""
    text = "\n".join(p.read_bytes().decode("utf-8", errors="replace") for p in leaks.landing.glob("*.csv"))
    text += "\n".join(p.read_text() for p in leaks.landing.glob("*.jsonl"))
    ours = [n for examples in PLANTED.values() for _, n in examples] + [*KEY_PLANTED.values(), COLUMN_VALUE]
    assert [n for n in ours if not _pattern(n).search(text)] == []
    generated = [n for n in GENERATED if _pattern(n).search(text)]
    assert len(generated) >= len(GENERATED) // 2, generated  # the generator's dirty rows drew most of them
