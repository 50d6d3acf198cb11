"""Settings cannot be set wrong: every key typed and bounded, a bad value refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.lib.settings import DEFAULTS_FILE, Settings, SettingsError, load_settings


def test_the_shipped_defaults_load_and_name_every_key() -> None:
    settings = load_settings(env={})
    assert settings.suppression_threshold == 11 and settings.horizon_months == 12
    assert set(settings.as_dict()) == set(Settings.model_fields)


def test_an_environment_variable_overrides_its_key() -> None:
    assert load_settings(env={"SECONDLOOK_PROGRAM_FEE_USD": "900"}).program_fee_usd == 900.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SECONDLOOK_SUPPRESSION_THRESHOLD", "1", "suppression_threshold must be a whole number at least 11"),
        ("SECONDLOOK_SUPPRESSION_THRESHOLD", "10", "at least 11"),
        ("SECONDLOOK_HORIZON_MONTHS", "0", "horizon_months must be a whole number at least 1 and at most 60"),
        ("SECONDLOOK_HORIZON_MONTHS", "twelve", "horizon_months must be a whole number"),
        (
            "SECONDLOOK_TEXT_MODEL_THRESHOLD",
            "1.5",
            "text_model_threshold must be a number at least 0 and at most 1",
        ),
        ("SECONDLOOK_PROGRAM_FEE_USD", "-1", "program_fee_usd must be a number at least 0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_the_value_and_the_range(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env={name: value})
    text = str(caught.value)
    assert text.startswith(f"{name}={value} is not allowed: ") and message in text
    assert "\n" not in text


def test_an_unknown_or_missing_key_in_the_file_is_refused(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(DEFAULTS_FILE.read_text() + "\nsupression_threshold = 20\n")
    with pytest.raises(SettingsError, match="unknown setting 'supression_threshold'"):
        load_settings(extra, env={})
    missing = tmp_path / "missing.toml"
    missing.write_text(
        "\n".join(line for line in DEFAULTS_FILE.read_text().splitlines() if not line.startswith("seed"))
    )
    with pytest.raises(SettingsError, match="setting 'seed' is missing"):
        load_settings(missing, env={})


def test_replace_validates_like_loading() -> None:
    settings = load_settings(env={})
    assert settings.replace(seed=7).seed == 7
    with pytest.raises(ValueError, match="suppression_threshold"):
        settings.replace(suppression_threshold=3)


def test_the_command_refuses_a_bad_setting_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SECONDLOOK_SUPPRESSION_THRESHOLD", "1")
    (tmp_path / "landing").mkdir()
    code = main(
        [
            "run",
            "--landing",
            str(tmp_path / "landing"),
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--site",
            str(tmp_path / "site"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == (
        "secondlook: SECONDLOOK_SUPPRESSION_THRESHOLD=1 is not allowed: suppression_threshold "
        "must be a whole number at least 11 and at most 1000"
    )
    assert not (tmp_path / "w.duckdb").exists()


def test_claims_through_is_unset_by_default_and_takes_a_date_or_empty() -> None:
    import datetime as dt

    assert load_settings(env={}).claims_through is None
    assert load_settings(env={"SECONDLOOK_CLAIMS_THROUGH": "2026-03-31"}).claims_through == dt.date(
        2026, 3, 31
    )
    assert load_settings(env={"SECONDLOOK_CLAIMS_THROUGH": " "}).claims_through is None
    assert load_settings(env={"SECONDLOOK_CLAIMS_THROUGH": "2026-03-31"}).as_dict()["claims_through"] == (
        "2026-03-31"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(env={"SECONDLOOK_CLAIMS_THROUGH": "1989-12-31"})
    assert str(caught.value) == (
        "SECONDLOOK_CLAIMS_THROUGH=1989-12-31 is not allowed: claims_through must be a date (YYYY-MM-DD) "
        "at least 1990-01-01 and at most 2100-12-31, or empty"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SECONDLOOK_CLAIMS_RUNOUT_DAYS",
            "-1",
            "claims_runout_days must be a whole number at least 0 and at most 730",
        ),
        ("SECONDLOOK_MIN_CASES_OBSERVED", "0", "min_cases_observed must be a whole number at least 1"),
        (
            "SECONDLOOK_DISCOUNT_RATE_ANNUAL",
            "0.5",
            "discount_rate_annual must be a number at least 0 and at most 0.2",
        ),
    ],
)
def test_the_cost_settings_are_ranged(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env={name: value})
