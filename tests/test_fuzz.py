"""Hostile input: every parser answers a clear StudyError or a correct result, never another
exception, never a hang (each attempt runs under a time limit), and an error changes nothing
(the study folder is compared byte for byte before and after).

Inputs are generated with hypothesis (derandomized: the same inputs on every run) from valid
files with cells, keys and datasets replaced by hostile values, plus raw bytes. "Correct" is
checked against the input itself: stored item values are the CSV's cells, stored events the
CSV's rows, a montage what Python's csv module reads, a stored recording the source file's
bytes (SHA-256) and MNE's reading of it.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import math
import shutil
import signal
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from studymgr import StudyError, create_study, open_study
from studymgr.compute.instruments import builtin_instruments
from studymgr.compute.synchrony.montage import CHANNEL_RE, load_montage, parse_montage
from studymgr.ids import CODE_RE, check_code
from studymgr.runs import entry
from tests.conftest import Cli, snapshot

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
HOSTILE = ["", " ", "NA", "REF", "nr", "-1", "2.5", "1e308", "-1e308", "inf", "-inf", "nan",
           "0x10", "1_0", "+2", " 3 ", "٣", "é", "\x00", '"', "'", ";", ",", "\t", "\n",
           "'; DROP TABLE responses;--", "../../etc/passwd", "/etc/passwd", "9" * 400,
           "D01", "D02", "P01", "2", "pre", "post", "patient", "therapist", "gad7@2006"]
SQL_AND_PATHS = ["'; DROP TABLE dyads;--", "D01'; DELETE FROM people;--", "../../etc/passwd",
                 "/etc/passwd", "..", "D01/../D02", "D01;", "Robert'); DROP TABLE x;--",
                 "D01\x00", "D 01", "", "x" * 33, "D01\n", "%s", "$(rm -rf ~)"]
BUILTIN = {name: inst.definition for name, inst in builtin_instruments().items()}


class Hang(BaseException):
    """A parser did not answer within its time limit (BaseException: never caught as input)."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def fire(*_):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def attempt(folder: Path, db: Path, action, seconds: int = 30):
    """Run ``action(study)`` on a freshly opened study. Returns the StudyError raised or the
    result; asserts that an error left the study folder exactly as it was."""
    before = snapshot(folder)
    study = open_study(db, user="fuzzer")
    error = None
    try:
        with time_limit(seconds):
            try:
                result = action(study)
            except StudyError as exc:
                error = exc
    finally:
        study.close()
    with contextlib.suppress(InvalidArgument):  # outside hypothesis there are no statistics
        event("refused" if error is not None else "accepted")
    if error is not None:
        assert str(error).strip(), "a StudyError must say what is wrong"
        assert snapshot(folder) == before, f"refused ({error}) but the study changed"
        return error
    return result


@pytest.fixture
def fuzz_study(tmp_path):
    """D01 (T01, P01) sessions 1-3, session 1 locked, sessions 10-99 for recordings; D02 (T01,
    P02) session 1. Returns (study folder, database); the study is closed."""
    folder = tmp_path / "study"
    folder.mkdir()
    study = create_study(folder / "study.db", user="tester")
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_dyad("D02", therapist="T01", patient="P02")
    for n in (1, 2, 3, *range(10, 100)):
        study.add_session("D01", n)
    study.add_session("D02", 1)
    study.lock_session("D01", 1)
    study.close()
    (tmp_path / "in").mkdir()
    return folder, folder / "study.db"


def write_csv(rows: list[list[str]], delimiter: str, bom: bool, crlf: bool) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    text = ("\ufeff" if bom else "") + out.getvalue()
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    """Truncate, splice or overwrite a few bytes of a file."""
    kind = draw(st.sampled_from(["keep"] * 7 + ["truncate", "insert", "overwrite"]))
    if kind == "keep" or not data:
        return data
    i = draw(st.integers(0, len(data) - 1))
    if kind == "truncate":
        return data[:i]
    junk = draw(st.binary(min_size=1, max_size=8))
    return data[:i] + junk + (data[i:] if kind == "insert" else data[i + len(junk):])


cell = st.one_of(st.sampled_from(HOSTILE), st.integers(-2, 12).map(str),
                 st.text(max_size=6))


