-- Over cost_cases: claims with an allowed amount per key and code, for the replicates' claim counts.
SELECT c.specialty, c.outcome,
       CASE WHEN c.priced THEN c.initial_code END AS initial_code,
       CASE WHEN c.priced THEN c.recommended_code END AS recommended_code,
       c.priced, c.unpriced, c.closed, c.c_den, c.c_num, c.l_den, c.l_num, c.verified,
       upper(trim(f.procedure_code)) AS code, count(*) AS n_claims
FROM cost_cases c JOIN staging.follow_ups f ON f.case_id = c.case_id
WHERE f.allowed_amount IS NOT NULL
GROUP BY ALL
