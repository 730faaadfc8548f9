"""The analysis table (pure): hand-made tidy frames -> the table, checked value by value.

Every expected number below is worked out by hand from the input frames written next to it
(means of two or three values, the chosen instrument's score); nothing is computed by the code
under test to produce an expectation.
"""

from __future__ import annotations

import hashlib
import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studymgr.compute.models.table import (
    BASE_COLUMNS,
    ModelConfig,
    build_analysis_table,
    roi_column,
    table_csv,
)
from studymgr.errors import InputError

NAN = float("nan")


def sessions_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "dyad": ["D02", "D01", "D01", "D03"],
        "session": [1, 1, 2, 1],
        "date": [None] * 4,
        "kind": ["therapy", "therapy", "therapy", "interview"],
        "scanned": [True] * 4, "attended": [True] * 4, "locked": [False] * 4,
    })


def sync_rows() -> pd.DataFrame:
    rows = [
        # dyad, session, pair, chromophore, level, t_unit, p_unit, value, config_hash
        ("D01", 1, "true", "hbo", "session", "all", "all", 0.50, "h1"),
        ("D01", 1, "pseudo", "hbo", "session", "all", "all", 0.20, "h1"),
        ("D01", 1, "pseudo", "hbo", "session", "all", "all", 0.40, "h1"),
        ("D01", 1, "pseudo", "hbo", "session", "all", "all", None, "h1"),  # not counted
        ("D01", 1, "true", "hbr", "session", "all", "all", 0.90, "h1"),  # other chromophore
        ("D01", 2, "true", "hbo", "session", "all", "all", 0.60, "h1"),
        ("D02", 1, "true", "hbo", "session", "all", "all", 0.30, "h1"),
        ("D02", 1, "pseudo", "hbo", "session", "all", "all", 0.10, "h1"),
        ("D02", 1, "pseudo", "hbo", "session", "all", "all", 0.20, "h1"),
        ("D02", 1, "pseudo", "hbo", "session", "all", "all", 0.30, "h1"),
        # ROI pairs: homologous lPFC-lPFC, cross lPFC-rTPJ
        ("D01", 1, "true", "hbo", "roi", "lPFC", "lPFC", 0.55, "h1"),
        ("D01", 1, "pseudo", "hbo", "roi", "lPFC", "lPFC", 0.25, "h1"),
        ("D01", 1, "pseudo", "hbo", "roi", "lPFC", "lPFC", 0.35, "h1"),
        ("D01", 1, "true", "hbo", "roi", "lPFC", "rTPJ", 0.45, "h1"),
        ("D02", 1, "true", "hbo", "roi", "lPFC", "lPFC", 0.15, "h1"),
    ]
    return pd.DataFrame(rows, columns=["dyad", "session", "pair", "chromophore", "level",
                                       "therapist_unit", "patient_unit", "value", "config_hash"])


def score(dyad, session, role, timing, instrument, construct, scale, value,
          primary=True, version="1"):
    return {"dyad": dyad, "session": session, "role": role, "timing": timing,
            "instrument": instrument, "version": version, "construct": construct,
            "scale": scale, "value": value, "n_answered": 1, "n_items": 1, "prorated": False,
            "band": None, "primary": primary}


def scores_frame() -> pd.DataFrame:
    rows = [
        # symptoms: gad7 (3 responses) beats sta (1 response) at patient/pre
        score("D01", 1, "patient", "pre", "gad7", "symptoms", "total", 10.0),
        score("D01", 2, "patient", "pre", "gad7", "symptoms", "total", 8.0),
        score("D02", 1, "patient", "pre", "gad7", "symptoms", "total", NAN),  # unscorable
        score("D01", 1, "patient", "pre", "sta", "symptoms", "total", 30.0),
        score("D01", 1, "therapist", "pre", "gad7", "symptoms", "total", 2.0),  # other rater
        score("D01", 1, "patient", "post", "gad7", "symptoms", "total", 9.0),  # other timing
        # wellbeing: primary scale "percentage", a second scale "raw"
        score("D01", 1, "patient", "pre", "who5", "wellbeing", "percentage", 40.0),
        score("D01", 1, "patient", "pre", "who5", "wellbeing", "raw", 10.0, primary=False),
        score("D03", 1, "patient", "pre", "who5", "wellbeing", "percentage", 64.0),
        score("D03", 1, "patient", "pre", "who5", "wellbeing", "raw", 16.0, primary=False),
        # session quality after the session; a pre-session one must be ignored
        score("D02", 1, "patient", "post", "srs", "session_quality", "total", 33.5),
        score("D02", 1, "patient", "pre", "srs", "session_quality", "total", 1.0),
        # a session outside the table (no such session row) is ignored
        score("D09", 1, "patient", "post", "srs", "session_quality", "total", 5.0),
    ]
    return pd.DataFrame(rows)