# -- questionnaire CSV files -------------------------------------------------------------------
@st.composite
def score_csv(draw) -> bytes:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=300))
    header = ["dyad", "session", "role", "timing", "instrument"] + [
        f"i{j}" for j in range(1, 13)]
    header = draw(st.permutations(header))
    clean = draw(st.integers(0, 2)) == 0  # a third of the files are valid as written
    if not clean and draw(st.integers(0, 4)) == 0:
        header[draw(st.integers(0, len(header) - 1))] = draw(cell)
    rows = [header]
    for _ in range(draw(st.integers(0 if not clean else 1, 4))):
        name = draw(st.sampled_from(sorted(BUILTIN)))
        definition = BUILTIN[name]
        valid = {"dyad": "D01", "session": str(draw(st.integers(2, 99))),
                 "role": draw(st.sampled_from(definition["roles"])),
                 "timing": draw(st.sampled_from(definition["timings"])),
                 "instrument": name}
        for j, item in enumerate(definition["items"], start=1):
            low, top = int(item.get("min", 0)), int(item.get("max", 1))
            valid[f"i{j}"] = draw(st.one_of(st.integers(low, top).map(str),
                                            st.sampled_from(["NA", ""])))
        row = [valid.get(h, "") for h in header]
        for _ in range(0 if clean else draw(st.sampled_from([0, 1, 1, 2]))):
            row[draw(st.integers(0, len(row) - 1))] = draw(cell)
        if not clean and draw(st.integers(0, 19)) == 0:
            row = row[:-1]
        rows.append(row)
    data = write_csv(rows, draw(st.sampled_from([",", ";", "\t"])), draw(st.booleans()),
                     draw(st.booleans()))
    return data if clean else draw(mutated_bytes(data))


def expected_items(value: str) -> float | str:
    text = value.strip()
    if text.upper() in ("", "NA"):
        return "NA"
    if text.upper() in ("REF", "NR"):
        return text.upper()
    return float(text)


@FUZZ
@given(data=score_csv())
def test_score_csv_import(fuzz_study, data):
    folder, db = fuzz_study
    path = folder.parent / "in" / "scores.csv"
    path.write_bytes(data)
    result = attempt(folder, db, lambda s: entry.import_responses(s, path))
    if isinstance(result, StudyError):
        return
    with open_study(db) as study:  # every row of the file is stored with its cells
        text = data.decode("utf-8-sig")
        table = entry.read_table(path)
        lowered = [h.lower() for h in table.header]
        for _, fields in table.rows:
            row = dict(zip(lowered, fields, strict=True))
            spec = row["instrument"].strip()
            inst = study.instrument(spec)
            items = study.items(dyad=row["dyad"].strip(), instrument=spec,
                                session=int(row["session"]))
            items = items[(items["role"] == row["role"].strip().lower())]
            if row.get("timing", "").strip():
                items = items[items["timing"] == row["timing"].strip().lower()]
            stored = [m if isinstance(m, str) else v for v, m in
                      zip(items["value"], items["missing"], strict=True)]
            given_cells = [expected_items(row.get(f"i{j}", row.get(str(j), "")))
                           for j in range(1, len(inst.items) + 1)]
            assert stored == given_cells, text


# -- instrument definitions --------------------------------------------------------------------
def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _paths(value, (*prefix, index))


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
              st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(HOSTILE)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["id", "min", "max", "x", "items"]),
                                            inner, max_size=3)),
    max_leaves=6)


@st.composite
def instrument_json(draw) -> bytes:
    doc = copy.deepcopy(BUILTIN[draw(st.sampled_from(sorted(BUILTIN)))])
    # a new version: adding it does not clash with the built-in
    doc["version"] = draw(st.from_regex(r"fuzz[a-z0-9]{1,6}", fullmatch=True))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        paths = [p for p in _paths(doc) if p]
        target = paths[draw(st.integers(0, len(paths) - 1))]
        parent = doc
        for key in target[:-1]:
            parent = parent[key]
        if draw(st.integers(0, 3)) == 0:
            del parent[target[-1]]
        else:
            parent[target[-1]] = draw(json_value)
    text = json.dumps(doc)
    return draw(mutated_bytes(text.encode()))


@FUZZ
@given(data=instrument_json())
def test_instrument_json(fuzz_study, data):
    folder, db = fuzz_study
    path = folder.parent / "in" / "instrument.json"
    path.write_bytes(data)
    result = attempt(folder, db, lambda s: s.add_instrument(path))
    if isinstance(result, StudyError):
        return
    with open_study(db) as study:  # stored as given: same content hash, and it scores
        inst = study.instrument(f"{result['name']}@{result['version']}")
        assert inst.content_hash == result["hash"]
        values = {it.id: it.max for it in inst.items}
        assert len(inst.score(values)) == len(inst.scales)


