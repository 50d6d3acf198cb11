"""Ingest the landing folder into staging, quarantine and the file audit — losing no row.

For every entry of the landing folder: record links that lead out of it as `refused` and dangling
links and folders as `skipped`; refuse identifier-bearing files whole (identifier-like column
names, or columns whose sampled values are identifiers: privacy.py); read the rest as text, apply
the contract's row rules (row_rules.py, identifier values included), then the rules that need
other rows (duplicates, keys, versions, the case's referral date), and write each row to exactly
one place: staging, quarantine.rows (with reasons, contract columns only, identifiers masked), or
the duplicate count. A row longer than the reader's limit is quarantined as `row_too_long`.
audit.ingest_files keeps, per file, rows_read = rows_loaded + rows_quarantined + rows_duplicate.

Incremental by design: a file already ingested (same sha256 under any name) loads nothing new;
an opinion whose case has not arrived waits in staging.opinions_waiting and is matched, or
quarantined, on the run that brings its case.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.lib.landing.contracts import RECORD_TYPES, Contract, load_contracts
from pipelines.lib.landing.files import (
    DELIMITERS,
    LandingFile,
    discover,
    entry_status,
    file_format,
    header_columns,
    is_blank,
    prepared,
    read_raw,
    scan_file,
)
from pipelines.lib.landing.naming import lit, q
from pipelines.lib.landing.normalise import date_format_for, normalise_raw
from pipelines.lib.landing.privacy import (
    add_identifier_reasons,
    field_mask_sql,
    identifier_columns,
    load_policy,
    mask_sql,
    mask_text,
    names_like_values,
    sampled_findings,
)
from pipelines.lib.landing.row_rules import staging_ddl, validation_sql
from pipelines.lib.warehouse import ensure_audit_tables, scalar


@dataclass
class FileResult:
    file_name: str
    sha256: str | None
    record_type: str | None
    file_format: str | None
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    error: str | None = None
    #: What was detected and undone (files.CsvDialect, normalise.Normalised): how the file was read.
    encoding: str | None = None
    delimiter: str | None = None
    quote: str | None = None
    decimal_separator: str | None = None
    date_format: str | None = None
    normalised: list[str] = field(default_factory=list)

    def message(self) -> str | None:
        """The one line a person reads about a file that was not simply loaded."""
        if self.error:
            return f"{self.file_name}: {self.status}: {self.error}"
        return None


@dataclass
class IngestReport:
    files: list[FileResult]
    matched_waiting: int = 0
    quarantined_waiting: int = 0
    waiting: int = 0

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_loaded": sum(f.rows_loaded for f in self.files),
            "rows_quarantined": sum(f.rows_quarantined for f in self.files),
            "rows_duplicate": sum(f.rows_duplicate for f in self.files),
        }


def ensure_staging(conn: duckdb.DuckDBPyConnection, contracts: dict[str, Contract]) -> None:
    """Create the staging tables of every landing record type (the contract names them)."""
    ensure_audit_tables(conn)
    for rtype in RECORD_TYPES:
        contract = contracts[rtype]
        for table in (contract.table, contract.waiting_table):
            if table:
                conn.execute(_ddl(contract, table))
    refresh_latest(conn, contracts)


def _ddl(contract: Contract, table: str) -> str:
    return staging_ddl(contract, table).replace(
        "source_file VARCHAR", "record_hash VARCHAR, source_file VARCHAR, source_sha256 VARCHAR"
    )


def _hash_expr(contract: Contract) -> str:
    parts = ", ".join(f"coalesce(CAST({q(c)} AS VARCHAR), '\x00')" for c in contract.columns)
    return f"md5(concat_ws('\x1f', {parts}))"


def _key_expr(contract: Contract) -> str:
    return " || '\x1f' || ".join(f"coalesce(CAST({q(k)} AS VARCHAR), '')" for k in contract.record_key)


def _previous(conn: duckdb.DuckDBPyConnection, digest: str) -> tuple[str, int] | None:
    rows = conn.execute(
        "SELECT file_name, rows_read FROM audit.ingest_files WHERE sha256 = ? "
        "AND status IN ('loaded', 'partial', 'quarantined', 'empty') ORDER BY ingested_at LIMIT 1",
        [digest],
    ).fetchall()
    return (rows[0][0], int(rows[0][1])) if rows else None


def _flag_duplicates_and_keys(conn: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Mark exact repeats as duplicates and key conflicts as quarantined, in temp table v."""
    table, waiting = contract.table, contract.waiting_table
    ok = "len(_reasons) = 0 AND NOT _dup"
    conn.execute("""
        UPDATE v SET _dup = TRUE WHERE _row_number IN (
          SELECT _row_number FROM (SELECT _row_number,
            row_number() OVER (PARTITION BY _hash ORDER BY _row_number) AS rn
            FROM v WHERE len(_reasons) = 0) WHERE rn > 1)""")
    previous = f"SELECT record_hash FROM {table}"
    if waiting:
        previous += f" UNION ALL SELECT record_hash FROM {waiting}"
    conn.execute(f"UPDATE v SET _dup = TRUE WHERE {ok} AND _hash IN ({previous})")
    if not contract.record_key:
        return
    versioned = len(contract.record_key) > 1
    reason = lit(f"{contract.record_key[0]}:{'version_conflict' if versioned else 'not_unique'}")
    key = _key_expr(contract)
    conn.execute(f"""
        UPDATE v SET _reasons = list_append(_reasons, {reason}) WHERE _row_number IN (
          SELECT _row_number FROM (SELECT _row_number,
            row_number() OVER (PARTITION BY {key} ORDER BY _row_number) AS rn
            FROM v WHERE {ok}) WHERE rn > 1)""")
    if contract.record_type == "procedure_costs":
        return  # a later price file overrides the earlier price of a code
    staged_keys = f"SELECT {key} FROM {table}"
    if waiting:
        staged_keys += f" UNION ALL SELECT {key} FROM {waiting}"
    conn.execute(
        f"UPDATE v SET _reasons = list_append(_reasons, {reason}) WHERE {ok} AND {key} IN ({staged_keys})"
    )


