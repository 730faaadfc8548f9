"""Store reads and writes for checking, backing up and reporting on a whole study.

The queries that ``studymgr check``, ``studymgr backup``/``restore`` and the report need, so that
no module above the store speaks SQL.
"""

from __future__ import annotations


class MaintenanceMixin:
    """Study-wide reads for check, backup and report (mixed into :class:`studymgr.store.Store`)."""
