"""Session synchrony over a study: which sessions need computing, preprocessing, pairing,
pseudo-dyads.

The work runs in three phases (on the session-job runner, :func:`studymgr.runs.jobs.run_sessions`)
so that every recording is read and preprocessed once, whatever the number of pairs it joins:

1. *prepare* each recording needed (verify its hash, read it with MNE, preprocess, resample to
   the run's common rate) — in parallel over recordings (on an executor: this process, a local
   process pool or a Dask cluster, see :mod:`studymgr.runs.executors`);
2. *compute* each session: the true therapist–patient pair and its pseudo-dyads (the therapist
   with other dyads' patients at the same session number, and the patient with other dyads'
   therapists), per channel pair, ROI pair and for the session — in parallel over sessions;
3. *store* each session's results in one transaction (by the calling process only), so an
   interrupted run leaves whole sessions or nothing.

Workers never open the database: they get file paths and hashes, and return tidy tables.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.preprocess import preprocess
from studymgr.compute.synchrony.config import SynchronyConfig
from studymgr.compute.synchrony.montage import CHANNEL_RE, channel_base
from studymgr.compute.synchrony.prepared import PreparedScan, align
from studymgr.errors import InputError, NotFoundError, StudyError
from studymgr.runs.executors import Executor, LocalExecutor, ProgressFn
from studymgr.runs.jobs import (
    SessionAnalysis,
    SessionFailure,
    SessionPlan,
    json_roundtrip,
    run_sessions,
)

if TYPE_CHECKING:
    from studymgr.store.study import Store

logger = logging.getLogger(__name__)

__all__ = ["NO_SESSION_LEVEL", "RESULT_COLUMNS", "SUMMARY_COLUMNS", "TEST_COLUMNS", "PreparedScan",
           "ScanInput", "SessionJob", "SessionResult", "SynchronyAnalysis", "SynchronyConfig",
           "align", "check_montage", "compute_session", "compute_synchrony", "json_roundtrip",
           "pair_synchrony", "permutation_tests", "plan_jobs", "prepare_scan", "pseudo_partners"]

RESULT_COLUMNS = ["pair", "therapist_scan", "patient_scan", "chromophore", "level",
                  "therapist_unit", "patient_unit", "value"]
#: Why a session without a session-level value fails (nothing stored, stored results kept).
NO_SESSION_LEVEL = ("no session-level synchrony: no usable channel pair joins two channels of "
                    "one ROI (check the montage against the recordings' channels); stored "
                    "results are kept")
TEST_COLUMNS = ["chromophore", "level", "therapist_unit", "patient_unit", "true_value",
                "pseudo_mean", "pseudo_sd", "n_pseudo", "p_value"]


@dataclass
class ScanInput:
    """One stored recording as a worker needs it (no database access required).

    Attributes
    ----------
    scan_id : int
        The recording's id in the study.
    path : Path
        The file (absolute, in the study's data folder).
    sha256 : str
        Its hash at import: the file is refused if it changed.
    sfreq : float
        Its sampling rate (Hz) as imported.
    meas_date : str | None
        Time of its first sample (ISO 8601) as stored at import.
    format : str | None
        Its file format as stored at import (default: recognised from the file).
    modality : str
        ``nirs`` or ``eeg``.
    """

    scan_id: int
    path: Path
    sha256: str
    sfreq: float
    meas_date: str | None = None
    format: str | None = None
    modality: str = "nirs"


@dataclass
class SessionJob:
    """One session to compute: its true pair and its pseudo pairs (scan ids)."""

    session_id: int
    label: str
    therapist: int
    patient: int
    pseudo: list[tuple[int, int]]
    input_hashes: dict[str, Any]


@dataclass
class SessionResult:
    """The tidy results of one session, or why it failed."""

    job: SessionJob
    results: pd.DataFrame | None = None
    tests: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


# -- phase 1: prepare ----------------------------------------------------------------------------
def read_scan(scan: ScanInput) -> Any:
    """Read a stored recording with MNE after checking that it is there and unchanged.

    Parameters
    ----------
    scan : ScanInput
        The recording.

    Returns
    -------
    mne.io.Raw
        The recording, loaded into memory.

    Raises
    ------
    NotFoundError
        The file is missing from the data folder.
    InputError
        The file changed since import (its sha256 differs) or cannot be read.
    """
    from studymgr.io.recordings import hash_path, read_recording

    if not scan.path.exists():
        raise NotFoundError(f"{scan.path.name} is missing from the data folder: restore it from "
                            "a backup or re-import it with --replace")
    digest, _ = hash_path(scan.path)
    if digest != scan.sha256:
        raise InputError(f"{scan.path.name} changed since import (sha256 differs): restore it "
                         "or re-import it with --replace")
    raw, _fmt, _notes = read_recording(scan.path, scan.format, modality=scan.modality)
    return raw


def prepare_scan(scan: ScanInput, config: SynchronyConfig, sfreq: float) -> PreparedScan:
    """Verify, read, preprocess and resample one recording.

    Parameters
    ----------
    scan : ScanInput
        The recording.
    config : SynchronyConfig
        Its preprocessing and the chromophores kept.
    sfreq : float
        The run's common sampling rate (Hz).

    Returns
    -------
    PreparedScan

    Raises
    ------
    InputError
        The file changed since import, cannot be read, or has no usable channel.
    NotFoundError
        The file is missing from the data folder.
    """
    result = preprocess(read_scan(scan), config.preprocess, verbose="error")
    hb = result.raw
    steps = list(result.steps)
    if abs(hb.info["sfreq"] - sfreq) > 1e-9:
        hb = hb.copy().resample(sfreq, verbose="error")
        steps.append(f"resampled to {sfreq:g} Hz")
    names: dict[str, list[str]] = {}
    data: dict[str, np.ndarray] = {}
    types = hb.get_channel_types()
    for chroma in config.chromophores:
        picks = [i for i, t in enumerate(types) if t == chroma]
        names[chroma] = [hb.ch_names[i] for i in picks]
        data[chroma] = hb.get_data(picks=picks) if picks else np.empty((0, hb.n_times))
    # The start time is the one stored at import (time of the first sample; None when the file
    # has no real date), not MNE's meas_date, which falls back to 2000-01-01.
    start = None
    if scan.meas_date:
        start = dt.datetime.fromisoformat(str(scan.meas_date).replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    return PreparedScan(scan_id=scan.scan_id, sha256=scan.sha256, sfreq=sfreq,
                        start=start, names=names, data=data,
                        bads=set(hb.info["bads"]), steps=steps)


# -- phase 2: compute ----------------------------------------------------------------------------
def _coherence_threads() -> int:
    # In a worker process (local pool or Dask) the parallelism is across processes: one thread
    # each avoids oversubscribing the cores; in the main process use every core.
    import multiprocessing

    return 1 if multiprocessing.parent_process() is not None else -1


def pair_synchrony(t: PreparedScan, p: PreparedScan, config: SynchronyConfig, *,
                   by_time: bool) -> tuple[pd.DataFrame, list[str]]:
    """Band-averaged wavelet coherence of one therapist–patient pair.

    Returns rows ``chromophore, level, therapist_unit, patient_unit, value`` at three levels:
    ``channel`` pairs, ``roi`` pairs (the mean over the channel pairs joining the two ROIs) and
    ``session`` (the mean over homologous ROI pairs: the session's synchrony index).
    """
    from studymgr.compute.synchrony.coherence import band_coherence

    st, sp, notes = align(t, p, by_time=by_time)
    rows: list[tuple] = []
    for chroma in config.chromophores:
        t_names = [n for n in t.names[chroma] if n not in t.bads]
        p_names = [n for n in p.names[chroma] if n not in p.bads]
        if not t_names or not p_names:
            notes.append(f"{chroma}: no usable channel in "
                         f"{'the therapist' if not t_names else 'the patient'}'s recording")
            continue
        t_idx = {n: t.names[chroma].index(n) for n in t_names}
        p_idx = {n: p.names[chroma].index(n) for n in p_names}
        a = t.data[chroma][:, st]
        b = p.data[chroma][:, sp]
        if config.pairs == "homologous":
            p_by_base = {channel_base(n): n for n in p_names}
            matched = [(n, p_by_base[channel_base(n)]) for n in t_names
                       if channel_base(n) in p_by_base]
            if not matched:
                notes.append(f"{chroma}: no channel is usable in both recordings")
                continue
            values = band_coherence(a[[t_idx[m[0]] for m in matched]],
                                    b[[p_idx[m[1]] for m in matched]], t.sfreq,
                                    band=config.band, pairs="homologous",
                                    convention=config.convention,
                                    workers=_coherence_threads())
            pairs = [(tn, pn, float(v)) for (tn, pn), v in zip(matched, values, strict=True)]
        else:
            matrix = band_coherence(a[[t_idx[n] for n in t_names]],
                                    b[[p_idx[n] for n in p_names]], t.sfreq,
                                    band=config.band, pairs="all",
                                    convention=config.convention,
                                    workers=_coherence_threads())
            pairs = [(tn, pn, float(matrix[i, j])) for i, tn in enumerate(t_names)
                     for j, pn in enumerate(p_names)]
        rows += [(chroma, "channel", channel_base(tn), channel_base(pn), v)
                 for tn, pn, v in pairs]
        by_roi: dict[tuple[str, str], list[float]] = {}
        for tn, pn, v in pairs:
            rt, rp = config.roi_of(tn), config.roi_of(pn)
            if rt is not None and rp is not None:
                by_roi.setdefault((rt, rp), []).append(v)
        rows += [(chroma, "roi", rt, rp, float(np.mean(vs)))
                 for (rt, rp), vs in sorted(by_roi.items())]
        homologous = [float(np.mean(vs)) for (rt, rp), vs in by_roi.items() if rt == rp]
        if homologous:
            rows.append((chroma, "session", "all", "all", float(np.mean(homologous))))
    frame = pd.DataFrame(rows, columns=["chromophore", "level", "therapist_unit",
                                        "patient_unit", "value"])
    return frame, notes


def permutation_tests(results: pd.DataFrame) -> pd.DataFrame:
    """True value against the pseudo-dyad values of the same unit pair.

    ``p = (1 + #{pseudo >= true}) / (1 + n_pseudo)`` (Phipson & Smyth 2010: never zero).
    """
    keys = ["chromophore", "level", "therapist_unit", "patient_unit"]
    true = results[results["pair"] == "true"].set_index(keys)["value"]
    pseudo = results[results["pair"] == "pseudo"]
    rows = []
    grouped = {k: g["value"].to_numpy() for k, g in pseudo.groupby(keys)} if len(pseudo) else {}
    for key, value in true.items():
        values = grouped.get(key, np.array([]))
        n = int(values.size)
        rows.append((*key, float(value),
                     float(values.mean()) if n else None,
                     float(values.std(ddof=1)) if n > 1 else None,
                     n,
                     float((1 + np.sum(values >= value)) / (1 + n)) if n else None))
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def compute_session(job: SessionJob, prepared: dict[int, PreparedScan],
                    config: SynchronyConfig) -> SessionResult:
    """The true pair and every pseudo pair of one session (pure: prepared arrays in)."""
    out = SessionResult(job=job)
    try:
        frame, notes = pair_synchrony(prepared[job.therapist], prepared[job.patient], config,
                                      by_time=True)
    except StudyError as exc:
        out.error = str(exc)
        return out
    if frame.empty:
        out.error = "; ".join(notes) or "no channel pair could be computed"
        return out
    if not (frame["level"] == "session").any():
        # never let a computation without the session's synchrony replace stored results
        out.error = "; ".join([*notes, NO_SESSION_LEVEL])
        return out
    out.warnings += notes
    parts = [frame.assign(pair="true", therapist_scan=job.therapist, patient_scan=job.patient)]
    for t_id, p_id in job.pseudo:
        if t_id not in prepared or p_id not in prepared:
            continue
        try:
            pf, _ = pair_synchrony(prepared[t_id], prepared[p_id], config, by_time=False)
        except StudyError as exc:
            out.warnings.append(f"pseudo pair {t_id}x{p_id} skipped: {exc}")
            continue
        parts.append(pf.assign(pair="pseudo", therapist_scan=t_id, patient_scan=p_id))
    out.results = pd.concat(parts, ignore_index=True)[RESULT_COLUMNS]
    out.tests = permutation_tests(out.results) if config.pseudo else out.tests
    return out


def _compute_staged(payload: tuple[SessionJob, SynchronyConfig],
                    prepared: dict[int, PreparedScan | str]) -> SessionResult | SessionFailure:
    """A session on its prepared recordings; a failed preparation (its message) fails the
    session when it is one of its own recordings, and drops the pseudo pairs it is in."""
    job, config = payload
    bad = [prepared[i] for i in (job.therapist, job.patient) if isinstance(prepared.get(i), str)]
    if bad:
        return SessionFailure(bad[0])
    result = compute_session(job, {i: p for i, p in prepared.items() if not isinstance(p, str)},
                             config)
    if result.error is not None or result.results is None:
        return SessionFailure(result.error or "")
    return result


def _prepare_job(args: tuple[ScanInput, SynchronyConfig, float]) -> PreparedScan | str:
    """:func:`prepare_scan`, returning the message of a failure instead of raising it."""
    scan, config, sfreq = args
    try:
        return prepare_scan(scan, config, sfreq)
    except StudyError as exc:
        return str(exc)


# -- planning ------------------------------------------------------------------------------------
def pseudo_partners(session: pd.Series, candidates: pd.DataFrame, config: SynchronyConfig
                    ) -> list[tuple[int, int]]:
    """Pseudo pairs of one session: its therapist with other dyads' patients at the same
    session number, and its patient with other dyads' therapists (a seeded subset if many)."""
    others = candidates[(candidates["number"] == session["number"])
                        & (candidates["dyad"] != session["dyad"])]
    pairs = [(int(session["therapist_scan"]), int(o)) for o in others["patient_scan"]]
    pairs += [(int(o), int(session["patient_scan"])) for o in others["therapist_scan"]]
    pairs = sorted(set(pairs))
    if len(pairs) > config.max_pseudo:
        rng = np.random.default_rng([config.seed, int(session["number"]),
                                     zlib.crc32(str(session["dyad"]).encode())])
        chosen = rng.choice(len(pairs), size=config.max_pseudo, replace=False)
        pairs = [pairs[i] for i in sorted(chosen)]
    return pairs


def plan_jobs(sessions: pd.DataFrame, config: SynchronyConfig) -> list[SessionJob]:
    """One job per session with both recordings (``sessions`` as from the store)."""
    complete = sessions.dropna(subset=["therapist_scan", "patient_scan"])
    sha = dict(zip(sessions["therapist_scan"], sessions["therapist_sha256"], strict=True))
    sha.update(zip(sessions["patient_scan"], sessions["patient_sha256"], strict=True))
    jobs = []
    for _, row in complete.iterrows():
        pseudo = pseudo_partners(row, complete, config) if config.pseudo else []
        hashes = {
            "therapist": row["therapist_sha256"],
            "patient": row["patient_sha256"],
            "pseudo": sorted([sha[t], sha[p]] for t, p in pseudo),
        }
        jobs.append(SessionJob(session_id=int(row["session_id"]),
                               label=f"{row['dyad']}/{int(row['number'])}",
                               therapist=int(row["therapist_scan"]),
                               patient=int(row["patient_scan"]), pseudo=pseudo,
                               input_hashes=hashes))
    return jobs


def run_parallel(func: Callable, items: Sequence, jobs: int) -> Iterable:
    """``map`` in order, in ``jobs`` processes when jobs > 1."""
    return LocalExecutor(max(1, jobs)).map(func, items)


def scan_inputs(study: Store, sessions: pd.DataFrame, modality: str = "nirs"
                ) -> dict[int, ScanInput]:
    """The recordings of sessions as workers need them.

    Parameters
    ----------
    study : Store
        The open study (for its data folder).
    sessions : DataFrame
        As :meth:`Store.synchrony_inputs` returns them.
    modality : str
        The recordings' modality (``nirs`` or ``eeg``).

    Returns
    -------
    dict
        ``{scan id: ScanInput}`` for every recording present.
    """
    scans: dict[int, ScanInput] = {}
    for _, row in sessions.iterrows():
        for role in ("therapist", "patient"):
            if pd.isna(row[f"{role}_scan"]):
                continue
            scan_id = int(row[f"{role}_scan"])
            scans[scan_id] = ScanInput(scan_id=scan_id,
                                       path=Path(study.data_dir) / row[f"{role}_path"],
                                       sha256=row[f"{role}_sha256"],
                                       sfreq=float(row[f"{role}_sfreq"]),
                                       meas_date=row[f"{role}_meas_date"], modality=modality)
    return scans


_scan_inputs = scan_inputs  # the name the scale-out benchmark uses

#: At most this many channel names in a message.
_SHOWN = 8


def _scan_channels(study: Store, row: pd.Series, role: str,
                   config: SynchronyConfig | None = None) -> set[str]:
    """The channels (``S1_D1``) of a session's stored recording that synchrony analyses: its
    fNIRS channels, without the short ones the preprocessing drops."""
    pre = (config or SynchronyConfig()).preprocess
    info = study.scan_info(row["dyad"], int(row["number"]), role)
    out = set()
    for ch in info["channels"]:
        if not (str(ch.get("type", "")).startswith("fnirs") or ch.get("type") in ("hbo", "hbr")):
            continue
        distance = ch.get("distance_m")
        if (pre.drop_short_channels and distance is not None
                and 0 < distance < pre.short_channel_max_distance_m):
            continue
        out.add(channel_base(ch["name"]))
    return out


def _names(channels: Iterable[str]) -> str:
    names = sorted(channels, key=lambda c: [int(x) for x in c[1:].split("_D")]
                   if CHANNEL_RE.fullmatch(c) else [0, 0])
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def check_montage(study: Store, sessions: pd.DataFrame, config: SynchronyConfig
                  ) -> dict[int, str]:
    """Hold a montage against the stored channels of the sessions' recordings, before anything
    is computed or stored.

    Parameters
    ----------
    study : Store
        The open study (the channels stored at import).
    sessions : DataFrame
        The selected sessions, as :meth:`Store.synchrony_inputs` returns them.
    config : SynchronyConfig
        Its montage (nothing to check without one).

    Returns
    -------
    dict
        ``{session id: message}`` of the sessions to fail: the montage names none of the
        channels of one of their recordings. Channels the montage leaves out of the ROI
        averages are named in a warning.

    Raises
    ------
    InputError
        The montage names none of the channels of any selected recording (a wrong file or a
        typo: the whole run is refused, nothing changed).
    """
    if config.montage is None:
        return {}
    mapped = {channel for channel, _roi in config.montage}
    misses: dict[int, str] = {}
    seen: set[str] = set()
    complete = sessions.dropna(subset=["therapist_scan", "patient_scan"])
    for _, row in complete.iterrows():
        missed = []
        for role in ("therapist", "patient"):
            channels = _scan_channels(study, row, role, config)
            seen |= channels
            if channels and not channels & mapped:
                missed.append(role)
        if missed:
            who = " and ".join(f"the {r}'s" for r in missed)
            misses[int(row["session_id"])] = (
                f"the montage names none of the channels of {who} recording: give a montage "
                "of this session's channels")
    if seen and not seen & mapped:
        raise InputError(f"the montage names none of the recordings' channels (it names "
                         f"{_names(mapped)}; the recordings have {_names(seen)}): check its "
                         "'channel' column; nothing was computed")
    left_out = seen - mapped
    if left_out:
        logger.warning("%d channel(s) the montage does not name are left out of the ROI averages "
                       "(still computed as channel pairs): %s", len(left_out), _names(left_out))
    return misses


# -- over a study ----------------------------------------------------------------------------------
SUMMARY_COLUMNS = ["dyad", "session", "status", "pseudo_pairs", "synchrony_hbo", "message"]


class SynchronyAnalysis(SessionAnalysis):
    """Session synchrony as a :class:`~studymgr.runs.jobs.SessionAnalysis`: one task per
    session with both recordings, its true pair and its pseudo pairs; every recording of the run
    is prepared once (pseudo pairs reuse other sessions' recordings).

    Parameters
    ----------
    config : SynchronyConfig
        The analysis settings.
    dyad, session : str, int | None
        Restrict to one dyad and/or session number (pseudo partners still come from all dyads).
    """

    kind = "synchrony"
    summary_columns = SUMMARY_COLUMNS
    shares_recordings = True
    prepare = staticmethod(_prepare_job)
    compute = staticmethod(_compute_staged)

    def __init__(self, config: SynchronyConfig, *, dyad: str | None = None,
                 session: int | None = None) -> None:
        super().__init__(config, dyad=dyad, session=session)
        self._scans: dict[int, ScanInput] = {}
        self._sfreq = 0.0

    def plan(self, study: Store) -> SessionPlan:
        everything = study.synchrony_inputs()
        selected = study.synchrony_inputs(dyad=self.dyad, session=self.session)
        if selected.empty:
            raise InputError("no scanned session matches: add sessions and import scans first "
                             "('studymgr scans import')")
        plan = SessionPlan()
        for _, row in selected.iterrows():
            missing = [r for r in ("therapist", "patient") if pd.isna(row[f"{r}_scan"])]
            if missing:
                have = ("no recording" if len(missing) == 2
                        else f"only the {_other(missing[0])}'s recording")
                plan.settled.append({"dyad": row["dyad"], "session": int(row["number"]),
                                     "status": "incomplete", "pseudo_pairs": 0,
                                     "synchrony_hbo": None,
                                     "message": f"{have}: import the "
                                                f"{' and '.join(missing)}'s scan"})
        wanted = set(selected["session_id"])
        misses = check_montage(study, selected, self.config)
        plan.tasks = []
        for job in plan_jobs(everything, self.config):
            if job.session_id not in wanted:
                continue
            if job.session_id in misses:
                logger.warning("synchrony of %s failed: %s", job.label, misses[job.session_id])
                plan.settled.append(self.failed_row(job, misses[job.session_id]))
            else:
                plan.tasks.append(job)
        self._scans = scan_inputs(study, everything)
        # one common rate for the run: pseudo pairs join recordings of different sessions
        self._sfreq = self.config.resample_sfreq or min(
            (s.sfreq for s in self._scans.values()), default=0.0)
        return plan

    def recordings(self, task: SessionJob) -> dict[int, tuple[ScanInput, SynchronyConfig, float]]:
        ids = {task.therapist, task.patient, *sum(task.pseudo, ())}
        return {i: (self._scans[i], self.config, self._sfreq) for i in sorted(ids)}

    def up_to_date_row(self, study: Store, task: SessionJob) -> dict[str, Any]:
        return _summary_row(task, "up to date", value=study.synchrony_index(task.session_id))

    def store(self, study: Store, task: SessionJob, result: SessionResult,
              versions: dict[str, str]) -> dict[str, Any]:
        study.save_synchrony(session_id=task.session_id, label=task.label,
                             config=self.config.to_dict(), config_hash=self.config_hash,
                             input_hashes=task.input_hashes, versions=versions,
                             results=result.results, tests=result.tests,
                             warnings=result.warnings)
        frame = result.results
        true = frame[(frame["pair"] == "true") & (frame["level"] == "session")
                     & (frame["chromophore"] == "hbo")]["value"]
        n_pseudo = int(frame.loc[frame["pair"] == "pseudo", ["therapist_scan", "patient_scan"]]
                       .drop_duplicates().shape[0])
        return _summary_row(task, "computed", value=float(true.iloc[0]) if len(true) else None,
                            n_pseudo=n_pseudo, message="; ".join(result.warnings))

    def failed_row(self, task: SessionJob, message: str) -> dict[str, Any]:
        return _summary_row(task, "failed", message=message, n_pseudo=0)


@fill_doc
def compute_synchrony(study: Store, config: SynchronyConfig | None = None, *,
                      dyad: str | None = None, session: int | None = None, jobs: int = 1,
                      force: bool = False, progress: ProgressFn | None = None,
                      executor: Executor | None = None) -> pd.DataFrame:
    """Compute and store synchrony for every scanned session that needs it.

    A session is skipped when its stored run has the same configuration hash and input hashes
    (its two recordings and its pseudo partners); ``force`` recomputes anyway.

    Parameters
    ----------
    %(study)s
    config : SynchronyConfig | None
        Analysis settings (default: :class:`SynchronyConfig`'s defaults).
    dyad, session : str, int | None
        Restrict to one dyad and/or session number (pseudo partners still come from all dyads).
    %(jobs)s
    %(force)s
    progress : callable | None
        Called as ``progress(phase, done, total)`` with phase ``"prepare"`` or ``"compute"``.
    executor : Executor | None
        Where recordings are prepared and sessions computed (default: a
        :class:`~studymgr.runs.executors.LocalExecutor` with ``jobs`` processes). On a Dask
        cluster a session whose task fails twice is reported as failed and the others finish.

    Returns
    -------
    pandas.DataFrame
        One row per session: ``dyad, session, status, pseudo_pairs, synchrony_hbo, message`` with
        status ``computed``, ``up to date``, ``failed`` or ``incomplete`` (a recording missing).
        A session whose recordings the montage does not cover, or whose computation yields no
        session-level value, is ``failed`` and its stored results are kept.

    Raises
    ------
    InputError
        The montage names none of the selected recordings' channels (nothing is computed).
    """
    config = config or SynchronyConfig()
    if jobs < 1:
        raise InputError("--jobs must be at least 1")
    return run_sessions(study, SynchronyAnalysis(config, dyad=dyad, session=session),
                        force=force, executor=executor or LocalExecutor(jobs),
                        progress=progress)


def _other(role: str) -> str:
    return "patient" if role == "therapist" else "therapist"


def _summary_row(job: SessionJob, status: str, *, message: str = "",
                 value: float | None = None, n_pseudo: int | None = None) -> dict[str, Any]:
    dyad, number = job.label.split("/")
    return {"dyad": dyad, "session": int(number), "status": status,
            "pseudo_pairs": len(job.pseudo) if n_pseudo is None else n_pseudo,
            "synchrony_hbo": value, "message": message}
