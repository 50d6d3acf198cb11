-- Cases a person should read (case level, never published): every unclassified case and every
-- case whose outcome rests on the classifier alone, ordered by how much the answer matters:
-- uncertainty (1 - confidence; 1 with no reading at all) times the cost at stake, the price in
-- force of the first doctor's procedure (core.prices, else the catalogue's).
SELECT
    o.case_id, o.specialty, o.opinion_id, o.initial_procedure_code, p.description AS initial_procedure,
    o.outcome, o.outcome_source,
    coalesce(o.predicted_outcome, o.extracted_outcome) AS best_guess,
    o.reason, o.review_note, o.extraction_evidence, o.predicted_outcome, o.predicted_probability, o.confidence,
    1 - coalesce(o.confidence, 0) AS uncertainty,
    coalesce(pr.price, p.cost_usd) AS cost_at_stake,
    (1 - coalesce(o.confidence, 0)) * coalesce(pr.price, p.cost_usd, 0) AS priority
FROM core.case_outcomes o
LEFT JOIN reference.procedures p ON p.procedure_code = o.initial_procedure_code
LEFT JOIN core.prices pr ON pr.procedure_code = o.initial_procedure_code
WHERE o.outcome = 'unclassified' OR o.outcome_source = 'text_model'
ORDER BY priority DESC, o.specialty, o.case_id
