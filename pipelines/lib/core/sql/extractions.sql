-- name: narratives_to_read
-- Every staged narrative with what extraction reads besides its words (specialty, the first
-- doctor's code), and the hash a cached reading is keyed by: a re-run reads only narratives that
-- are new, changed, or were read by another extractor version.
SELECT o.opinion_id, o.summary_text, c.specialty,
       nullif(upper(trim(c.initial_procedure_code)), '') AS initial_procedure_code,
       md5(concat_ws(chr(31), o.summary_text, c.specialty, upper(trim(c.initial_procedure_code)), $version))
           AS narrative_hash
FROM staging.opinions o
JOIN staging.cases c USING (case_id)
WHERE coalesce(length(trim(o.summary_text)) > 0, false)

-- name: keep_cached
-- Readings still valid: same opinion, same hash. Everything else is dropped and re-read.
CREATE OR REPLACE TABLE core.opinion_extractions AS
SELECT x.* FROM core.opinion_extractions x
JOIN _secondlook_to_read r ON r.opinion_id = x.opinion_id AND r.narrative_hash = x.narrative_hash
