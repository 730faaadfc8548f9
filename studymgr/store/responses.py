"""Questionnaire instruments, responses, item values and scores in the store: the SQL only.

Data in and out is plain: an instrument is its JSON definition with its content hash, a response
is a :class:`NewResponse` of item values and scale scores, read-backs are tidy DataFrames.
Instrument objects (parsing a stored definition, the built-ins, resolving ``name@version``,
scoring) live above, in :mod:`studymgr.runs.questionnaires`, whose mixin the
:class:`~studymgr.runs.study.Study` adds; entry, batch import and amendments are orchestrated by
:mod:`studymgr.runs.entry`, which calls the ``_``-prefixed helpers below inside one
:meth:`Store.transaction`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from studymgr.errors import InputError
from studymgr.ids import check_choice, check_code, check_session_number, utcnow

CONSTRUCTS = ("symptoms", "wellbeing", "alliance", "session_quality", "other")

SCORE_COLUMNS = ["dyad", "session", "role", "timing", "instrument", "version", "construct",
                 "scale", "value", "n_answered", "n_items", "prorated", "band", "primary"]
ITEM_COLUMNS = ["dyad", "session", "role", "timing", "instrument", "version", "item",
                "position", "value", "missing"]
RESPONSE_COLUMNS = ["dyad", "session", "role", "timing", "instrument", "version", "status",
                    "source", "n_answered", "n_items", "entered_by", "entered_at"]

# Joins shared by the read-back queries: response -> session -> dyad, and its instrument.
_JOINS = ("JOIN sessions s ON s.id = r.session_id JOIN dyads d ON d.id = s.dyad_id "
          "JOIN instruments i ON i.id = r.instrument_id")
_FROM_RESPONSES = "FROM responses r " + _JOINS
_ORDER = ("d.code, s.number, i.name, i.version, r.role, "
          "CASE r.timing WHEN 'pre' THEN 0 ELSE 1 END")


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


class ScoreRow(Protocol):
    """What the store reads of one scale score (a :class:`studymgr.compute.instruments.Score`)."""

    @property
    def scale(self) -> str:
        """Scale id."""

    @property
    def value(self) -> float | None:
        """Score in the scale's units (None: too few items answered)."""

    @property
    def n_answered(self) -> int:
        """Answered items of the scale."""

    @property
    def n_items(self) -> int:
        """Items of the scale."""

    @property
    def prorated(self) -> bool:
        """Computed from fewer than all items."""

    @property
    def band(self) -> str | None:
        """Band label of the score."""


@dataclass(frozen=True)
class NewResponse:
    """One parsed and scored response, ready to be written (plain data only).

    Built by :mod:`studymgr.runs.questionnaires` from a response scored against its instrument.

    Attributes
    ----------
    dyad, session : str, int
        Dyad code and session number (for the audit key).
    session_id : int
        Row id of the session.
    instrument : str
        ``name@version`` (for the audit key).
    instrument_id : int
        Row id of the instrument (a built-in is stored before its first response).
    role, timing : str
        Who answered (``therapist``/``patient``) and when (``pre``/``post``).
    values : Mapping
        Every item id in definition order -> its raw value, None when missing.
    missing : Mapping
        Item id -> missing code (``NA``, ``REF``, ``NR``) of the missing items.
    scores : tuple
        One score per scale (anything with the attributes of :class:`ScoreRow`).
    """

    dyad: str
    session: int
    session_id: int
    instrument: str
    instrument_id: int
    role: str
    timing: str
    values: Mapping[str, float | None]
    missing: Mapping[str, str]
    scores: tuple[ScoreRow, ...]

    @property
    def key(self) -> str:
        """Audit key: ``dyad/session/name@version/role/timing``."""
        return f"{self.dyad}/{self.session}/{self.instrument}/{self.role}/{self.timing}"

    def item_map(self) -> dict[str, float | str]:
        """Item id -> value (float) or missing code, in definition order."""
        return {iid: (self.missing[iid] if v is None else float(v))
                for iid, v in self.values.items()}

    def score_map(self) -> dict[str, float | None]:
        """Scale id -> score value."""
        return {s.scale: s.value for s in self.scores}

    def item_rows(self, response_id: int) -> list[tuple]:
        """Rows of ``response_items`` for this response."""
        return [(response_id, iid, pos, None if v is None else float(v), self.missing.get(iid))
                for pos, (iid, v) in enumerate(self.values.items(), start=1)]

    def score_rows(self, response_id: int) -> list[tuple]:
        """Rows of ``scores`` for this response."""
        return [(response_id, s.scale, s.value, s.n_answered, s.n_items, int(s.prorated),
                 s.band) for s in self.scores]


