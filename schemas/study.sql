-- studymgr study database: the single source of truth for the tables.
--
-- A fresh study is created by running this file; an older study is brought up to date by the
-- scripts in schemas/migrations/ (vN.sql takes a database from version N-1 to N). The line
-- below is read by studymgr as the current schema version: bump it together with a migration.
PRAGMA user_version = 5;

-- Identifiers (person, dyad, rater codes, instrument names) are pseudonymous codes: 1-32 letters,
-- digits, '-' or '_'. The database refuses anything else, so a path or a quote can never be stored.
-- Dates are ISO 8601 (YYYY-MM-DD); timestamps are UTC ISO 8601 with 'Z'.

-- One row: what this study is, its random id and where its data folder lives.
CREATE TABLE study (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 32
                                     AND name NOT GLOB '*[^A-Za-z0-9_-]*'),
    data_dir    TEXT NOT NULL CHECK (length(data_dir) > 0),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_with TEXT NOT NULL, -- studymgr version that created the study
    -- random id (uuid4 hex), also written to the data folder's .studymgr-study.json marker
    uid         TEXT NOT NULL DEFAULT ''
);

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32
                                            AND code NOT GLOB '*[^A-Za-z0-9_-]*'),
    role        TEXT NOT NULL CHECK (role IN ('therapist', 'patient')),
    created_at  TEXT NOT NULL
);

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

-- A CHECK cannot look at another table: triggers make sure each person sits in the right role.
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

-- A person's role is what the dyads rely on: it cannot change once the person is in a dyad.
CREATE TRIGGER people_role_fixed BEFORE UPDATE OF role ON people
WHEN NEW.role <> OLD.role
 AND EXISTS (SELECT 1 FROM dyads WHERE therapist_id = OLD.id OR patient_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'people: the role of a person in a dyad cannot change');
END;

-- date(x, '+0 days') normalises an impossible day (2025-02-30 -> 2025-03-02), so comparing it with
-- the stored text refuses dates that are not in the calendar.
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

-- A locked session is read-only: only unlocking it (an audited act) may touch its row.
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

-- Questionnaire definitions (scoring keys only, never item wording), immutable once stored.
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

CREATE TRIGGER instruments_immutable BEFORE UPDATE ON instruments
BEGIN
    SELECT RAISE(ABORT, 'instruments are immutable: add a new version instead');
END;

-- One filled-in questionnaire: who answered which instrument, when relative to the session.
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

-- Item values, with typed missing codes kept apart from values: exactly one of the two is set.
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

-- Scale scores computed at entry from the items and the stored definition.
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

-- One recording of one person in one session.
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

-- Whether the two recordings of a session can be analysed together, checked when both exist.
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

-- Time-stamped marks in a session: from the recording, a CSV, a rater, or rater consensus.
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

-- Rows of a locked session's children are refused by the database itself.
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

-- Item values and scores belong to a response; they follow its session's lock too.
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

-- The person behind a scan must be the dyad's member in that role.
CREATE TRIGGER scans_person_role BEFORE INSERT ON scans
WHEN NEW.person_id IS NOT (
    SELECT CASE NEW.role WHEN 'therapist' THEN d.therapist_id ELSE d.patient_id END
    FROM sessions s JOIN dyads d ON d.id = s.dyad_id WHERE s.id = NEW.session_id)
BEGIN
    SELECT RAISE(ABORT, 'scans: person_id is not the dyad member with that role');
END;

-- (v2) A locked session's scans cannot be updated nor its events changed or removed; a scan keeps
-- the dyad's member of its role as its person when it is updated (a replaced recording).
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

-- One computation (synchrony, pseudo-dyads, models, ...) with everything needed to reproduce it.
-- Session-level runs (synchrony of one session) name their session; study-level runs (models) do
-- not. A run is skipped when one with the same kind, session, config hash and input hashes is done.
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

-- Inter-brain synchrony between one therapist recording and one patient recording; a pseudo pair
-- takes the two recordings from different dyads.
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

-- True synchrony against its pseudo-dyad baseline, per session and unit pair: a seeded
-- permutation p-value (the share of pseudo pairs at least as synchronous, with the +1 correction).
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

-- A fitted model: its formula, fit statistics and random effects as JSON, fixed effects as rows.
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

-- Append-only record of every change: who, when, what, old and new values, why. Each row holds
-- the hash of the previous one, so an edited or deleted row breaks the chain.
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
