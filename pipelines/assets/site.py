"""The dashboards asset: a static site built from the marts only (never from case rows)."""


import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl

from dashboards.site import build_site
from pipelines.assets.marts import MART_KEYS
from pipelines.assets.modelling import TARGETING
from pipelines.resources import SecondLook
from pipelines.settings import load_settings
from pipelines.warehouse import connect, finish_run

SITE = dg.AssetKey(["dashboards", "site"])
PRICE_COLUMNS = "procedure_code, description, specialty, family, tier, cost_usd, cost_basis, cost_year, cost_source"


def read_marts(conn) -> dict[str, pl.DataFrame]:
    """Every marts.* table as a Polars frame keyed by table name (review_queue is case level: left out)."""
    names = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()]
    return {n: conn.sql(f"SELECT * FROM marts.{n}").pl() for n in names if n != "review_queue"}


def build_site_from_warehouse(warehouse: Path, out_dir: Path, run_id: str = "") -> list[Path]:
    conn = connect(warehouse, read_only=True)
    try:
        marts = read_marts(conn)
        marts["price_sources"] = conn.sql(f"SELECT {PRICE_COLUMNS} FROM reference.procedures ORDER BY 1").pl()
    finally:
        conn.close()
    settings = load_settings()
    summary = dict(marts["run_summary"].iter_rows()) if "run_summary" in marts else {}
    run_info = {
        "run_id": run_id or summary.get("run_id", ""),
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
        "data_freshness": summary.get("data_freshness", ""),
        "settings": settings.as_dict(),
    }
    return build_site(marts, out_dir, run_info, threshold=settings.suppression_threshold)


@dg.asset(
    key=SITE, group_name="dashboards", kinds={"plotly", "html"}, deps=[*MART_KEYS, TARGETING],
    description="Static dashboards: overview, one page per specialty, cost impact, data quality, methodology.",
)
def site(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    out = Path(secondlook.site)
    pages = build_site_from_warehouse(Path(secondlook.warehouse), out, context.run_id)
    with secondlook.writer() as conn:
        finish_run(conn, context.run_id)
    largest = max((p.stat().st_size for p in pages), default=0)
    secondlook.say(f"dashboards: {len(pages)} pages in {out}")
    return dg.MaterializeResult(metadata={
        "pages": len(pages), "index": dg.MetadataValue.path(str(out / "index.html")),
        "largest_page_bytes": largest, "page_list": json.dumps([p.name for p in pages]),
    })
