-- Schema v4 -> v5: one data folder, one study. The study row gets a random id (32 hex digits,
-- as uuid4().hex), written to the data folder's marker file .studymgr-study.json so that a data
-- folder is never taken for another study's. ALTER TABLE cannot add a column with a random
-- default, so the column defaults to '' and the existing row is given its id here.

ALTER TABLE study ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE study SET uid = lower(hex(randomblob(16))) WHERE uid = '';
