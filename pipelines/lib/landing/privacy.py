"""The privacy guard: what in a landing file looks like an identifier (DESIGN "Privacy").

Inputs must already be de-identified; the pipeline refuses what is not. The policy is data, in
data_contracts/privacy/identifiers.yaml: a table of the 18 HIPAA Safe Harbor categories
[hipaa-safe-harbor] as column-name phrases, and regular expressions for identifier values. This
module only reads it and turns it into checks:

- column names are split into tokens (camelCase humps, digits, separators) and matched against
  the phrases of each category, so `DateOfBirth`, `ssn_last4` and `meta.DateOfBirth` are caught
  while `plan_id`, `opinion_date` and `zip3` are not;
- values become DuckDB SQL (RE2 regexes, set-based): the categories found in a value, the value
  with every match masked, and a sample of each column scored before anything is loaded.

Presidio's recognisers [presidio] are the reference the value patterns are tested against; they
run per string in Python (about 1,500 narratives a second), far too slowly for millions of rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import yaml

from pipelines.lib.landing.contracts import CONTRACTS_DIR, load_contracts
from pipelines.lib.landing.naming import lit, normalise_column, q

POLICY_FILE = CONTRACTS_DIR / "privacy" / "identifiers.yaml"
NO_FINDINGS = "[]::VARCHAR[]"


@dataclass(frozen=True)
class ColumnCategory:
    """A Safe Harbor category as column-name phrases (each a tuple of tokens)."""

    key: str
    hipaa: str
    phrases: tuple[tuple[str, ...], ...]
    allow: tuple[tuple[str, ...], ...] = ()
    whole: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ValueCategory:
    """A Safe Harbor category as RE2 patterns for values."""

    key: str
    hipaa: str
    what: str
    patterns: tuple[str, ...]

    @property
    def regex(self) -> str:
        return "|".join(f"(?:{p})" for p in self.patterns)


@dataclass(frozen=True)
class Policy:
    hipaa: dict[str, str]
    columns: tuple[ColumnCategory, ...]
    values: tuple[ValueCategory, ...]
    sample_rows: int
    min_share: float
    min_values: int
    #: Patterns that apply to one contract field only: field -> category -> patterns.
    fields: Mapping[str, Mapping[str, tuple[str, ...]]]

    def value(self, key: str) -> ValueCategory:
        return next(v for v in self.values if v.key == key)

    def label(self, key: str) -> str:
        """`ssn` -> "Social Security numbers": the Safe Harbor wording of a category."""
        letters = {c.key: c.hipaa for c in self.columns} | {v.key: v.hipaa for v in self.values}
        return self.hipaa[letters[key]] if key in letters else key


def tokens(name: str) -> tuple[str, ...]:
    """Lower-case word tokens of a column name: `DateOfBirth` -> (date, of, birth),
    `SSNLast4` -> (ssn, last, 4), `meta.e-mail` -> (meta, e, mail)."""
    s = name.lstrip("\ufeff")
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", s)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", s)
    s = re.sub(r"([A-Za-z])([0-9])|([0-9])([A-Za-z])", lambda m: " ".join(g for g in m.groups() if g), s)
    return tuple(t for t in re.split(r"[^A-Za-z0-9]+", s.lower()) if t)


def _phrases(raw: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(t for t in (tokens(str(p)) for p in raw) if t)


@cache
def load_policy(path: Path = POLICY_FILE) -> Policy:
    """The identifier policy file, parsed; a ValueError naming the file when it is malformed."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        hipaa = {str(k): str(v) for k, v in doc["hipaa"].items()}
        columns = tuple(
            ColumnCategory(
                key,
                str(spec["hipaa"]),
                _phrases(spec["phrases"]),
                _phrases(spec.get("allow") or ()),
                _phrases(spec.get("whole") or ()),
            )
            for key, spec in doc["columns"].items()
        )
        values = tuple(
            ValueCategory(key, str(spec["hipaa"]), str(spec["what"]), tuple(str(p) for p in spec["patterns"]))
            for key, spec in doc["values"].items()
        )
        sample = doc["sample"]
        policy = Policy(
            hipaa,
            columns,
            values,
            int(sample["rows"]),
            float(sample["min_share"]),
            int(sample["min_values"]),
            {
                str(f): {str(k): tuple(str(p) for p in ps) for k, ps in cats.items()}
                for f, cats in (doc.get("fields") or {}).items()
            },
        )
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"{path.name}: malformed identifier policy ({exc})") from None
    unknown = ({c.hipaa for c in columns} | {v.hipaa for v in values}) - set(hipaa)
    if unknown:
        raise ValueError(f"{path.name}: unknown HIPAA categories {sorted(unknown)}")
    strays = {k for cats in policy.fields.values() for k in cats} - {v.key for v in values}
    if strays:
        raise ValueError(f"{path.name}: field patterns name unknown value categories {sorted(strays)}")
    return policy


