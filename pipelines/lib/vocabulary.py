"""The words of the domain, written once: outcomes, specialties, tiers, families and their labels.

This is one of the two modules of ours that `models/` and `dashboards/` may import (the other is
`pipelines.lib.stats`), so it imports nothing of ours: the specialty list is read from the cases
contract and the family tiers from the reference catalogue, the files where they are decided.
Everything a page, a chart, a model or a rule calls an outcome or a specialty comes from here.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import yaml

_ROOT = Path(__file__).resolve().parents[2]
CASES_CONTRACT = _ROOT / "data_contracts" / "cases.yaml"
CATALOGUE_CSV = Path(__file__).resolve().parent / "reference" / "data" / "procedures.csv"

#: Every outcome a case can have, in the order pages and tables show them.
OUTCOMES: tuple[str, ...] = (
    "confirmed",
    "less_invasive",
    "non_surgical",
    "deferred",
    "more_invasive",
    "alternative",
    "unclassified",
)
UNCLASSIFIED = "unclassified"
#: Outcomes a second opinion can reach (unclassified is the pipeline's own state, not a finding).
REVIEW_OUTCOMES: tuple[str, ...] = tuple(o for o in OUTCOMES if o != UNCLASSIFIED)
#: Outcomes that mean the second opinion changed the plan (reviewer variation, targeting).
CHANGED_OUTCOMES: tuple[str, ...] = tuple(o for o in REVIEW_OUTCOMES if o != "confirmed")
#: The four rates every audience asks for first (overview headline).
HEADLINE_OUTCOMES: tuple[str, ...] = ("confirmed", "less_invasive", "non_surgical", "deferred")

OUTCOME_LABELS: dict[str, str] = {
    "confirmed": "Confirmed",
    "less_invasive": "Less invasive",
    "non_surgical": "Non-surgical",
    "deferred": "Deferred",
    "more_invasive": "More invasive",
    "alternative": "Alternative",
    "unclassified": "Unclassified",
}

#: The marts' row for every specialty together.
ALL = "all"

#: Where a reviewer sits in a funnel, in words a quality lead can act on (marts.reviewer_variation
#: `flag` and `raw_flag`, the site's tables and legends). Keyed by the band of
#: `pipelines.lib.stats.funnel_band`: 2 / -2 beyond the 99.8% limits, 1 / -1 beyond the 95% ones.
FLAG_WITHIN = "within expected range"
FLAG_NOT_ASSESSED = "not assessed (no expected variation)"
FUNNEL_FLAGS: dict[int, str] = {
    2: "higher than expected (beyond 99.8% limits)",
    1: "higher than expected (beyond 95% limits)",
    0: FLAG_WITHIN,
    -1: "lower than expected (beyond 95% limits)",
    -2: "lower than expected (beyond 99.8% limits)",
}
#: Every flag value, strongest signals first: the order tables sort by and legends list.
FLAG_ORDER: tuple[str, ...] = (
    FUNNEL_FLAGS[2],
    FUNNEL_FLAGS[-2],
    FUNNEL_FLAGS[1],
    FUNNEL_FLAGS[-1],
    FLAG_WITHIN,
    FLAG_NOT_ASSESSED,
)
FLAGS_BEYOND_998: tuple[str, ...] = (FUNNEL_FLAGS[2], FUNNEL_FLAGS[-2])
FLAGS_BEYOND_95: tuple[str, ...] = (*FLAGS_BEYOND_998, FUNNEL_FLAGS[1], FUNNEL_FLAGS[-1])

#: The two risk-adjusted CUSUMs per reviewer (marts.reviewer_cusum `direction`): more changes
#: than the case mix predicts, and fewer.
CUSUM_DIRECTIONS: tuple[str, ...] = ("higher", "lower")

#: Words that stay in capitals when a code-like value is turned into words.
ACRONYMS: tuple[str, ...] = (
    "ACL",
    "CABG",
    "CT",
    "ESI",
    "HIFU",
    "ICD",
    "IUD",
    "MRI",
    "PCI",
    "PT",
    "TAVR",
    "TEER",
    "TURP",
    "UAE",
)


@cache
def specialties() -> tuple[str, ...]:
    """The contract's specialties, in its order (data_contracts/cases.yaml, the one place they are written)."""
    doc = yaml.safe_load(CASES_CONTRACT.read_text(encoding="utf-8"))
    (schema,) = doc["schema"]
    for prop in schema["properties"]:
        if prop["name"] == "specialty":
            for rule in prop.get("quality", []) or []:
                if rule.get("metric") == "invalidValues":
                    return tuple(str(v) for v in rule["arguments"]["validValues"])
    raise ValueError(f"{CASES_CONTRACT.name}: no validValues for specialty")


SPECIALTIES: tuple[str, ...] = specialties()


@cache
def family_tiers() -> dict[str, int | None]:
    """Procedure family -> its invasiveness tier, from the catalogue; None where the tier depends on
    the approach (an open or a laparoscopic hysterectomy are tiers 3 and 2 of one family)."""
    tiers: dict[str, set[int]] = {}
    with CATALOGUE_CSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            tiers.setdefault(row["family"], set()).add(int(row["tier"]))
    return {family: (next(iter(t)) if len(t) == 1 else None) for family, t in sorted(tiers.items())}


FAMILY_TIER: dict[str, int | None] = family_tiers()


@cache
def procedure_codes() -> dict[str, tuple[str, int]]:
    """Procedure code -> (family, tier), from the catalogue: what narrative extraction maps a
    named procedure to before rules 1-4 compare it with the first one."""
    with CATALOGUE_CSV.open(encoding="utf-8", newline="") as fh:
        return {row["procedure_code"]: (row["family"], int(row["tier"])) for row in csv.DictReader(fh)}


_ACRONYM = re.compile(r"\b(" + "|".join(ACRONYMS) + r")\b", re.IGNORECASE)


def words(value: str) -> str:
    """A code-like value as words, acronyms kept: 'spinal_fusion' -> 'Spinal fusion', 'cabg' -> 'CABG'."""
    text = value.replace("_", " ").strip()
    text = text[:1].upper() + text[1:]
    return _ACRONYM.sub(lambda m: m.group(1).upper(), text)


def outcome_label(outcome: str) -> str:
    """Human label for an outcome value; an unknown value passes through as words."""
    return OUTCOME_LABELS.get(outcome, words(outcome))


def specialty_label(specialty: str) -> str:
    """Human label for a specialty value (the contract's names plus 'all')."""
    return "All specialties" if specialty == ALL else words(specialty)


SPECIALTY_LABELS: dict[str, str] = {s: specialty_label(s) for s in (ALL, *SPECIALTIES)}
