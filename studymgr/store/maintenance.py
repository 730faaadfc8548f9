"""Store reads and writes for checking, backing up and reporting on a whole study.

The queries that ``studymgr check``, ``studymgr backup``/``restore`` and the report need, so that
no module above the store speaks SQL. The data come back as stored (JSON text of definitions
included), because checking them is the caller's job: nothing here validates or recomputes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr.errors import InputError

if TYPE_CHECKING:
    import sqlite_utils

#: What a read of a damaged database raises (the driver's error): callers above the store catch
#: it by this name, since they do not import the driver.
DatabaseError = sqlite3.DatabaseError

#: Tables whose row counts a snapshot records (the backup manifest's ``counts``).
SNAPSHOT_COUNTS = ("dyads", "sessions", "responses", "scans", "events", "analysis_runs",
                   "audit_log")
SESSION_RUN_COLUMNS = ["run", "kind", "dyad", "session", "config_hash", "config",
                       "input_hashes", "versions", "finished_at", "message"]


def shipped_schema_version() -> int:
    """The schema version this studymgr writes (``schemas/study.sql``)."""
    from studymgr.store import database

    return database.schema_version()


def shipped_schema_fingerprint() -> dict[str, object]:
    """The fingerprint (see :meth:`MaintenanceMixin.schema_fingerprint`) of a study created now,
    built in memory from ``schemas/study.sql``."""
    from studymgr.store import database

    fresh = sqlite3.connect(":memory:")
    try:
        fresh.executescript(database.schema_sql())
        return database.schema_fingerprint(fresh)
    finally:
        fresh.close()


class MaintenanceMixin:
    """Study-wide reads for check, backup and report (mixed into :class:`studymgr.store.Store`)."""

    db: sqlite_utils.Database

    # -- the database file ----------------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]``, or one line per problem found."""
        return [r[0] for r in self.db.conn.execute("PRAGMA integrity_check")]

    def foreign_key_problems(self) -> list[tuple[str, int | None, str]]:
        """Rows that refer to a missing row (``PRAGMA foreign_key_check``).

        Returns
        -------
        list of tuple
            ``(table, rowid, parent table)`` per broken reference; empty when all are intact.
        """
        return [(table, rowid, parent) for table, rowid, parent, _fkid
                in self.db.conn.execute("PRAGMA foreign_key_check")]

    def schema_fingerprint(self) -> dict[str, object]:
        """A comparable description of this database's schema: ``{"kind:name": description}``
        for every table (columns, foreign keys, CHECKs), index and trigger, and its
        ``user_version`` (compare with :func:`shipped_schema_fingerprint`)."""
        from studymgr.store import database

        return database.schema_fingerprint(self.db.conn)

    def row_counts(self, tables: Iterable[str] = SNAPSHOT_COUNTS) -> dict[str, int]:
        """Number of rows of each named table, e.g. ``{"audit_log": 42}``."""
        known = {r[0] for r in self.db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        out = {}
        for table in tables:
            if table not in known:  # also keeps the name below safe to splice into the SQL
                raise InputError(f"the study has no table {table!r}")
            out[table] = self.db.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        return out

    def write_snapshot(self, target: str | os.PathLike[str]) -> dict[str, Any]:
        """Copy the database to a new file as one consistent snapshot, while others may write.

        SQLite's backup API (:meth:`sqlite3.Connection.backup`, all pages in one step) reads the
        whole database in one read transaction, without blocking writers.

        Parameters
        ----------
        target : path-like
            The new database file (must not exist).

        Returns
        -------
        dict
            What the snapshot holds: ``study`` (name), ``schema_version``, ``scans`` (a list of
            ``{"path", "sha256"}`` ordered by path), ``counts`` (rows per table of
            :data:`SNAPSHOT_COUNTS`) and ``audit_head`` (``(id, hash)`` of the last audit row,
            ``(0, None)`` when none).
        """
        dst = sqlite3.connect(target)
        try:
            self.db.conn.backup(dst)  # pages=-1: the whole database in one read transaction
        finally:
            dst.close()
        # Read the copy, not the live database: these numbers must describe the snapshot.
        snap = sqlite3.connect(target)
        try:
            q = snap.execute
            return {
                "study": q("SELECT name FROM study").fetchone()[0],
                "schema_version": q("PRAGMA user_version").fetchone()[0],
                "scans": [{"path": p, "sha256": h} for p, h in
                          q("SELECT path, sha256 FROM scans ORDER BY path")],
                "counts": {t: q(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in SNAPSHOT_COUNTS},
                "audit_head": (q("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
                               .fetchone() or (0, None)),
            }
        finally:
            snap.close()

    # -- questionnaires as stored ---------------------------------------------------------------
    def instrument_definitions(self) -> list[dict[str, Any]]:
        """Every instrument stored in the study, as stored (not validated).

        Returns
        -------
        list of dict
            ``name, version, definition`` (the JSON text), ``content_hash``; in the order they
            were stored.
        """
        return list(self.db.query(
            "SELECT name, version, definition, content_hash FROM instruments ORDER BY id"))

    def response_records(self) -> list[dict[str, Any]]:
        """Every stored response with its item values and stored scores, as stored.

        Returns
        -------
        list of dict
            ``dyad, session, instrument, version, role, timing``, ``items`` (``{item: value}``,
            the missing-value code for a missing item, in item order) and ``scores`` (``{scale:
            (value, n_answered, n_items, prorated, band)}``); ordered by dyad, session,
            instrument, role and timing.
        """
        conn = self.db.conn
        items: dict[int, dict[str, Any]] = {}
        for rid, item, value, missing in conn.execute(
                "SELECT response_id, item, value, missing FROM response_items "
                "ORDER BY response_id, position"):
            items.setdefault(rid, {})[item] = missing if value is None else value
        scores: dict[int, dict[str, tuple]] = {}
        for rid, scale, value, n_answered, n_items, prorated, band in conn.execute(
                "SELECT response_id, scale, value, n_answered, n_items, prorated, band "
                "FROM scores"):
            scores.setdefault(rid, {})[scale] = (value, n_answered, n_items, bool(prorated),
                                                 band)
        return [{"dyad": dyad, "session": number, "instrument": name, "version": version,
                 "role": role, "timing": timing, "items": items.get(rid, {}),
                 "scores": scores.get(rid, {})}
                for rid, dyad, number, name, version, role, timing in conn.execute(
                    "SELECT r.id, d.code, s.number, i.name, i.version, r.role, r.timing "
                    "FROM responses r JOIN sessions s ON s.id = r.session_id "
                    "JOIN dyads d ON d.id = s.dyad_id JOIN instruments i "
                    "ON i.id = r.instrument_id "
                    "ORDER BY d.code, s.number, i.name, r.role, r.timing")]

    # -- analysis runs --------------------------------------------------------------------------
    def session_runs(self, kind: str | Iterable[str], *, status: str = "done") -> pd.DataFrame:
        """Stored runs of per-session analyses (``synchrony``, ``eventlocked``, ``eeg``).

        Parameters
        ----------
        kind : str or iterable of str
            The kind(s) of run.
        status : str
            ``done`` (default), ``running`` or ``failed``.

        Returns
        -------
        pandas.DataFrame
            One row per run: ``run`` (its id), ``kind, dyad, session, config_hash``, ``config``,
            ``input_hashes`` and ``versions`` (dicts), ``finished_at, message``; ordered by dyad,
            session and kind.
        """
        kinds = [kind] if isinstance(kind, str) else list(kind)
        marks = ", ".join("?" * len(kinds))
        rows = list(self.db.query(
            "SELECT a.id AS run, a.kind, d.code AS dyad, s.number AS session, a.config_hash, "
            "a.config, a.input_hashes, a.versions, a.finished_at, a.message "
            "FROM analysis_runs a JOIN sessions s ON s.id = a.session_id "
            f"JOIN dyads d ON d.id = s.dyad_id WHERE a.kind IN ({marks}) AND a.status = ? "
            "ORDER BY d.code, s.number, a.kind, a.id", [*kinds, status]))
        for r in rows:
            for col in ("config", "input_hashes", "versions"):
                r[col] = json.loads(r[col])
        return pd.DataFrame(rows, columns=SESSION_RUN_COLUMNS)

    def unfinished_runs(self) -> pd.DataFrame:
        """Analysis runs of any kind still in state ``running`` (a computation that never
        finished, unless it is running now): ``run, kind, started_at``, oldest first."""
        rows = list(self.db.query(
            "SELECT id AS run, kind, started_at FROM analysis_runs WHERE status = 'running' "
            "ORDER BY id"))
        return pd.DataFrame(rows, columns=["run", "kind", "started_at"])
