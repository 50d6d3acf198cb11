-- The core work of a run, hand-written in one DuckDB query: the lower bound `make bench` compares
-- the pipeline with (issue 14). It reads the landing CSVs, keeps valid rows (required keys,
-- known specialty and recommendation, opinion not before referral), takes each case's latest
-- opinion, classifies it by rules 1-4 (recommendation, then tier against the initial procedure),
-- prices both plans from the catalogue, and returns per specialty the change rate with its 95%
-- Wilson interval and the sums of initial and recommended cost. No quarantine, narratives, models,
-- bootstrap or marts: only what every run must do at least once per row.
-- $cases, $opinions: glob of the landing CSVs; $procedures: the catalogue CSV.
WITH cases AS (
  SELECT * FROM read_csv($cases, header = true, union_by_name = true, types = {
    'case_id': 'VARCHAR', 'patient_key': 'VARCHAR', 'specialty': 'VARCHAR', 'referral_date': 'DATE',
    'initial_procedure_code': 'VARCHAR'}, ignore_errors = true)
  WHERE case_id IS NOT NULL AND patient_key IS NOT NULL
    AND lower(trim(specialty)) IN ('cardiology', 'spine', 'orthopedics', 'oncology', 'general_surgery',
                                   'gynecology', 'urology')
  QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY referral_date) = 1),
opinions AS (
  SELECT o.* FROM read_csv($opinions, header = true, union_by_name = true, types = {
    'opinion_id': 'VARCHAR', 'case_id': 'VARCHAR', 'reviewer_id': 'VARCHAR', 'opinion_date': 'DATE',
    'recommendation': 'VARCHAR', 'recommended_procedure_code': 'VARCHAR', 'updated_at': 'TIMESTAMP'},
    ignore_errors = true) o
  WHERE o.opinion_id IS NOT NULL AND o.case_id IS NOT NULL
    AND (o.recommendation IS NULL OR lower(trim(o.recommendation)) IN
         ('proceed', 'alternative_procedure', 'conservative', 'defer', 'further_testing'))),
latest AS (
  SELECT * FROM opinions
  QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY opinion_date DESC, updated_at DESC NULLS LAST,
                                                         opinion_id DESC) = 1),
procedures AS (SELECT procedure_code, family, tier, cost_usd FROM read_csv($procedures, header = true)),
classified AS (
  SELECT c.specialty, pi.cost_usd AS initial_cost, pr.cost_usd AS recommended_cost,
    CASE WHEN pi.procedure_code IS NULL THEN 'unclassified'
         WHEN lower(trim(l.recommendation)) IN ('defer', 'further_testing') THEN 'deferred'
         WHEN lower(trim(l.recommendation)) = 'conservative' THEN 'non_surgical'
         WHEN pr.procedure_code IS NULL THEN
           CASE WHEN lower(trim(l.recommendation)) = 'proceed' THEN 'confirmed' ELSE 'unclassified' END
         WHEN pr.procedure_code = pi.procedure_code THEN 'confirmed'
         WHEN pr.tier = 0 THEN 'non_surgical'
         WHEN pr.tier < pi.tier THEN 'less_invasive'
         WHEN pr.tier > pi.tier THEN 'more_invasive'
         WHEN pr.family = pi.family THEN 'confirmed'
         ELSE 'alternative' END AS outcome
  FROM latest l
  JOIN cases c USING (case_id)
  LEFT JOIN procedures pi ON pi.procedure_code = upper(trim(c.initial_procedure_code))
  LEFT JOIN procedures pr ON pr.procedure_code = upper(trim(l.recommended_procedure_code))
  WHERE l.opinion_date >= c.referral_date),
rates AS (
  SELECT specialty, count(*) FILTER (outcome <> 'unclassified') AS n,
         count(*) FILTER (outcome NOT IN ('confirmed', 'unclassified')) AS k,
         sum(initial_cost) AS initial_cost_usd, sum(coalesce(recommended_cost, 0)) AS recommended_cost_usd
  FROM classified GROUP BY specialty)
SELECT specialty, n, k, k / n AS change_rate,
       (k / n + 1.96 ^ 2 / (2 * n) - 1.96 * sqrt(k / n * (1 - k / n) / n + 1.96 ^ 2 / (4 * n ^ 2)))
         / (1 + 1.96 ^ 2 / n) AS wilson_low,
       (k / n + 1.96 ^ 2 / (2 * n) + 1.96 * sqrt(k / n * (1 - k / n) / n + 1.96 ^ 2 / (4 * n ^ 2)))
         / (1 + 1.96 ^ 2 / n) AS wilson_high,
       initial_cost_usd, recommended_cost_usd
FROM rates WHERE n > 0 ORDER BY specialty
