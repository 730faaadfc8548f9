PRAGMA user_version = 3;
-- Frozen schema-v3 study (sqlite3 .dump), made through the v3 API: 2 dyads, 4 sessions
-- (D01/1 locked), 7 responses of both roles (entered, amended, imported).
BEGIN TRANSACTION;
CREATE TABLE study (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 32
                                     AND name NOT GLOB '*[^A-Za-z0-9_-]*'),
    data_dir    TEXT NOT NULL CHECK (length(data_dir) > 0),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_with TEXT NOT NULL  -- studymgr version that created the study
);
INSERT INTO study VALUES(1,'frozen_v3','v3_data','2026-12-03T18:53:30.692575Z','tester','0.1.0');
CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32
                                            AND code NOT GLOB '*[^A-Za-z0-9_-]*'),
    role        TEXT NOT NULL CHECK (role IN ('therapist', 'patient')),
    created_at  TEXT NOT NULL
);
INSERT INTO people VALUES(1,'T01','therapist','2026-12-03T18:53:30.714994Z');
INSERT INTO people VALUES(2,'P01','patient','2026-12-03T18:53:30.715441Z');
INSERT INTO people VALUES(3,'P02','patient','2026-12-03T18:53:30.728378Z');
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
INSERT INTO dyads VALUES(1,'D01',1,2,'2026-12-03T18:53:30.715615Z');
INSERT INTO dyads VALUES(2,'D02',1,3,'2026-12-03T18:53:30.728672Z');
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
INSERT INTO sessions VALUES(1,1,1,'2025-01-02','therapy',0,1,1,'2026-12-03T18:53:30.729342Z');
INSERT INTO sessions VALUES(2,1,2,'2025-01-09','therapy',0,1,0,'2026-12-03T18:53:30.729643Z');
INSERT INTO sessions VALUES(3,2,1,'2025-01-02','therapy',0,1,0,'2026-12-03T18:53:30.729822Z');
INSERT INTO sessions VALUES(4,2,2,'2025-01-09','therapy',0,1,0,'2026-12-03T18:53:30.729989Z');
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
INSERT INTO instruments VALUES(1,'gad7','2006','symptoms','{"citation": "Spitzer, R. L., Kroenke, K., Williams, J. B. W., & Lowe, B. (2006). A brief measure for assessing generalized anxiety disorder: the GAD-7. Archives of Internal Medicine, 166(10), 1092-1097. doi:10.1001/archinte.166.10.1092", "construct": "symptoms", "items": [{"id": "1", "max": 3, "min": 0}, {"id": "2", "max": 3, "min": 0}, {"id": "3", "max": 3, "min": 0}, {"id": "4", "max": 3, "min": 0}, {"id": "5", "max": 3, "min": 0}, {"id": "6", "max": 3, "min": 0}, {"id": "7", "max": 3, "min": 0}], "name": "gad7", "notes": "Scoring key only (no item wording). 7 items rated 0-3; total = sum (0-21). Severity bands (Spitzer et al. 2006): minimal 0-4, mild 5-9, moderate 10-14, severe 15-21. Missing data (project default, not from the authors): one missing item is prorated (sum x 7 / 6); with two or more missing the total is missing.", "primary": "total", "roles": ["patient", "therapist"], "scales": [{"bands": [[0, 4, "minimal"], [5, 9, "mild"], [10, 14, "moderate"], [15, 21, "severe"]], "id": "total", "items": ["1", "2", "3", "4", "5", "6", "7"], "method": "sum", "min_items": 6, "prorate": true, "title": "Total (0-21)"}], "timings": ["pre", "post"], "title": "Generalized Anxiety Disorder 7-item scale (GAD-7)", "version": "2006"}','684530108c3aacd4e9cf68e13cc8314f4b9e9bf583708b0e75d1bd8e5f80b240','builtin','2026-12-03T18:53:30.886364Z');
INSERT INTO instruments VALUES(2,'who5','1998','wellbeing','{"citation": "World Health Organization Regional Office for Europe (1998). Wellbeing measures in primary health care: the DepCare project. Topp, C. W., Ostergaard, S. D., Sondergaard, S., & Bech, P. (2015). The WHO-5 Well-Being Index: a systematic review of the literature. Psychotherapy and Psychosomatics, 84(3), 167-176. doi:10.1159/000376585", "construct": "wellbeing", "items": [{"id": "1", "max": 5, "min": 0}, {"id": "2", "max": 5, "min": 0}, {"id": "3", "max": 5, "min": 0}, {"id": "4", "max": 5, "min": 0}, {"id": "5", "max": 5, "min": 0}], "name": "who5", "notes": "Scoring key only (no item wording). 5 items rated 0-5; raw score = sum (0-25); percentage score = raw x 4 (0-100). Bands: raw below 13 indicates poor wellbeing (WHO 1998); on the percentage scale <= 50 screens for depression and <= 28 indicates likely depression (Topp et al. 2015). No proration: all 5 items are needed (project default).", "primary": "percentage", "roles": ["patient", "therapist"], "scales": [{"bands": [[0, 12, "poor wellbeing"], [13, 25, "no indication of poor wellbeing"]], "id": "raw", "items": ["1", "2", "3", "4", "5"], "method": "sum", "title": "Raw score (0-25)"}, {"bands": [[0, 28, "likely depression"], [32, 50, "poor wellbeing"], [52, 100, "no indication of poor wellbeing"]], "derived_from": "raw", "id": "percentage", "multiply": 4, "title": "Percentage score (0-100)"}], "timings": ["pre", "post"], "title": "WHO-5 Well-Being Index", "version": "1998"}','1ff60bde6c852fb4ac111ec3ae14819ac0f36e745810bb2a05fe9a68faadbdee','builtin','2026-12-03T18:53:30.929794Z');
INSERT INTO instruments VALUES(3,'wai-sr','2006','alliance','{"citation": "Hatcher, R. L., & Gillaspy, J. A. (2006). Development and validation of a revised short version of the Working Alliance Inventory. Psychotherapy Research, 16(1), 12-25. doi:10.1080/10503300500352500", "construct": "alliance", "items": [{"id": "1", "max": 5, "min": 1}, {"id": "2", "max": 5, "min": 1}, {"id": "3", "max": 5, "min": 1}, {"id": "4", "max": 5, "min": 1}, {"id": "5", "max": 5, "min": 1}, {"id": "6", "max": 5, "min": 1}, {"id": "7", "max": 5, "min": 1}, {"id": "8", "max": 5, "min": 1}, {"id": "9", "max": 5, "min": 1}, {"id": "10", "max": 5, "min": 1}, {"id": "11", "max": 5, "min": 1}, {"id": "12", "max": 5, "min": 1}], "name": "wai-sr", "notes": "Scoring key only; the item wording is copyrighted (Society for Psychotherapy Research) and is not shipped. 12 items rated 1-5; Task = items 1, 2, 10, 12; Bond = 3, 5, 7, 9; Goal = 4, 6, 8, 11; total = all 12. Reverse keying: none. All 12 WAI-SR items are positively worded and the published scoring is a plain sum; checked against two scoring guides that list the same subscale items and a plain 12-60 sum with no reversed items (docs.getrivet.ca/clinical-templates/specialized/wai-sr; ebchelp.blueprint.ai ''Working Alliance Inventory - Short (WAI)''). Reversed items belong to the older WAI-S (Tracey & Kokotovic, 1989), not to the WAI-SR. Missing data (project default, not from the authors): a subscale needs 3 of 4 items and the total 10 of 12, prorated (sum of answered x n_items / n_answered).", "primary": "total", "roles": ["patient"], "scales": [{"id": "task", "items": ["1", "2", "10", "12"], "method": "sum", "min_items": 3, "prorate": true, "title": "Task agreement"}, {"id": "bond", "items": ["3", "5", "7", "9"], "method": "sum", "min_items": 3, "prorate": true, "title": "Bond"}, {"id": "goal", "items": ["4", "6", "8", "11"], "method": "sum", "min_items": 3, "prorate": true, "title": "Goal agreement"}, {"id": "total", "items": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"], "method": "sum", "min_items": 10, "prorate": true, "title": "Total alliance"}], "timings": ["post"], "title": "Working Alliance Inventory - Short Revised, client form (WAI-SR)", "version": "2006"}','402605d88f944e7bc497696e59866bc90129f4e37440929c1d9d1c92afc29dc7','builtin','2026-12-03T18:53:30.940789Z');
CREATE TABLE responses (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions (id),
    instrument_id INTEGER NOT NULL REFERENCES instruments (id),
    respondent    TEXT NOT NULL CHECK (respondent IN ('therapist', 'patient')),
    timing        TEXT NOT NULL CHECK (timing IN ('pre', 'post')),
    status        TEXT NOT NULL DEFAULT 'entered' CHECK (status IN ('entered', 'amended')),
    source        TEXT NOT NULL DEFAULT 'entry' CHECK (source IN ('entry', 'import', 'amend')),
    source_hash   TEXT CHECK (source_hash IS NULL OR length(source_hash) = 64),
    entered_by    TEXT NOT NULL,
    entered_at    TEXT NOT NULL,
    UNIQUE (session_id, instrument_id, respondent, timing)
);
INSERT INTO responses VALUES(1,1,1,'patient','pre','amended','amend',NULL,'tester','2026-12-03T18:53:30.956287Z');
INSERT INTO responses VALUES(2,1,1,'therapist','pre','entered','entry',NULL,'tester','2026-12-03T18:53:30.912038Z');
INSERT INTO responses VALUES(3,1,2,'therapist','post','entered','entry',NULL,'tester','2026-12-03T18:53:30.929677Z');
INSERT INTO responses VALUES(4,1,3,'patient','post','entered','entry',NULL,'tester','2026-12-03T18:53:30.940649Z');
INSERT INTO responses VALUES(5,3,1,'patient','pre','entered','import','22666e7eb929bd48dd10192d0e544bd3feddd3bd6f8a3535b493439effa37dc7','tester','2026-12-03T18:53:30.969120Z');
INSERT INTO responses VALUES(6,3,2,'therapist','post','entered','import','22666e7eb929bd48dd10192d0e544bd3feddd3bd6f8a3535b493439effa37dc7','tester','2026-12-03T18:53:30.969120Z');
INSERT INTO responses VALUES(7,2,1,'patient','post','entered','import','22666e7eb929bd48dd10192d0e544bd3feddd3bd6f8a3535b493439effa37dc7','tester','2026-12-03T18:53:30.969120Z');
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
INSERT INTO response_items VALUES(2,'1',1,1.0,NULL);
INSERT INTO response_items VALUES(2,'2',2,1.0,NULL);
INSERT INTO response_items VALUES(2,'3',3,0.0,NULL);
INSERT INTO response_items VALUES(2,'4',4,0.0,NULL);
INSERT INTO response_items VALUES(2,'5',5,1.0,NULL);
INSERT INTO response_items VALUES(2,'6',6,NULL,'NA');
INSERT INTO response_items VALUES(2,'7',7,0.0,NULL);
INSERT INTO response_items VALUES(3,'1',1,3.0,NULL);
INSERT INTO response_items VALUES(3,'2',2,4.0,NULL);
INSERT INTO response_items VALUES(3,'3',3,3.0,NULL);
INSERT INTO response_items VALUES(3,'4',4,2.0,NULL);
INSERT INTO response_items VALUES(3,'5',5,4.0,NULL);
INSERT INTO response_items VALUES(4,'1',1,4.0,NULL);
INSERT INTO response_items VALUES(4,'2',2,5.0,NULL);
INSERT INTO response_items VALUES(4,'3',3,4.0,NULL);
INSERT INTO response_items VALUES(4,'4',4,NULL,'REF');
INSERT INTO response_items VALUES(4,'5',5,5.0,NULL);
INSERT INTO response_items VALUES(4,'6',6,4.0,NULL);
INSERT INTO response_items VALUES(4,'7',7,4.0,NULL);
INSERT INTO response_items VALUES(4,'8',8,5.0,NULL);
INSERT INTO response_items VALUES(4,'9',9,3.0,NULL);
INSERT INTO response_items VALUES(4,'10',10,4.0,NULL);
INSERT INTO response_items VALUES(4,'11',11,4.0,NULL);
INSERT INTO response_items VALUES(4,'12',12,5.0,NULL);
INSERT INTO response_items VALUES(1,'1',1,3.0,NULL);
INSERT INTO response_items VALUES(1,'2',2,2.0,NULL);
INSERT INTO response_items VALUES(1,'3',3,2.0,NULL);
INSERT INTO response_items VALUES(1,'4',4,0.0,NULL);
INSERT INTO response_items VALUES(1,'5',5,3.0,NULL);
INSERT INTO response_items VALUES(1,'6',6,2.0,NULL);
INSERT INTO response_items VALUES(1,'7',7,1.0,NULL);
INSERT INTO response_items VALUES(5,'1',1,2.0,NULL);
INSERT INTO response_items VALUES(5,'2',2,2.0,NULL);
INSERT INTO response_items VALUES(5,'3',3,2.0,NULL);
INSERT INTO response_items VALUES(5,'4',4,1.0,NULL);
INSERT INTO response_items VALUES(5,'5',5,1.0,NULL);
INSERT INTO response_items VALUES(5,'6',6,0.0,NULL);
INSERT INTO response_items VALUES(5,'7',7,0.0,NULL);
INSERT INTO response_items VALUES(6,'1',1,4.0,NULL);
INSERT INTO response_items VALUES(6,'2',2,4.0,NULL);
INSERT INTO response_items VALUES(6,'3',3,3.0,NULL);
INSERT INTO response_items VALUES(6,'4',4,3.0,NULL);
INSERT INTO response_items VALUES(6,'5',5,2.0,NULL);
INSERT INTO response_items VALUES(7,'1',1,1.0,NULL);
INSERT INTO response_items VALUES(7,'2',2,1.0,NULL);
INSERT INTO response_items VALUES(7,'3',3,1.0,NULL);
INSERT INTO response_items VALUES(7,'4',4,0.0,NULL);
INSERT INTO response_items VALUES(7,'5',5,0.0,NULL);
INSERT INTO response_items VALUES(7,'6',6,0.0,NULL);
INSERT INTO response_items VALUES(7,'7',7,0.0,NULL);
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
INSERT INTO scores VALUES(2,'total',3.5,6,7,1,'minimal');
INSERT INTO scores VALUES(3,'raw',16.0,5,5,0,'no indication of poor wellbeing');
INSERT INTO scores VALUES(3,'percentage',64.0,5,5,0,'no indication of poor wellbeing');
INSERT INTO scores VALUES(4,'task',18.0,4,4,0,NULL);
INSERT INTO scores VALUES(4,'bond',16.0,4,4,0,NULL);
INSERT INTO scores VALUES(4,'goal',17.333333333300000589,3,4,1,NULL);
INSERT INTO scores VALUES(4,'total',51.272727272700002743,11,12,1,NULL);
INSERT INTO scores VALUES(1,'total',13.0,7,7,0,'moderate');
INSERT INTO scores VALUES(5,'total',8.0,7,7,0,'mild');
INSERT INTO scores VALUES(6,'raw',16.0,5,5,0,'no indication of poor wellbeing');
INSERT INTO scores VALUES(6,'percentage',64.0,5,5,0,'no indication of poor wellbeing');
INSERT INTO scores VALUES(7,'total',3.0,7,7,0,'minimal');
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
INSERT INTO audit_log VALUES(1,'2026-12-03T18:53:30.693169Z','tester','create','study','frozen_v3',NULL,'{"data_dir":"v3_data","name":"frozen_v3","schema_version":3}',NULL,'0000000000000000000000000000000000000000000000000000000000000000','47cad6e1996f991377e0b17ff289493ca8624ecb71ef6fe7d95715568fef7199');
INSERT INTO audit_log VALUES(2,'2026-12-03T18:53:30.715158Z','tester','add','person','T01',NULL,'{"code":"T01","role":"therapist"}',NULL,'47cad6e1996f991377e0b17ff289493ca8624ecb71ef6fe7d95715568fef7199','44adac668f6dc5c7c3d36af2718738b8afa204782c6ac96ca47aa27d8d91a3e0');
INSERT INTO audit_log VALUES(3,'2026-12-03T18:53:30.715482Z','tester','add','person','P01',NULL,'{"code":"P01","role":"patient"}',NULL,'44adac668f6dc5c7c3d36af2718738b8afa204782c6ac96ca47aa27d8d91a3e0','152a8600ee3945b682b1b13ba19abc1be82f1a6e16bdd05eb1f12bc0b8366067');
INSERT INTO audit_log VALUES(4,'2026-12-03T18:53:30.715760Z','tester','add','dyad','D01',NULL,'{"patient":"P01","therapist":"T01"}',NULL,'152a8600ee3945b682b1b13ba19abc1be82f1a6e16bdd05eb1f12bc0b8366067','3ac737dd2f45c5ace0b7dbea4c3bbadb4db419d9adcbe385f21a784fb0bf296a');
INSERT INTO audit_log VALUES(5,'2026-12-03T18:53:30.728495Z','tester','add','person','P02',NULL,'{"code":"P02","role":"patient"}',NULL,'3ac737dd2f45c5ace0b7dbea4c3bbadb4db419d9adcbe385f21a784fb0bf296a','5bf395d9ad1a72aa3419ebacd88f70219510e5dcf78e05a9c5d51c694a3a32e3');
INSERT INTO audit_log VALUES(6,'2026-12-03T18:53:30.728724Z','tester','add','dyad','D02',NULL,'{"patient":"P02","therapist":"T01"}',NULL,'5bf395d9ad1a72aa3419ebacd88f70219510e5dcf78e05a9c5d51c694a3a32e3','d293ad8cbfc5d9b928c4ea9ecabc0f77e8f6883a7c3de6ce0dcfb4e269e11f55');
INSERT INTO audit_log VALUES(7,'2026-12-03T18:53:30.729470Z','tester','add','session','D01/1',NULL,'{"attended":1,"date":"2025-01-02","kind":"therapy","scanned":0}',NULL,'d293ad8cbfc5d9b928c4ea9ecabc0f77e8f6883a7c3de6ce0dcfb4e269e11f55','f93ba9e86df4355d12cef2e0c6c6fb15f24808da98352a6eb99325025a1314cb');
INSERT INTO audit_log VALUES(8,'2026-12-03T18:53:30.729672Z','tester','add','session','D01/2',NULL,'{"attended":1,"date":"2025-01-09","kind":"therapy","scanned":0}',NULL,'f93ba9e86df4355d12cef2e0c6c6fb15f24808da98352a6eb99325025a1314cb','250c03a933c4b75961d223ad0d25905691b14773684bfbd20b54936f3439ceee');
INSERT INTO audit_log VALUES(9,'2026-12-03T18:53:30.729848Z','tester','add','session','D02/1',NULL,'{"attended":1,"date":"2025-01-02","kind":"therapy","scanned":0}',NULL,'250c03a933c4b75961d223ad0d25905691b14773684bfbd20b54936f3439ceee','40e6e1a0249f0860a3700f955f78c9d2c088cc58c3bdc34dfc692f0b5320878f');
INSERT INTO audit_log VALUES(10,'2026-12-03T18:53:30.730014Z','tester','add','session','D02/2',NULL,'{"attended":1,"date":"2025-01-09","kind":"therapy","scanned":0}',NULL,'40e6e1a0249f0860a3700f955f78c9d2c088cc58c3bdc34dfc692f0b5320878f','d59a3016946fc742f701a662b850c0cde7f090142019aee40bc4134f571e3f1c');
INSERT INTO audit_log VALUES(11,'2026-12-03T18:53:30.886554Z','tester','add','instrument','gad7@2006',NULL,'{"construct":"symptoms","content_hash":"684530108c3aacd4e9cf68e13cc8314f4b9e9bf583708b0e75d1bd8e5f80b240","source":"builtin"}',NULL,'d59a3016946fc742f701a662b850c0cde7f090142019aee40bc4134f571e3f1c','62410257b7d8c2b8bccd857bd4aa8b2b7be9c380e3abd0421d08ed9e68decb46');
INSERT INTO audit_log VALUES(12,'2026-12-03T18:53:30.887279Z','tester','enter','response','D01/1/gad7@2006/patient/pre',NULL,'{"items":{"1":3.0,"2":2.0,"3":1.0,"4":0.0,"5":3.0,"6":2.0,"7":1.0},"scores":{"total":12.0},"source":"entry"}',NULL,'62410257b7d8c2b8bccd857bd4aa8b2b7be9c380e3abd0421d08ed9e68decb46','4ffc859fbae40d9a78021c4735658d72bfe0cac4bff1bd75fa91bd8c29bf292b');
INSERT INTO audit_log VALUES(13,'2026-12-03T18:53:30.912398Z','tester','enter','response','D01/1/gad7@2006/therapist/pre',NULL,'{"items":{"1":1.0,"2":1.0,"3":0.0,"4":0.0,"5":1.0,"6":"NA","7":0.0},"scores":{"total":3.5},"source":"entry"}',NULL,'4ffc859fbae40d9a78021c4735658d72bfe0cac4bff1bd75fa91bd8c29bf292b','417e2b0b79b9d4d5daab8e3ccad9c80ab3dc6ac050b5d5157c8438af0b34234c');
INSERT INTO audit_log VALUES(14,'2026-12-03T18:53:30.929862Z','tester','add','instrument','who5@1998',NULL,'{"construct":"wellbeing","content_hash":"1ff60bde6c852fb4ac111ec3ae14819ac0f36e745810bb2a05fe9a68faadbdee","source":"builtin"}',NULL,'417e2b0b79b9d4d5daab8e3ccad9c80ab3dc6ac050b5d5157c8438af0b34234c','bfafcae3b54b9a70d9c130420869869e032bcff84f98124ec3c201b6a5b89ef5');
INSERT INTO audit_log VALUES(15,'2026-12-03T18:53:30.930094Z','tester','enter','response','D01/1/who5@1998/therapist/post',NULL,'{"items":{"1":3.0,"2":4.0,"3":3.0,"4":2.0,"5":4.0},"scores":{"percentage":64.0,"raw":16.0},"source":"entry"}',NULL,'bfafcae3b54b9a70d9c130420869869e032bcff84f98124ec3c201b6a5b89ef5','4a4a4bf9b0a1f959107055d5d01084e7933db40b3ac06b876e0ef38a8f96b131');
INSERT INTO audit_log VALUES(16,'2026-12-03T18:53:30.940872Z','tester','add','instrument','wai-sr@2006',NULL,'{"construct":"alliance","content_hash":"402605d88f944e7bc497696e59866bc90129f4e37440929c1d9d1c92afc29dc7","source":"builtin"}',NULL,'4a4a4bf9b0a1f959107055d5d01084e7933db40b3ac06b876e0ef38a8f96b131','249a2ded046b05617e114512f1d912406d2b00c3479f1f3c1b99ed0590b8c79a');
INSERT INTO audit_log VALUES(17,'2026-12-03T18:53:30.941209Z','tester','enter','response','D01/1/wai-sr@2006/patient/post',NULL,'{"items":{"1":4.0,"10":4.0,"11":4.0,"12":5.0,"2":5.0,"3":4.0,"4":"REF","5":5.0,"6":4.0,"7":4.0,"8":5.0,"9":3.0},"scores":{"bond":16.0,"goal":17.3333333333,"task":18.0,"total":51.2727272727},"source":"entry"}',NULL,'249a2ded046b05617e114512f1d912406d2b00c3479f1f3c1b99ed0590b8c79a','81f28d1690a21d6bbf47d5c2ba6a0b6f3d27e288dfd679e97ad93177c27c9e62');
INSERT INTO audit_log VALUES(18,'2026-12-03T18:53:30.956711Z','tester','amend','response','D01/1/gad7@2006/patient/pre','{"entered_at":"2026-12-03T18:53:30.886163Z","entered_by":"tester","items":{"1":3.0,"2":2.0,"3":1.0,"4":0.0,"5":3.0,"6":2.0,"7":1.0},"scores":{"total":12.0},"source":"entry","source_hash":null,"status":"entered"}','{"items":{"1":3.0,"2":2.0,"3":2.0,"4":0.0,"5":3.0,"6":2.0,"7":1.0},"scores":{"total":13.0},"source":"amend","status":"amended"}','item 3 misread','81f28d1690a21d6bbf47d5c2ba6a0b6f3d27e288dfd679e97ad93177c27c9e62','46a9b36faf6321f31ee8ff9ce893e07bd4397363fba3ae0f1945bedf88e682d6');
INSERT INTO audit_log VALUES(19,'2026-12-03T18:53:30.969499Z','tester','import','response','D02/1/gad7@2006/patient/pre',NULL,'{"file":"responses.csv","items":{"1":2.0,"2":2.0,"3":2.0,"4":1.0,"5":1.0,"6":0.0,"7":0.0},"scores":{"total":8.0},"sha256":"22666e7eb929bd48dd10192d0e544bd3feddd3bd6f8a3535b493439effa37dc7","source":"import"}',NULL,'46a9b36faf6321f31ee8ff9ce893e07bd4397363fba3ae0f1945bedf88e682d6','447cce95e80c354cbf699a929b9b79bed2e93783695e1a0edde93f2716177390');
INSERT INTO audit_log VALUES(20,'2026-12-03T18:53:30.969638Z','tester','import','response','D02/1/who5@1998/therapist/post',NULL,'{"file":"responses.csv","items":{"1":4.0,"2":4.0,"3":3.0,"4":3.0,"5":2.0},"scores":{"percentage":64.0,"raw":16.0},"sha256":"22666e7eb929bd48dd10192d0e544bd3feddd3bd6f8a3535b493439effa37dc7","source":"import"}',NULL,'447cce95e80c354cbf699a929b9b79bed2e93783695e1a0edde93f2716177390','05b98654bbe7343ce486c43b2ad75ee119883520c76289e6ee06bd1632eb9f1b');
INSERT INTO audit_log VALUES(21,'2026-12-03T18:53:30.969725Z','tester','import','response','D01/2/gad7@2006/patient/post',NULL,'{"file":"responses.csv","items":{"1":1.0,"2":1.0,"3":1.0,"4":0.0,"5":0.0,"6":0.0,"7":0.0},"scores":{"total":3.0},"sha256":"22666e7eb929bd48dd10192d0e544bd3feddd3bd6f8a3535b493439effa37dc7","source":"import"}',NULL,'05b98654bbe7343ce486c43b2ad75ee119883520c76289e6ee06bd1632eb9f1b','85ed0d756c269336da827aba7f96affb309e26880489824e9bc9743733bab980');
INSERT INTO audit_log VALUES(22,'2026-12-03T18:53:30.970249Z','tester','lock','session','D01/1','{"locked":false}','{"locked":true}','data complete','85ed0d756c269336da827aba7f96affb309e26880489824e9bc9743733bab980','ed0dfaf3382c78846489ffb904160e1dcb35c443f27af4ade5891b776ac003cc');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('audit_log',22);
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
COMMIT;
