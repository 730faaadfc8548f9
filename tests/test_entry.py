"""Questionnaire entry, import, amendments, read-back and reliability through the Python API.

What the tests compare with:
- stored scores are compared with ``Instrument.score`` of the pure module, whose own tests check
  it against hand-computed examples; a few end-to-end values are computed by hand below;
- stored item values are compared with the values written into the CSV / given to the API;
- Cronbach's alpha is compared with the textbook formula k/(k-1) (1 - sum var_i / var_total)
  computed here with numpy on the same item matrix;
- the audit rows of an amendment are compared with the values entered before it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from studymgr import ConflictError, InputError, NotFoundError
from studymgr.compute.instruments import builtin_instruments
from studymgr.runs import entry

BUILTIN = builtin_instruments()
#: Instrument and timing of the generated batteries (one response per session each).
PLAN = [("gad7", "pre"), ("who5", "pre"), ("ors", "pre"), ("wai-sr", "post"), ("srs", "post")]


# --------------------------------------------------------------------------------------------
# Helpers shared with test_scores_cli.py
# --------------------------------------------------------------------------------------------


def random_values(inst, rng: np.random.Generator, p_missing: float = 0.05) -> list[str]:
    """Allowed values (as text) for every item, with some missing codes."""
    out = []
    for item in inst.items:
        if rng.random() < p_missing:
            out.append(str(rng.choice(["NA", "REF", "NR", ""])))
        else:
            allowed = item.allowed_values()
            out.append(str(allowed[rng.integers(len(allowed))]))
    return out


def make_rows(n_dyads: int, n_sessions: int, seed: int = 0) -> list[dict[str, str]]:
    """One response per PLAN entry, dyad and session: dicts with key columns and i1..i12."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(1, n_dyads + 1):
        for s in range(1, n_sessions + 1):
            for name, timing in PLAN:
                values = random_values(BUILTIN[name], rng)
                row = {"dyad": f"D{d:02d}", "session": str(s), "role": "patient",
                       "timing": timing, "instrument": name}
                row.update({f"i{k}": v for k, v in enumerate(values, start=1)})
                rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",",
              columns: list[str] | None = None) -> Path:
    if columns is None:
        columns = ["dyad", "session", "role", "timing", "instrument"] + [
            f"i{k}" for k in range(1, 13)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, delimiter=delimiter, restval="",
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def add_sessions(study, n_dyads: int, n_sessions: int) -> None:
    with study.transaction():
        for d in range(1, n_dyads + 1):
            study.add_dyad(f"D{d:02d}", therapist="T01", patient=f"P{d:02d}")
            for s in range(1, n_sessions + 1):
                study.add_session(f"D{d:02d}", s)


def expected_scores(row: dict[str, str]) -> dict[str, float | None]:
    """Scale -> score of a generated row, by the pure module."""
    inst = BUILTIN[row["instrument"]]
    values = [row[f"i{k}"] for k in range(1, len(inst.items) + 1)]
    return {s.scale: s.value for s in inst.score(values)}


def table_count(study, table: str) -> int:
    return study.db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and not (isinstance(b, float) and math.isnan(b)) and \
        math.isclose(a, b, rel_tol=0, abs_tol=1e-9)


# --------------------------------------------------------------------------------------------
# Entry
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_entry_of_every_builtin_stores_the_pure_scores(small_study, name):
    """Every built-in: stored scores = Instrument.score, stored items = the values given."""
    inst = BUILTIN[name]
    rng = np.random.default_rng(7)
    values = random_values(inst, rng, p_missing=0.0)
    values[0] = "REF" if "REF" in inst.missing_codes else values[0]
    frame = entry.enter_response(small_study, "D01", 2, name, role=inst.roles[0],
                                 timing=inst.timings[-1], items=values)
    expected = inst.score(values)
    stored = small_study.scores(dyad="D01", instrument=name)
    assert list(stored["scale"]) == [s.scale for s in expected]
    for got, want in zip(stored.itertuples(), expected, strict=True):
        assert _same(got.value, want.value) and got.band == want.band
        assert (got.n_answered, got.n_items, bool(got.prorated)) == (
            want.n_answered, want.n_items, want.prorated)
    assert frame.equals(stored.reset_index(drop=True))
    assert list(stored["primary"]) == [s.scale == inst.primary for s in expected]
    items = small_study.items(dyad="D01", instrument=name)
    assert list(items["item"]) == list(inst.item_ids)
    assert items["missing"].iloc[0] == ("REF" if "REF" in inst.missing_codes else None)
    for got, raw in zip(items.itertuples(), values, strict=True):
        if raw == "REF":
            assert math.isnan(got.value)
        else:
            assert got.value == pytest.approx(float(raw), abs=1e-12)


def test_hand_computed_end_to_end_scores(small_study):
    """Scores worked out by hand from the published keys (see schemas/instruments)."""
    s = small_study
    gad = entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                               items="3,2,1,0,3,2,1")
    assert gad[["scale", "value", "band"]].values.tolist() == [["total", 12.0, "moderate"]]
    # WHO-5: raw 3+4+5+2+3 = 17 (13-25: no indication), percentage 17*4 = 68.
    who = entry.enter_response(s, "D01", 2, "who5", role="patient", timing="pre",
                               items=[3, 4, 5, 2, 3])
    assert who["value"].tolist() == [17.0, 68.0]
    assert who["band"].tolist() == ["no indication of poor wellbeing"] * 2
    # WAI-SR with item 4 missing: task 1,2,10,12 = 4+5+4+5 = 18; bond 3,5,7,9 = 4+5+4+3 = 16;
    # goal 4,6,8,11 = (4+5+4) * 4/3 = 17.333...; total = 47 * 12/11 = 51.2727...
    wai = entry.enter_response(s, "D01", 2, "wai-sr", role="patient",
                               items="4,5,4,NA,5,4,4,5,3,4,4,5")
    assert wai["timing"].iloc[0] == "post"  # its only timing is the default
    got = dict(zip(wai["scale"], wai["value"], strict=True))
    assert got["task"] == 18 and got["bond"] == 16
    assert got["goal"] == pytest.approx(52 / 3) and got["total"] == pytest.approx(564 / 11)
    assert wai.set_index("scale").loc["goal", "prorated"]
    assert not wai.set_index("scale").loc["task", "prorated"]
    # ORS: 7.5 + 6.2 + 8.0 + 5.3 = 27.0 (tenths of a centimetre).
    ors = entry.enter_response(s, "D01", 3, "ors", role="patient", timing="post",
                               items={"1": "7.5", "2": "6.2", "3": "8.0", "4": "5.3"})
    assert ors["value"].tolist() == [pytest.approx(27.0)]
    # State test anxiety: mean of 5 answered items (4+5+3+6+2)/5 = 4.0; one NR kept apart.
    sta = entry.enter_response(s, "D01", 3, "state-test-anxiety", role="patient",
                               timing="pre", items=["4", "5", "NR", "3", "6", "2"])
    assert sta["value"].tolist() == [4.0] and sta["n_answered"].tolist() == [5]
    items = s.items(instrument="state-test-anxiety")
    assert items.loc[items["item"] == "3", "missing"].tolist() == ["NR"]


