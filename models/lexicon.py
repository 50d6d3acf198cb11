"""The narrative lexicons as frames: concept phrases, decision cues and ConText triggers.

The words live in data files (models/lexicon/concepts.yaml, models/lexicon/context.yaml) so a
clinician can read and extend them; this module only expands their `{a|b|}` alternatives and
normalises every phrase the way texts are normalised (models/context.py: lower case, anything
but a-z and 0-9 read as a space), so a phrase and a text match character for character.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

LEXICON_DIR = Path(__file__).with_name("lexicon")
CONCEPTS_FILE = LEXICON_DIR / "concepts.yaml"
CONTEXT_FILE = LEXICON_DIR / "context.yaml"

_ALTERNATIVES = re.compile(r"\{([^{}]*)\}")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise_phrase(phrase: str) -> str:
    """What a phrase looks like in normalised text: lower case, single spaces, no punctuation."""
    return _NOT_WORD.sub(" ", phrase.lower()).strip()


def expand(phrase: str) -> list[str]:
    """`{laparoscopic|open} repair` -> ['laparoscopic repair', 'open repair']; `{a|}` may drop a word."""
    parts = _ALTERNATIVES.split(phrase)
    literal, choices = parts[0::2], [p.split("|") for p in parts[1::2]]
    out = []
    for combo in itertools.product(*choices):
        text = "".join(f"{lit}{alt}" for lit, alt in itertools.zip_longest(literal, combo, fillvalue=""))
        norm = normalise_phrase(text)
        if norm:
            out.append(norm)
    return list(dict.fromkeys(out))


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def concept_table() -> pl.DataFrame:
    """One row per (phrase, concept): kind, code, approach and specialty maps, specialties allowed."""
    doc = _yaml(CONCEPTS_FILE)
    rows = []
    for c in doc["concepts"]:
        for raw in c["phrases"]:
            for phrase in expand(raw):
                rows.append(
                    {
                        "phrase": phrase,
                        "concept": c["concept"],
                        "kind": c["kind"],
                        "code": str(c["code"]) if c.get("code") is not None else None,
                        "codes_by_approach": [
                            f"{k}={v}" for k, v in (c.get("codes_by_approach") or {}).items()
                        ],
                        "codes_by_specialty": [
                            f"{k}={v}" for k, v in (c.get("codes_by_specialty") or {}).items()
                        ],
                        "same_family_as_initial": bool(c.get("same_family_as_initial", False)),
                        "specialties": list(c.get("specialties") or []),
                    }
                )
    lists = pl.List(pl.String())
    schema: dict[str, pl.DataType] = {
        "codes_by_approach": lists,
        "codes_by_specialty": lists,
        "specialties": lists,
        "code": pl.String(),
    }
    return pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None)


@cache
def approach_table() -> pl.DataFrame:
    """phrase -> approach (minimal, open, vaginal): words that choose a code within a family."""
    doc = _yaml(CONCEPTS_FILE)
    rows = [
        {"phrase": p, "approach": approach}
        for approach, phrases in doc["approach"].items()
        for raw in phrases
        for p in expand(raw)
    ]
    return pl.DataFrame(rows)


@cache
def decision_table() -> pl.DataFrame:
    """phrase -> decision signal (proceed, endorse, defer)."""
    doc = _yaml(CONCEPTS_FILE)
    rows = [
        {"phrase": p, "signal": signal}
        for signal, phrases in doc["decisions"].items()
        for raw in phrases
        for p in expand(raw)
    ]
    return pl.DataFrame(rows).unique(subset="phrase", keep="first", maintain_order=True)


@cache
def context_rules() -> pl.DataFrame:
    """One row per ConText trigger phrase: literal (as written), phrase (normalised), category,
    direction, max_scope (words; null: the sentence), terminated_by (categories)."""
    doc = _yaml(CONTEXT_FILE)
    rows = []
    for rule in doc["rules"]:
        for raw in rule["literals"]:
            for phrase in expand(raw):
                rows.append(
                    {
                        "phrase": phrase,
                        "category": rule["category"],
                        "direction": rule["direction"],
                        "max_scope": rule.get("max_scope"),
                        "terminated_by": list(rule.get("terminated_by") or []),
                    }
                )
    frame = pl.DataFrame(
        rows,
        schema_overrides={"max_scope": pl.Int64, "terminated_by": pl.List(pl.String)},
        infer_schema_length=None,
    )
    if frame["max_scope"].is_not_null().any() or frame["terminated_by"].list.len().sum():
        raise ValueError(
            f"{CONTEXT_FILE.name}: max_scope and terminated_by are not supported by models/context.py"
        )
    # One trigger per phrase, the first listed, as one medspaCy matcher keeps one of two equal matches.
    return frame.unique(subset=["phrase"], keep="first", maintain_order=True)
