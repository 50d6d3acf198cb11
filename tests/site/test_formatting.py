"""Text for people: money a board reads, assumptions and codes in words, headers that explain."""

from __future__ import annotations

import polars as pl

from dashboards.formatting import assumption_names, fixed_text, money_short, words
from dashboards.glossary import definition


def _text(values: list[float | None], expr) -> list[str | None]:
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.Float64})
        .select(expr(pl.col("v")).alias("v"))["v"]
        .to_list()
    )


def test_money_short_keeps_three_significant_figures_and_its_sign() -> None:
    values = [71_618_820.0, 2_800_000.0, 999_999.0, 943_210.0, 100_000.0, 3_645.4, -2_420_000.0, 0.0, None]
    assert _text(values, money_short) == [
        "$71.6M",
        "$2.80M",
        "$1.00M",
        "$943k",
        "$100k",
        "$3,645",
        "-$2.42M",
        "$0",
        None,
    ]
    assert _text([1.25e9], money_short) == ["$1.25B"]


def test_fixed_text_keeps_trailing_zeros() -> None:
    assert _text([2.8, 0.05, 10.0], lambda e: fixed_text(e, 2)) == ["2.80", "0.05", "10.00"]


def test_assumptions_and_codes_read_as_words_with_acronyms_kept() -> None:
    frame = pl.DataFrame({"assumption": ["leakage_non_surgical", "program_fee", "new_thing"]})
    assert frame.select(assumption_names())["assumption"].to_list() == [
        "Leakage: non-surgical",
        "Fee per review",
        "New thing",
    ]
    codes = pl.DataFrame({"v": ["pci", "cabg_redo", "spinal_fusion"]}).select(words(pl.col("v")))
    assert codes["v"].to_list() == ["PCI", "CABG redo", "Spinal fusion"]


def test_headers_are_defined_whatever_their_case_and_unknown_ones_are_not() -> None:
    assert definition("O/E") and definition("o/e") == definition("O/E")
    assert definition("no such header") == ""
