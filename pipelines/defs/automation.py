"""Automation: the job that refreshes everything, and a sensor that starts it when landing files
appear or change."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import SecondLook
from pipelines.lib.landing.files import discover

refresh_job = dg.define_asset_job(
    "refresh_all",
    selection=dg.AssetSelection.all(),
    description="Ingest the landing folder and rebuild everything downstream of it.",
)


def landing_listing(landing: Path) -> dict[str, list[int]]:
    """name -> [size, mtime_ns] of every landing entry: a cheap fingerprint of the folder (lstat:
    a dangling link is an entry too, and is recorded as skipped by the run it starts)."""
    if not landing.is_dir():
        return {}
    return {f.name: [f.path.lstat().st_size, f.path.lstat().st_mtime_ns] for f in discover(landing)}


def new_files(previous: dict[str, list[int]], current: dict[str, list[int]]) -> list[str]:
    return sorted(name for name, sig in current.items() if previous.get(name) != sig)


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs refresh_all when a landing file is added or changed.",
)
def landing_sensor(context: dg.SensorEvaluationContext, secondlook: SecondLook):
    current = landing_listing(Path(secondlook.landing))
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = new_files(previous, current)
    if not changed:
        return dg.SkipReason(f"no new files in {secondlook.landing}")
    context.update_cursor(json.dumps(current))
    digest = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=digest, tags={"secondlook/new_files": ", ".join(changed)[:200]})
