"""The report's options and their defaults, in a module of their own.

Kept apart from the package ``__init__`` so that the report's modules (and the CLI) read them
without importing the package that imports those modules, and without pandas or matplotlib.
"""

from __future__ import annotations

from typing import Any

from studymgr.errors import InputError

__all__ = ["MAX_TIMELINES", "REPORT_FORMATS", "check_max_timelines"]

REPORT_FORMATS = ("html", "pdf")
#: Moments timelines drawn by default (each reloads a session's two recordings).
MAX_TIMELINES = 4


def check_max_timelines(value: Any) -> int | None:
    """``max_timelines`` as the report takes it: a whole number >= 0, or None for all.

    Raises
    ------
    InputError
        Anything else (a negative or fractional number, text).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"the number of timelines must be a whole number >= 0 (or all), got "
                         f"{value!r}")
    return int(value)
