-- Every opinion waiting for its case (staging.opinions_waiting), how many days it has waited
-- since it arrived, and whether that is orphan_after_days or more: its case most likely never
-- will arrive. Case level, for people (the run summary), never published.
SELECT opinion_id, case_id, source_file, CAST(loaded_at AS DATE) AS arrived,
       date_diff('day', CAST(loaded_at AS DATE), CAST($as_of AS DATE)) AS waiting_days,
       date_diff('day', CAST(loaded_at AS DATE), CAST($as_of AS DATE)) >= $orphan_after_days AS orphan
FROM staging.opinions_waiting
ORDER BY waiting_days DESC, source_file, source_row