def build(config=None, sessions=None, sync=None, scores=None):
    return build_analysis_table(sessions_frame() if sessions is None else sessions,
                                sync_rows() if sync is None else sync,
                                scores_frame() if scores is None else scores, config)


def test_table_values_by_hand():
    """Rows, synchrony (true, pseudo means, counts), constructs and ROI columns by hand."""
    table = build()
    f = table.frame
    assert list(f.columns) == BASE_COLUMNS + [
        "synchrony.lPFC.lPFC", "synchrony_pseudo.lPFC.lPFC",
        "synchrony.lPFC.rTPJ", "synchrony_pseudo.lPFC.rTPJ"]
    assert list(zip(f["dyad"], f["session"], f["kind"], strict=True)) == [
        ("D01", 1, "therapy"), ("D01", 2, "therapy"), ("D02", 1, "therapy"),
        ("D03", 1, "interview")]
    expected = {
        # synchrony, pseudo mean, n_pseudo, symptoms, wellbeing, alliance, session_quality
        ("D01", 1): (0.50, (0.20 + 0.40) / 2, 2, 10.0, 40.0, NAN, NAN),
        ("D01", 2): (0.60, NAN, 0, 8.0, NAN, NAN, NAN),
        ("D02", 1): (0.30, (0.10 + 0.20 + 0.30) / 3, 3, NAN, NAN, NAN, 33.5),
        ("D03", 1): (NAN, NAN, 0, NAN, 64.0, NAN, NAN),
    }
    cols = ["synchrony", "synchrony_pseudo", "n_pseudo", "symptoms", "wellbeing", "alliance",
            "session_quality"]
    for row in f.itertuples(index=False):
        got = tuple(getattr(row, c) for c in cols)
        want = expected[(row.dyad, row.session)]
        for g, w, c in zip(got, want, cols, strict=True):
            assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, abs=1e-15), (
                row.dyad, row.session, c, g, w)
    assert f["n_pseudo"].dtype == np.int64 and f["session"].dtype == np.int64
    # ROI pairs: true value, pseudo mean (0.25 + 0.35) / 2, missing where absent
    np.testing.assert_allclose(f["synchrony.lPFC.lPFC"], [0.55, NAN, 0.15, NAN])
    np.testing.assert_allclose(f["synchrony_pseudo.lPFC.lPFC"], [0.30, NAN, NAN, NAN])
    np.testing.assert_allclose(f["synchrony.lPFC.rTPJ"], [0.45, NAN, NAN, NAN])
    assert f["synchrony_pseudo.lPFC.rTPJ"].isna().all()
    assert table.roi_pairs == {"synchrony.lPFC.lPFC": ("lPFC", "lPFC"),
                               "synchrony.lPFC.rTPJ": ("lPFC", "rTPJ")}
    assert table.synchrony_config_hashes == ["h1"]
    assert table.available == {"synchrony": True, "synchrony_pseudo": True, "symptoms": True,
                               "wellbeing": True, "alliance": False, "session_quality": True}


def test_construct_selection_rules_and_notes():
    """Defaults: patient-rated; pre for symptoms/wellbeing, post for the others; primary scale;
    the instrument with most responses when several compete (said in the notes)."""
    table = build()
    src = table.sources
    assert src["symptoms"] == {"instrument": "gad7", "version": "1", "scale": "total",
                               "role": "patient", "timing": "pre", "n_responses": 2,
                               "n_in_table": 2, "chosen": "most responses"}
    assert src["wellbeing"]["scale"] == "percentage" and src["wellbeing"]["chosen"] == "default"
    assert src["session_quality"]["timing"] == "post"
    assert src["alliance"] is None
    notes = " | ".join(table.notes)
    assert "used gad7@1 with the most responses (3) rather than sta@1 (1)" in notes
    assert "no alliance measure entered (patient-rated, post-session)" in notes


