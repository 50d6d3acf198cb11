-- Per specialty (and $all): the share of the projected saving of priced changes that rests on at
-- least one estimated catalogue price (a code priced from reference.procedures whose cost_basis is
-- 'estimate', not a published Medicare payment, hospital cost or commercial price). Absolute case
-- savings, as in cost_basis_shares.sql, so an escalation does not cancel a de-escalation.
WITH c AS (
    SELECT cc.specialty, abs(cc.projected_avoided) AS amount,
        coalesce(cc.price_basis = 'catalogue' AND pi.cost_basis = 'estimate', false)
        OR coalesce(cc.recommended_price_basis = 'catalogue' AND pr.cost_basis = 'estimate', false) AS estimated
    FROM core.case_costs cc
    LEFT JOIN reference.procedures pi ON pi.procedure_code = cc.initial_code
    LEFT JOIN reference.procedures pr ON pr.procedure_code = cc.recommended_code
    WHERE list_contains($changed, cc.outcome) AND NOT cc.unpriced_change
),
s AS (
    SELECT specialty, amount, estimated FROM c
    UNION ALL
    SELECT $all, amount, estimated FROM c
)
SELECT specialty,
    coalesce(sum(amount) FILTER (estimated), 0) / nullif(sum(amount), 0) AS share_estimated
FROM s GROUP BY 1