class ResponsesMixin:
    """Store methods for questionnaire instruments, responses, items and scores."""

    status_legend = ("qN: N questionnaires entered, all that are expected; qN/M: N of the M "
                     "expected (expected = every instrument/role/timing entered in any "
                     "attended session of the same kind).")

    # -- instruments ----------------------------------------------------------------------------
    def _instrument_rows(self, name: str | None = None) -> list[tuple]:
        """Stored instruments (optionally of one name), by name and version:
        ``(id, name, version, definition JSON, content_hash, source)``."""
        sql = "SELECT id, name, version, definition, content_hash, source FROM instruments"
        params: tuple = ()
        if name is not None:
            sql += " WHERE name = ?"
            params = (name,)
        return self.db.conn.execute(sql + " ORDER BY name, version", params).fetchall()

    def _instrument_row(self, name: str, version: str) -> tuple[int, str, str] | None:
        """``(id, content_hash, source)`` of a stored instrument version, None if not stored."""
        row = self.db.conn.execute(
            "SELECT id, content_hash, source FROM instruments WHERE name = ? AND version = ?",
            (name, version)).fetchone()
        return None if row is None else (int(row[0]), row[1], row[2])

    def _insert_instrument_row(self, *, name: str, version: str, construct: str,
                               definition: Mapping[str, Any], content_hash: str,
                               source: str) -> int:
        """Store a validated definition (inside a transaction, audited); return its row id."""
        cur = self.db.conn.execute(
            "INSERT INTO instruments (name, version, construct, definition, content_hash, source,"
            " added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, version, construct, json.dumps(definition, sort_keys=True, ensure_ascii=False),
             content_hash, source, utcnow()))
        self.log("add", "instrument", f"{name}@{version}",
                 new={"construct": construct, "content_hash": content_hash, "source": source})
        return int(cur.lastrowid)

    def _response_counts(self) -> dict[int, int]:
        """``{instrument_id: number of stored responses}``."""
        return {int(i): int(n) for i, n in self.db.conn.execute(
            "SELECT instrument_id, count(*) FROM responses GROUP BY instrument_id")}

    def _check_instrument_filter(self, name: str, version: str | None) -> None:
        """Hook on the read-backs' instrument filter: here any name passes.

        The store knows only its stored rows, and an instrument not stored yet simply selects
        nothing; :class:`~studymgr.runs.study.Study` overrides this to refuse a name it does not
        know (with the names it knows, built-ins included).
        """

    # -- low-level helpers for studymgr.runs.entry (call inside one transaction) ----------------
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
        """``{(session_id, instrument_id, role, timing): {id, entered_by, ...}}``."""
        sql = ("SELECT id, session_id, instrument_id, role, timing, status, source, "
               "entered_by, entered_at FROM responses")
        params: tuple = ()
        if session_ids is not None:
            ids = sorted(set(session_ids))
            if not ids:
                return {}
            sql += f" WHERE session_id IN ({', '.join('?' * len(ids))})"
            params = tuple(ids)
        out = {}
        for rid, sid, iid, role, timing, status, source, by, at in self.db.conn.execute(sql,
                                                                                      params):
            out[(sid, iid, role, timing)] = {"id": rid, "status": status, "source": source,
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
        responses, items, scores, ids = [], [], [], []
        for rid, rec in enumerate(records, start=next_id):
            responses.append((rid, rec.session_id, rec.instrument_id, rec.role, rec.timing,
                              source, source_hash, user, now))
            items += rec.item_rows(rid)
            scores += rec.score_rows(rid)
            ids.append(rid)
        conn.executemany(
            "INSERT INTO responses (id, session_id, instrument_id, role, timing, status, "
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
        self._write_items_scores(record.item_rows(response_id), record.score_rows(response_id))
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
            self._check_instrument_filter(name, version)
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
            ``dyad, session, role, timing, instrument, version, construct, scale, value``
            (in the scale's units; NaN when too few items were answered), ``n_answered,
            n_items, prorated, band`` and ``primary`` (True for the instrument's primary scale,
            the one models use for its construct).
        """
        where, params = self._filters(dyad, instrument, construct)
        rows = self.db.conn.execute(
            "SELECT d.code, s.number, r.role, r.timing, i.name, i.version, i.construct, "
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
            ``dyad, session, role, timing, instrument, version, item, position``
            (1-based, definition order), ``value`` (raw, not reverse-keyed; NaN when missing)
            and ``missing`` (NA, REF or NR; None when answered).
        """
        where, params = self._filters(dyad, instrument, session=session)
        rows = self.db.conn.execute(
            "SELECT d.code, s.number, r.role, r.timing, i.name, i.version, ri.item, "
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
            ``dyad, session, role, timing, instrument, version, status`` (entered or
            amended), ``source`` (entry, import, amend), ``n_answered, n_items, entered_by,
            entered_at`` (UTC ISO 8601).
        """
        where, params = self._filters(dyad, instrument)
        rows = self.db.conn.execute(
            "SELECT d.code, s.number, r.role, r.timing, i.name, i.version, r.status, "
            "r.source, (SELECT count(*) FROM response_items ri WHERE ri.response_id = r.id "
            "AND ri.value IS NOT NULL), (SELECT count(*) FROM response_items ri "
            "WHERE ri.response_id = r.id), r.entered_by, r.entered_at "
            f"{_FROM_RESPONSES}{where} ORDER BY {_ORDER}", params).fetchall()
        frame = pd.DataFrame(rows, columns=RESPONSE_COLUMNS)
        return frame.astype({"session": "int64", "n_answered": "int64", "n_items": "int64"})

    # -- status -----------------------------------------------------------------------------------
    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Questionnaire completeness per session.

        Expected questionnaires of an attended session: every (instrument, role, timing)
        entered in any attended session of the same kind (therapy or interview) in the study,
        i.e. the battery is inferred from the data. A session that did not take place expects
        nothing beyond what was entered.

        Adds ``questionnaires`` (entered), ``questionnaires_expected``,
        ``questionnaires_entered`` and ``questionnaires_missing`` (``name/role/timing``,
        comma-separated) and ``mark_q`` (``qN`` complete, ``qN/M`` incomplete, empty when none
        are entered or expected).
        """
        entered: dict[tuple[str, int], set[str]] = {}
        plan: dict[str, set[str]] = {}
        for dyad, number, kind, attended, name, resp, timing in self.db.conn.execute(
            "SELECT d.code, s.number, s.kind, s.attended, i.name, r.role, r.timing "
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
