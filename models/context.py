"""ConText (Harkema et al. 2009) for many narratives at once: phrase matching, sentences, scopes.

medspaCy implements the same algorithm one document at a time on spaCy tokens; this is a
set-based re-implementation over Polars frames, because a million narratives must be read in well
under a minute on two cores (tests/models/test_context_reference.py checks both agree).

The rules, as medspaCy applies them:
- A trigger (modifier) matched in a sentence scopes over the rest of the sentence in its
  direction (FORWARD, BACKWARD, BIDIRECTIONAL); TERMINATE and PSEUDO triggers modify nothing.
- A scope stops at a TERMINATE trigger and at the next trigger of the same category (so in
  "no fusion, no decompression" each target is modified by its own "no").
- Of overlapping matches the longest is kept ("no role for" over "no"); a trigger modifies no
  target it overlaps.
- A target takes every category whose scope covers it.

Because same-category scopes cannot overlap, a target can only be modified, per category, by the
nearest trigger of that category on its left (if that one looks forward) or on its right (if it
looks backward): two as-of joins per category, never a join of every target with every trigger.

Texts are normalised so that character offsets survive: every non-ASCII character becomes one
space (so byte offsets equal character offsets), upper case becomes lower case, and anything but
a-z and 0-9 is read as a space. Sentences end at `. ! ? ; :` followed by white space, or a line end.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

#: Categories whose triggers never modify a target.
INERT_DIRECTIONS = ("TERMINATE", "PSEUDO")


def normalised(texts: pl.Series, with_norm: bool = True) -> pl.DataFrame:
    """doc (row position), norm (' ' + normalised text + ' '; left out when `with_norm` is false)
    and breaks (sentence-end offsets)."""
    frame = pl.DataFrame({"text": texts.cast(pl.String).fill_null("")}).with_row_index("doc")
    ascii_text = pl.col("text").str.replace_all(r"[\r\n]", "\x01").str.replace_all(r"[^\x01\x20-\x7e]", " ")
    norm = pl.lit(" ") + ascii_text.str.to_lowercase().str.replace_all(r"[^a-z0-9]", " ") + pl.lit(" ")
    return frame.select(
        "doc",
        pl.col("text").str.len_chars().alias("length"),
        *([norm.alias("norm")] if with_norm else []),
        ascii_text.str.replace_all(r"[.!?;:](\s|$)", "\x01${1}")
        .str.find_many(["\x01"], overlapping=True)
        .alias("breaks"),
    )


def find_phrases(docs: pl.DataFrame, phrases: Sequence[str]) -> pl.DataFrame:
    """Every occurrence of every phrase, overlapping ones included: doc, start, end, phrase.

    Offsets are those of the original text (the leading pad makes a match at norm position p
    start at text offset p).
    """
    patterns = [f" {p} " for p in dict.fromkeys(phrases)]
    found = docs.select(
        "doc",
        pl.col("norm").str.find_many(patterns, overlapping=True).alias("start"),
        pl.col("norm").str.extract_many(patterns, overlapping=True).alias("phrase"),
    ).explode(["start", "phrase"])
    return (
        found.drop_nulls("phrase")
        .with_columns(pl.col("phrase").str.strip_chars(" "))
        .with_columns(
            pl.col("start").cast(pl.Int64),
            (pl.col("start").cast(pl.Int64) + pl.col("phrase").str.len_bytes()).alias("end"),
        )
    )


def keep_longest(matches: pl.DataFrame) -> pl.DataFrame:
    """Drop a match inside a longer one (medspaCy's prune): sort by start, longest first, and
    drop every match that ends before the furthest end seen so far; of two that overlap in part
    ("a total hip" / "total hip replacement") the longer stays, the earlier on a tie. Identical
    spans keep the first row.

    Positions are made global (document << 32 | offset) so one running maximum serves every
    document without a window per document.
    """
    doc = pl.col("doc").cast(pl.Int64) * (1 << 32)
    ordered = (
        matches.with_row_index("_order")
        .with_columns((doc + pl.col("start")).alias("_gs"), (doc + pl.col("end")).alias("_ge"))
        .sort(["_gs", "_ge", "_order"], descending=[False, True, False])
    )
    same_span = (pl.col("_gs") == pl.col("_gs").shift(1)) & (pl.col("_ge") == pl.col("_ge").shift(1))
    ordered = ordered.filter(~same_span.fill_null(False))
    reach = pl.col("_ge").cum_max().shift(1)
    kept = ordered.filter(reach.is_null() | (pl.col("_ge") > reach))
    length = pl.col("_ge") - pl.col("_gs")
    loses_left = (pl.col("_ge").shift(1) > pl.col("_gs")) & (length.shift(1) >= length)
    loses_right = (pl.col("_gs").shift(-1) < pl.col("_ge")) & (length.shift(-1) > length)
    return kept.filter(~(loses_left.fill_null(False) | loses_right.fill_null(False))).drop(
        "_order", "_gs", "_ge"
    )


def assign_sentences(matches: pl.DataFrame, docs: pl.DataFrame) -> pl.DataFrame:
    """Add sent (index within the document), sent_start and sent_end (offsets) to each match."""
    breaks = (
        docs.select("doc", pl.col("breaks").alias("pos"))
        .explode("pos")
        .drop_nulls("pos")
        .with_columns(pl.col("pos").cast(pl.Int64))
        .sort("doc", "pos")
        .with_columns(pl.col("pos").rank("ordinal").over("doc").cast(pl.Int64).alias("sent"))
    )
    ordered = matches.sort("doc", "start")
    before = ordered.join_asof(
        breaks.rename({"pos": "prev_break", "sent": "sent"}),
        left_on="start",
        right_on="prev_break",
        by="doc",
        strategy="backward",
        check_sortedness=False,
    )
    after = before.join_asof(
        breaks.select("doc", pl.col("pos").alias("next_break")),
        left_on="start",
        right_on="next_break",
        by="doc",
        strategy="forward",
        check_sortedness=False,
    ).join(docs.select("doc", "length"), on="doc", how="left")
    return after.with_columns(
        pl.col("sent").fill_null(0),
        (pl.col("prev_break").fill_null(-1) + 1).alias("sent_start"),
        pl.coalesce("next_break", "length").alias("sent_end"),
    ).drop("prev_break", "next_break", "length")


def modifier_scopes(modifiers: pl.DataFrame) -> pl.DataFrame:
    """scope_start / scope_end of each trigger: its direction, cut at the nearest TERMINATE or
    same-category trigger on that side (as medspaCy's ConTextGraph.update_scopes)."""
    mods = modifiers.sort("doc", "sent", "start")
    limiters = mods.filter(pl.col("direction") == "TERMINATE").select("doc", "sent", "start", "end")

    same = mods.select("doc", "sent", "category", "start", "end")
    out = mods.with_columns(pl.col("start").alias("_at"))
    for frame, by in ((limiters, ["doc", "sent"]), (same, ["doc", "sent", "category"])):
        tag = "t" if frame is limiters else "c"
        nxt = frame.select(*by, pl.col("start").alias("_at"), pl.col("start").alias(f"next_{tag}")).sort(
            *by, "_at"
        )
        prv = frame.select(*by, pl.col("start").alias("_at"), pl.col("end").alias(f"prev_{tag}")).sort(
            *by, "_at"
        )
        out = out.sort(*by, "_at")
        out = out.join_asof(
            nxt, on="_at", by=by, strategy="forward", check_sortedness=False, allow_exact_matches=False
        )
        out = out.join_asof(
            prv, on="_at", by=by, strategy="backward", check_sortedness=False, allow_exact_matches=False
        )
    forward = pl.col("direction").is_in(["FORWARD", "BIDIRECTIONAL"])
    backward = pl.col("direction").is_in(["BACKWARD", "BIDIRECTIONAL"])
    limit_end = pl.min_horizontal("sent_end", "next_t", "next_c")
    limit_start = pl.max_horizontal("sent_start", "prev_t", "prev_c")
    return (
        out.with_columns(
            pl.when(forward)
            .then(pl.col("end"))
            .when(backward)
            .then(limit_start)
            .otherwise(pl.col("sent_start"))
            .alias("scope_start"),
            pl.when(backward & ~forward)
            .then(pl.col("start"))
            .when(forward)
            .then(limit_end)
            .otherwise(pl.col("sent_end"))
            .alias("scope_end"),
        )
        .with_columns(
            # A bidirectional trigger's scope runs from the limit on its left to the limit on its right.
            pl.when(pl.col("direction") == "BIDIRECTIONAL")
            .then(limit_start)
            .otherwise(pl.col("scope_start"))
            .alias("scope_start")
        )
        .drop("_at", "next_t", "prev_t", "next_c", "prev_c")
        .sort("doc", "start")
    )


def apply_context(targets: pl.DataFrame, modifiers: pl.DataFrame, categories: Sequence[str]) -> pl.DataFrame:
    """Targets with one boolean column per category (is it in such a trigger's scope?) and, per
    category, the trigger phrase that modified it (`<category>_by`).

    `targets` and `modifiers` carry doc, sent, start, end (modifiers also phrase, category,
    direction, scope_start, scope_end). Per category only the nearest trigger on each side can
    reach a target (same-category scopes stop at each other), so two as-of joins suffice.
    """
    out = targets.with_row_index("_t").sort("doc", "sent", "start")
    for category in categories:
        mods = modifiers.filter(pl.col("category") == category).sort("doc", "sent", "start")
        side = ["start", "end", "direction", "scope_start", "scope_end", "phrase"]
        left = mods.select("doc", "sent", *[pl.col(c).alias(f"_l{c}") for c in side])
        right = mods.select("doc", "sent", *[pl.col(c).alias(f"_r{c}") for c in side])
        out = out.join_asof(
            left,
            left_on="start",
            right_on="_lstart",
            by=["doc", "sent"],
            strategy="backward",
            check_sortedness=False,
        )
        out = out.join_asof(
            right,
            left_on="start",
            right_on="_rstart",
            by=["doc", "sent"],
            strategy="forward",
            allow_exact_matches=False,
            check_sortedness=False,
        )

        def reaches(p: str, directions: list[str]) -> pl.Expr:
            # medspaCy's tuple_overlaps(a, b): a[0] <= b[0] < a[1] or a[0] < b[1] <= a[1]
            def overlaps(a0: pl.Expr, a1: pl.Expr) -> pl.Expr:
                t0, t1 = pl.col("start"), pl.col("end")
                return ((a0 <= t0) & (t0 < a1)) | ((a0 < t1) & (t1 <= a1))

            scope = overlaps(pl.col(f"_{p}scope_start"), pl.col(f"_{p}scope_end"))
            own = overlaps(pl.col(f"_{p}start"), pl.col(f"_{p}end"))
            return (pl.col(f"_{p}direction").is_in(directions) & scope & ~own).fill_null(False)

        from_left = reaches("l", ["FORWARD", "BIDIRECTIONAL"])
        from_right = reaches("r", ["BACKWARD", "BIDIRECTIONAL"])
        out = out.with_columns(
            (from_left | from_right).alias(category),
            pl.when(from_left)
            .then(pl.col("_lphrase"))
            .when(from_right)
            .then(pl.col("_rphrase"))
            .alias(f"{category}_by"),
        ).drop([f"_{p}{c}" for p in "lr" for c in side])
    return out.sort("_t").drop("_t")
