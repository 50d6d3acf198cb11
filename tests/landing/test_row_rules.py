"""Every row rule compiled from the contracts: a good row passes, a bad row fails exactly the
rule it breaks. The cases are generated from the YAML, so a rule added there is tested here."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines.lib.landing.contracts import RECORD_TYPES, Contract, Rule, load_contracts
from pipelines.lib.landing.privacy import add_identifier_reasons
from pipelines.lib.landing.row_rules import validation_sql

TODAY = dt.date(2026, 6, 30)
GOOD: dict[str, dict[str, str]] = {
    "cases": {
        "case_id": "c1",
        "patient_key": "p1",
        "specialty": "spine",
        "referral_date": "2026-01-05",
        "age_band": "50-59",
        "sex": "F",
        "region": "CA",
        "payer_type": "commercial",
        "plan_id": "pl1",
        "diagnosis_code": "M51.16",
        "initial_procedure_code": "22612",
        "urgency": "elective",
    },
    "opinions": {
        "opinion_id": "o1",
        "case_id": "c1",
        "reviewer_id": "r1",
        "opinion_date": "2026-02-01",
        "recommendation": "conservative",
        "recommended_procedure_code": "97110",
        "diagnosis_changed": "false",
        "summary_text": "Physical therapy first; no operation for now.",
        "updated_at": "2026-02-01T09:30:00",
    },
    "follow_ups": {
        "case_id": "c1",
        "procedure_code": "22612",
        "service_date": "2026-05-01",
        "allowed_amount": "28000.50",
    },
    "procedure_costs": {"procedure_code": "22612", "cost_usd": "31000"},
    "reference_procedures": {
        "procedure_code": "22612",
        "description": "Lumbar fusion, one level",
        "specialty": "spine",
        "family": "spinal_fusion",
        "tier": "4",
        "cost_usd": "29231",
        "cost_basis": "estimate",
        "cost_year": "2026",
        "cost_source": "estimate: illustration",
        "cost_is_estimate": "true",
    },
    "reference_pathways": {
        "specialty": "spine",
        "conservative_cost_usd": "625",
        "conservative_source": "APTQI",
        "workup_cost_usd": "900",
        "workup_source": "estimate",
        "default_leakage": "0.18",
        "leakage_source": "Schmerz 2023",
        "baseline_completion": "1.0",
        "baseline_completion_source": "assumed",
        "source": "docs/sources.md",
    },
    "enrollment": {"patient_key": "P1", "covered_from": "2025-01-01", "covered_to": "2026-12-31"},
}
CROSS_ROW = {"unique", "not_before_reference"}


def breaking_value(rule: Rule) -> dict[str, str]:
    """Field values that break `rule` and nothing else."""
    kind = rule.params.get("rule", rule.kind)
    match kind:
        case "required":
            return {rule.field: "   "}
        case "type":
            return {
                rule.field: {
                    "date": "2026-13-45",
                    "timestamp": "yesterday",
                    "number": "12,5 USD",
                    "integer": "4.5",
                    "boolean": "maybe",
                }[rule.params["type"]]
            }
        case "invalid_value":
            return {rule.field: "somewhere-else"}
        case "pattern":
            return {rule.field: "12-34!"}
        case "minimum":
            return {rule.field: str(rule.params["minimum"] - 1)}
        case "maximum":
            return {rule.field: str(rule.params["maximum"] + 1)}
        case "not_after_today":
            return {rule.field: "2026-07-01"}
        case "any_present":
            return {f: "" for f in rule.params["properties"]}
        case "not_before_field":
            return {rule.field: "2024-12-31"}  # before the good row's covered_from
    raise AssertionError(f"no breaking value known for {rule.reason} ({kind}): add one to this test")


def evaluate(contract: Contract, rows: list[dict[str, str]]) -> list[list[str]]:
    conn = duckdb.connect()
    cols = contract.columns
    conn.execute("CREATE TABLE raw (_row_number BIGINT, " + ", ".join(f'"{c}" VARCHAR' for c in cols) + ")")
    conn.executemany(
        f"INSERT INTO raw VALUES ({', '.join(['?'] * (len(cols) + 1))})",
        [[i + 1, *[r.get(c) for c in cols]] for i, r in enumerate(rows)],
    )
    landing = contract.record_type in RECORD_TYPES  # inputs are scanned for identifiers
    conn.execute(f"CREATE TABLE v AS {validation_sql(contract, 'raw', cols, TODAY, identifiers=landing)}")
    if landing:
        add_identifier_reasons(conn, "v", contract.columns)
    return [r[0] for r in conn.execute("SELECT _reasons FROM v ORDER BY _row_number").fetchall()]


def row_rule_cases() -> list[tuple[str, Rule]]:
    return [
        (rtype, rule)
        for rtype, c in load_contracts().items()
        if rtype in GOOD
        for rule in c.rules
        if rule.params.get("rule", rule.kind) not in CROSS_ROW
    ]


@pytest.mark.parametrize("record_type", list(GOOD))
def test_good_row_passes_every_rule(record_type: str) -> None:
    assert evaluate(load_contracts()[record_type], [GOOD[record_type]]) == [[]]


@pytest.mark.parametrize(("record_type", "rule"), row_rule_cases(), ids=lambda x: getattr(x, "reason", x))
def test_bad_row_fails_exactly_its_rule(record_type: str, rule: Rule) -> None:
    row = {**GOOD[record_type], **breaking_value(rule)}
    assert evaluate(load_contracts()[record_type], [row]) == [[rule.reason]]


def test_enumerations_match_case_insensitively_after_trimming() -> None:
    contract = load_contracts()["cases"]
    row = {**GOOD["cases"], "specialty": "  General_Surgery ", "sex": "f", "payer_type": "MEDICARE"}
    conn = duckdb.connect()
    cols = contract.columns
    conn.execute(
        "CREATE TABLE raw AS SELECT 1::BIGINT AS _row_number, "
        + ", ".join(f'?::VARCHAR AS "{c}"' for c in cols),
        [row[c] for c in cols],
    )
    out = conn.execute(validation_sql(contract, "raw", cols, TODAY)).df()
    assert out.loc[0, "specialty"] == "general_surgery"
    assert out.loc[0, "sex"] == "F"
    assert out.loc[0, "payer_type"] == "medicare"
    assert list(out.loc[0, "_reasons"]) == []


@pytest.mark.parametrize(
    ("text", "category"),
    [("SSN 123-45-6789 on file", "ssn"), ("mail jane.doe@example.org", "email"), ("(212) 555-0199", "phone")],
)
def test_each_identifier_pattern_quarantines_free_text(text: str, category: str) -> None:
    row = {**GOOD["opinions"], "summary_text": text}
    assert evaluate(load_contracts()["opinions"], [row]) == [[f"summary_text:identifier_{category}"]]


def test_clinical_numbers_are_not_mistaken_for_identifiers() -> None:
    row = {
        **GOOD["opinions"],
        "summary_text": "L4-L5 stenosis, 3 months of PT, EF 55%, CPT 22612, 2026-01-05.",
    }
    assert evaluate(load_contracts()["opinions"], [row]) == [[]]


def test_several_broken_rules_are_all_reported() -> None:
    row = {**GOOD["cases"], "specialty": "dermatology", "region": "California", "referral_date": "2027-01-01"}
    assert evaluate(load_contracts()["cases"], [row]) == [
        ["specialty:invalid_value", "referral_date:future_date", "region:pattern"]
    ]


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
def test_a_non_finite_number_is_an_invalid_type_not_a_price(value: str) -> None:
    row = {**GOOD["procedure_costs"], "cost_usd": value}
    assert evaluate(load_contracts()["procedure_costs"], [row]) == [["cost_usd:invalid_type"]]


@pytest.mark.parametrize("value", ["epoch", "-infinity", "infinity"])
def test_special_date_words_are_not_read_as_dates(value: str) -> None:
    cases = {**GOOD["cases"], "referral_date": value}
    opinions = {**GOOD["opinions"], "updated_at": value}
    assert evaluate(load_contracts()["cases"], [cases]) == [["referral_date:invalid_type"]]
    assert evaluate(load_contracts()["opinions"], [opinions]) == [["updated_at:invalid_type"]]
