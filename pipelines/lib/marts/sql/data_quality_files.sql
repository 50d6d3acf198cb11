-- Files and rows by record type and file status (audit.ingest_files).
SELECT record_type, status, count(*) AS n_files,
       CAST(coalesce(sum(rows_read), 0) AS BIGINT) AS rows_read,
       CAST(coalesce(sum(rows_loaded), 0) AS BIGINT) AS rows_loaded,
       CAST(coalesce(sum(rows_quarantined), 0) AS BIGINT) AS rows_quarantined,
       CAST(coalesce(sum(rows_duplicate), 0) AS BIGINT) AS rows_duplicate
FROM audit.ingest_files GROUP BY ALL ORDER BY record_type, status
