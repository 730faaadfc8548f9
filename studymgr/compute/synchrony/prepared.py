"""A preprocessed recording as the synchrony measures use it, and the common span of two.

Pure: arrays in, sample ranges out. Reading, verifying and preprocessing a stored recording is
done by :func:`studymgr.runs.synchrony.prepare_scan`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from studymgr.errors import InputError

__all__ = ["PreparedScan", "align"]


@dataclass
class PreparedScan:
    """A preprocessed recording: per chromophore, channel names and data (channels × samples).

    Attributes
    ----------
    scan_id : int
        The recording's id in the study.
    sha256 : str
        Hash of the file it was read from.
    sfreq : float
        Sampling rate (Hz), common to the recordings of a run.
    start : datetime | None
        Time of the first sample (None when the file has no real date).
    names : dict
        ``{chromophore: [channel name, ...]}``.
    data : dict
        ``{chromophore: ndarray, shape (n_channels, n_times)}`` (haemoglobin, M).
    bads : set of str
        Channels marked bad by preprocessing.
    steps : list of str
        What preprocessing did, in order.
    """

    scan_id: int
    sha256: str
    sfreq: float
    start: dt.datetime | None
    names: dict[str, list[str]]
    data: dict[str, np.ndarray]
    bads: set[str]
    steps: list[str]

    @property
    def n_times(self) -> int:
        """Number of samples."""
        return next(iter(self.data.values())).shape[1]


def align(t: PreparedScan, p: PreparedScan, *, by_time: bool) -> tuple[slice, slice, list[str]]:
    """Sample ranges of the common time span of two prepared recordings.

    A true pair is aligned on the measurement start times (when both have one); a pseudo pair was
    recorded at different times and is simply truncated to the common length.

    Parameters
    ----------
    t, p : PreparedScan
        The therapist's and the patient's recordings (same sampling rate).
    by_time : bool
        Align on the start times (a true pair) rather than on the first samples.

    Returns
    -------
    therapist, patient : slice
        Sample ranges of the common span (same length).
    notes : list of str
        How the recordings were aligned, when it is worth saying.

    Raises
    ------
    InputError
        Aligned on their start times, the recordings do not overlap.
    """
    notes: list[str] = []
    sfreq = t.sfreq
    if by_time and t.start is not None and p.start is not None:
        offset = (p.start - t.start).total_seconds()
        t_end, p_end = t.n_times / sfreq, offset + p.n_times / sfreq
        start, end = max(0.0, offset), min(t_end, p_end)
        if end <= start:
            raise InputError(
                f"the two recordings do not overlap in time (patient starts {offset:+.1f} s "
                "after the therapist): check their measurement dates"
            )
        i_t, i_p = round(start * sfreq), round((start - offset) * sfreq)
        n = min(int((end - start) * sfreq), t.n_times - i_t, p.n_times - i_p)
        if abs(offset) > 0:
            notes.append(f"aligned on start times (offset {offset:+.2f} s, "
                         f"common {n / sfreq:.1f} s)")
        return slice(i_t, i_t + n), slice(i_p, i_p + n), notes
    n = min(t.n_times, p.n_times)
    if by_time:
        notes.append("no measurement date on one recording: assumed simultaneous start")
    return slice(0, n), slice(0, n), notes
