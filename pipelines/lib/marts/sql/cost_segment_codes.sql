-- Over cost_cases: priced changes per segment, specialty, outcome and code (initial, and
-- recommended), for the linear effect of a replicate's redrawn prices on a segment's savings.
WITH cut AS (
    SELECT 'payer_type' AS dimension, payer_type AS segment, * FROM cost_cases WHERE priced
    UNION ALL SELECT 'plan_id', plan_id, * FROM cost_cases WHERE priced
)
SELECT dimension, segment, specialty, outcome, 'initial' AS role, initial_code AS code,
       count(*) AS n, count(*) FILTER (WHERE verified) AS nv
FROM cut GROUP BY ALL
UNION ALL
SELECT dimension, segment, specialty, outcome, 'recommended', recommended_code, count(*), 0
FROM cut WHERE recommended_code IS NOT NULL GROUP BY ALL