def test_configured_instrument_scale_role_timing():
    """A configured instrument, scale, role and timing replace the defaults."""
    cfg = {"constructs": {"symptoms": "sta",
                          "wellbeing": {"instrument": "who5", "scale": "raw"},
                          "alliance": {"instrument": "gad7", "role": "therapist",
                                       "timing": "pre"},
                          "session_quality": {"timing": "pre"}}}
    f = build(cfg).frame.set_index(["dyad", "session"])
    assert f.loc[("D01", 1), "symptoms"] == 30.0 and np.isnan(f.loc[("D01", 2), "symptoms"])
    assert f.loc[("D01", 1), "wellbeing"] == 10.0 and f.loc[("D03", 1), "wellbeing"] == 16.0
    # any instrument may stand for a construct when named (here a therapist's gad7)
    assert f.loc[("D01", 1), "alliance"] == 2.0
    assert f.loc[("D02", 1), "session_quality"] == 1.0


def test_respondent_key_is_read_as_role_with_a_deprecation_warning():
    """``respondent`` (a source key's name before schema v4) is read as ``role`` for one release;
    written configurations say ``role``."""
    with pytest.warns(DeprecationWarning, match="'respondent' of alliance is now 'role'"):
        old = ModelConfig.from_dict({"constructs": {"alliance": {"instrument": "gad7",
                                                                 "respondent": "therapist"}}})
    assert old == ModelConfig.from_dict({"constructs": {"alliance": {"instrument": "gad7",
                                                                     "role": "therapist"}}})
    assert old.to_dict()["constructs"]["alliance"]["role"] == "therapist"
    assert "respondent" not in old.to_dict()["constructs"]["alliance"]
    with pytest.warns(DeprecationWarning, match="ConstructSource.role"):
        assert old.constructs["alliance"].respondent == "therapist"
    with pytest.warns(DeprecationWarning), pytest.raises(InputError, match="disagree"):
        ModelConfig.from_dict({"constructs": {"alliance": {"role": "patient",
                                                           "respondent": "therapist"}}})


def test_tie_broken_alphabetically():
    """Two instruments with equally many responses: the alphabetically first is used."""
    scores = pd.DataFrame([
        score("D01", 1, "patient", "pre", "zeta", "symptoms", "total", 1.0),
        score("D01", 1, "patient", "pre", "alpha", "symptoms", "total", 2.0),
    ])
    table = build(scores=scores)
    assert table.sources["symptoms"]["instrument"] == "alpha"
    assert table.frame.loc[0, "symptoms"] == 2.0


@pytest.mark.parametrize("cfg, message", [
    ({"constructs": {"mood": "gad7"}}, "unknown construct 'mood'"),
    ({"constructs": {"symptoms": "nope"}}, "instrument 'nope' has no scores"),
    ({"constructs": {"symptoms": {"instrument": "gad7", "scale": "sum"}}},
     "has no scale 'sum' (scales: total)"),
    ({"constructs": {"symptoms": {"instrument": "gad7", "timing": "post",
                                  "role": "therapist"}}},
     "no therapist-rated, post-session scores (stored as role/timing: patient/post, "
     "patient/pre, therapist/pre)"),
    ({"constructs": {"symptoms": "gad7@9"}}, "no scores of version 9"),
    ({"constructs": {"symptoms": {"instrument": "gad7", "when": "pre"}}}, "unknown key(s) 'when'"),
    ({"constructs": {"symptoms": {"timing": "during"}}}, "invalid timing of symptoms"),
    ({"chromophore": "oxy"}, "invalid chromophore 'oxy'"),
    ({"lag": 0}, "lag must be a whole number of sessions >= 1"),
    ({"lag": True}, "lag must be"),
    ({"kinds": "therapy"}, "kinds must be a non-empty list"),
    ({"roi_pairs": "some"}, "invalid roi_pairs"),
    ({"colour": "red"}, "unknown model setting(s) 'colour'"),
    (["chromophore"], "must be a JSON object"),
])
def test_bad_configuration(cfg, message):
    with pytest.raises(InputError) as err:
        build(cfg)
    assert message in str(err.value)


def test_several_versions_need_a_version():
    """A bare instrument name with scores of two versions is ambiguous; name@version is not."""
    scores = pd.DataFrame([
        score("D01", 1, "patient", "pre", "gad7", "symptoms", "total", 5.0, version="2006"),
        score("D01", 2, "patient", "pre", "gad7", "symptoms", "total", 7.0, version="2020"),
    ])
    with pytest.raises(InputError, match="several versions .*2006, 2020.*gad7@VERSION"):
        build({"constructs": {"symptoms": "gad7"}}, scores=scores)
    f = build({"constructs": {"symptoms": "gad7@2020"}}, scores=scores).frame
    assert f["symptoms"].tolist()[:2] == [pytest.approx(NAN, nan_ok=True), 7.0]