def test_builtins_are_stored_on_first_use_with_their_hash(small_study):
    """Built-ins enter the instruments table when first used, once, with the shipped hash."""
    s = small_study
    assert table_count(s, "instruments") == 0
    listed = s.instruments()
    assert set(listed["name"]) == set(BUILTIN) and not listed["stored"].any()
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                         items="0,0,0,0,0,0,0")
    entry.enter_response(s, "D01", 3, "gad7", role="patient", timing="pre",
                         items="1,1,1,1,1,1,1")
    rows = s.db.conn.execute("SELECT name, version, content_hash, source FROM instruments"
                             ).fetchall()
    assert rows == [("gad7", "2006", BUILTIN["gad7"].content_hash, "builtin")]
    log = s.audit(limit=None)
    assert (log["entity"] == "instrument").sum() == 1
    listed = s.instruments().set_index("name")
    assert listed.loc["gad7", "stored"] and listed.loc["gad7", "responses"] == 2
    assert listed.loc["gad7", "hash"] == BUILTIN["gad7"].content_hash[:12]


MOOD = {
    "name": "mood_check", "version": "0.1", "title": "Study-specific mood check",
    "construct": "other", "roles": ["patient", "therapist"], "timings": ["pre"],
    "items": [{"id": "a1", "min": 1, "max": 5}, {"id": "a2", "min": 1, "max": 5, "reverse": True},
              {"id": "a3", "min": 1, "max": 5}],
    "scales": [{"id": "total", "items": ["a1", "a2", "a3"], "method": "sum"}],
    "primary": "total",
}


def test_user_instrument_add_is_idempotent_and_immutable(small_study, tmp_path):
    """Same definition again: no-op; changed under the same version: refused; new version: ok."""
    s = small_study
    path = tmp_path / "mood.json"
    path.write_text(json.dumps(MOOD))
    info = s.add_instrument(path)
    assert info["added"] and info["source"] == "user"
    n_audit = len(s.audit(limit=None))
    again = s.add_instrument(path)
    assert not again["added"] and len(s.audit(limit=None)) == n_audit
    changed = {**MOOD, "items": [*MOOD["items"][:2], {"id": "a3", "min": 0, "max": 5}]}
    with pytest.raises(ConflictError, match='new "version"'):
        s.add_instrument(changed)
    with pytest.raises(ConflictError, match="built-in instrument with a different definition"):
        s.add_instrument({**json.loads(json.dumps(BUILTIN["gad7"].definition)), "title": "x"})
    assert s.add_instrument({**changed, "version": "0.2"})["added"]
    # the built-in definition itself is accepted as the built-in
    assert s.add_instrument(BUILTIN["ors"].definition)["source"] == "builtin"
    with pytest.raises(InputError, match="several versions"):
        entry.enter_response(s, "D01", 2, "mood_check", role="patient", items="1,1,1")
    # a2 reverse-keyed: 5 + (6 - 2) + 3 = 12
    frame = entry.enter_response(s, "D01", 2, "mood_check@0.1", role="patient",
                                 items={"a1": 5, "a2": 2, "a3": 3})
    assert frame["value"].tolist() == [12.0]
    assert len(s.audit(limit=None)) == n_audit + 3  # 0.2, ors, and the response


