PRAGMA user_version = 4;
-- Frozen schema-v4 study (sqlite3 .dump), made through the v4 API: 2 dyads, 3 sessions
-- (D01/1 locked), no recordings.
BEGIN TRANSACTION;
CREATE TABLE analysis_runs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32
                                      AND kind NOT GLOB '*[^a-z0-9_-]*'),
    session_id   INTEGER REFERENCES sessions (id),
    config       TEXT NOT NULL CHECK (json_valid(config)),
    config_hash  TEXT NOT NULL CHECK (length(config_hash) = 64),
    input_hashes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(input_hashes)),
    versions     TEXT NOT NULL CHECK (json_valid(versions)),
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    message      TEXT,
    started_by   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT
);
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    user       TEXT NOT NULL CHECK (length(user) BETWEEN 1 AND 64),
    action     TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    entity     TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    old        TEXT CHECK (old IS NULL OR json_valid(old)),
    new        TEXT CHECK (new IS NULL OR json_valid(new)),
    reason     TEXT,
    prev_hash  TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash       TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
);
INSERT INTO "audit_log" VALUES(1,'2026-12-03T20:51:50.157263Z','tester','create','study','frozen_v4',NULL,'{"data_dir":"v4_data","name":"frozen_v4","schema_version":4}',NULL,'0000000000000000000000000000000000000000000000000000000000000000','642562b1875f1f58771b29669c7d9a8ab1ab0a01b5a18179d6982e7ffaa5b1d6');
INSERT INTO "audit_log" VALUES(2,'2026-12-03T20:51:50.163204Z','tester','add','person','T01',NULL,'{"code":"T01","role":"therapist"}',NULL,'642562b1875f1f58771b29669c7d9a8ab1ab0a01b5a18179d6982e7ffaa5b1d6','02c96558acadc321be5889eb5982f7eff97223a303a9c418eed51d8df9986bc2');
INSERT INTO "audit_log" VALUES(3,'2026-12-03T20:51:50.163379Z','tester','add','person','P01',NULL,'{"code":"P01","role":"patient"}',NULL,'02c96558acadc321be5889eb5982f7eff97223a303a9c418eed51d8df9986bc2','b65133ee34b7144f7ff9df5d8103574bb1064f692696684dab02d42effaf8e4e');
INSERT INTO "audit_log" VALUES(4,'2026-12-03T20:51:50.163550Z','tester','add','dyad','D01',NULL,'{"patient":"P01","therapist":"T01"}',NULL,'b65133ee34b7144f7ff9df5d8103574bb1064f692696684dab02d42effaf8e4e','0e83ce2a76bdb3575aabc9435f0b68b1a8aea7536106ec184024f85cb1593901');
INSERT INTO "audit_log" VALUES(5,'2026-12-03T20:51:50.164538Z','tester','add','person','P02',NULL,'{"code":"P02","role":"patient"}',NULL,'0e83ce2a76bdb3575aabc9435f0b68b1a8aea7536106ec184024f85cb1593901','f125196868f44f0f92d8ceb651449b0b42642ae2cc313cfb7aba3743a626811b');
INSERT INTO "audit_log" VALUES(6,'2026-12-03T20:51:50.164635Z','tester','add','dyad','D02',NULL,'{"patient":"P02","therapist":"T01"}',NULL,'f125196868f44f0f92d8ceb651449b0b42642ae2cc313cfb7aba3743a626811b','60ef7bedcb54edc38575f22e7848717b72f877b4b51c13720e8bc5e91d9b3bd5');
INSERT INTO "audit_log" VALUES(7,'2026-12-03T20:51:50.165308Z','tester','add','session','D01/1',NULL,'{"attended":1,"date":"2026-01-05","kind":"therapy","scanned":1}',NULL,'60ef7bedcb54edc38575f22e7848717b72f877b4b51c13720e8bc5e91d9b3bd5','e2371b41541061e90871d91716c1fecd2a5e2a7c07980916e473af6181c94126');
INSERT INTO "audit_log" VALUES(8,'2026-12-03T20:51:50.165501Z','tester','add','session','D01/2',NULL,'{"attended":1,"date":"2026-01-12","kind":"therapy","scanned":1}',NULL,'e2371b41541061e90871d91716c1fecd2a5e2a7c07980916e473af6181c94126','ffdd9ca6ec497cf7027ca0a036928bd9bd26d38e1d8d7b8c0e9d7a85ba427e42');
INSERT INTO "audit_log" VALUES(9,'2026-12-03T20:51:50.165674Z','tester','add','session','D02/1',NULL,'{"attended":1,"date":"2026-01-06","kind":"therapy","scanned":1}',NULL,'ffdd9ca6ec497cf7027ca0a036928bd9bd26d38e1d8d7b8c0e9d7a85ba427e42','af07564c451b12f371e007c6d5168be4c814e79361b91df64d35a8102cc09b31');
INSERT INTO "audit_log" VALUES(10,'2026-12-03T20:51:50.165919Z','tester','lock','session','D01/1','{"locked":false}','{"locked":true}','entry complete','af07564c451b12f371e007c6d5168be4c814e79361b91df64d35a8102cc09b31','269a1ddd7fca0c3a13664ef9dacf9bbaabc5e5a08fbd9fcec8b4cfb1ba648cb4');
CREATE TABLE dyads (
    id           INTEGER PRIMARY KEY,
    code         TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32
                                             AND code NOT GLOB '*[^A-Za-z0-9_-]*'),
    therapist_id INTEGER NOT NULL REFERENCES people (id),
    patient_id   INTEGER NOT NULL REFERENCES people (id),
    created_at   TEXT NOT NULL,
    CHECK (therapist_id <> patient_id),
    UNIQUE (therapist_id, patient_id)
);
INSERT INTO "dyads" VALUES(1,'D01',1,2,'2026-12-03T20:51:50.163458Z');
INSERT INTO "dyads" VALUES(2,'D02',1,3,'2026-12-03T20:51:50.164607Z');
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    scan_id    INTEGER REFERENCES scans (id) ON DELETE CASCADE,
    onset_s    REAL NOT NULL CHECK (onset_s >= 0),
    duration_s REAL NOT NULL DEFAULT 0 CHECK (duration_s >= 0),
    label      TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
    rater      TEXT CHECK (rater IS NULL OR (length(rater) BETWEEN 1 AND 32
                                             AND rater NOT GLOB '*[^A-Za-z0-9_-]*')),
    source     TEXT NOT NULL CHECK (source IN ('recording', 'csv', 'rater', 'consensus')),
    created_at TEXT NOT NULL
);
CREATE TABLE instruments (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 32
                                      AND name NOT GLOB '*[^A-Za-z0-9_-]*'),
    version      TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 32
                                      AND version NOT GLOB '*[^A-Za-z0-9_.-]*'),
    construct    TEXT NOT NULL CHECK (construct IN ('symptoms', 'wellbeing', 'alliance',
                                                    'session_quality', 'other')),
    definition   TEXT NOT NULL CHECK (json_valid(definition)),
    content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
    source       TEXT NOT NULL CHECK (source IN ('builtin', 'user')),
    added_at     TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE model_fits (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    name      TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    formula   TEXT NOT NULL,
    fit       TEXT NOT NULL CHECK (json_valid(fit)),
    random    TEXT NOT NULL CHECK (json_valid(random)),
    UNIQUE (run_id, name)
);
CREATE TABLE model_terms (
    fit_id   INTEGER NOT NULL REFERENCES model_fits (id) ON DELETE CASCADE,
    term     TEXT NOT NULL,
    estimate REAL,
    se       REAL,
    df       REAL,
    t        REAL,
    p        REAL CHECK (p IS NULL OR p BETWEEN 0 AND 1),
    ci_low   REAL,
    ci_high  REAL,
    PRIMARY KEY (fit_id, term)
);
CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32
                                            AND code NOT GLOB '*[^A-Za-z0-9_-]*'),
    role        TEXT NOT NULL CHECK (role IN ('therapist', 'patient')),
    created_at  TEXT NOT NULL
);
INSERT INTO "people" VALUES(1,'T01','therapist','2026-12-03T20:51:50.163103Z');
INSERT INTO "people" VALUES(2,'P01','patient','2026-12-03T20:51:50.163356Z');
INSERT INTO "people" VALUES(3,'P02','patient','2026-12-03T20:51:50.164506Z');
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
CREATE TABLE response_items (
    response_id INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    item        TEXT NOT NULL CHECK (length(item) BETWEEN 1 AND 32),
    position    INTEGER NOT NULL CHECK (position >= 1),
    value       REAL,
    missing     TEXT CHECK (missing IN ('NA', 'REF', 'NR')),
    CHECK ((value IS NULL) <> (missing IS NULL)),
    PRIMARY KEY (response_id, item),
    UNIQUE (response_id, position)
);
CREATE TABLE responses (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions (id),
    instrument_id INTEGER NOT NULL REFERENCES instruments (id),
    role          TEXT NOT NULL CHECK (role IN ('therapist', 'patient')),
    timing        TEXT NOT NULL CHECK (timing IN ('pre', 'post')),
    status        TEXT NOT NULL DEFAULT 'entered' CHECK (status IN ('entered', 'amended')),
    source        TEXT NOT NULL DEFAULT 'entry' CHECK (source IN ('entry', 'import', 'amend')),
    source_hash   TEXT CHECK (source_hash IS NULL OR length(source_hash) = 64),
    entered_by    TEXT NOT NULL,
    entered_at    TEXT NOT NULL,
    UNIQUE (session_id, instrument_id, role, timing)
);
CREATE TABLE scan_pairs (
    session_id     INTEGER NOT NULL REFERENCES sessions (id),
    modality       TEXT NOT NULL CHECK (modality IN ('nirs', 'eeg')),
    therapist_scan INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    patient_scan   INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    start_offset_s REAL,
    overlap_s      REAL,
    status         TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'error')),
    messages       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(messages)),
    checked_at     TEXT NOT NULL,
    PRIMARY KEY (session_id, modality)
);
CREATE TABLE scans (
    id           INTEGER PRIMARY KEY,
    session_id   INTEGER NOT NULL REFERENCES sessions (id),
    person_id    INTEGER NOT NULL REFERENCES people (id),
    role         TEXT NOT NULL CHECK (role IN ('therapist', 'patient')),
    modality     TEXT NOT NULL DEFAULT 'nirs' CHECK (modality IN ('nirs', 'eeg')),
    format       TEXT NOT NULL CHECK (length(format) BETWEEN 1 AND 32),
    path         TEXT NOT NULL UNIQUE CHECK (length(path) > 0 AND path NOT LIKE '/%'
                                             AND path NOT LIKE '%..%'),
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
    size_bytes   INTEGER NOT NULL CHECK (size_bytes > 0),
    sfreq        REAL NOT NULL CHECK (sfreq > 0),
    n_channels   INTEGER NOT NULL CHECK (n_channels > 0),
    channels     TEXT NOT NULL CHECK (json_valid(channels)),
    duration_s   REAL NOT NULL CHECK (duration_s > 0),
    meas_date    TEXT,
    quality      TEXT CHECK (quality IS NULL OR json_valid(quality)),
    usable_share REAL CHECK (usable_share IS NULL OR usable_share BETWEEN 0 AND 1),
    imported_by  TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    UNIQUE (session_id, role, modality)
);
CREATE TABLE scores (
    response_id INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    scale       TEXT NOT NULL CHECK (length(scale) BETWEEN 1 AND 32),
    value       REAL,
    n_answered  INTEGER NOT NULL CHECK (n_answered >= 0),
    n_items     INTEGER NOT NULL CHECK (n_items >= 1),
    prorated    INTEGER NOT NULL DEFAULT 0 CHECK (prorated IN (0, 1)),
    band        TEXT,
    CHECK (n_answered <= n_items),
    PRIMARY KEY (response_id, scale)
);
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    dyad_id     INTEGER NOT NULL REFERENCES dyads (id),
    number      INTEGER NOT NULL CHECK (typeof(number) = 'integer' AND number >= 1),
    date        TEXT CHECK (date IS NULL OR (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
                                             AND date(date, '+0 days') IS date)),
    kind        TEXT NOT NULL DEFAULT 'therapy' CHECK (kind IN ('therapy', 'interview')),
    scanned     INTEGER NOT NULL DEFAULT 1 CHECK (scanned IN (0, 1)),
    attended    INTEGER NOT NULL DEFAULT 1 CHECK (attended IN (0, 1)),
    locked      INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    created_at  TEXT NOT NULL,
    UNIQUE (dyad_id, number)
);
INSERT INTO "sessions" VALUES(1,1,1,'2026-01-05','therapy',1,1,1,'2026-12-03T20:51:50.165216Z');
INSERT INTO "sessions" VALUES(2,1,2,'2026-01-12','therapy',1,1,0,'2026-12-03T20:51:50.165472Z');
INSERT INTO "sessions" VALUES(3,2,1,'2026-01-06','therapy',1,1,0,'2026-12-03T20:51:50.165647Z');
CREATE TABLE study (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 32
                                     AND name NOT GLOB '*[^A-Za-z0-9_-]*'),
    data_dir    TEXT NOT NULL CHECK (length(data_dir) > 0),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_with TEXT NOT NULL  -- studymgr version that created the study
);
INSERT INTO "study" VALUES(1,'frozen_v4','v4_data','2026-12-03T20:51:50.156795Z','tester','0.1.0');
CREATE TABLE synchrony_results (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL REFERENCES sessions (id),
    pair            TEXT NOT NULL CHECK (pair IN ('true', 'pseudo')),
    therapist_scan  INTEGER NOT NULL REFERENCES scans (id),
    patient_scan    INTEGER NOT NULL REFERENCES scans (id),
    measure         TEXT NOT NULL DEFAULT 'wtc' CHECK (length(measure) BETWEEN 1 AND 32),
    chromophore     TEXT NOT NULL CHECK (chromophore IN ('hbo', 'hbr', 'eeg')),
    level           TEXT NOT NULL CHECK (level IN ('channel', 'roi', 'session')),
    therapist_unit  TEXT NOT NULL,  -- channel or ROI name on the therapist's side
    patient_unit    TEXT NOT NULL,
    value           REAL CHECK (value IS NULL OR value BETWEEN -1 AND 1),
    n_cells         INTEGER CHECK (n_cells IS NULL OR n_cells >= 0),
    UNIQUE (run_id, therapist_scan, patient_scan, measure, chromophore, level,
            therapist_unit, patient_unit)
);
CREATE TABLE synchrony_tests (
    run_id          INTEGER NOT NULL REFERENCES analysis_runs (id) ON DELETE CASCADE,
    session_id      INTEGER NOT NULL REFERENCES sessions (id),
    measure         TEXT NOT NULL DEFAULT 'wtc' CHECK (length(measure) BETWEEN 1 AND 32),
    chromophore     TEXT NOT NULL CHECK (chromophore IN ('hbo', 'hbr', 'eeg')),
    level           TEXT NOT NULL CHECK (level IN ('channel', 'roi', 'session')),
    therapist_unit  TEXT NOT NULL,
    patient_unit    TEXT NOT NULL,
    true_value      REAL,
    pseudo_mean     REAL,
    pseudo_sd       REAL,
    n_pseudo        INTEGER NOT NULL CHECK (n_pseudo >= 0),
    p_value         REAL CHECK (p_value IS NULL OR p_value BETWEEN 0 AND 1),
    seed            INTEGER NOT NULL,
    PRIMARY KEY (run_id, measure, chromophore, level, therapist_unit, patient_unit)
);
CREATE TRIGGER dyads_roles_insert BEFORE INSERT ON dyads
WHEN (SELECT role FROM people WHERE id = NEW.therapist_id) IS NOT 'therapist'
  OR (SELECT role FROM people WHERE id = NEW.patient_id) IS NOT 'patient'
