"""What the published rates rest on: cases decided by structured fields, text extraction, the text
classifier and people's labels, per specialty, with the text path's accuracy on people's labels.

Counts are suppressed exactly as outcome_rates' n (the same bordered-table suppression, the
specialty totals being those outcome_rates publishes), and a specialty whose outcome_rates total
is hidden is hidden here whole, so no count from 1 to 10 can be read or derived from the pair.
"""

from __future__ import annotations

import polars as pl

from dashboards.safe_marts import safe_outcome_rates
from dashboards.suppression import DEFAULT_THRESHOLD, count_text
from dashboards.tables import Table
from pipelines.lib.vocabulary import specialty_label

SOURCES: dict[str, str] = {
    "n_structured": "Structured fields",
    "n_text_extraction": "Text extraction",
    "n_text_model": "Text classifier",
    "n_human": "People's labels",
    "n_undecided": "Unclassified",
}


def safe_provenance(
    provenance: pl.DataFrame | None, rates_safe: pl.DataFrame | None, threshold: int = DEFAULT_THRESHOLD
) -> pl.DataFrame | None:
    """Per specialty x source: n (suppressed) and total, from marts.outcome_provenance."""
    if provenance is None or provenance.is_empty():
        return None
    per_specialty = provenance.group_by("specialty", maintain_order=True).agg(
        pl.col("n").sum().alias("total"),
        *[pl.col(c).sum() for c in SOURCES if c != "n_undecided"],
    )
    per_specialty = per_specialty.with_columns(
        (pl.col("total") - pl.sum_horizontal([c for c in SOURCES if c != "n_undecided"])).alias("n_undecided")
    )
    long = per_specialty.unpivot(
        index=["specialty", "total"], on=list(SOURCES), variable_name="outcome", value_name="n"
    )
    safe = safe_outcome_rates(long.select("specialty", "outcome", "n", "total"), threshold)
    if rates_safe is not None and "total_suppressed" in rates_safe.columns:
        hidden = rates_safe.filter(pl.col("total_suppressed"))["specialty"].unique().to_list()
        safe = safe.with_columns(
            [
                pl.when(pl.col("specialty").is_in(hidden)).then(True).otherwise(pl.col(c)).alias(c)
                for c in ("n_suppressed", "total_suppressed")
            ],
        ).with_columns(
            pl.when(pl.col("n_suppressed")).then(None).otherwise(pl.col("n")).alias("n"),
            pl.when(pl.col("total_suppressed")).then(None).otherwise(pl.col("total")).alias("total"),
        )
    return safe


def provenance_table(
    safe: pl.DataFrame, provenance: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    """Specialty rows, one column per source: count and share of the specialty's reviewed cases."""
    shown = safe.with_columns(
        count_text("n", threshold).alias("count"),
        pl.when(pl.col("n").is_not_null() & pl.col("total").is_not_null() & (pl.col("total") > 0))
        .then((100 * pl.col("n") / pl.col("total")).round(1).cast(pl.String) + "%")
        .otherwise(pl.lit("—"))
        .alias("share"),
    )
    html = shown.select(
        pl.col("specialty").map_elements(specialty_label, return_dtype=pl.String).alias("Specialty"),
        pl.col("outcome").replace_strict(SOURCES).alias("source"),
        (pl.col("count") + " (" + pl.col("share") + ")").alias("cell"),
    ).pivot(on="source", index="Specialty", values="cell", aggregate_function="first")
    csv = shown.select("specialty", pl.col("outcome").alias("source"), pl.col("count").alias("n"), "share")
    acc = provenance.row(0, named=True) if provenance.height else {}
    if acc.get("text_accuracy") is not None:
        note = (
            f"Text path accuracy on people's labels: {acc['text_accuracy']:.1%} "
            f"(95% Wilson {acc['text_accuracy_ci_low']:.1%} to {acc['text_accuracy_ci_high']:.1%}); "
            f"{acc['text_accuracy_basis']}."
        )
    else:
        note = f"Text path accuracy on people's labels: not yet validated ({acc.get('text_accuracy_basis', 'no labels')})."
    return Table(
        "outcome-provenance", "What the rates rest on: cases decided by each source", csv, html, note=note
    )
