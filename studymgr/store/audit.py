"""The audit trail: an append-only, hash-chained log of every change.

The database refuses UPDATE and DELETE on ``audit_log`` (triggers); each row also stores the hash of
the previous row, so a row edited or removed behind the database's back (e.g. with the triggers
dropped) breaks the chain, which :func:`verify_chain` detects.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import sqlite_utils

from studymgr.ids import utcnow

GENESIS = "0" * 64
COLUMNS = ("at", "user", "action", "entity", "entity_key", "old", "new", "reason")


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """Hash of one audit row chained to the previous row's hash."""
    payload = json.dumps([prev_hash] + [row.get(c) for c in COLUMNS], separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    db: sqlite_utils.Database,
    *,
    user: str,
    action: str,
    entity: str,
    key: str,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
) -> int:
    """Append one audit row; call inside the transaction that makes the change.

    Returns the new row's id.
    """
    if not db.conn.in_transaction:
        raise RuntimeError("audit.append must run inside the change's transaction")
    last = db.conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = last[0] if last else GENESIS
    row = {
        "at": utcnow(),
        "user": user,
        "action": action,
        "entity": entity,
        "entity_key": key,
        "old": _json(old),
        "new": _json(new),
        "reason": reason,
    }
    row["prev_hash"] = prev_hash
    row["hash"] = row_hash(prev_hash, row)
    cur = db.conn.execute(
        "INSERT INTO audit_log (at, user, action, entity, entity_key, old, new, reason, "
        "prev_hash, hash) VALUES (:at, :user, :action, :entity, :entity_key, :old, :new, "
        ":reason, :prev_hash, :hash)",
        row,
    )
    return int(cur.lastrowid)


def read(db: sqlite_utils.Database, limit: int | None = None) -> pd.DataFrame:
    """Return the newest ``limit`` audit rows (all when None), newest first."""
    sql = "SELECT id, at, user, action, entity, entity_key, old, new, reason FROM audit_log "
    sql += "ORDER BY id DESC"
    params: tuple = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (int(limit),)
    rows = list(db.query(sql, params))
    return pd.DataFrame(rows, columns=["id", *COLUMNS])


def verify_chain(db: sqlite_utils.Database) -> list[str]:
    """Return a list of problems in the hash chain (empty when intact)."""
    problems: list[str] = []
    prev = GENESIS
    expected_id = None
    for row in db.query("SELECT * FROM audit_log ORDER BY id"):
        if row["prev_hash"] != prev:
            problems.append(f"audit row {row['id']}: previous-hash link broken (a row was removed)")
        if row_hash(row["prev_hash"], row) != row["hash"]:
            problems.append(f"audit row {row['id']}: content does not match its hash (edited)")
        if expected_id is not None and row["id"] != expected_id:
            problems.append(f"audit rows {expected_id}..{row['id'] - 1} are missing")
        expected_id = row["id"] + 1
        prev = row["hash"]
    return problems
