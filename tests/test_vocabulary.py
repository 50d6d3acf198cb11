"""models/ and dashboards/ import nothing of ours (DESIGN "Layout"), so each keeps its own copy of
the outcome list; these tests keep every copy equal to the one in pipelines/outcomes.py and the
specialty labels equal to the cases contract."""

from __future__ import annotations

from dashboards.palette import OUTCOMES as DASHBOARD_OUTCOMES
from dashboards.palette import SPECIALTY_LABELS
from models.propensity import CLASSIFIED_OUTCOMES
from models.text_classifier import OUTCOME_LABELS
from pipelines.outcomes import OUTCOMES, REVIEW_OUTCOMES
from pipelines.reference import SPECIALTIES


def test_dashboards_colour_exactly_the_pipelines_outcomes_in_its_order() -> None:
    assert DASHBOARD_OUTCOMES == OUTCOMES


def test_models_learn_exactly_the_outcomes_a_review_can_reach() -> None:
    assert OUTCOME_LABELS == REVIEW_OUTCOMES == CLASSIFIED_OUTCOMES


def test_every_contract_specialty_has_a_dashboard_label() -> None:
    assert set(SPECIALTY_LABELS) == {*SPECIALTIES, "all"}
