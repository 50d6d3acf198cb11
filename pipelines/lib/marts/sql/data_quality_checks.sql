-- The latest result of every check (audit.check_results), failures first.
SELECT check_name, asset, passed, severity, description, rows_checked, rows_violating, share_violating, threshold
FROM audit.check_results
QUALIFY row_number() OVER (PARTITION BY check_name, asset ORDER BY checked_at DESC) = 1
ORDER BY passed, asset, check_name
