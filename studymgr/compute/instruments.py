"""Questionnaire instruments: load and validate definitions, parse item values, score responses.

An instrument definition is a JSON document validated by ``schemas/instrument.schema.json``
(JSON Schema draft 2020-12) and by the semantic checks below (scale items exist, bands lie within
the scale's range, ...). Definitions carry scoring keys only, never item wording.

Scoring rules (all in the definition, recorded with every score through the content hash):

- reverse-keyed items are scored as ``min + max - value`` before any scale is computed;
- an item scale is the ``sum`` or the ``mean`` of its (keyed) items; with ``n`` items of which
  ``n_answered`` are answered, the score is missing when ``n_answered < min_items``; otherwise,
  when ``prorate`` is true, a sum is ``sum(answered) * n / n_answered`` and a mean is the mean of
  the answered items;
- a derived scale is ``source * multiply + add`` (e.g. WHO-5 percentage = raw x 4);
- a band ``[low, high, label]`` labels scores ``low <= score <= high``; a fractional (prorated)
  score between two bands gets the lower band (so bands act as thresholds, as in the manuals).

Scores are rounded to 10 decimal places to remove floating-point summation noise, so that the
same responses always give bit-identical scores whatever the item order.

This module is pure apart from reading definition files: it never touches a study database.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from studymgr.errors import InputError
from studymgr.resources import schemas_dir

logger = logging.getLogger(__name__)

__all__ = [
    "Band",
    "Instrument",
    "Item",
    "ItemValues",
    "Scale",
    "Score",
    "builtin_instruments",
    "content_hash",
    "cronbach_alpha",
    "instrument_schema",
    "load_instrument",
    "missing_codes",
    "reverse_key",
]

#: Decimal places scores and keyed values are rounded to (removes float summation noise only).
_DECIMALS = 10
#: Tolerance, in units of an item's step, for a value to count as lying on the item's grid.
_GRID_TOL = 1e-6

Number = int | float


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    path = schemas_dir() / "instrument.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema())


def instrument_schema() -> dict[str, Any]:
    """Return (a copy of) the JSON Schema of instrument definitions.

    Returns
    -------
    dict
        The parsed ``instrument.schema.json`` (draft 2020-12).
    """
    return copy.deepcopy(_schema())


def missing_codes() -> dict[str, str]:
    """Return the typed missing-value codes and their meaning, as defined in the schema.

    Returns
    -------
    dict
        ``{code: meaning}``, e.g. ``{"NA": "not answered ...", "REF": "refused ...", ...}``.
        An empty cell, ``None`` and a float NaN are read as ``"NA"``.
    """
    spec = _schema()["$defs"]["missing_code"]
    return {code: spec["x-meaning"][code] for code in spec["enum"]}


def content_hash(definition: Mapping[str, Any]) -> str:
    """Return the sha256 (hex) of a definition's canonical JSON.

    Parameters
    ----------
    definition : Mapping
        An instrument definition (as loaded from JSON).

    Returns
    -------
    str
        sha256 of ``json.dumps(definition, sort_keys=True, separators=(",", ":"))`` encoded as
        UTF-8 (non-ASCII kept as is), so that key order and whitespace do not change it.
    """
    text = json.dumps(
        definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------


def _fmt(x: Number) -> str:
    """Format a number without a spurious ``.0``."""
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Item:
    """One questionnaire item: its id and allowed values (never its wording).

    Attributes
    ----------
    id : str
        Item id (e.g. ``"1"``).
    min, max : float
        Smallest and largest allowed value (for ``choices``: their min and max).
    step : float | None
        Spacing of allowed values from ``min``; None when the item has explicit ``choices``.
    choices : tuple of float | None
        Explicit allowed values, ascending; None for a min/max/step item.
    reverse : bool
        Reverse-keyed: scored as ``min + max - value``.
    integer : bool
        All allowed values are whole numbers (parsed values are then ``int``).
    """

    id: str
    min: float
    max: float
    step: float | None
    choices: tuple[float, ...] | None
    reverse: bool
    integer: bool

    def describe(self) -> str:
        """Return the allowed values in words, e.g. ``"0-3 in steps of 1"``."""
        if self.choices is not None:
            return "one of " + ", ".join(_fmt(c) for c in self.choices)
        return f"{_fmt(self.min)}-{_fmt(self.max)} in steps of {_fmt(self.step or 1)}"

    def allowed_values(self) -> tuple[Number, ...]:
        """Return every allowed value, ascending (``int`` for whole-number items)."""
        if self.choices is not None:
            vals: list[float] = list(self.choices)
        else:
            assert self.step is not None
            n = round((self.max - self.min) / self.step)
            vals = [round(self.min + k * self.step, _DECIMALS) for k in range(n + 1)]
        return tuple(int(v) if self.integer else v for v in vals)

    def _snap(self, x: float) -> float | None:
        """Return the allowed value ``x`` stands for, or None when ``x`` is not allowed."""
        if self.choices is not None:
            for c in self.choices:
                if abs(x - c) <= _GRID_TOL * max(1.0, abs(c)):
                    return c
            return None
        assert self.step is not None
        k = (x - self.min) / self.step
        if abs(k - round(k)) > _GRID_TOL:
            return None
        return round(self.min + round(k) * self.step, _DECIMALS)

    def _out_of_range(self, x: float) -> bool:
        tol = _GRID_TOL * (self.step or 1.0)
        return x < self.min - tol or x > self.max + tol


@dataclass(frozen=True)
class Band:
    """A labelled score band: ``low <= score <= high`` (inclusive)."""

    low: float
    high: float
    label: str


@dataclass(frozen=True)
class Scale:
    """A scale of an instrument.

    Attributes
    ----------
    id, title : str, str | None
        Scale id and optional descriptive title.
    items : tuple of str
        Item ids scored by the scale (for a derived scale: those of its source).
    method : {"sum", "mean"} | None
        How items are combined; None for a derived scale.
    min_items : int
        Minimum number of answered items for a score (for a derived scale: its source's).
    prorate : bool
        Whether missing items (down to ``min_items``) are prorated.
    derived_from : str | None
        Id of the item scale this one is a linear transform of.
    multiply, add : float
        Transform ``value = source * multiply + add`` (1 and 0 for item scales).
    bands : tuple of Band
        Ascending, non-overlapping labelled bands (may be empty).
    range : tuple of float
        Smallest and largest score the scale can take under its own missing-data rule.
    """

    id: str
    title: str | None
    items: tuple[str, ...]
    method: Literal["sum", "mean"] | None
    min_items: int
    prorate: bool
    derived_from: str | None
    multiply: float
    add: float
    bands: tuple[Band, ...]
    range: tuple[float, float]

    @property
    def n_items(self) -> int:
        """Number of items the scale scores."""
        return len(self.items)

    def band(self, value: float | None) -> str | None:
        """Return the band label of a score, or None (missing score, or no band covers it).

        A score between two bands (only possible for fractional, prorated scores) gets the
        lower band: bands act as thresholds ``low_i <= score < low_{i+1}``.
        """
        if value is None:
            return None
        for i, band in enumerate(self.bands):
            nxt = self.bands[i + 1].low if i + 1 < len(self.bands) else None
            if band.low <= value and (value <= band.high or (nxt is not None and value < nxt)):
                return band.label
        return None


@dataclass(frozen=True)
class ItemValues:
    """Parsed item values of one response, with missing values kept apart as typed codes.

    Attributes
    ----------
    instrument : str
        Name of the instrument that parsed the values.
    content_hash : str
        Content hash of that instrument's definition (scores need the same definition).
    values : dict[str, int | float | None]
        Every item id in definition order -> its value, None when missing (raw, not reverse
        keyed).
    missing : dict[str, str]
        Item id -> missing code (``"NA"``, ``"REF"``, ``"NR"``) for the missing items only.
    """

    instrument: str
    content_hash: str
    values: dict[str, Number | None]
    missing: dict[str, str]

    @property
    def n_answered(self) -> int:
        """Number of answered (non-missing) items."""
        return sum(v is not None for v in self.values.values())


@dataclass(frozen=True)
class Score:
    """The score of one scale for one response.

    Attributes
    ----------
    scale : str
        Scale id.
    value : float | None
        The score in the scale's units; None when fewer than ``min_items`` items were answered.
    n_answered, n_items : int
        Answered items of the scale, and its number of items.
    prorated : bool
        True when the score was computed from fewer than all items.
    band : str | None
        Band label of the score (None without bands or without a score).
    """

    scale: str
    value: float | None
    n_answered: int
    n_items: int
    prorated: bool
    band: str | None


def reverse_key(value: Number, item: Item) -> Number:
    """Reverse-key a value: ``item.min + item.max - value``.

    Reverse-keying twice returns the value (for values with at most 10 decimals). The value is
    not validated: parse it with :meth:`Instrument.parse_items` first.

    Parameters
    ----------
    value : int or float
        Item value in the item's units.
    item : Item
        The item (its ``min`` and ``max`` define the reflection).

    Returns
    -------
    int or float
        The reverse-keyed value (``int`` for whole-number items given an ``int``).
    """
    out = item.min + item.max - value
    if item.integer and float(value).is_integer():
        return int(out)
    return round(float(out), _DECIMALS)


@dataclass(frozen=True)
class Instrument:
    """A validated instrument definition with its scoring logic.

    Build it with :func:`load_instrument`. ``definition`` is the definition as loaded (do not
    mutate it); ``content_hash`` identifies it (see :func:`content_hash`). Two instruments are
    equal when their definitions are.
    """

    name: str
    version: str
    title: str
    construct: Literal["symptoms", "wellbeing", "alliance", "session_quality", "other"]
    roles: tuple[str, ...]
    timings: tuple[str, ...]
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    primary: str
    citation: str | None
    notes: str | None
    missing_codes: tuple[str, ...]
    content_hash: str
    definition: dict[str, Any] = field(compare=False, repr=False)

    # -- lookups ---------------------------------------------------------------------------

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids in definition order."""
        return tuple(i.id for i in self.items)

    def item(self, item_id: str) -> Item:
        """Return an item by id (:class:`InputError` when unknown)."""
        for it in self.items:
            if it.id == str(item_id):
                return it
        raise InputError(
            f"{self.name}: unknown item '{item_id}'; items are {', '.join(self.item_ids)}"
        )

    def scale(self, scale_id: str) -> Scale:
        """Return a scale by id (:class:`InputError` when unknown)."""
        for sc in self.scales:
            if sc.id == scale_id:
                return sc
        raise InputError(
            f"{self.name}: unknown scale '{scale_id}'; scales are "
            + ", ".join(s.id for s in self.scales)
        )

    @property
    def primary_scale(self) -> Scale:
        """The scale models use for the instrument's construct."""
        return self.scale(self.primary)

    # -- parsing ---------------------------------------------------------------------------

    def _missing_hint(self) -> str:
        return "or a missing code (" + ", ".join(self.missing_codes) + ")"

    def _parse_value(self, item: Item, raw: Any) -> tuple[Number | None, str | None]:
        """Return ``(value, None)`` or ``(None, missing_code)`` for one raw item value."""
        if raw is None:
            return None, "NA"
        if isinstance(raw, bool | np.bool_):
            raise InputError(
                f"{self.name}: item '{item.id}' = {raw!r} is not a number; "
                f"allowed {item.describe()} {self._missing_hint()}"
            )
        if isinstance(raw, str):
            text = raw.strip()
            if text == "":
                return None, "NA"
            code = text.upper()
            if code in missing_codes():
                if code not in self.missing_codes:
                    raise InputError(
                        f"{self.name}: item '{item.id}': missing code '{code}' is not accepted "
                        f"by this instrument; use one of {', '.join(self.missing_codes)}"
                    )
                return None, code
            try:
                x = float(text)
            except ValueError:
                raise InputError(
                    f"{self.name}: item '{item.id}' = {raw!r} is neither a number nor a missing "
                    f"code; allowed {item.describe()} {self._missing_hint()}"
                ) from None
            if math.isnan(x):
                raise InputError(
                    f"{self.name}: item '{item.id}' = {raw!r} is not a value; write NA for a "
                    "missing answer"
                )
        elif isinstance(raw, int | float | np.integer | np.floating):
            x = float(raw)
            if math.isnan(x):  # pandas reads empty cells as NaN
                return None, "NA"
        else:
            raise InputError(
                f"{self.name}: item '{item.id}' = {raw!r} has type {type(raw).__name__}; "
                f"give a number {self._missing_hint()}"
            )
        if not math.isfinite(x) or item._out_of_range(x):
            shown = _fmt(x) if math.isfinite(x) else repr(raw)
            raise InputError(
                f"{self.name}: item '{item.id}' = {shown} is out of range; allowed "
                f"{item.describe()} {self._missing_hint()}"
            )
        snapped = item._snap(x)
        if snapped is None:
            raise InputError(
                f"{self.name}: item '{item.id}' = {_fmt(x)} is not an allowed value; allowed "
                f"{item.describe()} {self._missing_hint()}"
            )
        return (int(snapped) if item.integer else snapped), None

    def _item_values(self, raw_by_id: Mapping[str, Any]) -> ItemValues:
        values: dict[str, Number | None] = {}
        missing: dict[str, str] = {}
        for item in self.items:
            value, code = self._parse_value(item, raw_by_id.get(item.id))
            values[item.id] = value
            if code is not None:
                missing[item.id] = code
        return ItemValues(
            instrument=self.name,
            content_hash=self.content_hash,
            values=values,
            missing=missing,
        )

    def parse_items(self, values: Sequence[str | Number | None]) -> ItemValues:
        """Parse one value per item, in definition order.

        Parameters
        ----------
        values : sequence (list, tuple, numpy array, pandas Series) of str, int, float or None
            Item values in the items' units. ``None``, ``""``, ``"NA"`` and a float NaN mean
            "not answered"; ``"REF"`` (refused) and ``"NR"`` (not readable) are kept as typed
            missing codes (case-insensitive). Numeric strings (``"3"``) are accepted.

        Returns
        -------
        ItemValues
            Values and missing codes, kept apart.

        Raises
        ------
        InputError
            Wrong number of values, or a value out of range, off the item's grid (e.g. 2.5 for
            a whole-number item), not among its choices, or an unknown missing code.
        """
        if isinstance(values, pd.Series | np.ndarray):
            values = values.tolist()
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InputError(
                f"{self.name}: expected a list of {len(self.items)} item values, got "
                f"{type(values).__name__}"
            )
        if len(values) != len(self.items):
            raise InputError(
                f"{self.name}: expected {len(self.items)} item values (items "
                f"{', '.join(self.item_ids)}), got {len(values)}; give one value per item in "
                "order, NA for a missing one"
            )
        return self._item_values(dict(zip(self.item_ids, values, strict=True)))

    def parse_mapping(self, values: Mapping[Any, str | Number | None]) -> ItemValues:
        """Parse item values given by item id; items absent from the mapping are ``"NA"``.

        Parameters
        ----------
        values : Mapping
            ``{item_id: value}``; keys are compared as strings (``1`` and ``"1"`` are the same
            item). Values as in :meth:`parse_items`.

        Returns
        -------
        ItemValues

        Raises
        ------
        InputError
            An unknown or repeated item id, or a bad value (see :meth:`parse_items`).
        """
        if not isinstance(values, Mapping):
            raise InputError(
                f"{self.name}: expected a mapping of item id to value, got {type(values).__name__}"
            )
        known = set(self.item_ids)
        by_id: dict[str, Any] = {}
        for key, value in values.items():
            item_id = str(key)
            if item_id not in known:
                raise InputError(
                    f"{self.name}: unknown item '{item_id}'; items are {', '.join(self.item_ids)}"
                )
            if item_id in by_id:
                raise InputError(f"{self.name}: item '{item_id}' is given twice")
            by_id[item_id] = value
        return self._item_values(by_id)

    # -- scoring ---------------------------------------------------------------------------

    def score(self, item_values: ItemValues | Sequence[Any] | Mapping[Any, Any]) -> list[Score]:
        """Score every scale of a response.

        Parameters
        ----------
        item_values : ItemValues, sequence or mapping
            Parsed values (from this instrument), or raw values that are parsed first with
            :meth:`parse_items` (sequence) or :meth:`parse_mapping` (mapping).

        Returns
        -------
        list of Score
            One per scale, in definition order. ``value`` is in the scale's units (e.g. WHO-5
            raw 0-25, percentage 0-100) and None when too few items were answered.

        Raises
        ------
        InputError
            Values parsed by a different instrument definition, or bad raw values.
        """
        if isinstance(item_values, ItemValues):
            if item_values.content_hash != self.content_hash:
                raise InputError(
                    f"{self.name}: these item values were parsed by instrument "
                    f"'{item_values.instrument}' with a different definition; parse them with "
                    "this instrument"
                )
            parsed = item_values
        elif isinstance(item_values, Mapping):
            parsed = self.parse_mapping(item_values)
        else:
            parsed = self.parse_items(item_values)

        by_item = {it.id: it for it in self.items}
        results: dict[str, Score] = {}
        for sc in self.scales:
            if sc.derived_from is not None:
                continue
            keyed = [
                reverse_key(v, by_item[i]) if by_item[i].reverse else v
                for i in sc.items
                if (v := parsed.values[i]) is not None
            ]
            n_answered, n_items = len(keyed), sc.n_items
            value: float | None = None
            if n_answered >= sc.min_items:
                total = math.fsum(keyed)
                if sc.method == "mean":
                    value = total / n_answered
                else:
                    value = total * n_items / n_answered if n_answered < n_items else total
                value = round(value, _DECIMALS)
            results[sc.id] = Score(
                scale=sc.id,
                value=value,
                n_answered=n_answered,
                n_items=n_items,
                prorated=value is not None and n_answered < n_items,
                band=sc.band(value),
            )
        for sc in self.scales:
            if sc.derived_from is None:
                continue
            src = results[sc.derived_from]
            value = (
                None if src.value is None else round(src.value * sc.multiply + sc.add, _DECIMALS)
            )
            results[sc.id] = Score(
                scale=sc.id,
                value=value,
                n_answered=src.n_answered,
                n_items=src.n_items,
                prorated=src.prorated,
                band=sc.band(value),
            )
        return [results[sc.id] for sc in self.scales]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not allowed in an instrument definition")


def _schema_error(err: ValidationError, label: str) -> InputError:
    """Turn a JSON Schema error into a one-line message with a hint on what to do."""
    where = err.json_path.removeprefix("$").removeprefix(".") or "top level"
    hint = err.schema.get("x-hint") if isinstance(err.schema, dict) else None
    if err.validator in ("not", "if", "then", "else", "anyOf", "oneOf") and hint:
        message = hint  # the raw message repeats the whole instance: the hint says it better
    else:
        message = " ".join(err.message.split())
        if len(message) > 160:
            message = message[:157] + "..."
        if hint:
            message = f"{message}; {hint}"
    return InputError(f"{label}: {where}: {message}")


def _item_scale_range(items: Sequence[Item], method: str, min_items: int) -> tuple[float, float]:
    """Smallest and largest possible score of an item scale under its missing-data rule.

    With ``m = min_items`` and prorating, the extreme means over any answered subset of at
    least ``m`` items are the means of the ``m`` smallest minima and ``m`` largest maxima; a
    prorated sum is ``n`` times that mean. For items sharing one range this is the familiar
    ``n*min .. n*max`` (sum) or ``min .. max`` (mean).
    """
    n = len(items)
    lows = sorted(it.min for it in items)[:min_items]
    highs = sorted((it.max for it in items), reverse=True)[:min_items]
    if method == "sum" and min_items == n:
        lo, hi = math.fsum(lows), math.fsum(highs)
    else:
        lo, hi = math.fsum(lows) / min_items, math.fsum(highs) / min_items
        if method == "sum":
            lo, hi = lo * n, hi * n
    return round(lo, _DECIMALS), round(hi, _DECIMALS)


def _build(doc: dict[str, Any], label: str) -> Instrument:
    """Semantic checks that JSON Schema cannot express, then build the Instrument."""

    def fail(message: str) -> InputError:
        return InputError(f"{label}: {message}")

    items: list[Item] = []
    for raw in doc["items"]:
        iid = raw["id"]
        if any(it.id == iid for it in items):
            raise fail(f"item id '{iid}' is used twice; give every item a unique id")
        reverse = bool(raw.get("reverse", False))
        numbers = [*raw.get("choices", []), *(raw[k] for k in ("min", "max", "step") if k in raw)]
        if not all(math.isfinite(x) for x in numbers):
            raise fail(f"item '{iid}' has a non-finite number; use finite numbers")
        if "choices" in raw:
            choices = tuple(sorted(float(c) for c in raw["choices"]))
            lo, hi, step = choices[0], choices[-1], None
            mirrored = sorted(lo + hi - c for c in choices)
            symmetric = all(abs(a - b) <= _GRID_TOL for a, b in zip(mirrored, choices, strict=True))
            if reverse and not symmetric:
                raise fail(
                    f"item '{iid}' is reverse-keyed but its choices are not symmetric, so "
                    "min + max - value would fall outside them; use symmetric choices or drop "
                    "'reverse'"
                )
            integer = all(c.is_integer() for c in choices)
        else:
            choices = None
            lo, hi, step = float(raw["min"]), float(raw["max"]), float(raw.get("step", 1))
            if not lo < hi:
                raise fail(
                    f"item '{iid}' has min {_fmt(lo)} >= max {_fmt(hi)}; min must be below max"
                )
            n_steps = (hi - lo) / step
            if not math.isfinite(n_steps):  # e.g. min -1e308, max 1e308
                raise fail(f"item '{iid}': the range {_fmt(lo)}-{_fmt(hi)} is too wide; give "
                           "the item's real minimum and maximum")
            if abs(n_steps - round(n_steps)) > _GRID_TOL:
                raise fail(
                    f"item '{iid}': step {_fmt(step)} does not divide the range "
                    f"{_fmt(lo)}-{_fmt(hi)}; choose a step that does"
                )
            integer = lo.is_integer() and step.is_integer()
        items.append(Item(iid, lo, hi, step, choices, reverse, integer))
    by_item = {it.id: it for it in items}

    raw_scales = doc["scales"]
    ids = [s["id"] for s in raw_scales]
    for sid in ids:
        if ids.count(sid) > 1:
            raise fail(f"scale id '{sid}' is used twice; give every scale a unique id")
    item_scales: dict[str, Scale] = {}
    for raw in raw_scales:
        if "derived_from" in raw:
            continue
        sid = raw["id"]
        for iid in raw["items"]:
            if iid not in by_item:
                raise fail(f"scale '{sid}' names unknown item '{iid}'")
        n = len(raw["items"])
        min_items = raw.get("min_items", n)
        prorate = bool(raw.get("prorate", False))
        if min_items > n:
            raise fail(
                f"scale '{sid}' has min_items {min_items} but only {n} items; lower min_items"
            )
        if min_items < n and not prorate:
            raise fail(
                f"scale '{sid}' allows missing items (min_items {min_items} < {n} items) but "
                f'prorate is false; set "prorate": true or min_items to {n}'
            )
        scale_items = [by_item[i] for i in raw["items"]]
        item_scales[sid] = Scale(
            id=sid,
            title=raw.get("title"),
            items=tuple(raw["items"]),
            method=raw["method"],
            min_items=min_items,
            prorate=prorate,
            derived_from=None,
            multiply=1.0,
            add=0.0,
            bands=(),
            range=_item_scale_range(scale_items, raw["method"], min_items),
        )

    scales: list[Scale] = []
    for raw in raw_scales:
        sid = raw["id"]
        if "derived_from" in raw:
            src_id = raw["derived_from"]
            if src_id not in item_scales:
                what = "a derived scale" if src_id in ids else "not a scale of this instrument"
                raise fail(
                    f"scale '{sid}' is derived from '{src_id}', which is {what}; derive from "
                    "an item scale"
                )
            src = item_scales[src_id]
            a, b = float(raw.get("multiply", 1)), float(raw.get("add", 0))
            if not (math.isfinite(a) and math.isfinite(b)):
                raise fail(f"scale '{sid}' has a non-finite multiply/add; use finite numbers")
            ends = sorted(round(x * a + b, _DECIMALS) for x in src.range)
            base = dataclasses.replace(
                src,
                id=sid,
                title=raw.get("title"),
                method=None,
                derived_from=src_id,
                multiply=a,
                add=b,
                range=(ends[0], ends[1]),
            )
        else:
            base = item_scales[sid]
        bands = _check_bands(raw.get("bands", []), base, fail)
        scales.append(dataclasses.replace(base, bands=bands))

    if doc["primary"] not in ids:
        raise fail(
            f"primary scale '{doc['primary']}' is not one of the scales ({', '.join(ids)}); "
            "name one of them"
        )
    definition = {k: v for k, v in doc.items() if k != "$schema"}  # editor hint, not content
    return Instrument(
        name=doc["name"],
        version=doc["version"],
        title=doc["title"],
        construct=doc["construct"],
        roles=tuple(doc["roles"]),
        timings=tuple(doc["timings"]),
        items=tuple(items),
        scales=tuple(scales),
        primary=doc["primary"],
        citation=doc.get("citation"),
        notes=doc.get("notes"),
        missing_codes=tuple(doc.get("missing_codes", list(missing_codes()))),
        content_hash=content_hash(definition),
        definition=definition,
    )


def _check_bands(raw_bands: list[list[Any]], scale: Scale, fail: Any) -> tuple[Band, ...]:
    lo, hi = scale.range
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    bands: list[Band] = []
    for low, high, label in raw_bands:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise fail(f"scale '{scale.id}' band '{label}' has a non-finite bound")
        if low > high:
            raise fail(
                f"scale '{scale.id}' band '{label}' has low {_fmt(low)} > high {_fmt(high)}; "
                "write bands as [low, high, label]"
            )
        if low < lo - tol or high > hi + tol:
            raise fail(
                f"scale '{scale.id}' band '{label}' ({_fmt(low)}-{_fmt(high)}) lies outside the "
                f"scale's range {_fmt(lo)}-{_fmt(hi)}; fix the band"
            )
        if bands and low <= bands[-1].high:
            raise fail(
                f"scale '{scale.id}' bands '{bands[-1].label}' and '{label}' overlap or are not "
                "ascending; list bands from low to high without overlap"
            )
        if any(b.label == label for b in bands):
            raise fail(f"scale '{scale.id}' has two bands labelled '{label}'; use unique labels")
        bands.append(Band(float(low), float(high), label))
    return tuple(bands)


def load_instrument(source: str | os.PathLike[str] | Mapping[str, Any]) -> Instrument:
    """Load and validate an instrument definition.

    Parameters
    ----------
    source : str, path-like or Mapping
        Path of a JSON definition file, or the definition itself (as parsed JSON).

    Returns
    -------
    Instrument

    Raises
    ------
    InputError
        One line naming the file (or the instrument) and the problem: unreadable file, invalid
        JSON, a schema violation (missing field, bad name, item wording, ...) or a semantic one
        (e.g. ``"gad7.json: scale 'total' names unknown item '8'"``).
    """
    if isinstance(source, Mapping):
        name = source.get("name")
        # Echo the name only when it is safe to print on one line.
        shown = isinstance(name, str) and name.isprintable() and len(name) <= 40
        label = f"instrument {name!r}" if shown else "instrument definition"
        try:
            # A JSON round trip copies the definition and refuses what JSON cannot hold.
            doc = json.loads(json.dumps(source, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{label}: not representable as JSON ({exc})") from None
    else:
        path = Path(source)
        label = path.name or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{label}: file not found ({path}); check the path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{label}: cannot read the file ({exc})") from None
        try:
            doc = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{label}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "fix the file"
            ) from None
        except ValueError as exc:
            raise InputError(f"{label}: {exc}; use finite numbers") from None
    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        raise _schema_error(error, label)
    instrument = _build(doc, label)
    logger.debug(
        "loaded instrument %s %s (%s)",
        instrument.name,
        instrument.version,
        instrument.content_hash[:12],
    )
    return instrument


def builtin_instruments() -> dict[str, Instrument]:
    """Load the instrument definitions shipped with studymgr.

    Returns
    -------
    dict
        ``{name: Instrument}`` for every ``schemas/instruments/*.json`` (``studymgr/_schemas``
        in an installed package), in file-name order.
    """
    folder = schemas_dir() / "instruments"
    found: dict[str, Instrument] = {}
    for path in sorted(folder.glob("*.json")):
        instrument = load_instrument(path)
        if instrument.name in found:
            raise InputError(
                f"{path.name}: instrument name '{instrument.name}' is used by two built-in "
                "definitions; rename one"
            )
        found[instrument.name] = instrument
    return found


# --------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------


def cronbach_alpha(
    items_df: pd.DataFrame,
    instrument: Instrument,
    scale: str,
    *,
    nan_policy: Literal["listwise", "pairwise"] = "listwise",
    ci: float = 0.95,
) -> dict[str, Any]:
    """Cronbach's alpha of a scale, on reverse-keyed items (via ``pingouin.cronbach_alpha``).

    Parameters
    ----------
    items_df : pandas.DataFrame
        One row per response, one numeric column per item, named by item id (``1`` and ``"1"``
        both match item ``"1"``); missing values as NaN. Other columns are ignored.
    instrument : Instrument
        The instrument whose key (reverse items, scale membership) applies.
    scale : str
        Scale id; for a derived scale, the items of its source (alpha is unchanged by a linear
        transform).
    nan_policy : {"listwise", "pairwise"}
        ``"listwise"`` (default): drop responses with any missing item of the scale, as
        R ``psych::alpha(use="complete.obs")``; ``"pairwise"``: item covariances from all
        pairwise-complete responses. Responses with no item answered are always dropped.
    ci : float
        Confidence level of Feldt's interval (pingouin rounds its bounds to 3 decimals).

    Returns
    -------
    dict
        ``instrument``, ``scale``, ``alpha``, ``ci_low``, ``ci_high``, ``ci_level``, ``n``
        (responses used), ``k`` (items), ``nan_policy``.

    Raises
    ------
    InputError
        Unknown scale, missing or non-numeric item columns, values not allowed for an item,
        fewer than 2 items or usable responses, or a total score with no variance.
    """
    import pingouin  # heavy import, only needed here

    sc = instrument.scale(scale)
    if nan_policy not in ("listwise", "pairwise"):
        raise InputError(f"nan_policy must be 'listwise' or 'pairwise', not {nan_policy!r}")
    if not isinstance(items_df, pd.DataFrame):
        raise InputError(f"items_df must be a pandas DataFrame, not {type(items_df).__name__}")
    columns = {str(c): c for c in items_df.columns}
    absent = [i for i in sc.items if i not in columns]
    if absent:
        raise InputError(
            f"{instrument.name}: items_df has no column for item(s) {', '.join(absent)} of "
            f"scale '{scale}'; name the columns by item id"
        )
    data = pd.DataFrame(index=items_df.index)
    for iid in sc.items:
        item = instrument.item(iid)
        try:
            col = pd.to_numeric(items_df[columns[iid]], errors="raise").astype(float)
        except (TypeError, ValueError):
            raise InputError(
                f"{instrument.name}: column of item '{iid}' is not numeric; turn missing "
                "codes into NaN first"
            ) from None
        answered = col.dropna()
        bad = [x for x in answered.unique() if item._out_of_range(x) or item._snap(x) is None]
        if bad:
            raise InputError(
                f"{instrument.name}: item '{iid}' has value {_fmt(bad[0])}, not allowed; "
                f"allowed {item.describe()}"
            )
        data[iid] = item.min + item.max - col if item.reverse else col
    data = data.dropna(how="all")
    if nan_policy == "listwise":
        # Drop here, not in pingouin: it would keep the pre-deletion n for the interval.
        data = data.dropna(how="any")
    n, k = data.shape
    if k < 2:
        raise InputError(
            f"{instrument.name}: scale '{scale}' has {k} item; alpha needs at least 2 items"
        )
    if n < 2:
        raise InputError(
            f"{instrument.name}: scale '{scale}' has {n} usable response(s) ({nan_policy}); "
            "alpha needs at least 2"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha, bounds = pingouin.cronbach_alpha(data, nan_policy=nan_policy, ci=ci)
    if not np.isfinite(alpha):
        raise InputError(
            f"{instrument.name}: alpha of scale '{scale}' is undefined: the items do not vary "
            "across responses"
        )
    return {
        "instrument": instrument.name,
        "scale": scale,
        "alpha": float(alpha),
        "ci_low": float(bounds[0]),
        "ci_high": float(bounds[1]),
        "ci_level": float(ci),
        "n": int(n),
        "k": int(k),
        "nan_policy": nan_policy,
    }
