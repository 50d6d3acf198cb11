"""The dashboards: a static site built from the published marts only (never from case rows)."""

import json
from pathlib import Path

import dagster as dg

from pipelines.defs.marts.assets import UNPUBLISHED
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import key, keys
from pipelines.lib.marts import MARTS
from pipelines.lib.site.publish import render_site

SITE = key("dashboards.site")
PUBLISHED = [m.table for m in MARTS if m.name not in UNPUBLISHED]


@dg.asset(
    key=SITE,
    group_name="dashboards",
    kinds={"plotly", "html"},
    owners=["team:clinical-quality"],
    deps=keys([*PUBLISHED, "marts.targeting", "reference.procedures"]),
    tags={"published": "site"},
    description="Static dashboards: overview, one page per specialty, cost impact, data quality, methodology.",
)
def site(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    out = Path(secondlook.site)
    with secondlook.writer() as conn:
        pages = render_site(conn, out, secondlook.settings(), context.run_id)
    largest = max((p.stat().st_size for p in pages), default=0)
    secondlook.say(f"dashboards: {len(pages)} pages in {out}")
    return dg.MaterializeResult(
        metadata={
            "pages": len(pages),
            "index": dg.MetadataValue.path(str(out / "index.html")),
            "largest_page_bytes": largest,
            "page_list": json.dumps([p.name for p in pages]),
        }
    )
