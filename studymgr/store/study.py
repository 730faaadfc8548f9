"""The study store: its database file plus a data folder beside it.

:class:`Store` holds every read and write of the study's data (and nothing else: no computation,
no files read with MNE). :class:`studymgr.runs.study.Study`, the Python API's front door, builds on
it and adds the analyses. Every write runs in one transaction together with its audit row.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import sqlite_utils

from studymgr._docs import fill_doc
from studymgr._version import __version__
from studymgr.errors import ConflictError, InputError, NotFoundError, StudyError
from studymgr.ids import (
    ROLES,
    SESSION_KINDS,
    check_choice,
    check_code,
    check_date,
    check_session_number,
    check_user,
    utcnow,
)
from studymgr.store import audit, database, datafolder
from studymgr.store.analyses import AnalysesMixin
from studymgr.store.eventlocked import EventLockedMixin
from studymgr.store.maintenance import MaintenanceMixin
from studymgr.store.modelruns import ModelRunsMixin
from studymgr.store.recordings import RecordingsMixin
from studymgr.store.responses import ResponsesMixin

logger = logging.getLogger(__name__)

S = TypeVar("S", bound="Store")


def default_user() -> str:
    """The user recorded in the audit trail: ``$STUDYMGR_USER``, else the OS login name."""
    name = os.environ.get("STUDYMGR_USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # pragma: no cover - no passwd entry (some containers)
            name = "unknown"
    return check_user(name)


def default_data_dir(db_path: Path) -> Path:
    """``study.db`` keeps its recordings and derived files in ``study_data/`` beside it."""
    return db_path.with_name(db_path.stem + "_data")


class Store(ResponsesMixin, RecordingsMixin, AnalysesMixin, ModelRunsMixin, EventLockedMixin,
            MaintenanceMixin):
    """An open study database: data in, data out.

    Use :func:`studymgr.create_study` or :func:`studymgr.open_study` (which return the
    :class:`~studymgr.runs.study.Study` built on this class) rather than the constructor. A study
    is a context manager; close it (or leave the ``with`` block) to release the file.

    Attributes
    ----------
    path : Path
        The database file.
    db : sqlite_utils.Database
        The connection (autocommit; writes go through :meth:`transaction`).
    data_dir : Path
        Folder for recordings and derived files.
    user : str
        Who is recorded in the audit trail for changes made through this object.
    """

    def __init__(self, path: Path, db: sqlite_utils.Database, data_dir: Path, user: str):
        self.path = path
        self.db = db
        self.data_dir = data_dir
        self.user = user

    # -- life cycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Study {self.name!r} at {self.path}>"

    @property
    def name(self) -> str:
        """The study's name."""
        return str(self.db.conn.execute("SELECT name FROM study").fetchone()[0])

    @property
    def uid(self) -> str | None:
        """The study's random id (also in its data folder's marker); None before schema v5."""
        cursor = self.db.conn.execute("SELECT * FROM study")
        row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
        return row.get("uid") or None

    @property
    def schema_version(self) -> int:
        """``PRAGMA user_version`` of the database."""
        return database.database_version(self.db)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction; database constraint violations become one-line errors."""
        try:
            with database.transaction(self.db) as db:
                yield db
        except sqlite3.IntegrityError as exc:
            raise ConflictError(_integrity_message(exc)) from exc

    def log(self, action: str, entity: str, key: str, *, old: Any = None, new: Any = None,
            reason: str | None = None) -> None:
        """Append an audit row (inside the current transaction)."""
        audit.append(self.db, user=self.user, action=action, entity=entity, key=key, old=old,
                     new=new, reason=reason)

    # -- people and dyads -----------------------------------------------------------------------
    def _person(self, code: str, role: str, *, create: bool) -> int:
        row = self.db.conn.execute("SELECT id, role FROM people WHERE code = ?", (code,)).fetchone()
        if row is not None:
            if row[1] != role:
                raise ConflictError(
                    f"person {code} is a {row[1]} in this study, not a {role}: "
                    "use another code"
                )
            return int(row[0])
        if not create:
            raise NotFoundError(f"unknown person {code}")
        now = utcnow()
        cur = self.db.conn.execute(
            "INSERT INTO people (code, role, created_at) VALUES (?, ?, ?)", (code, role, now)
        )
        self.log("add", "person", code, new={"code": code, "role": role})
        return int(cur.lastrowid)

    def add_person(self, code: str, role: str) -> None:
        """Register a person by pseudonymous code and role (``therapist`` or ``patient``)."""
        check_code(code, "person")
        check_choice(role, ROLES, "role")
        with self.transaction():
            if self.db.conn.execute("SELECT 1 FROM people WHERE code = ?", (code,)).fetchone():
                raise ConflictError(f"person {code} already exists")
            self._person(code, role, create=True)

    def people(self) -> pd.DataFrame:
        """All people: ``code, role, dyads`` (number of dyads they belong to)."""
        rows = self.db.query(
            "SELECT p.code, p.role, (SELECT count(*) FROM dyads d WHERE d.therapist_id = p.id "
            "OR d.patient_id = p.id) AS dyads FROM people p ORDER BY p.role DESC, p.code"
        )
        return pd.DataFrame(list(rows), columns=["code", "role", "dyads"])

    def add_dyad(self, dyad: str, therapist: str, patient: str) -> None:
        """Add a dyad of a therapist and a patient (people are registered on first use).

        The same therapist may be in many dyads; a person keeps one role throughout the study.
        """
        check_code(dyad, "dyad")
        check_code(therapist, "therapist")
        check_code(patient, "patient")
        if therapist == patient:
            raise InputError("therapist and patient must be two different people")
        with self.transaction():
            if self._dyad_id(dyad, must_exist=False) is not None:
                raise ConflictError(f"dyad {dyad} already exists (see 'studymgr dyad list')")
            t_id = self._person(therapist, "therapist", create=True)
            p_id = self._person(patient, "patient", create=True)
            clash = self.db.conn.execute(
                "SELECT code FROM dyads WHERE therapist_id = ? AND patient_id = ?", (t_id, p_id)
            ).fetchone()
            if clash:
                raise ConflictError(f"{therapist} and {patient} already form dyad {clash[0]}")
            self.db.conn.execute(
                "INSERT INTO dyads (code, therapist_id, patient_id, created_at) "
                "VALUES (?, ?, ?, ?)",
                (dyad, t_id, p_id, utcnow()),
            )
            self.log("add", "dyad", dyad, new={"therapist": therapist, "patient": patient})

    def _dyad_id(self, dyad: str, *, must_exist: bool = True) -> int | None:
        row = self.db.conn.execute("SELECT id FROM dyads WHERE code = ?", (dyad,)).fetchone()
        if row is None and must_exist:
            raise NotFoundError(f"unknown dyad {dyad} (see 'studymgr dyad list')")
        return None if row is None else int(row[0])

    def _where_dyad(self, dyad: str | None, where: list[str],
                    params: list[Any] | dict[str, Any]) -> None:
        """Add ``d.code = <dyad>`` to a query's conditions and parameters (positional or named
        ``:dyad``) when ``dyad`` is given; an unknown or malformed dyad is refused."""
        if dyad is None:
            return
        check_code(dyad, "dyad")
        self._dyad_id(dyad)
        if isinstance(params, dict):
            where.append("d.code = :dyad")
            params["dyad"] = dyad
        else:
            where.append("d.code = ?")
            params.append(dyad)

    def dyads(self) -> pd.DataFrame:
        """All dyads: ``dyad, therapist, patient, sessions``."""
        rows = self.db.query(
            "SELECT d.code AS dyad, t.code AS therapist, p.code AS patient, "
            "(SELECT count(*) FROM sessions s WHERE s.dyad_id = d.id) AS sessions "
            "FROM dyads d JOIN people t ON t.id = d.therapist_id "
            "JOIN people p ON p.id = d.patient_id ORDER BY d.code"
        )
        return pd.DataFrame(list(rows), columns=["dyad", "therapist", "patient", "sessions"])

    def dyad_members(self, dyad: str) -> dict[str, str]:
        """``{"therapist": code, "patient": code}`` of a dyad."""
        check_code(dyad, "dyad")
        row = self.db.conn.execute(
            "SELECT t.code, p.code FROM dyads d JOIN people t ON t.id = d.therapist_id "
            "JOIN people p ON p.id = d.patient_id WHERE d.code = ?",
            (dyad,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"unknown dyad {dyad} (see 'studymgr dyad list')")
        return {"therapist": row[0], "patient": row[1]}

    # -- sessions -------------------------------------------------------------------------------
    def add_session(
        self,
        dyad: str,
        session: int,
        *,
        date: str | None = None,
        kind: str = "therapy",
        scanned: bool = True,
        attended: bool = True,
    ) -> None:
        """Add session number ``session`` (1, 2, ...) of a dyad.

        Parameters
        ----------
        dyad : str
            Dyad code.
        session : int
            Session number within the dyad, from 1.
        date : str | None
            ISO date ``YYYY-MM-DD``.
        kind : str
            ``therapy`` or ``interview``.
        scanned : bool
            Whether fNIRS recordings are planned for this session.
        attended : bool
            Whether the session took place.
        """
        check_code(dyad, "dyad")
        number = check_session_number(session)
        date = check_date(date)
        check_choice(kind, SESSION_KINDS, "session kind")
        with self.transaction():
            dyad_id = self._dyad_id(dyad)
            if self._session_row(dyad_id, number) is not None:
                raise ConflictError(
                    f"dyad {dyad} already has a session {number} (see 'studymgr session list')"
                )
            values = {"date": date, "kind": kind, "scanned": int(scanned),
                      "attended": int(attended)}
            self.db.conn.execute(
                "INSERT INTO sessions (dyad_id, number, date, kind, scanned, attended, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dyad_id, number, date, kind, int(scanned), int(attended), utcnow()),
            )
            self.log("add", "session", f"{dyad}/{number}", new=values)

    def _session_row(self, dyad_id: int | None, number: int) -> sqlite3.Row | None:
        cur = self.db.conn.execute(
            "SELECT id, dyad_id, number, date, kind, scanned, attended, locked FROM sessions "
            "WHERE dyad_id = ? AND number = ?",
            (dyad_id, number),
        )
        return cur.fetchone()

    def session_id(self, dyad: str, session: int) -> int:
        """Database id of a session, or a clear error if the dyad or session is unknown."""
        check_code(dyad, "dyad")
        number = check_session_number(session)
        row = self._session_row(self._dyad_id(dyad), number)
        if row is None:
            raise NotFoundError(
                f"dyad {dyad} has no session {number} (add it with 'studymgr session add "
                f"{dyad} {number}')"
            )
        return int(row[0])

    def session(self, dyad: str, session: int) -> dict[str, Any]:
        """One session as a dict (``dyad, session, date, kind, scanned, attended, locked``)."""
        sid = self.session_id(dyad, session)
        return self._sessions_frame("WHERE s.id = ?", (sid,)).iloc[0].to_dict()

    def require_unlocked(self, dyad: str, session: int) -> int:
        """Return the session id, refusing a locked session with a clear message."""
        sid = self.session_id(dyad, session)
        locked = self.db.conn.execute("SELECT locked FROM sessions WHERE id = ?", (sid,))
        if locked.fetchone()[0]:
            raise ConflictError(
                f"session {dyad}/{session} is locked: unlock it first "
                f"('studymgr session unlock {dyad} {session} --reason ...')"
            )
        return sid

    def sessions(self, dyad: str | None = None) -> pd.DataFrame:
        """Sessions, one row each: ``dyad, session, date, kind, scanned, attended, locked``."""
        if dyad is None:
            return self._sessions_frame("", ())
        check_code(dyad, "dyad")
        self._dyad_id(dyad)
        return self._sessions_frame("WHERE d.code = ?", (dyad,))

    def _sessions_frame(self, where: str, params: tuple) -> pd.DataFrame:
        rows = self.db.query(
            "SELECT d.code AS dyad, s.number AS session, s.date, s.kind, s.scanned, s.attended, "
            f"s.locked FROM sessions s JOIN dyads d ON d.id = s.dyad_id {where} "
            "ORDER BY d.code, s.number",
            params,
        )
        frame = pd.DataFrame(
            list(rows),
            columns=["dyad", "session", "date", "kind", "scanned", "attended", "locked"],
        )
        for col in ("scanned", "attended", "locked"):
            frame[col] = frame[col].astype(bool)
        return frame

    def update_session(self, dyad: str, session: int, *, reason: str | None = None,
                       **changes: Any) -> None:
        """Change a session's ``date``, ``kind``, ``scanned`` or ``attended`` (audited)."""
        allowed = {"date", "kind", "scanned", "attended"}
        unknown = set(changes) - allowed
        if unknown:
            raise InputError(f"cannot change {', '.join(sorted(unknown))} of a session")
        if "date" in changes:
            changes["date"] = check_date(changes["date"])
        if "kind" in changes:
            check_choice(changes["kind"], SESSION_KINDS, "session kind")
        for flag in ("scanned", "attended"):
            if flag in changes:
                changes[flag] = int(bool(changes[flag]))
        if not changes:
            raise InputError("nothing to change: give at least one of date, kind, scanned, "
                             "attended")
        with self.transaction():
            sid = self.require_unlocked(dyad, session)
            old_row = self.db.conn.execute(
                "SELECT date, kind, scanned, attended FROM sessions WHERE id = ?", (sid,)
            ).fetchone()
            old = dict(zip(("date", "kind", "scanned", "attended"), old_row, strict=True))
            sets = ", ".join(f"{col} = :{col}" for col in changes)
            self.db.conn.execute(f"UPDATE sessions SET {sets} WHERE id = :id",
                                 {**changes, "id": sid})
            self.log("update", "session", f"{dyad}/{session}",
                     old={k: old[k] for k in changes}, new=changes, reason=reason)

    def lock_session(self, dyad: str, session: int, *, reason: str | None = None) -> None:
        """Lock a session: its row, questionnaires, scans and events become read-only."""
        with self.transaction():
            sid = self.session_id(dyad, session)
            if self.db.conn.execute("SELECT locked FROM sessions WHERE id = ?",
                                    (sid,)).fetchone()[0]:
                raise ConflictError(f"session {dyad}/{session} is already locked")
            self.db.conn.execute("UPDATE sessions SET locked = 1 WHERE id = ?", (sid,))
            self.log("lock", "session", f"{dyad}/{session}", old={"locked": False},
                     new={"locked": True}, reason=reason)

    def unlock_session(self, dyad: str, session: int, *, reason: str) -> None:
        """Unlock a locked session; a reason is required and kept in the audit trail."""
        if not reason or not reason.strip():
            raise InputError("unlocking a session needs --reason (kept in the audit trail)")
        with self.transaction():
            sid = self.session_id(dyad, session)
            if not self.db.conn.execute("SELECT locked FROM sessions WHERE id = ?",
                                        (sid,)).fetchone()[0]:
                raise ConflictError(f"session {dyad}/{session} is not locked")
            self.db.conn.execute("UPDATE sessions SET locked = 0 WHERE id = ?", (sid,))
            self.log("unlock", "session", f"{dyad}/{session}", old={"locked": True},
                     new={"locked": False}, reason=reason)

    def set_data_dir(self, stored: str, *, action: str = "move", reason: str | None = None,
                     extra: dict[str, Any] | None = None) -> None:
        """Point the study at another data folder (stored as given: relative to the database's
        folder, or absolute), with an audit row; used when a study is moved or restored."""
        if not stored:
            raise InputError("the data folder must not be empty")
        # refuse another study's folder (the marker travels with the folder's contents)
        datafolder.check_folder(_resolve_data_dir(stored, self.path), uid=self.uid,
                                name=self.name, known=lambda: _scan_paths(self.db), claim=False)
        with self.transaction():
            old = self.db.conn.execute("SELECT data_dir FROM study WHERE id = 1").fetchone()[0]
            if old != stored:
                self.db.conn.execute("UPDATE study SET data_dir = ? WHERE id = 1", (stored,))
            self.log(action, "study", self.name, old={"data_dir": old},
                     new={"data_dir": stored, **(extra or {})}, reason=reason)
        self.data_dir = _resolve_data_dir(stored, self.path)

    # -- overview -------------------------------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """Completeness, one row per dyad × session (tidy; the CLI draws it as a grid).

        Columns: ``dyad, therapist, patient, session, date, kind, attended, scanned, locked``,
        then the columns that each part of the store adds (questionnaires, scans, synchrony):
        every class in the MRO with its own ``_extend_status(self, frame)`` gets to add columns.
        A column named ``mark_<x>`` holds a short text the CLI grid shows in the session's cell;
        the class attribute ``status_legend`` explains it.
        """
        rows = self.db.query(
            "SELECT d.code AS dyad, t.code AS therapist, p.code AS patient, s.number AS session, "
            "s.date, s.kind, s.attended, s.scanned, s.locked FROM dyads d "
            "JOIN people t ON t.id = d.therapist_id JOIN people p ON p.id = d.patient_id "
            "LEFT JOIN sessions s ON s.dyad_id = d.id ORDER BY d.code, s.number"
        )
        columns = ["dyad", "therapist", "patient", "session", "date", "kind", "attended",
                   "scanned", "locked"]
        frame = pd.DataFrame(list(rows), columns=columns)
        frame["session"] = frame["session"].astype("Int64")
        for col in ("attended", "scanned", "locked"):
            frame[col] = frame[col].astype("boolean")
        for klass in reversed(type(self).__mro__):
            extend = klass.__dict__.get("_extend_status")
            if extend is not None:
                frame = extend(self, frame)
        return frame

    @staticmethod
    def _status_keys(frame: pd.DataFrame) -> list[tuple[str, int | None]]:
        """``(dyad, session number)`` of each row of the :meth:`status` frame (None for a dyad
        without sessions): the keys ``_extend_status`` methods look their values up by."""
        return [(d, None if pd.isna(n) else int(n))
                for d, n in zip(frame["dyad"], frame["session"], strict=True)]

    def status_legends(self) -> list[str]:
        """Explanations of the ``mark_*`` columns added to :meth:`status`."""
        return [k.__dict__["status_legend"] for k in reversed(type(self).__mro__)
                if "status_legend" in k.__dict__]

    def summary(self) -> dict[str, Any]:
        """Counts for a one-line overview of the study."""
        q = self.db.conn.execute
        return {
            "study": self.name,
            "schema_version": self.schema_version,
            "dyads": q("SELECT count(*) FROM dyads").fetchone()[0],
            "therapists": q("SELECT count(*) FROM people WHERE role = 'therapist'").fetchone()[0],
            "patients": q("SELECT count(*) FROM people WHERE role = 'patient'").fetchone()[0],
            "sessions": q("SELECT count(*) FROM sessions").fetchone()[0],
            "locked": q("SELECT count(*) FROM sessions WHERE locked = 1").fetchone()[0],
            "data_dir": str(self.data_dir),
        }

    def audit(self, limit: int | None = 20) -> pd.DataFrame:
        """The newest ``limit`` audit rows (all when None), newest first."""
        if limit is not None and int(limit) < 1:
            raise InputError("--limit must be at least 1")
        return audit.read(self.db, limit)

    def verify_audit(self) -> list[str]:
        """Problems in the audit trail's hash chain (empty when intact)."""
        return audit.verify_chain(self.db)


