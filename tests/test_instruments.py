"""Tests of studymgr.compute.instruments (definitions, parsing, scoring, reliability).

What each test compares with is said in its docstring: hand-computed scores written out below,
the published score ranges and bands of each instrument, an independent sha256 of the canonical
JSON, the textbook alpha formula from item variances, and Feldt's interval computed with scipy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from studymgr.compute.instruments import (
    Instrument,
    ItemValues,
    builtin_instruments,
    cronbach_alpha,
    load_instrument,
    missing_codes,
    reverse_key,
)
from studymgr.errors import InputError
from studymgr.resources import schemas_dir

BUILTIN = builtin_instruments()
SETTINGS = settings(max_examples=150, deadline=None)


def values_of(scores):
    """Map scale id -> score value."""
    return {s.scale: s.value for s in scores}


def by_scale(scores):
    return {s.scale: s for s in scores}


# A user-defined instrument with reverse-keyed items, two subscales, proration and bands.
MOOD = {
    "name": "mood_check",
    "version": "0.1",
    "title": "Study-specific mood check",
    "construct": "other",
    "roles": ["patient", "therapist"],
    "timings": ["pre"],
    "items": [
        {"id": "a1", "min": 1, "max": 5},
        {"id": "a2", "min": 1, "max": 5, "reverse": True},
        {"id": "b1", "min": 1, "max": 5},
        {"id": "b2", "min": 1, "max": 5, "reverse": True},
        {"id": "c", "choices": [0, 1, 2]},
    ],
    "scales": [
        {"id": "a", "items": ["a1", "a2"], "method": "sum"},
        {"id": "b", "items": ["b1", "b2"], "method": "mean", "min_items": 1, "prorate": True},
        {
            "id": "total",
            "items": ["a1", "a2", "b1", "b2"],
            "method": "sum",
            "min_items": 3,
            "prorate": True,
            "bands": [[4, 10, "low"], [11, 20, "high"]],
        },
        {"id": "total100", "derived_from": "total", "multiply": 5, "add": -20},
    ],
    "primary": "total",
}


# --------------------------------------------------------------------------------------------
# Shipped definitions
# --------------------------------------------------------------------------------------------


def test_builtin_set_and_metadata():
    """The shipped set and each construct/role/timing, compared with the issue's specification."""
    assert set(BUILTIN) == {"wai-sr", "who5", "gad7", "ors", "srs", "state-test-anxiety"}
    expected = {
        "wai-sr": ("alliance", ("post",)),
        "who5": ("wellbeing", ("pre", "post")),
        "gad7": ("symptoms", ("pre", "post")),
        "ors": ("wellbeing", ("pre", "post")),
        "srs": ("session_quality", ("post",)),
        "state-test-anxiety": ("symptoms", ("pre", "post")),
    }
    for name, (construct, timings) in expected.items():
        inst = BUILTIN[name]
        assert inst.construct == construct
        assert inst.timings == timings
        assert "patient" in inst.roles
        assert inst.version and inst.title
        assert inst.primary_scale.id == inst.primary


def test_builtin_item_counts_ranges_and_published_score_ranges():
    """Item counts/ranges and scale ranges compared with the published scoring rules."""
    expect_items = {
        "wai-sr": (12, 1, 5),
        "who5": (5, 0, 5),
        "gad7": (7, 0, 3),
        "ors": (4, 0, 10),
        "srs": (4, 0, 10),
        "state-test-anxiety": (6, 0, 6),
    }
    for name, (n, lo, hi) in expect_items.items():
        inst = BUILTIN[name]
        assert len(inst.items) == n
        assert all((it.min, it.max) == (lo, hi) for it in inst.items)
        assert inst.item_ids == tuple(str(i) for i in range(1, n + 1))
    expect_ranges = {
        ("wai-sr", "task"): (4, 20),
        ("wai-sr", "bond"): (4, 20),
        ("wai-sr", "goal"): (4, 20),
        ("wai-sr", "total"): (12, 60),
        ("who5", "raw"): (0, 25),
        ("who5", "percentage"): (0, 100),
        ("gad7", "total"): (0, 21),
        ("ors", "total"): (0, 40),
        ("srs", "total"): (0, 40),
        ("state-test-anxiety", "mean"): (0, 6),
    }
    for (name, scale), rng in expect_ranges.items():
        assert BUILTIN[name].scale(scale).range == rng
    # WAI-SR subscale keys (Hatcher & Gillaspy 2006) and no reverse keys.
    wai = BUILTIN["wai-sr"]
    assert wai.scale("task").items == ("1", "2", "10", "12")
    assert wai.scale("bond").items == ("3", "5", "7", "9")
    assert wai.scale("goal").items == ("4", "6", "8", "11")
    assert not any(it.reverse for it in wai.items)


