"""Data contracts: read the ODCS v3 YAML files in data_contracts/ into rule objects.

The YAML is the one source of each input's rules. This module only parses it; two compilers
read the parsed rules: `row_rules.py` (DuckDB SQL that stages or quarantines each row) and
`gx_adapter.py` (a Great Expectations suite run as Dagster asset checks). Every rule has a name
`field:rule` that appears verbatim in quarantine reasons and in check names, so a failure leads
back to one line of YAML.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "data_contracts"
RECORD_TYPES: tuple[str, ...] = (
    "cases",
    "opinions",
    "follow_ups",
    "procedure_costs",
    "enrollment",
    "opinion_labels",
)
LOGICAL_TYPES = {"string", "date", "timestamp", "number", "integer", "boolean"}


class ContractError(ValueError):
    """A contract file that does not say what the compiler needs."""


class _Deferred(Exception):
    """A contract refers to another contract not parsed yet."""


@dataclass(frozen=True)
class Rule:
    """One named rule: `field` is a property name, or `record` for a schema-level rule."""

    field: str
    name: str
    kind: str  # required | type | invalid_value | pattern | minimum | unique | custom
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""

    @property
    def reason(self) -> str:
        return f"{self.field}:{self.name}"


@dataclass(frozen=True)
class Property:
    name: str
    logical_type: str
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    valid_values: tuple[str, ...] = ()
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    versioned_by: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Contract:
    record_type: str
    table: str
    properties: tuple[Property, ...]
    rules: tuple[Rule, ...]
    path: Path
    #: For versioned records (opinions): the table of the latest version of each key.
    latest_table: str | None = None
    #: For records that must match another (opinions to cases): where they wait until it arrives.
    waiting_table: str | None = None

    @property
    def columns(self) -> list[str]:
        return [p.name for p in self.properties]

    def prop(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def key(self) -> str | None:
        keys = [p.name for p in self.properties if p.primary_key]
        return keys[0] if keys else None

    @property
    def record_key(self) -> list[str]:
        """What makes two rows the same record: the primary key, and its version where versioned."""
        if self.key is None:
            return []
        return [self.key, *[v for v in (self.prop(self.key).versioned_by,) if v]]

    @property
    def published_table(self) -> str:
        """The table downstream stages read: the latest versions where records are versioned."""
        return self.latest_table or self.table

    @property
    def tables(self) -> list[str]:
        """Every table ingest writes for this record type."""
        return [t for t in (self.table, self.latest_table, self.waiting_table) if t]


def _custom_properties(raw: dict[str, Any]) -> dict[str, Any]:
    return {c["property"]: c.get("value") for c in raw.get("customProperties", []) or []}


def _property_rules(prop: Property, raw: dict[str, Any]) -> list[Rule]:
    rules: list[Rule] = []
    if prop.required:
        rules.append(Rule(prop.name, "required", "required", description=f"{prop.name} must be present"))
    if prop.logical_type not in ("string",):
        rules.append(
            Rule(
                prop.name,
                "invalid_type",
                "type",
                {"type": prop.logical_type},
                f"{prop.name} must parse as {prop.logical_type}",
            )
        )
    if prop.valid_values:
        rules.append(
            Rule(
                prop.name,
                "invalid_value",
                "invalid_value",
                {"values": prop.valid_values},
                f"{prop.name} must be one of {', '.join(prop.valid_values)} (case-insensitive, trimmed)",
            )
        )
    if prop.pattern:
        rules.append(
            Rule(
                prop.name,
                "pattern",
                "pattern",
                {"pattern": prop.pattern},
                f"{prop.name} must match {prop.pattern}",
            )
        )
    if prop.minimum is not None:
        name = "negative" if prop.minimum == 0 else "below_minimum"
        rules.append(
            Rule(
                prop.name,
                name,
                "minimum",
                {"minimum": prop.minimum},
                f"{prop.name} must be >= {prop.minimum:g}",
            )
        )
    if prop.maximum is not None:
        rules.append(
            Rule(
                prop.name,
                "above_maximum",
                "maximum",
                {"maximum": prop.maximum},
                f"{prop.name} must be <= {prop.maximum:g}",
            )
        )
    if prop.unique:
        rules.append(
            Rule(
                prop.name,
                "not_unique",
                "unique",
                {},
                f"{prop.name} must be unique: a repeat with other content is quarantined",
            )
        )
    for q in raw.get("quality", []) or []:
        if q.get("metric") == "invalidValues":
            continue  # folded into Property.valid_values above
        if q.get("type") == "custom" and q.get("engine") == "secondlook":
            impl = q.get("implementation") or {}
            if "rule" not in impl:
                raise ContractError(f"{prop.name}: custom rule {q.get('name')} has no implementation.rule")
            rules.append(Rule(prop.name, q["name"], "custom", dict(impl), q.get("description", "")))
        else:
            raise ContractError(f"{prop.name}: unsupported quality rule {q}")
    return rules


def _parse_property(raw: dict[str, Any], known: dict[str, Contract]) -> Property:
    ltype = raw.get("logicalType", "string")
    if ltype not in LOGICAL_TYPES:
        raise ContractError(f"{raw.get('name')}: unsupported logicalType {ltype!r}")
    opts = raw.get("logicalTypeOptions") or {}
    values: tuple[str, ...] = ()
    for q in raw.get("quality", []) or []:
        if q.get("metric") == "invalidValues" and "validValues" in (q.get("arguments") or {}):
            values = tuple(str(v) for v in q["arguments"]["validValues"])
    source = _custom_properties(raw).get("validValuesFrom")
    if source:  # an enumeration written once, in another contract ("cases.specialty")
        record_type, _, prop_name = str(source).partition(".")
        if record_type not in known:
            raise _Deferred(record_type)
        values = known[record_type].prop(prop_name).valid_values
    return Property(
        name=raw["name"],
        logical_type=ltype,
        required=bool(raw.get("required", False)),
        unique=bool(raw.get("unique", False)),
        primary_key=bool(raw.get("primaryKey", False)),
        valid_values=values,
        pattern=opts.get("pattern"),
        minimum=opts.get("minimum"),
        maximum=opts.get("maximum"),
        versioned_by=_custom_properties(raw).get("versionedBy"),
        description=raw.get("description", ""),
    )


def parse_contract(path: Path, known: dict[str, Contract] | None = None) -> Contract:
    """Parse one ODCS v3 file; raises ContractError naming the file on anything unsupported.

    `known` holds contracts already parsed, for enumerations shared by reference (validValuesFrom).
    """
    known = known or {}
    try:
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") != "DataContract" or not str(doc.get("apiVersion", "")).startswith("v3"):
            raise ContractError("not an ODCS v3 DataContract")
        (schema,) = doc["schema"]
        props, rules = [], []
        for raw in schema["properties"]:
            prop = _parse_property(raw, known)
            props.append(prop)
            rules.extend(_property_rules(prop, raw))
        for q in schema.get("quality", []) or []:
            if q.get("type") != "custom" or q.get("engine") != "secondlook":
                raise ContractError(f"unsupported schema rule {q}")
            rules.append(
                Rule("record", q["name"], "custom", dict(q["implementation"]), q.get("description", ""))
            )
        return Contract(
            record_type=doc["name"],
            table=schema.get("physicalName", f"staging.{doc['name']}"),
            properties=tuple(props),
            rules=tuple(rules),
            path=path,
            latest_table=_custom_properties(schema).get("latestTable"),
            waiting_table=_custom_properties(schema).get("waitingTable"),
        )
    except ContractError as exc:
        raise ContractError(f"{path.name}: {exc}") from None
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ContractError(f"{path.name}: malformed contract ({exc})") from None


@cache
def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    """Every contract by name (the inputs of RECORD_TYPES must each have one)."""
    contracts: dict[str, Contract] = {}
    pending = sorted(directory.glob("*.yaml"))
    while pending:
        deferred = []
        for path in pending:
            try:
                contract = parse_contract(path, contracts)
                contracts[contract.record_type] = contract
            except _Deferred:
                deferred.append(path)
        if len(deferred) == len(pending):
            raise ContractError(f"unresolved validValuesFrom in {', '.join(p.name for p in deferred)}")
        pending = deferred
    missing = [r for r in RECORD_TYPES if r not in contracts]
    if missing:
        raise ContractError(f"no contract in {directory} for {', '.join(missing)}")
    return contracts
