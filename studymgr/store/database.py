"""Opening, creating and upgrading a study database.

The schema lives in ``schemas/study.sql`` (current version, read from its ``PRAGMA user_version``
line) and ``schemas/migrations/vN.sql`` (version N-1 to N). Every connection enforces foreign keys,
uses the WAL journal and waits for a busy database instead of failing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from studymgr.errors import InputError, NotFoundError, SchemaVersionError, StudyError
from studymgr.resources import schemas_dir

logger = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 60_000
_VERSION_RE = re.compile(r"^\s*PRAGMA\s+user_version\s*=\s*(\d+)\s*;", re.MULTILINE | re.I)


def schema_sql(directory: Path | None = None) -> str:
    """Return the text of ``study.sql``."""
    return ((directory or schemas_dir()) / "study.sql").read_text(encoding="utf-8")


def schema_version(directory: Path | None = None) -> int:
    """Return the schema version this studymgr writes (from ``study.sql``)."""
    match = _VERSION_RE.search(schema_sql(directory))
    if match is None:  # pragma: no cover - guarded by tests on the shipped schema
        raise RuntimeError("study.sql has no 'PRAGMA user_version = N;' line")
    return int(match.group(1))


def migrations(directory: Path | None = None) -> dict[int, str]:
    """Return ``{N: sql}`` for every ``migrations/vN.sql`` (upgrading version N-1 to N)."""
    folder = (directory or schemas_dir()) / "migrations"
    found: dict[int, str] = {}
    for path in sorted(folder.glob("v*.sql")) if folder.is_dir() else []:
        match = re.fullmatch(r"v(\d+)\.sql", path.name)
        if match:
            found[int(match.group(1))] = path.read_text(encoding="utf-8")
    return found


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # NORMAL is safe with WAL: a power cut may lose the last commit, never corrupt the file.
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(path: Path, *, create: bool = False) -> sqlite_utils.Database:
    """Open ``path`` as a sqlite-utils Database in autocommit mode (we manage transactions).

    Refuses a missing file (unless ``create``), a file that is not SQLite, and a corrupt file.
    """
    path = Path(path)
    if not create:
        check_sqlite_file(path)
    mode = "rwc" if create else "rw"
    try:
        conn = sqlite3.connect(
            f"file:{_uri_path(path)}?mode={mode}", uri=True, isolation_level=None,
            check_same_thread=False,
        )
        _configure(conn)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path} is not a usable SQLite database ({exc})") from None
    return sqlite_utils.Database(conn, execute_plugins=False, recursive_triggers=False)


def _uri_path(path: Path) -> str:
    # URI filenames need '?' and '#' escaped; keep everything else readable.
    return str(path.resolve()).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def check_sqlite_file(path: Path) -> None:
    """Raise a clear error unless ``path`` is an existing SQLite file."""
    if not path.exists():
        raise NotFoundError(
            f"no study database at {path}: create one with 'studymgr init' or pass --db PATH"
        )
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a study database: pass --db PATH/TO/study.db")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if head != SQLITE_MAGIC:
        raise InputError(f"{path} is not a SQLite database (is --db pointing at the right file?)")


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run the block in one write transaction (``BEGIN IMMEDIATE``); nested blocks use savepoints.

    ``IMMEDIATE`` takes the write lock at the start, so two writers queue (busy timeout) instead of
    one failing half-way with "database is locked".
    """
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def create_schema(db: sqlite_utils.Database, directory: Path | None = None) -> None:
    """Create every table of the current schema in an empty database, in one transaction."""
    sql = schema_sql(directory)
    conn = db.conn
    try:
        conn.executescript("BEGIN IMMEDIATE;\n" + sql + "\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def set_wal(db: sqlite_utils.Database) -> None:
    """Switch the database to the WAL journal (persistent in the file header)."""
    mode = db.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # pragma: no cover - e.g. a file system without shared memory
        logger.warning("could not switch to the WAL journal (got %s)", mode)


def database_version(db: sqlite_utils.Database) -> int:
    """Return ``PRAGMA user_version`` of an open database."""
    return int(db.conn.execute("PRAGMA user_version").fetchone()[0])


def check_is_study(db: sqlite_utils.Database, path: Path) -> None:
    """Refuse a SQLite file that is not a studymgr study."""
    has_study = db.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'study'"
    ).fetchone()
    if not has_study or database_version(db) < 1:
        raise InputError(
            f"{path} is a SQLite database but not a studymgr study "
            "(create a study with 'studymgr init')"
        )


def upgrade(
    db: sqlite_utils.Database, path: Path, directory: Path | None = None
) -> tuple[int, int]:
    """Bring an older study up to the current schema; refuse a newer one.

    All steps run in one transaction: a failing step leaves the database exactly as it was.
    Returns ``(old_version, new_version)``.
    """
    current = schema_version(directory)
    found = database_version(db)
    if found > current:
        raise SchemaVersionError(
            f"{path} has schema version {found}, newer than this studymgr understands "
            f"({current}): upgrade studymgr (pip install -U studymgr) before opening it"
        )
    if found == current:
        return found, found
    steps = migrations(directory)
    missing = [v for v in range(found + 1, current + 1) if v not in steps]
    if missing:  # pragma: no cover - guarded by the migration tests
        raise SchemaVersionError(f"no migration to schema version {missing[0]} is shipped")
    script = "\n".join(steps[v] for v in range(found + 1, current + 1))
    conn = db.conn
    # Table rebuilds in migrations need foreign keys off; they are checked before committing.
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.executescript(
            "BEGIN IMMEDIATE;\n" + script + f"\nPRAGMA user_version = {current};\n"
        )
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise StudyError(
                f"upgrading {path} to schema version {current} would break "
                f"{len(problems)} foreign key(s); the database was left unchanged"
            )
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            raise StudyError(
                f"upgrading {path} from schema version {found} to {current} failed ({exc}); "
                "the database was left unchanged"
            ) from exc
        raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    logger.info("upgraded %s from schema version %d to %d", path, found, current)
    return found, current


def file_mode_private(path: Path) -> None:
    """Make a file or folder readable by its owner only (best effort on odd file systems)."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def schema_fingerprint(conn: sqlite3.Connection) -> dict[str, object]:
    """A comparable description of a database's schema: columns, keys, indexes and triggers.

    Built from PRAGMAs rather than the stored SQL text, so a table extended by ``ALTER TABLE``
    compares equal to the same table created fresh.
    """
    out: dict[str, object] = {"user_version": conn.execute("PRAGMA user_version").fetchone()[0]}
    objects = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    for kind, name, sql in objects:
        if kind == "table":
            out[f"table:{name}"] = {
                "columns": [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_xinfo('{name}')")],
                "foreign_keys": sorted(
                    tuple(r[2:]) for r in conn.execute(f"PRAGMA foreign_key_list('{name}')")
                ),
                "checks": sorted(re.findall(r"CHECK\s*\((?:[^()]|\([^()]*\))*\)",
                                            " ".join((sql or "").split()))),
            }
        elif kind == "index":
            out[f"index:{name}"] = [tuple(r) for r in conn.execute(f"PRAGMA index_xinfo('{name}')")]
        else:
            out[f"{kind}:{name}"] = " ".join((sql or "").split())
    return out
