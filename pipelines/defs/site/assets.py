"""The dashboards: a static site built from the published marts only (never from case rows)."""

import json

import dagster as dg

from pipelines.defs.marts.assets import UNPUBLISHED
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import key, keys
from pipelines.lib.faults import pause_point
from pipelines.lib.marts import MARTS
from pipelines.lib.site.publish import render_site
from pipelines.lib.site.release import release_dir

SITE = key("dashboards.site")
PUBLISHED = [m.table for m in MARTS if m.name not in UNPUBLISHED]


@dg.asset(
    key=SITE,
    group_name="dashboards",
    kinds={"plotly", "html"},
    owners=["team:clinical-quality"],
    deps=keys([*PUBLISHED, "marts.targeting", "reference.procedures", "core.publication_keys"]),
    tags={"published": "site"},
    description="Static dashboards (overview, one page per specialty, cost impact, data quality, methodology), "
    "built into this run's release folder; audit.runs swaps them in with the reader snapshot.",
)
def site(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    out = release_dir(secondlook.warehouse_path, context.run_id) / "site"
    with secondlook.writer() as conn:
        pages = render_site(conn, out, secondlook.settings(), context.run_id)
    pause_point("site_build")  # tests kill the run here: the site is built but not released
    largest = max((p.stat().st_size for p in pages), default=0)
    secondlook.say(f"dashboards: {len(pages)} pages built, to be released with the run")
    return dg.MaterializeResult(
        metadata={
            "pages": len(pages),
            "index": dg.MetadataValue.path(str(out / "index.html")),
            "largest_page_bytes": largest,
            "page_list": json.dumps([p.name for p in pages]),
        }
    )
