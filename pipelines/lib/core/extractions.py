"""core.opinion_extractions: every staged narrative read into rules 1-4's fields, with its evidence.

One row per narrative opinion (models/extraction.py does the reading): the recommendation and
code read, the evidence in words, the matched spans with character offsets, ConText assertion
and role, and the extractor version. Readings are cached by narrative hash (text, specialty, the
first doctor's code and the extractor version), so a re-run reads only new or changed narratives.
Narratives with structured fields are read too: their rule labels validate the text path.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from models.extraction import EXTRACTOR_VERSION, extract_narratives
from pipelines.lib.core.outcomes import SQL as OUTCOMES_SQL
from pipelines.lib.core.outcomes import ensure_inputs, rules_params
from pipelines.lib.sqlfiles import bind, queries

SQL = Path(__file__).with_name("sql") / "extractions.sql"


def outcome_queries() -> dict[str, str]:
    return queries(OUTCOMES_SQL)


#: Narratives read per batch: memory stays flat however many arrive.
BATCH = 250_000


def build_opinion_extractions(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Bring core.opinion_extractions up to date; returns narratives, read now, cached."""
    ensure_inputs(conn)
    sql = queries(SQL)
    text = sql["narratives_to_read"]
    to_read = conn.sql(text, params=bind(text, {"version": EXTRACTOR_VERSION})).pl()
    conn.register("_secondlook_to_read", to_read.select("opinion_id", "narrative_hash").to_arrow())
    try:
        conn.execute(sql["keep_cached"])
    finally:
        conn.unregister("_secondlook_to_read")
    cached = conn.sql("SELECT opinion_id FROM core.opinion_extractions").pl()
    new = to_read.join(cached, on="opinion_id", how="anti")
    for start in range(0, new.height, BATCH):  # batches, not rows
        batch = new.slice(start, BATCH)
        read = extract_narratives(batch).join(batch.select("opinion_id", "narrative_hash"), on="opinion_id")
        conn.register("_secondlook_read", read.to_arrow())
        try:
            conn.execute(
                """INSERT INTO core.opinion_extractions
                SELECT opinion_id, narrative_hash, recommendation, recommended_procedure_code, evidence, confidence,
                       spans, extractor_version, now()::TIMESTAMP, NULL, NULL FROM _secondlook_read"""
            )
        finally:
            conn.unregister("_secondlook_read")
    rules = outcome_queries()["opinion_rules"]
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _secondlook_rules AS {rules}",
        bind(rules, rules_params(False, text_always=True)),
    )
    try:
        conn.execute(sql["with_rule_labels"])
    finally:
        conn.execute("DROP TABLE IF EXISTS _secondlook_rules")
    return {"narratives": to_read.height, "read": new.height, "cached": cached.height}


def extraction_frame(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The extractions as a frame (notebooks, the review export)."""
    ensure_inputs(conn)
    return conn.sql("SELECT * FROM core.opinion_extractions").pl()
