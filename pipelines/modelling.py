"""Glue between the warehouse and models/: training frames, artifacts, scoring (no Dagster).

Artifacts live in an `artifacts/` folder beside the warehouse file — never in git — each with a
model card written from its own metrics.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from models.cards import write_model_card

from models.text_classifier import load_model, predict_text, save_model, train_text_classifier
from pipelines.generate.narratives import training_corpus
from pipelines.outcomes import opinion_rule_outcomes
from pipelines.settings import Settings

TEXT_MODEL_FILE = "text_classifier.skops"
TEXT_METRICS_FILE = "text_classifier.metrics.json"
TEXT_LIMITATIONS = [
    "Labels come from the structured rules on opinions that carry both fields and a narrative; "
    "narrative-only opinions may be written differently from those.",
    "A generated corpus is used when the warehouse holds too few labelled narratives: its wording is "
    "synthetic, so accuracy on real reports must be checked on a hand-labelled sample.",
    "Predictions below the confidence threshold are not used: those cases go to marts.review_queue.",
]

# Narratives joined to what the text model may use besides words: specialty and initial family.
NARRATIVES_SQL = """
SELECT o.opinion_id, o.summary_text, c.specialty, p.family AS initial_family, o.opinion_date
FROM staging.opinions o
JOIN staging.cases c USING (case_id)
LEFT JOIN reference.procedures p ON p.procedure_code = c.initial_procedure_code
WHERE o.summary_text IS NOT NULL
"""


def artifacts_dir(warehouse: Path) -> Path:
    return warehouse.resolve().parent / "artifacts"


def narratives(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(NARRATIVES_SQL).pl()


def text_training_frame(conn: duckdb.DuckDBPyConnection, settings: Settings) -> tuple[pl.DataFrame, str]:
    """Narratives labelled by the structured rules, or the generated corpus when too few exist."""
    labels = opinion_rule_outcomes(conn).filter(pl.col("outcome").is_not_null()).select("opinion_id", "outcome")
    labelled = narratives(conn).join(labels, on="opinion_id", how="inner")
    if labelled.height >= settings.min_labelled_narratives:
        return labelled, f"warehouse: {labelled.height:,} narratives labelled by the structured rules"
    corpus = training_corpus(max(20_000, settings.min_labelled_narratives * 5), settings.seed)
    corpus = corpus.rename({"phrase_group": "group"}) if "phrase_group" in corpus.columns else corpus
    return corpus, (f"generated corpus of {corpus.height:,} narratives (the warehouse held only "
                    f"{labelled.height:,} labelled narratives, fewer than {settings.min_labelled_narratives:,})")


def train_text_model(conn: duckdb.DuckDBPyConnection, warehouse: Path, settings: Settings) -> dict[str, Any]:
    """Train, evaluate on held-out phrasing groups, save with skops and write the model card."""
    frame, source = text_training_frame(conn, settings)
    model, metrics = train_text_classifier(frame, settings.seed, settings.text_model_threshold)
    out = artifacts_dir(warehouse)
    save_model(model, out / TEXT_MODEL_FILE)
    metrics["training_source"] = source
    window = "generated corpus (no dates)"
    if "opinion_date" in frame.columns:
        window = f"opinions dated {frame['opinion_date'].min()} to {frame['opinion_date'].max()}"
    metrics["data_window"] = window
    (out / TEXT_METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str))
    write_model_card(out / "text_classifier.md", "Opinion text classifier", metrics, window, source,
                     TEXT_LIMITATIONS)
    return metrics


def narrative_only(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Opinions the rules cannot decide but that carry a narrative (design rule 5)."""
    undecided = opinion_rule_outcomes(conn).filter(pl.col("outcome").is_null()).select("opinion_id")
    return narratives(conn).join(undecided, on="opinion_id", how="inner")


def narrative_predictions(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> pl.DataFrame | None:
    """Text-model labels for narrative-only opinions; None when no model has been trained yet."""
    path = artifacts_dir(warehouse) / TEXT_MODEL_FILE
    if not path.exists():
        return None
    return predict_text(load_model(path), narrative_only(conn))


def bench_text_model(warehouse: Path, train_rows: int, score_rows: int) -> dict[str, float | str]:
    """Benchmark: train on `train_rows` generated narratives, score `score_rows` (issue 4 budget)."""
    corpus = training_corpus(train_rows, 11).rename({"phrase_group": "group"})
    started = time.perf_counter()
    model, metrics = train_text_classifier(corpus, 11)
    trained = time.perf_counter() - started
    to_score = training_corpus(score_rows, 12).with_columns(
        opinion_id=pl.Series(np.arange(score_rows).astype(str)))
    started = time.perf_counter()
    predict_text(model, to_score)
    scored = time.perf_counter() - started
    return {"train_s": round(trained, 1), "score_s": round(scored, 1), "macro_f1": round(metrics["macro_f1"], 3),
            "as_of": dt.date.today().isoformat()}
