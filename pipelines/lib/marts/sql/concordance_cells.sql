-- First tier x second tier counts per specialty, and the cases agreement leaves out and why.
-- The second opinion's tier: the recommended code's for less_invasive, more_invasive and
-- alternative; the initial tier for confirmed; tier 0 for non_surgical. Left out of both kappas:
-- deferred cases (no second plan yet), unclassified cases (no outcome), and cases with no tier on
-- one side (an unknown initial code, or a change with no catalogue code, e.g. one read from a
-- narrative that named no procedure). left_out is null for the cases that count.
WITH t AS (
    SELECT specialty, outcome, initial_tier,
           CASE outcome WHEN 'non_surgical' THEN 0 WHEN 'confirmed' THEN initial_tier
                ELSE recommended_tier END AS second_tier
    FROM core.case_outcomes
),
r AS (
    SELECT specialty, initial_tier, second_tier,
           CASE WHEN outcome IN ('deferred', 'unclassified') THEN outcome
                WHEN initial_tier IS NULL OR second_tier IS NULL THEN 'no_tier' END AS left_out
    FROM t
)
SELECT specialty, left_out,
       CASE WHEN left_out IS NULL THEN initial_tier END AS initial_tier,
       CASE WHEN left_out IS NULL THEN second_tier END AS second_tier,
       count(*) AS n
FROM r GROUP BY ALL
