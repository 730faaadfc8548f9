"""Session recordings as files: recognise, check, read (with MNE), describe, hash and copy them.

This module is about files; it never touches the study database (the store does, in
:mod:`studymgr.store.recordings`; :mod:`studymgr.runs.recordings` runs an import between them).

Formats (all read by MNE's own readers, never by a home-made one):

===========  ======================================  =====================================
format       what to pass                            reader
===========  ======================================  =====================================
snirf        ``*.snirf`` (one person per file)       :func:`mne.io.read_raw_snirf`
nirx         a NIRx folder, or its ``*.hdr`` file    :func:`mne.io.read_raw_nirx`
hitachi      ``*.csv`` exported by a Hitachi ETG     :func:`mne.io.read_raw_hitachi`
boxy         ``*.txt`` exported by BOXY              :func:`mne.io.read_raw_boxy`
fif          ``*.fif`` holding fNIRS (or EEG)        :func:`mne.io.read_raw_fif`
edf          ``*.edf`` (EEG)                         :func:`mne.io.read_raw_edf`
bdf          ``*.bdf`` (EEG)                         :func:`mne.io.read_raw_bdf`
brainvision  a folder with one ``*.vhdr`` (EEG)      :func:`mne.io.read_raw_brainvision`
eeglab       a folder with one ``*.set`` (EEG)       :func:`mne.io.read_raw_eeglab`
===========  ======================================  =====================================

EEG formats are imported with ``modality="eeg"`` (see :func:`read_recording`). BrainVision and
EEGLAB recordings span several files, so they are stored as their folder, which must hold exactly
one such recording (passing the ``.vhdr`` or ``.set`` file means its folder); the folder's
other files are copied too, so keep each recording in a folder of its own.

Hash of a recording: the SHA-256 of the file; for a folder, of its files in sorted relative-path
order, each entered as ``path NUL size NUL content`` (so renaming a file changes the hash). Hidden
files (names starting with ``.``, e.g. ``.DS_Store``) are neither hashed nor copied.

Safe copy (see :func:`stage_copy`): the recording is first copied to ``.<name>.partial-<pid>``
beside its final place, flushed to disk (fsync), hashed again and compared with the source's
hash; only then does the import (:mod:`studymgr.runs.recordings`) move it into place
(:func:`place`, an atomic rename) inside the database transaction that records it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import math
import os
import re
import shutil
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studymgr.compute.quality import FNIRS_TYPES
from studymgr.errors import ConflictError, InputError, NotFoundError
from studymgr.ids import check_code
from studymgr.io.files import fsync_dir, remove_path
from studymgr.store.datafolder import QUARANTINE

logger = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "bids_relpath",
    "check_pair",
    "check_snirf",
    "describe_recording",
    "detect_format",
    "hash_path",
    "parse_bids_path",
    "place",
    "read_events_csv",
    "read_recording",
    "recording_events",
    "remove_path",
    "split_snirf",
    "stage_copy",
    "stale_partials",
]

#: Supported formats and the suffix of the stored copy ("" = a folder).
FORMATS: dict[str, str] = {"snirf": ".snirf", "nirx": "", "hitachi": ".csv", "boxy": ".txt",
                           "fif": ".fif", "edf": ".edf", "bdf": ".bdf", "brainvision": "",
                           "eeglab": ""}
_BY_SUFFIX = {".snirf": "snirf", ".hdr": "nirx", ".csv": "hitachi", ".txt": "boxy",
              ".fif": "fif", ".edf": "edf", ".bdf": "bdf", ".vhdr": "brainvision",
              ".set": "eeglab"}
#: Formats stored as a folder, and the file in it that MNE reads (None: the folder itself).
_FOLDER_HEADERS = {"nirx": None, "brainvision": ".vhdr", "eeglab": ".set"}
#: MNE channel types of each modality.
MODALITY_TYPES = {"nirs": FNIRS_TYPES, "eeg": ("eeg",)}
#: Formats of each modality (FIF holds either).
MODALITY_FORMATS = {"nirs": ("snirf", "nirx", "hitachi", "boxy", "fif"),
                    "eeg": ("edf", "bdf", "brainvision", "eeglab", "fif")}
CHUNK_BYTES = 1 << 20
#: Highest sampling rate accepted (Hz); a higher one comes from damaged time stamps.
MAX_SFREQ = 100_000.0
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_PARTIAL_RE = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)$")
_SNIRF_GROUP_RE = re.compile(r"^nirs\d*$")
_DATE_FAILED_RE = re.compile(r"(measurement date|meas_date).*failed|failed.*measurement date",
                             re.IGNORECASE)


# -- recognising and reading ---------------------------------------------------------------------
def detect_format(path: str | os.PathLike[str], modality: str = "nirs") -> tuple[str, Path]:
    """Recognise a recording by its name and shape.

    Parameters
    ----------
    path : path-like
        A recording file, a NIRx folder or a NIRx ``.hdr`` file; for EEG an EDF, BDF or FIF
        file, or a BrainVision or EEGLAB folder (or its ``.vhdr`` / ``.set`` file).
    modality : str
        ``nirs`` or ``eeg``: the formats of the other modality are refused.

    Returns
    -------
    fmt : str
        One of :data:`FORMATS`.
    source : Path
        What is hashed and copied: the file, or the recording's folder.

    Raises
    ------
    NotFoundError
        The path does not exist.
    InputError
        Empty file, a folder that is not a recording, or an unsupported file type.
    """
    path = Path(path)
    if modality not in MODALITY_FORMATS:
        raise InputError(f"unknown modality {modality!r}: use nirs or eeg")
    if not path.exists():
        raise NotFoundError(f"{path} does not exist: check the path")
    if path.is_dir():
        suffixes = [p.suffix.lower() for p in path.iterdir() if p.is_file()]
        if modality == "eeg":
            for fmt_, header in (("brainvision", ".vhdr"), ("eeglab", ".set")):
                if header in suffixes:
                    _one_header(path, header, fmt_)
                    return fmt_, path
            raise InputError(f"folder {path} is not a BrainVision or EEGLAB recording (no .vhdr "
                             "or .set file in it): pass a recording file or folder")
        if ".hdr" not in suffixes:
            raise InputError(f"folder {path} is not a NIRx recording (no .hdr file in it): pass "
                             "a recording file or a NIRx folder")
        return "nirx", path
    if not path.is_file():
        raise InputError(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes): was the export or the copy interrupted?")
    suffix = path.suffix.lower()
    fmt = _BY_SUFFIX.get(suffix)
    if fmt not in MODALITY_FORMATS[modality]:
        supported = {"nirs": "SNIRF (.snirf), NIRx (folder or .hdr), Hitachi (.csv), BOXY "
                             "(.txt), FIF (.fif)",
                     "eeg": "EDF (.edf), BDF (.bdf), BrainVision (.vhdr), EEGLAB (.set), "
                            "FIF (.fif)"}[modality]
        other = "eeg" if modality == "nirs" else "nirs"
        hint = (f" (an {'EEG' if other == 'eeg' else 'fNIRS'} format: add --modality {other})"
                if fmt in MODALITY_FORMATS[other] else "")
        raise InputError(
            f"{path.name}: unsupported file type {suffix or '(no extension)'!r} for "
            f"{'fNIRS' if modality == 'nirs' else 'EEG'}{hint}; supported: {supported}")
    if fmt == "nirx":
        return fmt, path.parent
    if fmt in ("brainvision", "eeglab"):
        _one_header(path.parent, suffix, fmt)
        return fmt, path.parent
    return fmt, path


def _one_header(folder: Path, header: str, fmt: str) -> Path:
    """The single ``header`` file of a multi-file recording's folder."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == header
                   and not p.name.startswith("."))
    if len(found) != 1:
        raise InputError(f"folder {folder} holds {len(found)} {fmt} recordings ({header} files): "
                         "put each recording (its header and data files) in a folder of its own")
    return found[0]