def test_scores_can_be_recomputed_from_the_stored_definition(small_study):
    """Rescoring stored items with the stored definition gives the stored scores."""
    from studymgr.compute.instruments import load_instrument

    s = small_study
    rows = make_rows(1, 3, seed=3)
    for row in rows:
        if row["session"] == "1":
            continue  # locked
        inst = BUILTIN[row["instrument"]]
        entry.enter_response(s, row["dyad"], row["session"], row["instrument"],
                             role="patient", timing=row["timing"],
                             items=[row[f"i{k}"] for k in range(1, len(inst.items) + 1)])
    stored = s.db.conn.execute(
        "SELECT r.id, i.definition FROM responses r JOIN instruments i ON i.id = "
        "r.instrument_id").fetchall()
    assert len(stored) == 10
    for rid, definition in stored:
        inst = load_instrument(json.loads(definition))
        items = dict(s.db.conn.execute(
            "SELECT item, coalesce(value, missing) FROM response_items WHERE response_id = ?",
            (rid,)).fetchall())
        want = {x.scale: x.value for x in inst.score(items)}
        got = dict(s.db.conn.execute("SELECT scale, value FROM scores WHERE response_id = ?",
                                     (rid,)).fetchall())
        assert got.keys() == want.keys()
        assert all(_same(got[k], want[k]) for k in got)


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"items": "3,2,9,0,3,2,1"}, InputError, r"item '3' = 9 is out of range"),
    ({"items": "3,2,1"}, InputError, r"expected 7 item values"),
    ({"items": "1=3,2=2,3=1,4=0,5=3,6=2,8=1"}, InputError, r"unknown item '8'"),
    ({"items": "1=3,2=2"}, InputError, r"no value for item\(s\) 3, 4, 5, 6, 7"),
    ({"items": "3,2,1,0,3,2,1", "instrument": "phq9"}, NotFoundError, "unknown instrument"),
    ({"items": "3,2,1,0,3,2,1", "instrument": "gad7@1999"}, NotFoundError, "no version 1999"),
    ({"items": "3,2,1,0,3,2,1", "dyad": "D09"}, NotFoundError, "unknown dyad D09"),
    ({"items": "3,2,1,0,3,2,1", "session": 7}, NotFoundError, "has no session 7"),
    ({"items": "3,2,1,0,3,2,1", "session": 1}, ConflictError, "studymgr session unlock"),
    ({"items": "3,2,1,0,3,2,1", "timing": None}, InputError, "is given pre or post"),
    ({"items": "3,2,1,0,3,2,1", "timing": "during"}, InputError, "invalid timing"),
    ({"items": "1,2,3,4", "instrument": "srs", "timing": "pre"}, InputError,
     "post a session only, not pre"),
    ({"items": "1,2,3,4", "instrument": "srs", "role": "therapist"}, InputError,
     "patient only, not by the therapist"),
    ({"items": "3,2,1,0,3,2,1", "role": "rater"}, InputError, "invalid role"),
    ({"items": "3,2,1,0,3,2,1", "dyad": "D'1"}, InputError, "invalid dyad code"),
])
def test_bad_entry_is_refused_and_writes_nothing(small_study, kwargs, error, pattern):
    """Each bad input raises the named error type and leaves every table as it was."""
    s = small_study
    args = {"dyad": "D01", "session": 2, "instrument": "gad7", "role": "patient",
            "timing": "pre", **kwargs}
    before = {t: table_count(s, t) for t in ("instruments", "responses", "response_items",
                                              "scores", "audit_log")}
    with pytest.raises(error, match=pattern):
        entry.enter_response(s, args.pop("dyad"), args.pop("session"), args.pop("instrument"),
                             **args)
    assert {t: table_count(s, t) for t in before} == before


def test_duplicate_entry_is_refused_with_the_amend_command(small_study):
    s = small_study
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                         items="3,2,1,0,3,2,1")
    with pytest.raises(ConflictError, match="already entered.*studymgr scores amend D01 2"):
        entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                             items="3,2,1,0,3,2,1")
    # another role or timing is another response
    entry.enter_response(s, "D01", 2, "gad7", role="therapist", timing="pre",
                         items="0,0,0,0,0,0,0")
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="post",
                         items="0,0,0,0,0,0,1")
    assert len(s.responses()) == 3


