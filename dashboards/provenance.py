"""What the published rates rest on: cases decided by structured fields, text extraction, the text
classifier and people's labels, per specialty, with the text path's accuracy on people's labels.

The counts are cells of the publication layer (dashboards/publication.py): each specialty's
sources add up to the cases outcome_rates publishes, its undecided cases are its unclassified
cell, and the accuracy's label counts are cells too, so the audit decides them with every table.
"""

from __future__ import annotations

import polars as pl

from dashboards.publication import PROVENANCE_SOURCES
from dashboards.suppression import DEFAULT_THRESHOLD, count_text
from dashboards.tables import Table
from pipelines.lib.vocabulary import specialty_label


def provenance_table(
    safe: pl.DataFrame, provenance: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD
) -> Table:
    """Specialty rows, one column per source: count and share of the specialty's reviewed cases."""
    table = safe.rename({"source": "outcome"}).with_columns(
        count_text("n", threshold, thousands=True).alias("count"),
        pl.when(pl.col("n").is_not_null() & pl.col("total").is_not_null() & (pl.col("total") > 0))
        .then((100 * pl.col("n") / pl.col("total")).round(1).cast(pl.String) + "%")
        .otherwise(pl.lit("—"))
        .alias("share"),
    )
    html = table.select(
        pl.col("specialty").map_elements(specialty_label, return_dtype=pl.String).alias("Specialty"),
        pl.col("outcome").replace_strict(PROVENANCE_SOURCES).alias("source"),
        (pl.col("count") + " (" + pl.col("share") + ")").alias("cell"),
    ).pivot(on="source", index="Specialty", values="cell", aggregate_function="first")
    csv = table.select("specialty", pl.col("outcome").alias("source"), pl.col("count").alias("n"), "share")
    acc = provenance.row(0, named=True) if provenance.height else {}
    shown = bool(safe["text_accuracy_shown"].all()) if "text_accuracy_shown" in safe.columns else True
    if acc.get("text_accuracy") is not None and not shown:
        note = f"Text path accuracy on people's labels: not shown (it would give away fewer than {threshold} labels)."
    elif acc.get("text_accuracy") is not None:
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
