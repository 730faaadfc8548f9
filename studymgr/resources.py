"""Locate files shipped with studymgr (JSON Schemas, built-in instrument definitions, SQL).

In a source checkout the files live in ``schemas/`` next to the ``studymgr`` package. In an
installed wheel the same directory is packaged inside the package as ``studymgr/_schemas``
(a pyproject force-include), because a top-level ``schemas/`` would not be importable.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

#: Files that only a studymgr schemas directory contains; they tell our ``schemas/`` apart from an
#: unrelated ``schemas/`` directory that another distribution may have put into site-packages.
_MARKERS = ("instrument.schema.json", "study.sql")


def schemas_dir(package_dir: Path | None = None) -> Path:
    """Return the directory that holds studymgr's schemas and built-in instruments.

    Parameters
    ----------
    package_dir : Path | None
        Directory of the ``studymgr`` package; default: the directory of this module. Given only
        by tests that simulate an installed layout.

    Returns
    -------
    Path
        ``<package_dir>/../schemas`` when it exists and contains ``instrument.schema.json`` or
        ``study.sql`` (a source checkout or editable install), otherwise
        ``<package_dir>/_schemas`` (a wheel).

    Raises
    ------
    FileNotFoundError
        When neither directory exists: the installation is broken (a packaging bug, not a user
        error), so this is not a :class:`~studymgr.errors.StudyError`.
    """
    pkg = Path(__file__).resolve().parent if package_dir is None else Path(package_dir)
    candidates = (pkg.parent / "schemas", pkg / "_schemas")
    for candidate in candidates:
        if any((candidate / marker).is_file() for marker in _MARKERS):
            logger.debug("schemas directory: %s", candidate)
            return candidate
    raise FileNotFoundError(
        "studymgr's schemas directory is missing (looked in "
        + " and ".join(str(c) for c in candidates)
        + "); reinstall studymgr"
    )
