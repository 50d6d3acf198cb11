-- What each published rate rests on: per specialty (and $all) and outcome, how many cases were
-- decided from structured fields, by extraction from the narrative, by the classifier alone, or by
-- a person's label. $outcomes: every outcome, in display order.
WITH c AS (
    SELECT specialty, outcome, outcome_source FROM core.case_outcomes
    UNION ALL
    SELECT $all, outcome, outcome_source FROM core.case_outcomes
),
counts AS (
    SELECT specialty, outcome,
        count(*) FILTER (outcome_source IN ('procedure_code', 'recommendation')) AS n_structured,
        count(*) FILTER (outcome_source = 'text_extraction') AS n_text_extraction,
        count(*) FILTER (outcome_source = 'text_model') AS n_text_model,
        count(*) FILTER (outcome_source = 'human') AS n_human,
        count(*) AS n
    FROM c GROUP BY ALL
),
specs AS (SELECT DISTINCT specialty FROM c UNION SELECT $all),
grid AS (SELECT specialty, unnest($outcomes::VARCHAR[]) AS outcome FROM specs)
SELECT g.specialty, g.outcome,
    CAST(coalesce(n, 0) AS BIGINT) AS n,
    CAST(coalesce(n_structured, 0) AS BIGINT) AS n_structured,
    CAST(coalesce(n_text_extraction, 0) AS BIGINT) AS n_text_extraction,
    CAST(coalesce(n_text_model, 0) AS BIGINT) AS n_text_model,
    CAST(coalesce(n_human, 0) AS BIGINT) AS n_human
FROM grid g LEFT JOIN counts USING (specialty, outcome)
