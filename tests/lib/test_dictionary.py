"""One source, two outputs: docs/warehouse.md and the warehouse's own comments come from
docs/warehouse.yaml, and a table or column a run writes without an entry there fails a test."""

from __future__ import annotations

import duckdb

from pipelines.lib.dictionary import MARKDOWN, apply_comments, load, render_markdown, undocumented
from pipelines.lib.landing.contracts import load_contracts
from pipelines.lib.landing.ingest import ensure_staging


def test_the_markdown_is_rendered_from_the_yaml() -> None:
    """Edit docs/warehouse.yaml, then `python -m pipelines.lib.dictionary` rewrites the Markdown."""
    assert MARKDOWN.read_text(encoding="utf-8") == render_markdown()


def test_staging_tables_take_their_columns_from_the_contract_plus_the_lineage_columns() -> None:
    versions = load().tables["staging.opinion_versions"]
    names = [c for c, _ in versions.columns]
    assert names == [
        *load_contracts()["opinions"].columns,
        "record_hash",
        "source_file",
        "source_sha256",
        "source_row",
        "loaded_at",
        "run_id",
    ]
    assert (
        dict(versions.columns)["source_sha256"] == "sha256 of that file's bytes (audit.ingest_files.sha256)"
    )


def test_ingest_tables_are_documented_and_commented() -> None:
    conn = duckdb.connect()
    ensure_staging(conn, load_contracts())
    assert undocumented(conn) == []
    assert apply_comments(conn) > 0
    table = conn.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name = 'staging' AND table_name = 'opinions_waiting'"
    ).fetchall()
    assert table == [(load().tables["staging.opinions_waiting"].description,)]
    column = conn.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'audit' AND table_name = 'ingest_files' "
        "AND column_name = 'decimal_separator'"
    ).fetchall()
    assert column == [("CSV: `,` when a file not delimited by commas writes numbers as `12,50`, else `.`",)]


def test_a_table_or_column_missing_from_the_dictionary_is_named() -> None:
    conn = duckdb.connect()
    ensure_staging(conn, load_contracts())
    conn.execute("CREATE TABLE marts.new_mart (x INTEGER)")
    conn.execute("ALTER TABLE staging.cases ADD COLUMN surprise VARCHAR")
    assert undocumented(conn) == ["marts.new_mart", "staging.cases.surprise"]
