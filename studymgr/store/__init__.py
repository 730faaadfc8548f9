"""The study store: the only part of studymgr that speaks SQL (data in, data out).

It imports nothing of studymgr but the foundation modules (errors, ids, resources); the analyses
live above it in :mod:`studymgr.runs`, whose :class:`~studymgr.runs.study.Study` builds on
:class:`Store`.
"""

from __future__ import annotations

from studymgr.store.maintenance import (
    DatabaseError,
    shipped_schema_fingerprint,
    shipped_schema_version,
)
from studymgr.store.opening import open_store_as_is
from studymgr.store.study import Store, create_store, open_store

__all__ = ["DatabaseError", "Store", "create_store", "open_store", "open_store_as_is",
           "shipped_schema_fingerprint", "shipped_schema_version"]
