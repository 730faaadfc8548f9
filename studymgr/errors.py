"""Errors shown to the user as one line.

Every error a user can cause derives from :class:`StudyError`; the CLI prints its message on one
line to stderr and exits with status 2. Anything else is a bug and keeps its traceback (with
``--debug``).
"""

from __future__ import annotations


class StudyError(Exception):
    """Base class for errors shown to the user as one line (exit status 2)."""


class InputError(StudyError):
    """Bad user input or bad data (a value out of range, a malformed file, ...)."""


class NotFoundError(StudyError):
    """Something named does not exist (an unknown dyad, session, instrument, ...)."""


class ConflictError(StudyError):
    """The request clashes with what is stored (a duplicate, a locked session, ...)."""


class SchemaVersionError(StudyError):
    """The database was written by a newer studymgr, or is not a study database."""
