"""Write generated frames as a landing folder: one file per record type, CSV, Parquet or JSON Lines.

Why: the ingest reads a folder by file-name prefix and format (DESIGN "Inputs"), so the
generator writes exactly what a data provider would send: `cases.csv`, `opinions.csv`,
`follow_ups.csv` (or `.parquet`, `.jsonl`). Clean files keep native types where the format has
them; files with injected bad rows are all text, as a bad extract would be.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from pipelines.generate.dirty import DATETIME_FORMAT, inject
from pipelines.generate.generator import DEFAULT_START, generate_frames, window

EXTENSIONS: dict[str, str] = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}
RECORD_TYPES: tuple[str, ...] = ("cases", "opinions", "follow_ups")
#: Written when the frames hold them (generate(..., enrollment=True)).
OPTIONAL_TYPES: tuple[str, ...] = ("enrollment",)


def _json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """JSON has no date type: dates and timestamps as ISO text, the rest native."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            exprs.append(pl.col(name).dt.to_string("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(name).dt.to_string(DATETIME_FORMAT))
        else:
            exprs.append(pl.col(name))
    return frame.select(exprs)


def write_frames(frames: dict[str, pl.DataFrame], out_dir: Path, fmt: str = "csv") -> dict[str, int]:
    """Write each record type to `out_dir/<type><ext>`; returns rows written per file name."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"format must be one of {', '.join(EXTENSIONS)}, not {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for rtype in (*RECORD_TYPES, *(t for t in OPTIONAL_TYPES if t in frames)):
        frame = frames[rtype]
        path = out_dir / f"{rtype}{EXTENSIONS[fmt]}"
        if fmt == "csv":
            frame.write_csv(path, date_format="%Y-%m-%d", datetime_format=DATETIME_FORMAT)
        elif fmt == "parquet":
            frame.write_parquet(path, compression="zstd", statistics=False)
        else:
            _json_ready(frame).write_ndjson(path)
        written[path.name] = frame.height
    return written


def write_landing(
    frames: dict[str, pl.DataFrame],
    out_dir: Path,
    fmt: str = "csv",
    dirty_fraction: float = 0.0,
    seed: int = 0,
) -> dict[str, int]:
    """Write `frames` (from generate_frames) as a landing folder; rows written per file name.

    With `dirty_fraction` > 0 about that fraction of each file is bad rows (see dirty.py),
    drawn with `seed`; use `generate` to also get the injected counts.
    """
    if dirty_fraction > 0:
        frames = {**frames, **inject(frames, dirty_fraction, seed)[0]}
    return write_frames(frames, out_dir, fmt)


def generate(
    n_cases: int,
    seed: int,
    out_dir: Path,
    fmt: str = "csv",
    dirty_fraction: float = 0.0,
    enrollment: bool = False,
) -> dict:
    """Generate and write a landing folder; a summary of what was written.

    `enrollment` also writes `enrollment.<ext>`: each patient's coverage period.

    Keys: out_dir, format, seed, n_cases, first_referral, as_of (the extract date: the last
    referral day), files (rows per file name), clean_rows (per record type, before injection),
    injected (per record type: rows per quarantine reason, `duplicate`, `messy`), seconds.
    """
    started = time.perf_counter()
    frames = generate_frames(n_cases, seed, enrollment=enrollment)
    clean_rows = {k: frames[k].height for k in (*RECORD_TYPES, *OPTIONAL_TYPES) if k in frames}
    injected: dict[str, dict[str, int]] = {}
    if dirty_fraction > 0:
        dirty, injected = inject(frames, dirty_fraction, seed)
        frames = {**frames, **dirty}
    files = write_frames(frames, out_dir, fmt)
    first, as_of = window(DEFAULT_START, 24)
    return {
        "out_dir": str(Path(out_dir)),
        "format": fmt,
        "seed": seed,
        "n_cases": n_cases,
        "first_referral": first.isoformat(),
        "as_of": as_of.isoformat(),
        "files": files,
        "clean_rows": clean_rows,
        "injected": injected,
        "seconds": round(time.perf_counter() - started, 2),
    }
