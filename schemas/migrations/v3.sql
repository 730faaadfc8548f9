-- Schema v2 -> v3: per-person measures (frontal alpha asymmetry) get their own table;
-- the asymmetry rows that v2 kept as JSON in the 'eeg' runs' message move there, and the
-- message keeps only the run's warnings.

-- A measure of one person's recording in one session (not of a pair), e.g. frontal alpha
-- asymmetry: measure 'faa', unit 'F3:F4' (left:right electrodes), ln(right) - ln(left) alpha
-- power; over the whole session (condition 'session') or in the windows of one condition
-- (an event label, or 'rest'). value is unbounded, unlike synchrony; sd is over the windows.
CREATE TABLE person_measures (
    run_id     INTEGER NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    scan_id    INTEGER NOT NULL REFERENCES scans (id),
    role       TEXT NOT NULL CHECK (role IN ('therapist', 'patient')),
    measure    TEXT NOT NULL CHECK (length(measure) BETWEEN 1 AND 32
                                    AND measure NOT GLOB '*[^a-z0-9_]*'),
    unit       TEXT NOT NULL CHECK (length(unit) BETWEEN 1 AND 64),
    condition  TEXT NOT NULL DEFAULT 'session' CHECK (length(condition) BETWEEN 1 AND 64),
    value      REAL CHECK (value IS NULL OR abs(value) <= 1e300),
    sd         REAL CHECK (sd IS NULL OR sd BETWEEN 0 AND 1e300),
    n_windows  INTEGER CHECK (n_windows IS NULL OR n_windows >= 0),
    PRIMARY KEY (run_id, role, measure, unit, condition)
);

-- The recording is the one of that person's role in that session.
CREATE TRIGGER person_measures_scan BEFORE INSERT ON person_measures
WHEN NOT EXISTS (SELECT 1 FROM scans WHERE id = NEW.scan_id AND role = NEW.role
                 AND session_id = NEW.session_id)
BEGIN
    SELECT RAISE(ABORT, 'person_measures: scan_id is not that role''s recording of the session');
END;

CREATE INDEX person_measures_session ON person_measures (session_id);

INSERT INTO person_measures (run_id, session_id, scan_id, role, measure, unit, condition, value,
                             sd, n_windows)
SELECT a.id, a.session_id, sc.id, json_extract(j.value, '$.role'), 'faa',
       json_extract(j.value, '$.left') || ':' || json_extract(j.value, '$.right'),
       json_extract(j.value, '$.condition'), json_extract(j.value, '$.value'),
       json_extract(j.value, '$.sd'), json_extract(j.value, '$.n_windows')
FROM analysis_runs a
JOIN json_each(CASE WHEN json_valid(a.message) THEN a.message ELSE '{}' END,
               '$.asymmetry') j
JOIN scans sc ON sc.session_id = a.session_id AND sc.modality = 'eeg'
             AND sc.role = json_extract(j.value, '$.role')
WHERE a.kind = 'eeg';

UPDATE analysis_runs
SET message = (SELECT group_concat(w.value, '; ') FROM json_each(analysis_runs.message,
                                                                 '$.warnings') w)
WHERE kind = 'eeg' AND json_valid(message);
