-- Median and 90th percentile days from referral to opinion, per specialty (and all) and month.
-- quantile_cont interpolates between the two nearest cases (type 7 of Hyndman and Fan).
WITH base AS (
    SELECT specialty, CAST(date_trunc('month', opinion_date) AS DATE) AS month, turnaround_days
    FROM core.case_outcomes
),
u AS (SELECT * FROM base UNION ALL SELECT $all, month, turnaround_days FROM base)
SELECT specialty, month, count(*) AS n,
       quantile_cont(turnaround_days, 0.5) AS median_days,
       quantile_cont(turnaround_days, 0.9) AS p90_days
FROM u GROUP BY specialty, month ORDER BY specialty <> $all, specialty, month
