"""The text path (rule 5: extraction, rules 1-4, the classifier as second reader) measured on
narratives whose outcome a person wrote down: the repository's hand-written sets, and people's
labels in the warehouse.

A hand-written set is staged as narrative-only opinions in a throw-away in-memory warehouse and
classified exactly as a run classifies (the same SQL, the same settings), so the figures on the
model card and in the README are those of the pipeline, not of a re-implementation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import duckdb
import numpy as np
import polars as pl

from models.evaluation import classification_metrics
from models.text_classifier import predict_text
from pipelines.lib import stats
from pipelines.lib.core.extractions import build_opinion_extractions
from pipelines.lib.core.outcomes import build_case_outcomes, ensure_inputs
from pipelines.lib.reference.catalogue import read_catalogue, write_reference
from pipelines.lib.settings import Settings
from pipelines.lib.vocabulary import OUTCOMES

#: Narratives written independently of the generator, kept with the tests of the repository.
HANDWRITTEN_SETS = {
    "consultant (160)": Path(__file__).resolve().parents[3]
    / "tests"
    / "fixtures"
    / "consultant_narratives.csv",
    "hand-written (60)": Path(__file__).resolve().parents[3]
    / "tests"
    / "fixtures"
    / "handwritten_narratives.csv",
}
MIN_HUMAN_LABELS = 30


def stage_narratives(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    """staging.cases and staging.opinions holding `frame`'s narratives as narrative-only opinions
    (narrative_id, specialty, initial_procedure_code, summary_text): one case per narrative."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
    cases = frame.select(
        pl.col("narrative_id").alias("case_id"),
        pl.col("narrative_id").alias("patient_key"),
        "specialty",
        pl.lit("2026-01-05").str.to_date().alias("referral_date"),
        pl.col("initial_procedure_code").cast(pl.String),
        *[
            pl.lit(None, dtype=pl.String).alias(c)
            for c in ("age_band", "sex", "region", "payer_type", "plan_id", "urgency", "diagnosis_code")
        ],
    )
    opinions = frame.select(
        pl.col("narrative_id").alias("opinion_id"),
        pl.col("narrative_id").alias("case_id"),
        pl.lit("reviewer").alias("reviewer_id"),
        pl.lit("2026-02-01").str.to_date().alias("opinion_date"),
        pl.lit(None, dtype=pl.String).alias("recommendation"),
        pl.lit(None, dtype=pl.String).alias("recommended_procedure_code"),
        "summary_text",
        pl.lit(None, dtype=pl.Datetime).alias("updated_at"),
    )
    conn.register("_secondlook_cases", cases.to_arrow())
    conn.register("_secondlook_opinions", opinions.to_arrow())
    try:
        conn.execute("CREATE OR REPLACE TABLE staging.cases AS SELECT * FROM _secondlook_cases")
        conn.execute("CREATE OR REPLACE TABLE staging.opinions AS SELECT * FROM _secondlook_opinions")
    finally:
        conn.unregister("_secondlook_cases")
        conn.unregister("_secondlook_opinions")


def classify_handwritten(frame: pl.DataFrame, model: Any, settings: Settings) -> pl.DataFrame:
    """narrative_id, expected_outcome, outcome, outcome_source, reason: the run's rule 5 on `frame`
    (narrative_id, specialty, initial_procedure_code, expected_outcome, summary_text)."""
    conn = duckdb.connect()
    try:
        write_reference(conn, *read_catalogue())
        stage_narratives(conn, frame)
        ensure_inputs(conn)
        build_opinion_extractions(conn)
        narratives = conn.sql(
            "SELECT o.opinion_id, o.summary_text, c.specialty, p.family AS initial_family, p.tier AS initial_tier "
            "FROM staging.opinions o JOIN staging.cases c USING (case_id) "
            "LEFT JOIN reference.procedures p ON p.procedure_code = c.initial_procedure_code"
        ).pl()
        predictions = predict_text(model, narratives) if model is not None else None
        build_case_outcomes(
            conn, predictions, settings.text_model_threshold, settings.text_review_disagreement
        )
        got = conn.sql(
            "SELECT case_id AS narrative_id, outcome, outcome_source, reason, review_note FROM core.case_outcomes"
        ).pl()
    finally:
        conn.close()
    return frame.join(got, on="narrative_id", how="left")


def text_path_figures(expected: pl.Series, got: pl.Series) -> dict[str, Any]:
    """Accuracy (unclassified counts as wrong), coverage, precision when classified, per class."""
    n = expected.len()
    classified = got != "unclassified"
    right = (expected == got) & classified
    metrics = classification_metrics(expected.to_numpy(), got.to_numpy(), list(OUTCOMES))
    return {
        "n": n,
        "accuracy": float(right.sum()) / n if n else float("nan"),
        "coverage": float(classified.sum()) / n if n else float("nan"),
        "precision_classified": float(right.sum()) / float(classified.sum())
        if classified.sum()
        else float("nan"),
        "per_class": {
            k: v
            for k, v in cast(dict[str, dict[str, Any]], metrics["per_class"]).items()
            if k != "unclassified" or v["support"]
        },
    }


def handwritten_validation(model: Any, settings: Settings) -> dict[str, dict[str, Any]]:
    """The text path's figures on each hand-written set present in this checkout."""
    out = {}
    for name, path in HANDWRITTEN_SETS.items():
        if path.exists():
            frame = pl.read_csv(path, schema_overrides={"initial_procedure_code": pl.String})
            rows = classify_handwritten(frame, model, settings)
            out[name] = text_path_figures(rows["expected_outcome"], rows["outcome"])
    return out


def human_label_validation(conn: duckdb.DuckDBPyConnection, threshold: float) -> dict[str, Any]:
    """The extraction's reading (through rules 1-4) of opinions people labelled, against the
    labels, with a Wilson 95% interval once MIN_HUMAN_LABELS exist. The extraction never learns
    from labels, so this is an honest test; the classifier trains on them and is not scored here."""
    ensure_inputs(conn)
    from pipelines.lib.core.outcomes import SQL, rules_params
    from pipelines.lib.sqlfiles import bind, queries

    text = queries(SQL)["opinion_rules"]
    readings = conn.sql(text, params=bind(text, rules_params(False))).pl().filter(pl.col("narrative_only"))
    labels = conn.sql(
        "SELECT opinion_id, lower(trim(outcome)) AS label FROM staging.opinion_labels "
        "QUALIFY row_number() OVER (PARTITION BY opinion_id ORDER BY labelled_at DESC, loaded_at DESC) = 1"
    ).pl()
    joined = labels.join(readings.select("opinion_id", "rule_outcome"), on="opinion_id", how="inner")
    n = joined.height
    if n < MIN_HUMAN_LABELS:
        return {
            "n": n,
            "basis": f"{n} human labels of narrative-only opinions, fewer than {MIN_HUMAN_LABELS}",
        }
    right = int((joined["label"] == joined["rule_outcome"].fill_null("unclassified")).sum())
    low, high = stats.wilson_interval(np.array([right]), np.array([n]))
    return {
        "n": n,
        "accuracy": right / n,
        "ci_low": float(low[0]),
        "ci_high": float(high[0]),
        "basis": f"extraction agrees with {right} of {n} human labels",
    }
