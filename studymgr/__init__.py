"""studymgr: a study manager for longitudinal therapist–patient hyperscanning research.

Python API (the CLI mirrors it)::

    import studymgr
    study = studymgr.create_study("study.db")
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_session("D01", 1, date="2025-03-14", kind="therapy")
    study.status()
"""

from __future__ import annotations

__version__ = "0.1.0"

from studymgr.errors import (  # noqa: E402
    ConflictError,
    InputError,
    NotFoundError,
    SchemaVersionError,
    StudyError,
)

_LAZY = {"Study", "create_study", "open_study"}


def __getattr__(name: str):  # PEP 562: pure modules (synchrony, models) never load the store
    if name in _LAZY:
        from studymgr import store

        return getattr(store, name)
    raise AttributeError(f"module 'studymgr' has no attribute {name!r}")

__all__ = [
    "ConflictError",
    "InputError",
    "NotFoundError",
    "SchemaVersionError",
    "Study",
    "StudyError",
    "__version__",
    "create_study",
    "open_study",
]
