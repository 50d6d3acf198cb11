-- name: rates_off_one
-- Specialties (with cases) whose outcome rates, unclassified included, do not sum to 1.
SELECT count(*) AS specialties, count(*) FILTER (WHERE abs(s - 1) > $tolerance) AS off,
       list(specialty ORDER BY specialty) FILTER (WHERE abs(s - 1) > $tolerance) AS failing
FROM (SELECT specialty, sum(rate) AS s FROM marts.outcome_rates WHERE total > 0 GROUP BY specialty)

-- name: gross_totals
-- Gross avoided summed three ways: over specialties, the 'all' row, and over cases.
SELECT (SELECT coalesce(sum(gross_avoided), 0) FROM marts.cost_impact WHERE specialty <> $all) AS by_specialty,
       (SELECT coalesce(sum(gross_avoided), 0) FROM marts.cost_impact WHERE specialty = $all) AS overall,
       (SELECT coalesce(sum(projected_avoided), 0) FROM core.case_costs) AS over_cases

-- name: reviewer_expected_off
-- Specialties whose reviewers' expected changes do not add up to their observed changes. The case
-- probabilities are calibrated so they must (up to the 1e-6 floor and ceiling of a probability).
SELECT count(*) AS specialties, count(*) FILTER (WHERE abs(e - o) > $tolerance * greatest(n, 1)) AS off,
       list(specialty ORDER BY specialty) FILTER (WHERE abs(e - o) > $tolerance * greatest(n, 1)) AS failing
FROM (SELECT specialty, sum(expected) AS e, sum(observed) AS o, sum(n) AS n
      FROM marts.reviewer_variation GROUP BY specialty)
