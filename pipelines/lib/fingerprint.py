"""What a run's result depends on, as one fingerprint: a run with nothing new recomputes nothing.

A run is a function of its landing files, the payer's costs file, the settings in force and the
code (the library, the models, the data contracts, the dashboards). When all four are what they were for the
last run that completed and published, running again would rebuild the same warehouse and the
same site, so `secondlook run` skips the materialisation and says so (`--full` rebuilds anyway).

Why a fingerprint of the whole run rather than Dagster's per-asset staleness: the assets write
DuckDB tables in place and are not yet versioned one by one (code_version per asset and
observed data versions for the landing files are the next step, issue 14), and a run that
skips nothing when one input changed is always correct. The landing files are identified by
their content (SHA-256, as ingest's source_sha256), re-hashed only when their size, mtime or
inode changed since the fingerprint was taken, so a no-op check reads nothing it has read before.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Folders whose files make up the code version: the library and its wiring, the models, the
#: contracts, and the dashboards (a new page or disclosure rule must republish the site).
CODE_FOLDERS: tuple[Path, ...] = (
    ROOT / "pipelines",
    ROOT / "models",
    ROOT / "data_contracts",
    ROOT / "dashboards",
)
CODE_SUFFIXES = frozenset({".py", ".sql", ".toml", ".yaml", ".yml", ".csv", ".json"})
FINGERPRINT_FILE = "last_run.fingerprint.json"
_CHUNK = 1 << 22


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def code_version() -> str:
    """SHA-256 over the path and content of every source file of the run (computed once a process)."""
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted(p for p in folder.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def landing_state(landing: Path, previous: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """name -> {size, mtime_ns, inode, sha256} of every regular landing file; other entries (links,
    folders) by their lstat and link target only, never followed. A file whose size, mtime and
    inode match `previous` keeps its recorded hash instead of being read again."""
    previous = previous or {}
    state: dict[str, dict[str, Any]] = {}
    if not landing.is_dir():
        return state
    for entry in sorted(landing.iterdir()):
        if entry.name.startswith("."):
            continue
        info = entry.lstat()
        sig: dict[str, Any] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino}
        if stat.S_ISREG(info.st_mode):
            known = previous.get(entry.name, {})
            same = all(known.get(k) == v for k, v in sig.items())
            sig["sha256"] = known["sha256"] if same and "sha256" in known else file_sha256(entry)
        else:
            sig["kind"] = stat.filemode(info.st_mode)[0]
            sig["target"] = os.readlink(entry) if entry.is_symlink() else ""
        state[entry.name] = sig
    return state


def run_fingerprint(
    landing: Path, costs: Path | None, settings: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The inputs of a run: landing files, costs file, settings and code version."""
    files = landing_state(landing, (previous or {}).get("landing"))
    return {
        "landing": files,
        "costs": file_sha256(costs) if costs is not None and costs.is_file() else None,
        "settings": dict(settings),
        "code_version": code_version(),
    }


def same_inputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two fingerprints name the same inputs (file contents, not their timestamps)."""

    def content(f: Mapping[str, Any]) -> dict[str, Any]:
        files = {
            n: s.get("sha256") or [s.get("kind"), s.get("target")] for n, s in f.get("landing", {}).items()
        }
        return {"landing": files, **{k: f.get(k) for k in ("costs", "settings", "code_version")}}

    return json.dumps(content(a), sort_keys=True, default=str) == json.dumps(
        content(b), sort_keys=True, default=str
    )


def changed_inputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Which of landing, costs, settings and code differ between two fingerprints (for the summary)."""
    if same_inputs(a, b):
        return []
    parts = []
    if not same_inputs({"landing": a.get("landing", {})}, {"landing": b.get("landing", {})}):
        parts.append("landing files")
    for key, label in (("costs", "costs file"), ("settings", "settings"), ("code_version", "code")):
        if json.dumps(a.get(key), sort_keys=True, default=str) != json.dumps(
            b.get(key), sort_keys=True, default=str
        ):
            parts.append(label)
    return parts


def read_fingerprint(artifacts: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((artifacts / FINGERPRINT_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def write_fingerprint(artifacts: Path, fingerprint: Mapping[str, Any], run_id: str) -> None:
    """Record the inputs of a run that completed and published (atomically: a crash leaves the old one)."""
    artifacts.mkdir(parents=True, exist_ok=True)
    tmp = artifacts / f".{FINGERPRINT_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({**fingerprint, "run_id": run_id}, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, artifacts / FINGERPRINT_FILE)
