-- Cases a person should look at (case level, never published): every unclassified case, plus
-- every case whose outcome came from the text model; least certain first.
SELECT case_id, specialty, opinion_id, predicted_outcome, confidence, reason
FROM core.case_outcomes
WHERE outcome = 'unclassified' OR outcome_source = 'text_model'
ORDER BY outcome_source = 'text_model', confidence NULLS FIRST, specialty, case_id
