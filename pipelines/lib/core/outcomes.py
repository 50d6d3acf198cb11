"""Outcome classification of second opinions: DESIGN "Outcome classification", rules 1-6.

One SQL statement (sql/outcomes.sql, `opinion_rules`) decides every opinion from the fields it
carries with rules 1-4: its structured fields, or, for a narrative-only opinion, the fields
extraction read from its narrative (rule 5, core.opinion_extractions). So a narrative is decided
by exactly the rules a structured opinion is, and a clinical quality lead can read why. The same
statement serves the per-opinion labels the text model trains on and the per-case table.

Per case (`case_outcomes`): a person's label (opinion_labels) overrides everything; then the
structured rules; then the extraction, unless the classifier confidently disagrees; then the
classifier alone where the text holds no decision the rules can read; anything else is
unclassified with a reason (`needs_review: ...` when a person should read it).

Reasons are short: which rule fired for a structured case (`lower_tier`, `recommendation_defer`),
the evidence for a narrative (`text: recommends 63030 over 22612 (rule 3)`), or why not
(`unknown_initial_code:<code>`, `narrative_only`, `needs_review: ...`, `no_signal`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.sqlfiles import bind, queries
from pipelines.lib.vocabulary import REVIEW_OUTCOMES
from pipelines.lib.warehouse import table_exists

SQL = Path(__file__).with_name("sql") / "outcomes.sql"

# Rules 1-4 decide a reason (the CASE in sql/outcomes.sql, written once); each deciding reason
# names its outcome here. Any other reason (unknown code, narrative only, no signal) decides nothing.
OUTCOME_OF_REASON: dict[str, str] = {
    "recommendation_defer": "deferred",
    "recommendation_further_testing": "deferred",
    "recommendation_conservative": "non_surgical",
    "same_code": "confirmed",
    "recommended_tier_0": "non_surgical",
    "lower_tier": "less_invasive",
    "higher_tier": "more_invasive",
    "same_tier_same_family": "confirmed",
    "same_tier_other_family": "alternative",
    "proceed_without_code": "confirmed",
}

EXTRACTIONS_DDL = """CREATE TABLE IF NOT EXISTS core.opinion_extractions (
    opinion_id VARCHAR, narrative_hash VARCHAR, recommendation VARCHAR, recommended_procedure_code VARCHAR,
    evidence VARCHAR, confidence DOUBLE,
    spans STRUCT("start" BIGINT, "end" BIGINT, "text" VARCHAR, concept VARCHAR, code VARCHAR, assertion VARCHAR,
                 "trigger" VARCHAR, role VARCHAR)[],
    extractor_version VARCHAR, extracted_at TIMESTAMP, deciding_rule VARCHAR, extracted_outcome VARCHAR)"""
LABELS_DDL = """CREATE TABLE IF NOT EXISTS staging.opinion_labels (
    opinion_id VARCHAR, outcome VARCHAR, labelled_at TIMESTAMP, labeller VARCHAR, note VARCHAR,
    record_hash VARCHAR, source_file VARCHAR, source_sha256 VARCHAR, source_row BIGINT, loaded_at TIMESTAMP,
    run_id VARCHAR)"""


def _sql(name: str) -> str:
    return queries(SQL)[name]


def ensure_inputs(conn: duckdb.DuckDBPyConnection) -> None:
    """The optional inputs of rule 5 exist even before their first run: no extraction yet, no label
    yet. A warehouse that has them is left alone (a notebook may hold it read-only)."""
    if table_exists(conn, "core.opinion_extractions"):
        columns = {r[0] for r in conn.execute("DESCRIBE core.opinion_extractions").fetchall()}
        if "extracted_outcome" not in columns:  # readings are a cache: one of an older layout is redone
            conn.execute("DROP TABLE core.opinion_extractions")
    for table, ddl in (("core.opinion_extractions", EXTRACTIONS_DDL), ("staging.opinion_labels", LABELS_DDL)):
        if not table_exists(conn, table):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
            conn.execute(ddl)


def rules_params(latest_only: bool, text_always: bool = False) -> dict[str, object]:
    return {
        "latest_only": latest_only,
        "text_always": text_always,
        "reasons": list(OUTCOME_OF_REASON),
        "outcomes": list(OUTCOME_OF_REASON.values()),
    }


def opinion_rule_outcomes(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rules 1-4 on every staged opinion's *structured* fields: opinion_id, case_id, outcome,
    outcome_source, reason.

    `outcome` is null where structured fields decide nothing (reason says why: narrative_only,
    an unknown code, no_signal). The text model trains on these labels and on people's labels;
    a narrative's own extraction never labels its training data.
    """
    ensure_inputs(conn)
    text = _sql("opinion_rules")
    rows = conn.sql(text, params=bind(text, rules_params(False))).pl()
    structured = rows.filter(pl.col("field_source") == "structured")
    narrative = rows.filter(pl.col("field_source") != "structured")
    out = pl.concat(
        [
            structured.select(
                "opinion_id",
                "case_id",
                pl.col("rule_outcome").alias("outcome"),
                pl.when(pl.col("rule_outcome").is_null())
                .then(pl.lit("none"))
                .when(pl.col("rule_number") == 3)
                .then(pl.lit("procedure_code"))
                .otherwise(pl.lit("recommendation"))
                .alias("outcome_source"),
                pl.col("rule_reason").alias("reason"),
            ),
            narrative.select(
                "opinion_id",
                "case_id",
                pl.lit(None, dtype=pl.String).alias("outcome"),
                pl.lit("none").alias("outcome_source"),
                pl.lit("narrative_only").alias("reason"),
            ),
        ]
    )
    return out.sort("opinion_id")


def _register_predictions(conn: duckdb.DuckDBPyConnection, text_predictions: pl.DataFrame | None) -> str:
    name = "_secondlook_text_predictions"
    if text_predictions is None:
        frame = pl.DataFrame(
            schema={"opinion_id": pl.Utf8, "predicted_outcome": pl.Utf8, "probability": pl.Float64}
        )
    else:
        frame = text_predictions.select(
            pl.col("opinion_id").cast(pl.Utf8),
            pl.col("predicted_outcome").cast(pl.Utf8),
            pl.col("probability").cast(pl.Float64),
        ).unique(subset="opinion_id", keep="last")
    conn.register(name, frame.to_arrow())
    return name


def build_case_outcomes(
    conn: duckdb.DuckDBPyConnection,
    text_predictions: pl.DataFrame | None,
    threshold: float,
    disagreement: float = 0.9,
) -> None:
    """Write core.case_outcomes (one row per case with an opinion) and core.pending_cases.

    `threshold` is the classifier probability its label needs to be used (text_model_threshold);
    `disagreement` the probability at which its different reading sends an extraction to review
    (text_review_disagreement; an extraction that is itself unsure goes at `threshold`). The
    classifier's label and probability are kept in predicted_outcome / predicted_probability.
    """
    ensure_inputs(conn)
    preds = _register_predictions(conn, text_predictions)
    rules = _sql("opinion_rules")
    try:
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE _secondlook_ruled AS " + rules, bind(rules, rules_params(True))
        )
        text = _sql("case_outcomes")
        params = {
            "threshold": float(threshold),
            "disagreement": float(disagreement),
            "valid": list(REVIEW_OUTCOMES),
        }
        conn.execute("CREATE OR REPLACE TABLE core.case_outcomes AS " + text, bind(text, params))
    finally:
        conn.unregister(preds)
        conn.execute("DROP TABLE IF EXISTS _secondlook_ruled")
    conn.execute("CREATE OR REPLACE TABLE core.pending_cases AS " + _sql("pending_cases"))