def _occurs(phrase: tuple[str, ...], toks: Sequence[str | None]) -> bool:
    n = len(phrase)
    return any(tuple(toks[i : i + n]) == phrase for i in range(len(toks) - n + 1))


def _without(allowed: Iterable[tuple[str, ...]], toks: tuple[str, ...]) -> list[str | None]:
    """The tokens with every occurrence of an allowed phrase blanked out."""
    out: list[str | None] = list(toks)
    for phrase in allowed:
        n = len(phrase)
        for i in range(len(out) - n + 1):
            if tuple(out[i : i + n]) == phrase:
                out[i : i + n] = [None] * n
    return out


def column_category(name: str, policy: Policy | None = None) -> str | None:
    """The first Safe Harbor category a column name falls in, or None."""
    policy = policy or load_policy()
    toks = tokens(name)
    for cat in policy.columns:
        if toks in cat.whole:
            return cat.key
        left = _without(cat.allow, toks)
        if any(_occurs(p, left) for p in cat.phrases):
            return cat.key
    return None


@cache
def contract_columns() -> frozenset[str]:
    """Every column of every contract: the inputs' own fields are never identifiers."""
    return frozenset(c for contract in load_contracts().values() for c in contract.columns)


def identifier_columns(columns: Iterable[str], exempt: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(column as written, category) for each identifier-like column name, contract columns aside."""
    skip = contract_columns() if exempt is None else frozenset(exempt)
    found = []
    for column in columns:
        if normalise_column(column) in skip:
            continue
        category = column_category(column)
        if category:
            found.append((column, category))
    return found


# --- values: DuckDB SQL from the patterns ------------------------------------------------------


def _regex(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def screen() -> str:
    """One regex that matches wherever any category's pattern matches (the field patterns aside).

    DuckDB compiles each regex constant of a statement (tens of milliseconds for this one), so a
    statement screens with this regex once and only what passes is sorted into categories."""
    return _regex(p for v in load_policy().values for p in v.patterns)


def field_patterns() -> list[tuple[str, str, str]]:
    """(field, category, regex) of the patterns that hold for one contract field only."""
    return [(f, k, _regex(ps)) for f, cats in load_policy().fields.items() for k, ps in cats.items()]


def _keys() -> str:
    """The value categories as a SQL list, in the policy's order (the order reasons are given in)."""
    return "[" + ", ".join(lit(v.key) for v in load_policy().values) + "]"


def findings_sql(expr: str, field_expr: str | None = None) -> str:
    """SQL for the VARCHAR[] of categories whose patterns occur in text `expr`, in the policy's
    order (a field's own pattern may repeat a category). `field_expr` (SQL naming the field the text is from) adds that field's own patterns.
    Every category's regex is compiled: use it on what passed the screen."""
    cases = [
        f"CASE WHEN regexp_matches({expr}, {lit(v.regex)}) THEN {lit(v.key)} END"
        for v in load_policy().values
    ]
    if field_expr is not None:
        cases += [
            f"CASE WHEN {field_expr} = {lit(f)} AND regexp_matches({expr}, {lit(rx)}) THEN {lit(k)} END"
            for f, k, rx in field_patterns()
        ]
    return f"list_filter([{', '.join(cases)}], lambda x: x IS NOT NULL)"


def flag_sql(values: str, fields: Sequence[str]) -> str:
    """SQL TRUE when any text of the VARCHAR[] `values` (one per field of `fields`, NULL where not
    scanned) holds an identifier: one screen over them all, joined by a unit separator that no
    pattern reads across, plus the patterns of the fields that have their own."""
    tests = [f"regexp_matches(array_to_string({values}, chr(31)), {lit(screen())})"]
    tests += [
        f"regexp_matches({values}[{fields.index(f) + 1}], {lit(rx)})"
        for f, _, rx in field_patterns()
        if f in fields
    ]
    return "coalesce(" + " OR ".join(tests) + ", FALSE)"


def _categorise(conn: duckdb.DuckDBPyConnection, target: str, long_sql: str, params: object = None) -> int:
    """Temp table `target` (key, field, cat): for each row of `long_sql` (columns key, field, val)
    whose text holds an identifier, one row per category found. Screened first, so clean data
    compiles one regex only; returns the number of rows that passed the screen (0: no table)."""
    where = f"regexp_matches(val, {lit(screen())})"
    where += "".join(
        f" OR (field = {lit(f)} AND regexp_matches(val, {lit(rx)}))" for f, _, rx in field_patterns()
    )
    hits = f"SELECT * FROM ({long_sql}) WHERE {where}"
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {target}__hits AS {hits}", params)
    n = int(conn.execute(f"SELECT count(*) FROM {target}__hits").fetchall()[0][0])
    if n:
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {target} AS "
            f"SELECT DISTINCT key, field, unnest({findings_sql('val', 'field')}) AS cat FROM {target}__hits"
        )
    conn.execute(f"DROP TABLE {target}__hits")
    return n


