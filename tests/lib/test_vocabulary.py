"""The domain's words are written once (pipelines/lib/vocabulary.py) and read from where they are decided."""

from __future__ import annotations

import polars as pl

from dashboards.palette import OUTCOME_COLOURS
from models import propensity, text_classifier
from models.procedure_lexicon import FAMILY_TIER as LEXICON_TIER
from pipelines.lib import vocabulary as v
from pipelines.lib.landing.contracts import load_contracts
from pipelines.lib.reference.catalogue import read_catalogue


def test_specialties_are_the_cases_contracts_list_in_its_order() -> None:
    assert load_contracts()["cases"].prop("specialty").valid_values == v.SPECIALTIES
    assert v.SPECIALTIES[0] == "cardiology" and len(v.SPECIALTIES) == 7


def test_outcome_groups_are_derived_from_the_one_list() -> None:
    assert v.OUTCOMES[:-1] == v.REVIEW_OUTCOMES and v.OUTCOMES[-1] == v.UNCLASSIFIED
    assert v.CHANGED_OUTCOMES == ("less_invasive", "non_surgical", "deferred", "more_invasive", "alternative")
    assert set(v.OUTCOME_LABELS) == set(v.OUTCOMES) == set(OUTCOME_COLOURS)


def test_models_learn_exactly_the_outcomes_a_review_can_reach() -> None:
    assert text_classifier.OUTCOME_LABELS is v.REVIEW_OUTCOMES
    assert propensity.CLASSIFIED_OUTCOMES is v.REVIEW_OUTCOMES


def test_family_tiers_are_the_catalogues_and_none_where_the_approach_decides() -> None:
    procedures, _ = read_catalogue()
    per_family = procedures.group_by("family").agg(
        pl.col("tier").n_unique().alias("k"), pl.col("tier").first()
    )
    for family, k, tier in per_family.iter_rows():
        assert v.FAMILY_TIER[family] == (tier if k == 1 else None), family
    assert v.FAMILY_TIER["hysterectomy"] is None and v.FAMILY_TIER["spinal_fusion"] == 4
    assert {f: t for f, t in LEXICON_TIER.items() if f in v.FAMILY_TIER} == {
        f: v.FAMILY_TIER[f] for f in LEXICON_TIER if f in v.FAMILY_TIER
    }


def test_labels_keep_acronyms_and_read_as_words() -> None:
    assert v.words("cabg") == "CABG" and v.words("spinal_fusion") == "Spinal fusion"
    assert v.words("acl_reconstruction") == "ACL reconstruction"
    assert v.specialty_label("general_surgery") == "General surgery"
    assert v.specialty_label("all") == "All specialties" and v.outcome_label("non_surgical") == "Non-surgical"
    assert set(v.SPECIALTY_LABELS) == {*v.SPECIALTIES, "all"}
