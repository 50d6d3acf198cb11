-- Every ingest run: when it looked at the landing folder, the files it saw (and how many were new:
-- not the same bytes as a file already ingested), and its rows read, loaded, quarantined and
-- duplicate. Oldest first; the last row is marts.data_quality_files summed.
SELECT run_id, min(ingested_at) AS ingested_at, count(*) AS n_files,
       count(*) FILTER (status <> 'duplicate_file') AS n_new_files,
       CAST(coalesce(sum(rows_read), 0) AS BIGINT) AS rows_read,
       CAST(coalesce(sum(rows_loaded), 0) AS BIGINT) AS rows_loaded,
       CAST(coalesce(sum(rows_quarantined), 0) AS BIGINT) AS rows_quarantined,
       CAST(coalesce(sum(rows_duplicate), 0) AS BIGINT) AS rows_duplicate
FROM audit.ingest_files GROUP BY run_id ORDER BY ingested_at, run_id
