-- Cases by turnaround bin: the smallest edge of $edges at or above the case's days; longer waits
-- go to the next multiple of 365.
WITH b AS (
    SELECT specialty,
           coalesce(list_min(list_filter($edges::INTEGER[], lambda e: e >= turnaround_days)),
                    CAST(365 * ceil(turnaround_days / 365.0) AS INTEGER)) AS days
    FROM core.case_outcomes WHERE turnaround_days IS NOT NULL
)
SELECT specialty, days, count(*) AS n FROM b GROUP BY ALL
UNION ALL
SELECT $all, days, count(*) FROM b GROUP BY ALL
ORDER BY specialty <> $all, specialty, days
