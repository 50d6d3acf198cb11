-- name: referrals
-- Referral-time features for every staged case (pending ones included: they are what gets routed).
SELECT c.case_id, c.patient_key, c.specialty, c.initial_procedure_code, p.tier AS initial_tier, c.age_band,
       c.sex, c.payer_type, c.urgency, c.diagnosis_code, c.region, o.outcome
FROM staging.cases c
LEFT JOIN reference.procedures p ON p.procedure_code = c.initial_procedure_code
LEFT JOIN core.case_outcomes o USING (case_id)

-- name: labelled_count
SELECT count(*) FROM propensity_referrals WHERE list_contains($classified::VARCHAR[], outcome)

-- name: training_sample
-- At most about $cap classified cases, each stratum of specialty x changed keeping its share
-- (proportional allocation, at least one case a stratum), drawn by a seeded hash of case_id so the
-- same cases are drawn whatever order the rows are stored in: models.propensity.stratified_sample's
-- rule, in DuckDB so that a 10M-case warehouse never crosses into Python.
WITH labelled AS (
  SELECT *, (outcome <> 'confirmed')::INTEGER AS stratum_changed
  FROM propensity_referrals WHERE list_contains($classified::VARCHAR[], outcome)),
ranked AS (
  SELECT *,
         row_number() OVER (PARTITION BY lower(specialty), stratum_changed
                            ORDER BY hash(case_id::VARCHAR, $seed::BIGINT), case_id) AS draw,
         count(*) OVER (PARTITION BY lower(specialty), stratum_changed) AS stratum_n,
         count(*) OVER () AS total
  FROM labelled)
SELECT * EXCLUDE (stratum_changed, draw, stratum_n, total) FROM ranked
WHERE total <= $cap OR draw <= greatest(1, round(stratum_n * $cap / total))

-- name: holdout_sample
-- Up to $rows classified cases of patients with no case in the training sample: the final model
-- never saw them, so its AUC and permutation importance on them are honest.
SELECT r.* FROM propensity_referrals r
ANTI JOIN propensity_sample s ON s.case_id = r.case_id
ANTI JOIN (SELECT DISTINCT patient_key FROM propensity_sample WHERE patient_key IS NOT NULL) p
  ON p.patient_key = r.patient_key
WHERE list_contains($classified::VARCHAR[], r.outcome)
ORDER BY hash(r.case_id::VARCHAR, $seed::BIGINT), r.case_id
LIMIT $rows

-- name: case_scores
-- core.case_scores: each referral's change probability (the out-of-fold one for a case the final
-- model was fitted on), times the saving expected when a case of that specialty and initial
-- procedure is changed (mean projected_avoided of changed cases; the specialty's below 11 cases).
WITH changed AS (
  SELECT c.specialty, o.initial_procedure_code, avg(c.projected_avoided) AS saving, count(*) AS n
  FROM core.case_costs c JOIN core.case_outcomes o USING (case_id)
  WHERE c.outcome NOT IN ('confirmed', 'unclassified') GROUP BY ALL),
by_specialty AS (
  SELECT c.specialty, avg(c.projected_avoided) AS saving FROM core.case_costs c
  WHERE c.outcome NOT IN ('confirmed', 'unclassified') GROUP BY ALL),
scored AS (
  SELECT s.case_id, coalesce(f.oof_probability, s.change_probability) AS change_probability,
         CASE WHEN f.oof_probability IS NOT NULL THEN 'out_of_fold' ELSE 'model' END AS score_basis
  FROM propensity_scores s LEFT JOIN read_parquet($oof) f USING (case_id))
SELECT s.case_id, k.specialty, s.change_probability, s.score_basis,
       coalesce(CASE WHEN ch.n >= 11 THEN ch.saving END, bs.saving, 0) AS expected_saving,
       s.change_probability * coalesce(CASE WHEN ch.n >= 11 THEN ch.saving END, bs.saving, 0)
         AS expected_avoided
FROM scored s JOIN staging.cases k USING (case_id)
LEFT JOIN changed ch ON ch.specialty = k.specialty AND ch.initial_procedure_code = k.initial_procedure_code
LEFT JOIN by_specialty bs ON bs.specialty = k.specialty

-- name: training_signature
-- Counts of the labelled cases in $buckets buckets of a hash of (case_id, outcome): the retraining
-- policy's measure of how much the training data changed (pipelines/lib/training/policy.py).
SELECT (hash(case_id::VARCHAR, outcome) % $buckets)::VARCHAR AS bucket, count(*) AS n
FROM propensity_referrals WHERE list_contains($classified::VARCHAR[], outcome)
GROUP BY ALL