# -- event CSV files ---------------------------------------------------------------------------
@st.composite
def events_csv(draw) -> bytes:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(st.sampled_from([["onset", "duration", "label"],
                                   ["onset", "duration", "label", "rater"],
                                   ["label", "onset", "duration", "note"],
                                   ["Onset", "Duration", "Label"]]))
    clean = draw(st.integers(0, 2)) == 0  # a third of the files are valid as written
    if not clean and draw(st.integers(0, 9)) == 0:
        header = [*header[:-1], draw(cell)]
    rows = [header]
    for _ in range(draw(st.integers(1 if clean else 0, 4))):
        valid = {"onset": draw(st.floats(0, 3600).map(lambda x: f"{x:.3f}")),
                 "duration": draw(st.sampled_from(["", "0", "1.5", "10"])),
                 "label": draw(st.sampled_from(["MOI", "MONI", "laughter", "x"])),
                 "rater": draw(st.sampled_from(["", "R1", "R2"])),
                 "note": draw(st.sampled_from(["", "anything at all"]))}
        row = [valid.get(h.lower(), "") for h in header]
        if not clean and draw(st.booleans()):
            row[draw(st.integers(0, len(row) - 1))] = draw(
                st.one_of(cell, st.text(min_size=60, max_size=80)))
        rows.append(row)
    data = write_csv(rows, draw(st.sampled_from([",", ";"])), False, False)
    return data if clean else draw(mutated_bytes(data))


@FUZZ
@given(data=events_csv(), rater=st.one_of(st.none(), st.sampled_from(["R1", *SQL_AND_PATHS])),
       replace=st.booleans())
def test_events_csv(fuzz_study, data, rater, replace):
    folder, db = fuzz_study
    path = folder.parent / "in" / "events.csv"
    path.write_bytes(data)
    result = attempt(folder, db, lambda s: s.import_events(
        "D01", 2, path, rater=rater, replace=replace, reason="fuzz" if replace else None))
    if isinstance(result, StudyError):
        return
    assert rater is None or CODE_RE.fullmatch(rater)
    first = data.decode("utf-8-sig").splitlines()[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))
    header = [h.strip().lower() for h in table[0]]
    expected = [(float(r[header.index("onset")]), " ".join(r[header.index("label")].split()))
                for r in table[1:] if any(c.strip() for c in r)]
    assert result["n_events"] == len(expected) > 0
    with open_study(db) as study:
        stored = list(zip(study.events("D01", 2)["onset_s"], study.events("D01", 2)["label"],
                          strict=True))
    for row in set(expected):  # every row of the file is stored (as often as it is in it)
        assert stored.count(row) >= expected.count(row)


# -- montage files -----------------------------------------------------------------------------
@st.composite
def montage_text(draw) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=100))
    clean = draw(st.integers(0, 2)) == 0  # a third of the files are valid as written
    rows = [["channel", "roi"] if clean else draw(st.sampled_from(
        [["channel", "roi"], ["roi", "channel"], ["channel", "ROI"], ["channel", "roi", "x"]]))]
    pairs = draw(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 20)), unique=True,
                          min_size=1 if clean else 0, max_size=5))
    for source, detector in pairs:
        channel, roi = f"S{source}_D{detector}", draw(st.sampled_from(["lPFC", "rPFC", "TPJ"]))
        if not clean and draw(st.booleans()):
            channel = draw(cell)
        if not clean and draw(st.booleans()):
            roi = draw(cell)
        rows.append([channel, roi] if rows[0][0] == "channel" else [roi, channel])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@settings(FUZZ, max_examples=100)
