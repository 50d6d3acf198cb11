-- The waiting opinions as one aggregate row for the data-quality page: how many, the age of the
-- oldest, and how many are orphans. Reads `waiting`: waiting_opinions.sql,
-- given to it as a CTE by the builder, so the age of a waiting opinion is defined once.
SELECT 'opinions' AS record_type,
       count(*) AS n_waiting,
       CAST(max(waiting_days) AS BIGINT) AS oldest_waiting_days,
       count(*) FILTER (orphan) AS n_orphans,
       CAST($orphan_after_days AS BIGINT) AS orphan_after_days,
       CAST($as_of AS DATE) AS as_of
FROM waiting
