-- Claims with an allowed amount per case and code: how many claims a resample gives each code.
SELECT f.case_id, upper(trim(f.procedure_code)) AS code, count(*) AS n_claims
FROM staging.follow_ups f SEMI JOIN core.case_costs c ON c.case_id = f.case_id
WHERE f.allowed_amount IS NOT NULL
GROUP BY 1, 2
