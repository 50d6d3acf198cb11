"""The landing folder: which files are there, what record type and format each is, and reading one.

Files are read as all-VARCHAR so no reader guesses a type: the contract decides. A file whose
columns look like direct identifiers is refused before any row is read (DESIGN "Privacy").
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.contracts import RECORD_TYPES
from pipelines.row_rules import lit, q

FORMATS = {
    ".csv": "csv", ".csv.gz": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".jsonl.gz": "jsonl",
}

# Column names that carry HIPAA Safe Harbor direct identifiers (45 CFR 164.514(b)(2)): names, SSN,
# medical record numbers, e-mail, phone/fax, street address, date of birth, a full 5-digit ZIP.
# Matched against the column name lower-cased with every non-alphanumeric run turned into "_".
IDENTIFIER_COLUMN = re.compile(
    r"""^(
        (.*_)?(first|last|middle|full|patient|member|given|family|sur)_?name
      | name | surname
      | (.*_)?(ssn|social_security(_number)?|sin)
      | (.*_)?(mrn|medical_record(_number)?|record_number|chart_number)
      | (.*_)?(e_?mail(_address)?)
      | (.*_)?(phone|telephone|mobile|cell|fax)(_number|_no)?
      | (.*_)?(street|address|address_line_?\d?|home_address|street_address)
      | (.*_)?(dob|date_of_birth|birth_?date|birthdate)
      | (.*_)?(zip|zip_?code|zipcode|postal_?code|zip5)
    )$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class LandingFile:
    path: Path
    record_type: str | None
    file_format: str | None

    @property
    def name(self) -> str:
        return self.path.name


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(ext):
            return FORMATS[ext]
    return None


def record_type_of(path: Path) -> str | None:
    """The record type named by the start of the file name (`cases_2026-10.csv` -> cases)."""
    stem = path.name.lower()
    for rtype in sorted(RECORD_TYPES, key=len, reverse=True):
        if stem.startswith(rtype):
            return rtype
    return None


def discover(landing: Path) -> list[LandingFile]:
    """Every regular file in the landing folder, cases first so opinions can match them."""
    files = [p for p in landing.iterdir() if p.is_file() and not p.name.startswith(".")]
    found = [LandingFile(p, record_type_of(p), file_format(p)) for p in files]
    order = {r: i for i, r in enumerate(RECORD_TYPES)}
    return sorted(found, key=lambda f: (order.get(f.record_type or "", len(order)), f.name))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalise_column(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


def identifier_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if IDENTIFIER_COLUMN.match(normalise_column(c))]


def reader_sql(path: Path, fmt: str, header: list[str] | None = None) -> str:
    """A DuckDB table function reading the file; CSV columns are named from `header`, all VARCHAR."""
    p = lit(str(path))
    if fmt == "csv":
        cols = ", ".join(f"{lit(f'c{i}')}: 'VARCHAR'" for i in range(len(header or [])))
        return (
            f"read_csv({p}, header = true, auto_detect = false, columns = {{{cols}}}, delim = ',', "
            "quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
            "encoding = 'utf-8')"
        )
    if fmt == "parquet":
        return f"read_parquet({p})"
    if fmt == "jsonl":
        return f"read_json({p}, format = 'newline_delimited', records = true, sample_size = -1)"
    raise ValueError(f"unsupported format {fmt}")


def header_columns(conn: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    """Column names only: the privacy guard looks at these before any row is read."""
    if fmt == "csv":
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh), [])
    return [r[0] for r in conn.execute(f"DESCRIBE SELECT * FROM {reader_sql(path, fmt)}").fetchall()]


def read_raw(conn: duckdb.DuckDBPyConnection, path: Path, fmt: str, table: str) -> list[str]:
    """Load a file into temp table `table` as VARCHAR columns with normalised names + _row_number.

    Returns the normalised column names. Raises duckdb.Error / ValueError when unparseable.
    """
    header = header_columns(conn, path, fmt) if fmt == "csv" else None
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {table}__src AS SELECT * FROM {reader_sql(path, fmt, header)}")
    cols = [r[0] for r in conn.execute(f"DESCRIBE {table}__src").fetchall()]
    names = [normalise_column(c) for c in (header if header is not None else cols)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"repeated column name(s) {', '.join(dupes)}")
    select = ", ".join(f"CAST({q(c)} AS VARCHAR) AS {q(n)}" for c, n in zip(cols, names, strict=True))
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT rowid + 1 AS _row_number, {select} FROM {table}__src"
    )
    conn.execute(f"DROP TABLE {table}__src")
    return names
