"""How a suppressed count is published: the markers, their text, and the last guard.

CMS cell-size suppression policy [cms-cell-size-2024]: no cell may show a count from 1 to 10, and no
such count may be derivable from other cells. Which cells are hidden is decided once, over every
table together, by the disclosure engine (dashboards/disclosure.py) through the publication layer
(dashboards/publication.py); this module only says how a decision is written:

* "<11" (threshold-1 in general) for a count from 1 to threshold-1 (primary suppression);
* "*" for a count hidden because others would give a small one back (0 is never hidden, so "*" is
  at least the threshold).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

DEFAULT_THRESHOLD = 11  # CMS cell-size policy (ResDAC 2024): counts 1-10 are never shown
PRIMARY_SUFFIX = "_primary"
SUPPRESSED_SUFFIX = "_suppressed"
COMPLEMENT_MARK = "*"


def primary_label(threshold: int = DEFAULT_THRESHOLD) -> str:
    """What a primary-suppressed count reads as: "<11" for the default threshold."""
    return f"<{threshold}"


def primary_mask(col: str | pl.Expr, threshold: int = DEFAULT_THRESHOLD) -> pl.Expr:
    """True where a count is small enough to identify people (1 <= n < threshold); zero is allowed."""
    expr = pl.col(col) if isinstance(col, str) else col
    return ((expr >= 1) & (expr < threshold)).fill_null(False)


def count_text(col: str, threshold: int = DEFAULT_THRESHOLD, *, thousands: bool = False) -> pl.Expr:
    """A suppressed count column as published text: "<11", "*" for complements, else the number.

    Needs the `<col>_primary`/`<col>_suppressed` flags when present; a column without them is
    treated as needing primary suppression only (safety first for anything unplanned).
    """
    value = pl.col(col)
    number = thousands_text(value) if thousands else value.cast(pl.Int64).cast(pl.String)
    return (
        pl.when(pl.col(col + PRIMARY_SUFFIX))
        .then(pl.lit(primary_label(threshold)))
        .when(pl.col(col + SUPPRESSED_SUFFIX))
        .then(pl.lit(COMPLEMENT_MARK))
        .otherwise(number)
        .alias(col)
    )


def thousands_text(expr: pl.Expr) -> pl.Expr:
    """Integer -> "1,234,567" as a Polars expression (no per-row Python)."""
    x = expr.round(0).cast(pl.Int64)
    grouped = x.abs().cast(pl.String).str.reverse().str.extract_all(r"\d{1,3}").list.join(",").str.reverse()
    return pl.when(x < 0).then(pl.lit("-") + grouped).otherwise(grouped)


def check_no_small_counts(
    df: pl.DataFrame, count_cols: Sequence[str], threshold: int = DEFAULT_THRESHOLD
) -> None:
    """Raises if a published frame still holds a count from 1 to threshold-1 (a last guard)."""
    for col in count_cols:
        if col in df.columns and df[col].dtype.is_numeric():
            bad = df.filter(primary_mask(col, threshold)).height
            if bad:
                raise ValueError(f"{bad} unsuppressed small counts in column {col!r}")
