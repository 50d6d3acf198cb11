"""The landing folder: which files are there, what record type and format each is, and reading one.

Files are read as all-VARCHAR so no reader guesses a type: the contract decides. Before any row
is read, the privacy guard (privacy.py) sees every column name, nested ones included.

A CSV file's dialect is detected, not assumed, because spreadsheets export what their locale says
(Excel in Europe writes `;`, a BOM and CRLF; older tools write Windows-1252; "Unicode text" is
UTF-16): the encoding from the byte-order mark or from whether the bytes are valid UTF-8, the
delimiter and quote from DuckDB's sniffer, checked against the header. What was detected is
recorded per file in audit.ingest_files.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import duckdb
import pyarrow.parquet as pq

from pipelines.lib.landing.contracts import RECORD_TYPES
from pipelines.lib.landing.naming import lit, normalise_column, q

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


#: The longest row a reader takes, in bytes (a CSV line or a JSON Lines object). DuckDB's own
#: limits are set just above it, and a longer row is found by scan_file before any reader sees it:
#: past its limit DuckDB 2.0's CSV reader silently drops a last row (a 40 MB row vanished from a
#: file audited `loaded`), so no row is ever left for a reader to lose.
MAX_ROW_BYTES = 16 << 20
#: What stands in for a row longer than MAX_ROW_BYTES in the copy of the file that is read: it
#: keeps the row's place (and so every row number) and is quarantined as `row_too_long`.
TOO_LONG = "secondlook_row_too_long"
CHUNK = 1 << 20


@dataclass(frozen=True)
class LandingFile:
    path: Path
    record_type: str | None
    file_format: str | None
    #: The landing folder the file was found in (None for files given by path, such as --costs):
    #: a link in it may not lead out of it.
    root: Path | None = None

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
    """Every entry of the landing folder but hidden ones (files, links, folders: each gets an
    audit row, so nothing in the folder goes unaccounted), cases first so opinions can match."""
    entries = [p for p in landing.iterdir() if not p.name.startswith(".")]
    found = [LandingFile(p, record_type_of(p), file_format(p), landing) for p in entries]
    order = {r: i for i, r in enumerate(RECORD_TYPES)}
    return sorted(found, key=lambda f: (order.get(f.record_type or "", len(order)), f.name))


def entry_status(path: Path, root: Path | None) -> tuple[str, str] | None:
    """None for a regular file to read; else the audit status and reason of what is not read.

    A symbolic link is followed only to a file inside the landing folder: one that leads out is
    `refused` (its target is never opened, hashed or stored), a dangling one is `skipped`, as are
    folders (sub-folders are not read) and pipes, sockets and devices. Checked when the file is
    about to be read, not only when the folder was listed.
    """
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "skipped", "dangling symbolic link: its target does not exist, nothing read"
        if root is not None and not target.is_relative_to(root.resolve()):
            return "refused", "symbolic link leading outside the landing folder: not followed, nothing read"
    if not path.exists():
        return None  # gone since the folder was listed: reading it says so
    if path.is_dir():
        return "skipped", "a folder: sub-folders of the landing folder are not read"
    if not path.is_file():
        return "skipped", "not a regular file (a pipe, socket or device): nothing read"
    return None


#: The delimiters a CSV file may use: what spreadsheets and databases export.
DELIMITERS = (",", ";", "\t", "|")
#: Encodings by the name audit.ingest_files records, and Python's codec for each.
ENCODINGS = {
    "UTF-8": "utf-8",
    "UTF-8 with BOM": "utf-8-sig",
    "UTF-16LE with BOM": "utf-16",
    "UTF-16BE with BOM": "utf-16",
    "Windows-1252": "cp1252",
    "ISO-8859-1": "latin-1",
}


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written, as detected (audit.ingest_files records each field)."""

    encoding: str = "UTF-8"
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'


