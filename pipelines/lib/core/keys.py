"""Pseudonyms for publication: reviewer and plan ids never reach the site, only stable labels.

core.publication_keys keeps, per warehouse, the number each reviewer and plan was given when it
first appeared ("Reviewer 07"), so a label means the same reviewer run after run, and the quality
team can look a label up. New ids are numbered in an order drawn from a secret made for the run
and never stored, so neither the numbers nor their order reveal anything about the ids. A plan
takes the display name a payer configured (setting plan_display_names), where there is one.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.sqlfiles import queries

SQL = queries(Path(__file__).with_name("sql") / "publication_keys.sql")


def plan_display_names(path: str) -> pl.DataFrame:
    """plan_id, display_name from the configured CSV (empty when none is configured)."""
    if not path:
        return pl.DataFrame(schema={"plan_id": pl.String, "display_name": pl.String})
    frame = pl.read_csv(path, infer_schema=False)
    missing = {"plan_id", "display_name"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path}: plan display names need columns plan_id and display_name (missing {sorted(missing)})"
        )
    return frame.select(pl.col("plan_id").str.strip_chars(), pl.col("display_name").str.strip_chars())


def build_publication_keys(conn: duckdb.DuckDBPyConnection, run_id: str, plan_names: pl.DataFrame) -> int:
    """Add this run's new reviewers and plans to core.publication_keys and (re)label all; returns rows."""
    conn.execute(SQL["create"])
    conn.execute(SQL["add_new"], {"nonce": secrets.token_hex(16), "run_id": run_id})
    conn.register("plan_names", plan_names.to_arrow())
    try:
        conn.execute(SQL["label"])
    finally:
        conn.unregister("plan_names")
    return int(conn.execute("SELECT count(*) FROM core.publication_keys").fetchall()[0][0])