def check_snirf(path: str | os.PathLike[str]) -> None:
    """Check a SNIRF file with h5py before MNE reads it.

    Refuses a file that is not HDF5 (e.g. a CSV or text file named ``.snirf``), a truncated or
    damaged HDF5 file, a file without a ``/nirs`` group, and a file holding several recordings
    (``/nirs1``, ``/nirs2``, ...: MNE reads only one, so a hyperscanning file with both people in
    it must be split first, see :func:`split_snirf`).

    Raises
    ------
    InputError
        With a message saying what is wrong and what to do.
    """
    import h5py

    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(len(HDF5_MAGIC))
    if head != HDF5_MAGIC:
        kind = "text" if _looks_like_text(path) else "binary data"
        raise InputError(
            f"{path.name} is not a SNIRF file: it holds {kind}, not HDF5 (a CSV or text file "
            "named .snirf?); export the recording as SNIRF from the acquisition software")
    try:
        with h5py.File(path, "r") as h5:
            groups = sorted(k for k in h5.keys() if _SNIRF_GROUP_RE.match(k))
            blocks = {g: sorted(k for k in h5[g].keys() if k.startswith("data"))
                      for g in groups if isinstance(h5[g], h5py.Group)}
            declared = _declared_bytes(h5)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path.name} is truncated or damaged (h5py: {exc}): copy or export "
                         "it again") from None
    if declared > _memory_limit():
        # MNE would try to load it all (as float64): refuse before it runs out of memory
        raise InputError(f"{path.name} declares {declared / 1e9:.1f} GB of data, more than this "
                         f"computer can load ({_memory_limit() / 1e9:.1f} GB): the file is "
                         "damaged or not a single recording")
    if not groups:
        raise InputError(f"{path.name} is HDF5 but has no /nirs group: not a SNIRF recording")
    if len(groups) > 1:
        listed = ", ".join("/" + g for g in groups)
        raise InputError(
            f"{path.name} holds {len(groups)} recordings ({listed}), e.g. both people of a "
            "hyperscanning pair, but MNE reads only one: split it with 'studymgr scans split "
            f"{path.name} OUTDIR' (one file per person) and import each part with its --role")
    group = groups[0]
    if not blocks.get(group):
        raise InputError(f"{path.name} has no data block in /{group}: not a usable recording")
    if len(blocks[group]) > 1:
        logger.warning("%s has %d data blocks in /%s; MNE reads the first", path.name,
                       len(blocks[group]), group)


