"""Publishing the dashboards: read the marts (aggregates only, never a case row) and render the site."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl

from dashboards.site import DISCLOSURE_FILE, build_site
from pipelines.lib.settings import Settings
from pipelines.lib.warehouse import table_exists

PRICE_COLUMNS = (
    "procedure_code, description, specialty, family, tier, cost_usd, cost_basis, cost_year, cost_source"
)
#: Marts never published: the case-level review queue, the reviewers' CUSUM states (their
#: signal months are published through marts.reviewer_variation), and the ingest run history
#: (for data engineers in the warehouse; not yet through the site's disclosure control).
UNPUBLISHED_MARTS = frozenset({"review_queue", "reviewer_cusum", "data_quality_runs"})


def read_marts(conn: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """Every published marts.* table as a Polars frame keyed by table name, plus the price sources."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
        ).fetchall()
    ]
    marts = {n: conn.sql(f"SELECT * FROM marts.{n}").pl() for n in names if n not in UNPUBLISHED_MARTS}
    marts["price_sources"] = conn.sql(f"SELECT {PRICE_COLUMNS} FROM reference.procedures ORDER BY 1").pl()
    # the labels reviewers and plans are published under (never the ids)
    if table_exists(conn, "core.publication_keys"):
        marts["publication_keys"] = conn.sql("SELECT dimension, value, label FROM core.publication_keys").pl()
    return marts


def render_site(
    conn: duckdb.DuckDBPyConnection, out_dir: Path, settings: Settings, run_id: str = ""
) -> list[Path]:
    """Render the site from the warehouse's marts into `out_dir`; returns the pages written."""
    marts = read_marts(conn)
    summary = dict(marts["run_summary"].iter_rows()) if "run_summary" in marts else {}
    run_info = {
        "run_id": run_id or summary.get("run_id", ""),
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
        "data_freshness": summary.get("data_freshness", ""),
        "settings": settings.as_dict(),
    }
    return build_site(
        marts,
        out_dir,
        run_info,
        threshold=settings.suppression_threshold,
        protection=settings.protection_interval,
    )


def read_disclosure(site_dir: Path) -> tuple[dict[str, int | float | None], int]:
    """The publication audit's decision summary that `render_site` wrote beside the pages, and
    the threshold it decided for."""
    decided = json.loads((site_dir / DISCLOSURE_FILE).read_text(encoding="utf-8"))
    return decided["summary"], int(decided["threshold"])
