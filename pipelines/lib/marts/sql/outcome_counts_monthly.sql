-- Outcome counts per specialty (and all) and month of the opinion date, with each series'
-- centre line: the outcome's rate over all months of that specialty.
WITH base AS (
    SELECT specialty, CAST(date_trunc('month', opinion_date) AS DATE) AS month, outcome
    FROM core.case_outcomes
),
c AS (
    SELECT specialty, month, outcome, count(*) AS n FROM base GROUP BY ALL
    UNION ALL
    SELECT $all, month, outcome, count(*) FROM base GROUP BY ALL
),
cells AS (SELECT DISTINCT specialty, month FROM c),
grid AS (SELECT specialty, month, unnest($outcomes::VARCHAR[]) AS outcome FROM cells),
full_grid AS (
    SELECT g.specialty, g.month, g.outcome, CAST(coalesce(c.n, 0) AS BIGINT) AS n,
           CAST(sum(coalesce(c.n, 0)) OVER (PARTITION BY g.specialty, g.month) AS BIGINT) AS total
    FROM grid g LEFT JOIN c USING (specialty, month, outcome)
)
SELECT *, sum(n) OVER (PARTITION BY specialty, outcome) / sum(total) OVER (PARTITION BY specialty, outcome)
          AS center_line
FROM full_grid
