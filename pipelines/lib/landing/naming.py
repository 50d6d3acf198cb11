"""Names as SQL and as stored: identifier quoting, string literals, and the normal form of a
landing column name. Every landing module spells these the same way, so they live in one leaf
that imports nothing of ours."""

from __future__ import annotations

import re


def q(identifier: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


def lit(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def normalise_column(name: str) -> str:
    """A column name as staged: lower case, every run of other characters one underscore."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")
