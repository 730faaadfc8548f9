"""studymgr.present.text: the plain-text views the command line prints (pure functions), and
studymgr.runs.models.select_models which narrows a models run for them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studymgr.errors import NotFoundError
from studymgr.present import text


def test_render_table_aligns_numbers_right_and_text_left():
    frame = pd.DataFrame({"name": ["a", "bbb"], "n": [1, 100], "x": [0.123456, np.nan],
                          "ok": [True, False]})
    assert text.render_table(frame).splitlines() == [
        "name    n       x  ok",
        "----  ---  ------  ---",
        "a       1  0.1235  yes",
        "bbb   100          no",
    ]


def test_records_are_plain_python_with_none_for_missing():
    frame = pd.DataFrame({"a": [np.int64(1), np.int64(2)], "b": [np.nan, "x"]})
    rows = text.records(frame)
    assert rows == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]
    assert type(rows[0]["a"]) is int
    json.dumps(rows)


def _status_rows():
    return pd.DataFrame([
        {"dyad": "D01", "therapist": "T01", "patient": "P01", "session": 1, "kind": "therapy",
         "scanned": True, "attended": True, "locked": True, "mark_eeg": "E"},
        {"dyad": "D01", "therapist": "T01", "patient": "P01", "session": 2, "kind": "therapy",
         "scanned": False, "attended": False, "locked": False, "mark_eeg": None},
        {"dyad": "D02", "therapist": "T01", "patient": "P02", "session": 1,
         "kind": "interview", "scanned": True, "attended": True, "locked": False,
         "mark_eeg": None},
    ])


def test_status_grid_and_text():
    grid = text.status_grid(_status_rows())
    assert list(grid.columns) == ["dyad", "therapist", "patient", "1", "2"]
    assert grid.set_index("dyad").loc["D01", ["1", "2"]].tolist() == ["T*L E", "Tx"]
    assert grid.set_index("dyad").loc["D02", ["1", "2"]].tolist() == ["I*", ""]
    summary = {"study": "s", "schema_version": 4, "dyads": 2, "therapists": 1, "patients": 2,
               "sessions": 3, "locked": 1}
    shown = text.status_text(summary, _status_rows(), ["E: EEG recorded"]).splitlines()
    assert shown[0] == ("Study 's' (schema v4): 2 dyads, 1 therapists, 2 patients, 3 sessions "
                        "(1 locked)")
    assert shown[-1] == "E: EEG recorded" and shown[-2].startswith("Cells: T therapy")
    empty = text.status_text(summary, _status_rows().iloc[:0], ["never shown"])
    assert empty.splitlines()[1].startswith("No dyads yet") and "never shown" not in empty


def test_audit_views():
    frame = pd.DataFrame([
        {"id": 2, "at": "t2", "user": "u", "action": "update", "entity": "session",
         "entity_key": "D01/1", "old": json.dumps({"date": "a"}),
         "new": json.dumps({"date": "b"}), "reason": "typo"},
        {"id": 1, "at": "t1", "user": "u", "action": "insert", "entity": "dyad",
         "entity_key": "D01", "old": None, "new": json.dumps({"patient": "P01"}),
         "reason": None},
    ])
    changes = text.audit_changes(frame)
    assert changes["change"].tolist() == ["date=a -> date=b", "patient=P01"]
    assert "old" not in changes.columns
    decoded = text.audit_decoded(frame)
    assert decoded["old"].tolist() == [{"date": "a"}, None]
    assert isinstance(frame["old"].iloc[0], str)  # the input is not changed


def test_shown_checks_cuts_long_lists_of_one_problem():
    rows = [{"check": "scores", "status": "ok", "where": "", "detail": ""}]
    rows += [{"check": "files", "status": "problem", "where": f"f{i}", "detail": "bad"}
             for i in range(5)]
    shown = text.shown_checks(pd.DataFrame(rows), max_shown=2)
    files = shown[shown["check"] == "files"]
    assert files["where"].tolist() == ["f0", "f1", ""]
    assert files["detail"].iloc[-1] == "... and 3 more (--json lists all)"
    assert len(text.shown_checks(pd.DataFrame(rows))) == 6


def test_describe_recording_nirs_and_eeg():
    base = {"format": "snirf", "n_channels": 16, "sfreq": 10.0, "duration_s": 300.0,
            "n_events": 2}
    nirs = {**base, "usable_share": 0.75, "sci_threshold": 0.5, "cardiac": "weak",
            "cardiac_hz": 1.1, "cardiac_db": 2.0}
    assert text.describe_recording(nirs) == (
        "snirf, 16 channels at 10 Hz, 300.0 s; usable 75% (SCI >= 0.5); cardiac peak 1.10 Hz "
        "(+2.0 dB, too weak); 2 events")
    eeg = {**base, "format": "edf", "modality": "eeg", "usable_share": 1.0,
           "line_noise_hz": None, "alpha_hz": 10.0}
    assert text.describe_recording(eeg) == (
        "edf, 16 channels at 10 Hz, 300.0 s; usable 100% (not flat or saturated); line noise "
        "n/a; alpha peak 10.0 Hz; 2 events")


def test_agreement_views():
    result = {"moments": pd.DataFrame({"onset_s": [1.0]}), "summary": pd.DataFrame(),
              "config": {"bin_s": 30.0}, "outcome": "stored", "n_stored": 1, "n_removed": 2}
    assert text.agreement_outcome(result) == ("Stored 1 consensus moment(s) (replacing 2); "
                                              "kappa: Fleiss' kappa over 30-s bins")
    data = text.agreement_json(result)
    assert data["moments"] == [{"onset_s": 1.0}] and data["n_removed"] == 2


def _results():
    fits = pd.DataFrame({"model": ["growth", "outcome:symptoms"], "status": ["ok", "failed"]})
    terms = pd.DataFrame({"model": ["growth", "growth"], "term": ["Intercept", "session"]})
    return {"run": pd.DataFrame({"run_id": [1]}), "fits": fits, "terms": terms,
            "random": pd.DataFrame({"model": ["growth"]}), "roi": pd.DataFrame({"model": []}),
            "constructs": pd.DataFrame()}


def test_select_models():
    from studymgr.runs.models import select_models

    res = _results()
    assert select_models(res, []) == res
    one = select_models(res, ["growth"])
    assert one["fits"]["model"].tolist() == ["growth"] and len(one["terms"]) == 2
    assert len(res["fits"]) == 2  # the input is not changed
    with pytest.raises(NotFoundError, match="no model 'nope'.*models: growth, outcome"):
        select_models(res, ["nope"])
    empty = {**res, "run": res["run"].iloc[:0]}
    assert select_models(empty, ["nope"]) == empty


def test_models_json_without_a_run():
    res = {**_results(), "run": pd.DataFrame()}
    assert text.models_json(res) == {"run": None, "constructs": [], "models": [], "roi": []}
