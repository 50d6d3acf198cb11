-- name: case_outcomes_complete
-- Cases with an opinion and a known case, against the rows of core.case_outcomes.
WITH expected AS (SELECT DISTINCT o.case_id FROM staging.opinions o SEMI JOIN staging.cases c ON c.case_id = o.case_id),
     got AS (SELECT case_id, count(*) AS k FROM core.case_outcomes GROUP BY case_id)
SELECT (SELECT count(*) FROM expected) AS expected,
       (SELECT count(*) FROM expected ANTI JOIN got USING (case_id)) AS missing,
       (SELECT count(*) FROM got ANTI JOIN expected USING (case_id)) AS unexpected,
       (SELECT count(*) FROM got WHERE k > 1) AS duplicated

-- name: initial_codes_known
-- Cases whose initial code is not in the catalogue, and those of them classified anyway.
SELECT (SELECT count(*) FROM core.case_outcomes) AS cases,
       count(*) AS unknown,
       count(*) FILTER (WHERE outcome <> 'unclassified' OR reason IS NULL) AS classified_anyway
FROM core.case_outcomes co
ANTI JOIN reference.procedures p ON p.procedure_code = co.initial_procedure_code

-- name: negative_prices
-- Prices below zero in the catalogue, the prices in force and the priced cases.
SELECT (SELECT count(*) FROM reference.procedures) + (SELECT count(*) FROM core.prices)
         + (SELECT count(*) FROM core.case_costs) AS rows_checked,
       (SELECT count(*) FROM reference.procedures WHERE cost_usd < 0) AS catalogue,
       (SELECT count(*) FROM core.prices WHERE price < 0) AS prices,
       (SELECT count(*) FROM core.case_costs WHERE cost_initial < 0 OR cost_recommended < 0) AS case_costs

-- name: cost_evidence_consistent
-- Cases whose verdict contradicts the claims-through date or whose rate in force leaves [0, 1].
SELECT (SELECT count(*) FROM core.case_costs) AS rows_checked,
       (SELECT count(*) FROM core.case_costs c, core.claims_through t
         WHERE c.horizon_closed AND (t.claims_through IS NULL OR c.horizon_end > t.claims_through)) AS closed_too_early,
       (SELECT count(*) FROM core.case_costs
         WHERE (realized_status = 'window_open') = horizon_closed AND realized_status <> 'not_applicable') AS status_mismatch,
       (SELECT count(*) FROM core.baseline_rates WHERE rate_used < 0 OR rate_used > 1)
         + (SELECT count(*) FROM core.leakage_rates WHERE rate_used < 0 OR rate_used > 1) AS rates_out_of_range
