"""The instrument JSON Schema, the typed missing-value codes, and content hashes of definitions.

Also the rounding and grid tolerance shared by parsing, scoring and the checks of definitions.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from studymgr.resources import schemas_dir

#: Decimal places scores and keyed values are rounded to (removes float summation noise only).
_DECIMALS = 10
#: Tolerance, in units of an item's step, for a value to count as lying on the item's grid.
_GRID_TOL = 1e-6

Number = int | float


def _fmt(x: Number) -> str:
    """Format a number without a spurious ``.0``."""
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


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
