"""Run settings: one validated model, its defaults in settings.toml, each key overridable by a
SECONDLOOK_<KEY> environment variable.

Every key has a type and a range, so a value that would quietly change what is published (a
suppression threshold below the CMS cell size of 11, a horizon of 0 months) is refused in one
line naming the variable, the value and the range allowed. Settings are read when a run starts,
never at import time, so tests and the Dagster UI can change them through the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULTS_FILE = Path(__file__).with_name("settings.toml")
ENV_PREFIX = "SECONDLOOK_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line for a person."""


class Settings(BaseModel):
    """Every assumption of a run. The bounds are the ranges in which the methods stay meaningful."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    program_fee_usd: float = Field(ge=0, le=100_000, description="fee per completed review, USD")
    horizon_months: int = Field(
        ge=1, le=60, description="months after the opinion in which leakage is sought"
    )
    min_cases_observed_leakage: int = Field(
        ge=0,
        le=100_000,
        description="closed-horizon cases a specialty needs before its observed rates replace defaults",
    )
    bootstrap_resamples: int = Field(
        ge=1, le=100_000, description="bootstrap replicates of the cost intervals"
    )
    seed: int = Field(ge=0, description="seed of every random draw (bootstrap, model splits)")
    text_model_threshold: float = Field(
        ge=0.0, le=1.0, description="probability the text model needs before its label is used"
    )
    text_model_f1_floor: float = Field(
        ge=0.0, le=1.0, description="held-out macro-F1 the text model must reach"
    )
    min_labelled_narratives: int = Field(
        ge=0, description="rule-labelled narratives below which the text model trains on the generated corpus"
    )
    text_model_corpus_size: int = Field(
        ge=0, le=1_000_000, description="generated narratives added to training"
    )
    suppression_threshold: int = Field(
        ge=11, le=1_000, description="published counts from 1 to this minus one are suppressed (CMS: 11)"
    )
    gx_max_rows: int = Field(ge=1, description="staged rows Great Expectations validates per table")
    orphan_after_days: int = Field(
        ge=1,
        le=3650,
        description="days an opinion may wait for its case before it is listed as an orphan",
    )

    def as_dict(self) -> dict[str, float | int]:
        return self.model_dump()

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed, validated like the original."""
        return Settings.model_validate({**self.model_dump(), **changes})


def env_name(key: str) -> str:
    return f"{ENV_PREFIX}{key.upper()}"


def _problem(error: Mapping[str, Any], sources: Mapping[str, str], values: Mapping[str, object]) -> str:
    """One line for the first validation error: where the value came from, what it is, what is allowed."""
    key = str(error["loc"][0]) if error.get("loc") else "?"
    where = sources.get(key, f"setting {key}")
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown setting {key!r} (known: {', '.join(Settings.model_fields)})"
    if error["type"] == "missing":
        return f"setting {key!r} is missing from {sources.get('__file__', 'the settings file')}"
    field = Settings.model_fields[key]
    kind = (
        "a whole number"
        if field.annotation is int
        else "a number"
        if field.annotation is float
        else "a value"
    )
    bounds = [
        f"{name} {value:g}"
        for m in field.metadata
        for name, value in (("at least", getattr(m, "ge", None)), ("at most", getattr(m, "le", None)))
        if value is not None
    ]
    value = values.get(key)
    shown = value if isinstance(value, str) else repr(value)
    return (
        f"{where}={shown} is not allowed: {key} must be {kind}{' ' + ' and '.join(bounds) if bounds else ''}"
    )


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults from `path` (the shipped settings.toml, or SECONDLOOK_SETTINGS), then SECONDLOOK_<KEY>
    overrides from `env`. Raises SettingsError with one line naming the first bad value."""
    env = os.environ if env is None else env
    path = Path(env.get(f"{ENV_PREFIX}SETTINGS") or path or DEFAULTS_FILE)
    try:
        with path.open("rb") as fh:
            raw: dict[str, object] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    sources = {key: f"{path.name}: {key}" for key in raw} | {"__file__": str(path)}
    values = dict(raw)
    for key in Settings.model_fields:
        name = env_name(key)
        if name in env:
            values[key] = env[name]
            sources[key] = name
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_problem(exc.errors()[0], sources, values)) from None