def test_respondent_keyword_still_works_with_a_deprecation_warning(small_study):
    """``respondent=`` (the keyword's name before schema v4) is ``role=`` for one release."""
    s = small_study
    with pytest.warns(DeprecationWarning, match=r"enter_response\(role=\.\.\.\)"):
        frame = entry.enter_response(s, "D01", 2, "gad7", respondent="therapist", timing="pre",
                                     items="3,2,1,0,3,2,1")
    assert frame[["role", "value"]].values.tolist() == [["therapist", 12.0]]
    with pytest.warns(DeprecationWarning, match="prepare_entry"):
        target = entry.prepare_entry(s, "D01", 2, "gad7", respondent="therapist",
                                     timing="pre", amend=True)
    assert target.role == "therapist"
    with pytest.warns(DeprecationWarning, match="EntryTarget.role"):
        assert target.respondent == "therapist"
    with pytest.warns(DeprecationWarning, match="amend_response"):
        entry.amend_response(s, "D01", 2, "gad7", respondent="therapist", timing="pre",
                             items="0,0,0,0,0,0,0", reason="test")
    assert s.scores()["value"].tolist() == [0.0]
    with pytest.warns(DeprecationWarning), pytest.raises(InputError, match="disagree"):
        entry.enter_response(s, "D01", 3, "gad7", role="patient", respondent="therapist",
                             timing="pre", items="0,0,0,0,0,0,0")
    with pytest.raises(TypeError, match="missing required keyword argument: 'role'"):
        entry.enter_response(s, "D01", 3, "gad7", timing="pre", items="0,0,0,0,0,0,0")
    assert len(s.responses()) == 1


def test_amend_keeps_the_old_values_in_the_audit_trail(small_study):
    """The audit row's old JSON holds exactly the values and scores entered before."""
    s = small_study
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                         items="3,2,1,0,3,2,1")
    with pytest.raises(InputError, match="needs a reason"):
        entry.amend_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                             items="3,2,2,0,3,2,1", reason="  ")
    with pytest.raises(InputError, match="nothing to amend"):
        entry.amend_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                             items="3,2,1,0,3,2,1", reason="same")
    with pytest.raises(NotFoundError, match="nothing to amend"):
        entry.amend_response(s, "D01", 3, "gad7", role="patient", timing="pre",
                             items="3,2,2,0,3,2,1", reason="x")
    new = entry.amend_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                               items="3,2,2,0,3,2,NA", reason="item 3 misread")
    # 3+2+2+0+3+2 = 12 over 6 answered, prorated: 12 * 7/6 = 14
    assert new["value"].tolist() == [14.0] and new["prorated"].tolist() == [True]
    row = s.audit(limit=1).iloc[0]
    assert (row["action"], row["entity"], row["reason"]) == ("amend", "response",
                                                             "item 3 misread")
    assert row["entity_key"] == "D01/2/gad7@2006/patient/pre"
    old, now = json.loads(row["old"]), json.loads(row["new"])
    assert old["items"] == {"1": 3.0, "2": 2.0, "3": 1.0, "4": 0.0, "5": 3.0, "6": 2.0,
                            "7": 1.0}
    assert old["scores"] == {"total": 12.0}
    assert (old["status"], old["source"], old["entered_by"]) == ("entered", "entry", "tester")
    assert now["items"]["7"] == "NA" and now["scores"] == {"total": 14.0}
    resp = s.responses().iloc[0]
    assert (resp["status"], resp["source"], resp["n_answered"]) == ("amended", "amend", 6)
    assert s.items(instrument="gad7")["missing"].tolist()[-1] == "NA"
    assert s.verify_audit() == []
    s.lock_session("D01", 2)
    with pytest.raises(ConflictError, match="studymgr session unlock D01 2"):
        entry.amend_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                             items="0,0,0,0,0,0,0", reason="x")


# --------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------


@pytest.fixture
def battery_study(study):
    """Ten dyads with ten sessions each (500 planned responses)."""
    add_sessions(study, 10, 10)
    return study