def _flag_nested(conn: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """An object or a list where the contract expects one value is the field's invalid_type: its
    text is not a value the sender wrote, so it is quarantined, never staged."""
    fields = "[" + ", ".join(lit(c) for c in contract.columns) + "]"
    bad = f"list_filter(r._nested, lambda x: list_contains({fields}, x))"
    conn.execute(f"""
        UPDATE v SET _reasons = list_concat(v._reasons, list_transform({bad}, lambda x: x || ':invalid_type'))
        FROM raw r WHERE v._row_number = r._row_number AND len({bad}) > 0""")


def _error_line(conn: duckdb.DuckDBPyConnection, exc: BaseException, path: Path) -> str:
    """A reader's error as one line that names the line at fault but never repeats its content.

    DuckDB quotes the offending CSV line or JSON object, which may carry an identifier: the quote
    is cut out (up to the reader's own description of the fault, when there is one), and what is
    left is masked like a quarantined value, in case a quote escaped the cut.
    """
    text = str(exc).split("\nLINE 1:")[0]  # DuckDB appends the SQL it ran
    text = re.split(r"Possible fixes:|Try increasing|Try setting|Possible Solution:", text)[0]
    if "Original Line:" in text:
        head, _, rest = text.partition("Original Line:")
        fault = re.search(_READER_FAULTS, rest)
        text = head + (fault.group(0) if fault else "")
    text = re.sub(r'(Object|Array) [{\[].*?( has [\w ]+"[^"]*")?$', r"\1\2", text, flags=re.M)
    text = text.replace(str(path), path.name)
    # a file read from a temporary copy (transcoded to UTF-8, or long rows replaced) is named as sent
    copy = re.escape(re.sub(r"\.gz$", "", path.name, flags=re.I))
    text = re.sub(r"[^\s'\"]*secondlook-[^/\s]+/" + copy, path.name, text)
    return mask_text(conn, " ".join(text.split())[:300])


#: The faults DuckDB's CSV reader names after quoting the line: what an error keeps of the quote.
_READER_FAULTS = (
    r"Expected Number of Columns: \d+ Found: \d+|Value with unterminated quote found\.?"
    r"|Maximum line size of \d+ bytes exceeded\.?( Actual Size:\s*\d+ bytes\.?)?"
    r"|Invalid unicode \(byte sequence mismatch\) detected\.?|Could not convert [^\n]*? to [A-Z]+"
)


def _check_referral(conn: duckdb.DuckDBPyConnection) -> None:
    """Opinions whose case is known must not precede its referral (contract: before_referral)."""
    conn.execute("""
        UPDATE v SET _reasons = list_append(_reasons, 'opinion_date:before_referral')
        FROM staging.cases c
        WHERE v.case_id = c.case_id AND len(v._reasons) = 0 AND NOT v._dup
          AND v.opinion_date < c.referral_date""")


def _insert(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    table: str,
    where: str,
    lf: LandingFile,
    digest: str,
    run_id: str,
) -> int:
    cols = ", ".join(q(c) for c in contract.columns)
    return int(
        scalar(
            conn,
            f"INSERT INTO {table} SELECT {cols}, _hash, $file, $digest, _row_number, "
            f"now()::TIMESTAMP, $run_id FROM v WHERE len(_reasons) = 0 AND NOT _dup AND ({where})",
            {"file": lf.name, "digest": digest, "run_id": run_id},
        )
        or 0
    )


def ingest_file(
    conn: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    contracts: dict[str, Contract],
    run_id: str,
    today: dt.date,
    date_format: str = "auto",
    date_formats: dict[str, str] | None = None,
) -> FileResult:
    """Ingest one file and write its audit row; every outcome, including failure, becomes one
    FileResult. The rows and the audit row commit together: a file that fails half way (disk
    full, a killed run) leaves nothing, and is ingested whole on the next run. `date_format`
    and `date_formats` (the settings) say how dates not in ISO 8601 are read (normalise.py)."""
    order = date_format_for(lf.name, date_format, date_formats or {})
    res, names = _read_file(conn, lf, contracts, order)
    with _atomic(conn):
        if names:
            _stage_rows(conn, lf, contracts[lf.record_type or ""], res, names, run_id, today)
        _record(conn, res, run_id)
    return res


def _refusal(kind: str, items: list[str]) -> str:
    return (
        f"{kind} {', '.join(items)}: file refused whole, nothing of it stored "
        "(inputs must be de-identified: README, What is refused)"
    )


def _delimiter_hint(header: list[str]) -> str:
    """Why every required column is missing when the header is one field holding delimiters."""
    if len(header) != 1:
        return ""
    found = [d for d in (*DELIMITERS, ":") if d in header[0]]
    if not found:
        return ""
    shown = "tab" if found[0] == "\t" else repr(found[0])
    return (
        f" (the header is one field that holds {shown}: the delimiter was not recognised; "
        f"save the file with {shown} or a comma between every field, the header included)"
    )


def _read_file(
    conn: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    contracts: dict[str, Contract],
    date_format: tuple[str, str] = ("auto", "setting date_format"),
) -> tuple[FileResult, list[str]]:
    """Refuse or read a file into temp table `raw` (outside any transaction: a reader's error
    aborts DuckDB's transaction). Returns the column names when there are rows to stage."""
    res = FileResult(lf.name, None, lf.record_type, lf.file_format, "loaded")
    not_read = entry_status(lf.path, lf.root)
    if not_read is not None:  # a link out of the folder, a dangling link, a folder
        res.status, res.error = not_read
        return res, []
    try:
        scan = scan_file(lf.path)
    except OSError as exc:  # gone or unreadable since the folder was listed
        res.status, res.error = "unparseable", f"cannot read the file: {exc.strerror or exc}"
        return res, []
    res.sha256 = digest = scan.sha256
    if lf.record_type is None:
        res.status, res.error = (
            "rejected",
            "file name does not start with a record type (" + ", ".join(RECORD_TYPES) + ")",
        )
        return res, []
    if lf.file_format is None:
        res.status, res.error = "rejected", "unknown format: use .csv, .parquet or .jsonl"
        return res, []
    prev = _previous(conn, digest)
    if prev is not None:
        res.status, res.rows_read, res.rows_duplicate = "duplicate_file", prev[1], prev[1]
        res.error = f"same bytes as {prev[0]}, already ingested: nothing new loaded"
        return res, []
    contract = contracts[lf.record_type]
    try:
        if is_blank(lf.path):
            res.status, res.error = "empty", "empty file: no header and no rows"
            return res, []
        with prepared(conn, lf.path, lf.file_format, scan) as (path, dialect):
            if dialect is not None:
                res.encoding, res.delimiter, res.quote = dialect.encoding, dialect.delimiter, dialect.quote
            header = header_columns(conn, path, lf.file_format, dialect)
            like_values = names_like_values(conn, header)
            if like_values:
                res.status = "rejected"
                res.error = _refusal(
                    "column name(s) that are themselves identifier values (is the header row missing?) at",
                    [f"position {i} ({category})" for i, category in like_values],
                )
                return res, []
            ident = identifier_columns(header)
            if ident:
                res.status = "rejected"
                res.error = _refusal(
                    "identifier-like column(s)", [f"{c} ({category})" for c, category in ident]
                )
                return res, []
            names = read_raw(conn, path, lf.file_format, "raw", dialect)
    except (duckdb.Error, ValueError, UnicodeDecodeError, OSError, StopIteration, csv.Error) as exc:
        res.status, res.error = "unparseable", _error_line(conn, exc, lf.path)
        return res, []
    findings = sampled_findings(conn, "raw", names)
    if findings:
        conn.execute("DROP TABLE raw")
        res.status = "rejected"
        res.error = _refusal("identifier-like values in column(s)", [f.message() for f in findings])
        return res, []
    present = set(names) - {"_row_number"}
    norm = normalise_raw(
        conn,
        "raw",
        contract,
        present,
        date_format=date_format[0],
        date_basis=date_format[1],
        decimal_comma=res.delimiter not in (None, ","),
    )
    res.date_format, res.normalised = norm.date_format, norm.notes
    res.decimal_separator = norm.decimal_separator or ("." if lf.file_format == "csv" else None)
    if norm.refusal:
        conn.execute("DROP TABLE raw")
        res.status, res.error = "rejected", f"{norm.refusal}; nothing of the file loaded"
        return res, []
    res.ignored_columns = sorted(present - set(contract.columns))
    missing = [p.name for p in contract.properties if p.required and p.name not in present]
    if missing:
        res.error = f"missing required column(s) {', '.join(missing)}" + _delimiter_hint(header)
    res.rows_read = int(scalar(conn, "SELECT count(*) FROM raw"))
    too_long = int(scalar(conn, "SELECT count(*) FROM raw WHERE _too_long"))
    if too_long:
        lines = ", ".join(f"{n / 1e6:.1f} MB" for _, n in scan.long_lines)
        res.error = "; ".join(
            e
            for e in (res.error, f"{too_long} row(s) longer than the reader's limit ({lines}): row_too_long")
            if e
        )
    if res.rows_read == 0:
        res.status, res.error = "empty", "header only: no rows"
        return res, []
    return res, names


def _quarantine_record(conn: duckdb.DuckDBPyConnection, contract: Contract, present: set[str]) -> str:
    """SQL for what quarantine keeps of a row of `raw r` / `v`: its contract columns as JSON text
    (ignored columns are never stored), every identifier masked where the scan flagged the row.
    The masks are compiled only when a quarantined row was flagged."""
    kept = [c for c in contract.columns if c in present]
    if not kept:
        return "'{}'"
    plain = "to_json(struct_pack(" + ", ".join(f"{q(c)} := r.{q(c)}" for c in kept) + "))"
    if not scalar(conn, "SELECT count(*) FROM v WHERE _scan IS NOT NULL AND len(_reasons) > 0"):
        return f"CAST({plain} AS VARCHAR)"
    fields = (
        "to_json(struct_pack(" + ", ".join(f"{q(c)} := {field_mask_sql(f'r.{q(c)}', c)}" for c in kept) + "))"
    )
    return f"CASE WHEN v._scan IS NULL THEN CAST({plain} AS VARCHAR) ELSE {mask_sql(f'CAST({fields} AS VARCHAR)')} END"


def _stage_rows(
    conn: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    contract: Contract,
    res: FileResult,
    names: list[str],
    run_id: str,
    today: dt.date,
) -> None:
    """Put each row of `raw` in exactly one place: staging, quarantine.rows or the duplicate count."""
    assert lf.record_type is not None
    present, digest = set(names), res.sha256 or ""
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE v AS SELECT *, {_hash_expr(contract)} AS _hash, FALSE AS _dup "
        f"FROM ({validation_sql(contract, 'raw', present, today, identifiers=True)})"
    )
    add_identifier_reasons(conn, "v", contract.columns)
    conn.execute("""
        UPDATE v SET _reasons = ['row_too_long'] FROM raw r
        WHERE r._too_long AND v._row_number = r._row_number""")
    _flag_nested(conn, contract)
    _flag_duplicates_and_keys(conn, contract)
    if lf.record_type == "opinions":
        _check_referral(conn)
    conn.execute(
        f"""
        INSERT INTO quarantine.rows SELECT $file, $record_type, v._row_number,
          CASE WHEN r._too_long THEN '{{}}' ELSE {_quarantine_record(conn, contract, present)} END,
          v._reasons, now()::TIMESTAMP, $run_id
        FROM v JOIN raw r USING (_row_number) WHERE len(v._reasons) > 0""",
        {"file": lf.name, "record_type": lf.record_type, "run_id": run_id},
    )
    if lf.record_type == "procedure_costs":
        conn.execute(
            "DELETE FROM staging.procedure_costs WHERE procedure_code IN "
            "(SELECT procedure_code FROM v WHERE len(_reasons) = 0 AND NOT _dup)"
        )
    if contract.waiting_table:
        known = "case_id IN (SELECT case_id FROM staging.cases)"
        res.rows_loaded = _insert(conn, contract, contract.table, known, lf, digest, run_id)
        res.rows_loaded += _insert(
            conn, contract, contract.waiting_table, f"NOT ({known})", lf, digest, run_id
        )
    else:
        res.rows_loaded = _insert(conn, contract, contract.table, "TRUE", lf, digest, run_id)
    ((quarantined, duplicate),) = conn.execute(
        "SELECT count(*) FILTER (len(_reasons) > 0), count(*) FILTER (len(_reasons) = 0 AND _dup) FROM v"
    ).fetchall()
    res.rows_quarantined, res.rows_duplicate = int(quarantined), int(duplicate)
    if res.rows_quarantined:
        res.status = "partial" if res.rows_loaded + res.rows_duplicate else "quarantined"
    conn.execute("DROP TABLE v; DROP TABLE raw")


