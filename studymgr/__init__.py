"""studymgr: a study manager for longitudinal therapist–patient hyperscanning research.

Python API (the CLI mirrors it)::

    import studymgr
    study = studymgr.create_study("study.db")
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_session("D01", 1, date="2025-03-14", kind="therapy")
    study.status()

The package is layered (see ``docs/architecture.md``): ``compute`` (pure) and ``store`` (SQL) at the
bottom, ``io`` (files) above them, ``runs`` (read, compute, store) above those, ``present``
(report, tables, exports) and ``cli`` on top.
"""

from __future__ import annotations

from studymgr import _aliases
from studymgr._version import __version__
from studymgr.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    SchemaVersionError,
    StudyError,
)

_aliases.install()  # old module paths (studymgr.pipeline, ...) keep importing

_LAZY = {"Study", "create_study", "open_study"}


def __getattr__(name: str):  # PEP 562: pure modules (synchrony, models) never load the store
    if name in _LAZY:
        from studymgr.runs import study

        return getattr(study, name)
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