def detect_encoding(path: Path) -> str:
    """The file's encoding, by the names of ENCODINGS: a byte-order mark decides; without one,
    bytes that are valid UTF-8 are UTF-8, else Windows-1252 (what Excel and Notepad write on a
    Western Windows), else ISO-8859-1 (which every byte sequence is). One streaming pass."""
    with _open(path) as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "UTF-8 with BOM"
        if head.startswith(codecs.BOM_UTF16_LE):
            return "UTF-16LE with BOM"
        if head.startswith(codecs.BOM_UTF16_BE):
            return "UTF-16BE with BOM"
        fh.seek(0)
        for name in ("UTF-8", "Windows-1252"):
            decoder = codecs.getincrementaldecoder(ENCODINGS[name])()
            try:
                for chunk in _chunks(fh):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return name
            except UnicodeDecodeError:
                fh.seek(0)
    return "ISO-8859-1"


def _transcode(path: Path, encoding: str, out: Path) -> None:
    """Write `path` (any encoding, gzip or plain) to `out` as UTF-8, streaming: DuckDB 2.0 reads
    UTF-8 and UTF-16 but not Windows-1252 without an extension it would download."""
    decoder = codecs.getincrementaldecoder(ENCODINGS[encoding])()
    with _open(path) as src, out.open("wb") as dst:
        for chunk in _chunks(src):
            dst.write(decoder.decode(chunk).encode("utf-8"))
        dst.write(decoder.decode(b"", final=True).encode("utf-8"))


def _header_fields(path: Path, delimiter: str, quote: str = '"') -> list[str]:
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh, delimiter=delimiter, quotechar=quote), [])


def sniff_dialect(conn: duckdb.DuckDBPyConnection, path: Path, encoding: str) -> CsvDialect:
    """Delimiter and quote of a UTF-8 CSV file, by DuckDB's sniffer checked against the header.

    The sniffer scores delimiters by consistent column counts over its sample, so a file with one
    short row can read as one column (`|`, nothing split): the header, which is names and never
    ragged, is the check. The sniffed delimiter stands when it splits the header into as many
    fields as any other; otherwise the delimiter that splits the header most is used.
    """
    delimiter, quote, escape = ",", '"', '"'
    try:
        ((d, qu, e),) = conn.execute(
            f"SELECT Delimiter, Quote, Escape FROM sniff_csv({lit(_literal_path(path))}, "
            f"header = true, all_varchar = true, max_line_size = {MAX_ROW_BYTES + 1024})"
        ).fetchall()
    except duckdb.Error:  # the sniffer gave up: the header alone decides below
        d, qu, e = "", "", ""
    if qu in ('"', "'"):
        quote = qu
    escape = e if e in ('"', "'", "\\") else quote
    counts = {c: len(_header_fields(path, c, quote)) for c in DELIMITERS}
    best = max(DELIMITERS, key=lambda c: counts[c])  # ties: the first, a comma
    delimiter = d if d in DELIMITERS and counts[d] >= counts[best] else best
    return CsvDialect(encoding, delimiter, quote, escape)


@dataclass(frozen=True)
class FileScan:
    """What one pass over a file's bytes tells before any reader opens it."""

    sha256: str
    #: (byte offset, length) of each line longer than MAX_ROW_BYTES, in the uncompressed text.
    long_lines: tuple[tuple[int, int], ...] = ()


def _long_lines(chunks: Iterator[bytes], limit: int) -> list[tuple[int, int]]:
    """Lines longer than `limit` bytes: only a line crossing chunk boundaries can be, so two
    memchr calls per chunk (find, rfind) find them at the speed of reading."""
    found, start, offset = [], 0, 0
    for chunk in chunks:
        first = chunk.find(b"\n")
        if first >= 0:
            if offset + first - start > limit:
                found.append((start, offset + first - start))
            start = offset + chunk.rfind(b"\n") + 1
        offset += len(chunk)
    if offset - start > limit:
        found.append((start, offset - start))
    return found


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    return iter(lambda: fh.read(CHUNK), b"")


