"""Checks of simulation parameters, and parameter groups built from keyword arguments.

Every check raises :class:`~studymgr.errors.InputError` with a message naming the parameter, so
that the command line shows one line saying what to change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from studymgr.errors import InputError


def check_real(value: object, name: str, *, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False) -> float:
    """``value`` as a finite float within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not np.isfinite(out):
        raise InputError(f"{name} must be finite, got {value!r}")
    if lo is not None and (out < lo or (lo_open and out == lo)):
        sign = ">" if lo_open else ">="
        raise InputError(f"{name} must be {sign} {lo}, got {out}")
    if hi is not None and out > hi:
        raise InputError(f"{name} must be <= {hi}, got {out}")
    return out


def check_int(value: object, name: str, *, lo: int, hi: int | None = None) -> int:
    """``value`` as an int within ``[lo, hi]`` (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    out = int(value)
    if out < lo or (hi is not None and out > hi):
        rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise InputError(f"{name} must be {rng}, got {out}")
    return out


def check_band(band: object, sfreq: float, duration_s: float) -> tuple[float, float]:
    """A frequency band (Hz) below Nyquist that a recording of ``duration_s`` resolves."""
    try:
        lo, hi = (float(b) for b in band)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"band must be a pair (fmin, fmax) in Hz, got {band!r}") from None
    if not (0 < lo < hi < sfreq / 2):
        raise InputError(
            f"band must satisfy 0 < fmin < fmax < sfreq/2 = {sfreq / 2:g} Hz, got ({lo:g}, {hi:g})"
        )
    if (hi - lo) * duration_s < 2:
        raise InputError(
            f"a {duration_s:g} s recording resolves the {lo:g}-{hi:g} Hz band with fewer than 2 "
            f"frequency bins: use duration_s >= {2 / (hi - lo):g}"
        )
    return lo, hi


def rng_from(seed: int | np.random.Generator | np.random.SeedSequence | None
             ) -> np.random.Generator:
    """A generator from a seed, a seed sequence or a generator (None refused: reproducible)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool):
        raise InputError("seed must be an integer (simulations are reproducible by design)")
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(check_int(seed, "seed", lo=0))


def seed_sequence(seed: object) -> np.random.SeedSequence:
    """The root seed sequence of a simulation (its children seed the independent parts)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def set_checked(obj: object, name: str, value: object) -> None:
    """Store a checked (normalised) value on a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)


def with_overrides(where: str, groups: Mapping[str, tuple[type, Any]],
                   overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter groups (frozen dataclasses) with keyword arguments naming their fields applied.

    This keeps the flat keyword arguments of earlier versions working
    (``simulate_study(out, n_dyads=4, growth=0.1)``) beside the grouped form
    (``simulate_study(out, design=Design(n_dyads=4), effects=Effects(growth=0.1))``).

    Parameters
    ----------
    where : str
        Name of the calling function, for the error message.
    groups : mapping of str to (type, instance or None)
        Group name -> (its dataclass, the given instance; None: the dataclass's defaults). The
        field names of the groups must not overlap.
    overrides : mapping
        Keyword arguments; each must name a field of one group.

    Returns
    -------
    dict
        Group name -> the instance with its overridden fields replaced (and checked again).

    Raises
    ------
    TypeError
        A keyword that names no field (as Python says of an unknown keyword argument).
    InputError
        A group of the wrong type, or a value its checks refuse.
    """
    left = dict(overrides)
    out = {}
    for name, (cls, value) in groups.items():
        value = cls() if value is None else value
        if not isinstance(value, cls):
            raise InputError(f"{name} must be a {cls.__name__}, got {value!r}")
        mine = {f.name: left.pop(f.name) for f in dataclasses.fields(cls) if f.name in left}
        out[name] = dataclasses.replace(value, **mine) if mine else value
    if left:
        raise TypeError(f"{where}() got an unexpected keyword argument {next(iter(left))!r}")
    return out
