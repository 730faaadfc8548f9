"""Questionnaire instruments, responses, item values and scores in the store.

This module holds the SQL only. Parsing, validation and scoring are pure
(:mod:`studymgr.compute.instruments`); entry, batch import and amendments are orchestrated by
:mod:`studymgr.runs.entry`, which calls the ``_``-prefixed helpers below inside one
:meth:`Study.transaction`.

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
from collections.abc import Iterable, Mapping
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
from studymgr.ids import check_choice, check_code, check_session_number, utcnow

logger = logging.getLogger(__name__)

CONSTRUCTS = ("symptoms", "wellbeing", "alliance", "session_quality", "other")

SCORE_COLUMNS = ["dyad", "session", "respondent", "timing", "instrument", "version", "construct",
                 "scale", "value", "n_answered", "n_items", "prorated", "band", "primary"]
ITEM_COLUMNS = ["dyad", "session", "respondent", "timing", "instrument", "version", "item",
                "position", "value", "missing"]
RESPONSE_COLUMNS = ["dyad", "session", "respondent", "timing", "instrument", "version", "status",
                    "source", "n_answered", "n_items", "entered_by", "entered_at"]
INSTRUMENT_COLUMNS = ["name", "version", "construct", "roles", "timings", "items", "scales",
                      "source", "hash", "stored", "responses"]

# Joins shared by the read-back queries: response -> session -> dyad, and its instrument.
_JOINS = ("JOIN sessions s ON s.id = r.session_id JOIN dyads d ON d.id = s.dyad_id "
          "JOIN instruments i ON i.id = r.instrument_id")
_FROM_RESPONSES = "FROM responses r " + _JOINS
_ORDER = ("d.code, s.number, i.name, i.version, r.respondent, "
          "CASE r.timing WHEN 'pre' THEN 0 ELSE 1 END")


@lru_cache(maxsize=1)
def _builtins() -> dict[str, Instrument]:
    # Loading validates six JSON files against the schema: do it once per process.
    return builtin_instruments()


def split_spec(spec: str) -> tuple[str, str | None]:
    """Split an instrument spec ``name`` or ``name@version`` (validating both parts).

    Parameters
    ----------
    spec : str
        E.g. ``"gad7"`` or ``"gad7@2006"``.

    Returns
    -------
    tuple
        ``(name, version)``; version is None when not given.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"invalid instrument {spec!r}: give a name such as gad7 (or gad7@2006)")
    name, sep, version = spec.strip().partition("@")
    check_code(name, "instrument")
    if sep:
        if not version or not all(c.isalnum() or c in "_.-" for c in version) or len(version) > 32:
            raise InputError(f"invalid instrument version in {spec!r}: write name@version, "
                             "e.g. gad7@2006")
        return name, version
    return name, None


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
class NewResponse:
    """One parsed and scored response, ready to be written (built by :mod:`studymgr.runs.entry`)."""

    dyad: str
    session: int
    session_id: int
    instrument: StoredInstrument
    respondent: str
    timing: str
    values: ItemValues
    scores: tuple[Score, ...]

    @property
    def key(self) -> str:
        """Audit key: ``dyad/session/name@version/respondent/timing``."""
        return (f"{self.dyad}/{self.session}/{self.instrument.spec}/{self.respondent}/"
                f"{self.timing}")

    def item_map(self) -> dict[str, float | str]:
        """Item id -> value (float) or missing code, in definition order."""
        return {iid: (self.values.missing[iid] if v is None else float(v))
                for iid, v in self.values.values.items()}

    def score_map(self) -> dict[str, float | None]:
        """Scale id -> score value."""
        return {s.scale: s.value for s in self.scores}