def match_waiting_opinions(conn: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, int]:
    """Move waiting opinions whose case has arrived into staging, or quarantine them if they
    precede its referral (and correct their file's audit counts). Returns (matched, quarantined)."""
    contract = load_contracts()["opinions"]
    staged, waiting = contract.table, contract.waiting_table
    struct = "to_json(struct_pack(" + ", ".join(f"{q(c)} := w.{q(c)}" for c in contract.columns) + "))"
    early = "w.opinion_date < c.referral_date"
    bad = conn.execute(f"""
        SELECT w.source_sha256, count(*) FROM {waiting} w JOIN staging.cases c USING (case_id)
        WHERE {early} GROUP BY 1""").fetchall()
    conn.execute(
        f"""
        INSERT INTO quarantine.rows SELECT w.source_file, 'opinions', w.source_row, {struct},
          ['opinion_date:before_referral'], now()::TIMESTAMP, $run_id
        FROM {waiting} w JOIN staging.cases c USING (case_id) WHERE {early}""",
        {"run_id": run_id},
    )
    for digest, n in bad:
        conn.execute(
            """UPDATE audit.ingest_files SET rows_loaded = rows_loaded - ?,
                        rows_quarantined = rows_quarantined + ?,
                        status = CASE WHEN rows_loaded - ? + rows_duplicate > 0 THEN 'partial' ELSE 'quarantined' END
                        WHERE sha256 = ? AND status IN ('loaded', 'partial')""",
            [n, n, n, digest],
        )
    matched = scalar(
        conn,
        f"""
        INSERT INTO {staged} SELECT w.* FROM {waiting} w JOIN staging.cases c USING (case_id)
        WHERE NOT ({early})""",
    )
    conn.execute(f"DELETE FROM {waiting} WHERE case_id IN (SELECT case_id FROM staging.cases)").fetchall()
    return int(matched or 0), sum(n for _, n in bad)


