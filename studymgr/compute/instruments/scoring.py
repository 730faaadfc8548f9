"""Items, scales and instruments: parse the item values of a response and score its scales.

The scoring rules are those of the package docstring (:mod:`studymgr.compute.instruments`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from studymgr.compute.instruments.schema import _DECIMALS, _GRID_TOL, Number, _fmt, missing_codes
from studymgr.errors import InputError


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
