"""The study store: the only part of studymgr that writes SQL."""

from __future__ import annotations

from studymgr.store.study import Study, create_study, open_study

__all__ = ["Study", "create_study", "open_study"]