def refresh_latest(conn: duckdb.DuckDBPyConnection, contracts: dict[str, Contract]) -> None:
    """The latest-version table of each versioned record type (staging.opinions): the latest
    version of each key (its version column, then the later arrival)."""
    for contract in (c for c in contracts.values() if c.latest_table):
        key, version = contract.record_key
        conn.execute(f"""
            CREATE OR REPLACE TABLE {contract.latest_table} AS
            SELECT * EXCLUDE (rn) FROM (
              SELECT *, row_number() OVER (PARTITION BY {q(key)}
                ORDER BY {q(version)} DESC NULLS LAST, loaded_at DESC, source_row DESC) AS rn
              FROM {contract.table}) WHERE rn = 1""")


def _record(conn: duckdb.DuckDBPyConnection, res: FileResult, run_id: str) -> None:
    conn.execute(
        "INSERT INTO audit.ingest_files (file_name, sha256, record_type, file_format, status, rows_read, "
        "rows_loaded, rows_quarantined, rows_duplicate, ignored_columns, error, ingested_at, run_id, "
        "encoding, delimiter, quote, decimal_separator, date_format, normalised) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?)",
        [
            res.file_name,
            res.sha256,
            res.record_type,
            res.file_format,
            res.status,
            res.rows_read,
            res.rows_loaded,
            res.rows_quarantined,
            res.rows_duplicate,
            res.ignored_columns,
            res.error,
            run_id,
            res.encoding,
            res.delimiter,
            res.quote,
            res.decimal_separator,
            res.date_format,
            res.normalised,
        ],
    )


