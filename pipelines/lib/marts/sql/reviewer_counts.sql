-- Classified cases and changes per reviewer and specialty, with the specialty's change rate.
-- n counts classified cases only: an unclassified case says nothing about its reviewer.
WITH r AS (
    SELECT reviewer_id, specialty,
           count(*) FILTER (WHERE outcome <> 'unclassified') AS n,
           count(*) FILTER (WHERE list_contains($changed::VARCHAR[], outcome)) AS n_changed
    FROM core.case_outcomes GROUP BY ALL
)
SELECT reviewer_id, specialty, n, n_changed, n_changed / n AS change_rate,
       sum(n_changed) OVER (PARTITION BY specialty) / sum(n) OVER (PARTITION BY specialty) AS specialty_rate
FROM r WHERE n > 0
