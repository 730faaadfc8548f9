"""Input checks shared by the compute modules (one wording for one problem)."""

from __future__ import annotations

import math
from typing import Any

from studymgr.errors import InputError


def positive(value: Any, what: str, unit: str = "") -> float:
    """``value`` as a positive, finite float.

    Parameters
    ----------
    value : object
        A number, or anything ``float()`` reads as one (e.g. ``"2.5"``).
    what : str
        What the value is, for the message (e.g. ``"tolerance"``).
    unit : str
        Its unit in words (``"seconds"``, ``"Hz"``), for the message; empty: none.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Not a number, not finite, or not above zero.
    """
    of = f" of {unit}" if unit else ""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number{of}, got {value!r}") from None
    if not math.isfinite(out) or out <= 0:
        raise InputError(f"{what} must be a positive number{of}, got {value!r}")
    return out
