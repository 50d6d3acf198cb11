"""Outcome classification: DESIGN rules 1-6 as properties over generated opinions."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.lib.core.extractions import build_opinion_extractions
from pipelines.lib.core.outcomes import build_case_outcomes, opinion_rule_outcomes
from pipelines.lib.marts import MARTS, MartContext
from pipelines.lib.reference.catalogue import read_catalogue, write_reference
from pipelines.lib.settings import load_settings
from tests.builders import cases_frame, opinions_frame, write_staging

PROCEDURES, PATHWAYS = read_catalogue()
CODES = PROCEDURES["procedure_code"].to_list()
TIER = dict(zip(CODES, PROCEDURES["tier"].to_list(), strict=True))
FAMILY = dict(zip(CODES, PROCEDURES["family"].to_list(), strict=True))
RECOMMENDATIONS = [None, "proceed", "alternative_procedure", "conservative", "defer", "further_testing"]
NON_RULE_RECOMMENDATIONS = [None, "proceed", "alternative_procedure"]

known_code = st.sampled_from(CODES)
opinion = st.fixed_dictionaries(
    {
        "initial": st.one_of(known_code, st.just("12345")),
        "recommendation": st.sampled_from(RECOMMENDATIONS),
        "code": st.one_of(st.none(), known_code, st.just("0999T")),
        "text": st.booleans(),
    }
)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_WAREHOUSE: list[duckdb.DuckDBPyConnection] = []


def _shared_warehouse() -> duckdb.DuckDBPyConnection:
    if not _WAREHOUSE:
        conn = duckdb.connect()
        write_reference(conn, PROCEDURES, PATHWAYS)
        _WAREHOUSE.append(conn)
    return _WAREHOUSE[0]


def classify(
    specs: list[dict], predictions: pl.DataFrame | None = None, threshold: float = 0.6
) -> pl.DataFrame:
    """Stage one case + one opinion per spec, run the classifier, return core.case_outcomes in spec order.

    One in-memory warehouse serves every example: each call replaces the staging tables.
    """
    conn = _shared_warehouse()
    ids = [f"c{i:04d}" for i in range(len(specs))]
    cases = cases_frame(
        [
            {"case_id": i, "specialty": "spine", "initial_procedure_code": s["initial"]}
            for i, s in zip(ids, specs, strict=True)
        ]
    )
    opinions = opinions_frame(
        [
            {
                "case_id": i,
                "recommendation": s.get("recommendation"),
                "recommended_procedure_code": s.get("code"),
                "summary_text": "Reviewer's narrative." if s.get("text") else None,
            }
            for i, s in zip(ids, specs, strict=True)
        ]
    )
    write_staging(conn, cases, opinions)
    build_case_outcomes(conn, predictions, threshold)
    return conn.sql("SELECT * FROM core.case_outcomes ORDER BY case_id").pl()


def expected_outcome(spec: dict) -> tuple[str, str]:
    """DESIGN "Outcome classification" restated: (outcome, outcome_source) without a text model."""
    initial, rec, code = spec["initial"], spec["recommendation"], spec["code"]
    if initial not in TIER:
        return "unclassified", "none"
    if rec in ("defer", "further_testing"):
        return "deferred", "recommendation"
    if rec == "conservative":
        return "non_surgical", "recommendation"
    if code in TIER:
        if code == initial:
            return "confirmed", "procedure_code"
        if TIER[code] == 0:
            return "non_surgical", "procedure_code"
        if TIER[code] < TIER[initial]:
            return "less_invasive", "procedure_code"
        if TIER[code] > TIER[initial]:
            return "more_invasive", "procedure_code"
        return ("confirmed" if FAMILY[code] == FAMILY[initial] else "alternative"), "procedure_code"
    if code is None and rec == "proceed":
        return "confirmed", "recommendation"
    return "unclassified", "none"


@FAST
@given(st.lists(opinion, min_size=1, max_size=25))
def test_every_case_follows_rules_one_to_six(specs):
    out = classify(specs)
    assert out.height == len(specs)
    for spec, row in zip(specs, out.iter_rows(named=True), strict=True):
        assert (row["outcome"], row["outcome_source"]) == expected_outcome(spec), (spec, row)
        if row["outcome"] == "unclassified":
            assert row["reason"] and row["confidence"] is None
        else:
            assert row["confidence"] == 1.0


def _pairs(condition):
    """Code pairs (initial, recommended) meeting `condition`, drawn from the whole catalogue."""
    return st.sampled_from([(a, b) for a in CODES for b in CODES if condition(a, b)])


@FAST
@given(st.lists(known_code, min_size=1, max_size=10), st.sampled_from(NON_RULE_RECOMMENDATIONS))
def test_the_same_code_is_confirmed(codes, recommendation):
    out = classify([{"initial": c, "recommendation": recommendation, "code": c} for c in codes])
    assert set(out["outcome"]) == {"confirmed"}
    assert set(out["reason"]) == {"same_code"}


@FAST
@given(st.lists(_pairs(lambda a, b: a != b and TIER[b] == 0), min_size=1, max_size=10))
def test_a_tier_zero_recommendation_is_non_surgical(pairs):
    out = classify([{"initial": a, "recommendation": "alternative_procedure", "code": b} for a, b in pairs])
    assert set(out["outcome"]) == {"non_surgical"}


@FAST
@given(st.lists(_pairs(lambda a, b: 0 < TIER[b] < TIER[a]), min_size=1, max_size=10))
def test_a_lower_tier_is_less_invasive(pairs):
    out = classify([{"initial": a, "recommendation": None, "code": b} for a, b in pairs])
    assert set(out["outcome"]) == {"less_invasive"}
    assert (out["recommended_tier"] < out["initial_tier"]).all()


@FAST
@given(st.lists(_pairs(lambda a, b: TIER[b] > TIER[a] and TIER[b] > 0), min_size=1, max_size=10))
def test_a_higher_tier_is_more_invasive(pairs):
    out = classify([{"initial": a, "recommendation": "proceed", "code": b} for a, b in pairs])
    assert set(out["outcome"]) == {"more_invasive"}


@FAST
@given(st.lists(_pairs(lambda a, b: a != b and TIER[a] == TIER[b] > 0), min_size=1, max_size=10))
def test_same_tier_is_confirmed_in_the_family_and_alternative_outside_it(pairs):
    out = classify([{"initial": a, "recommendation": "alternative_procedure", "code": b} for a, b in pairs])
    for (a, b), outcome in zip(pairs, out["outcome"], strict=True):
        assert outcome == ("confirmed" if FAMILY[a] == FAMILY[b] else "alternative")


@FAST
@given(
    st.lists(
        st.tuples(known_code, st.one_of(st.none(), known_code, st.just("0999T"))), min_size=1, max_size=10
    ),
    st.sampled_from(["defer", "further_testing", "conservative"]),
)
def test_defer_and_conservative_win_over_any_code(pairs, recommendation):
    out = classify([{"initial": a, "recommendation": recommendation, "code": b} for a, b in pairs])
    expected = "non_surgical" if recommendation == "conservative" else "deferred"
    assert set(out["outcome"]) == {expected}
    assert set(out["outcome_source"]) == {"recommendation"}


def test_unknown_codes_are_unclassified_with_the_code_in_the_reason():
    out = classify(
        [
            {"initial": "12345", "recommendation": "proceed", "code": None},
            {"initial": "22630", "recommendation": "alternative_procedure", "code": "0999T", "text": True},
            {"initial": " j7298 ", "recommendation": "proceed", "code": None},
        ]
    )
    assert out["outcome"].to_list() == ["unclassified", "unclassified", "confirmed"]
    assert out["reason"].to_list()[:2] == ["unknown_initial_code:12345", "unknown_recommended_code:0999T"]
    assert out["initial_procedure_code"][2] == "J7298"  # codes are trimmed and upper-cased


def test_narrative_only_opinions_use_the_text_model_above_the_threshold():
    specs = [
        {"initial": "22630", "recommendation": None, "code": None, "text": True},
        {"initial": "22630", "recommendation": None, "code": None, "text": True},
        {"initial": "22630", "recommendation": None, "code": None, "text": True},
        {"initial": "22630", "recommendation": None, "code": None, "text": False},
        {"initial": "22630", "recommendation": "conservative", "code": None, "text": True},
    ]
    predictions = pl.DataFrame(
        {
            "opinion_id": ["o-c0000", "o-c0001", "o-c0004"],
            "predicted_outcome": ["non_surgical", "deferred", "confirmed"],
            "probability": [0.9, 0.4, 0.99],
        }
    )
    out = classify(specs, predictions, threshold=0.6)
    assert out["outcome"].to_list() == [
        "non_surgical",
        "unclassified",
        "unclassified",
        "unclassified",
        "non_surgical",
    ]
    assert out["outcome_source"].to_list() == ["text_model", "none", "none", "none", "recommendation"]
    assert out["reason"].to_list()[:4] == [
        "text_model: non_surgical at p=0.9",
        "needs_review",
        "narrative_only",
        "no_signal",
    ]
    assert (
        out["review_note"].to_list()[1]
        == "no decision in the text; model reads deferred at p=0.4 (below 0.6)"
    )
    assert out["confidence"].to_list()[:3] == [0.9, 0.4, None]
    # a prediction for a structured opinion is ignored: the rules decided it
    assert out["predicted_outcome"].to_list()[4] is None


def test_without_a_text_model_narratives_are_unclassified_as_narrative_only():
    out = classify([{"initial": "27447", "recommendation": None, "code": None, "text": True}], None)
    assert out.row(0, named=True)["reason"] == "narrative_only"
    assert out.row(0, named=True)["outcome"] == "unclassified"


def _staged(cases: pl.DataFrame, opinions: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    write_reference(conn, PROCEDURES, PATHWAYS)
    write_staging(conn, cases, opinions)
    return conn


def test_the_latest_opinion_decides_by_date_then_update_time_and_pending_cases_stay_out():
    cases = cases_frame(
        [
            {
                "case_id": "a",
                "specialty": "spine",
                "initial_procedure_code": "22630",
                "referral_date": date(2024, 1, 1),
            },
            {
                "case_id": "b",
                "specialty": "spine",
                "initial_procedure_code": "22630",
                "referral_date": date(2024, 1, 1),
            },
            {
                "case_id": "p",
                "specialty": "urology",
                "initial_procedure_code": "55866",
                "referral_date": date(2024, 2, 1),
            },
        ]
    )
    opinions = opinions_frame(
        [
            {
                "opinion_id": "a1",
                "case_id": "a",
                "opinion_date": date(2024, 1, 20),
                "recommendation": "proceed",
            },
            {
                "opinion_id": "a2",
                "case_id": "a",
                "opinion_date": date(2024, 2, 5),
                "recommendation": "conservative",
            },
            {
                "opinion_id": "b1",
                "case_id": "b",
                "opinion_date": date(2024, 1, 20),
                "recommendation": "defer",
                "updated_at": datetime(2024, 1, 21, 9),
            },
            {
                "opinion_id": "b2",
                "case_id": "b",
                "opinion_date": date(2024, 1, 20),
                "recommendation": "proceed",
                "updated_at": datetime(2024, 1, 22, 9),
            },
        ]
    )
    conn = _staged(cases, opinions)
    build_case_outcomes(conn, None, 0.6)
    out = conn.sql(
        "SELECT case_id, opinion_id, outcome, turnaround_days FROM core.case_outcomes ORDER BY 1"
    ).fetchall()
    assert out == [("a", "a2", "non_surgical", 35), ("b", "b2", "confirmed", 19)]
    assert conn.sql("SELECT case_id, specialty FROM core.pending_cases").fetchall() == [("p", "urology")]


def test_opinion_rule_outcomes_labels_every_opinion_from_structured_fields_only():
    cases = cases_frame([{"case_id": "a", "specialty": "spine", "initial_procedure_code": "22630"}])
    opinions = opinions_frame(
        [
            {"opinion_id": "a1", "case_id": "a", "recommendation": "defer", "summary_text": "wait and see"},
            {
                "opinion_id": "a2",
                "case_id": "a",
                "recommended_procedure_code": "63030",
                "summary_text": "smaller op",
            },
            {"opinion_id": "a3", "case_id": "a", "summary_text": "only words"},
        ]
    )
    labels = opinion_rule_outcomes(_staged(cases, opinions))
    assert labels.columns == ["opinion_id", "case_id", "outcome", "outcome_source", "reason"]
    assert labels.rows() == [
        ("a1", "a", "deferred", "recommendation", "recommendation_defer"),
        ("a2", "a", "less_invasive", "procedure_code", "lower_tier"),
        ("a3", "a", None, "none", "narrative_only"),
    ]


def test_review_queue_holds_unclassified_and_text_model_cases_only():
    cases = cases_frame(
        [{"case_id": c, "specialty": "spine", "initial_procedure_code": "22630"} for c in ("a", "b", "c")]
    )
    opinions = opinions_frame(
        [
            {"case_id": "a", "summary_text": "words"},
            {"case_id": "b", "summary_text": "words"},
            {"case_id": "c", "recommendation": "proceed"},
        ]
    )
    conn = _staged(cases, opinions)
    predictions = pl.DataFrame(
        {
            "opinion_id": ["o-a", "o-b"],
            "predicted_outcome": ["deferred", "deferred"],
            "probability": [0.95, 0.3],
        }
    )
    build_case_outcomes(conn, predictions, 0.6)
    conn.execute(
        "CREATE TABLE core.prices AS SELECT procedure_code, cost_usd AS price FROM reference.procedures"
    )
    queue = next(m for m in MARTS if m.name == "review_queue")
    queue.build(conn, MartContext(load_settings(env={})))
    rows = conn.sql(
        "SELECT case_id, predicted_outcome, confidence, reason, round(priority, 2) FROM marts.review_queue"
    ).fetchall()
    # Ordered by uncertainty times the price of the first doctor's procedure (22630: $29,231).
    assert rows == [
        ("b", "deferred", 0.3, "needs_review", round(0.7 * 29231, 2)),
        ("a", "deferred", 0.95, "text_model: deferred at p=0.95", round(0.05 * 29231, 2)),
    ]


def _narratives(texts: dict[str, tuple[str, str]]) -> duckdb.DuckDBPyConnection:
    """A warehouse with one narrative-only opinion per case: case id -> (initial code, narrative)."""
    cases = cases_frame(
        [
            {"case_id": c, "specialty": "spine", "initial_procedure_code": code}
            for c, (code, _) in texts.items()
        ]
    )
    opinions = opinions_frame([{"case_id": c, "summary_text": text} for c, (_, text) in texts.items()])
    conn = _staged(cases, opinions)
    build_opinion_extractions(conn)
    return conn


def test_a_narrative_is_decided_by_rules_1_to_4_on_what_extraction_read():
    conn = _narratives(
        {
            "a": ("22612", "No instability. I would recommend a microdiscectomy rather than fusion."),
            "b": ("22612", "MRI of the whole spine first, then re-discuss."),
            "c": ("22612", "I agree with the proposed operation."),
        }
    )
    build_case_outcomes(conn, None, 0.6)
    out = conn.sql(
        "SELECT case_id, outcome, outcome_source, reason FROM core.case_outcomes ORDER BY 1"
    ).fetchall()
    assert out == [
        ("a", "less_invasive", "text_extraction", "text: recommends 63030 over 22612 (rule 3)"),
        ("b", "deferred", "text_extraction", "text: work-up before deciding: MRI (rule 1)"),
        ("c", "confirmed", "text_extraction", "text: agrees with the proposed 22612 (rule 4)"),
    ]
    spans = conn.sql("SELECT spans FROM core.opinion_extractions WHERE opinion_id = 'o-a'").fetchall()[0][0]
    assert [(s["text"], s["assertion"], s["role"]) for s in spans] == [
        ("microdiscectomy", "affirmed", "recommended"),
        ("fusion", "hypothetical", "rejected"),
    ]


def test_a_confident_model_that_reads_otherwise_sends_the_case_to_review():
    conn = _narratives({"a": ("22612", "I would recommend a microdiscectomy rather than fusion.")})
    sure = pl.DataFrame({"opinion_id": ["o-a"], "predicted_outcome": ["confirmed"], "probability": [0.95]})
    build_case_outcomes(conn, sure, 0.6, disagreement=0.9)
    row = conn.sql("SELECT outcome, outcome_source, reason, review_note FROM core.case_outcomes").fetchall()[
        0
    ]
    assert row[:3] == ("unclassified", "none", "needs_review")
    assert row[3].startswith("text reads less_invasive (recommends 63030 over 22612), model reads confirmed")
    unsure = sure.with_columns(probability=pl.lit(0.8))  # above the threshold, below the disagreement bar
    build_case_outcomes(conn, unsure, 0.6, disagreement=0.9)
    assert conn.sql("SELECT outcome_source FROM core.case_outcomes").fetchall() == [("text_extraction",)]


def test_a_persons_label_overrides_extraction_and_model():
    conn = _narratives({"a": ("22612", "I would recommend a microdiscectomy rather than fusion.")})
    conn.execute(
        "INSERT INTO staging.opinion_labels VALUES ('o-a', 'alternative', TIMESTAMP '2026-01-02 10:00', 'r7', NULL,"
        " 'h1', 'opinion_labels_1.csv', 's', 1, now()::TIMESTAMP, 'run'),"
        " ('o-a', 'confirmed', TIMESTAMP '2026-01-03 10:00', 'r8', NULL, 'h2', 'opinion_labels_2.csv', 's', 1,"
        " now()::TIMESTAMP, 'run')"
    )
    build_case_outcomes(conn, None, 0.6)
    row = conn.sql("SELECT outcome, outcome_source, reason FROM core.case_outcomes").fetchall()[0]
    assert row == ("confirmed", "human", "human: labelled confirmed by r8 at 2026-01-03 10:00:00")


def test_extractions_are_cached_by_narrative_hash():
    conn = _narratives({"a": ("22612", "I agree with the fusion."), "b": ("22612", "Physio first.")})
    assert build_opinion_extractions(conn) == {"narratives": 2, "read": 0, "cached": 2}
    conn.execute("UPDATE staging.opinions SET summary_text = 'I would not operate.' WHERE opinion_id = 'o-b'")
    assert build_opinion_extractions(conn) == {"narratives": 2, "read": 1, "cached": 1}
    row = conn.sql("SELECT recommendation FROM core.opinion_extractions WHERE opinion_id = 'o-b'").fetchall()
    assert row == [("conservative",)]
