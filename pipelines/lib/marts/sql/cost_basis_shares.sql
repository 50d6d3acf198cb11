-- Per specialty (and all): the absolute projected saving of priced changes by the price basis they
-- rest on; a case whose initial and recommended codes have different bases is 'mixed'.
WITH c AS (
    SELECT specialty, abs(projected_avoided) AS amount,
           CASE WHEN recommended_price_basis IS NULL OR recommended_price_basis = price_basis
                THEN price_basis ELSE 'mixed' END AS basis
    FROM core.case_costs
    WHERE list_contains($changed, outcome) AND NOT unpriced_change
)
SELECT specialty, basis, sum(amount) AS amount FROM c GROUP BY 1, 2
UNION ALL
SELECT $all, basis, sum(amount) FROM c GROUP BY 2
