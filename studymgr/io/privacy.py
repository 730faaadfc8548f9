"""Identifying metadata in recording files: find it at import, strip it for export.

A study database holds pseudonymous codes only (see ``schemas/study.sql``), but the recording
files it stores are kept byte for byte (their SHA-256 proves they are unchanged), and acquisition
software often writes people's names, birth dates or sex into them: SNIRF
``/nirs/metaDataTags`` (``SubjectID``, ``firstName``, ``lastName``, ``DateOfBirth``, ``sex``, ...),
NIRx ``.inf`` files, FIF ``subject_info``. :func:`identifying_metadata` names what a file holds
(field names only, never the values, so that the database and the logs stay free of them);
the import reports it as a warning and in the audit trail. :func:`strip_identifiers` gives a copy of
a recording without them, for exports.

Which values count (a heuristic, documented here so that a user can predict it):

- a name field (first, middle, last name; SNIRF tags whose name contains ``name``) that is not a
  placeholder (empty, ``x``, ``unknown``, ``anonymous``, ``n/a``, ``mne_anonymize``, ...);
- a birth date, sex, handedness, weight or height (quasi-identifiers);
- a subject ID that does not look like a pseudonymous code: it holds a run of four or more letters
  other than a usual prefix (``sub``, ``subject``, ``patient``, ``participant``, ``pilot``, ...),
  e.g. ``JohnDoe`` or ``Smith_1984``, whereas ``P01``, ``sub-07`` or ``Subject12`` pass;
- the experimenter's name.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["identifying_metadata", "looks_like_code", "strip_identifiers"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
PLACEHOLDERS = {"", "x", "xx", "xxx", "-", "--", "na", "n/a", "none", "null", "unknown",
                "anonymous", "anon", "default", "mne_anonymize", "0"}
CODE_PREFIXES = {"sub", "subj", "subject", "patient", "pat", "therapist", "participant", "part",
                 "pilot", "test", "pp", "case", "control", "dyad", "session", "ses", "default",
                 "anonymous", "unknown", "mne", "anonymize"}
# SNIRF metaDataTags that are part of the format and describe the measurement, not the person.
SNIRF_TECHNICAL_TAGS = {"measurementdate", "measurementtime", "lengthunit", "timeunit",
                        "frequencyunit", "mne_coordframe", "manufacturername", "model",
                        "softwareversion", "snirfversion"}
_PERSONAL_TAG_RE = re.compile(r"name|birth|dob|age$|^age|sex|gender|hand|weight|height|address|"
                              r"phone|mail|initial|patient|comment|note", re.IGNORECASE)
_LETTER_RUN_RE = re.compile(r"[A-Za-z]{4,}")


def looks_like_code(value: str) -> bool:
    """Whether a subject ID looks like a pseudonymous code rather than a name.

    Examples
    --------
    >>> looks_like_code("P01"), looks_like_code("sub-07"), looks_like_code("JohnDoe")
    (True, True, False)
    """
    text = value.strip()
    if text.lower() in PLACEHOLDERS:
        return True
    runs = [r.lower() for r in _LETTER_RUN_RE.findall(text)]
    return all(r in CODE_PREFIXES for r in runs)


def _is_placeholder(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip().lower() in PLACEHOLDERS


def _text(value: Any) -> str:
    """A scalar or one-element HDF5 value as text."""
    import numpy as np

    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _snirf_findings(path: Path) -> list[str]:
    import h5py

    found: list[str] = []
    with h5py.File(path, "r") as h5:
        for group_name in sorted(k for k in h5.keys() if k.startswith("nirs")):
            tags = h5[group_name].get("metaDataTags")
            if not isinstance(tags, h5py.Group):
                continue
            for key in sorted(tags.keys()):
                item = tags[key]
                if not isinstance(item, h5py.Dataset) or key.lower() in SNIRF_TECHNICAL_TAGS:
                    continue
                where = f"SNIRF /{group_name}/metaDataTags/{key}"
                try:
                    value = _text(item[()])
                except (OSError, TypeError, ValueError, IndexError):
                    value = "?"
                if key == "SubjectID":
                    if not looks_like_code(value):
                        found.append(f"{where} does not look like a pseudonymous code (a name?)")
                elif _PERSONAL_TAG_RE.search(key) and not _is_placeholder(value):
                    found.append(f"{where} holds personal data")
    return found


_SUBJECT_FIELDS = {
    "first_name": "a first name", "middle_name": "a middle name", "last_name": "a last name",
    "birthday": "a birth date", "sex": "the sex", "hand": "the handedness",
    "weight": "the weight", "height": "the height",
}


def _subject_info_findings(raw: Any) -> list[str]:
    found: list[str] = []
    info = raw.info.get("subject_info") or {}
    his_id = info.get("his_id")
    if his_id is not None and not looks_like_code(str(his_id)):
        found.append("subject_info his_id does not look like a pseudonymous code (a name?)")
    for key, what in _SUBJECT_FIELDS.items():
        value = info.get(key)
        if key in ("sex", "hand") and value in (0, None):  # 0 = unknown in FIFF
            continue
        if key in ("weight", "height") and not value:
            continue
        if not _is_placeholder(value):
            found.append(f"subject_info holds {what} ({key})")
    if not _is_placeholder(raw.info.get("experimenter")):
        found.append("the experimenter's name is recorded (experimenter)")
    return found


def identifying_metadata(raw: Any, path: str | os.PathLike[str] | None = None) -> list[str]:
    """Name the identifying metadata a recording carries (field names, never values).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording as MNE read it.
    path : path-like | None
        The file (or folder) it was read from. A SNIRF file's ``metaDataTags`` are read directly
        with h5py (MNE derives ``first_name`` from ``SubjectID``, which would be reported twice);
        for other formats MNE's ``info["subject_info"]`` and ``info["experimenter"]`` are used.

    Returns
    -------
    list of str
        One line per finding, e.g. ``"SNIRF /nirs/metaDataTags/lastName holds personal data"``;
        empty when nothing identifying was found.
    """
    found: list[str] = []
    is_snirf = False
    if path is not None:
        p = Path(path)
        if p.is_file():
            with open(p, "rb") as fh:
                is_snirf = fh.read(len(HDF5_MAGIC)) == HDF5_MAGIC
    if is_snirf:
        try:
            found += _snirf_findings(Path(path))  # type: ignore[arg-type]
        except (OSError, KeyError, ValueError, RuntimeError):  # damaged header: MNE's view
            is_snirf = False
    if not is_snirf:
        found += _subject_info_findings(raw)
    elif not _is_placeholder(raw.info.get("experimenter")):
        found.append("the experimenter's name is recorded (experimenter)")
    if found:
        logger.warning("%s carries identifying metadata (%s): it is stored as imported; exports "
                       "strip it", Path(path).name if path is not None else "the recording",
                       "; ".join(found))
    return found


def strip_identifiers(raw: Any, *, subject: str | None = None) -> Any:
    """A copy of a recording without identifying metadata (for exports).

    Removes everything :func:`identifying_metadata` looks at and what MNE's own
    :meth:`mne.io.Raw.anonymize` removes (machine ids in file and measurement ids, project
    names, processing-history experimenters), but keeps the measurement date and time: hyperscanning
    analyses align the two people's recordings on it (``anonymize`` would shift it).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (unchanged).
    subject : str | None
        Pseudonymous code written as the subject's ``his_id`` (e.g. ``"P01"``); None leaves
        ``subject_info`` empty.

    Returns
    -------
    mne.io.BaseRaw
        The stripped copy.
    """
    out = raw.copy()
    out.anonymize(daysback=0, keep_his=False, verbose="error")  # 0 days: dates unchanged
    out.info["subject_info"] = {"his_id": subject} if subject else {}
    out.info["experimenter"] = None
    out.info["description"] = None
    return out
