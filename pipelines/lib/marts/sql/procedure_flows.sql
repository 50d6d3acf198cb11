-- Sankey links from the initial family to where the opinion led: the recommended family for
-- less_invasive, more_invasive and alternative, else the outcome itself.
WITH f AS (
    SELECT specialty, coalesce(initial_family, 'unknown_code') AS source,
           CASE WHEN outcome IN ('less_invasive', 'more_invasive', 'alternative')
                THEN coalesce(recommended_family, outcome) ELSE outcome END AS target,
           outcome
    FROM core.case_outcomes
)
SELECT specialty, source, target, outcome, count(*) AS n FROM f GROUP BY ALL
UNION ALL
SELECT $all, source, target, outcome, count(*) FROM f GROUP BY ALL
ORDER BY specialty <> $all, specialty, n DESC, source, target
