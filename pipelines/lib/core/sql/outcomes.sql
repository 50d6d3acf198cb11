-- name: opinion_rules
-- Rules 1-4 of DESIGN "Outcome classification", written once, applied to the fields each opinion
-- carries: its structured fields, or, for a narrative-only opinion, the fields extraction read from
-- its narrative (rule 5; core.opinion_extractions). $latest_only keeps each case's latest opinion
-- (opinion_date, then updated_at; opinion_id breaks exact ties); $text_always reads every narrative's
-- extracted fields, structured or not (the deciding rule kept with each extraction). The reason CASE decides; the
-- reason-to-outcome map ($reasons, $outcomes) names the outcome.
WITH op AS (
    SELECT
        o.opinion_id, o.case_id, o.reviewer_id, o.opinion_date, o.updated_at, o.summary_text,
        lower(trim(o.recommendation)) AS structured_recommendation,
        nullif(upper(trim(o.recommended_procedure_code)), '') AS structured_code,
        coalesce(length(trim(o.summary_text)) > 0, false) AS summary_text_present
    FROM staging.opinions o
    QUALIFY NOT $latest_only OR row_number() OVER (
        PARTITION BY o.case_id ORDER BY o.opinion_date DESC, o.updated_at DESC NULLS LAST, o.opinion_id DESC
    ) = 1
),
fields AS (
    SELECT
        op.*,
        structured_recommendation IS NULL AND structured_code IS NULL AND summary_text_present AS narrative_only,
        CASE WHEN (structured_recommendation IS NULL AND structured_code IS NULL OR $text_always)
                  AND summary_text_present
             THEN 'text_extraction' ELSE 'structured' END AS field_source,
        x.recommendation AS extracted_recommendation,
        x.recommended_procedure_code AS extracted_code,
        x.evidence AS extraction_evidence,
        x.confidence AS extraction_confidence
    FROM op LEFT JOIN core.opinion_extractions x USING (opinion_id)
),
unified AS (
    SELECT
        fields.*,
        CASE WHEN field_source = 'structured' THEN structured_recommendation ELSE extracted_recommendation END
            AS recommendation,
        CASE WHEN field_source = 'structured' THEN structured_code ELSE extracted_code END
            AS recommended_procedure_code
    FROM fields
),
base AS (
    SELECT
        u.*,
        c.patient_key, c.specialty, c.referral_date,
        nullif(upper(trim(c.initial_procedure_code)), '') AS initial_procedure_code,
        pi.family AS initial_family, pi.tier AS initial_tier,
        pr.family AS recommended_family, pr.tier AS recommended_tier,
        pi.procedure_code IS NOT NULL AS initial_known,
        pr.procedure_code IS NOT NULL AS recommended_known,
        c.age_band, c.sex, c.region, c.payer_type, c.plan_id, c.urgency, c.diagnosis_code
    FROM unified u
    JOIN staging.cases c ON c.case_id = u.case_id
    LEFT JOIN reference.procedures pi ON pi.procedure_code = nullif(upper(trim(c.initial_procedure_code)), '')
    LEFT JOIN reference.procedures pr ON pr.procedure_code = u.recommended_procedure_code
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
)
SELECT
    reasoned.*,
    list_extract($outcomes::VARCHAR[], list_position($reasons::VARCHAR[], rule_reason)) AS rule_outcome,
    -- Which of rules 1-4 decided (rule 3 compares codes; 1-2 read the recommendation; 4 proceeds).
    CASE WHEN rule_reason LIKE 'recommendation_defer' OR rule_reason LIKE 'recommendation_further_testing' THEN 1
         WHEN rule_reason = 'recommendation_conservative' THEN 2
         WHEN rule_reason = 'proceed_without_code' THEN 4
         WHEN list_position($reasons::VARCHAR[], rule_reason) IS NOT NULL THEN 3 END AS rule_number
FROM reasoned

