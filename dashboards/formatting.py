"""Text for humans, built as Polars expressions so tables and hover labels need no per-row Python.

Hidden values are null in the safe marts; every formatter keeps them null, and the callers
decide what a null reads as ("suppressed", "—").
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from dashboards.palette import OUTCOMES, outcome_colour, outcome_label, with_alpha
from dashboards.suppression import thousands_text
from pipelines.lib.vocabulary import ACRONYMS

DASH = "—"


def pct_text(expr: pl.Expr, digits: int = 1) -> pl.Expr:
    """0.1234 -> "12.3%"."""
    return (expr * 100).round(digits).cast(pl.String) + pl.lit("%")


def money_text(expr: pl.Expr) -> pl.Expr:
    """1234.5 -> "$1,235"; negatives read "-$1,235" (escalations cost money)."""
    rounded = expr.round(0)
    body = thousands_text(rounded.abs())
    return pl.when(rounded < 0).then(pl.lit("-$") + body).otherwise(pl.lit("$") + body)


def number_text(expr: pl.Expr, digits: int = 2) -> pl.Expr:
    """A plain decimal (kappa, lift, ROI multiple)."""
    return expr.round(digits).cast(pl.String)


def range_text(low: pl.Expr, high: pl.Expr, fmt: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """An interval "a – b" with the same formatter on both ends; null if either end is hidden."""
    return pl.when(low.is_null() | high.is_null()).then(None).otherwise(fmt(low) + pl.lit(" – ") + fmt(high))


def html_escape(expr: pl.Expr) -> pl.Expr:
    """Escapes text for HTML element content and attribute values."""
    out = expr.cast(pl.String)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        out = out.str.replace_all(raw, safe, literal=True)
    return out


#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection, OWASP).
FORMULA_START = r"^[=+\-@\t\r]"
#: ... unless the cell is a plain number: "-1,234", "+0.5", "-12.5%" stay numbers.
PLAIN_NUMBER = r"^[+-]?\d[\d,]*(\.\d+)?%?$"


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as a formula get a leading apostrophe, which Excel,
    LibreOffice and Sheets show as text; numbers, and text that is a plain number, are unchanged."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START) & ~pl.col(c).str.contains(PLAIN_NUMBER))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def words(expr: pl.Expr) -> pl.Expr:
    """A code-like value as words: 'spinal_fusion' -> 'Spinal fusion'."""
    value = expr.cast(pl.String)
    text = value.str.slice(0, 1).str.to_uppercase() + value.str.slice(1).str.replace_all("_", " ")
    for acronym in ACRONYMS:
        text = text.str.replace_all(rf"(?i)\b{acronym}\b", acronym)
    return text.alias(expr.meta.output_name(raise_if_undetermined=False) or "words")


def specialty_names(col: str = "specialty") -> pl.Expr:
    """Specialty values as labels ('general_surgery' -> 'General surgery', 'all' -> 'All specialties')."""
    return (
        pl.when(pl.col(col) == "all").then(pl.lit("All specialties")).otherwise(words(pl.col(col))).alias(col)
    )


def outcome_names(col: str = "outcome") -> pl.Expr:
    """Outcome values as the palette's labels (unknown values as words)."""
    known = {o: outcome_label(o) for o in OUTCOMES}
    return (
        pl.when(pl.col(col).is_in(list(known))).then(pl.col(col).replace(known)).otherwise(words(pl.col(col)))
    ).alias(col)


def outcome_colours(col: str = "outcome", alpha: float | None = None) -> pl.Expr:
    """Each outcome's fixed colour (optionally translucent), grey for anything unexpected."""
    mapping = {
        o: (with_alpha(outcome_colour(o), alpha) if alpha is not None else outcome_colour(o))
        for o in OUTCOMES
    }
    grey = with_alpha(outcome_colour("?"), alpha) if alpha is not None else outcome_colour("?")
    return pl.col(col).replace_strict(mapping, default=grey, return_dtype=pl.String).alias(col)


def fixed_text(expr: pl.Expr, digits: int) -> pl.Expr:
    """A non-negative number with exactly `digits` decimals: 2.8 -> "2.80" (a cast drops the 0)."""
    scale = 10**digits
    whole = (expr * scale).round(0).cast(pl.Int64)
    return (whole // scale).cast(pl.String) + pl.lit(".") + (whole % scale).cast(pl.String).str.zfill(digits)


def money_short(expr: pl.Expr) -> pl.Expr:
    """Money for a table a board reads: "$71.6M", "$2.80M", "$943k", "$3,645" (three significant
    figures from $100k up; the CSV keeps every dollar)."""
    size = expr.abs()
    sign = pl.when(expr < 0).then(pl.lit("-$")).otherwise(pl.lit("$"))
    body = (
        pl.when(size >= 9.995e8)
        .then(fixed_text(size / 1e9, 2) + pl.lit("B"))
        .when(size >= 9.995e6)
        .then(fixed_text(size / 1e6, 1) + pl.lit("M"))
        .when(size >= 9.9995e5)
        .then(fixed_text(size / 1e6, 2) + pl.lit("M"))
        .when(size >= 1e5)
        .then((size / 1e3).round(0).cast(pl.Int64).cast(pl.String) + pl.lit("k"))
        .otherwise(thousands_text(size.round(0)))
    )
    return sign + body


#: The cost scenarios' assumptions in words (marts.cost_sensitivity `assumption`).
ASSUMPTION_LABELS = {
    "baseline_completion": "Baseline completion c",
    "discount_rate": "Discount rate",
    "horizon": "Horizon",
    "prices": "Prices",
    "program_fee": "Fee per review",
}


def assumption_names(col: str = "assumption") -> pl.Expr:
    """'leakage_non_surgical' -> 'Leakage: non-surgical'; the others from ASSUMPTION_LABELS."""
    leakage = {f"leakage_{o}": f"Leakage: {outcome_label(o).lower()}" for o in OUTCOMES}
    known = ASSUMPTION_LABELS | leakage
    return (
        pl.when(pl.col(col).is_in(list(known))).then(pl.col(col).replace(known)).otherwise(words(pl.col(col)))
    ).alias(col)


#: The price bases of marts.cost_assumptions' `price_basis_summary`, for a payer.
PRICE_BASIS_WORDS = {
    "payer": "the payer's own prices",
    "observed": "prices observed in the follow-up claims",
    "catalogue": "reference catalogue prices",
    "mixed": "mixed bases (the two codes of a case priced differently)",
}


def price_basis_names(expr: pl.Expr) -> pl.Expr:
    """'observed 99.9%, mixed 0.1%' -> 'prices observed in the follow-up claims 99.9%, mixed ...'."""
    out = expr.cast(pl.String)
    for code, text in PRICE_BASIS_WORDS.items():
        out = out.str.replace_all(rf"\b{code}\b", text)
    return out