BEGIN
    SELECT RAISE(ABORT, 'dyad roles: therapist_id must be a therapist and patient_id a patient');
END;
CREATE TRIGGER dyads_roles_update BEFORE UPDATE OF therapist_id, patient_id ON dyads
WHEN (SELECT role FROM people WHERE id = NEW.therapist_id) IS NOT 'therapist'
  OR (SELECT role FROM people WHERE id = NEW.patient_id) IS NOT 'patient'
BEGIN
    SELECT RAISE(ABORT, 'dyad roles: therapist_id must be a therapist and patient_id a patient');
END;
CREATE TRIGGER people_role_fixed BEFORE UPDATE OF role ON people
WHEN NEW.role <> OLD.role
 AND EXISTS (SELECT 1 FROM dyads WHERE therapist_id = OLD.id OR patient_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'people: the role of a person in a dyad cannot change');
END;
CREATE TRIGGER sessions_locked_update BEFORE UPDATE ON sessions
WHEN OLD.locked = 1 AND NEW.locked = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER sessions_locked_delete BEFORE DELETE ON sessions
WHEN OLD.locked = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER instruments_immutable BEFORE UPDATE ON instruments
BEGIN
    SELECT RAISE(ABORT, 'instruments are immutable: add a new version instead');
END;
CREATE TRIGGER responses_locked_insert BEFORE INSERT ON responses
WHEN (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER responses_locked_update BEFORE UPDATE ON responses
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER responses_locked_delete BEFORE DELETE ON responses
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER response_items_locked_insert BEFORE INSERT ON response_items
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = NEW.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER response_items_locked_change BEFORE UPDATE ON response_items
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER response_items_locked_delete BEFORE DELETE ON response_items
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scores_locked_insert BEFORE INSERT ON scores
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = NEW.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scores_locked_change BEFORE UPDATE ON scores
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scores_locked_delete BEFORE DELETE ON scores
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scans_locked_insert BEFORE INSERT ON scans
WHEN (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scans_locked_delete BEFORE DELETE ON scans
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER events_locked_insert BEFORE INSERT ON events
WHEN (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scans_person_role BEFORE INSERT ON scans
WHEN NEW.person_id IS NOT (
    SELECT CASE NEW.role WHEN 'therapist' THEN d.therapist_id ELSE d.patient_id END
    FROM sessions s JOIN dyads d ON d.id = s.dyad_id WHERE s.id = NEW.session_id)
BEGIN
    SELECT RAISE(ABORT, 'scans: person_id is not the dyad member with that role');
END;
CREATE TRIGGER scans_locked_update BEFORE UPDATE ON scans
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
  OR (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER scans_person_role_update BEFORE UPDATE OF session_id, person_id, role ON scans
WHEN NEW.person_id IS NOT (
    SELECT CASE NEW.role WHEN 'therapist' THEN d.therapist_id ELSE d.patient_id END
    FROM sessions s JOIN dyads d ON d.id = s.dyad_id WHERE s.id = NEW.session_id)
BEGIN
    SELECT RAISE(ABORT, 'scans: person_id is not the dyad member with that role');
END;
CREATE TRIGGER events_locked_update BEFORE UPDATE ON events
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
  OR (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER events_locked_delete BEFORE DELETE ON events
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;
CREATE TRIGGER person_measures_scan BEFORE INSERT ON person_measures
WHEN NOT EXISTS (SELECT 1 FROM scans WHERE id = NEW.scan_id AND role = NEW.role
                 AND session_id = NEW.session_id)
BEGIN
    SELECT RAISE(ABORT, 'person_measures: scan_id is not that role''s recording of the session');
END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE INDEX sessions_dyad ON sessions (dyad_id);
CREATE INDEX responses_session ON responses (session_id);
CREATE INDEX scans_session ON scans (session_id);
CREATE INDEX events_session ON events (session_id);
CREATE INDEX synchrony_session ON synchrony_results (session_id, pair);
CREATE INDEX synchrony_run ON synchrony_results (run_id);
CREATE INDEX runs_lookup ON analysis_runs (kind, session_id, config_hash);
CREATE INDEX person_measures_session ON person_measures (session_id);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('audit_log',10);
COMMIT;