def _integrity_message(exc: sqlite3.IntegrityError) -> str:
    text = str(exc)
    if text.startswith("UNIQUE constraint failed"):
        return f"already exists ({text})"
    return f"refused by the database: {text}"


def _move_into_place(tmp: Path, path: Path) -> None:
    # A hard link fails if someone created `path` meanwhile (a rename would overwrite it).
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # pragma: no cover - file systems without hard links
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def _resolve_data_dir(stored: str, db_path: Path) -> Path:
    path = Path(stored)
    return path if path.is_absolute() else (db_path.parent / path).resolve()


@fill_doc
def create_store(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    user: str | None = None,
    factory: type[S] = Store,  # type: ignore[assignment]
) -> S:
    """Create a new, empty study database and its data folder.

    Parameters
    ----------
    %(new_study_path)s
    %(new_study_name)s
    %(new_study_data_dir)s
    %(study_user)s
    %(store_factory)s

    Returns
    -------
    Store
        The open study (an instance of ``factory``). Nothing is left behind if creation fails.
    """
    path = Path(path)
    user = check_user(user) if user is not None else default_user()
    name = check_code(name if name is not None else path.stem, "study name")
    if path.exists():
        raise ConflictError(f"{path} already exists: open it, or choose another --db path")
    if not path.parent.is_dir():
        raise NotFoundError(f"folder {path.parent} does not exist: create it first")
    data = Path(data_dir) if data_dir is not None else default_data_dir(path)
    data_abs = data if data.is_absolute() else (Path.cwd() / data)
    try:
        stored_dir = os.path.relpath(data_abs.resolve(), path.parent.resolve())
    except ValueError:  # pragma: no cover - different drives on Windows
        stored_dir = str(data_abs.resolve())
    if stored_dir.startswith(".."):
        stored_dir = str(data_abs.resolve())
    if data_abs.is_dir() and any(data_abs.iterdir()):
        marker = datafolder.read_marker(data_abs)
        whose = (f"it is the data folder of study '{marker['name']}'" if marker is not None
                 else "it is not empty")
        raise ConflictError(f"cannot create a study with the data folder {data_abs}: {whose}; "
                            "choose a new or empty folder with --data-dir (nothing was changed)")
    uid = uuid.uuid4().hex
    # Build the database under a temporary name and rename it into place: a failure at any point
    # leaves no half-made study behind.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    created_dir = wrote_marker = False
    try:
        tmp.unlink()
        db = database.connect(tmp, create=True)
        try:
            database.set_wal(db)
            database.create_schema(db)
            with database.transaction(db):
                db.conn.execute(
                    "INSERT INTO study (id, name, data_dir, created_at, created_by, created_with,"
                    " uid) VALUES (1, ?, ?, ?, ?, ?, ?)",
                    (name, stored_dir, utcnow(), user, __version__, uid),
                )
                audit.append(db, user=user, action="create", entity="study", key=name,
                             new={"name": name, "data_dir": stored_dir,
                                  "schema_version": database.schema_version()})
        finally:
            db.close()
        database.file_mode_private(tmp)
        if not data_abs.exists():
            data_abs.mkdir(parents=True)
            created_dir = True
            database.file_mode_private(data_abs)
        datafolder.write_marker(data_abs, uid, name)
        wrote_marker = True
        _move_into_place(tmp, path)
    except FileExistsError:
        raise ConflictError(
            f"{path} already exists: open it, or choose another --db path"
        ) from None
    except BaseException:
        if wrote_marker:
            with contextlib.suppress(OSError):
                (data_abs / datafolder.MARKER).unlink()
        if created_dir:
            with contextlib.suppress(OSError):
                data_abs.rmdir()
        raise
    finally:
        for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    logger.info("created study %s at %s", name, path)
    return open_store(path, user=user, factory=factory)


