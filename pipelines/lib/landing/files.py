"""The landing folder: which files are there, what record type and format each is, and reading one.

Files are read as all-VARCHAR so no reader guesses a type: the contract decides. Before any row
is read, the privacy guard (privacy.py) sees every column name, nested ones included.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import duckdb
import pyarrow.parquet as pq

from pipelines.lib.landing.contracts import RECORD_TYPES
from pipelines.lib.landing.row_rules import lit, q

FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".jsonl.gz": "jsonl",
}


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


def _open(path: Path) -> IO[bytes]:
    """A gzip file or a plain one, read alike."""
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def is_blank(path: Path) -> bool:
    """No header and no rows: nothing but a byte-order mark and white space."""
    with _open(path) as fh:
        head = fh.read(1 << 16)
    return len(head) < 1 << 16 and not head.replace(b"\xef\xbb\xbf", b"").strip()


def _literal_path(path: Path) -> str:
    """DuckDB globs every path it reads: `cases_*.csv` would read every cases file. A glob character
    inside brackets matches only itself, so the path names exactly one file."""
    return re.sub(r"([*?\[])", r"[\1]", str(path))


def reader_sql(path: Path, fmt: str, header: list[str] | None = None) -> str:
    """A DuckDB table function reading the file; CSV columns are named from `header`, all VARCHAR."""
    p = lit(_literal_path(path))
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


def column_names(conn: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    """Top-level column names as the file spells them, repeats kept (DuckDB renames a repeated
    Parquet column `x_1`, which would hide it)."""
    if fmt == "csv":
        with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh), [])
    if fmt == "parquet":
        return list(pq.read_schema(path).names)
    return list(conn.sql(f"SELECT * FROM {reader_sql(path, fmt)}").columns)


def _nested_names(name: str, dtype: Any) -> Iterator[str]:
    """`patient.name`, `patient.contact.ssn`: the fields inside structs, lists and maps of a column."""
    if dtype.id in ("struct", "union"):
        for field, child in dtype.children:
            if field:
                yield f"{name}.{field}"
                yield from _nested_names(f"{name}.{field}", child)
    elif dtype.id in ("list", "array", "map"):
        yield from _nested_names(name, dict(dtype.children)["child" if dtype.id != "map" else "value"])


def header_columns(conn: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    """Column names, and the dotted names of fields nested in them: the privacy guard looks at these
    before any row is read."""
    if fmt == "csv":
        return column_names(conn, path, fmt)
    rel = conn.sql(f"SELECT * FROM {reader_sql(path, fmt)}")
    names = list(pq.read_schema(path).names) if fmt == "parquet" else list(rel.columns)
    return names + [n for c, t in zip(rel.columns, rel.types, strict=True) for n in _nested_names(c, t)]


def _as_text(column: str, ctype: str) -> tuple[str, str | None]:
    """SQL for a column's value as text, and SQL that is TRUE when the value is nested (an object or
    a list where the contract expects one value). JSON strings lose their quotes."""
    c = q(column)
    if ctype == "JSON":  # a JSON Lines column whose rows mix strings, numbers and objects
        nested = f"json_type({c}) IN ('OBJECT', 'ARRAY')"
        return f"CASE WHEN {nested} THEN CAST({c} AS VARCHAR) ELSE {c} ->> '$' END", nested
    if ctype.startswith(("STRUCT", "MAP", "UNION")) or ctype.endswith("]"):
        return f"CAST(to_json({c}) AS VARCHAR)", f"{c} IS NOT NULL"
    return f"CAST({c} AS VARCHAR)", None


def read_raw(conn: duckdb.DuckDBPyConnection, path: Path, fmt: str, table: str) -> list[str]:
    """Load a file into temp table `table` as VARCHAR columns with normalised names + _row_number.

    `_nested` lists, per row, the columns whose value is an object or a list (JSON Lines, Parquet).
    Returns the normalised column names. Raises duckdb.Error / ValueError when unparseable.
    """
    header = column_names(conn, path, fmt)
    names = [normalise_column(c) for c in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"repeated column name(s) {', '.join(dupes)}")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}__src AS SELECT * FROM {reader_sql(path, fmt, header)}"
    )
    described = conn.execute(f"DESCRIBE {table}__src").fetchall()
    cols = [r[0] for r in described]
    for i, c in enumerate(cols):  # a column called rowid would hide the row's position
        if c.lower() == "rowid":
            cols[i] = f"_src_column_{i}"
            conn.execute(f"ALTER TABLE {table}__src RENAME COLUMN {q(c)} TO {q(cols[i])}")
    texts = [_as_text(c, r[1]) for c, r in zip(cols, described, strict=True)]
    select = ", ".join(f"{t} AS {q(n)}" for (t, _), n in zip(texts, names, strict=True))
    flags = [f"CASE WHEN {cond} THEN {lit(n)} END" for (_, cond), n in zip(texts, names, strict=True) if cond]
    nested = f"list_filter([{', '.join(flags)}], lambda x: x IS NOT NULL)" if flags else "[]"
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT rowid + 1 AS _row_number, {select}, {nested}::VARCHAR[] AS _nested FROM {table}__src"
    )
    conn.execute(f"DROP TABLE {table}__src")
    return names
