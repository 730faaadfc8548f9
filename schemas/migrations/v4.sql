-- Schema v3 -> v4: one name per concept. Who answered a questionnaire is the person's role
-- (therapist/patient), the same word as in people, scans and person_measures, so the column
-- responses.respondent becomes responses.role. RENAME COLUMN (SQLite >= 3.25) rewrites the
-- column's CHECK and UNIQUE constraints in place; no trigger, index or view names it.
-- Values and row ids are unchanged, and no row is updated, so no lock trigger fires.

ALTER TABLE responses RENAME COLUMN respondent TO role;