@fill_doc
def open_store(
    path: str | os.PathLike[str],
    *,
    user: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    upgrade: bool = True,
    factory: type[S] = Store,  # type: ignore[assignment]
) -> S:
    """Open an existing study, upgrading an older schema in place.

    Parameters
    ----------
    %(study_path)s
    %(study_user)s
    %(study_data_dir)s
    %(study_upgrade)s
    %(store_factory)s

    Raises
    ------
    NotFoundError, InputError, SchemaVersionError
        Missing file, not a SQLite file / not a study / corrupt, or a newer schema.
    """
    return _open_study(path, user=user, data_dir=data_dir, factory=factory, upgrade=upgrade)


def _open_study(path: str | os.PathLike[str], *, user: str | None,
                data_dir: str | os.PathLike[str] | None, factory: type[S],
                upgrade: bool | None, damaged_hint: str | None = None) -> S:
    """Open a study database as ``factory`` (for :func:`open_store` and
    :func:`~studymgr.store.open_store_as_is`); the connection is closed on any failure.

    Parameters
    ----------
    path, user, data_dir, factory
        As :func:`open_store` takes them.
    upgrade : bool | None
        True: upgrade an older schema (audited); False: refuse it; None: leave the schema as it
        is, older or newer (for looking at a study that may be damaged).
    damaged_hint : str | None
        What to do about a damaged file, appended to the error message (None: no hint, and a
        file SQLite refuses may also be no study at all).
    """
    path = Path(path)
    user = check_user(user) if user is not None else default_user()
    db = database.connect(path)
    try:
        database.check_is_study(db, path)
        if upgrade is not None:
            _check_schema(db, path, user, upgrade=upgrade)
        cursor = db.conn.execute("SELECT * FROM study WHERE id = 1")
        found = cursor.fetchone()
        if found is None:
            raise InputError(f"{path} is a studymgr database with no study row: it is damaged"
                             + ("" if damaged_hint is None else "; " + damaged_hint))
        row = dict(zip([d[0] for d in cursor.description], found, strict=True))
        data = (Path(data_dir) if data_dir is not None
                else _resolve_data_dir(row["data_dir"], path))
        # one data folder, one study: refuse another study's folder; an older study's unmarked
        # folder is marked on first open (not when opened as it is, which changes nothing)
        datafolder.check_folder(data, uid=row.get("uid") or None, name=row["name"],
                                known=lambda: _scan_paths(db), claim=upgrade is not None)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise InputError(f"{path} is damaged or not a study database ({exc})"
                         if damaged_hint is None
                         else f"{path} is damaged ({exc}): {damaged_hint}") from None
    except BaseException:
        db.close()
        raise
    return factory(path, db, data, user)


def _scan_paths(db: sqlite_utils.Database) -> set[str]:
    return {r[0] for r in db.conn.execute("SELECT path FROM scans")}


def _check_schema(db: sqlite_utils.Database, path: Path, user: str, *, upgrade: bool) -> None:
    """Upgrade an older schema in place (audited; refused without ``upgrade``); refuse a newer
    one."""
    found = database.database_version(db)
    current = database.schema_version()
    if found < current:
        if not upgrade:
            raise StudyError(f"{path} has schema version {found}; this studymgr writes "
                             f"{current}: open it with upgrading allowed")
        old, new = database.upgrade(db, path)
        with database.transaction(db):
            audit.append(db, user=user, action="upgrade", entity="study", key=path.stem,
                         old={"schema_version": old}, new={"schema_version": new})
    elif found > current:
        database.upgrade(db, path)  # raises the clear "newer schema" error
