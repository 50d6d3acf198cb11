-- Every outcome (zero counts included) per specialty and for all specialties together.
-- $all: the name of the all-specialties row; $outcomes: every outcome, in display order.
WITH c AS (
    SELECT specialty, outcome, count(*) AS n FROM core.case_outcomes GROUP BY ALL
    UNION ALL
    SELECT $all, outcome, count(*) FROM core.case_outcomes GROUP BY ALL
),
specs AS (SELECT DISTINCT specialty FROM c UNION SELECT $all),
grid AS (SELECT specialty, unnest($outcomes::VARCHAR[]) AS outcome FROM specs)
SELECT g.specialty, g.outcome, CAST(coalesce(c.n, 0) AS BIGINT) AS n,
       CAST(sum(coalesce(c.n, 0)) OVER (PARTITION BY g.specialty) AS BIGINT) AS total
FROM grid g LEFT JOIN c USING (specialty, outcome)
