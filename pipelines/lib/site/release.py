"""Releasing a run: the site and the reader snapshot of the warehouse swapped in together, or not at all.

Every run publishes into a folder of its own, `<warehouse>.published/<run_id>/` holding `site/`
and `warehouse.duckdb` (a read-only copy of the warehouse as the run left it). A symlink,
`<warehouse>.published/current`, names the released run; the site path users open and the
snapshot path readers open both resolve through it. Releasing is one atomic rename of that
symlink, so a reader sees the previous run whole or this run whole, never a mix; a run that is
killed or fails before its release leaves the previous one in place.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import artifacts_dir

CURRENT = "current"
KEEP_RELEASES = 2  # the released run and the one before it (a reader may still hold it open)


def releases_dir(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".published")


def release_dir(warehouse: Path, run_id: str) -> Path:
    """Where run `run_id` builds what it will publish (not visible until it is released)."""
    return releases_dir(warehouse) / run_id


def current_dir(warehouse: Path) -> Path:
    return releases_dir(warehouse) / CURRENT


def snapshot_path(warehouse: Path) -> Path:
    """The reader snapshot of the released run: what notebooks and other readers open."""
    return current_dir(warehouse) / "warehouse.duckdb"


def released_run(warehouse: Path) -> dict[str, str] | None:
    """The record (run_id, finished_at, ...) of the run currently released, if any."""
    try:
        return dict(json.loads((current_dir(warehouse) / "run.json").read_text()))
    except (OSError, ValueError):
        return None


def _swap_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` with one atomic rename (a new link beside it, renamed over it)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def link_site(site: Path, warehouse: Path) -> None:
    """Make `site` (the folder users open) a symlink to the released site. A real folder found
    there (a site built before releases existed) is moved aside, never deleted."""
    target = os.path.relpath(current_dir(warehouse) / "site", site.parent.resolve())
    if site.is_symlink():
        if os.readlink(site) != target:
            _swap_symlink(site, target)
        return
    site.parent.mkdir(parents=True, exist_ok=True)
    if site.exists():
        site.rename(site.with_name(f"{site.name}.before-releases-{time.strftime('%Y%m%d%H%M%S')}"))
    os.symlink(target, site)


def snapshot(conn: duckdb.DuckDBPyConnection, warehouse: Path, run_id: str) -> Path:
    """Copy the warehouse as this run leaves it, and the models it trained, into the run's release folder.

    CHECKPOINT writes every change into the database file; the writer holds the warehouse for
    the whole run, so nothing else changes it while the bytes are copied. The models travel with
    the snapshot (`artifacts/` beside it, as beside the warehouse) so a reader's tables and
    models are always the same run's.
    """
    conn.execute("CHECKPOINT")
    folder = release_dir(warehouse, run_id)
    out = folder / "warehouse.duckdb"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    shutil.copyfile(warehouse, tmp)
    os.replace(tmp, out)
    models = artifacts_dir(warehouse)
    if models.is_dir():
        shutil.copytree(models, folder / "artifacts", dirs_exist_ok=True)
    return out


def release(warehouse: Path, site: Path, run_id: str, record: dict[str, object]) -> None:
    """Swap in run `run_id`'s site and snapshot together, then drop releases nobody needs."""
    folder = release_dir(warehouse, run_id)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, **record}, default=str, indent=1))
    _swap_symlink(current_dir(warehouse), run_id)
    link_site(site, warehouse)
    prune(warehouse, keep=run_id)


def prune(warehouse: Path, keep: str) -> None:
    """Remove unreleased folders of killed runs and all but the last KEEP_RELEASES releases."""
    root = releases_dir(warehouse)
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    released = [p for p in folders if (p / "run.json").exists()]
    keep_names = {keep, *(p.name for p in released[:KEEP_RELEASES])}
    for folder in folders:
        if folder.name not in keep_names:
            shutil.rmtree(folder, ignore_errors=True)
