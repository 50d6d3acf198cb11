-- Per specialty and outcome: cases, gross projected avoided, and the sums the projected saving is
-- linear in over priced changes: sum of (P(initial) - P_conservative), the weight of c; sum of
-- P(initial), the weight of l; sum of (P_conservative - P_plan), the part no rate touches.
-- gross = discount x (c x weight_c + fixed - l x weight_l): exact swings of c, l and the horizon.
SELECT specialty, outcome, count(*) AS n, sum(coalesce(projected_avoided, 0)) AS gross,
       coalesce(sum(cost_initial - conservative_cost) FILTER (WHERE priced), 0) AS weight_c,
       coalesce(sum(cost_initial) FILTER (WHERE priced), 0) AS weight_l,
       coalesce(sum(conservative_cost - cost_recommended) FILTER (WHERE priced), 0) AS fixed
FROM (SELECT *, list_contains($changed, outcome) AND NOT unpriced_change AS priced FROM core.case_costs)
GROUP BY 1, 2
