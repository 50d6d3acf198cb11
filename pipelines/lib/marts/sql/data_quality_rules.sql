-- Quarantined rows per record type, field and rule (reasons are `field:rule`).
WITH r AS (SELECT record_type, unnest(reasons) AS reason FROM quarantine.rows)
SELECT record_type,
       CASE WHEN strpos(reason, ':') > 0 THEN split_part(reason, ':', 1) END AS field,
       CASE WHEN strpos(reason, ':') > 0 THEN substr(reason, strpos(reason, ':') + 1) ELSE reason END AS rule,
       count(*) AS n_rows
FROM r GROUP BY ALL ORDER BY record_type, n_rows DESC, field, rule
