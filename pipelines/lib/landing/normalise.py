"""What a spreadsheet or a dataframe library does to values, undone before the contract reads them.

The contract is ISO 8601 dates, a point as decimal separator and codes as text. Real exports
differ in three ways that are not the sender's mistake, and each is undone here, in temp table
`raw` (all VARCHAR), with set-based UPDATEs, and recorded in audit.ingest_files:

- *dates* in day/month/year or month/day/year order (Excel in Europe and in the US). The order is
  taken from the `date_format` setting, or from the file itself when a day above 12 shows which
  place holds the day; a file where nothing decides is refused with the setting that resolves it,
  because guessing would swap day and month on every date up to the 12th;
- *decimal commas* (`12,50`, `1.234,50`) in a file delimited by something other than a comma,
  which is how a European Excel writes numbers;
- *codes written as numbers* (`64483.0`): pandas turns an integer column with a gap into floats,
  and Excel and Parquet keep them so. A code or whole-number field whose value is an integer
  followed by `.0` is the integer's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatch

import duckdb

from pipelines.lib.landing.contracts import Contract
from pipelines.lib.landing.naming import lit, q

#: The values of the `date_format` setting: `auto` reads ISO 8601, or the order a file decides.
DATE_FORMATS = ("auto", "dd/mm/yyyy", "mm/dd/yyyy")
ISO = "yyyy-mm-dd"
#: d/m/yyyy or m/d/yyyy with `/`, `.` or `-`, optionally followed by a time (Excel writes `0:00`).
SLASHED = r"^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})((?:[ T][0-9: .]*)?)$"
NUMERIC_CODE = r"^[+-]?[0-9]+\.0+$"
#: A number written with a decimal comma, and maybe dots between thousands: 12,5 / 1.234,50 / 1.234.
DECIMAL_COMMA = r"^[+-]?([0-9]+,[0-9]+|[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?)$"
SETTING_HINT = (
    'set date_format = "dd/mm/yyyy" or "mm/dd/yyyy" in settings.toml (or SECONDLOOK_DATE_FORMAT), '
    'or date_formats = "<file pattern>=dd/mm/yyyy" for this file alone, '
    "or write the dates as ISO 8601 (yyyy-mm-dd)"
)


def parse_date_formats(text: str) -> dict[str, str]:
    """The `date_formats` setting, `cases_eu*=dd/mm/yyyy; follow_ups_us*=mm/dd/yyyy`, as
    {file-name pattern: order}. Raises ValueError naming the pair that cannot be used."""
    out: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(";")):
        if not pair:
            continue
        pattern, sep, order = (x.strip() for x in pair.partition("="))
        if not sep or not pattern or order not in DATE_FORMATS[1:]:
            raise ValueError(
                f"{pair!r} is not FILE-PATTERN=ORDER with ORDER dd/mm/yyyy or mm/dd/yyyy "
                "(pairs separated by ';', e.g. cases_eu*=dd/mm/yyyy)"
            )
        out[pattern] = order
    return out


def date_format_for(file_name: str, default: str, per_file: dict[str, str]) -> tuple[str, str]:
    """(order, the setting that says so) for one file: the first `date_formats` pattern its name
    matches (case-insensitive), else `date_format`."""
    for pattern, order in per_file.items():
        if fnmatch(file_name.lower(), pattern.lower()):
            return order, f"setting date_formats: {pattern}"
    return default, "setting date_format"


@dataclass
class Normalised:
    """What was undone in one file, for its audit row; `refusal` refuses the file whole."""

    decimal_separator: str | None = None
    date_format: str | None = None
    notes: list[str] = field(default_factory=list)
    refusal: str | None = None


def _trim(column: str) -> str:
    return f"trim({q(column)})"


def _codes(conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], out: Normalised) -> None:
    """One UPDATE per code column, touching only the rows that hold `<integer>.0`: on a clean
    file each is one scan and writes nothing."""
    for c in columns:
        ((n,),) = conn.execute(
            f"UPDATE {table} SET {q(c)} = regexp_replace({_trim(c)}, '\\.0+$', '') "
            f"WHERE regexp_matches({_trim(c)}, {lit(NUMERIC_CODE)})"
        ).fetchall()
        if n:
            out.notes.append(f"{c}: {int(n):,} number(s) read as code text (64483.0 -> 64483)")


def _decimals(conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], out: Normalised) -> None:
    """A decimal comma is recognised only where the delimiter is not a comma: in a comma file
    `1,234` is as likely a thousands separator, and is left for the contract to refuse."""
    out.decimal_separator = "."
    if not columns:
        return
    counts = conn.execute(
        "SELECT "
        + ", ".join(
            f"count(*) FILTER (regexp_matches({_trim(c)}, {lit(DECIMAL_COMMA)}) AND {_trim(c)} LIKE '%,%')"
            for c in columns
        )
        + f" FROM {table}"
    ).fetchall()[0]
    if not any(counts):
        return
    out.decimal_separator = ","
    sets = ", ".join(
        f"{q(c)} = CASE WHEN regexp_matches({_trim(c)}, {lit(DECIMAL_COMMA)}) "
        f"THEN replace(replace({_trim(c)}, '.', ''), ',', '.') ELSE {q(c)} END"
        for c in columns
    )
    conn.execute(f"UPDATE {table} SET {sets}")
    out.notes.append(
        f"{', '.join(c for c, n in zip(columns, counts, strict=True) if n)}: decimal comma read "
        f"({sum(int(n) for n in counts):,} value(s), 12,50 -> 12.50)"
    )


@dataclass(frozen=True)
class DateStats:
    """One date column's values written d/m/yyyy or m/d/yyyy: how many, the largest number in the
    first and in the second place, the smallest and largest value, and the value with each largest."""

    column: str
    n: int
    max_first: int
    max_second: int
    lowest: str
    highest: str
    day_first: str
    month_first: str


def _date_order(stats: list[DateStats]) -> tuple[str | None, str | None]:
    """(the order the file decides, or None; a refusal, or None). A number above 12 can only be a
    day: in the first place anywhere in the file it is dd/mm/yyyy, in the second mm/dd/yyyy."""
    first = [s for s in stats if s.max_first > 12]
    second = [s for s in stats if s.max_second > 12]
    if first and second:
        a, b = first[0], second[0]
        return None, (
            f"column {a.column}{'' if a.column == b.column else ' and ' + b.column}: dates in both orders "
            f"({a.day_first} has the day first, {b.month_first} the month first): "
            "write the dates as ISO 8601 (yyyy-mm-dd)"
        )
    if first:
        return "dd/mm/yyyy", None
    if second:
        return "mm/dd/yyyy", None
    s = stats[0]
    examples = f"{s.lowest} and {s.highest}" if s.lowest != s.highest else s.lowest
    return None, (
        f"column {s.column}: dates such as {examples} read as dd/mm/yyyy and as mm/dd/yyyy alike "
        f"(no day above 12 in the file): {SETTING_HINT}"
    )


def _dates(
    conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], setting: str, basis: str, out: Normalised
) -> None:
    if not columns:
        return
    pat = lit(SLASHED)
    parts = []
    for c in columns:
        match = f"regexp_matches({_trim(c)}, {pat})"
        parts.append(
            f"count(*) FILTER ({match}), "
            f"coalesce(max(TRY_CAST(regexp_extract({_trim(c)}, {pat}, 1) AS INTEGER)) FILTER ({match}), 0), "
            f"coalesce(max(TRY_CAST(regexp_extract({_trim(c)}, {pat}, 2) AS INTEGER)) FILTER ({match}), 0), "
            f"min({_trim(c)}) FILTER ({match}), max({_trim(c)}) FILTER ({match}), "
            f"arg_max({_trim(c)}, TRY_CAST(regexp_extract({_trim(c)}, {pat}, 1) AS INTEGER)) FILTER ({match}), "
            f"arg_max({_trim(c)}, TRY_CAST(regexp_extract({_trim(c)}, {pat}, 2) AS INTEGER)) FILTER ({match}), "
            f"count({q(c)})"
        )
    row = conn.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchall()[0]
    stats, present = [], 0
    for i, c in enumerate(columns):
        n, first, second, lo, hi, day_first, month_first, values = row[8 * i : 8 * i + 8]
        present += int(values)
        if n:
            stats.append(
                DateStats(
                    c, int(n), int(first), int(second), str(lo), str(hi), str(day_first), str(month_first)
                )
            )
    if not stats:
        out.date_format = ISO if present else None
        return
    if setting != "auto":
        order = setting
    else:
        decided, refusal = _date_order(stats)
        if refusal is not None:
            out.refusal = refusal
            return
        order, basis = decided or ISO, "a day above 12 decides"
    day, month = (1, 2) if order == "dd/mm/yyyy" else (2, 1)

    def iso(c: str) -> str:
        ex = f"regexp_extract({_trim(c)}, {pat}, "
        return f"{ex}3) || '-' || lpad({ex}{month}), 2, '0') || '-' || lpad({ex}{day}), 2, '0') || {ex}4)"

    sets = ", ".join(
        f"{q(c)} = CASE WHEN regexp_matches({_trim(c)}, {pat}) THEN {iso(c)} ELSE {q(c)} END"
        for c in (s.column for s in stats)
    )
    conn.execute(f"UPDATE {table} SET {sets}")
    out.date_format = order
    out.notes.append(
        f"{', '.join(s.column for s in stats)}: {sum(s.n for s in stats):,} date(s) read as {order} ({basis})"
    )


def normalise_raw(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    contract: Contract,
    present: set[str],
    *,
    date_format: str = "auto",
    date_basis: str = "setting date_format",
    decimal_comma: bool = False,
) -> Normalised:
    """Undo what exports do to the values of temp table `table` (see the module docstring).

    `date_format` is the order set for this file and `date_basis` the setting that set it
    (date_format_for). `decimal_comma` says whether the file may use one (a CSV file not
    delimited by commas).
    Returns what was done; its `refusal`, when set, is the one line that refuses the file.
    """
    if date_format not in DATE_FORMATS:
        raise ValueError(f"date_format {date_format!r}: use one of {', '.join(DATE_FORMATS)}")
    props = [p for p in contract.properties if p.name in present]
    out = Normalised()
    dated = [p.name for p in props if p.logical_type in ("date", "timestamp")]
    _dates(conn, table, dated, date_format, date_basis, out)
    if out.refusal:
        return out
    codes = [
        p.name for p in props if (p.pattern and p.logical_type == "string") or p.logical_type == "integer"
    ]
    _codes(conn, table, codes, out)
    if decimal_comma:
        _decimals(conn, table, [p.name for p in props if p.logical_type == "number"], out)
    return out