def test_builtin_have_no_item_wording_and_hash_is_canonical_sha256():
    """Shipped files hold scoring keys only; content_hash equals an independent sha256 of the
    canonical JSON (sorted keys, no whitespace)."""
    folder = schemas_dir() / "instruments"
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for item in doc["items"]:
            assert set(item) <= {"id", "min", "max", "step", "choices", "reverse"}
            assert item["id"].isdigit()
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert BUILTIN[doc["name"]].content_hash == hashlib.sha256(canonical.encode()).hexdigest()
        assert doc.get("citation") or doc.get("notes")


def test_content_hash_ignores_key_order_and_whitespace(tmp_path):
    """Same definition, reordered keys and indented file -> same hash; a changed key -> new hash."""
    reordered = dict(reversed(list(MOOD.items())))
    path = tmp_path / "mood.json"
    path.write_text(json.dumps(MOOD, indent=4), encoding="utf-8")
    assert load_instrument(reordered).content_hash == load_instrument(path).content_hash
    assert load_instrument(reordered) == load_instrument(path)
    changed = copy.deepcopy(MOOD)
    changed["items"][0]["max"] = 6
    assert load_instrument(changed).content_hash != load_instrument(MOOD).content_hash


# --------------------------------------------------------------------------------------------
# Hand-computed scores
# --------------------------------------------------------------------------------------------


