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


def _categories(field: str | None) -> list[tuple[str, str]]:
    """(category, combined regex) for every value category, with the field's own patterns."""
    policy = load_policy()
    cats = {v.key: list(v.patterns) for v in policy.values}
    for key, pats in policy.fields.get(field or "", {}).items():
        cats[key].extend(pats)
    return [(k, "|".join(f"(?:{p})" for p in ps)) for k, ps in cats.items()]


def _screen(field: str | None) -> str:
    """One regex matching wherever any category's pattern matches."""
    return "|".join(f"(?:{rx})" for _, rx in _categories(field))


def findings_sql(expr: str, field: str | None = None) -> str:
    """SQL for the VARCHAR[] of categories whose patterns occur in text `expr` (empty when none).

    One combined regex screens every value; only the rare value that passes the screen is tested
    per category, so clean data costs one RE2 scan per value. `field` adds that contract field's
    own patterns (a bare five-digit `region` is a ZIP).
    """
    per = ", ".join(
        f"CASE WHEN regexp_matches({expr}, {lit(rx)}) THEN {lit(key)} END" for key, rx in _categories(field)
    )
    return (
        f"(CASE WHEN regexp_matches({expr}, {lit(_screen(field))}) "
        f"THEN list_filter([{per}], lambda x: x IS NOT NULL) ELSE {NO_FINDINGS} END)"
    )


def mask_sql(expr: str, field: str | None = None) -> str:
    """SQL for text `expr` with every identifier match replaced by `[redacted <category>]`:
    quarantine keeps the evidence of a bad row, never the identifier in it."""
    masked = expr
    for key, rx in _categories(field):
        masked = f"regexp_replace({masked}, {lit(rx)}, {lit(f'[redacted {key}]')}, 'g')"
    return f"(CASE WHEN regexp_matches({expr}, {lit(_screen(field))}) THEN {masked} ELSE {expr} END)"


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
        return (
            f"column {self.column} holds identifier-like values ({self.category}: "
            f"{self.share:.0%} of {self.sampled:,} sampled values)"
        )


def sampled_findings(
    conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]
) -> list[ValueFinding]:
    """Score a sample of each column of `table` (text columns named as staged) before anything is
    loaded: the columns where identifier values are common enough to refuse the file, worst first."""
    if not columns:
        return []
    policy = load_policy()
    parts = " UNION ALL ".join(
        f"SELECT {lit(c)} AS col, unnest({findings_sql(q(c), c)}) AS cat FROM s" for c in columns
    )
    counts = " UNION ALL ".join(f"SELECT {lit(c)} AS col, count({q(c)}) AS n FROM s" for c in columns)
    rows = conn.execute(f"""
        WITH s AS (SELECT * FROM {table} USING SAMPLE reservoir({policy.sample_rows} ROWS) REPEATABLE (7)),
        f AS ({parts}), n AS ({counts})
        SELECT f.col, f.cat, count(*) AS hits, any_value(n.n) AS sampled
        FROM f JOIN n USING (col) GROUP BY ALL ORDER BY hits DESC, f.col, f.cat""").fetchall()
    found = [ValueFinding(col, cat, int(hits), int(sampled)) for col, cat, hits, sampled in rows]
    return [f for f in found if f.hits >= policy.min_values and f.share >= policy.min_share]


def names_like_values(conn: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[tuple[int, str]]:
    """(1-based position, category) of column names that are themselves identifier values (an
    e-mail as a header: the header row is missing, or data sits in it). Never echoed."""
    if not names:
        return []
    rows = conn.execute(
        f"SELECT i, unnest({findings_sql('n')}) FROM (SELECT unnest($names) AS n, "
        "generate_subscripts($names, 1) AS i) ORDER BY i",
        {"names": list(names)},
    ).fetchall()
    return [(int(i), str(cat)) for i, cat in rows]
