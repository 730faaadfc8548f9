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

This package is pure apart from reading definition files: it never touches a study database.
Its modules: :mod:`~studymgr.compute.instruments.schema` (the JSON Schema, missing codes, content
hash), :mod:`~studymgr.compute.instruments.scoring` (items, scales, parsing and scoring),
:mod:`~studymgr.compute.instruments.definition` (loading and checking definitions) and
:mod:`~studymgr.compute.instruments.reliability` (Cronbach's alpha). Every public name is
importable from the package itself.
"""

from __future__ import annotations

from studymgr.compute.instruments.definition import builtin_instruments, load_instrument
from studymgr.compute.instruments.reliability import cronbach_alpha
from studymgr.compute.instruments.schema import content_hash, instrument_schema, missing_codes
from studymgr.compute.instruments.scoring import (
    Band,
    Instrument,
    Item,
    ItemValues,
    Scale,
    Score,
    reverse_key,
)

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
