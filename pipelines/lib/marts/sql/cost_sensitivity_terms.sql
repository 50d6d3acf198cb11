-- Per specialty (and all): cases, gross projected avoided, the initial cost exposed to leakage
-- and the leakage term leakage_used x cost_initial summed: enough for exact sensitivity swings.
WITH a AS (
    SELECT specialty, count(*) AS n, sum(coalesce(projected_avoided, 0)) AS gross,
           sum(CASE WHEN leakage_used IS NOT NULL THEN cost_initial ELSE 0 END) AS exposed,
           sum(coalesce(leakage_used * cost_initial, 0)) AS leak_term
    FROM core.case_costs GROUP BY specialty
)
SELECT * FROM a
UNION ALL
SELECT $all, coalesce(sum(n), 0), coalesce(sum(gross), 0), coalesce(sum(exposed), 0), coalesce(sum(leak_term), 0) FROM a
