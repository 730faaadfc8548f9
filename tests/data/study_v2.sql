PRAGMA user_version = 2;
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
INSERT INTO "analysis_runs" VALUES(1,'eeg',1,'{"alignment": "meas_date", "asymmetry": [["F3", "F4"]], "asymmetry_band": [8.0, 12.0], "asymmetry_step_s": 1.0, "asymmetry_window_s": 2.0, "bands": [["theta", 4.0, 8.0], ["alpha", 8.0, 12.0]], "epoch_s": 2.0, "labels": ["MOI", "MONI"], "measures": ["plv", "aec"], "pairs": "homologous", "reference": "as-recorded", "resample_sfreq": 250.0, "source": "consensus", "window": [-15.0, 15.0]}','673f50de41ef945af3f2b17ecb4e672a6ca2357c8aac0f2accf18882064a2de6','{"events": "f4667682b9cb3db001cb4fc8cf5bf0dc37a973dd62d5dff7f736f833c790fb65", "patient": "7495a0891afa7a770a92cb5428e37d866dca90b2471a7cfaa4eea10911da8d06", "therapist": "d996fba7123f0f9c64f4b05044a06370cd714fae5d2c537bd460bd45764bd1bb"}','{"mne": "1.13.2", "mne-nirs": "0.7.3", "numpy": "2.4.6", "pandas": "3.1.1", "pingouin": "0.7.0", "python": "3.11.7", "scipy": "1.17.1", "sqlite-utils": "4.2.1", "statsmodels": "0.15.0", "studymgr": "0.1.0"}','done','{"asymmetry": [{"condition": "session", "left": "F3", "n_windows": 59, "right": "F4", "role": "therapist", "sd": 0.06490179072146456, "value": 1.390666923323403}, {"condition": "MOI", "left": "F3", "n_windows": 1, "right": "F4", "role": "therapist", "sd": null, "value": 1.3956732062178077}, {"condition": "MONI", "left": "F3", "n_windows": 1, "right": "F4", "role": "therapist", "sd": null, "value": 1.382469739543745}, {"condition": "rest", "left": "F3", "n_windows": 8, "right": "F4", "role": "therapist", "sd": null, "value": 1.3922475240606609}, {"condition": "session", "left": "F3", "n_windows": 59, "right": "F4", "role": "patient", "sd": 0.10062570155644235, "value": -0.032812618263990685}, {"condition": "MOI", "left": "F3", "n_windows": 1, "right": "F4", "role": "patient", "sd": null, "value": -0.036986298783688545}, {"condition": "MONI", "left": "F3", "n_windows": 1, "right": "F4", "role": "patient", "sd": null, "value": -0.03298165837804043}, {"condition": "rest", "left": "F3", "n_windows": 8, "right": "F4", "role": "patient", "sd": null, "value": 9.253956841037692e-05}], "warnings": []}','tester','2026-11-22T03:51:23.163647Z','2026-11-22T03:51:23.163761Z');
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
INSERT INTO "audit_log" VALUES(1,'2026-11-22T03:51:22.336376Z','tester','create','study','study',NULL,'{"data_dir":"study_data","name":"study","schema_version":2}',NULL,'0000000000000000000000000000000000000000000000000000000000000000','c37fa409a611277ec89a4219e1331175012d31adebca26dc6ce97cf3ae4c1f07');
INSERT INTO "audit_log" VALUES(2,'2026-11-22T03:51:22.342183Z','tester','add','person','T01',NULL,'{"code":"T01","role":"therapist"}',NULL,'c37fa409a611277ec89a4219e1331175012d31adebca26dc6ce97cf3ae4c1f07','f7c22667b4efa4c4ac067ec50da858c8d3ecc27cf236cce6d8e7764f1a4cdf60');
INSERT INTO "audit_log" VALUES(3,'2026-11-22T03:51:22.342397Z','tester','add','person','P01',NULL,'{"code":"P01","role":"patient"}',NULL,'f7c22667b4efa4c4ac067ec50da858c8d3ecc27cf236cce6d8e7764f1a4cdf60','4e079527c5e597d013bd56a8443a4ff93d05d2370613a3333ed7bfb536cc6e77');
INSERT INTO "audit_log" VALUES(4,'2026-11-22T03:51:22.342575Z','tester','add','dyad','D01',NULL,'{"patient":"P01","therapist":"T01"}',NULL,'4e079527c5e597d013bd56a8443a4ff93d05d2370613a3333ed7bfb536cc6e77','1d27642c6ff40e01b678323382f6fb7e123aae2c249fd7d39e7799967d8d2b41');
INSERT INTO "audit_log" VALUES(5,'2026-11-22T03:51:22.344066Z','tester','add','session','D01/1',NULL,'{"attended":1,"date":"2025-01-02","kind":"therapy","scanned":1}',NULL,'1d27642c6ff40e01b678323382f6fb7e123aae2c249fd7d39e7799967d8d2b41','c6f262bab354da4c58148c156d82e687dbf356df10b14382623d62ce4aa0e3d5');
INSERT INTO "audit_log" VALUES(6,'2026-11-22T03:51:22.736408Z','tester','import','scan','D01/1/therapist',NULL,'{"cardiac_hz":null,"duration_s":60.0,"format":"fif","meas_date":"2025-03-03T10:00:00.000000Z","n_channels":6,"n_events":0,"path":"sub-T01/ses-1/eeg/sub-T01_ses-1_task-therapy_eeg.fif","sfreq":250.0,"sha256":"d996fba7123f0f9c64f4b05044a06370cd714fae5d2c537bd460bd45764bd1bb","size_bytes":362004,"source":"t_raw.fif","usable_share":1.0}',NULL,'c6f262bab354da4c58148c156d82e687dbf356df10b14382623d62ce4aa0e3d5','5fffdbce55486b4052da3121133d9446d45dd47451c9c607ccc629510d264f3c');
INSERT INTO "audit_log" VALUES(7,'2026-11-22T03:51:22.771304Z','tester','import','scan','D01/1/patient',NULL,'{"cardiac_hz":null,"duration_s":60.0,"format":"fif","meas_date":"2025-03-03T10:00:00.000000Z","n_channels":6,"n_events":0,"path":"sub-P01/ses-1/eeg/sub-P01_ses-1_task-therapy_eeg.fif","sfreq":250.0,"sha256":"7495a0891afa7a770a92cb5428e37d866dca90b2471a7cfaa4eea10911da8d06","size_bytes":362004,"source":"p_raw.fif","usable_share":1.0}',NULL,'5fffdbce55486b4052da3121133d9446d45dd47451c9c607ccc629510d264f3c','90feca114f626d1e34ce676378a4a82cc00ced4cd874ab864fd63830f4499778');
INSERT INTO "audit_log" VALUES(8,'2026-11-22T03:51:22.771943Z','tester','check','scan_pair','D01/1',NULL,'{"messages":[],"overlap_s":60.0,"start_offset_s":0.0,"status":"ok"}',NULL,'90feca114f626d1e34ce676378a4a82cc00ced4cd874ab864fd63830f4499778','e21b08d7dd9f4430319d59052f18d722c1bc9940d8c05717bd912c52e8aa1ec6');
INSERT INTO "audit_log" VALUES(9,'2026-11-22T03:51:22.773707Z','tester','import','events','D01/1',NULL,'{"events":[{"duration_s":0.0,"label":"MOI","onset_s":20.0,"rater":null,"source":"consensus"},{"duration_s":0.0,"label":"MONI","onset_s":40.0,"rater":null,"source":"consensus"}],"file":"cons.csv","n_events":2}',NULL,'e21b08d7dd9f4430319d59052f18d722c1bc9940d8c05717bd912c52e8aa1ec6','9af60e1f03d96c8c4a0029e756711e4fbd7b12d76589bc0ea5a40c501dd33a0c');
INSERT INTO "audit_log" VALUES(10,'2026-11-22T03:51:23.167629Z','tester','compute','eeg','D01/1',NULL,'{"asymmetry":[{"condition":"session","left":"F3","n_windows":59,"right":"F4","role":"therapist","sd":0.06490179072146456,"value":1.390666923323403},{"condition":"MOI","left":"F3","n_windows":1,"right":"F4","role":"therapist","sd":null,"value":1.3956732062178077},{"condition":"MONI","left":"F3","n_windows":1,"right":"F4","role":"therapist","sd":null,"value":1.382469739543745},{"condition":"rest","left":"F3","n_windows":8,"right":"F4","role":"therapist","sd":null,"value":1.3922475240606609},{"condition":"session","left":"F3","n_windows":59,"right":"F4","role":"patient","sd":0.10062570155644235,"value":-0.032812618263990685},{"condition":"MOI","left":"F3","n_windows":1,"right":"F4","role":"patient","sd":null,"value":-0.036986298783688545},{"condition":"MONI","left":"F3","n_windows":1,"right":"F4","role":"patient","sd":null,"value":-0.03298165837804043},{"condition":"rest","left":"F3","n_windows":8,"right":"F4","role":"patient","sd":null,"value":9.253956841037692e-05}],"config_hash":"673f50de41ef945af3f2b17ecb4e672a6ca2357c8aac0f2accf18882064a2de6","rows":112,"run":1}',NULL,'9af60e1f03d96c8c4a0029e756711e4fbd7b12d76589bc0ea5a40c501dd33a0c','a34429b6fb6d80cbb79e7a19606908d45a1cbb066c37d53992c7a49bd7edd446');
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
INSERT INTO "dyads" VALUES(1,'D01',1,2,'2026-11-22T03:51:22.342477Z');
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
INSERT INTO "events" VALUES(1,1,NULL,20.0,0.0,'MOI',NULL,'consensus','2026-11-22T03:51:22.773514Z');
INSERT INTO "events" VALUES(2,1,NULL,40.0,0.0,'MONI',NULL,'consensus','2026-11-22T03:51:22.773514Z');
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
INSERT INTO "people" VALUES(1,'T01','therapist','2026-11-22T03:51:22.342060Z');
INSERT INTO "people" VALUES(2,'P01','patient','2026-11-22T03:51:22.342374Z');
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
    respondent    TEXT NOT NULL CHECK (respondent IN ('therapist', 'patient')),
    timing        TEXT NOT NULL CHECK (timing IN ('pre', 'post')),
    status        TEXT NOT NULL DEFAULT 'entered' CHECK (status IN ('entered', 'amended')),
    source        TEXT NOT NULL DEFAULT 'entry' CHECK (source IN ('entry', 'import', 'amend')),
    source_hash   TEXT CHECK (source_hash IS NULL OR length(source_hash) = 64),
    entered_by    TEXT NOT NULL,
    entered_at    TEXT NOT NULL,
    UNIQUE (session_id, instrument_id, respondent, timing)
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
INSERT INTO "scan_pairs" VALUES(1,'eeg',1,2,0.0,60.0,'ok','[]','2026-11-22T03:51:22.771724Z');
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
INSERT INTO "scans" VALUES(1,1,1,'therapist','eeg','fif','sub-T01/ses-1/eeg/sub-T01_ses-1_task-therapy_eeg.fif','d996fba7123f0f9c64f4b05044a06370cd714fae5d2c537bd460bd45764bd1bb',362004,250.0,6,'[{"name": "F3", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "F4", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "C3", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "C4", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "O1", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "O2", "type": "eeg", "wavelength_nm": null, "distance_m": null}]',60.0,'2025-03-03T10:00:00.000000Z','{"config": {"flat_min_run_s": 1.0, "flat_max_share": 0.1, "saturation_max_share": 0.01, "line_freqs": [50.0, 60.0], "line_noise_max_db": 20.0}, "modality": "eeg", "n_eeg": 6, "n_usable": 6, "usable_share": 1.0, "n_flat": 0, "n_saturated": 0, "line_noise": {"frequency_hz": 60.0, "excess_db": 0.45, "n_channels": 0}, "alpha": {"frequency_hz": 10.25, "prominence_db": 19.56}, "channels": [{"name": "F3", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "F4", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.42, "usable": true}, {"name": "C3", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "C4", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "O1", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.46, "usable": true}, {"name": "O2", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.46, "usable": true}], "notes": []}',1.0,'tester','2026-11-22T03:51:22.735603Z');
INSERT INTO "scans" VALUES(2,1,2,'patient','eeg','fif','sub-P01/ses-1/eeg/sub-P01_ses-1_task-therapy_eeg.fif','7495a0891afa7a770a92cb5428e37d866dca90b2471a7cfaa4eea10911da8d06',362004,250.0,6,'[{"name": "F3", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "F4", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "C3", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "C4", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "O1", "type": "eeg", "wavelength_nm": null, "distance_m": null}, {"name": "O2", "type": "eeg", "wavelength_nm": null, "distance_m": null}]',60.0,'2025-03-03T10:00:00.000000Z','{"config": {"flat_min_run_s": 1.0, "flat_max_share": 0.1, "saturation_max_share": 0.01, "line_freqs": [50.0, 60.0], "line_noise_max_db": 20.0}, "modality": "eeg", "n_eeg": 6, "n_usable": 6, "usable_share": 1.0, "n_flat": 0, "n_saturated": 0, "line_noise": {"frequency_hz": 60.0, "excess_db": 0.45, "n_channels": 0}, "alpha": {"frequency_hz": 10.25, "prominence_db": 19.37}, "channels": [{"name": "F3", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "F4", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "C3", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.46, "usable": true}, {"name": "C4", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "O1", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.45, "usable": true}, {"name": "O2", "sci": null, "flat_share": 0.0, "flat": false, "saturated_share": 0.0, "saturated": false, "line_noise_db": 0.44, "usable": true}], "notes": []}',1.0,'tester','2026-11-22T03:51:22.771096Z');
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
INSERT INTO "sessions" VALUES(1,1,1,'2025-01-02','therapy',1,1,0,'2026-11-22T03:51:22.343947Z');
CREATE TABLE study (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 32
                                     AND name NOT GLOB '*[^A-Za-z0-9_-]*'),
    data_dir    TEXT NOT NULL CHECK (length(data_dir) > 0),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_with TEXT NOT NULL  -- studymgr version that created the study
);
INSERT INTO "study" VALUES(1,'study','study_data','2026-11-22T03:51:22.335853Z','tester','0.1.0');
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
INSERT INTO "synchrony_results" VALUES(1,1,1,'true',1,2,'plv_theta','eeg','channel','F3','F3',3.25320548314523227961e-01,30);
INSERT INTO "synchrony_results" VALUES(2,1,1,'true',1,2,'plv_theta@MOI','eeg','channel','F3','F3',3.01500912117249775246e-01,1);
INSERT INTO "synchrony_results" VALUES(3,1,1,'true',1,2,'plv_theta@MONI','eeg','channel','F3','F3',2.61247318899675451397e-01,1);
INSERT INTO "synchrony_results" VALUES(4,1,1,'true',1,2,'plv_theta@rest','eeg','channel','F3','F3',5.04471750795040252413e-01,4);
INSERT INTO "synchrony_results" VALUES(5,1,1,'true',1,2,'plv_theta','eeg','channel','F4','F4',3.50410909615511245718e-01,30);
INSERT INTO "synchrony_results" VALUES(6,1,1,'true',1,2,'plv_theta@MOI','eeg','channel','F4','F4',3.34704657622710177733e-01,1);
INSERT INTO "synchrony_results" VALUES(7,1,1,'true',1,2,'plv_theta@MONI','eeg','channel','F4','F4',0.357296076990193,1);
INSERT INTO "synchrony_results" VALUES(8,1,1,'true',1,2,'plv_theta@rest','eeg','channel','F4','F4',3.80706446964808153943e-01,4);
INSERT INTO "synchrony_results" VALUES(9,1,1,'true',1,2,'plv_theta','eeg','channel','C3','C3',2.6531347773046404237e-01,30);
INSERT INTO "synchrony_results" VALUES(10,1,1,'true',1,2,'plv_theta@MOI','eeg','channel','C3','C3',2.56221270907606268885e-01,1);
INSERT INTO "synchrony_results" VALUES(11,1,1,'true',1,2,'plv_theta@MONI','eeg','channel','C3','C3',2.64814424054291230881e-01,1);
INSERT INTO "synchrony_results" VALUES(12,1,1,'true',1,2,'plv_theta@rest','eeg','channel','C3','C3',2.95108642562072365223e-01,4);
INSERT INTO "synchrony_results" VALUES(13,1,1,'true',1,2,'plv_theta','eeg','channel','C4','C4',2.79155045444306304514e-01,30);
INSERT INTO "synchrony_results" VALUES(14,1,1,'true',1,2,'plv_theta@MOI','eeg','channel','C4','C4',2.86660655682546228195e-01,1);
INSERT INTO "synchrony_results" VALUES(15,1,1,'true',1,2,'plv_theta@MONI','eeg','channel','C4','C4',2.68671791284153194112e-01,1);
INSERT INTO "synchrony_results" VALUES(16,1,1,'true',1,2,'plv_theta@rest','eeg','channel','C4','C4',2.18267908829232804013e-01,4);
INSERT INTO "synchrony_results" VALUES(17,1,1,'true',1,2,'plv_theta','eeg','channel','O1','O1',3.031802607852018272e-01,30);
INSERT INTO "synchrony_results" VALUES(18,1,1,'true',1,2,'plv_theta@MOI','eeg','channel','O1','O1',3.39945493253071828743e-01,1);
INSERT INTO "synchrony_results" VALUES(19,1,1,'true',1,2,'plv_theta@MONI','eeg','channel','O1','O1',3.14126615352521176838e-01,1);
INSERT INTO "synchrony_results" VALUES(20,1,1,'true',1,2,'plv_theta@rest','eeg','channel','O1','O1',2.40179847121712503055e-01,4);
INSERT INTO "synchrony_results" VALUES(21,1,1,'true',1,2,'plv_theta','eeg','channel','O2','O2',2.88735097136913421156e-01,30);
INSERT INTO "synchrony_results" VALUES(22,1,1,'true',1,2,'plv_theta@MOI','eeg','channel','O2','O2',2.98792584153879714481e-01,1);
INSERT INTO "synchrony_results" VALUES(23,1,1,'true',1,2,'plv_theta@MONI','eeg','channel','O2','O2',2.72161234573789156954e-01,1);
INSERT INTO "synchrony_results" VALUES(24,1,1,'true',1,2,'plv_theta@rest','eeg','channel','O2','O2',2.66991926766354192857e-01,4);
INSERT INTO "synchrony_results" VALUES(25,1,1,'true',1,2,'plv_theta','eeg','session','all','all',3.02019223171153261553e-01,30);
INSERT INTO "synchrony_results" VALUES(26,1,1,'true',1,2,'plv_theta@MOI','eeg','session','all','all',3.02970928956177387725e-01,1);
INSERT INTO "synchrony_results" VALUES(27,1,1,'true',1,2,'plv_theta@MONI','eeg','session','all','all',2.89719576859103766786e-01,1);
INSERT INTO "synchrony_results" VALUES(28,1,1,'true',1,2,'plv_theta@rest','eeg','session','all','all',3.17621087173203420217e-01,4);
INSERT INTO "synchrony_results" VALUES(29,1,1,'true',1,2,'aec_theta','eeg','channel','F3','F3',4.62725445645844890574e-02,30);
INSERT INTO "synchrony_results" VALUES(30,1,1,'true',1,2,'aec_theta@MOI','eeg','channel','F3','F3',2.74780718881670327213e-03,1);
INSERT INTO "synchrony_results" VALUES(31,1,1,'true',1,2,'aec_theta@MONI','eeg','channel','F3','F3',1.1886580384395870058e-02,1);
INSERT INTO "synchrony_results" VALUES(32,1,1,'true',1,2,'aec_theta@rest','eeg','channel','F3','F3',1.86027387378526865013e-01,4);
INSERT INTO "synchrony_results" VALUES(33,1,1,'true',1,2,'aec_theta','eeg','channel','F4','F4',9.94709840490653474098e-02,30);
INSERT INTO "synchrony_results" VALUES(34,1,1,'true',1,2,'aec_theta@MOI','eeg','channel','F4','F4',1.14039134290474186705e-01,1);
INSERT INTO "synchrony_results" VALUES(35,1,1,'true',1,2,'aec_theta@MONI','eeg','channel','F4','F4',3.78027169078348213027e-02,1);
INSERT INTO "synchrony_results" VALUES(36,1,1,'true',1,2,'aec_theta@rest','eeg','channel','F4','F4',1.97675461870368079919e-01,4);
INSERT INTO "synchrony_results" VALUES(37,1,1,'true',1,2,'aec_theta','eeg','channel','C3','C3',-6.18734051660133829719e-02,30);
INSERT INTO "synchrony_results" VALUES(38,1,1,'true',1,2,'aec_theta@MOI','eeg','channel','C3','C3',-9.27840668603575752237e-02,1);
INSERT INTO "synchrony_results" VALUES(39,1,1,'true',1,2,'aec_theta@MONI','eeg','channel','C3','C3',-6.85838669052782623491e-02,1);
INSERT INTO "synchrony_results" VALUES(40,1,1,'true',1,2,'aec_theta@rest','eeg','channel','C3','C3',2.68060451881496179804e-02,4);
INSERT INTO "synchrony_results" VALUES(41,1,1,'true',1,2,'aec_theta','eeg','channel','C4','C4',4.45649262775163219202e-03,30);
INSERT INTO "synchrony_results" VALUES(42,1,1,'true',1,2,'aec_theta@MOI','eeg','channel','C4','C4',6.72806604224232690514e-02,1);
INSERT INTO "synchrony_results" VALUES(43,1,1,'true',1,2,'aec_theta@MONI','eeg','channel','C4','C4',-1.80444946496240050948e-02,1);
INSERT INTO "synchrony_results" VALUES(44,1,1,'true',1,2,'aec_theta@rest','eeg','channel','C4','C4',6.78769854154643581534e-02,4);
INSERT INTO "synchrony_results" VALUES(45,1,1,'true',1,2,'aec_theta','eeg','channel','O1','O1',-2.80458220497699674267e-02,30);
INSERT INTO "synchrony_results" VALUES(46,1,1,'true',1,2,'aec_theta@MOI','eeg','channel','O1','O1',-4.00672578004750076785e-02,1);
INSERT INTO "synchrony_results" VALUES(47,1,1,'true',1,2,'aec_theta@MONI','eeg','channel','O1','O1',9.86949856353984411594e-02,1);
INSERT INTO "synchrony_results" VALUES(48,1,1,'true',1,2,'aec_theta@rest','eeg','channel','O1','O1',-1.48349012133978913619e-01,4);
INSERT INTO "synchrony_results" VALUES(49,1,1,'true',1,2,'aec_theta','eeg','channel','O2','O2',-5.48751770612985589198e-03,30);
INSERT INTO "synchrony_results" VALUES(50,1,1,'true',1,2,'aec_theta@MOI','eeg','channel','O2','O2',2.54995478231383604361e-02,1);
INSERT INTO "synchrony_results" VALUES(51,1,1,'true',1,2,'aec_theta@MONI','eeg','channel','O2','O2',-5.39616083985901134889e-02,1);
INSERT INTO "synchrony_results" VALUES(52,1,1,'true',1,2,'aec_theta@rest','eeg','channel','O2','O2',1.02035120552466593291e-01,4);
INSERT INTO "synchrony_results" VALUES(53,1,1,'true',1,2,'aec_theta','eeg','session','all','all',9.1322127199147066362e-03,30);
INSERT INTO "synchrony_results" VALUES(54,1,1,'true',1,2,'aec_theta@MOI','eeg','session','all','all',1.27859708440033175563e-02,1);
INSERT INTO "synchrony_results" VALUES(55,1,1,'true',1,2,'aec_theta@MONI','eeg','session','all','all',1.29905216235610704994e-03,1);
INSERT INTO "synchrony_results" VALUES(56,1,1,'true',1,2,'aec_theta@rest','eeg','session','all','all',0.0720119980451661,4);
INSERT INTO "synchrony_results" VALUES(57,1,1,'true',1,2,'plv_alpha','eeg','channel','F3','F3',0.949622079586476,30);
INSERT INTO "synchrony_results" VALUES(58,1,1,'true',1,2,'plv_alpha@MOI','eeg','channel','F3','F3',9.61735367079493363995e-01,1);
INSERT INTO "synchrony_results" VALUES(59,1,1,'true',1,2,'plv_alpha@MONI','eeg','channel','F3','F3',9.42606918239332403075e-01,1);
INSERT INTO "synchrony_results" VALUES(60,1,1,'true',1,2,'plv_alpha@rest','eeg','channel','F3','F3',0.96754804610694,4);
INSERT INTO "synchrony_results" VALUES(61,1,1,'true',1,2,'plv_alpha','eeg','channel','F4','F4',9.72287802962684577501e-01,30);
INSERT INTO "synchrony_results" VALUES(62,1,1,'true',1,2,'plv_alpha@MOI','eeg','channel','F4','F4',9.69654164496893899993e-01,1);
INSERT INTO "synchrony_results" VALUES(63,1,1,'true',1,2,'plv_alpha@MONI','eeg','channel','F4','F4',9.70050488858147152981e-01,1);
INSERT INTO "synchrony_results" VALUES(64,1,1,'true',1,2,'plv_alpha@rest','eeg','channel','F4','F4',9.82176225346803599691e-01,4);
INSERT INTO "synchrony_results" VALUES(65,1,1,'true',1,2,'plv_alpha','eeg','channel','C3','C3',0.955981006514216,30);
INSERT INTO "synchrony_results" VALUES(66,1,1,'true',1,2,'plv_alpha@MOI','eeg','channel','C3','C3',9.69016031680935197023e-01,1);
INSERT INTO "synchrony_results" VALUES(67,1,1,'true',1,2,'plv_alpha@MONI','eeg','channel','C3','C3',9.51990324456987169199e-01,1);
INSERT INTO "synchrony_results" VALUES(68,1,1,'true',1,2,'plv_alpha@rest','eeg','channel','C3','C3',0.955888826777427,4);
INSERT INTO "synchrony_results" VALUES(69,1,1,'true',1,2,'plv_alpha','eeg','channel','C4','C4',9.53858753845220230793e-01,30);
INSERT INTO "synchrony_results" VALUES(70,1,1,'true',1,2,'plv_alpha@MOI','eeg','channel','C4','C4',9.7073291328092947694e-01,1);
INSERT INTO "synchrony_results" VALUES(71,1,1,'true',1,2,'plv_alpha@MONI','eeg','channel','C4','C4',0.942925683985537,1);
INSERT INTO "synchrony_results" VALUES(72,1,1,'true',1,2,'plv_alpha@rest','eeg','channel','C4','C4',9.72458316188477334129e-01,4);
INSERT INTO "synchrony_results" VALUES(73,1,1,'true',1,2,'plv_alpha','eeg','channel','O1','O1',9.5747637099266191818e-01,30);
INSERT INTO "synchrony_results" VALUES(74,1,1,'true',1,2,'plv_alpha@MOI','eeg','channel','O1','O1',0.965000403031463,1);
INSERT INTO "synchrony_results" VALUES(75,1,1,'true',1,2,'plv_alpha@MONI','eeg','channel','O1','O1',9.51640226401700206615e-01,1);
INSERT INTO "synchrony_results" VALUES(76,1,1,'true',1,2,'plv_alpha@rest','eeg','channel','O1','O1',9.66158645727210885212e-01,4);
INSERT INTO "synchrony_results" VALUES(77,1,1,'true',1,2,'plv_alpha','eeg','channel','O2','O2',9.57302733698641383774e-01,30);
INSERT INTO "synchrony_results" VALUES(78,1,1,'true',1,2,'plv_alpha@MOI','eeg','channel','O2','O2',0.966403420293728,1);
INSERT INTO "synchrony_results" VALUES(79,1,1,'true',1,2,'plv_alpha@MONI','eeg','channel','O2','O2',9.50389822221439861671e-01,1);
INSERT INTO "synchrony_results" VALUES(80,1,1,'true',1,2,'plv_alpha@rest','eeg','channel','O2','O2',9.69656937463851620329e-01,4);
INSERT INTO "synchrony_results" VALUES(81,1,1,'true',1,2,'plv_alpha','eeg','session','all','all',9.57754791266650085113e-01,30);
INSERT INTO "synchrony_results" VALUES(82,1,1,'true',1,2,'plv_alpha@MOI','eeg','session','all','all',0.967090383310574,1);
INSERT INTO "synchrony_results" VALUES(83,1,1,'true',1,2,'plv_alpha@MONI','eeg','session','all','all',9.51600577360524169101e-01,1);
INSERT INTO "synchrony_results" VALUES(84,1,1,'true',1,2,'plv_alpha@rest','eeg','session','all','all',9.68981166268451654666e-01,4);
INSERT INTO "synchrony_results" VALUES(85,1,1,'true',1,2,'aec_alpha','eeg','channel','F3','F3',9.40942448166277922716e-01,30);
INSERT INTO "synchrony_results" VALUES(86,1,1,'true',1,2,'aec_alpha@MOI','eeg','channel','F3','F3',9.37656321237145373714e-01,1);
INSERT INTO "synchrony_results" VALUES(87,1,1,'true',1,2,'aec_alpha@MONI','eeg','channel','F3','F3',9.44497050768726476022e-01,1);
INSERT INTO "synchrony_results" VALUES(88,1,1,'true',1,2,'aec_alpha@rest','eeg','channel','F3','F3',9.48109338095644238464e-01,4);
INSERT INTO "synchrony_results" VALUES(89,1,1,'true',1,2,'aec_alpha','eeg','channel','F4','F4',0.969501501433472,30);
INSERT INTO "synchrony_results" VALUES(90,1,1,'true',1,2,'aec_alpha@MOI','eeg','channel','F4','F4',9.68522230248047066858e-01,1);
INSERT INTO "synchrony_results" VALUES(91,1,1,'true',1,2,'aec_alpha@MONI','eeg','channel','F4','F4',9.71285475491245775536e-01,1);
INSERT INTO "synchrony_results" VALUES(92,1,1,'true',1,2,'aec_alpha@rest','eeg','channel','F4','F4',9.59077670799706849535e-01,4);
INSERT INTO "synchrony_results" VALUES(93,1,1,'true',1,2,'aec_alpha','eeg','channel','C3','C3',9.44023685684103663895e-01,30);
INSERT INTO "synchrony_results" VALUES(94,1,1,'true',1,2,'aec_alpha@MOI','eeg','channel','C3','C3',9.35135486735707122107e-01,1);
INSERT INTO "synchrony_results" VALUES(95,1,1,'true',1,2,'aec_alpha@MONI','eeg','channel','C3','C3',9.54897751370823555383e-01,1);
INSERT INTO "synchrony_results" VALUES(96,1,1,'true',1,2,'aec_alpha@rest','eeg','channel','C3','C3',9.29370282502882227859e-01,4);
INSERT INTO "synchrony_results" VALUES(97,1,1,'true',1,2,'aec_alpha','eeg','channel','C4','C4',9.39831771950297212292e-01,30);
INSERT INTO "synchrony_results" VALUES(98,1,1,'true',1,2,'aec_alpha@MOI','eeg','channel','C4','C4',0.937337927163804,1);
INSERT INTO "synchrony_results" VALUES(99,1,1,'true',1,2,'aec_alpha@MONI','eeg','channel','C4','C4',9.46313557409772632134e-01,1);
INSERT INTO "synchrony_results" VALUES(100,1,1,'true',1,2,'aec_alpha@rest','eeg','channel','C4','C4',9.50568332206567112585e-01,4);
INSERT INTO "synchrony_results" VALUES(101,1,1,'true',1,2,'aec_alpha','eeg','channel','O1','O1',9.44530479912311538015e-01,30);
INSERT INTO "synchrony_results" VALUES(102,1,1,'true',1,2,'aec_alpha@MOI','eeg','channel','O1','O1',9.49320631965585692846e-01,1);
INSERT INTO "synchrony_results" VALUES(103,1,1,'true',1,2,'aec_alpha@MONI','eeg','channel','O1','O1',9.33929528529400365677e-01,1);
INSERT INTO "synchrony_results" VALUES(104,1,1,'true',1,2,'aec_alpha@rest','eeg','channel','O1','O1',9.56523347523350109256e-01,4);
INSERT INTO "synchrony_results" VALUES(105,1,1,'true',1,2,'aec_alpha','eeg','channel','O2','O2',0.947809671782346,30);
INSERT INTO "synchrony_results" VALUES(106,1,1,'true',1,2,'aec_alpha@MOI','eeg','channel','O2','O2',9.45674808164215674466e-01,1);
INSERT INTO "synchrony_results" VALUES(107,1,1,'true',1,2,'aec_alpha@MONI','eeg','channel','O2','O2',9.54396012152619266366e-01,1);
INSERT INTO "synchrony_results" VALUES(108,1,1,'true',1,2,'aec_alpha@rest','eeg','channel','O2','O2',9.50148573054622191946e-01,4);
INSERT INTO "synchrony_results" VALUES(109,1,1,'true',1,2,'aec_alpha','eeg','session','all','all',0.947773259821468,30);
INSERT INTO "synchrony_results" VALUES(110,1,1,'true',1,2,'aec_alpha@MOI','eeg','session','all','all',9.45607900919084198854e-01,1);
INSERT INTO "synchrony_results" VALUES(111,1,1,'true',1,2,'aec_alpha@MONI','eeg','session','all','all',9.50886562620431696757e-01,1);
INSERT INTO "synchrony_results" VALUES(112,1,1,'true',1,2,'aec_alpha@rest','eeg','session','all','all',9.48966257363795473445e-01,4);
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
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('audit_log',10);
COMMIT;