def _declared_bytes(h5: Any) -> int:
    """Bytes the datasets of an HDF5 file take once read as float64 (their declared shapes)."""
    import h5py

    total = 0

    def add(_name: str, obj: Any) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.shape is not None:
            total += math.prod(obj.shape) * max(obj.dtype.itemsize, 8)

    h5.visititems(add)
    return total


def _memory_limit() -> int:
    """A quarter of the computer's memory (reading, preprocessing and quality make copies)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2 << 30


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as fh:
        sample = fh.read(4096)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in sample


def _reader(fmt: str):
    import mne

    return {
        "snirf": mne.io.read_raw_snirf,
        "nirx": mne.io.read_raw_nirx,
        "hitachi": mne.io.read_raw_hitachi,
        "boxy": mne.io.read_raw_boxy,
        "fif": mne.io.read_raw_fif,
        "edf": mne.io.read_raw_edf,
        "bdf": mne.io.read_raw_bdf,
        "brainvision": mne.io.read_raw_brainvision,
        "eeglab": mne.io.read_raw_eeglab,
    }[fmt]


def read_recording(
    path: str | os.PathLike[str], fmt: str | None = None, *, preload: bool = True,
    modality: str = "nirs",
) -> tuple[Any, str, list[str]]:
    """Read a recording with MNE after checking it, refusing anything unusable.

    Parameters
    ----------
    path : path-like
        File, NIRx folder or NIRx ``.hdr`` file; for EEG also a BrainVision or EEGLAB folder.
    fmt : str | None
        Force a format (default: recognised by :func:`detect_format`).
    preload : bool
        Load the samples into memory (needed for quality measures).
    modality : str
        ``nirs`` (the recording must hold fNIRS channels) or ``eeg`` (EEG channels).

    Returns
    -------
    raw : mne.io.BaseRaw
        The recording.
    fmt : str
        Its format.
    notes : list of str
        Warnings MNE raised while reading (kept with the scan's quality).

    Raises
    ------
    NotFoundError, InputError
        Missing, empty, damaged, unreadable, two people in one file, no fNIRS channels,
        no samples.
    """
    if modality not in MODALITY_TYPES:
        raise InputError(f"unknown modality {modality!r}: use nirs or eeg")
    detected, source = detect_format(path, modality)
    fmt = fmt or detected
    if fmt not in FORMATS:
        raise InputError(f"unknown recording format {fmt!r}: expected one of "
                         f"{', '.join(FORMATS)}")
    if fmt == "snirf":
        check_snirf(source)
    reader = _reader(fmt)
    target = Path(source)
    if _FOLDER_HEADERS.get(fmt) and Path(source).is_dir():
        target = _one_header(Path(source), _FOLDER_HEADERS[fmt], fmt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = reader(str(target), preload=preload, verbose="warning")
        except MemoryError:
            raise
        except Exception as exc:  # MNE raises many types for malformed files
            raise InputError(
                f"{Path(source).name}: MNE could not read it as {fmt} "
                f"({type(exc).__name__}: {_short(str(exc))}); is the file complete?") from None
    notes = sorted({_short(str(w.message)) for w in caught
                    if not issubclass(w.category, DeprecationWarning)})
    if any(_DATE_FAILED_RE.search(n) for n in notes):
        # MNE puts 2000-01-01 in place of a date it cannot read: record "unknown" instead
        raw.set_meas_date(None)
        notes.append("the measurement date could not be read: stored as unknown")
    types = raw.get_channel_types()
    wanted = MODALITY_TYPES[modality]
    what = "fNIRS" if modality == "nirs" else "EEG"
    if not any(t in wanted for t in types):
        found = ", ".join(f"{t} x{types.count(t)}" for t in sorted(set(types))) or "none"
        hint = ("studymgr stores fNIRS recordings here (for EEG add --modality eeg)"
                if modality == "nirs" else "import fNIRS recordings without --modality eeg")
        raise InputError(f"{Path(source).name} has no {what} channels (found: {found}): {hint}")
    if raw.n_times < 2 or not raw.info["sfreq"] > 0:
        raise InputError(f"{Path(source).name} holds no samples")
    if not raw.info["sfreq"] <= MAX_SFREQ:  # inf or absurd: damaged time stamps
        raise InputError(f"{Path(source).name}: sampling rate {raw.info['sfreq']:g} Hz is "
                         f"implausible (above {MAX_SFREQ:g} Hz): its time stamps are damaged")
    if preload:
        data = raw.get_data(picks=[i for i, t in enumerate(types) if t in wanted])
        if not np.isfinite(data).any():
            raise InputError(f"{Path(source).name}: every {what} sample is missing (NaN)")
    return raw, fmt, notes


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> dt.datetime | None:
    """Parse a timestamp written by :func:`describe_recording` (None stays None)."""
    if text is None:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def describe_recording(raw: Any) -> dict[str, Any]:
    """What the study stores about a recording, taken from MNE's view of it.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording.

    Returns
    -------
    dict
        ``sfreq`` (Hz), ``n_channels``, ``channels`` (list of ``{"name", "type",
        "wavelength_nm", "distance_m"}``; distance between source and detector in metres, None
        when the file has no optode positions), ``duration_s`` (number of samples / sfreq, s),
        ``meas_date`` (UTC ISO 8601 time of the first sample: MNE's ``meas_date`` plus
        ``first_time``; None when the file has none).
    """
    from mne.preprocessing.nirs import source_detector_distances

    types = raw.get_channel_types()
    fnirs_idx = [i for i, t in enumerate(types) if t in FNIRS_TYPES]
    distances: dict[int, float | None] = {}
    if fnirs_idx:
        try:
            values = source_detector_distances(raw.info, picks=fnirs_idx)
        except Exception:  # positions missing or odd: distances unknown
            values = [math.nan] * len(fnirs_idx)
        for i, d in zip(fnirs_idx, values, strict=True):
            # all-zero positions give 0: "unknown", not "touching optodes"
            distances[i] = float(d) if np.isfinite(d) and d > 0 else None
    channels = []
    for i, (name, kind) in enumerate(zip(raw.ch_names, types, strict=True)):
        wavelength = None
        if kind.startswith("fnirs_"):
            w = float(raw.info["chs"][i]["loc"][9])
            wavelength = w if np.isfinite(w) and w > 0 else None
        channels.append({"name": name, "type": kind, "wavelength_nm": wavelength,
                         "distance_m": distances.get(i)})
    meas_date = raw.info["meas_date"]
    start = None if meas_date is None else meas_date + dt.timedelta(seconds=raw.first_time)
    sfreq = float(raw.info["sfreq"])
    return {
        "sfreq": sfreq,
        "n_channels": len(raw.ch_names),
        "channels": channels,
        "duration_s": raw.n_times / sfreq,
        "meas_date": _iso(start),
    }


def recording_events(raw: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The recording's own annotations as events (onset from its first sample, in s).

    Labels longer than 64 characters are shortened; annotations before the first sample are
    skipped. Both are reported in the returned notes.

    Returns
    -------
    events : list of dict
        ``{"onset_s", "duration_s", "label"}``, in time order.
    notes : list of str
        What was changed or skipped.
    """
    ann = raw.annotations
    # with a measurement date, onsets count from meas_date and the first sample is first_time
    offset = raw.first_time if ann.orig_time is not None else 0.0
    events, notes = [], []
    skipped = shortened = 0
    for onset, duration, label in zip(ann.onset, ann.duration, ann.description, strict=True):
        rel = float(onset) - offset
        if rel < -1e-9 or not np.isfinite(rel):
            skipped += 1
            continue
        label = " ".join(str(label).split()) or "(unnamed)"
        if len(label) > 64:
            label = label[:64]
            shortened += 1
        dur = float(duration) if np.isfinite(duration) and duration > 0 else 0.0
        events.append({"onset_s": round(max(rel, 0.0), 9), "duration_s": dur, "label": label})
    if skipped:
        notes.append(f"{skipped} annotation(s) before the first sample were skipped")
    if shortened:
        notes.append(f"{shortened} annotation label(s) were shortened to 64 characters")
    events.sort(key=lambda e: (e["onset_s"], e["label"]))
    return events, notes


# -- hashing and copying ---------------------------------------------------------------------
def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Regular files under ``folder`` (hidden ones skipped) as (relative POSIX path, path)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.is_file():
                found.append((path.relative_to(folder).as_posix(), path))
    yield from sorted(found)


def hash_path(path: str | os.PathLike[str]) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a recording file or folder (see the module notes)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        total = 0
        for rel, file in _files(path):
            size = file.stat().st_size
            digest.update(rel.encode("utf-8") + b"\0" + str(size).encode() + b"\0")
            total += _hash_into(file, digest)
        return digest.hexdigest(), total
    return _hash_file(path)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = _hash_into(path, digest)
    return digest.hexdigest(), size


def _hash_into(path: Path, digest: Any) -> int:
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size


def partial_path(final: Path, pid: int | None = None) -> Path:
    """The temporary name a recording is copied to before it is moved to ``final``."""
    return final.with_name(f".{final.name}.partial-{os.getpid() if pid is None else pid}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover from an earlier, failed attempt
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def stale_partials(final: Path) -> list[Path]:
    """Leftover temporary copies of ``final`` whose process has ended.

    A copy still being written by a running process (e.g. a parallel import) is left alone.
    """
    folder = final.parent
    if not folder.is_dir():
        return []
    out = []
    for entry in folder.iterdir():
        match = _PARTIAL_RE.match(entry.name)
        if match and match["name"] == final.name and not _pid_alive(int(match["pid"])):
            out.append(entry)
    return sorted(out)


def all_partials(folder: Path) -> list[Path]:
    """Every leftover temporary copy under ``folder`` whose process has ended."""
    out = []
    for root, dirs, files in os.walk(folder):
        if Path(root) == Path(folder):  # what was quarantined is not a leftover
            dirs[:] = [d for d in dirs if d != QUARANTINE]
        for name in [*dirs, *files]:
            match = _PARTIAL_RE.match(name)
            if match and not _pid_alive(int(match["pid"])):
                out.append(Path(root) / name)
    return sorted(out)


def _write_chunk(fh: Any, chunk: bytes) -> None:
    fh.write(chunk)


def _copy_file(src: Path, dst: Path) -> None:
    # O_EXCL: never write into a file someone else created under the same temporary name
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(CHUNK_BYTES):
            _write_chunk(fout, chunk)
        fout.flush()
        os.fsync(fout.fileno())


def stage_copy(source: Path, final: Path, expected_sha256: str) -> Path:
    """Copy a recording to its temporary name beside ``final``, fsync it and verify its hash.

    Leftover temporary copies of the same target from ended processes are removed first.

    Parameters
    ----------
    source : Path
        The recording file or folder.
    final : Path
        Where it will live (its parent folder must exist).
    expected_sha256 : str
        The source's hash taken earlier; the copy must match it.

    Returns
    -------
    Path
        The verified temporary copy (the caller moves it into place with :func:`place`, or
        removes it).

    Raises
    ------
    InputError
        The copy differs from the hash taken before (the source changed while importing, or the
        disk returned other bytes). The temporary copy is removed.
    """
    for leftover in stale_partials(final):
        logger.info("removing %s, left by an interrupted import", leftover)
        remove_path(leftover)
    tmp = partial_path(final)
    try:
        if source.is_dir():
            tmp.mkdir(mode=0o700)
            for rel, file in _files(source):
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_file(file, target)
            for folder in sorted({p.parent for p in tmp.rglob("*")}, reverse=True):
                fsync_dir(folder)
        else:
            _copy_file(source, tmp)
        fsync_dir(final.parent)
        copied, _ = hash_path(tmp)
        if copied != expected_sha256:
            raise InputError(f"{source.name} changed while it was being imported (or the copy "
                             "was damaged): nothing was stored; import it again")
    except BaseException:
        remove_path(tmp)
        raise
    return tmp


def place(tmp: Path, final: Path) -> None:
    """Move a verified temporary copy to ``final`` (atomic rename), replacing an orphan there."""
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)  # a folder cannot be renamed over a non-empty folder
    os.replace(tmp, final)
    fsync_dir(final.parent)


# -- names ---------------------------------------------------------------------------------------
def bids_relpath(person: str, session: int, *, task: str = "therapy", acq: str | None = None,
                 fmt: str = "snirf", modality: str = "nirs", rep: int | None = None) -> str:
    """Where a recording lives in the data folder (BIDS-like, relative POSIX path).

    ``sub-<person>/ses-<n>/nirs/sub-<person>_ses-<n>_task-<task>[_acq-<dyad>][_rep-<k>]_nirs``
    plus the format's suffix (none for a NIRx folder). ``acq`` names the dyad when the person
    belongs to several dyads (a shared therapist has a session *n* in each); ``rep`` numbers a
    replacement stored while the recording it replaces is still in place.

    Examples
    --------
    >>> bids_relpath("P01", 2)
    'sub-P01/ses-2/nirs/sub-P01_ses-2_task-therapy_nirs.snirf'
    """
    name = f"sub-{person}_ses-{session}_task-{task}"
    if acq:
        name += f"_acq-{acq}"
    if rep:
        name += f"_rep-{rep}"
    name += f"_{modality}{FORMATS[fmt]}"
    return f"sub-{person}/ses-{session}/{modality}/{name}"


_ENTITY_RE = re.compile(r"([a-zA-Z]+)-([A-Za-z0-9]+)")


def parse_bids_path(rel: str) -> dict[str, str]:
    """BIDS entities of a recording's relative path: ``sub``, ``ses``, ``acq``, ... .

    The folder entities (``sub-X/ses-Y/nirs``) must agree with the file name's.

    Raises
    ------
    InputError
        The path does not follow ``sub-<person>/ses-<n>/nirs/<name>``, or folder and name
        disagree.
    """
    parts = Path(rel).parts
    if (len(parts) != 4 or not parts[0].startswith("sub-") or not parts[1].startswith("ses-")
            or parts[2] != "nirs"):
        raise InputError(f"{rel}: expected sub-<person>/ses-<n>/nirs/<file>")
    stem = parts[3].split(".")[0]
    entities = dict(_ENTITY_RE.findall(stem))
    folder = {"sub": parts[0][4:], "ses": parts[1][4:]}
    for key, value in folder.items():
        if key in entities and entities[key] != value:
            raise InputError(f"{rel}: the file name says {key}-{entities[key]} but it is in "
                             f"folder {key}-{value}")
        entities[key] = value
    return entities


# -- the pair ------------------------------------------------------------------------------------
def check_pair(therapist: dict[str, Any], patient: dict[str, Any]) -> dict[str, Any]:
    """Can the therapist's and the patient's recordings of a session be analysed together?

    Parameters
    ----------
    therapist, patient : dict
        Each with ``sfreq`` (Hz), ``duration_s`` (s), ``meas_date`` (UTC ISO 8601 of the first
        sample, or None) and ``channels`` (list of names of the fNIRS channels).

    Returns
    -------
    dict
        ``status`` ("ok", "warning" or "error"), ``start_offset_s`` (patient start minus
        therapist start, s; None when a start time is missing), ``overlap_s`` (s, assuming a
        common start when a time is missing), ``messages`` (list of str).

        - a missing measurement date: warning, both assumed to start together;
        - no overlap in time: error;
        - an overlap shorter than half the shorter recording: warning;
        - different sampling rates: warning, "resampled at analysis time";
        - different channel names: warning (homologous pairs use the common channels only).
    """
    messages: list[str] = []
    levels = []
    t_start, p_start = parse_iso(therapist["meas_date"]), parse_iso(patient["meas_date"])
    t_dur, p_dur = float(therapist["duration_s"]), float(patient["duration_s"])
    if t_start is None or p_start is None:
        missing = " and ".join(r for r, s in (("therapist", t_start), ("patient", p_start))
                               if s is None)
        messages.append(f"no measurement date in the {missing}'s recording: assuming both "
                        "recordings started together")
        levels.append("warning")
        offset = None
        overlap = min(t_dur, p_dur)
    else:
        offset = (p_start - t_start).total_seconds()
        overlap = min(t_dur, offset + p_dur) - max(0.0, offset)
        if overlap <= 0:
            messages.append(
                f"the recordings do not overlap in time (therapist from {therapist['meas_date']}"
                f" for {t_dur:.1f} s, patient from {patient['meas_date']} for {p_dur:.1f} s): "
                "check the files and the devices' clocks")
            levels.append("error")
            overlap = 0.0
        else:
            if abs(offset) >= 1e-3:
                first = "patient" if offset > 0 else "therapist"
                other = "therapist" if first == "patient" else "patient"
                messages.append(f"the {first}'s recording started {abs(offset):.3f} s after the "
                                f"{other}'s: analysis uses the {overlap:.1f} s they overlap")
            if overlap < 0.5 * min(t_dur, p_dur):
                messages.append(f"the recordings overlap for only {overlap:.1f} s")
                levels.append("warning")
    t_sf, p_sf = float(therapist["sfreq"]), float(patient["sfreq"])
    if not math.isclose(t_sf, p_sf, rel_tol=1e-6):
        messages.append(f"sampling rates differ (therapist {t_sf:.4g} Hz, patient {p_sf:.4g} Hz):"
                        " resampled at analysis time")
        levels.append("warning")
    t_ch, p_ch = set(therapist["channels"]), set(patient["channels"])
    if t_ch != p_ch:
        common = t_ch & p_ch
        if not common:
            messages.append("the montages share no channel names: homologous channel pairs are "
                            "impossible (use ROIs or all channel pairs)")
        else:
            messages.append(f"the montages differ ({len(t_ch - common)} channel(s) only in the "
                            f"therapist's, {len(p_ch - common)} only in the patient's): "
                            f"homologous pairs use the {len(common)} common channels")
        levels.append("warning")
    status = "error" if "error" in levels else "warning" if levels else "ok"
    return {"status": status, "start_offset_s": None if offset is None else round(offset, 6),
            "overlap_s": round(max(overlap, 0.0), 6), "messages": messages}


# -- events files --------------------------------------------------------------------------------
EVENT_COLUMNS = ("onset", "duration", "label", "rater", "note")


def read_events_csv(path: str | os.PathLike[str], *, rater: str | None = None,
                    labels: Sequence[str] | None = None, return_dropped: bool = False
                    ) -> list[dict[str, Any]] | tuple[list[dict[str, Any]], int]:
    """Read and check an events CSV: columns ``onset,duration,label[,rater][,note]``.

    ``onset`` and ``duration`` are seconds (>= 0; an empty duration means 0) from the start of
    the session's recording; ``label`` is 1-64 characters; ``rater`` a pseudonymous code. The
    whole file is checked before anything is returned.

    An optional ``note`` column (a rater's free-text comment) is read and dropped: free text may
    identify people, so it never reaches the database, the audit trail or an export.

    Parameters
    ----------
    path : path-like
        The CSV file (UTF-8, comma- or semicolon-separated, one header row).
    rater : str | None
        Rater of every row (``--rater``); a ``rater`` column must then be empty or agree.
    labels : sequence of str | None
        The allowed labels (e.g. ``("MOI", "MONI")``); None allows any label.
    return_dropped : bool
        Also return how many non-empty notes were dropped.

    Returns
    -------
    events : list of dict
        ``{"onset_s", "duration_s", "label", "rater"}`` per row, in file order.
    n_dropped : int
        Only with ``return_dropped``.

    Raises
    ------
    NotFoundError, InputError
        Missing file, wrong columns, a label outside ``labels``, or a bad row (its line number
        is given).
    """
    path = Path(path)
    if rater is not None:
        check_code(rater, "rater")
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist: check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text: save the events as a CSV file") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path.name} is empty: expected a header row onset,duration,label")
    delimiter = ";" if ";" in lines[0] and "," not in lines[0] else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    unknown = [h for h in header if h not in EVENT_COLUMNS]
    missing = [c for c in ("onset", "duration", "label") if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise InputError(
            f"{path.name}: columns must be onset,duration,label[,rater][,note] (found "
            f"{','.join(header)})")
    col = {name: header.index(name) for name in header}
    allowed = None if labels is None else set(labels)
    events = []
    dropped = 0
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path.name} line {line_no}: {len(row)} values for "
                             f"{len(header)} columns")
        onset = _seconds(row[col["onset"]], "onset", path.name, line_no, allow_empty=False)
        duration = _seconds(row[col["duration"]], "duration", path.name, line_no,
                            allow_empty=True)
        label = " ".join(row[col["label"]].split())
        if not 1 <= len(label) <= 64:
            raise InputError(f"{path.name} line {line_no}: label must have 1-64 characters "
                             f"(got {len(label)})")
        if allowed is not None and label not in allowed:
            raise InputError(f"{path.name} line {line_no}: label {label!r} is not one of "
                             f"{', '.join(sorted(allowed))} (--labels)")
        if "note" in col and row[col["note"]].strip():
            dropped += 1
        row_rater = row[col["rater"]].strip() if "rater" in col else ""
        if row_rater:
            check_code(row_rater, f"rater (line {line_no})")
            if rater is not None and row_rater != rater:
                raise InputError(f"{path.name} line {line_no}: rater {row_rater} differs from "
                                 f"--rater {rater}")
        events.append({"onset_s": onset, "duration_s": duration, "label": label,
                       "rater": row_rater or rater})
    if not events:
        raise InputError(f"{path.name} has a header but no events")
    if dropped:
        logger.warning("%s: %d note(s) dropped (free text is never stored)", path.name, dropped)
    return (events, dropped) if return_dropped else events


