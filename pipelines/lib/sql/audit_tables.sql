-- The tables of ingest's accounting and of run bookkeeping; created empty on a new warehouse.
CREATE TABLE IF NOT EXISTS audit.ingest_files (
  file_name VARCHAR, sha256 VARCHAR, record_type VARCHAR, file_format VARCHAR, status VARCHAR,
  rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, rows_duplicate BIGINT,
  ignored_columns VARCHAR[], error VARCHAR, ingested_at TIMESTAMP, run_id VARCHAR);
-- How each file was read (detected, or set): added after the first release, so a warehouse
-- written before them gains them, NULL on its earlier rows.
ALTER TABLE audit.ingest_files ADD COLUMN IF NOT EXISTS encoding VARCHAR;
ALTER TABLE audit.ingest_files ADD COLUMN IF NOT EXISTS delimiter VARCHAR;
ALTER TABLE audit.ingest_files ADD COLUMN IF NOT EXISTS quote VARCHAR;
ALTER TABLE audit.ingest_files ADD COLUMN IF NOT EXISTS decimal_separator VARCHAR;
ALTER TABLE audit.ingest_files ADD COLUMN IF NOT EXISTS date_format VARCHAR;
ALTER TABLE audit.ingest_files ADD COLUMN IF NOT EXISTS normalised VARCHAR[];
CREATE TABLE IF NOT EXISTS quarantine.rows (
  file_name VARCHAR, record_type VARCHAR, row_number BIGINT, record VARCHAR, reasons VARCHAR[],
  quarantined_at TIMESTAMP, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS audit.check_results (
  check_name VARCHAR, asset VARCHAR, passed BOOLEAN, severity VARCHAR, description VARCHAR,
  rows_checked BIGINT, rows_violating BIGINT, share_violating DOUBLE, threshold DOUBLE,
  metadata VARCHAR, checked_at TIMESTAMP, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS audit.runs (
  run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, landing VARCHAR, warehouse VARCHAR,
  settings VARCHAR, as_of DATE);
CREATE TABLE IF NOT EXISTS audit.disclosure (
  run_id VARCHAR, measure VARCHAR, value DOUBLE, threshold BIGINT, recorded_at TIMESTAMP);
