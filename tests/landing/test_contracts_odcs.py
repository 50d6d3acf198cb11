"""Every contract is valid ODCS v3.1.0 by the standard's own JSON schema, so the ecosystem's tools
(datacontract-cli's `lint` checks the same schema) read what our compiler reads."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pipelines.lib.landing.contracts import CONTRACTS_DIR, load_contracts

CONTRACTS = sorted(CONTRACTS_DIR.glob("*.yaml"))


@pytest.fixture(scope="session")
def validator() -> Any:
    schema = json.loads(files("open_data_contract_standard").joinpath("schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def problems(validator: Any, doc: dict[str, Any]) -> list[str]:
    return sorted(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:120]}" for e in validator.iter_errors(doc)
    )


def test_the_schema_is_the_one_our_contracts_declare(validator: Any) -> None:
    versions = {yaml.safe_load(p.read_text())["apiVersion"] for p in CONTRACTS}
    assert versions == {"v3.1.0"}
    assert validator.schema["properties"]["apiVersion"]["default"] == "v3.1.0"


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.name)
def test_every_contract_is_valid_odcs(validator: Any, path: Path) -> None:
    assert problems(validator, yaml.safe_load(path.read_text())) == []


def test_an_invalid_values_rule_without_must_be_is_refused_by_the_standard(validator: Any) -> None:
    """The fault datacontract lint reported on cases.yaml: the `invalidValues` metric needs `mustBe`."""
    doc = yaml.safe_load((CONTRACTS_DIR / "cases.yaml").read_text())
    specialty = next(p for p in doc["schema"][0]["properties"] if p["name"] == "specialty")
    del specialty["quality"][0]["mustBe"]
    assert any(p.startswith("schema/0/properties/2/quality/0") for p in problems(validator, doc))


def test_our_reader_still_takes_the_enumerations_from_the_valid_contracts() -> None:
    assert load_contracts()["cases"].prop("sex").valid_values == ("F", "M", "X", "U")
