-- The change-propensity model's score of each case it did not train on: out of fold for the cases
-- it was fitted on, the final model's for cases classified after it was trained.
SELECT case_id, change_probability AS model_probability
FROM core.case_scores
WHERE list_contains($bases::VARCHAR[], score_basis) AND change_probability IS NOT NULL