def test_import_stores_the_pure_scores_and_reimport_is_a_noop(battery_study, tmp_path):
    """Every imported score = Instrument.score of its CSV row; the same file again changes
    nothing (no rows, no audit rows); identical rows of another file are skipped and rows that
    differ from stored ones are refused."""
    s = battery_study
    rows = make_rows(10, 10, seed=1)
    first = [r for r in rows if int(r["session"]) <= 9]
    path = write_csv(tmp_path / "first.csv", first)
    calls = []

    def progress(it, n):
        calls.append(n)
        return it

    result = entry.import_responses(s, path, progress=progress)
    assert (result.imported, result.identical, result.rows) == (450, 0, 450)
    assert calls == [450]
    log = s.audit(limit=None)
    assert (log["action"] == "import").sum() == 450
    assert json.loads(log["new"].iloc[0])["file"] == "first.csv"

    before = {t: table_count(s, t) for t in ("responses", "scores", "audit_log")}
    again = entry.import_responses(s, path)
    assert again.already_imported and "first.csv was already imported (450 responses" in \
        again.message()
    assert {t: table_count(s, t) for t in before} == before

    # sessions 9 and 10: the 50 rows of session 9 are stored already and skipped
    later = [r for r in rows if int(r["session"]) >= 9]
    second = entry.import_responses(s, write_csv(tmp_path / "second.csv", later))
    assert (second.imported, second.identical) == (50, 50)
    assert "50 already stored with the same values were skipped" in second.message()
    nine = [r for r in rows if r["session"] == "9"]
    third = entry.import_responses(s, write_csv(tmp_path / "third.csv", nine))
    assert third.imported == 0 and "Nothing new in third.csv" in third.message()
    changed = [dict(r) for r in nine]
    changed[3]["i1"] = "NA" if changed[3]["i1"] != "NA" else "1"
    with pytest.raises(entry.ImportRowsError, match="already stored with other values"):
        entry.import_responses(s, write_csv(tmp_path / "changed.csv", changed))

    scores = s.scores()
    assert len(s.responses()) == 500
    got = {(r.dyad, r.session, r.instrument, r.scale): r.value for r in scores.itertuples()}
    for row in rows:
        for scale, value in expected_scores(row).items():
            assert _same(got[(row["dyad"], int(row["session"]), row["instrument"], scale)],
                         value)
    n_missing = sum(row[f"i{k}"] in ("NA", "REF", "NR", "") for row in rows
                    for k in range(1, len(BUILTIN[row["instrument"]].items) + 1))
    assert s.items()["missing"].notna().sum() == n_missing > 0
    assert set(s.responses()["source"]) == {"import"}


def test_import_one_bad_row_among_500_writes_nothing(battery_study, tmp_path):
    """One out-of-range value among 500 rows: one problem naming line, column, value, reason."""
    s = battery_study
    rows = make_rows(10, 10, seed=2)
    bad = next(i for i, r in enumerate(rows) if r["instrument"] == "gad7" and i > 300)
    rows[bad]["i3"] = "7"
    path = write_csv(tmp_path / "bad.csv", rows)
    before = {t: table_count(s, t) for t in ("instruments", "responses", "audit_log")}
    with pytest.raises(entry.ImportRowsError) as info:
        entry.import_responses(s, path)
    err = info.value
    assert [(p.line, p.column, p.value) for p in err.problems] == [(bad + 2, "i3", "7")]
    assert "out of range" in err.problems[0].reason
    lines = str(err).splitlines()
    assert lines[0] == "1 bad row in bad.csv: nothing imported"
    assert lines[1].startswith(f"  line {bad + 2}, column 'i3', value '7': gad7: item '3'")
    assert {t: table_count(s, t) for t in before} == before


def test_import_lists_every_problem(small_study, tmp_path):
    """Each kind of bad row is reported with its line, column and reason, all at once."""
    s = small_study
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                         items="1,1,1,1,1,1,1")
    good = {"dyad": "D01", "session": "3", "role": "patient", "timing": "pre",
            "instrument": "gad7", **{f"i{k}": "1" for k in range(1, 8)}}
    rows = [
        good,                                                   # line 2: fine
        {**good, "dyad": "D09"},                                # 3: unknown dyad
        {**good, "session": "8"},                               # 4: no such session
        {**good, "session": "1"},                               # 5: locked
        {**good, "instrument": "phq9"},                         # 6: unknown instrument
        {**good, "role": "rater"},                        # 7: bad role
        {**good, "instrument": "srs", "i5": "", "i6": "", "i7": ""},  # 8: srs is post only
        {**good, "i2": "x", "i4": "4"},                         # 9: two bad cells
        {**good, "i9": "3"},                                    # 10: gad7 has no item 9
        good,                                                   # 11: duplicate of line 2
        {**good, "session": "2", "i1": "0"},                    # 12: stored with other values
        {**good, "session": "two"},                             # 13: bad session number
        {**good, "instrument": "wai-sr", "role": "therapist",
         **{f"i{k}": "3" for k in range(1, 13)}},               # 14: wai-sr is patient only
    ]
    rows.insert(13, {**good, "dyad": "D08", "i1": "5"})         # 15: two problems
    path = write_csv(tmp_path / "mixed.csv", rows)
    with path.open("a") as fh:
        fh.write("D01,3,patient,pre,gad7,1,1\n")                # 16: too few fields
    before = table_count(s, "responses")
    with pytest.raises(entry.ImportRowsError) as info:
        entry.import_responses(s, path)
    found = {(p.line, p.column) for p in info.value.problems}
    assert found == {(3, "dyad"), (4, "session"), (5, "session"), (6, "instrument"),
                     (7, "role"), (8, "timing"), (9, "i2"), (9, "i4"), (10, "i9"),
                     (11, ""), (12, ""), (13, "session"), (14, "role"), (14, "timing"),
                     (15, "i1"), (15, "dyad"), (16, "")}
    text = str(info.value)
    assert text.splitlines()[0] == "14 bad rows in mixed.csv: nothing imported"
    for needle in ("unknown dyad D09", "has no session 8", "session D01/1 is locked",
                   "unknown instrument 'phq9'", "invalid role", "post a session only",
                   "'x' is neither a number", "gad7 has no such item", "as line 2",
                   "studymgr scores amend D01 2", "expected an integer",
                   "has 7 fields but the header has 17"):
        assert needle in text, needle
    assert table_count(s, "responses") == before


