-- The latest ingest's files and rows by record type and file status (audit.ingest_files of the
-- last run that looked at the landing folder): a re-run records every file it saw again, so a sum
-- over runs would count the same rows once per run. The history is marts.data_quality_runs.
WITH latest AS (
    SELECT run_id FROM audit.ingest_files ORDER BY ingested_at DESC, run_id DESC LIMIT 1
)
SELECT any_value(f.run_id) AS run_id, record_type, status, count(*) AS n_files,
       CAST(coalesce(sum(rows_read), 0) AS BIGINT) AS rows_read,
       CAST(coalesce(sum(rows_loaded), 0) AS BIGINT) AS rows_loaded,
       CAST(coalesce(sum(rows_quarantined), 0) AS BIGINT) AS rows_quarantined,
       CAST(coalesce(sum(rows_duplicate), 0) AS BIGINT) AS rows_duplicate
FROM audit.ingest_files f JOIN latest USING (run_id)
GROUP BY record_type, status ORDER BY record_type, status
