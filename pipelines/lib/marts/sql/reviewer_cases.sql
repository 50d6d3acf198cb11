-- One row per classified case with a reviewer, in each reviewer's time order: whether the second
-- opinion changed the plan, and the change rate of the case's stratum (specialty x initial
-- procedure x urgency), the expectation used where the change-propensity model gave no score.
-- A stratum of fewer than $min_stratum cases borrows the rate of specialty x procedure, then of
-- the specialty, so a reviewer who is most of a small stratum is not compared with themselves.
-- Unclassified cases say nothing about their reviewer and are left out, as in the raw funnel.
WITH c AS (
    SELECT case_id, reviewer_id, specialty, opinion_date, initial_procedure_code,
           coalesce(urgency, '') AS urgency,
           CAST(list_contains($changed::VARCHAR[], outcome) AS INTEGER) AS changed
    FROM core.case_outcomes
    WHERE outcome <> 'unclassified' AND reviewer_id IS NOT NULL
),
rated AS (
    SELECT *,
           count(*) OVER (PARTITION BY specialty, initial_procedure_code, urgency) AS n3,
           avg(changed) OVER (PARTITION BY specialty, initial_procedure_code, urgency) AS p3,
           count(*) OVER (PARTITION BY specialty, initial_procedure_code) AS n2,
           avg(changed) OVER (PARTITION BY specialty, initial_procedure_code) AS p2,
           avg(changed) OVER (PARTITION BY specialty) AS p1
    FROM c
)
SELECT case_id, reviewer_id, specialty, opinion_date, changed,
       CASE WHEN n3 >= $min_stratum THEN p3 WHEN n2 >= $min_stratum THEN p2 ELSE p1 END AS stratum_probability
FROM rated
ORDER BY specialty, reviewer_id, opinion_date, case_id
