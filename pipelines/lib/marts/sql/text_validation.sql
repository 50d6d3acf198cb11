-- The text path's reading (extraction through rules 1-4, else the classifier at $threshold) of
-- every opinion a person labelled, beside the label: its validated accuracy.
SELECT o.opinion_id, o.outcome AS label,
    coalesce(o.extracted_outcome,
             CASE WHEN o.predicted_probability >= $threshold THEN o.predicted_outcome END,
             'unclassified') AS text_reading
FROM core.case_outcomes o
WHERE o.outcome_source = 'human'