def test_chromophore_kinds_and_roi_pairs_filters():
    """HbR picks the HbR rows only; kinds restricts the rows; homologous drops cross pairs."""
    table = build({"chromophore": "hbr", "kinds": ["therapy"], "roi_pairs": "homologous"})
    f = table.frame
    assert list(f["dyad"]) == ["D01", "D01", "D02"]
    np.testing.assert_allclose(f["synchrony"], [0.90, NAN, NAN])
    assert list(f.columns) == BASE_COLUMNS  # no HbR ROI rows exist
    homologous = build({"roi_pairs": "homologous"})
    assert list(homologous.roi_pairs) == ["synchrony.lPFC.lPFC"]


def test_absent_data_and_notes():
    """No synchrony, no scores, no sessions: empty columns and plain notes, no error."""
    empty_sync = pd.DataFrame(columns=sync_rows().columns)
    table = build(sync=empty_sync, scores=pd.DataFrame())
    assert table.frame["synchrony"].isna().all() and (table.frame["n_pseudo"] == 0).all()
    assert not any(table.available.values())
    assert table.sources == dict.fromkeys(["symptoms", "wellbeing", "alliance",
                                           "session_quality"])
    only_hbr = sync_rows().assign(chromophore="hbr")
    assert any("no hbo synchrony is stored (only hbr)" in n for n in build(sync=only_hbr).notes)
    mixed = sync_rows()
    mixed.loc[0, "config_hash"] = "h2"
    assert any("2 different synchrony configurations" in n for n in build(sync=mixed).notes)
    none = build(sessions=sessions_frame().iloc[0:0])
    assert none.frame.empty and any("no sessions" in n for n in none.notes)


def test_canonical_csv_round_trips_and_hash():
    """The CSV reads back to the same values (round-trip floats); the hash is its sha256."""
    table = build()
    text = table.to_csv()
    assert text.splitlines()[0].startswith("dyad,session,kind,synchrony,synchrony_pseudo")
    assert "\r" not in text and not text.startswith("#")
    assert table.sha256 == hashlib.sha256(text.encode()).hexdigest()
    back = pd.read_csv(io.StringIO(text))  # exact float parsing by default in pandas >= 3
    pd.testing.assert_frame_equal(back, table.frame, check_dtype=False)
    assert table_csv(back) == text  # re-exporting what was read gives the same bytes


def test_config_round_trip():
    cfg = ModelConfig.from_dict({"chromophore": "hbr", "lag": 2, "kinds": ["therapy"],
                                 "constructs": {"alliance": {"instrument": "wai-sr@2006",
                                                             "scale": "total"}}})
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.with_instruments({"symptoms": "gad7"}).constructs["symptoms"].instrument == "gad7"
    with pytest.raises(InputError, match="unknown construct 'mood'"):
        cfg.with_instruments({"mood": "gad7"})


def test_roi_column_names():
    assert roi_column("lPFC", "rTPJ") == "synchrony.lPFC.rTPJ"
    assert roi_column("lPFC", "rTPJ", pseudo=True) == "synchrony_pseudo.lPFC.rTPJ"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=0, max_size=6),
       st.floats(0, 1))
def test_pseudo_mean_property(pseudo_values, true_value):
    """Pseudo synchrony = the plain mean of the non-missing pseudo values (numpy as reference);
    n_pseudo counts them; the true value passes through unchanged."""
    rows = [("D01", 1, "true", "hbo", "session", "all", "all", true_value, "h")]
    rows += [("D01", 1, "pseudo", "hbo", "session", "all", "all", v, "h")
             for v in pseudo_values]
    sync = pd.DataFrame(rows, columns=sync_rows().columns)
    f = build(sync=sync, scores=pd.DataFrame()).frame.set_index(["dyad", "session"])
    present = [v for v in pseudo_values if v is not None]
    assert f.loc[("D01", 1), "synchrony"] == true_value
    assert f.loc[("D01", 1), "n_pseudo"] == len(present)
    got = f.loc[("D01", 1), "synchrony_pseudo"]
    if present:
        assert got == pytest.approx(float(np.mean(present)), rel=1e-12, abs=1e-15)
    else:
        assert np.isnan(got)