@given(text=montage_text())
def test_montage(text):
    with time_limit(10):
        try:
            result = parse_montage(text)
        except StudyError as exc:
            event("refused")
            assert str(exc)
            return
    event("accepted")
    reference = {(r.get("channel") or "").strip(): (r.get("roi") or "").strip()
                 for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert result == reference
    assert all(CHANNEL_RE.fullmatch(c) and CODE_RE.fullmatch(r) for c, r in result.items())


@settings(FUZZ, max_examples=30)
@given(data=st.binary(max_size=200))
def test_montage_file_bytes(tmp_path, data):
    path = tmp_path / "montage.csv"
    path.write_bytes(data)
    with time_limit(10):
        try:
            load_montage(path)
        except StudyError as exc:
            assert str(exc)


# -- mapping CSV files for batch scan imports --------------------------------------------------
@pytest.fixture
def scan_inputs(fuzz_study):
    from tests.test_scans import write_snirf

    inputs = fuzz_study[0].parent / "in"
    write_snirf(inputs / "ok.snirf", n_pairs=2, duration=20.0)
    (inputs / "notes.txt").write_text("not a recording")
    (inputs / "empty.snirf").write_bytes(b"")
    return fuzz_study, inputs


@st.composite
def mapping_csv(draw) -> bytes:
    header = draw(st.sampled_from([["path", "dyad", "session", "role"],
                                   ["role", "session", "dyad", "path"], ["path", "dyad"],
                                   ["path", "dyad", "session", "role", "x"]]))
    rows = [header]
    for _ in range(draw(st.integers(0, 3))):
        valid = {"path": draw(st.sampled_from(["ok.snirf", "notes.txt", "empty.snirf",
                                               "missing.snirf", *SQL_AND_PATHS[2:5], "/",
                                               "."])),
                 "dyad": draw(st.sampled_from(["D01", "D02", *SQL_AND_PATHS[:2]])),
                 "session": draw(st.sampled_from(["2", "3", "1", "0", "x"])),
                 "role": draw(st.sampled_from(["patient", "therapist", "other"]))}
        row = [valid.get(h, "") for h in header]
        if draw(st.integers(0, 3)) == 0:
            row[draw(st.integers(0, len(row) - 1))] = draw(cell)
        if draw(st.integers(0, 9)) == 0:
            row.append("surplus")
        rows.append(row)
    return draw(mutated_bytes(write_csv(rows, ",", False, False)))


@settings(FUZZ, max_examples=25)
@given(data=mapping_csv())
def test_mapping_csv(scan_inputs, data):
    (folder, db), inputs = scan_inputs
    path = inputs / "map.csv"
    path.write_bytes(data)
    with open_study(db) as study:
        n_before = len(study.scans())
    result = attempt(folder, db, lambda s: s.import_scans_dir(inputs, mapping=path), 120)
    if isinstance(result, StudyError):
        return
    assert set(result["outcome"]) <= {"imported", "skipped", "refused"}
    assert all(result.loc[result["outcome"] == "refused", "detail"].str.len() > 0)
    imported = result[result["outcome"] == "imported"]
    ok_sha = hashlib.sha256((inputs / "ok.snirf").read_bytes()).hexdigest()
    with open_study(db) as study:
        scans = study.scans()
        assert len(scans) == n_before + len(imported)
        assert set(scans["sha256"]) <= {ok_sha}  # only the real recording was ever stored
    assert set(imported["path"]) <= {"ok.snirf"}


# -- SNIRF headers -----------------------------------------------------------------------------
@pytest.fixture
def snirf_base(fuzz_study):
    from tests.test_scans import write_snirf

    base = write_snirf(fuzz_study[0].parent / "in" / "base.snirf", n_pairs=2, duration=20.0,
                       annotations=[(2.0, 1.0, "start")])
    with h5py.File(base) as h5:
        datasets = []
        h5.visititems(lambda name, obj: datasets.append(name)
                      if isinstance(obj, h5py.Dataset) else None)
    return fuzz_study, base, sorted(datasets)


VALUES = {
    "text": b"garbage", "empty text": b"", "zero": 0, "negative": -1, "nan": np.nan,
    "inf": np.inf, "huge int": 2**40, "empty array": np.array([]),
    "nan matrix": np.full((3, 3), np.nan), "int8": np.int8(5), "2x2": np.array([[1, 2], [3, 4]]),
    "float32 vector": np.arange(5, dtype=np.float32), "strings": np.array([b"a", b"b"]),
    "extremes": np.array([1e308, -1e308]), "bool": True,
}
SPECIAL = [
    ("nirs/data1/measurementList1/sourceIndex", 99),
    ("nirs/data1/measurementList2/wavelengthIndex", 3),
    ("nirs/data1/measurementList3/detectorIndex", -1),
    ("nirs/probe/wavelengths", np.array([0.0, -1.0])),
    ("nirs/data1/time", np.zeros(200)),
    ("nirs/data1/time", np.arange(200)[::-1] * 0.1),
    ("nirs/data1/time", np.array([0.0, 1e-12 * 199])),
    ("nirs/data1/time", np.arange(150) * 0.1),
    ("nirs/data1/dataTimeSeries", np.full((200, 4), np.inf)),
    ("nirs/data1/dataTimeSeries", np.zeros((200, 4))),
    ("nirs/data1/dataTimeSeries", np.ones((200, 3))),
    ("nirs/data1/dataTimeSeries", np.ones((4, 200))),
    ("nirs/stim1/data", np.array([[1e12, 1.0, 1.0]])),
    ("nirs/stim1/data", np.array([[np.nan, 1.0, 1.0]])),
    ("nirs/stim1/name", b"x" * 500),
    ("nirs/metaDataTags/MeasurementDate", b"2025-13-45"),
    ("nirs/metaDataTags/MeasurementTime", b"25:61:99"),
    ("nirs/metaDataTags/LengthUnit", b"furlong"),
    ("nirs/probe/sourcePos3D", np.full((2, 3), np.nan)),
    ("nirs/probe/detectorPos3D", np.zeros((2, 2))),
    ("formatVersion", b"9.9"),
]


BENIGN = [  # changes a valid recording may well have
    ("nirs/metaDataTags/SubjectID", b"JaneDoe"),
    ("nirs/metaDataTags/lastName", b"Doe"),
    ("nirs/metaDataTags/MeasurementTime", b"10:00:00"),
    ("nirs/stim1/name", b"rest"),
    ("nirs/stim1/data", np.array([[1.0, 2.0, 1.0], [5.0, 1.0, 1.0]])),
    ("nirs/metaDataTags/Comment", b"pilot"),
]


@st.composite
def snirf_mutations(draw, datasets: list[str]) -> list[tuple]:
    ops = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["delete", "replace", "special", "huge", "second group",
                                     "benign", "benign", "benign"]))
        if kind == "delete":
            ops.append(("delete", draw(st.sampled_from(datasets + ["nirs/probe", "nirs/data1",
                                                                   "nirs/metaDataTags"]))))
        elif kind == "replace":
            ops.append(("replace", draw(st.sampled_from(datasets)),
                        draw(st.sampled_from(sorted(VALUES)))))
        elif kind == "special":
            ops.append(("special", draw(st.integers(0, len(SPECIAL) - 1))))
        elif kind == "benign":
            ops.append(("benign", draw(st.integers(0, len(BENIGN) - 1))))
        else:
            ops.append((kind,))
    return ops


