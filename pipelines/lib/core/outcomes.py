"""Outcome classification of second opinions: DESIGN "Outcome classification", rules 1-6.

One SQL statement decides every opinion from its structured fields (rules 1-4); the text model's
label fills in narrative-only opinions (rule 5); everything else is unclassified with a reason
(rule 6). The same SQL serves the per-opinion labels the text model trains on and the per-case
table, so a label can never disagree with what the pipeline itself would decide.

Reasons are short codes: which rule fired for a classified case (e.g. `lower_tier`,
`recommendation_defer`), and why not for an unclassified one (`unknown_initial_code:<code>`,
`unknown_recommended_code:<code>`, `narrative_only`, `low_confidence`, `no_signal`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.lib.vocabulary import REVIEW_OUTCOMES

_CODE = "nullif(upper(trim({col})), '')"

# Rules 1-4 decide a reason (the CASE in _BASE_SQL, written once); each deciding reason names its
# outcome here. Any other reason (unknown code, narrative only, no signal) decides nothing.
OUTCOME_OF_REASON: dict[str, str] = {
    "recommendation_defer": "deferred",
    "recommendation_further_testing": "deferred",
    "recommendation_conservative": "non_surgical",
    "same_code": "confirmed",
    "recommended_tier_0": "non_surgical",
    "lower_tier": "less_invasive",
    "higher_tier": "more_invasive",
    "same_tier_same_family": "confirmed",
    "same_tier_other_family": "alternative",
    "proceed_without_code": "confirmed",
}
_OUTCOME_OF_REASON = (
    "CASE rule_reason " + " ".join(f"WHEN '{r}' THEN '{o}'" for r, o in OUTCOME_OF_REASON.items()) + " END"
)

# Opinions joined to their case and to the catalogue; {latest} optionally keeps each case's
# latest opinion (opinion_date, then updated_at; opinion_id breaks exact ties deterministically).
_BASE_SQL = f"""
WITH op AS (
    SELECT
        o.opinion_id, o.case_id, o.reviewer_id, o.opinion_date, o.updated_at,
        lower(trim(o.recommendation)) AS recommendation,
        {_CODE.format(col="o.recommended_procedure_code")} AS recommended_procedure_code,
        coalesce(length(trim(o.summary_text)) > 0, false) AS summary_text_present
    FROM staging.opinions o
    {{latest}}
),
base AS (
    SELECT
        op.*,
        c.patient_key, c.specialty, c.referral_date,
        {_CODE.format(col="c.initial_procedure_code")} AS initial_procedure_code,
        pi.family AS initial_family, pi.tier AS initial_tier,
        pr.family AS recommended_family, pr.tier AS recommended_tier,
        pi.procedure_code IS NOT NULL AS initial_known,
        pr.procedure_code IS NOT NULL AS recommended_known,
        c.age_band, c.sex, c.region, c.payer_type, c.plan_id, c.urgency, c.diagnosis_code
    FROM op
    JOIN staging.cases c ON c.case_id = op.case_id
    LEFT JOIN reference.procedures pi ON pi.procedure_code = {_CODE.format(col="c.initial_procedure_code")}
    LEFT JOIN reference.procedures pr ON pr.procedure_code = op.recommended_procedure_code
),
reasoned AS (
    SELECT
        base.*,
        CASE
            WHEN NOT initial_known THEN 'unknown_initial_code:' || coalesce(initial_procedure_code, 'missing')
            WHEN recommendation IN ('defer', 'further_testing', 'conservative') THEN 'recommendation_' || recommendation
            WHEN recommended_known THEN CASE
                WHEN recommended_procedure_code = initial_procedure_code THEN 'same_code'
                WHEN recommended_tier = 0 THEN 'recommended_tier_0'
                WHEN recommended_tier < initial_tier THEN 'lower_tier'
                WHEN recommended_tier > initial_tier THEN 'higher_tier'
                WHEN recommended_family = initial_family THEN 'same_tier_same_family'
                ELSE 'same_tier_other_family' END
            WHEN recommended_procedure_code IS NOT NULL
                THEN 'unknown_recommended_code:' || recommended_procedure_code
            WHEN recommendation = 'proceed' THEN 'proceed_without_code'
            WHEN summary_text_present THEN 'narrative_only'
            ELSE 'no_signal'
        END AS rule_reason
    FROM base
),
ruled AS (
    SELECT reasoned.*, {_OUTCOME_OF_REASON} AS rule_outcome FROM reasoned
)
"""

_LATEST = """QUALIFY row_number() OVER (
        PARTITION BY o.case_id ORDER BY o.opinion_date DESC, o.updated_at DESC NULLS LAST, o.opinion_id DESC
    ) = 1"""

# Rule 3 fired when the code was known and no recommendation of rules 1-2 came first.
_RULE_SOURCE = """CASE WHEN rule_outcome IS NULL THEN 'none'
    WHEN recommended_known AND coalesce(recommendation, '') NOT IN ('defer', 'further_testing', 'conservative')
        THEN 'procedure_code'
    ELSE 'recommendation' END"""


def opinion_rule_outcomes(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rules 1-4 for every staged opinion: opinion_id, case_id, outcome, outcome_source, reason.

    `outcome` is null where structured fields decide nothing (reason says why: narrative_only,
    an unknown code, no_signal). The text model trains on these labels, so narratives are
    labelled by the rules, never by hand.
    """
    sql = (
        _BASE_SQL.format(latest="")
        + f"""
    SELECT opinion_id, case_id, rule_outcome AS outcome, {_RULE_SOURCE} AS outcome_source,
           rule_reason AS reason
    FROM ruled ORDER BY opinion_id"""
    )
    return conn.sql(sql).pl()


