-- Over cost_cases: the case-level sums every cost measure starts from, per specialty, payer type and plan.
WITH cut AS (
    SELECT 'specialty' AS dimension, specialty AS segment, * FROM cost_cases
    UNION ALL SELECT 'payer_type', payer_type, * FROM cost_cases
    UNION ALL SELECT 'plan_id', plan_id, * FROM cost_cases
)
SELECT dimension, segment, count(*) AS n_cases, sum(projected) AS gross,
       coalesce(sum(projected) FILTER (WHERE deferred), 0) AS deferred_gross,
       coalesce(sum(realized) FILTER (WHERE closed), 0) AS realized,
       count(*) FILTER (WHERE verified) AS n_verified,
       count(*) FILTER (WHERE closed) AS n_closed_cohort,
       count(*) FILTER (WHERE unpriced) AS unpriced_changes
FROM cut
GROUP BY 1, 2
