"""Questionnaire instruments of a study: the instrument objects above the store's rows.

The store (:mod:`studymgr.store.responses`) keeps definitions as JSON text with their content
hash; this module turns them into :class:`~studymgr.compute.instruments.Instrument` objects, adds
the built-ins shipped with studymgr, resolves instrument specs, validates and adds user
definitions, and turns scored responses into the store's plain :class:`NewResponse` records.
:class:`QuestionnairesMixin` is part of :class:`~studymgr.runs.study.Study`; entry, batch import
and amendments (:mod:`studymgr.runs.entry`) build on it.

Instruments in a study
    Built-in definitions (``schemas/instruments/*.json``) are stored in the ``instruments`` table
    on first use, i.e. in the transaction that writes the first response referring to them, not at
    study creation: a study only carries the definitions it uses, and a newer studymgr shipping a
    corrected built-in never silently changes a study. Once stored, the study's copy is the one
    used (responses reference its row, so scores can always be recomputed from it), even if the
    shipped built-in of the same name and version has changed meanwhile (a warning says so).

Instrument specs
    ``name`` or ``name@version``. A bare name means the single version known to the study
    (stored, or built-in and not yet stored); with several versions the version must be given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from studymgr.compute.instruments import (
    Instrument,
    ItemValues,
    Score,
    builtin_instruments,
    load_instrument,
)
from studymgr.errors import ConflictError, InputError, NotFoundError
from studymgr.store.responses import NewResponse, split_spec

logger = logging.getLogger(__name__)

__all__ = ["INSTRUMENT_COLUMNS", "QuestionnairesMixin", "ScoredResponse", "StoredInstrument",
           "split_spec"]

INSTRUMENT_COLUMNS = ["name", "version", "construct", "roles", "timings", "items", "scales",
                      "source", "hash", "stored", "responses"]


@lru_cache(maxsize=1)
def _builtins() -> dict[str, Instrument]:
    # Loading validates six JSON files against the schema: do it once per process.
    return builtin_instruments()


@dataclass(frozen=True)
class StoredInstrument:
    """An instrument as known to a study.

    Attributes
    ----------
    instrument : Instrument
        The validated definition (the study's stored copy when stored).
    id : int | None
        Row id in ``instruments``; None for a built-in not stored in this study yet.
    source : str
        ``"builtin"`` or ``"user"``.
    """

    instrument: Instrument
    id: int | None
    source: str

    @property
    def spec(self) -> str:
        """``name@version``."""
        return f"{self.instrument.name}@{self.instrument.version}"


@dataclass(frozen=True)
class ScoredResponse:
    """One response parsed and scored against its instrument, not written yet.

    Built by :mod:`studymgr.runs.entry` before the write transaction (so that bad values are
    refused before any lock is taken); :meth:`QuestionnairesMixin._write_responses` stores it.
    """

    dyad: str
    session: int
    session_id: int
    instrument: StoredInstrument
    role: str
    timing: str
    values: ItemValues
    scores: tuple[Score, ...]

    def record(self, instrument_id: int) -> NewResponse:
        """The store's plain record of this response, for the instrument's row id."""
        return NewResponse(dyad=self.dyad, session=self.session, session_id=self.session_id,
                           instrument=self.instrument.spec, instrument_id=instrument_id,
                           role=self.role, timing=self.timing, values=self.values.values,
                           missing=self.values.missing, scores=self.scores)


class QuestionnairesMixin:
    """Study methods that need instrument objects: specs, definitions, adding instruments."""

    def _instrument_cache(self) -> dict[str, Instrument]:
        cache = self.__dict__.get("_instruments_by_hash")
        if cache is None:
            cache = self.__dict__["_instruments_by_hash"] = {}
        return cache

    def _load_stored(self, row: tuple) -> StoredInstrument:
        rid, name, version, definition, chash, source = row
        cache = self._instrument_cache()
        inst = cache.get(chash)
        if inst is None:
            inst = load_instrument(json.loads(definition))
            if inst.content_hash != chash:
                raise InputError(
                    f"the stored definition of {name}@{version} does not match its content hash: "
                    "the database was edited outside studymgr (check 'studymgr audit')"
                )
            cache[chash] = inst
            shipped = _builtins().get(name)
            if (source == "builtin" and shipped is not None and shipped.version == version
                    and shipped.content_hash != chash):
                logger.warning("%s@%s: this study keeps its stored definition, which differs "
                               "from the one shipped with this studymgr", name, version)
        return StoredInstrument(inst, int(rid), source)

    def _known_instruments(self, name: str | None = None) -> list[StoredInstrument]:
        """Stored instruments plus built-ins not stored yet (optionally of one name)."""
        known = [self._load_stored(r) for r in self._instrument_rows(name)]
        stored = {(k.instrument.name, k.instrument.version) for k in known}
        for bname, inst in _builtins().items():
            if (name is None or bname == name) and (bname, inst.version) not in stored:
                known.append(StoredInstrument(inst, None, "builtin"))
        known.sort(key=lambda k: (k.instrument.name, k.instrument.version))
        return known

    def _resolve_instrument(self, spec: str) -> StoredInstrument:
        """The instrument a spec names (``name`` or ``name@version``), stored or built-in."""
        name, version = split_spec(spec)
        candidates = self._known_instruments(name)
        if version is not None:
            candidates = [c for c in candidates if c.instrument.version == version]
        if not candidates:
            if version is not None and self._known_instruments(name):
                versions = ", ".join(c.instrument.version for c in self._known_instruments(name))
                raise NotFoundError(f"instrument {name} has no version {version} in this study "
                                    f"(known: {versions})")
            names = sorted({c.instrument.name for c in self._known_instruments()})
            raise NotFoundError(
                f"unknown instrument {name!r}: known are {', '.join(names)} (add your own with "
                "'studymgr instrument add FILE.json')"
            )
        if len(candidates) > 1:
            specs = ", ".join(c.spec for c in candidates)
            raise InputError(f"instrument {name} has several versions ({specs}): write "
                             f"{name}@VERSION")
        return candidates[0]

    def _check_instrument_filter(self, name: str, version: str | None) -> None:
        """Refuse a read-back filter naming no instrument of this study or the built-ins."""
        known = self._known_instruments(name)
        if not known or (version is not None
                         and all(k.instrument.version != version for k in known)):
            # raises the helpful NotFoundError
            self._resolve_instrument(name if version is None else f"{name}@{version}")

    def instrument(self, spec: str) -> Instrument:
        """The definition an instrument spec names (the study's stored copy when stored).

        Parameters
        ----------
        spec : str
            ``name`` or ``name@version`` (e.g. ``"gad7"``, ``"wai-sr@2006"``).

        Returns
        -------
        Instrument
        """
        return self._resolve_instrument(spec).instrument

    def instruments(self) -> pd.DataFrame:
        """Instruments known to the study: stored ones and built-ins not used yet.

        Returns
        -------
        pandas.DataFrame
            One row per instrument version: ``name, version, construct, roles, timings, items``
            (number of items), ``scales`` (ids), ``source`` (builtin/user), ``hash`` (first 12
            hex digits of the content hash), ``stored`` (in this study's database) and
            ``responses`` (number stored).
        """
        counts = self._response_counts()
        rows = []
        for k in self._known_instruments():
            inst = k.instrument
            rows.append({
                "name": inst.name, "version": inst.version, "construct": inst.construct,
                "roles": ", ".join(inst.roles), "timings": ", ".join(inst.timings),
                "items": len(inst.items), "scales": ", ".join(s.id for s in inst.scales),
                "source": k.source, "hash": inst.content_hash[:12], "stored": k.id is not None,
                "responses": counts.get(k.id, 0),
            })
        return pd.DataFrame(rows, columns=INSTRUMENT_COLUMNS)

    def add_instrument(self, source: str | Path | Mapping[str, Any] | Instrument
                       ) -> dict[str, Any]:
        """Validate and store an instrument definition (audited).

        Parameters
        ----------
        source : path-like, Mapping or Instrument
            A JSON definition file (see ``schemas/instrument.schema.json``), a parsed definition
            or a loaded :class:`~studymgr.compute.instruments.Instrument`.

        Returns
        -------
        dict
            ``name, version, hash, source, added``; ``added`` is False when the same
            definition is already stored (nothing is written then).

        Raises
        ------
        InputError
            The definition is invalid.
        ConflictError
            Another definition is stored (or built in) under the same name and version: give
            the changed definition a new version.
        """
        inst = source if isinstance(source, Instrument) else load_instrument(source)
        spec = f"{inst.name}@{inst.version}"
        out = {"name": inst.name, "version": inst.version, "hash": inst.content_hash}
        with self.transaction():
            row = self._instrument_row(inst.name, inst.version)
            if row is not None:
                if row[1] != inst.content_hash:
                    raise ConflictError(
                        f"instrument {spec} is already stored with a different definition (hash "
                        f"{row[1][:12]}, yours {inst.content_hash[:12]}): stored definitions "
                        "never change; give yours a new \"version\" and add it again"
                    )
                return {**out, "source": row[2], "added": False}
            shipped = _builtins().get(inst.name)
            origin = "user"
            if shipped is not None and shipped.version == inst.version:
                if shipped.content_hash != inst.content_hash:
                    raise ConflictError(
                        f"{spec} is a built-in instrument with a different definition: give "
                        "yours a new \"version\" (e.g. "
                        f"{inst.version}-local) or a new name, and add it again"
                    )
                origin = "builtin"
            self._insert_instrument(inst, origin)
        return {**out, "source": origin, "added": True}

    def _insert_instrument(self, inst: Instrument, origin: str) -> int:
        rid = self._insert_instrument_row(
            name=inst.name, version=inst.version, construct=inst.construct,
            definition=inst.definition, content_hash=inst.content_hash, source=origin)
        self._instrument_cache()[inst.content_hash] = inst
        return rid

    def _ensure_instrument(self, stored: StoredInstrument) -> int:
        """Row id of an instrument, storing a built-in on first use (inside a transaction)."""
        if stored.id is not None:
            return stored.id
        inst = stored.instrument
        row = self._instrument_row(inst.name, inst.version)
        if row is not None:  # stored meanwhile by another writer
            if row[1] != inst.content_hash:
                raise ConflictError(f"{inst.name}@{inst.version} was stored meanwhile with "
                                    "another definition: run the command again")
            return row[0]
        return self._insert_instrument(inst, stored.source)

    def _write_responses(self, records: list[ScoredResponse], *, source: str, action: str,
                         source_hash: str | None = None,
                         audit_extra: Mapping[str, Any] | None = None) -> list[int]:
        """Store scored responses (inside a transaction): their built-ins first, then the rows.

        See :meth:`studymgr.store.responses.ResponsesMixin._insert_responses`.
        """
        if not self.db.conn.in_transaction:
            raise RuntimeError("_write_responses must run inside study.transaction()")
        ids: dict[str, int] = {}
        for rec in records:
            if rec.instrument.spec not in ids:
                ids[rec.instrument.spec] = self._ensure_instrument(rec.instrument)
        return self._insert_responses([r.record(ids[r.instrument.spec]) for r in records],
                                      source=source, action=action, source_hash=source_hash,
                                      audit_extra=audit_extra)