def scan_file(path: Path, limit: int | None = None) -> FileScan:
    """The file's sha256 and its over-long lines, in one read (two for a gzip file)."""
    limit = MAX_ROW_BYTES if limit is None else limit
    h = hashlib.sha256()

    def hashed(fh: IO[bytes]) -> Iterator[bytes]:
        for chunk in _chunks(fh):
            h.update(chunk)
            yield chunk

    with path.open("rb") as fh:
        if path.name.lower().endswith(".gz"):
            for chunk in _chunks(fh):
                h.update(chunk)
            with gzip.open(path, "rb") as gz:
                long = _long_lines(_chunks(cast(IO[bytes], gz)), limit)
        else:
            long = _long_lines(hashed(fh), limit)
    return FileScan(h.hexdigest(), tuple(long))


def sha256(path: Path) -> str:
    return scan_file(path).sha256


def _placeholder(fmt: str, header: bytes) -> bytes:
    if fmt == "csv":
        text = header.decode("utf-8-sig", errors="replace")
        fields = {d: len(next(csv.reader([text], delimiter=d), [])) or 1 for d in DELIMITERS}
        delimiter = max(DELIMITERS, key=lambda d: fields[d])  # the header's own delimiter
        return (TOO_LONG + delimiter * (fields[delimiter] - 1)).encode()
    return ('{"' + TOO_LONG + '": 1}').encode()


@contextmanager
def readable(path: Path, fmt: str, scan: FileScan) -> Iterator[Path]:
    """The file to hand to the readers: the file itself, or, when it has rows longer than
    MAX_ROW_BYTES, a temporary uncompressed copy in which each of them is one placeholder row
    (deleted as soon as it has been read). Raises ValueError when a CSV header is that long."""
    if not scan.long_lines:
        yield path
        return
    if fmt == "csv" and scan.long_lines[0][0] == 0:
        mb = scan.long_lines[0][1] / 1e6
        raise ValueError(
            f"line 1 (the header) is {mb:.1f} MB, longer than the {MAX_ROW_BYTES >> 20} MB row limit"
        )
    with tempfile.TemporaryDirectory(prefix="secondlook-") as tmp:
        copy = Path(tmp) / re.sub(r"\.gz$", "", path.name, flags=re.I)
        with _open(path) as src, copy.open("wb") as out:
            placeholder = _placeholder(fmt, src.readline() if fmt == "csv" else b"")
            src.seek(0)
            for start, length in scan.long_lines:
                while (left := start - src.tell()) > 0:
                    out.write(src.read(min(CHUNK, left)))
                out.write(placeholder)
                src.seek(start + length)
            for chunk in _chunks(src):
                out.write(chunk)
        yield copy


@contextmanager
def prepared(
    conn: duckdb.DuckDBPyConnection, path: Path, fmt: str, scan: FileScan
) -> Iterator[tuple[Path, CsvDialect | None]]:
    """The file to read and, for CSV, its detected dialect. A CSV file that is not UTF-8 is read
    from a temporary UTF-8 copy (deleted once read), so every reader and the privacy guard see
    the same text; rows longer than MAX_ROW_BYTES are then replaced as in `readable`."""
    if fmt != "csv":
        with readable(path, fmt, scan) as ready:
            yield ready, None
        return
    encoding = detect_encoding(path)
    if ENCODINGS[encoding] in ("utf-8", "utf-8-sig"):
        with readable(path, fmt, scan) as ready:
            yield ready, sniff_dialect(conn, ready, encoding)
        return
    with tempfile.TemporaryDirectory(prefix="secondlook-") as tmp:
        copy = Path(tmp) / re.sub(r"\.gz$", "", path.name, flags=re.I)
        _transcode(path, encoding, copy)
        with readable(copy, fmt, scan_file(copy)) as ready:
            yield ready, sniff_dialect(conn, ready, encoding)


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