def test_import_header_problems(small_study, tmp_path):
    """Unknown columns and missing item columns are reported against the header."""
    s = small_study
    row = {"dyad": "D01", "session": "2", "role": "patient", "timing": "pre",
           "instrument": "gad7", **{f"i{k}": "1" for k in range(1, 7)}, "notes": "hi"}
    cols = ["dyad", "session", "role", "timing", "instrument",
            *[f"i{k}" for k in range(1, 7)], "notes"]
    with pytest.raises(entry.ImportRowsError) as info:
        entry.import_responses(s, write_csv(tmp_path / "h.csv", [row], columns=cols))
    text = str(info.value)
    assert text.splitlines()[0] == "the header in h.csv: nothing imported"
    assert "no column for item 7 of gad7" in text
    assert "header, column 'notes'" in text and "neither a key column" in text
    row["notes"] = ""  # an empty extra column is ignored
    cols[5:11] = [f"item_{k}" for k in range(1, 7)]
    ok = {**{k: v for k, v in row.items() if not k[1:].isdigit()},
          **{f"item_{k}": "2" for k in range(1, 7)}, "i7": "2", "notes": ""}
    written = write_csv(tmp_path / "ok.csv", [ok], columns=[*cols, "i7"])
    assert entry.import_responses(s, written).imported == 1
    cols2 = ["dyad", "session", "role", "timing", "instrument", "1", "i1",
             *[f"i{k}" for k in range(2, 8)]]
    with pytest.raises(entry.ImportRowsError, match="columns '1' and 'i1' both name item 1"):
        entry.import_responses(s, write_csv(tmp_path / "h2.csv", [row], columns=cols2))


def test_import_reads_the_old_respondent_column_as_role(small_study, tmp_path, caplog):
    """A CSV whose column is named ``respondent`` (any case; its name before schema v4) imports
    as if it were ``role``, with a warning that names the file; with both, ``role`` counts."""
    s = small_study
    old = tmp_path / "old.csv"
    old.write_text("dyad,session,Respondent,timing,instrument,1,2,3,4,5,6,7\n"
                   "D01,2,therapist,pre,gad7,3,2,1,0,3,2,1\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        result = entry.import_responses(s, old)
    assert result.imported == 1
    assert "old.csv: column 'Respondent' is read as 'role'" in caplog.text
    assert s.scores()[["role", "value"]].values.tolist() == [["therapist", 12.0]]
    both = tmp_path / "both.csv"
    both.write_text("dyad,session,role,respondent,timing,instrument,1,2,3,4,5,6,7\n"
                    "D01,3,patient,therapist,pre,gad7,0,0,0,0,0,0,0\n", encoding="utf-8")
    with pytest.raises(entry.ImportRowsError, match="column 'respondent'.*neither a key column"):
        entry.import_responses(s, both)


def test_import_formats_semicolons_bom_prefixes_and_optional_timing(small_study, tmp_path):
    """Accepted variants give the same stored values as the plain form."""
    s = small_study
    text = ("\ufeffDyad;Session;Role;Instrument;item_1;ITEM2;3;i4\r\n"
            "D01;2;patient;srs;7.5;8;REF;9.9\r\n"
            "\r\n"
            "D01;3;Patient;srs@2003;1;2;3;4\r\n")
    path = tmp_path / "srs.csv"
    path.write_bytes(text.encode("utf-8"))
    result = entry.import_responses(s, path)
    assert result.imported == 2
    items = s.items(instrument="srs")
    assert items["value"].tolist()[:2] == [7.5, 8.0] and items["missing"].tolist()[2] == "REF"
    assert set(s.responses()["timing"]) == {"post"}
    values = s.scores(instrument="srs")["value"].tolist()
    assert math.isnan(values[0]) and values[1] == 10.0  # REF: the SRS needs all four items


@pytest.mark.parametrize(("content", "error", "pattern"), [
    (b"", InputError, "is empty"),
    (b"   \n\n", InputError, "is empty"),
    (b"dyad,session,role,timing,instrument,1\n", InputError, "has a header but no rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", InputError, "not a text file"),
    (b"PK\x03\x04\x14\x00\x06\x00", InputError, "openpyxl"),
    (b"caf\xe9,session\n", InputError, "not UTF-8"),
    (b"hello world\nthis is not a table\n", InputError, "lacks the column"),
    (b"dyad,session,role,instrument,Dyad\nD01,1,patient,gad7,x\n", InputError,
     "appears twice"),
    (b'dyad,session,role,instrument,1\nD01,2,patient,gad7,"1\n', InputError,
     "not valid CSV"),
])
def test_read_table_refuses_malformed_files(tmp_path, content, error, pattern):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(error, match=pattern):
        entry.read_table(path)


def test_read_table_missing_file_and_workbook_suffix(tmp_path):
    with pytest.raises(NotFoundError, match="no such file"):
        entry.read_table(tmp_path / "nope.csv")
    (tmp_path / "a.xlsx").write_bytes(b"whatever")
    with pytest.raises(InputError, match="save the sheet as 'CSV UTF-8'"):
        entry.read_table(tmp_path / "a.xlsx")


def test_parse_items_text():
    assert entry.parse_items_text("3, 2,,NA") == ["3", "2", "", "NA"]
    assert entry.parse_items_text("1=3,2=NA") == {"1": "3", "2": "NA"}
    with pytest.raises(InputError, match="mix"):
        entry.parse_items_text("1=3,2")
    with pytest.raises(InputError, match="given twice"):
        entry.parse_items_text("1=3,1=2")
    with pytest.raises(InputError, match="no item values"):
        entry.parse_items_text(" ")


# --------------------------------------------------------------------------------------------
# Reading back and status
# --------------------------------------------------------------------------------------------


def test_scores_filters_and_columns(small_study):
    s = small_study
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                         items="3,2,1,0,3,2,1")
    entry.enter_response(s, "D02", 1, "who5", role="therapist", timing="post",
                         items="5,5,5,5,5")
    all_scores = s.scores()
    assert list(all_scores.columns) == ["dyad", "session", "role", "timing", "instrument",
                                        "version", "construct", "scale", "value", "n_answered",
                                        "n_items", "prorated", "band", "primary"]
    assert len(all_scores) == 3
    assert s.scores(dyad="D02")["scale"].tolist() == ["raw", "percentage"]
    assert s.scores(construct="symptoms")["instrument"].tolist() == ["gad7"]
    assert s.scores(instrument="who5@1998")["value"].tolist() == [25.0, 100.0]
    assert s.scores(instrument="ors").empty  # known, no responses
    with pytest.raises(NotFoundError, match="unknown instrument"):
        s.scores(instrument="phq9")
    with pytest.raises(NotFoundError, match="unknown dyad"):
        s.scores(dyad="D07")
    with pytest.raises(InputError, match="invalid construct"):
        s.scores(construct="mood")
    assert s.items(dyad="D01", session=2)["item"].tolist() == list("1234567")
    assert s.items(session=3).empty


