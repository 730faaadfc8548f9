"""Validation of identifiers, dates and other small values a user types.

Identifiers (people, dyads, raters, instruments) are pseudonymous codes: 1-32 letters, digits,
'-' or '_'. The schema enforces the same rule (CHECK ... NOT GLOB), so nothing else can be stored;
checking here too gives the user a clear message before the database is touched.
"""

from __future__ import annotations

import datetime as dt
import re

from studymgr.errors import InputError

CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
USER_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
ROLES = ("therapist", "patient")
TIMINGS = ("pre", "post")
SESSION_KINDS = ("therapy", "interview")
#: What questionnaires measure (an instrument's ``construct``), in the order tables show them.
CONSTRUCTS = ("symptoms", "wellbeing", "alliance", "session_quality")
#: The constructs modelled as outcomes of synchrony.
OUTCOMES = ("symptoms", "wellbeing", "session_quality")


def check_code(value: object, what: str = "identifier") -> str:
    """Return ``value`` if it is a valid pseudonymous code, else raise :class:`InputError`.

    Examples
    --------
    >>> check_code("D01", "dyad")
    'D01'
    """
    if not isinstance(value, str) or not CODE_RE.fullmatch(value):
        raise InputError(
            f"invalid {what} code {value!r}: use 1-32 letters, digits, '-' or '_' "
            "(pseudonymous codes only, never names)"
        )
    return value


def check_user(value: object) -> str:
    """Return a valid user name for the audit trail (1-64 of letters, digits, ``_.@-``)."""
    if not isinstance(value, str) or not USER_RE.fullmatch(value):
        raise InputError(
            f"invalid user {value!r}: use 1-64 letters, digits, '_', '.', '@' or '-'"
        )
    return value


def check_choice(value: object, choices: tuple[str, ...], what: str) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise InputError(f"invalid {what} {value!r}: expected one of {', '.join(choices)}")
    return str(value)


def check_session_number(value: object) -> int:
    """Return a session number (an integer >= 1)."""
    if isinstance(value, bool):
        raise InputError(f"invalid session number {value!r}: expected an integer >= 1")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise InputError(f"invalid session number {value!r}: expected an integer >= 1") from None
    if number < 1:
        raise InputError(f"invalid session number {value!r}: sessions are numbered from 1")
    return number


def check_date(value: object) -> str | None:
    """Return an ISO date string ``YYYY-MM-DD`` (or None), refusing impossible dates."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InputError(f"invalid date {text!r}: expected YYYY-MM-DD, e.g. 2025-03-14")
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(f"invalid date {text!r}: no such day in the calendar") from None


def utcnow() -> str:
    """Current UTC time as ISO 8601 with microseconds and a trailing 'Z'."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