def add_identifier_reasons(conn: duckdb.DuckDBPyConnection, table: str, fields: Sequence[str]) -> int:
    """Append `field:identifier_<category>` to the reasons of every flagged row of `table` (its
    `_scan` column: the scanned texts, in the order of `fields`; NULL for a clean row). Returns the
    number of rows flagged. Costs nothing on a file without identifiers."""
    names = "[" + ", ".join(lit(f) for f in fields) + "]"
    long_sql = (
        f"SELECT _row_number AS key, unnest({names}) AS field, unnest(_scan) AS val "
        f"FROM {table} WHERE _scan IS NOT NULL"
    )
    flagged = _categorise(conn, "_identifier_reasons", long_sql)
    if flagged:
        conn.execute(f"""
            UPDATE {table} SET _reasons = list_concat({table}._reasons, r.reasons)
            FROM (SELECT key, list(field || ':identifier_' || cat
                                   ORDER BY list_position({names}, field), list_position({_keys()}, cat))
                    AS reasons FROM _identifier_reasons GROUP BY key) r
            WHERE {table}._row_number = r.key""")
        conn.execute("DROP TABLE _identifier_reasons")
    return flagged


def mask_sql(expr: str) -> str:
    """SQL for text `expr` with every identifier match replaced by `[redacted <category>]`:
    quarantine keeps the evidence of a bad row, never the identifier in it. Safe on JSON text: no
    pattern reads across a quote, so a record stays valid JSON."""
    masked = expr
    for v in load_policy().values:
        masked = f"regexp_replace({masked}, {lit(v.regex)}, {lit(f'[redacted {v.key}]')}, 'g')"
    return f"(CASE WHEN regexp_matches({expr}, {lit(screen())}) THEN {masked} ELSE {expr} END)"


def field_mask_sql(expr: str, field: str) -> str:
    """SQL for one field's text with that field's own patterns masked (a bare ZIP in `region`)."""
    for f, k, rx in field_patterns():
        if f == field:
            expr = f"regexp_replace({expr}, {lit(rx)}, {lit(f'[redacted {k}]')}, 'g')"
    return expr


def mask_text(conn: duckdb.DuckDBPyConnection, text: str) -> str:
    """A message (a reader's error) with identifier patterns masked, by the same SQL as the rows."""
    rows = conn.execute(f"SELECT {mask_sql('$t')}", {"t": text}).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] is not None else text


@dataclass(frozen=True)
class ValueFinding:
    """A column whose sampled values look like identifiers."""

    column: str
    category: str
    hits: int
    sampled: int

    @property
    def share(self) -> float:
        return self.hits / self.sampled if self.sampled else 0.0

    def message(self) -> str:
        return f"{self.column} ({self.category}: {self.share:.0%} of {self.sampled:,} sampled values)"


def sampled_findings(
    conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]
) -> list[ValueFinding]:
    """Score a sample of each column of `table` (text columns named as staged) before anything is
    loaded: the columns where identifier values are common enough to refuse the file, worst first."""
    if not columns:
        return []
    policy = load_policy()
    cols = ", ".join(q(c) for c in columns)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _sampled AS SELECT * FROM (UNPIVOT (SELECT {cols} FROM {table} "
        f"USING SAMPLE reservoir({policy.sample_rows} ROWS) REPEATABLE (7)) ON COLUMNS(*) "
        "INTO NAME field VALUE val)"
    )
    rows: list[tuple] = []
    if _categorise(conn, "_sampled_hits", "SELECT row_number() OVER () AS key, field, val FROM _sampled"):
        rows = conn.execute("""
            SELECT h.field, h.cat, count(*) AS hits, any_value(n.n) AS sampled
            FROM _sampled_hits h JOIN (SELECT field, count(*) AS n FROM _sampled GROUP BY 1) n USING (field)
            GROUP BY ALL ORDER BY hits DESC, h.field, h.cat""").fetchall()
        conn.execute("DROP TABLE _sampled_hits")
    conn.execute("DROP TABLE _sampled")
    result = [ValueFinding(f, c, int(hits), int(n)) for f, c, hits, n in rows]
    return [f for f in result if f.hits >= policy.min_values and f.share >= policy.min_share]


def names_like_values(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[tuple[int, str]]:
    """(1-based position, category) of column names that are themselves identifier values (an
    e-mail as a header: the header row is missing, or data sits in it). Never echoed."""
    if not names:
        return []
    long_sql = "SELECT generate_subscripts($names, 1) AS key, '' AS field, unnest($names) AS val"
    if not _categorise(conn, "_name_hits", long_sql, {"names": list(names)}):
        return []
    rows = conn.execute("SELECT key, cat FROM _name_hits ORDER BY key").fetchall()
    conn.execute("DROP TABLE _name_hits")
    return [(int(i), str(cat)) for i, cat in rows]
