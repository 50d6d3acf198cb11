-- Per case: the groups a cost measure is cut by, projected and realized avoided, verified flag.
SELECT specialty, coalesce(payer_type, 'unknown') AS payer_type, coalesce(plan_id, 'unknown') AS plan_id,
       coalesce(projected_avoided, 0.0) AS projected,
       coalesce(realized_avoided, 0.0) AS realized,
       coalesce(realized_status IN ('verified_avoided', 'leaked'), false) AS verified
FROM core.case_costs
