"""Montage files: which channel belongs to which region of interest (ROI).

A montage is a CSV with the columns ``channel`` and ``roi``. A channel is a source–detector pair
as MNE names it without the chromophore or wavelength (``S1_D1``); an ROI is a code (letters,
digits, ``-``, ``_``), e.g. ``lPFC``. Channels not listed are left out of ROI averages. Without a
montage every channel is its own ROI.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

from studymgr.errors import InputError, NotFoundError
from studymgr.ids import CODE_RE

CHANNEL_RE = re.compile(r"S\d+_D\d+")


def channel_base(name: str) -> str:
    """``'S1_D2 hbo'`` or ``'S1_D2 760'`` -> ``'S1_D2'``."""
    return name.split(" ")[0]


def load_montage(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a montage CSV into ``{channel: roi}``.

    Raises
    ------
    InputError
        Missing columns, a channel named twice, a malformed channel or ROI code.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"montage file {path} not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path.name}: cannot read it as UTF-8 text ({exc})") from None
    return parse_montage(text, name=path.name)


def parse_montage(text: str, *, name: str = "montage") -> dict[str, str]:
    """Parse montage CSV text (see :func:`load_montage`)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
        rows = list(reader)
    except csv.Error as exc:  # e.g. a stray quote or line break inside a field
        raise InputError(f"{name}: not a valid CSV file ({exc})") from None
    if fieldnames is None or not {"channel", "roi"} <= {(f or "").strip() for f in fieldnames}:
        raise InputError(f"{name}: a montage needs the columns 'channel' and 'roi'")
    mapping: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        channel = (row.get("channel") or "").strip()
        roi = (row.get("roi") or "").strip()
        if not CHANNEL_RE.fullmatch(channel):
            raise InputError(f"{name} line {line}: channel {channel!r} is not a source-detector "
                             "pair like S1_D1")
        if not CODE_RE.fullmatch(roi):
            raise InputError(f"{name} line {line}: ROI {roi!r} must be 1-32 letters, digits, "
                             "'-' or '_'")
        if channel in mapping:
            raise InputError(f"{name} line {line}: channel {channel} is listed twice")
        mapping[channel] = roi
    if not mapping:
        raise InputError(f"{name}: the montage lists no channels")
    return mapping