def _seconds(cell: str, what: str, name: str, line_no: int, *, allow_empty: bool) -> float:
    cell = cell.strip()
    if not cell and allow_empty:
        return 0.0
    try:
        value = float(cell)
    except ValueError:
        raise InputError(f"{name} line {line_no}: {what} {cell!r} is not a number of "
                         "seconds") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} line {line_no}: {what} must be a number of seconds >= 0 "
                         f"(got {cell})")
    return value


# -- splitting a two-person SNIRF ----------------------------------------------------------------
def split_snirf(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Split a SNIRF file holding several recordings (``/nirs1``, ``/nirs2``, ...) into files.

    Each part keeps the file's ``formatVersion`` and one group, renamed ``/nirs``. Parts are
    named ``<stem>_nirs1.snirf``, ``<stem>_nirs2.snirf``, ... and written under a temporary
    name first; existing files are never overwritten.

    Returns
    -------
    list of Path
        The files written, in group order.
    """
    import h5py

    path, out_dir = Path(path), Path(out_dir)
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist: check the path")
    if not out_dir.is_dir():
        raise NotFoundError(f"folder {out_dir} does not exist: create it first")
    with open(path, "rb") as fh:
        if fh.read(len(HDF5_MAGIC)) != HDF5_MAGIC:
            raise InputError(f"{path.name} is not a SNIRF (HDF5) file")
    written: list[Path] = []
    tmp: Path | None = None
    try:
        with h5py.File(path, "r") as src:
            groups = sorted((k for k in src.keys() if _SNIRF_GROUP_RE.match(k)),
                            key=lambda g: int(g[4:] or 0))
            if len(groups) < 2:
                raise InputError(f"{path.name} holds one recording: nothing to split")
            targets = [out_dir / f"{path.stem}_{g}.snirf" for g in groups]
            clash = [t.name for t in targets if t.exists()]
            if clash:
                raise ConflictError(f"{', '.join(clash)} already exist(s) in {out_dir}: "
                                    "choose another folder")
            for group, target in zip(groups, targets, strict=True):
                tmp = partial_path(target)
                with h5py.File(tmp, "w") as dst:
                    for key in src.keys():
                        if not _SNIRF_GROUP_RE.match(key):
                            src.copy(src[key], dst, name=key)
                    src.copy(src[group], dst, name="nirs")
                os.replace(tmp, target)
                tmp = None
                written.append(target)
    except BaseException as exc:
        for done in [*written, *([tmp] if tmp is not None else [])]:
            remove_path(done)
        if isinstance(exc, OSError):
            raise InputError(f"{path.name} could not be split ({exc})") from None
        raise
    return written