def test_status_counts_entered_and_expected_questionnaires(small_study):
    """Hand example: the therapy battery is gad7+who5 (patient, pre), so D01/3 misses who5,
    D01/1 (locked, nothing entered) misses both, and the interview session expects nothing."""
    s = small_study
    for n in (2, 3):
        entry.enter_response(s, "D01", n, "gad7", role="patient", timing="pre",
                             items="1,1,1,1,1,1,1")
    entry.enter_response(s, "D01", 2, "who5", role="patient", timing="pre",
                         items="1,1,1,1,1")
    st = s.status().set_index(["dyad", "session"])
    assert st.loc[("D01", 2), "mark_q"] == "q2"
    assert st.loc[("D01", 3), "mark_q"] == "q1/2"
    assert st.loc[("D01", 3), "questionnaires_missing"] == "who5/patient/pre"
    assert st.loc[("D01", 1), "mark_q"] == "q0/2"
    assert st.loc[("D02", 1), "mark_q"] == ""
    assert st.loc[("D01", 2), "questionnaires_entered"] == "gad7/patient/pre, who5/patient/pre"
    assert st["questionnaires"].tolist() == [0, 2, 1, 0]
    # a session that did not take place expects nothing
    s.update_session("D01", 3, attended=False)
    assert s.status().set_index(["dyad", "session"]).loc[("D01", 3), "mark_q"] == "q1"
    assert any(legend.startswith("qN:") for legend in s.status_legends())


# --------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------


def _alpha_by_hand(matrix: np.ndarray) -> float:
    k = matrix.shape[1]
    return k / (k - 1) * (1 - matrix.var(axis=0, ddof=1).sum() / matrix.sum(axis=1).var(ddof=1))