def test_gad7_hand_examples_and_severity_bands():
    """GAD-7 totals by hand and Spitzer et al. (2006) bands 0-4/5-9/10-14/15-21."""
    gad = BUILTIN["gad7"]
    s = by_scale(gad.score([0, 1, 2, 3, 0, 1, 2]))["total"]  # 0+1+2+3+0+1+2 = 9
    assert (s.value, s.band, s.n_answered, s.n_items, s.prorated) == (9, "mild", 7, 7, False)
    for items, total, band in [
        ([0, 0, 0, 0, 1, 1, 2], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
        ([2, 2, 2, 1, 1, 1, 0], 9, "mild"),
        ([2, 2, 2, 2, 1, 1, 0], 10, "moderate"),
        ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
        ([3, 3, 3, 2, 2, 2, 0], 15, "severe"),
        ([3, 3, 3, 3, 3, 3, 3], 21, "severe"),
        ([0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
    ]:
        s = by_scale(gad.score(items))["total"]
        assert (s.value, s.band) == (total, band)
    # One item missing: 3+3+3+3+3+2 = 17, prorated 17 * 7 / 6 = 19.8333...
    s = by_scale(gad.score([3, 3, 3, 3, 3, 2, "NA"]))["total"]
    assert s.value == pytest.approx(119 / 6)
    assert (s.n_answered, s.prorated, s.band) == (6, True, "severe")
    # Prorated 4 * 7 / 6 = 4.67 lies between 'minimal' (0-4) and 'mild' (5-9): the lower band.
    s = by_scale(gad.score([1, 1, 1, 1, 0, 0, None]))["total"]
    assert s.value == pytest.approx(28 / 6)
    assert s.band == "minimal"
    # Two items missing: below min_items 6 -> missing score, no band.
    s = by_scale(gad.score([3, 3, "REF", 3, 3, "NR", 1]))["total"]
    assert (s.value, s.band, s.n_answered, s.prorated) == (None, None, 5, False)


def test_who5_raw_and_percentage_by_hand():
    """WHO-5: raw = sum (0-25), percentage = raw x 4; bands raw < 13 and pct <= 28 / <= 50."""
    who = BUILTIN["who5"]
    ok = "no indication of poor wellbeing"
    s = by_scale(who.score([5, 4, 3, 2, 1]))  # raw 15, pct 60
    assert (s["raw"].value, s["percentage"].value) == (15, 60)
    assert s["raw"].band == s["percentage"].band == ok
    for items, raw, pct, raw_band, pct_band in [
        ([2, 2, 1, 1, 1], 7, 28, "poor wellbeing", "likely depression"),
        ([2, 2, 2, 1, 1], 8, 32, "poor wellbeing", "poor wellbeing"),
        ([3, 3, 2, 2, 2], 12, 48, "poor wellbeing", "poor wellbeing"),
        ([3, 3, 3, 2, 2], 13, 52, ok, ok),
        ([0, 0, 0, 0, 0], 0, 0, "poor wellbeing", "likely depression"),
        ([5, 5, 5, 5, 5], 25, 100, ok, ok),
    ]:
        s = by_scale(who.score(items))
        assert (s["raw"].value, s["percentage"].value) == (raw, pct)
        assert (s["raw"].band, s["percentage"].band) == (raw_band, pct_band)
    # No proration for WHO-5: one missing item -> both scores missing.
    s = by_scale(who.score([5, 4, 3, 2, "NA"]))
    assert s["raw"].value is None and s["percentage"].value is None
    assert s["percentage"].n_answered == 4


def test_wai_sr_subscales_and_prorating_by_hand():
    """WAI-SR Task 1,2,10,12 / Bond 3,5,7,9 / Goal 4,6,8,11 sums and prorated totals by hand."""
    wai = BUILTIN["wai-sr"]
    items = [5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 5, 4]  # item i+1 = items[i]
    s = values_of(wai.score(items))
    assert s == {"task": 5 + 4 + 1 + 4, "bond": 3 + 1 + 4 + 2, "goal": 2 + 5 + 3 + 5, "total": 39}
    # Item 1 missing: task = (4 + 1 + 4) * 4 / 3 = 12; total = 34 * 12 / 11.
    s = by_scale(wai.score(["NA", *items[1:]]))
    assert s["task"].value == 12 and s["task"].prorated
    assert s["total"].value == pytest.approx(34 * 12 / 11)
    assert (s["bond"].value, s["bond"].prorated) == (10, False)
    # Items 1 and 2 missing: task below 3 of 4 -> missing; total 30 * 12 / 10 = 36.
    s = by_scale(wai.score(["NA", "NA", *items[2:]]))
    assert s["task"].value is None
    assert s["total"].value == pytest.approx(36)
    # Three missing (1, 2, 3): total below 10 of 12 -> missing.
    s = by_scale(wai.score(["NA", "REF", "NR", *items[3:]]))
    assert s["total"].value is None and s["total"].n_answered == 9


def test_ors_srs_visual_analogue_by_hand():
    """ORS/SRS totals of millimetre-resolution VAS marks, summed by hand."""
    s = by_scale(BUILTIN["ors"].score(["7.3", 5.0, 6.1, 8]))["total"]
    assert s.value == pytest.approx(26.4) and not s.prorated
    s = by_scale(BUILTIN["srs"].score([9.5, 9, 8.2, 10]))["total"]
    assert s.value == pytest.approx(36.7)
    assert by_scale(BUILTIN["srs"].score([9.5, 9, "NA", 10]))["total"].value is None
    with pytest.raises(InputError, match=r"srs: item '1' = 9.55 is not an allowed value"):
        BUILTIN["srs"].parse_items([9.55, 9, 8, 10])


def test_state_test_anxiety_mean_by_hand():
    """State test anxiety: mean of answered items, needing 5 of 6."""
    sta = BUILTIN["state-test-anxiety"]
    assert values_of(sta.score([0, 1, 2, 3, 4, 5])) == {"mean": 2.5}
    s = by_scale(sta.score([6, 6, 5, "NA", 4, 4]))["mean"]  # (6+6+5+4+4)/5 = 5
    assert (s.value, s.prorated, s.n_answered) == (5, True, 5)
    assert by_scale(sta.score([6, 6, "NA", "NA", 4, 4]))["mean"].value is None


def test_user_instrument_reverse_keys_subscales_derived_by_hand(tmp_path):
    """A user-defined JSON file loads; reverse keys (1-5: 6 - x), mean subscale, prorated sum,
    bands and a linear transform, all computed by hand."""
    path = tmp_path / "mood.json"
    path.write_text(json.dumps(MOOD), encoding="utf-8")
    inst = load_instrument(str(path))
    assert isinstance(inst, Instrument) and inst.name == "mood_check"
    # a1=5, a2=1 -> 5 + (6-1) = 10; b1=4, b2=2 -> mean(4, 6-2) = 4; total = 5+5+4+4 = 18.
    s = by_scale(inst.score({"a1": 5, "a2": 1, "b1": 4, "b2": 2, "c": 2}))
    assert s["a"].value == 10
    assert s["b"].value == 4
    assert (s["total"].value, s["total"].band) == (18, "high")
    assert s["total100"].value == 18 * 5 - 20
    assert inst.scale("total100").range == (0, 80)  # (4..20) * 5 - 20
    # b2 missing: b = mean(b1) = 4 (prorated), total = (5 + 5 + 4) * 4 / 3 = 18.67.
    s = by_scale(inst.score({"a1": 5, "a2": 1, "b1": 4}))
    assert (s["b"].value, s["b"].prorated) == (4, True)
    assert s["total"].value == pytest.approx(56 / 3)
    assert s["total100"].value == pytest.approx(56 / 3 * 5 - 20)
    assert s["total100"].prorated
    # a2 missing: 'a' needs both items -> missing; total = (5 + 4 + 4) * 4 / 3 = 17.33.
    s = by_scale(inst.score({"a1": 5, "b1": 4, "b2": 2}))
    assert s["a"].value is None
    assert s["total"].value == pytest.approx(52 / 3)
    # 'low' band: all items at the unfavourable end -> total 4.
    s = by_scale(inst.score({"a1": 1, "a2": 5, "b1": 1, "b2": 5, "c": 0}))
    assert (s["total"].value, s["total"].band) == (4, "low")


def test_reverse_key_examples():
    """reverse_key = min + max - value, checked on hand examples (1-5 and 0-10 in 0.1 steps)."""
    inst = load_instrument(MOOD)
    assert [reverse_key(v, inst.item("a2")) for v in [1, 2, 3, 4, 5]] == [5, 4, 3, 2, 1]
    ors_item = BUILTIN["ors"].item("1")
    assert reverse_key(7.3, ors_item) == pytest.approx(2.7)
    assert reverse_key(reverse_key(7.3, ors_item), ors_item) == 7.3


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def test_parse_items_missing_codes_kept_apart():
    """None, "", "NA", NaN -> NA; REF and NR kept as typed codes; values parsed as numbers."""
    gad = BUILTIN["gad7"]
    parsed = gad.parse_items([0, "1", " 2 ", "REF", None, "", float("nan")])
    assert isinstance(parsed, ItemValues)
    assert dict(parsed.values) == {
        "1": 0, "2": 1, "3": 2, "4": None, "5": None, "6": None, "7": None,
    }  # fmt: skip
    assert dict(parsed.missing) == {"4": "REF", "5": "NA", "6": "NA", "7": "NA"}
    assert parsed.n_answered == 3
    assert isinstance(parsed.values["2"], int)
    assert gad.parse_items([0, 1, 2, "nr", "ref", "na", 3.0]).missing == {
        "4": "NR", "5": "REF", "6": "NA",
    }  # fmt: skip
    assert set(missing_codes()) == {"NA", "REF", "NR"}
    # A pandas row (NaN for an empty cell) and a numpy array parse like a list.
    row = pd.Series([0, 1, 2, 3, np.nan, 1, np.int64(2)])
    assert gad.parse_items(row) == gad.parse_items(np.array([0, 1, 2, 3, np.nan, 1, 2]))
    assert gad.parse_items(row).missing == {"5": "NA"}
    # Parsed values and instruments survive pickling (multiprocessing in the pipeline).
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    assert pickle.loads(pickle.dumps(gad)) == gad


def test_parse_mapping():
    """Item ids as strings or ints; absent items are NA; unknown/duplicate ids refused."""
    gad = BUILTIN["gad7"]
    parsed = gad.parse_mapping({1: 3, "2": 2, "7": "NR"})
    assert parsed.values["1"] == 3 and parsed.values["2"] == 2
    assert parsed.missing == {"3": "NA", "4": "NA", "5": "NA", "6": "NA", "7": "NR"}
    with pytest.raises(InputError, match=r"gad7: unknown item '8'; items are 1, 2"):
        gad.parse_mapping({"8": 1})
    with pytest.raises(InputError, match="given twice"):
        gad.parse_mapping({1: 1, "1": 1})
    with pytest.raises(InputError, match="expected a mapping"):
        gad.parse_mapping([1, 2])


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        ([0, 1, 2, 3, 0, 1], r"gad7: expected 7 item values .* got 6"),
        ([0, 1, 2, 3, 0, 1, 2, 3], r"got 8"),
        ([0, 1, 2, 3, 0, 1, 4], r"item '7' = 4 is out of range; allowed 0-3 in steps of 1"),
        ([0, 1, 2, 3, 0, 1, -1], r"item '7' = -1 is out of range"),
        ([0, 1, 2, 3, 0, 1, 2.5], r"item '7' = 2.5 is not an allowed value; allowed 0-3"),
        ([0, 1, 2, 3, 0, 1, "2.5"], r"item '7' = 2.5 is not an allowed value"),
        ([0, 1, 2, 3, 0, 1, "two"], r"item '7' = 'two' is neither a number nor a missing code"),
        ([0, 1, 2, 3, 0, 1, True], r"item '7' = True is not a number"),
        ([0, 1, 2, 3, 0, 1, float("inf")], r"item '7' = inf is out of range"),
        ([0, 1, 2, 3, 0, 1, "nan"], r"item '7' = 'nan' is not a value; write NA"),
        ([0, 1, 2, 3, 0, 1, [1]], r"item '7' = \[1\] has type list"),
        ("0123012", r"expected a list of 7 item values, got str"),
    ],
)
def test_parse_items_refuses_bad_values(values, pattern):
    """Bad values give one-line InputErrors naming the item and the allowed range."""
    with pytest.raises(InputError, match=pattern) as info:
        BUILTIN["gad7"].parse_items(values)
    assert "\n" not in str(info.value)


def test_choices_and_restricted_missing_codes():
    """Explicit choices refuse other values; an instrument may restrict its missing codes."""
    definition = copy.deepcopy(MOOD)
    definition["missing_codes"] = ["NA"]
    inst = load_instrument(definition)
    with pytest.raises(InputError, match=r"item 'c' = 3 is out of range; allowed one of 0, 1, 2"):
        inst.parse_mapping({"c": 3})
    definition["items"][4] = {"id": "c", "choices": [0, 1, 3]}
    inst = load_instrument(definition)
    with pytest.raises(InputError, match=r"item 'c' = 2 is not an allowed value; allowed one of"):
        inst.parse_mapping({"c": 2})
    with pytest.raises(InputError, match=r"missing code 'REF' is not accepted .* use one of NA"):
        inst.parse_mapping({"c": "REF"})


def test_score_refuses_values_of_another_definition():
    """ItemValues carry the definition hash; scoring them with another definition is refused."""
    parsed = BUILTIN["gad7"].parse_items([0] * 7)
    other = copy.deepcopy(BUILTIN["gad7"].definition)
    other["version"] = "2"
    with pytest.raises(InputError, match="different definition"):
        load_instrument(other).score(parsed)
    assert values_of(BUILTIN["gad7"].score(parsed)) == {"total": 0}


# --------------------------------------------------------------------------------------------
# Malformed definitions
# --------------------------------------------------------------------------------------------


def _gad7():
    return copy.deepcopy(BUILTIN["gad7"].definition)


def _set(path, value):
    def edit(d):
        target = d
        for key in path[:-1]:
            target = target[key]
        if isinstance(target, list) and path[-1] == len(target):
            target.append(value)  # one past the end: add an element
        else:
            target[path[-1]] = value

    return edit


def _derived(scale_id, source="total", **extra):
    return {"id": scale_id, "derived_from": source, **extra}


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda d: d.pop("items"), r"top level: 'items' is a required property"),
        (lambda d: d.pop("primary"), r"'primary' is a required property"),
        (_set(["name"], "../x"), r"name: '\.\./x' does not match .*; use 1-32 letters"),
        (_set(["name"], "a" * 33), r"name: .* does not match"),
        (_set(["name"], ""), r"name: '' does not match"),
        (_set(["version"], 2), r"version: 2 is not of type 'string'"),
        (_set(["construct"], "mood"), r"construct: 'mood' is not one of"),
        (_set(["roles"], ["client"]), r"roles\[0\]: 'client' is not one of"),
        (_set(["timings"], []), r"timings: \[\] should be non-empty"),
        (_set(["items", 0, "min"], 5), r"item '1' has min 5 >= max 3; min must be below max"),
        (_set(["items", 0, "max"], "3"), r"items\[0\]\.max: '3' is not of type 'number'"),
        (_set(["items", 0, "step"], 2), r"item '1': step 2 does not divide the range 0-3"),
        (_set(["items", 0, "step"], 0), r"items\[0\]\.step: 0 is less than or equal"),
        (_set(["items", 0, "text"], "Feeling nervous"), r"'text' was unexpected\).*item wording"),
        (_set(["items", 0, "choices"], [0, 1]), r"either min/max \(and step\) or choices"),
        (lambda d: d["items"][0].pop("max"), r"items\[0\]: 'max' is a required property"),
        (_set(["items", 1, "id"], "1"), r"item id '1' is used twice"),
        (lambda d: d["scales"][0]["items"].append("8"), r"scale 'total' names unknown item '8'"),
        (_set(["scales", 0, "method"], "median"), r"method: 'median' is not one of"),
        (_set(["scales", 0, "min_items"], 8), r"min_items 8 but only 7 items"),
        (_set(["scales", 0, "prorate"], False), r"set \"prorate\": true or min_items to 7"),
        (_set(["scales", 0, "multiply"], 2), r"multiply/add are only for a scale with derived"),
        (_set(["scales", 0, "bands", 3], [15, 22, "severe"]), r"'severe' \(15-22\) lies outside"),
        (_set(["scales", 0, "bands", 1], [4, 9, "mild"]), r"bands 'minimal' and 'mild' overlap"),
        (_set(["scales", 0, "bands", 1], [9, 5, "mild"]), r"band 'mild' has low 9 > high 5"),
        (_set(["scales", 0, "bands", 1], [5, 9]), r"bands\[1\]: .* is too short"),
        (_set(["scales", 1], _derived("total")), r"scale id 'total' is used twice"),
        (_set(["scales", 1], _derived("p", "nope")), r"derived from 'nope', which is not a scale"),
        (_set(["scales", 1], _derived("p", multiply=0)), r"non-zero"),
        (_set(["scales", 1], _derived("p", method="sum")), r"remove items/method"),
        (_set(["primary"], "nope"), r"primary scale 'nope' is not one of the scales \(total\)"),
        (_set(["missing_codes"], ["XX"]), r"missing_codes\[0\]: 'XX' is not one of"),
        (_set(["items", 0, "min"], float("nan")), r"not representable as JSON"),
    ],
)  # fmt: skip
def test_malformed_definitions_refused(edit, pattern):
    """Each malformed definition is refused with a one-line InputError saying what is wrong."""
    definition = _gad7()
    edit(definition)
    with pytest.raises(InputError, match=pattern) as info:
        load_instrument(definition)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("instrument ")


