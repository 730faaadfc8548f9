"""Load and check instrument definitions: JSON Schema first, then what a schema cannot say
(scale items exist, bands lie within the scale's range, ...), then build the :class:`Instrument`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from studymgr.compute.instruments.schema import (
    _DECIMALS,
    _GRID_TOL,
    _fmt,
    _validator,
    content_hash,
    missing_codes,
)
from studymgr.compute.instruments.scoring import Band, Instrument, Item, Scale
from studymgr.errors import InputError
from studymgr.resources import schemas_dir

logger = logging.getLogger("studymgr.compute.instruments")


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


#: ``fail(message)``: the InputError for a problem of the definition being loaded.
Fail = Callable[[str], InputError]


def _build_item(raw: dict[str, Any], fail: Fail) -> Item:
    """One item from its definition: choices, or min/max/step on a whole-number grid."""
    iid = raw["id"]
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
    return Item(iid, lo, hi, step, choices, reverse, integer)


def _build_items(raw_items: list[dict[str, Any]], fail: Fail) -> list[Item]:
    items: list[Item] = []
    for raw in raw_items:
        if any(it.id == raw["id"] for it in items):
            raise fail(f"item id '{raw['id']}' is used twice; give every item a unique id")
        items.append(_build_item(raw, fail))
    return items


def _build_item_scale(raw: dict[str, Any], by_item: dict[str, Item], fail: Fail) -> Scale:
    """A scale computed from items (sum or mean), with its missing-data rule and range."""
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
    return Scale(
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


def _build_derived_scale(raw: dict[str, Any], item_scales: dict[str, Scale], ids: list[str],
                         fail: Fail) -> Scale:
    """A scale that is a linear transform of an item scale (``source * multiply + add``)."""
    sid, src_id = raw["id"], raw["derived_from"]
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
    return dataclasses.replace(
        src,
        id=sid,
        title=raw.get("title"),
        method=None,
        derived_from=src_id,
        multiply=a,
        add=b,
        range=(ends[0], ends[1]),
    )


def _build_scales(raw_scales: list[dict[str, Any]], items: list[Item], fail: Fail
                  ) -> list[Scale]:
    """Every scale in definition order: item scales first built, derived scales from them,
    then each with its bands."""
    ids = [s["id"] for s in raw_scales]
    for sid in ids:
        if ids.count(sid) > 1:
            raise fail(f"scale id '{sid}' is used twice; give every scale a unique id")
    by_item = {it.id: it for it in items}
    item_scales = {raw["id"]: _build_item_scale(raw, by_item, fail)
                   for raw in raw_scales if "derived_from" not in raw}
    scales: list[Scale] = []
    for raw in raw_scales:
        if "derived_from" in raw:
            base = _build_derived_scale(raw, item_scales, ids, fail)
        else:
            base = item_scales[raw["id"]]
        bands = _check_bands(raw.get("bands", []), base, fail)
        scales.append(dataclasses.replace(base, bands=bands))
    return scales


def _build(doc: dict[str, Any], label: str) -> Instrument:
    """Semantic checks that JSON Schema cannot express, then build the Instrument."""

    def fail(message: str) -> InputError:
        return InputError(f"{label}: {message}")

    items = _build_items(doc["items"], fail)
    scales = _build_scales(doc["scales"], items, fail)
    ids = [sc.id for sc in scales]
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


def _check_bands(raw_bands: list[list[Any]], scale: Scale, fail: Fail) -> tuple[Band, ...]:
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
