-- One row of headline counts for the run summary: pending cases are never in rates, and
-- unclassified cases are always counted.
SELECT (SELECT max(opinion_date) FROM core.case_outcomes) AS data_freshness,
       (SELECT count(*) FROM staging.cases) AS cases,
       (SELECT count(*) FROM core.case_outcomes) AS cases_with_opinion,
       (SELECT count(*) FROM core.pending_cases) AS pending,
       (SELECT count(*) FROM core.case_outcomes WHERE outcome = 'unclassified') AS unclassified