@contextmanager
def _atomic(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All of a file's rows and its audit row, or none: a file that fails half way (disk full, a
    killed run) is ingested whole on the next run instead of counting its rows twice."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def ingest(
    conn: duckdb.DuckDBPyConnection,
    landing: Path | None,
    *,
    run_id: str,
    today: dt.date | None = None,
    extra_files: Sequence[tuple[Path, str]] = (),
    date_format: str = "auto",
    date_formats: dict[str, str] | None = None,
) -> IngestReport:
    """Ingest every file of `landing` (plus `extra_files` given with their record type);
    `date_format` and `date_formats` are the settings of those names (normalise.py)."""
    contracts = load_contracts()
    today = today or dt.date.today()
    ensure_staging(conn, contracts)
    files = discover(landing) if landing is not None else []
    files += [LandingFile(p, rtype, file_format(p)) for p, rtype in extra_files]
    load_policy()  # a malformed policy file stops the run before any file is read
    report = IngestReport(files=[])
    for lf in _cases_first(files):
        report.files.append(ingest_file(conn, lf, contracts, run_id, today, date_format, date_formats))
    with _atomic(conn):
        report.matched_waiting, report.quarantined_waiting = match_waiting_opinions(conn, run_id)
        refresh_latest(conn, contracts)
    waiting = contracts["opinions"].waiting_table
    report.waiting = int(scalar(conn, f"SELECT count(*) FROM {waiting}"))
    return report


def _cases_first(files: Iterable[LandingFile]) -> list[LandingFile]:
    order = {r: i for i, r in enumerate(RECORD_TYPES)}
    return sorted(files, key=lambda f: (order.get(f.record_type or "", 9), f.name))
