"""The opinion text classifier on warehouse data: its training frame, artifact, card and predictions.

Artifacts live in an `artifacts/` folder beside the warehouse file (never in git), each with a
model card written from its own metrics. The generated corpus that widens the training wording
comes from the synthetic generator, handed in by the caller: the library does not import it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from models.text_classifier import load_model, predict_text, save_model, text_groups, train_text_classifier
from pipelines.lib.core.outcomes import ensure_inputs, opinion_rule_outcomes
from pipelines.lib.settings import Settings
from pipelines.lib.warehouse import artifacts_dir

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
SELECT o.opinion_id, o.summary_text, c.specialty, p.family AS initial_family, p.tier AS initial_tier,
       o.opinion_date
FROM staging.opinions o
JOIN staging.cases c USING (case_id)
LEFT JOIN reference.procedures p ON p.procedure_code = c.initial_procedure_code
WHERE o.summary_text IS NOT NULL
"""


NARRATIVE_IDS_SQL = """
SELECT o.opinion_id FROM staging.opinions o JOIN staging.cases c USING (case_id)
WHERE o.summary_text IS NOT NULL
"""


def narratives(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(NARRATIVES_SQL).pl()


def capped_labels(labels: pl.DataFrame, max_rows: int, seed: int) -> pl.DataFrame:
    """At most about `max_rows` rule labels, a sample stratified by outcome; people's labels all kept.

    Training time grows with the rows while held-out accuracy barely moves past a few hundred
    thousand (1M-case warehouse, 391k rule-labelled narratives: 43.8 s to train on all of them,
    22 s on 200k, the same macro-F1 to 0.001). Each outcome keeps its share, and at least
    `max_rows / 50` rows (or all it has), so rare outcomes keep their wording. Rows are drawn by a
    seeded hash of opinion_id: the same narratives whatever order they arrive in.
    """
    people = labels.filter(pl.col("weight") == HUMAN_WEIGHT)
    rules = labels.filter(pl.col("weight") != HUMAN_WEIGHT)
    room = max(max_rows - people.height, 0)
    if rules.height <= room:
        return labels
    fraction = room / rules.height
    size = pl.len().over("outcome")
    keep = pl.max_horizontal((size * fraction).round(), pl.min_horizontal(size, pl.lit(max_rows // 50)))
    sampled = rules.filter(pl.col("opinion_id").hash(seed).rank("ordinal").over("outcome") <= keep)
    return pl.concat([people, sampled])


def training_signature(labels: pl.DataFrame) -> dict[str, int]:
    """Counts of the labelled narratives in the policy's buckets of a hash of (opinion_id, outcome)."""
    from pipelines.lib.training.policy import SIGNATURE_BUCKETS

    buckets = (
        labels.select((pl.col("opinion_id") + "|" + pl.col("outcome")).hash(0) % SIGNATURE_BUCKETS)
        .to_series()
        .value_counts()
    )
    return {str(b): int(n) for b, n in buckets.iter_rows()}


def text_code_version(settings: Settings) -> str:
    """The text model's code version: its modules and the settings that shape its training."""
    import models.text_classifier as model_module
    from pipelines.lib.training.policy import code_version

    shaping = (
        "seed",
        "text_model_corpus_size",
        "text_model_corpus_weight",
        "min_labelled_narratives",
        "text_model_max_train_narratives",
    )
    return code_version(
        [Path(model_module.__file__), Path(__file__)], {k: getattr(settings, k) for k in shaping}
    )


def _labels(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every labelled narrative's label and weight: a person's label replaces the rule label."""
    rules = (
        opinion_rule_outcomes(conn)
        .filter(pl.col("outcome").is_not_null())
        .select("opinion_id", "outcome", pl.lit(RULE_WEIGHT).alias("weight"))
    )
    people = human_labels(conn).select("opinion_id", "outcome", pl.lit(HUMAN_WEIGHT).alias("weight"))
    labels = pl.concat([people, rules.join(people, on="opinion_id", how="anti")])
    return labels.join(conn.sql(NARRATIVE_IDS_SQL).pl(), on="opinion_id", how="semi")


TRAINING_COLUMNS = [
    "summary_text",
    "outcome",
    "specialty",
    "initial_family",
    "initial_tier",
    "group",
    "weight",
]
#: Training weights by source: a person's reading above a rule's, the generated corpus below both.
HUMAN_WEIGHT, RULE_WEIGHT = 2.0, 1.0

# People's latest label per narrative opinion (opinion_labels), for training and for validation.
HUMAN_LABELS_SQL = """
SELECT l.opinion_id, lower(trim(l.outcome)) AS outcome, l.labelled_at
FROM staging.opinion_labels l JOIN staging.opinions o USING (opinion_id)
QUALIFY row_number() OVER (PARTITION BY l.opinion_id ORDER BY l.labelled_at DESC, l.loaded_at DESC) = 1
"""


def human_labels(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    ensure_inputs(conn)
    return conn.sql(HUMAN_LABELS_SQL).pl()


#: (size, seed) -> generated narratives with outcome, specialty, initial family and tier, phrase_group.
CorpusFactory = Callable[[int, int], pl.DataFrame]


def _corpus(training_corpus: CorpusFactory, n: int, seed: int) -> pl.DataFrame:
    corpus = training_corpus(n, seed).rename({"phrase_group": "group"})
    return corpus.with_columns(("corpus-" + pl.col("group").cast(pl.String)).alias("group"))


def text_training_frame(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    training_corpus: CorpusFactory,
    labels: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, str, str]:
    """Narratives labelled by the structured rules (plus a generated corpus that broadens the
    wording), or the generated corpus alone when the warehouse holds too few; with the training
    source and data window the model card states (the dates of the labelled narratives used)."""
    labels = _labels(conn) if labels is None else labels
    n_people = int((labels["weight"] == HUMAN_WEIGHT).sum())
    sampled = capped_labels(labels, settings.text_model_max_train_narratives, settings.seed)
    labelled = narratives(conn).join(sampled, on="opinion_id", how="inner")
    if labelled.height == 0 or labels.height < settings.min_labelled_narratives:
        corpus = _corpus(training_corpus, max(20_000, settings.min_labelled_narratives * 5), settings.seed)
        corpus = corpus.with_columns(pl.lit(1.0).alias("weight"))
        return (
            corpus.select(TRAINING_COLUMNS),
            (
                f"generated corpus of {corpus.height:,} narratives (the warehouse held only {labelled.height:,} "
                f"labelled narratives, fewer than {settings.min_labelled_narratives:,})"
            ),
            "generated corpus (no dates)",
        )
    first, last = labelled["opinion_date"].min(), labelled["opinion_date"].max()
    window = f"opinions dated {first!s} to {last!s}"
    labelled = labelled.with_columns(text_groups(labelled["summary_text"]).cast(pl.String).alias("group"))
    source = (
        f"warehouse: {labelled.height:,} narratives labelled by the structured rules"
        f" ({n_people:,} of them by people)"
    )
    if labelled.height < labels.height:
        source += (
            f", a sample stratified by outcome of the {labels.height:,} labelled"
            f" (text_model_max_train_narratives {settings.text_model_max_train_narratives:,})"
        )
    frames = [labelled.with_columns(pl.col("initial_tier").cast(pl.Int64)).select(TRAINING_COLUMNS)]
    if settings.text_model_corpus_size > 0:
        corpus = _corpus(training_corpus, settings.text_model_corpus_size, settings.seed).with_columns(
            pl.col("initial_tier").cast(pl.Int64), pl.lit(settings.text_model_corpus_weight).alias("weight")
        )
        frames.append(corpus.select(TRAINING_COLUMNS))
        source += (
            f", plus a generated corpus of {corpus.height:,} narratives broadening wording and rare outcomes"
            f" (weight {settings.text_model_corpus_weight:g} each)"
        )
    return pl.concat(frames), source, window


def train_text_model(
    conn: duckdb.DuckDBPyConnection, warehouse: Path, settings: Settings, training_corpus: CorpusFactory
) -> dict[str, Any]:
    """Train, evaluate on held-out phrasing groups, save with skops and write the model card.

    The retraining policy (pipelines/lib/training/policy.py) decides first: a run whose labelled
    narratives changed by at most `retrain_changed_share`, with the same code, keeps the model it
    has (the returned metrics say `trained: False` and why).
    """
    from pipelines.lib.training.policy import kept_or_reason, training_record
    from pipelines.lib.training.propensity import model_threads

    out = artifacts_dir(warehouse)
    labels = _labels(conn)
    signature = training_signature(labels)
    version = text_code_version(settings)
    kept, why = kept_or_reason(
        out,
        TEXT_MODEL_FILE,
        TEXT_METRICS_FILE,
        signature,
        version,
        settings.retrain_changed_share,
        settings.retrain,
    )
    if kept is not None:
        return kept
    frame, source, window = text_training_frame(conn, settings, training_corpus, labels)
    model, metrics = train_text_classifier(
        frame, settings.seed, settings.text_model_threshold, threads=model_threads(settings)
    )
    metrics.update(training_record(why, version, signature))
    save_model(model, out / TEXT_MODEL_FILE)
    metrics["training_source"] = source
    metrics["data_window"] = window
    # The text path as a run applies it, on narratives people wrote or labelled.
    from pipelines.lib.training.validation import handwritten_validation, human_label_validation

    metrics["validation_sets"] = handwritten_validation(model, settings)
    metrics["human_labels"] = human_label_validation(conn, settings.text_model_threshold)
    (out / TEXT_METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str))
    from models.cards import write_model_card

    write_model_card(
        out / "text_classifier.md", "Opinion text classifier", metrics, window, source, TEXT_LIMITATIONS
    )
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


def bench_text_model(
    training_corpus: CorpusFactory, train_rows: int, score_rows: int
) -> dict[str, float | str]:
    """Benchmark: train on `train_rows` generated narratives, score `score_rows` (issue 4 budget)."""
    corpus = training_corpus(train_rows, 11).rename({"phrase_group": "group"})
    started = time.perf_counter()
    model, metrics = train_text_classifier(corpus, 11)
    trained = time.perf_counter() - started
    to_score = training_corpus(score_rows, 12).with_columns(
        opinion_id=pl.Series(np.arange(score_rows).astype(str))
    )
    started = time.perf_counter()
    predict_text(model, to_score)
    scored = time.perf_counter() - started
    return {
        "train_s": round(trained, 1),
        "score_s": round(scored, 1),
        "macro_f1": round(metrics["macro_f1"], 3),
        "as_of": dt.date.today().isoformat(),
    }


def bench_narrative_path(
    conn: duckdb.DuckDBPyConnection, training_corpus: CorpusFactory, n: int, rerun: bool = False
) -> dict[str, float | str]:
    """Benchmark of rule 5: stage `n` generated narratives (first call), read them all
    (core.opinion_extractions, cached on the re-run) and score them all with a model trained on
    50k generated narratives. Times exclude making the corpus and training."""
    from pipelines.lib.core.extractions import build_opinion_extractions
    from pipelines.lib.reference.catalogue import read_catalogue, write_reference

    if not rerun:
        from pipelines.lib.training.validation import stage_narratives

        corpus = training_corpus(n, 13).with_columns(narrative_id=pl.Series(np.arange(n).astype(str)))
        write_reference(conn, *read_catalogue())
        family_code = conn.sql(
            "SELECT family, min(procedure_code) AS initial_procedure_code FROM reference.procedures GROUP BY 1"
        ).pl()
        stage_narratives(
            conn,
            corpus.join(family_code, left_on="initial_family", right_on="family", how="left").select(
                "narrative_id", "specialty", "initial_procedure_code", "summary_text"
            ),
        )
    model, _ = train_text_classifier(training_corpus(50_000, 11).rename({"phrase_group": "group"}), 11)
    # CPU seconds beside wall seconds: on a shared machine the wall clock measures the neighbours too.
    started, cpu = time.perf_counter(), time.process_time()
    counts = build_opinion_extractions(conn)
    extracted, extracted_cpu = time.perf_counter() - started, time.process_time() - cpu
    frame = narratives(conn)
    started, cpu = time.perf_counter(), time.process_time()
    predict_text(model, frame)
    scored, scored_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "extract_cpu_s": round(extracted_cpu, 1),
        "score_cpu_s": round(scored_cpu, 1),
        "narratives": float(counts["narratives"]),
        "read": float(counts["read"]),
        "cached": float(counts["cached"]),
        "extract_s": round(extracted, 1),
        "score_s": round(scored, 1),
        "as_of": dt.date.today().isoformat(),
    }