def reader_sql(
    path: Path, fmt: str, header: list[str] | None = None, dialect: CsvDialect | None = None
) -> str:
    """A DuckDB table function reading the file; CSV columns are named from `header`, all VARCHAR,
    in the detected dialect (the file itself is UTF-8 by now: see `prepared`)."""
    p = lit(_literal_path(path))
    if fmt == "csv":
        d = dialect or CsvDialect()
        cols = ", ".join(f"{lit(f'c{i}')}: 'VARCHAR'" for i in range(len(header or [])))
        return (
            f"read_csv({p}, header = true, auto_detect = false, columns = {{{cols}}}, "
            f"delim = {lit(d.delimiter)}, quote = {lit(d.quote)}, escape = {lit(d.escape)}, "
            "strict_mode = true, null_padding = false, "
            f"encoding = 'utf-8', max_line_size = {MAX_ROW_BYTES + 1024})"
        )
    if fmt == "parquet":
        return f"read_parquet({p})"
    if fmt == "jsonl":
        return (
            f"read_json({p}, format = 'newline_delimited', records = true, sample_size = -1, "
            f"maximum_object_size = {MAX_ROW_BYTES + 1024})"
        )
    raise ValueError(f"unsupported format {fmt}")


def column_names(
    conn: duckdb.DuckDBPyConnection, path: Path, fmt: str, dialect: CsvDialect | None = None
) -> list[str]:
    """Top-level column names as the file spells them, repeats kept (DuckDB renames a repeated
    Parquet column `x_1`, which would hide it)."""
    if fmt == "csv":
        d = dialect or CsvDialect()
        return _header_fields(path, d.delimiter, d.quote)
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


def header_columns(
    conn: duckdb.DuckDBPyConnection, path: Path, fmt: str, dialect: CsvDialect | None = None
) -> list[str]:
    """Column names, and the dotted names of fields nested in them: the privacy guard looks at these
    before any row is read."""
    if fmt == "csv":
        return column_names(conn, path, fmt, dialect)
    rel = conn.sql(f"SELECT * FROM {reader_sql(path, fmt)}")
    names = list(pq.read_schema(path).names) if fmt == "parquet" else list(rel.columns)
    nested = [n for c, t in zip(rel.columns, rel.types, strict=True) for n in _nested_names(c, t)]
    return [n for n in names + nested if n != TOO_LONG]


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


def read_raw(
    conn: duckdb.DuckDBPyConnection, path: Path, fmt: str, table: str, dialect: CsvDialect | None = None
) -> list[str]:
    """Load a file into temp table `table` as VARCHAR columns with normalised names + _row_number.

    `_nested` lists, per row, the columns whose value is an object or a list (JSON Lines, Parquet);
    `_too_long` marks the placeholder of a row longer than MAX_ROW_BYTES (see `readable`).
    Returns the normalised column names. Raises duckdb.Error / ValueError when unparseable.
    """
    header = column_names(conn, path, fmt, dialect)
    names = [normalise_column(c) for c in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"repeated column name(s) {', '.join(dupes)}")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}__src AS SELECT * FROM {reader_sql(path, fmt, header, dialect)}"
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
    if TOO_LONG in names:  # JSON Lines: the placeholder's own key
        too_long = f"{q(cols[names.index(TOO_LONG)])} IS NOT NULL"
        select = ", ".join(f"{t} AS {q(n)}" for (t, _), n in zip(texts, names, strict=True) if n != TOO_LONG)
    elif fmt == "csv" and cols:  # CSV: the placeholder's first field
        too_long = f"coalesce({texts[0][0]} = {lit(TOO_LONG)}, FALSE)"
    else:
        too_long = "FALSE"
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT rowid + 1 AS _row_number, {select}, {nested}::VARCHAR[] AS _nested, "
        f"{too_long} AS _too_long FROM {table}__src"
    )
    conn.execute(f"DROP TABLE {table}__src")
    return [n for n in names if n != TOO_LONG]