def _register_predictions(conn: duckdb.DuckDBPyConnection, text_predictions: pl.DataFrame | None) -> str:
    name = "_secondlook_text_predictions"
    if text_predictions is None:
        frame = pl.DataFrame(
            schema={"opinion_id": pl.Utf8, "predicted_outcome": pl.Utf8, "probability": pl.Float64}
        )
    else:
        frame = text_predictions.select(
            pl.col("opinion_id").cast(pl.Utf8),
            pl.col("predicted_outcome").cast(pl.Utf8),
            pl.col("probability").cast(pl.Float64),
        ).unique(subset="opinion_id", keep="last")
    conn.register(name, frame.to_arrow())
    return name


def build_case_outcomes(
    conn: duckdb.DuckDBPyConnection, text_predictions: pl.DataFrame | None, threshold: float
) -> None:
    """Write core.case_outcomes (one row per case with an opinion) and core.pending_cases.

    A narrative-only opinion takes the text model's label when its probability reaches
    `threshold` (outcome_source `text_model`); below it the case is unclassified with reason
    `low_confidence`; with no prediction at all it stays unclassified as `narrative_only`.
    The model's label is kept in the extra column `predicted_outcome` either way, for review.
    """
    valid = ", ".join(f"'{o}'" for o in REVIEW_OUTCOMES)
    preds = _register_predictions(conn, text_predictions)
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS core")
        conn.execute(
            "CREATE OR REPLACE TABLE core.case_outcomes AS "
            + _BASE_SQL.format(latest=_LATEST)
            + f""",
        predicted AS (
            SELECT r.*, p.predicted_outcome, p.probability
            FROM ruled r
            LEFT JOIN {preds} p ON p.opinion_id = r.opinion_id AND r.rule_reason = 'narrative_only'
        )
        SELECT
            case_id, patient_key, specialty, referral_date, opinion_id, opinion_date,
            CAST(opinion_date - referral_date AS INTEGER) AS turnaround_days, reviewer_id,
            initial_procedure_code, initial_family, initial_tier,
            recommended_procedure_code, recommended_family, recommended_tier,
            recommendation, summary_text_present,
            CASE
                WHEN rule_outcome IS NOT NULL THEN rule_outcome
                WHEN predicted_outcome IN ({valid}) AND probability >= {float(threshold)!r} THEN predicted_outcome
                ELSE 'unclassified' END AS outcome,
            CASE
                WHEN rule_outcome IS NOT NULL THEN {_RULE_SOURCE}
                WHEN predicted_outcome IN ({valid}) AND probability >= {float(threshold)!r} THEN 'text_model'
                ELSE 'none' END AS outcome_source,
            CASE
                WHEN rule_outcome IS NOT NULL THEN 1.0
                WHEN predicted_outcome IS NOT NULL THEN probability
                END AS confidence,
            CASE
                WHEN rule_outcome IS NOT NULL THEN rule_reason
                WHEN predicted_outcome IN ({valid}) AND probability >= {float(threshold)!r} THEN 'text_model'
                WHEN predicted_outcome IS NOT NULL AND predicted_outcome NOT IN ({valid}) THEN 'invalid_prediction'
                WHEN predicted_outcome IS NOT NULL THEN 'low_confidence'
                ELSE rule_reason END AS reason,
            age_band, sex, region, payer_type, plan_id, urgency, diagnosis_code,
            predicted_outcome
        FROM predicted
        """
        )
    finally:
        conn.unregister(preds)
    conn.execute(
        """
        CREATE OR REPLACE TABLE core.pending_cases AS
        SELECT c.case_id, c.specialty, c.referral_date
        FROM staging.cases c
        ANTI JOIN staging.opinions o ON o.case_id = c.case_id
        """
    )


def build_review_queue(conn: duckdb.DuckDBPyConnection) -> None:
    """marts.review_queue: cases a person should look at (case level, never published).

    Every unclassified case, plus every case whose outcome came from the text model (its label
    is a prediction, so a reviewer should be able to confirm it); least certain first.
    """
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    conn.execute(
        """
        CREATE OR REPLACE TABLE marts.review_queue AS
        SELECT case_id, specialty, opinion_id, predicted_outcome, confidence, reason
        FROM core.case_outcomes
        WHERE outcome = 'unclassified' OR outcome_source = 'text_model'
        ORDER BY outcome_source = 'text_model', confidence NULLS FIRST, specialty, case_id
        """
    )
