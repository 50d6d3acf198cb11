-- First tier x second tier counts per specialty. The second opinion's tier: the recommended
-- code's for less_invasive, more_invasive and alternative; the initial tier for confirmed;
-- tier 0 for non_surgical. Deferred and unclassified cases have no second tier yet.
WITH t AS (
    SELECT specialty, initial_tier,
           CASE outcome WHEN 'non_surgical' THEN 0 WHEN 'confirmed' THEN initial_tier
                ELSE recommended_tier END AS second_tier
    FROM core.case_outcomes
    WHERE outcome IN ('confirmed', 'less_invasive', 'non_surgical', 'more_invasive', 'alternative')
      AND initial_tier IS NOT NULL
)
SELECT specialty, initial_tier, second_tier, count(*) AS n FROM t
WHERE second_tier IS NOT NULL GROUP BY ALL
