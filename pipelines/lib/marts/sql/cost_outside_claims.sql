-- Claims with an allowed amount of cases the bootstrap does not resample (pending, unknown ids).
SELECT upper(trim(f.procedure_code)) AS code, count(*) AS n_claims
FROM staging.follow_ups f ANTI JOIN core.case_costs c ON c.case_id = f.case_id
WHERE f.allowed_amount IS NOT NULL
GROUP BY 1