def test_reliability_matches_the_textbook_formula(tmp_path):
    """Planted structure: items = latent + noise, so alpha is high; compared with numpy."""
    from studymgr import create_study

    s = create_study(tmp_path / "rel.db", user="tester")
    add_sessions(s, 12, 3)
    rng = np.random.default_rng(11)
    rows, matrices = [], {}
    for d in range(1, 13):
        for n in range(1, 4):
            latent = rng.normal(1.5, 0.8)
            vals = np.clip(np.rint(latent + rng.normal(0, 0.5, 7)), 0, 3).astype(int)
            matrices.setdefault(n, []).append(vals)
            rows.append({"dyad": f"D{d:02d}", "session": str(n), "role": "patient",
                         "timing": "pre", "instrument": "gad7",
                         **{f"i{k}": str(v) for k, v in enumerate(vals, start=1)}})
    # one response with a missing item: dropped listwise
    rows[0]["i5"] = "NA"
    entry.import_responses(s, write_csv(tmp_path / "g.csv", rows))
    table = entry.reliability(s, "gad7", by_session=True)
    assert list(table.columns) == entry.RELIABILITY_COLUMNS
    overall = table[table["session"].isna()].iloc[0]
    complete = np.array([m for n in (1, 2, 3) for m in matrices[n]])[1:]
    assert overall["n"] == 35 and overall["responses"] == 36 and overall["k"] == 7
    assert overall["alpha"] == pytest.approx(_alpha_by_hand(complete), abs=1e-12)
    assert overall["ci_low"] < overall["alpha"] < overall["ci_high"]
    per = table.dropna(subset=["session"]).set_index("session")
    assert per.loc[2, "alpha"] == pytest.approx(_alpha_by_hand(np.array(matrices[2])),
                                                abs=1e-12)
    assert per.loc[1, "n"] == 11
    # pairwise keeps the incomplete response
    assert entry.reliability(s, "gad7", nan_policy="pairwise")["n"].iloc[0] == 36
    with pytest.raises(NotFoundError, match="no who5@1998 responses"):
        entry.reliability(s, "who5")
    with pytest.raises(InputError, match="no scale of two or more items"):
        entry.reliability(s, _one_item_instrument(s))
    s.close()


def _one_item_instrument(study) -> str:
    study.add_instrument({"name": "single", "version": "1", "title": "One item",
                          "construct": "other", "roles": ["patient"], "timings": ["pre"],
                          "items": [{"id": "1", "min": 0, "max": 10}],
                          "scales": [{"id": "v", "items": ["1"], "method": "sum"}],
                          "primary": "v"})
    return "single"


def test_reliability_small_groups_get_a_note(small_study):
    """One response per session: no alpha per session (a note says why); pooled over the two
    sessions the items move together perfectly, so alpha is exactly 1 (by hand: item variances
    sum to k * 0.5, total variance is (k * 1)^2 * 0.5, alpha = k/(k-1) * (1 - 1/k) = 1)."""
    s = small_study
    entry.enter_response(s, "D01", 2, "wai-sr", role="patient", items=[4] * 12)
    entry.enter_response(s, "D01", 3, "wai-sr", role="patient", items=[5] * 12)
    table = entry.reliability(s, "wai-sr", by_session=True)
    assert table["scale"].tolist()[:4] == ["task", "bond", "goal", "total"]
    assert len(table) == 12  # (all, session 2, session 3) x 4 scales
    pooled = table[table["session"].isna()]
    assert pooled["alpha"].tolist() == pytest.approx([1.0] * 4)
    per = table.dropna(subset=["session"])
    assert per["alpha"].isna().all() and (per["n"] == 1).all()
    assert per["note"].str.contains("alpha needs at least 2").all()


def test_stored_definition_wins_over_the_shipped_one(small_study, caplog):
    """A study keeps scoring with its stored copy even if the shipped built-in differs (a newer
    studymgr may correct a key); a stored row whose hash does not match is refused."""
    from studymgr.compute.instruments import load_instrument
    from studymgr.runs.questionnaires import StoredInstrument

    s = small_study
    old = {**BUILTIN["gad7"].definition,
           "scales": [{k: v for k, v in BUILTIN["gad7"].definition["scales"][0].items()
                       if k != "bands"}]}
    inst = load_instrument(old)
    with s.transaction():
        s.db.conn.execute(
            "INSERT INTO instruments (name, version, construct, definition, content_hash, source,"
            " added_at) VALUES ('gad7', '2006', 'symptoms', ?, ?, 'builtin', 'x')",
            (json.dumps(old), inst.content_hash))
    # stored meanwhile by another writer: found, not stored twice; another definition: refused
    with s.transaction():
        assert s._ensure_instrument(StoredInstrument(inst, None, "builtin")) == 1
    with pytest.raises(ConflictError, match="stored meanwhile with another definition"), \
            s.transaction():
        s._ensure_instrument(StoredInstrument(BUILTIN["gad7"], None, "builtin"))
    with caplog.at_level("WARNING"):
        assert s.instrument("gad7").content_hash == inst.content_hash
    assert "differs from the one shipped" in caplog.text
    frame = entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                                 items="3,2,1,0,3,2,1")
    assert frame["value"].tolist() == [12.0] and frame["band"].tolist() == [None]
    with s.transaction():
        s.db.conn.execute(
            "INSERT INTO instruments (name, version, construct, definition, content_hash, source,"
            " added_at) VALUES ('who5', '1998', 'wellbeing', ?, ?, 'builtin', 'x')",
            (json.dumps(BUILTIN["who5"].definition), "0" * 64))
    with pytest.raises(InputError, match="does not match its content hash"):
        s.instrument("who5")
