"""Compile a contract into one DuckDB SELECT that types each row and lists the rules it breaks.

The raw file is read as all-VARCHAR (so nothing is guessed by a reader); this SELECT trims,
normalises enumerations case-insensitively to the contract's spelling, parses dates, numbers and
booleans, and collects `field:rule` reasons per row in a list. Rules that need other rows or other
tables (uniqueness, versions, the case's referral date) are applied by ingest after this step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pipelines.lib.landing import privacy
from pipelines.lib.landing.contracts import Contract, Property, Rule
from pipelines.lib.landing.naming import lit, q

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")


def _trimmed(prop: Property, present: set[str]) -> str:
    if prop.name not in present:
        return "CAST(NULL AS VARCHAR)"
    return f"NULLIF(TRIM({q(prop.name)}), '')"


def typed_expr(prop: Property, v: str) -> str:
    """The typed, normalised value of a property given its trimmed text `v`."""
    if prop.valid_values:
        whens = " ".join(f"WHEN {lit(val.lower())} THEN {lit(val)}" for val in prop.valid_values)
        return f"(CASE lower({v}) {whens} END)"
    # DuckDB also reads 'epoch', 'infinity', 'NaN' and 'inf' as dates and numbers: those are not
    # values a sender meant, so a date must start with a digit and a number must be finite.
    match prop.logical_type:
        case "date":
            return f"(CASE WHEN regexp_matches({v}, '^[0-9]') THEN TRY_CAST({v} AS DATE) END)"
        case "timestamp":
            return (
                f"(CASE WHEN regexp_matches({v}, '^[0-9]') THEN COALESCE(TRY_CAST({v} AS TIMESTAMP), "
                f"TRY_CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)) END)"
            )
        case "number":
            return f"(CASE WHEN isfinite(TRY_CAST({v} AS DOUBLE)) THEN TRY_CAST({v} AS DOUBLE) END)"
        case "integer":  # TRY_CAST would round "4.5" to 5: a whole number must be written as one
            return f"(CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+') THEN TRY_CAST({v} AS BIGINT) END)"
        case "boolean":
            t = ", ".join(lit(w) for w in TRUE_WORDS)
            f = ", ".join(lit(w) for w in FALSE_WORDS)
            return f"(CASE WHEN lower({v}) IN ({t}) THEN TRUE WHEN lower({v}) IN ({f}) THEN FALSE END)"
    if prop.pattern:
        return f"upper({v})"  # codes, regions and diagnosis codes are stored upper case
    return v


def _violation(
    rule: Rule, v: str, typed: str, trimmed: dict[str, str], today: dt.date, typed_all: dict[str, str]
) -> str | None:
    """SQL that is TRUE when the row breaks `rule`; None for rules decided across rows."""
    match rule.kind:
        case "required":
            return f"{v} IS NULL"
        case "type" | "invalid_value":
            return f"{v} IS NOT NULL AND {typed} IS NULL"
        case "pattern":
            return f"{v} IS NOT NULL AND NOT regexp_full_match({v}, {lit(rule.params['pattern'])})"
        case "minimum":
            return f"{typed} < {float(rule.params['minimum'])!r}"
        case "maximum":
            return f"{typed} > {float(rule.params['maximum'])!r}"
        case "unique":
            return None
        case "custom":
            impl = rule.params["rule"]
            if impl == "not_after_today":
                return f"{typed} > DATE '{today.isoformat()}'"
            if impl == "not_before_reference":
                return None
            if impl == "not_before_field":  # another field of the same row, e.g. covered_from
                return f"{typed} < {typed_all[rule.params['field']]}"
            if impl == "any_present":
                return " AND ".join(f"{trimmed[c]} IS NULL" for c in rule.params["properties"])
    raise ValueError(f"{rule.reason}: no SQL for rule kind {rule.kind}/{rule.params.get('rule')}")


def _scanned_text(prop: Property, v: str, typed: str) -> str:
    """SQL for the text of one field that the identifier scan reads (privacy.py), or NULL.

    Free-text and key fields are read on every row. A value that satisfies its field's
    enumeration, pattern or type (a specialty, a CPT code, an ISO date, a number) is not one of
    the identifier shapes, so those fields are read only where the value fails them: the reason
    then says what the bad value is, and good rows cost nothing.
    """
    if prop.valid_values or prop.logical_type != "string":
        return f"CASE WHEN {typed} IS NULL THEN {v} END"
    if prop.pattern:
        return f"CASE WHEN NOT regexp_full_match({v}, {lit(prop.pattern)}) THEN {v} END"
    return v


def validation_sql(
    contract: Contract,
    source: str,
    present_columns: Iterable[str],
    today: dt.date,
    *,
    identifiers: bool = False,
) -> str:
    """SELECT over `source` (all-VARCHAR columns plus _row_number) -> typed columns + _reasons.

    `today` is what "not in the future" means, passed in so the rule is testable. With
    `identifiers` (every landing input) the select also has `_scan`, the texts of a row that
    holds an identifier value, for privacy.add_identifier_reasons.
    """
    present = set(present_columns)
    trimmed = {p.name: _trimmed(p, present) for p in contract.properties}
    typed = {p.name: typed_expr(p, trimmed[p.name]) for p in contract.properties}
    checks: list[str] = []
    for rule in contract.rules:
        v = trimmed.get(rule.field, "NULL")
        cond = _violation(rule, v, typed.get(rule.field, "NULL"), trimmed, today, typed)
        if cond is not None:
            checks.append(f"CASE WHEN {cond} THEN {lit(rule.reason)} END")
    reasons = (
        f"list_filter([{', '.join(checks)}]::VARCHAR[], lambda x: x IS NOT NULL)"
        if checks
        else "[]::VARCHAR[]"
    )
    cols = ",\n  ".join(f"{typed[p.name]} AS {q(p.name)}" for p in contract.properties)
    select = f"SELECT _row_number,\n  {cols},\n  {reasons} AS _reasons"
    if not identifiers:
        return f"{select}\nFROM {source}"
    # `_scan`: the scanned texts of a row that holds an identifier (NULL for a clean row), in the
    # order of the contract's columns; privacy.add_identifier_reasons turns them into reasons.
    texts = [_scanned_text(p, trimmed[p.name], typed[p.name]) for p in contract.properties]
    flag = privacy.flag_sql("_texts", contract.columns)
    return (
        f"SELECT * EXCLUDE (_texts), CASE WHEN {flag} THEN _texts END AS _scan FROM (\n"
        f"{select},\n  [{', '.join(texts)}]::VARCHAR[] AS _texts\nFROM {source})"
    )


def sql_type(prop: Property) -> str:
    """The DuckDB column type a property is staged as."""
    if prop.valid_values:
        return "VARCHAR"
    return {
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "number": "DOUBLE",
        "integer": "BIGINT",
        "boolean": "BOOLEAN",
    }.get(prop.logical_type, "VARCHAR")


def staging_ddl(contract: Contract, table: str) -> str:
    """CREATE TABLE for a staging table: the contract's fields plus where each row came from."""
    cols = ", ".join(f"{q(p.name)} {sql_type(p)}" for p in contract.properties)
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ({cols}, source_file VARCHAR, source_row BIGINT, "
        "loaded_at TIMESTAMP, run_id VARCHAR)"
    )