def apply(path: Path, ops: list[tuple]) -> None:
    with h5py.File(path, "r+") as h5:
        for op in ops:
            if op[0] == "delete" and op[1] in h5:
                del h5[op[1]]
            elif op[0] == "replace" and op[1] in h5:
                del h5[op[1]]
                h5[op[1]] = VALUES[op[2]]
            elif op[0] in ("special", "benign"):
                name, value = (SPECIAL if op[0] == "special" else BENIGN)[op[1]]
                if name in h5:
                    del h5[name]
                h5[name] = value
            elif op[0] == "huge" and "nirs/data1" in h5:
                # declared 2^31 x 4 samples (64 GB once read), stored as almost nothing
                if "nirs/data1/dataTimeSeries" in h5:
                    del h5["nirs/data1/dataTimeSeries"]
                h5.create_dataset("nirs/data1/dataTimeSeries", shape=(2**31, 4), dtype="f8",
                                  chunks=(1024, 4))
            elif op[0] == "second group" and "nirs" in h5 and "nirs2" not in h5:
                h5.copy(h5["nirs"], "nirs2")


@settings(FUZZ, max_examples=45)
@given(data=st.data())
def test_snirf_headers(snirf_base, data):
    """Mutated SNIRF files (datasets deleted, replaced by wrong types or shapes, damaged time
    stamps, a declared size of 64 GB, two recordings in one file) through the whole import."""
    import mne

    (folder, db), base, datasets = snirf_base
    ops = data.draw(snirf_mutations(datasets))
    path = folder.parent / "in" / "mutated.snirf"
    shutil.copy(base, path)
    apply(path, ops)
    with open_study(db) as study:
        number = 10 + len(study.scans())  # a fresh session each time
    result = attempt(folder, db, lambda s: s.import_scan("D01", number, "patient", path), 60)
    if isinstance(result, StudyError):
        return
    assert result["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with open_study(db) as study:
        stored = study.load_scan("D01", number, "patient")
    reference = mne.io.read_raw_snirf(path, preload=True, verbose="error")
    assert stored.ch_names == reference.ch_names
    assert math.isclose(stored.info["sfreq"], reference.info["sfreq"])
    np.testing.assert_array_equal(stored.get_data(), reference.get_data())


# -- identifiers and typed item values ---------------------------------------------------------
@settings(FUZZ, max_examples=100)
@given(text=st.one_of(st.text(max_size=40), st.sampled_from(SQL_AND_PATHS),
                      st.from_regex(r"[A-Za-z0-9_-]{1,34}", fullmatch=True)))
def test_identifiers_are_codes_or_refused(fuzz_study, text):
    folder, db = fuzz_study
    try:
        assert check_code(text) == text and CODE_RE.fullmatch(text)
    except StudyError:
        assert not CODE_RE.fullmatch(text)
    result = attempt(folder, db, lambda s: s.add_person(text, "patient"))
    if not isinstance(result, StudyError):
        assert CODE_RE.fullmatch(text)
        with open_study(db) as study:
            assert text in set(study.people()["code"])


@pytest.mark.parametrize("bad", SQL_AND_PATHS)
def test_sql_and_paths_are_refused_everywhere(fuzz_study, bad):
    """Every way a user can name something refuses an identifier that looks like SQL or a path,
    with a clear error, and nothing changes (the tables are all still there)."""
    folder, db = fuzz_study
    path = folder.parent / "in" / "events.csv"
    path.write_text("onset,duration,label\n1,0,MOI\n")
    calls = [
        lambda s: s.add_person(bad, "patient"),
        lambda s: s.add_dyad(bad, therapist="T01", patient="P09"),
        lambda s: s.add_dyad("D09", therapist=bad, patient="P09"),
        lambda s: s.add_dyad("D09", therapist="T01", patient=bad),
        lambda s: s.add_session(bad, 1),
        lambda s: s.session_id(bad, 1),
        lambda s: s.lock_session(bad, 2),
        lambda s: s.scores(dyad=bad),
        lambda s: s.scans(dyad=bad),
        lambda s: s.events(dyad=bad),
        lambda s: s.instrument(bad),
        lambda s: s.import_events("D01", 2, path, rater=bad),
        lambda s: entry.enter_response(s, bad, 2, "gad7", role="patient",
                                       timing="pre", items=[0] * 7),
        lambda s: entry.enter_response(s, "D01", 2, bad, role="patient",
                                       timing="pre", items=[0] * 7),
        lambda s: s.import_scan(bad, 2, "patient", path),
        lambda s: s.import_scan("D01", 2, bad, path),
    ]
    for call in calls:
        assert isinstance(attempt(folder, db, call), StudyError)
    with sqlite_tables(db) as tables:
        assert {"people", "dyads", "sessions", "responses", "audit_log"} <= tables
    before = snapshot(folder)
    result = Cli(db)("dyad", "add", bad, "--therapist", "T01", "--patient", "P09")
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")
    assert snapshot(folder) == before


@contextlib.contextmanager
def sqlite_tables(db: Path):
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        yield {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


item_token = st.one_of(st.integers(0, 3).map(str), st.integers(0, 3).map(str),
                       st.integers(0, 3).map(str), st.sampled_from(HOSTILE))
item_text = st.one_of(st.lists(st.integers(0, 3).map(str), min_size=7, max_size=7),
                      st.lists(item_token, min_size=7, max_size=7),
                      st.lists(item_token, max_size=9)).map(",".join)


@settings(FUZZ, max_examples=60)
@given(text=st.one_of(item_text, st.text(max_size=30)),
       slot=st.tuples(st.integers(2, 99), st.sampled_from(["patient", "therapist"]),
                      st.sampled_from(["pre", "post"])))
def test_typed_item_values(fuzz_study, text, slot):
    folder, db = fuzz_study
    session, role, timing = slot
    result = attempt(folder, db, lambda s: entry.enter_response(
        s, "D01", session, "gad7", role=role, timing=timing, items=text))
    if isinstance(result, StudyError):
        return
    parts = [p.strip() for p in text.split(",")]
    if "=" in text:  # items named by id: "1=3,2=0,..."
        named = dict(p.split("=", 1) for p in parts)
        parts = [named[str(j)].strip() for j in range(1, 8)]
    assert len(parts) == 7
    with open_study(db) as study:
        items = study.items(dyad="D01", instrument="gad7", session=session)
        items = items[(items["role"] == role) & (items["timing"] == timing)]
        stored = [m if isinstance(m, str) else v for v, m in
                  zip(items["value"], items["missing"], strict=True)]
    assert stored == [expected_items(p) for p in parts]