-- name: case_outcomes
-- One row per case with an opinion: a person's label (opinion_labels) first, then rules 1-4 on the
-- structured fields, then rule 5 on a narrative: the extraction's fields through the same rules
-- (text_extraction) unless the classifier confidently disagrees, else the classifier's label when
-- it reaches $threshold (text_model); a disagreement or a reading below the threshold is
-- unclassified with reason needs_review (marts.review_queue).
WITH ruled AS (SELECT * FROM _secondlook_ruled),
labels AS (
    SELECT opinion_id, lower(trim(outcome)) AS label_outcome, labeller, labelled_at
    FROM staging.opinion_labels
    QUALIFY row_number() OVER (PARTITION BY opinion_id ORDER BY labelled_at DESC, loaded_at DESC, source_row DESC) = 1
),
read AS (
    SELECT r.*, p.predicted_outcome, p.probability, l.label_outcome, l.labeller, l.labelled_at,
        r.field_source = 'text_extraction' AND r.rule_outcome IS NOT NULL AS extracted,
        p.predicted_outcome IN (SELECT unnest($valid::VARCHAR[])) AND p.probability >= $threshold AS model_sure
    FROM ruled r
    LEFT JOIN _secondlook_text_predictions p ON p.opinion_id = r.opinion_id AND r.narrative_only
    LEFT JOIN labels l ON l.opinion_id = r.opinion_id
),
decided AS (
    SELECT read.*,
        extracted AND coalesce(model_sure, false) AND predicted_outcome <> rule_outcome
            AND (probability >= $disagreement OR extraction_confidence < 1) AS disagree
    FROM read
)
SELECT
    case_id, patient_key, specialty, referral_date, opinion_id, opinion_date,
    CAST(opinion_date - referral_date AS INTEGER) AS turnaround_days, reviewer_id,
    initial_procedure_code, initial_family, initial_tier,
    recommended_procedure_code, recommended_family, recommended_tier,
    recommendation, summary_text_present,
    CASE
        WHEN label_outcome IS NOT NULL THEN label_outcome
        WHEN field_source = 'structured' AND rule_outcome IS NOT NULL THEN rule_outcome
        WHEN extracted AND NOT disagree THEN rule_outcome
        WHEN narrative_only AND NOT extracted AND coalesce(model_sure, false) THEN predicted_outcome
        ELSE 'unclassified' END AS outcome,
    CASE
        WHEN label_outcome IS NOT NULL THEN 'human'
        WHEN field_source = 'structured' AND rule_outcome IS NOT NULL
            THEN CASE WHEN rule_number = 3 THEN 'procedure_code' ELSE 'recommendation' END
        WHEN extracted AND NOT disagree THEN 'text_extraction'
        WHEN narrative_only AND NOT extracted AND coalesce(model_sure, false) THEN 'text_model'
        ELSE 'none' END AS outcome_source,
    CASE
        WHEN label_outcome IS NOT NULL THEN 1.0
        WHEN field_source = 'structured' AND rule_outcome IS NOT NULL THEN 1.0
        WHEN extracted AND NOT disagree THEN extraction_confidence
        WHEN predicted_outcome IS NOT NULL THEN probability
        END AS confidence,
    CASE
        WHEN label_outcome IS NOT NULL
            THEN 'human: labelled ' || label_outcome || coalesce(' by ' || labeller, '') || ' at ' || CAST(labelled_at AS VARCHAR)
        WHEN field_source = 'structured' AND rule_outcome IS NOT NULL THEN rule_reason
        WHEN extracted AND NOT disagree
            THEN 'text: ' || extraction_evidence || ' (rule ' || CAST(rule_number AS VARCHAR) || ')'
        WHEN narrative_only AND NOT extracted AND coalesce(model_sure, false)
            THEN 'text_model: ' || predicted_outcome || ' at p=' || CAST(round(probability, 2) AS VARCHAR)
        WHEN disagree OR (narrative_only AND predicted_outcome IS NOT NULL) THEN 'needs_review'
        ELSE rule_reason END AS reason,
    -- Why a person should read it: the two readings, or the one that fell short.
    CASE
        WHEN label_outcome IS NOT NULL OR (field_source = 'structured' AND rule_outcome IS NOT NULL) THEN NULL
        WHEN disagree
            THEN 'text reads ' || rule_outcome || ' (' || extraction_evidence || '), model reads '
                 || predicted_outcome || ' at p=' || CAST(round(probability, 2) AS VARCHAR)
        WHEN extracted THEN NULL
        WHEN narrative_only AND predicted_outcome IS NOT NULL
            THEN 'no decision in the text; model reads ' || predicted_outcome || ' at p='
                 || CAST(round(probability, 2) AS VARCHAR) || CASE WHEN model_sure THEN '' ELSE ' (below '
                 || CAST($threshold AS VARCHAR) || ')' END
        END AS review_note,
    age_band, sex, region, payer_type, plan_id, urgency, diagnosis_code,
    predicted_outcome, probability AS predicted_probability,
    CASE WHEN narrative_only THEN rule_outcome END AS extracted_outcome,
    extraction_evidence
FROM decided

-- name: pending_cases
-- Staged cases with no opinion yet: counted, never in a rate.
SELECT c.case_id, c.specialty, c.referral_date
FROM staging.cases c
ANTI JOIN staging.opinions o ON o.case_id = c.case_id
