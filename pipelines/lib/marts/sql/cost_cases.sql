-- Per case: the groups a cost measure is cut by, its saving projected and verified, and the
-- flags the bootstrap re-estimates c and l from (docs/method.md "Cost avoided").
SELECT case_id, specialty,
       coalesce(payer_type, 'unknown') AS payer_type, coalesce(plan_id, 'unknown') AS plan_id,
       outcome, initial_code, recommended_code,
       coalesce(projected_avoided, 0.0) AS projected,
       coalesce(realized_avoided, 0.0) AS realized,
       coalesce(observed_cost, 0.0) AS observed_cost,
       list_contains($changed, outcome) AND NOT unpriced_change AS priced,
       unpriced_change AS unpriced,
       horizon_closed AS closed,
       outcome = 'confirmed' AND horizon_closed AND (has_claims OR covered) AS c_den,
       outcome = 'confirmed' AND horizon_closed AND (has_claims OR covered) AND family_billed AS c_num,
       list_contains($changed, outcome) AND horizon_closed AND (has_claims OR covered) AS l_den,
       list_contains($changed, outcome) AND horizon_closed AND (has_claims OR covered) AND family_billed AS l_num,
       list_contains($changed, outcome) AND NOT unpriced_change AND realized_status IN ('leaked', 'avoided') AS verified,
       outcome = 'deferred' AS deferred,
       coalesce(price_basis, 'unpriced') AS price_basis,
       recommended_price_basis
FROM core.case_costs
