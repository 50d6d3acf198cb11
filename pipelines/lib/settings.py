"""Run settings: one validated model, its defaults in settings.toml, each key overridable by a
SECONDLOOK_<KEY> environment variable.

Every key has a type and a range, so a value that would quietly change what is published (a
suppression threshold below the CMS cell size of 11, a horizon of 0 months) is refused in one
line naming the variable, the value and the range allowed. Settings are read when a run starts,
never at import time, so tests and the Dagster UI can change them through the environment.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.lib.landing.normalise import parse_date_formats

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
    min_cases_observed: int = Field(
        ge=1,
        le=100_000,
        description="closed-horizon cases an observed completion or leakage rate needs before it is used",
    )
    claims_through: Annotated[dt.date, Field(ge=dt.date(1990, 1, 1), le=dt.date(2100, 12, 31))] | None = (
        Field(
            default=None,
            description="date up to which follow-up claims are complete; unset: latest service_date minus run-out",
        )
    )
    claims_runout_days: int = Field(
        ge=0, le=730, description="days of claims run-out taken off the latest service_date"
    )
    discount_rate_annual: float = Field(
        ge=0.0, le=0.2, description="yearly rate at which savings are discounted to the opinion date"
    )
    bootstrap_resamples: int = Field(
        ge=1, le=100_000, description="bootstrap replicates of the cost intervals"
    )
    seed: int = Field(ge=0, description="seed of every random draw (bootstrap, model splits)")
    text_model_threshold: float = Field(
        ge=0.0, le=1.0, description="probability the text model needs before its label is used"
    )
    text_review_disagreement: float = Field(
        ge=0.0,
        le=1.0,
        description="text-model probability at which its different reading sends an extraction to review",
    )
    text_model_corpus_weight: float = Field(
        ge=0.0,
        le=1.0,
        description="training weight of a generated narrative (a warehouse one weighs 1, a person's label 2)",
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
    cusum_odds_ratio: float = Field(
        ge=1.1, le=10.0, description="odds multiplier each reviewer CUSUM watches for (and its inverse)"
    )
    cusum_in_control_arl: int = Field(
        ge=100, le=10_000_000, description="cases between false CUSUM signals for a reviewer in control"
    )
    suppression_threshold: int = Field(
        ge=11, le=1_000, description="published counts from 1 to this minus one are suppressed (CMS: 11)"
    )
    protection_interval: int = Field(
        ge=1,
        le=100,
        description="the smallest span of values an attacker may not rule out for a suppressed count",
    )
    gx_max_rows: int = Field(ge=1, description="staged rows Great Expectations validates per table")
    propensity_max_train_cases: int = Field(
        default=200_000,
        ge=1_000,
        le=100_000_000,
        description="classified cases the change-propensity model trains on (a stratified sample beyond it)",
    )
    propensity_importance_rows: int = Field(
        default=20_000,
        ge=100,
        le=50_000,
        description="held-out cases on which the propensity model's permutation importance is measured",
    )
    text_model_max_train_narratives: int = Field(
        default=200_000,
        ge=1_000,
        le=100_000_000,
        description="rule-labelled narratives the text model trains on (a stratified sample beyond it)",
    )
    retrain_changed_share: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="share of a model's training data that must change before a run retrains it",
    )
    retrain: bool = Field(
        default=False, description="retrain the models whatever the retraining policy says (--retrain)"
    )
    model_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="threads the models may use (trees, text one-vs-rest); 0: every core this process may run on",
    )
    plan_display_names: str = Field(
        default="",
        description="CSV of plan_id,display_name naming plans on the site; empty: plans are re-keyed",
    )
    orphan_after_days: int = Field(
        ge=1,
        le=3650,
        description="days an opinion may wait for its case before it is listed as an orphan",
    )
    date_format: Literal["auto", "dd/mm/yyyy", "mm/dd/yyyy"] = Field(
        default="auto",
        description="how landing dates not in ISO 8601 are read: auto (the file decides, or is refused), "
        "dd/mm/yyyy or mm/dd/yyyy",
    )
    date_formats: str = Field(
        default="",
        description="per-file date order, FILE-PATTERN=ORDER pairs separated by ';' "
        "(cases_eu*=dd/mm/yyyy); a file matching none follows date_format",
    )

    @field_validator("date_formats")
    @classmethod
    def _date_formats_parse(cls, value: str) -> str:
        parse_date_formats(value)  # ValueError naming the bad pair
        return value

    @field_validator("claims_through", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """SECONDLOOK_CLAIMS_THROUGH= (empty) means: derive the date from the claims."""
        return None if isinstance(value, str) and not value.strip() else value

    def as_dict(self) -> dict[str, float | int | str | None]:
        """Every setting as JSON-ready values (a date as ISO text)."""
        return self.model_dump(mode="json")

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
    metadata = list(field.metadata)
    for arg in getattr(field.annotation, "__args__", ()):  # Annotated[date, Field(...)] | None
        metadata += [
            m for inner in getattr(arg, "__metadata__", ()) for m in getattr(inner, "metadata", [inner])
        ]
    bounds = [
        f"{name} {value:g}" if isinstance(value, int | float) else f"{name} {value}"
        for m in metadata
        for name, value in (("at least", getattr(m, "ge", None)), ("at most", getattr(m, "le", None)))
        if value is not None
    ]
    value = values.get(key)
    shown = value if isinstance(value, str) else repr(value)
    if error["type"] == "value_error":
        return f"{where}={shown} is not allowed: {str(error['msg']).removeprefix('Value error, ')}"
    if error["type"] == "literal_error":
        allowed = ", ".join(str(a) for a in get_args(field.annotation))
        return f"{where}={shown} is not allowed: {key} must be one of {allowed}"
    if key == "claims_through":
        return f"{where}={shown} is not allowed: {key} must be a date (YYYY-MM-DD) {' and '.join(bounds)}, or empty"
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
