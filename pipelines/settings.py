"""Run settings: one TOML file of defaults, each key overridable by a SECONDLOOK_<KEY> variable.

Settings are read when a run starts (never at import time), so tests and the Dagster UI can
change them through the environment without reloading modules.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULTS_FILE = Path(__file__).with_name("settings.toml")


@dataclass(frozen=True)
class Settings:
    program_fee_usd: float
    horizon_months: int
    min_cases_observed_leakage: int
    bootstrap_resamples: int
    seed: int
    text_model_threshold: float
    text_model_f1_floor: float
    min_labelled_narratives: int
    text_model_corpus_size: int
    suppression_threshold: int
    gx_max_rows: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults from `path` (the shipped settings.toml), then SECONDLOOK_* overrides from `env`."""
    env = dict(os.environ) if env is None else env
    path = Path(env.get("SECONDLOOK_SETTINGS", path or DEFAULTS_FILE))
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    values: dict[str, float | int] = {}
    for f in fields(Settings):
        cast = float if f.type in ("float", float) else int
        key = f"SECONDLOOK_{f.name.upper()}"
        if key in env:
            try:
                values[f.name] = cast(env[key])
            except ValueError as exc:
                raise ValueError(f"{key}={env[key]!r} is not a valid {cast.__name__}") from exc
        elif f.name in raw:
            values[f.name] = cast(raw[f.name])
        else:
            raise ValueError(f"setting {f.name!r} missing from {path}")
    return Settings(**values)  # type: ignore[arg-type]