def test_derived_from_derived_and_asymmetric_reverse_choices_refused():
    """A transform of a transform, and reverse keying of asymmetric choices, are refused."""
    d = _gad7()
    d["scales"] += [
        {"id": "p", "derived_from": "total", "multiply": 2},
        {"id": "q", "derived_from": "p", "add": 1},
    ]
    with pytest.raises(InputError, match="derived from 'p', which is a derived scale"):
        load_instrument(d)
    d = copy.deepcopy(MOOD)
    d["items"][4] = {"id": "c", "choices": [0, 1, 3], "reverse": True}
    with pytest.raises(InputError, match="item 'c' is reverse-keyed but its choices are not sym"):
        load_instrument(d)
    d["items"][4] = {"id": "c", "choices": [0, 1, 3, 4], "reverse": True}
    assert load_instrument(d).item("c").choices == (0, 1, 3, 4)


def test_file_errors_name_the_file(tmp_path):
    """File problems are one-line InputErrors starting with the file name."""
    bad = _gad7()
    bad["scales"][0]["items"].append("8")
    path = tmp_path / "gad7.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_instrument(path)
    assert str(info.value) == "gad7.json: scale 'total' names unknown item '8'"

    path.write_text('{"name": "x",', encoding="utf-8")
    with pytest.raises(InputError, match=r"^gad7\.json: not valid JSON \(line 1, column 14"):
        load_instrument(path)
    path.write_text(json.dumps(_gad7()).replace('"max": 3', '"max": NaN', 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"^gad7\.json: NaN is not allowed"):
        load_instrument(path)
    with pytest.raises(InputError, match=r"^missing\.json: file not found"):
        load_instrument(tmp_path / "missing.json")
    with pytest.raises(InputError, match=r"cannot read the file"):
        load_instrument(tmp_path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match=r"^gad7\.json: top level: \[1, 2\] is not of type"):
        load_instrument(path)


def test_definition_key_schema_is_editor_metadata(tmp_path):
    """A "$schema" pointer for editors is accepted and does not change the content hash."""
    with_pointer = {"$schema": "../instrument.schema.json", **MOOD}
    assert load_instrument(with_pointer).content_hash == load_instrument(MOOD).content_hash


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

CODES = ["NA", "REF", "NR", None, ""]


def response_for(instrument: Instrument):
    """Strategy: one raw value per item, each a valid value or a missing code."""
    return st.tuples(
        *[
            st.one_of(st.sampled_from(it.allowed_values()), st.sampled_from(CODES))
            for it in instrument.items
        ]
    )


@SETTINGS
@given(data=st.data())
def test_builtin_scores_within_range_for_any_missingness(data):
    """For any valid response with any missingness: every score lies within its scale's
    published range (hand-listed in test_builtin_item_counts...), n_answered counts the answered
    items, and a score is missing exactly when fewer than min_items are answered."""
    inst = BUILTIN[data.draw(st.sampled_from(sorted(BUILTIN)))]
    raw = data.draw(response_for(inst))
    answered = {iid for iid, v in zip(inst.item_ids, raw, strict=True) if v not in CODES}
    for score in inst.score(list(raw)):
        scale = inst.scale(score.scale)
        n_ans = sum(i in answered for i in scale.items)
        assert score.n_answered == n_ans
        assert score.n_items == len(scale.items)
        assert (score.value is None) == (n_ans < scale.min_items)
        assert score.prorated == (score.value is not None and n_ans < scale.n_items)
        if score.value is not None:
            lo, hi = scale.range
            assert lo - 1e-9 <= score.value <= hi + 1e-9
            if scale.bands:
                assert score.band is not None
        if score.value is not None and n_ans == scale.n_items and scale.method == "sum":
            # Complete response: the plain sum of the (unreversed: no builtin reverse keys) items.
            vals = [v for iid, v in zip(inst.item_ids, raw, strict=True) if iid in scale.items]
            assert score.value == pytest.approx(math.fsum(float(v) for v in vals))


@st.composite
def random_instrument(draw):
    """Strategy: a random valid instrument with reverse keys, mixed ranges and grids, and a
    sum and a mean scale over the same items with the same missing-data rule."""
    n = draw(st.integers(2, 7))
    items = []
    for i in range(n):
        step = draw(st.sampled_from([1, 2, 0.5, 0.1]))
        low = draw(st.integers(-5, 5))
        n_steps = draw(st.integers(1, 12))
        items.append(
            {
                "id": f"i{i}",
                "min": low,
                "max": round(low + n_steps * step, 10),
                "step": step,
                "reverse": draw(st.booleans()),
            }
        )
    scale_items = [it["id"] for it in items]
    min_items = draw(st.integers(1, n))
    rule = {"min_items": min_items, "prorate": True} if min_items < n else {}
    definition = {
        "name": "random",
        "version": "1",
        "title": "random",
        "construct": "other",
        "roles": ["patient"],
        "timings": ["pre"],
        "items": items,
        "scales": [
            {"id": "s", "items": scale_items, "method": "sum", **rule},
            {"id": "m", "items": scale_items, "method": "mean", **rule},
        ],
        "primary": "s",
    }
    return load_instrument(definition)


@SETTINGS
@given(data=st.data())
def test_random_instruments_sum_mean_consistent_and_within_bounds(data):
    """Sum and mean scales of the same items: sum == n_items x mean whenever defined (prorated
    sum = n x mean of answered); both within bounds computed here from the item ranges."""
    inst = data.draw(random_instrument())
    raw = data.draw(response_for(inst))
    scores = by_scale(inst.score(list(raw)))
    s, m = scores["s"], scores["m"]
    assert (s.value is None) == (m.value is None)
    assert s.n_answered == m.n_answered == sum(v not in CODES for v in raw)
    if s.value is None:
        return
    n = len(inst.items)
    assert s.value == pytest.approx(n * m.value, rel=1e-9, abs=1e-9)
    lo = min(it.min for it in inst.items)
    hi = max(it.max for it in inst.items)
    assert lo - 1e-9 <= m.value <= hi + 1e-9
    assert inst.scale("s").range[0] - 1e-9 <= s.value <= inst.scale("s").range[1] + 1e-9
    assert n * lo - 1e-9 <= s.value <= n * hi + 1e-9
    # Complete responses: sum is the plain sum of the keyed values (min + max - x if reversed).
    if s.n_answered == n:
        keyed = [
            it.min + it.max - float(v) if it.reverse else float(v)
            for it, v in zip(inst.items, raw, strict=True)
        ]
        assert s.value == pytest.approx(math.fsum(keyed), abs=1e-9)


@SETTINGS
@given(data=st.data())
def test_reverse_key_twice_is_identity_and_stays_on_grid(data):
    """reverse_key(reverse_key(x)) == x, and reverse_key(x) is itself an allowed value."""
    inst = data.draw(random_instrument())
    item = data.draw(st.sampled_from(inst.items))
    value = data.draw(st.sampled_from(item.allowed_values()))
    once = reverse_key(value, item)
    assert reverse_key(once, item) == value
    assert item.min <= once <= item.max
    assert once in item.allowed_values() or any(abs(once - v) < 1e-9 for v in item.allowed_values())
    # The reversed value parses as a valid answer.
    parsed = inst.parse_mapping({item.id: once})
    assert parsed.values[item.id] == pytest.approx(once)


# --------------------------------------------------------------------------------------------
# Cronbach's alpha
# --------------------------------------------------------------------------------------------


def _alpha_by_hand(matrix: np.ndarray) -> float:
    """k/(k-1) * (1 - sum of item variances / variance of the total), sample variances."""
    k = matrix.shape[1]
    item_var = matrix.var(axis=0, ddof=1).sum()
    total_var = matrix.sum(axis=1).var(ddof=1)
    return k / (k - 1) * (1 - item_var / total_var)


def _feldt(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt, Woodruff & Salih (1987) interval for alpha, with scipy's F distribution."""
    d1, d2 = n - 1, (n - 1) * (k - 1)
    q = 1 - level
    return (1 - (1 - alpha) * stats.f.isf(q / 2, d1, d2),
            1 - (1 - alpha) * stats.f.isf(1 - q / 2, d1, d2))  # fmt: skip


ALPHA_DATA = pd.DataFrame(
    {
        "a1": [5, 4, 4, 2, 1, 3, 5, 2, np.nan, 3],
        "a2": [1, 2, 1, 4, 5, 3, 2, 4, 3, np.nan],  # reverse-keyed
        "b1": [4, 4, 5, 2, 2, 3, 5, 1, 3, 4],
        "b2": [2, 1, 2, 5, 4, 2, 1, 5, 3, 2],  # reverse-keyed
        "note": list("abcdefghij"),  # ignored
    }
)


def test_cronbach_alpha_listwise_matches_hand_formula():
    """Listwise alpha of the reverse-keyed total scale equals the variance formula computed
    by hand on the complete rows, and its CI equals Feldt's interval (to pingouin's 3 dp)."""
    inst = load_instrument(MOOD)
    result = cronbach_alpha(ALPHA_DATA, inst, "total")
    complete = ALPHA_DATA[["a1", "a2", "b1", "b2"]].dropna().to_numpy(dtype=float, copy=True)
    complete[:, [1, 3]] = 6 - complete[:, [1, 3]]  # reverse keys 1-5
    expected = _alpha_by_hand(complete)
    assert result["alpha"] == pytest.approx(expected, abs=1e-12)
    assert (result["n"], result["k"], result["nan_policy"]) == (8, 4, "listwise")
    low, high = _feldt(expected, 8, 4)
    assert result["ci_low"] == pytest.approx(low, abs=6e-4)
    assert result["ci_high"] == pytest.approx(high, abs=6e-4)
    assert expected > 0.8  # reverse keys applied: without them the items would cancel out
    # Derived scale: alpha of its source; 2-item subscale by hand as well.
    assert cronbach_alpha(ALPHA_DATA, inst, "total100")["alpha"] == result["alpha"]
    sub = cronbach_alpha(ALPHA_DATA, inst, "b")
    b = ALPHA_DATA[["b1", "b2"]].to_numpy(dtype=float, copy=True)
    b[:, 1] = 6 - b[:, 1]
    assert sub["alpha"] == pytest.approx(_alpha_by_hand(b), abs=1e-12)
    assert sub["n"] == 10


def test_cronbach_alpha_pairwise_uses_pairwise_covariances():
    """Pairwise alpha equals k/(k-1) (1 - trace(C) / sum(C)) with C the pairwise-complete
    covariance matrix computed here with numpy, over all 10 responses."""
    inst = load_instrument(MOOD)
    result = cronbach_alpha(ALPHA_DATA, inst, "total", nan_policy="pairwise")
    x = ALPHA_DATA[["a1", "a2", "b1", "b2"]].to_numpy(dtype=float, copy=True)
    x[:, [1, 3]] = 6 - x[:, [1, 3]]
    k = x.shape[1]
    cov = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ok = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
            cov[i, j] = np.cov(x[ok, i], x[ok, j], ddof=1)[0, 1]
    expected = k / (k - 1) * (1 - np.trace(cov) / cov.sum())
    assert result["alpha"] == pytest.approx(expected, abs=1e-12)
    assert result["n"] == 10


def test_cronbach_alpha_refuses_bad_input():
    """Missing columns, non-numeric or out-of-range values, 1-item scales, too few rows, no
    variance, and an unknown nan_policy give clear InputErrors."""
    inst = load_instrument(MOOD)
    with pytest.raises(InputError, match=r"no column for item\(s\) b2 of scale 'total'"):
        cronbach_alpha(ALPHA_DATA.drop(columns="b2"), inst, "total")
    bad = ALPHA_DATA.assign(a1=["x"] * 10)
    with pytest.raises(InputError, match="column of item 'a1' is not numeric"):
        cronbach_alpha(bad, inst, "total")
    with pytest.raises(InputError, match=r"item 'a1' has value 7, not allowed; allowed 1-5"):
        cronbach_alpha(ALPHA_DATA.assign(a1=[7] * 10), inst, "total")
    one_item = copy.deepcopy(MOOD)
    one_item["scales"].append({"id": "c_only", "items": ["c"], "method": "sum"})
    with pytest.raises(InputError, match="alpha needs at least 2 items"):
        cronbach_alpha(ALPHA_DATA.assign(c=[0, 1] * 5), load_instrument(one_item), "c_only")
    with pytest.raises(InputError, match="usable response"):
        cronbach_alpha(ALPHA_DATA.head(1), inst, "total")
    with pytest.raises(InputError, match="do not vary"):
        cronbach_alpha(pd.DataFrame({"b1": [3] * 5, "b2": [3] * 5}), inst, "b")
    with pytest.raises(InputError, match="nan_policy"):
        cronbach_alpha(ALPHA_DATA, inst, "total", nan_policy="mean")
    with pytest.raises(InputError, match="unknown scale 'x'"):
        cronbach_alpha(ALPHA_DATA, inst, "x")
    # Integer column names match item ids given as strings.
    gad = BUILTIN["gad7"]
    df = pd.DataFrame(np.random.default_rng(7).integers(0, 4, size=(30, 7)), columns=range(1, 8))
    assert cronbach_alpha(df, gad, "total")["k"] == 7


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------


def test_schemas_dir_checkout_and_installed_layouts(tmp_path):
    """schemas_dir finds <pkg>/../schemas in a checkout, else <pkg>/_schemas (a wheel)."""
    repo_schemas = Path(__file__).resolve().parents[1] / "schemas"
    assert schemas_dir() == repo_schemas
    checkout = tmp_path / "checkout"
    (checkout / "studymgr").mkdir(parents=True)
    (checkout / "schemas").mkdir()
    (checkout / "schemas" / "instrument.schema.json").write_text("{}")
    assert schemas_dir(checkout / "studymgr") == checkout / "schemas"
    site = tmp_path / "site-packages"
    (site / "studymgr" / "_schemas").mkdir(parents=True)
    (site / "studymgr" / "_schemas" / "instrument.schema.json").write_text("{}")
    (site / "schemas").mkdir()  # an unrelated distribution's 'schemas' folder
    assert schemas_dir(site / "studymgr") == site / "studymgr" / "_schemas"
    with pytest.raises(FileNotFoundError, match="reinstall studymgr"):
        schemas_dir(tmp_path / "nowhere" / "studymgr")
