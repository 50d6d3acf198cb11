-- name: create
CREATE TABLE IF NOT EXISTS core.publication_keys (
  dimension VARCHAR, value VARCHAR, number INTEGER, label VARCHAR, first_run_id VARCHAR);

-- name: add_new
-- New reviewer and plan ids get the next numbers, in an order drawn from a per-run secret
-- ($nonce, never stored), so the numbers say nothing of the ids; existing ids keep theirs.
INSERT INTO core.publication_keys
WITH seen AS (
    SELECT 'reviewer' AS dimension, reviewer_id AS value FROM core.case_outcomes WHERE reviewer_id IS NOT NULL
    UNION SELECT 'plan', plan_id FROM core.case_outcomes WHERE plan_id IS NOT NULL
),
new AS (SELECT * FROM seen ANTI JOIN core.publication_keys USING (dimension, value)),
base AS (SELECT dimension, coalesce(max(number), 0) AS top FROM core.publication_keys GROUP BY dimension)
SELECT n.dimension, n.value,
       coalesce(b.top, 0) + row_number() OVER (PARTITION BY n.dimension ORDER BY md5(n.value || $nonce)) AS number,
       NULL AS label, $run_id
FROM new n LEFT JOIN base b USING (dimension);

-- name: label
-- Labels: a configured display name for a plan, else "Reviewer 07" / "Plan 03".
UPDATE core.publication_keys k SET label = coalesce(
    (SELECT d.display_name FROM plan_names d WHERE k.dimension = 'plan' AND d.plan_id = k.value),
    CASE k.dimension WHEN 'reviewer' THEN 'Reviewer ' ELSE 'Plan ' END
      || lpad(CAST(k.number AS VARCHAR), CAST(greatest(2, length(CAST((SELECT max(number) FROM core.publication_keys
                                                   WHERE dimension = k.dimension) AS VARCHAR))) AS INTEGER), '0'));
