"""Small-cell suppression for everything the site publishes.

CMS cell-size suppression policy (ResDAC, version 01/26/2024; literature.md §4.1): no cell may
show a count from 1 to 10, and no such count may be *derivable* from other cells — totals minus
sub-totals, complementary cells, percentages. So suppression has two passes:

* **primary**: every count in [1, threshold) is hidden and shown as "<11";
* **complementary**: cells that add up to a published total form a group; a group left with
  exactly one hidden non-zero cell would give that cell away by subtraction, so another visible
  non-zero cell of the group is hidden too (shown as "*"): preferably one that leaves no other
  group exposed, else the smallest. Zeros are never used as complements: "*" means 0 or at
  least 11, and beside a small hidden sum a hidden zero would be known to be zero. Cells usually belong to several
  groups at once (rows and columns of a table, a month and its year), so the passes repeat
  until no group is exposed. Two further exposures are closed as well: hidden primary cells
  whose sum pins them all down (two hidden cells summing to 2 must both be 1), and a
  complement so small that the split is unique (1 hidden beside exactly 11).

Everything is set-based Polars: each round evaluates every group with window expressions and
hides at most one more cell per exposed group; the number of rounds is bounded by the cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

DEFAULT_THRESHOLD = 11  # CMS cell-size policy (ResDAC 2024): counts 1-10 are never shown
PRIMARY_SUFFIX = "_primary"
SUPPRESSED_SUFFIX = "_suppressed"
COMPLEMENT_MARK = "*"

_ALL_GROUP = "__whole_table__"


def primary_label(threshold: int = DEFAULT_THRESHOLD) -> str:
    """What a primary-suppressed count reads as: "<11" for the default threshold."""
    return f"<{threshold}"


def primary_mask(col: str | pl.Expr, threshold: int = DEFAULT_THRESHOLD) -> pl.Expr:
    """True where a count is small enough to identify people (1 <= n < threshold); zero is allowed."""
    expr = pl.col(col) if isinstance(col, str) else col
    return ((expr >= 1) & (expr < threshold)).fill_null(False)


def _normalise_groupings(group_cols: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    """One grouping (a list of column names) or several (a list of lists) -> list of lists."""
    if not group_cols:
        return []
    if all(isinstance(g, str) for g in group_cols):
        return [list(group_cols)]  # type: ignore[arg-type]
    return [[g] if isinstance(g, str) else list(g) for g in group_cols]


def _suppress_cells(
    df: pl.DataFrame,
    count_col: str,
    groupings: list[list[str]],
    threshold: int,
    locked: str | None,
    force: str | None = None,
) -> pl.DataFrame:
    """Adds `<count>_primary` and `<count>_suppressed` to `df`, keeping the raw counts.

    `locked` names a boolean column: locked cells (margins already published elsewhere) keep
    the flags they arrive with and are never picked as complements, but still count in the
    groups they belong to. `force` names a boolean column of cells to hide from the start as
    complements (e.g. every cell of a specialty whose total is hidden on another page); zeros stay
    visible, as they do everywhere.
    """
    p_col, s_col = count_col + PRIMARY_SUFFIX, count_col + SUPPRESSED_SUFFIX
    t = threshold
    if locked:
        df = df.with_columns(pl.lit(False).alias(c) for c in (p_col, s_col) if c not in df.columns)
    lk = pl.col(locked).fill_null(False) if locked else pl.lit(False)
    work = df.with_columns(
        _v=pl.col(count_col).fill_null(0).cast(pl.Int64),
        _row=pl.int_range(pl.len(), dtype=pl.Int64),
        _lk=lk,
        _whole=pl.lit(_ALL_GROUP),
    )
    if locked:
        work = work.with_columns(
            _p=pl.when("_lk").then(pl.col(p_col).fill_null(False)).otherwise(primary_mask("_v", t)),
        ).with_columns(
            _h=pl.when("_lk").then(pl.col(s_col).fill_null(False)).otherwise(pl.col("_p")),
        )
    else:
        work = work.with_columns(_p=primary_mask("_v", t)).with_columns(_h=pl.col("_p"))
    if force:
        work = work.with_columns(
            _h=pl.col("_h") | (pl.col(force).fill_null(False) & ~pl.col("_lk") & (pl.col("_v") > 0))
        )

    keysets = [keys or ["_whole"] for keys in groupings]
    for _ in range(work.height + 1):
        newly_hidden = 0
        for gi, keys in enumerate(keysets):
            # Columns are materialised step by step: window expressions are never nested.
            # Only non-zero hidden cells protect anything: a hidden zero reads "*", i.e. 0 or at
            # least `threshold`, and beside a small hidden sum it is known to be 0.
            hz = pl.col("_h") & (pl.col("_v") > 0)
            p, v = pl.col("_p"), pl.col("_v")
            others = [k for j, k in enumerate(keysets) if j != gi]
            work = work.with_columns(
                _k=hz.cast(pl.Int64).sum().over(keys),
                _kp=p.cast(pl.Int64).sum().over(keys),
                _x=pl.when(hz).then(v).otherwise(0).sum().over(keys),
                # hiding a cell whose other group has no hidden cell yet would expose that group
                _cascade=pl.sum_horizontal(
                    [(hz.cast(pl.Int64).sum().over(o) == 0).cast(pl.Int64) for o in others] or [pl.lit(0)]
                ),
            )
            k, kp, x = pl.col("_k"), pl.col("_kp"), pl.col("_x")
            kc = k - kp
            exposed = (
                (k == 1)
                | ((kp >= 2) & (kc == 0) & ((x == kp) | (x == (t - 1) * kp)))
                | ((kp >= 1) & (kc >= 1) & (x == kp + t * kc))
            )
            candidate = ~pl.col("_h") & ~pl.col("_lk") & (v > 0)
            work = work.with_columns(_exposed=exposed, _cost=pl.when(candidate).then(pl.col("_cascade")))
            # Prefer a complement that exposes no other group, then the smallest, then the first row.
            work = (
                work.with_columns(
                    _cand=candidate & (pl.col("_cost") == pl.col("_cost").min().over(keys)).fill_null(False)
                )
                .with_columns(_cv=pl.when("_cand").then(v))
                .with_columns(
                    _cr=pl.when(pl.col("_cand") & (pl.col("_cv") == pl.col("_cv").min().over(keys))).then(
                        pl.col("_row")
                    )
                )
                .with_columns(
                    _pick=pl.col("_exposed")
                    & (pl.col("_cr") == pl.col("_cr").min().over(keys)).fill_null(False)
                )
            )
            picked = int(work["_pick"].sum())
            if picked:
                work = work.with_columns(_h=pl.col("_h") | pl.col("_pick"))
                newly_hidden += picked
        if not newly_hidden:
            break
    return work.with_columns(pl.col("_p").alias(p_col), pl.col("_h").alias(s_col)).drop(
        [
            "_v",
            "_row",
            "_lk",
            "_whole",
            "_p",
            "_h",
            "_pick",
            "_k",
            "_kp",
            "_x",
            "_cascade",
            "_exposed",
            "_cost",
            "_cand",
            "_cv",
            "_cr",
        ],
        strict=False,
    )


def suppress_counts(
    df: pl.DataFrame,
    count_cols: Sequence[str],
    group_cols: Sequence[str] | Sequence[Sequence[str]] = (),
    threshold: int = DEFAULT_THRESHOLD,
    *,
    force: str | None = None,
) -> pl.DataFrame:
    """Primary and complementary suppression of the count columns of a long table.

    `group_cols` is one grouping (column names) or several (a list of lists, e.g. the rows and
    the columns of a two-way table): cells that share a grouping's values add up to a total that
    is, or could be, published, so no group may be left with exactly one hidden cell. An empty
    list inside means "the whole table is one group"; no grouping at all means primary only.

    Returns `df` with each hidden count set to null and two booleans per count column,
    `<col>_primary` (1..threshold-1, shown as "<11") and `<col>_suppressed` (primary or
    complementary). Each count column is its own set of cells. `force` optionally names a
    boolean column of rows to hide from the start (as complements), before the passes run.
    """
    groupings = _normalise_groupings(group_cols)
    out = df
    for col in count_cols:
        out = _suppress_cells(out, col, groupings, threshold, locked=None, force=force)
        out = out.with_columns(
            pl.when(pl.col(col + SUPPRESSED_SUFFIX)).then(None).otherwise(pl.col(col)).alias(col)
        )
    return out


def suppress_with_margins(
    cells: pl.DataFrame,
    count_col: str,
    group_cols: Sequence[Sequence[str]],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    locked: str = "locked",
    force: str | None = None,
) -> pl.DataFrame:
    """Like `suppress_counts` for one column, with margins already decided on another table.

    Rows with `locked` true are published margins (e.g. a specialty's yearly outcome count
    beside its monthly cells): they keep their `<col>_primary`/`<col>_suppressed` flags, are
    never chosen as complements, and make a group count as exposed when they are its only
    hidden member. Raw counts are kept so callers can reuse the cells as margins in turn.
    """
    return _suppress_cells(
        cells, count_col, [list(g) for g in group_cols], threshold, locked=locked, force=force
    )


def hide_where(df: pl.DataFrame, condition: pl.Expr, cols: Sequence[str]) -> pl.DataFrame:
    """Nulls `cols` where `condition` holds: rates, intervals and money built on hidden counts."""
    present = [c for c in cols if c in df.columns]
    return df.with_columns(pl.when(condition).then(None).otherwise(pl.col(c)).alias(c) for c in present)


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