class ResponsesMixin:
    """Study methods for questionnaire instruments, responses, items and scores."""

    status_legend = ("qN: N questionnaires entered, all that are expected; qN/M: N of the M "
                     "expected (expected = every instrument/respondent/timing entered in any "
                     "attended session of the same kind).")

    # -- instruments ----------------------------------------------------------------------------
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
        sql = "SELECT id, name, version, definition, content_hash, source FROM instruments"
        params: tuple = ()
        if name is not None:
            sql += " WHERE name = ?"
            params = (name,)
        known = [self._load_stored(r) for r in
                 self.db.conn.execute(sql + " ORDER BY name, version", params)]
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
        counts = dict(self.db.conn.execute(
            "SELECT instrument_id, count(*) FROM responses GROUP BY instrument_id").fetchall())
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
            row = self.db.conn.execute(
                "SELECT content_hash, source FROM instruments WHERE name = ? AND version = ?",
                (inst.name, inst.version)).fetchone()
            if row is not None:
                if row[0] != inst.content_hash:
                    raise ConflictError(
                        f"instrument {spec} is already stored with a different definition (hash "
                        f"{row[0][:12]}, yours {inst.content_hash[:12]}): stored definitions "
                        "never change; give yours a new \"version\" and add it again"
                    )
                return {**out, "source": row[1], "added": False}
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
        cur = self.db.conn.execute(
            "INSERT INTO instruments (name, version, construct, definition, content_hash, source,"
            " added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (inst.name, inst.version, inst.construct,
             json.dumps(inst.definition, sort_keys=True, ensure_ascii=False),
             inst.content_hash, origin, utcnow()))
        self.log("add", "instrument", f"{inst.name}@{inst.version}",
                 new={"construct": inst.construct, "content_hash": inst.content_hash,
                      "source": origin})
        self._instrument_cache()[inst.content_hash] = inst
        return int(cur.lastrowid)

    def _ensure_instrument(self, stored: StoredInstrument) -> int:
        """Row id of an instrument, storing a built-in on first use (inside a transaction)."""
        if stored.id is not None:
            return stored.id
        inst = stored.instrument
        row = self.db.conn.execute(
            "SELECT id, content_hash FROM instruments WHERE name = ? AND version = ?",
            (inst.name, inst.version)).fetchone()
        if row is not None:  # stored meanwhile by another writer
            if row[1] != inst.content_hash:
                raise ConflictError(f"{inst.name}@{inst.version} was stored meanwhile with "
                                    "another definition: run the command again")
            return int(row[0])
        return self._insert_instrument(inst, stored.source)

    # -- low-level helpers for studymgr.runs.entry (call inside one transaction) ---------------------
    def _session_index(self) -> tuple[set[str], dict[tuple[str, int], tuple[int, bool, bool]]]:
        """Dyad codes, and ``{(dyad, number): (session_id, locked, attended)}``."""
        dyads = {r[0] for r in self.db.conn.execute("SELECT code FROM dyads")}
        sessions = {
            (d, int(n)): (int(sid), bool(locked), bool(attended))
            for d, n, sid, locked, attended in self.db.conn.execute(
                "SELECT d.code, s.number, s.id, s.locked, s.attended FROM sessions s "
                "JOIN dyads d ON d.id = s.dyad_id")
        }
        return dyads, sessions

    def _response_index(self, session_ids: Iterable[int] | None = None
                        ) -> dict[tuple[int, int, str, str], dict[str, Any]]:
        """``{(session_id, instrument_id, respondent, timing): {id, entered_by, ...}}``."""
        sql = ("SELECT id, session_id, instrument_id, respondent, timing, status, source, "
               "entered_by, entered_at FROM responses")
        params: tuple = ()
        if session_ids is not None:
            ids = sorted(set(session_ids))
            if not ids:
                return {}
            sql += f" WHERE session_id IN ({', '.join('?' * len(ids))})"
            params = tuple(ids)
        out = {}
        for rid, sid, iid, resp, timing, status, source, by, at in self.db.conn.execute(sql,
                                                                                        params):
            out[(sid, iid, resp, timing)] = {"id": rid, "status": status, "source": source,
                                             "entered_by": by, "entered_at": at}
        return out

    def _response_items(self, response_ids: Iterable[int]) -> dict[int, dict[str, float | str]]:
        """``{response_id: {item: value or missing code}}`` in item order."""
        out: dict[int, dict[str, float | str]] = {}
        ids = sorted(set(response_ids))
        for start in range(0, len(ids), 500):  # stay below SQLite's variable limit
            chunk = ids[start:start + 500]
            cur = self.db.conn.execute(
                "SELECT response_id, item, value, missing FROM response_items WHERE response_id "
                f"IN ({', '.join('?' * len(chunk))}) ORDER BY response_id, position", chunk)
            for rid, item, value, missing in cur:
                out.setdefault(rid, {})[item] = missing if value is None else float(value)
        return out

    def _response_scores(self, response_id: int) -> dict[str, float | None]:
        return {scale: value for scale, value in self.db.conn.execute(
            "SELECT scale, value FROM scores WHERE response_id = ? ORDER BY rowid",
            (response_id,))}

    def _import_seen(self, sha256: str) -> dict[str, Any] | None:
        """When a file with this hash was imported: ``{responses, entered_at, entered_by}``."""
        row = self.db.conn.execute(
            "SELECT count(*), min(entered_at), min(entered_by) FROM responses "
            "WHERE source_hash = ?", (sha256,)).fetchone()
        if not row[0]:
            return None
        return {"responses": int(row[0]), "entered_at": row[1], "entered_by": row[2]}

    def _insert_responses(self, records: list[NewResponse], *, source: str, action: str,
                          source_hash: str | None = None,
                          audit_extra: Mapping[str, Any] | None = None) -> list[int]:
        """Write responses, their items and scores (executemany), one audit row each.

        Must run inside :meth:`transaction` (the write lock makes the explicit ids safe).
        """
        conn = self.db.conn
        if not conn.in_transaction:
            raise RuntimeError("_insert_responses must run inside study.transaction()")
        next_id = conn.execute("SELECT coalesce(max(id), 0) FROM responses").fetchone()[0] + 1
        now, user = utcnow(), self.user
        instrument_ids: dict[str, int] = {}
        responses, items, scores, ids = [], [], [], []
        for rid, rec in enumerate(records, start=next_id):
            spec = rec.instrument.spec
            if spec not in instrument_ids:
                instrument_ids[spec] = self._ensure_instrument(rec.instrument)
            responses.append((rid, rec.session_id, instrument_ids[spec], rec.respondent,
                              rec.timing, source, source_hash, user, now))
            for pos, (iid, value) in enumerate(rec.values.values.items(), start=1):
                items.append((rid, iid, pos, None if value is None else float(value),
                              rec.values.missing.get(iid)))
            for s in rec.scores:
                scores.append((rid, s.scale, s.value, s.n_answered, s.n_items, int(s.prorated),
                               s.band))
            ids.append(rid)
        conn.executemany(
            "INSERT INTO responses (id, session_id, instrument_id, respondent, timing, status, "
            "source, source_hash, entered_by, entered_at) "
            "VALUES (?, ?, ?, ?, ?, 'entered', ?, ?, ?, ?)", responses)
        self._write_items_scores(items, scores)
        extra = dict(audit_extra or {})
        for rec in records:
            self.log(action, "response", rec.key,
                     new={"items": rec.item_map(), "scores": rec.score_map(), "source": source,
                          **extra})
        return ids

    def _write_items_scores(self, items: list[tuple], scores: list[tuple]) -> None:
        self.db.conn.executemany(
            "INSERT INTO response_items (response_id, item, position, value, missing) "
            "VALUES (?, ?, ?, ?, ?)", items)
        self.db.conn.executemany(
            "INSERT INTO scores (response_id, scale, value, n_answered, n_items, prorated, band) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", scores)

    def _replace_response(self, response_id: int, record: NewResponse, *, reason: str) -> None:
        """Amend a stored response: new items and scores, status 'amended' (inside a transaction).

        The old item values, scores and entry details go to the audit row's ``old``.
        """
        conn = self.db.conn
        meta = conn.execute(
            "SELECT status, source, source_hash, entered_by, entered_at FROM responses "
            "WHERE id = ?", (response_id,)).fetchone()
        old = {"items": self._response_items([response_id]).get(response_id, {}),
               "scores": self._response_scores(response_id),
               **dict(zip(("status", "source", "source_hash", "entered_by", "entered_at"), meta,
                          strict=True))}
        conn.execute(
            "UPDATE responses SET status = 'amended', source = 'amend', source_hash = NULL, "
            "entered_by = ?, entered_at = ? WHERE id = ?", (self.user, utcnow(), response_id))
        conn.execute("DELETE FROM response_items WHERE response_id = ?", (response_id,))
        conn.execute("DELETE FROM scores WHERE response_id = ?", (response_id,))
        items = [(response_id, iid, pos, None if v is None else float(v),
                  record.values.missing.get(iid))
                 for pos, (iid, v) in enumerate(record.values.values.items(), start=1)]
        scores = [(response_id, s.scale, s.value, s.n_answered, s.n_items, int(s.prorated),
                   s.band) for s in record.scores]
        self._write_items_scores(items, scores)
        self.log("amend", "response", record.key, old=old,
                 new={"items": record.item_map(), "scores": record.score_map(),
                      "status": "amended", "source": "amend"}, reason=reason)

    # -- reading back ---------------------------------------------------------------------------
    def _filters(self, dyad: str | None, instrument: str | None, construct: str | None = None,
                 session: int | None = None) -> tuple[str, list[Any]]:
        where, params = [], []
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)  # unknown dyad: NotFoundError
            where.append("d.code = ?")
            params.append(dyad)
        if session is not None:
            where.append("s.number = ?")
            params.append(check_session_number(session))
        if instrument is not None:
            name, version = split_spec(instrument)
            known = self._known_instruments(name)
            if not known or (version is not None
                             and all(k.instrument.version != version for k in known)):
                self._resolve_instrument(instrument)  # raises the helpful NotFoundError
            where.append("i.name = ?")
            params.append(name)
            if version is not None:
                where.append("i.version = ?")
                params.append(version)
        if construct is not None:
            check_choice(construct, CONSTRUCTS, "construct")
            where.append("i.construct = ?")
            params.append(construct)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def scores(self, dyad: str | None = None, instrument: str | None = None,
               construct: str | None = None) -> pd.DataFrame:
        """Stored scores, tidy: one row per response and scale.

        Parameters
        ----------
        dyad : str | None
            Only this dyad.
        instrument : str | None
            Only this instrument (``name``: all its versions; ``name@version``: one).
        construct : str | None
            Only instruments of this construct (symptoms, wellbeing, alliance,
            session_quality, other).

        Returns
        -------
        pandas.DataFrame
            ``dyad, session, respondent, timing, instrument, version, construct, scale, value``
            (in the scale's units; NaN when too few items were answered), ``n_answered,
            n_items, prorated, band`` and ``primary`` (True for the instrument's primary scale,
            the one models use for its construct).
        """
        where, params = self._filters(dyad, instrument, construct)
        rows = self.db.conn.execute(
            "SELECT d.code, s.number, r.respondent, r.timing, i.name, i.version, i.construct, "
            "sc.scale, sc.value, sc.n_answered, sc.n_items, sc.prorated, sc.band, "
            "sc.scale = json_extract(i.definition, '$.primary') "
            f"FROM scores sc JOIN responses r ON r.id = sc.response_id {_JOINS}{where} "
            f"ORDER BY {_ORDER}, sc.rowid", params).fetchall()
        frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
        return frame.astype({"session": "int64", "value": "float64", "n_answered": "int64",
                             "n_items": "int64", "prorated": "bool", "primary": "bool"})

    def items(self, dyad: str | None = None, instrument: str | None = None,
              session: int | None = None) -> pd.DataFrame:
        """Stored item values, tidy: one row per response and item.

        Parameters
        ----------
        dyad, instrument : str | None
            Filters as in :meth:`scores`.
        session : int | None
            Only this session number.

        Returns
        -------
        pandas.DataFrame
            ``dyad, session, respondent, timing, instrument, version, item, position``
            (1-based, definition order), ``value`` (raw, not reverse-keyed; NaN when missing)
            and ``missing`` (NA, REF or NR; None when answered).
        """
        where, params = self._filters(dyad, instrument, session=session)
        rows = self.db.conn.execute(
            "SELECT d.code, s.number, r.respondent, r.timing, i.name, i.version, ri.item, "
            "ri.position, ri.value, ri.missing FROM response_items ri "
            f"JOIN responses r ON r.id = ri.response_id {_JOINS}{where} "
            f"ORDER BY {_ORDER}, ri.position", params).fetchall()
        frame = pd.DataFrame(rows, columns=ITEM_COLUMNS)
        return frame.astype({"session": "int64", "position": "int64", "value": "float64"})

    def responses(self, dyad: str | None = None, instrument: str | None = None) -> pd.DataFrame:
        """Stored responses, one row each, with who entered them and how.

        Returns
        -------
        pandas.DataFrame
            ``dyad, session, respondent, timing, instrument, version, status`` (entered or
            amended), ``source`` (entry, import, amend), ``n_answered, n_items, entered_by,
            entered_at`` (UTC ISO 8601).
        """
        where, params = self._filters(dyad, instrument)
        rows = self.db.conn.execute(
            "SELECT d.code, s.number, r.respondent, r.timing, i.name, i.version, r.status, "
            "r.source, (SELECT count(*) FROM response_items ri WHERE ri.response_id = r.id "
            "AND ri.value IS NOT NULL), (SELECT count(*) FROM response_items ri "
            "WHERE ri.response_id = r.id), r.entered_by, r.entered_at "
            f"{_FROM_RESPONSES}{where} ORDER BY {_ORDER}", params).fetchall()
        frame = pd.DataFrame(rows, columns=RESPONSE_COLUMNS)
        return frame.astype({"session": "int64", "n_answered": "int64", "n_items": "int64"})

    # -- status -----------------------------------------------------------------------------------
    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Questionnaire completeness per session.

        Expected questionnaires of an attended session: every (instrument, respondent, timing)
        entered in any attended session of the same kind (therapy or interview) in the study,
        i.e. the battery is inferred from the data. A session that did not take place expects
        nothing beyond what was entered.

        Adds ``questionnaires`` (entered), ``questionnaires_expected``,
        ``questionnaires_entered`` and ``questionnaires_missing`` (``name/respondent/timing``,
        comma-separated) and ``mark_q`` (``qN`` complete, ``qN/M`` incomplete, empty when none
        are entered or expected).
        """
        entered: dict[tuple[str, int], set[str]] = {}
        plan: dict[str, set[str]] = {}
        for dyad, number, kind, attended, name, resp, timing in self.db.conn.execute(
            "SELECT d.code, s.number, s.kind, s.attended, i.name, r.respondent, r.timing "
            f"{_FROM_RESPONSES}"
        ):
            triple = f"{name}/{resp}/{timing}"
            entered.setdefault((dyad, int(number)), set()).add(triple)
            if attended:
                plan.setdefault(kind, set()).add(triple)
        counts, expected_n, entered_s, missing_s, marks = [], [], [], [], []
        for row in frame.itertuples(index=False):
            if pd.isna(row.session):
                got: set[str] = set()
                expected: set[str] = set()
            else:
                got = entered.get((row.dyad, int(row.session)), set())
                attended = bool(row.attended) if not pd.isna(row.attended) else True
                expected = (plan.get(row.kind, set()) if attended else set()) | got
            missing = expected - got
            counts.append(len(got))
            expected_n.append(len(expected))
            entered_s.append(", ".join(sorted(got)))
            missing_s.append(", ".join(sorted(missing)))
            if not expected:
                marks.append("")
            elif missing:
                marks.append(f"q{len(got)}/{len(expected)}")
            else:
                marks.append(f"q{len(got)}")
        return frame.assign(questionnaires=pd.array(counts, dtype="int64"),
                            questionnaires_expected=pd.array(expected_n, dtype="int64"),
                            questionnaires_entered=entered_s,
                            questionnaires_missing=missing_s, mark_q=marks)
