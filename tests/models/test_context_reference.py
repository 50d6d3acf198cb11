"""Our set-based ConText against medspaCy's, the reference implementation, on shared examples.

Both read the same trigger lexicon (models/lexicon/context.yaml, loaded unchanged into
medspaCy's ConTextRule objects) and the same targets (the concept phrases of the extraction,
matched by medspaCy's TargetMatcher on a blank spaCy English pipeline: no model download, no
network). For every target the set of ConText categories must be the same.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import polars as pl
import pytest
import spacy

# medspaCy imports QuickUMLS at import time only to register its UMLS component, which needs a
# licensed UMLS install and is never used here; `make venv` installs medspaCy without it, so an
# empty module stands in when the real one is absent.
if importlib.util.find_spec("quickumls") is None:
    sys.modules["quickumls"] = types.ModuleType("quickumls")
    sys.modules["quickumls"].spacy_component = types.ModuleType("quickumls.spacy_component")  # type: ignore[attr-defined]

from medspacy.context import ConText, ConTextRule
from medspacy.ner import TargetRule

from models.context import (
    apply_context,
    assign_sentences,
    find_phrases,
    keep_longest,
    modifier_scopes,
    normalised,
)
from models.extraction import CATEGORIES
from models.lexicon import concept_table, context_rules

EXAMPLES = [
    "I considered decompression alone, but I agree that fusion is the appropriate operation.",
    "No evidence of instability, no role for fusion; I would recommend a microdiscectomy.",
    "Kyphoplasty is not indicated while she is improving.",
    "She had a stent placed years ago. Bypass is now the right operation.",
    "Hysteroscopy and endometrial biopsy before deciding on hysterectomy.",
    "Rather than fusion I would favour a lumbar total disc replacement.",
    "Surveillance is not appropriate for high-risk disease, and radical prostatectomy is recommended.",
    "If symptoms persist, a knee replacement could be considered later.",
    "A stent would not lower her risk, so I would keep her on tablets.",
    "The PET shows avid nodes. EBUS staging first, then re-discuss at MDT.",
    "Repeat PSA in 6 months; a biopsy is not warranted.",
    "TAVR, not a stent, is what I would recommend.",
    "Previous two microdiscectomies at the same level; a third discectomy is likely to fail.",
    "Laparoscopic myomectomy would preserve fertility and I prefer it over hysterectomy.",
]


def _theirs() -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", config={"punct_chars": [".", "!", "?", ";", ":"]})
    matcher = nlp.add_pipe("medspacy_target_matcher")
    concepts = concept_table().unique(subset="phrase")
    matcher.add([TargetRule(p, "CONCEPT") for p in concepts["phrase"]])
    context: ConText = nlp.add_pipe("medspacy_context", config={"rules": None})
    context.add(
        [
            ConTextRule(r["phrase"], r["category"], direction=r["direction"])
            for r in context_rules().iter_rows(named=True)
        ]
    )
    return nlp


def _ours(texts: list[str]) -> pl.DataFrame:
    docs = normalised(pl.Series(texts))
    concepts, rules = concept_table().unique(subset="phrase"), context_rules()
    found = assign_sentences(find_phrases(docs, [*concepts["phrase"], *rules["phrase"]]), docs)
    targets = keep_longest(found.join(concepts.select("phrase"), on="phrase"))
    modifiers = keep_longest(found.join(rules, on="phrase"))
    return apply_context(targets, modifier_scopes(modifiers), CATEGORIES)


@pytest.mark.parametrize("text", EXAMPLES)
def test_context_assigns_the_categories_medspacy_assigns(text: str) -> None:
    doc = _theirs()(text.lower())
    theirs = {
        (e.start_char, e.end_char): sorted({m.category for m in e._.modifiers if m.category in CATEGORIES})
        for e in doc.ents
    }
    ours_frame = _ours([text])
    ours = {
        (r["start"], r["end"]): sorted(c for c in CATEGORIES if r[c])
        for r in ours_frame.iter_rows(named=True)
    }
    assert theirs, "medspaCy found no target: the example tests nothing"
    assert ours == theirs


def test_the_examples_exercise_every_assertion_category() -> None:
    seen = set()
    for text in EXAMPLES:
        frame = _ours([text])
        seen |= {c for c in CATEGORIES if frame[c].any()}
    assert seen >= {"NEGATED_EXISTENCE", "REJECTED", "HYPOTHETICAL", "HISTORICAL", "WORKUP", "SURVEILLANCE"}
