"""Session events in: a rater's (or a plain) CSV of time-stamped events, and the raters'
agreement with its consensus moments stored as events.

The CSV is read by :func:`studymgr.io.recordings.read_events_csv`, agreement is computed by
:func:`studymgr.compute.events.agreement.rater_agreement`, and the rows are written by the store
(:mod:`studymgr.store.recordings`, :mod:`studymgr.store.eventlocked`), each file or consensus in one
transaction with its audit row.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.events.agreement import DEFAULT_TOLERANCE_S
from studymgr.errors import InputError
from studymgr.ids import check_code, check_session_number
from studymgr.runs.recordings import StudyMixinBase, check_reason

logger = logging.getLogger(__name__)

#: the keys of :meth:`EventsMixin.rater_agreement`'s result
AGREEMENT_KEYS = ["moments", "summary", "config", "outcome", "n_stored", "n_removed"]


class EventsMixin(StudyMixinBase):
    """Study methods that import events and derive consensus moments (mixed into
    :class:`studymgr.runs.study.Study`)."""

    @fill_doc
    def import_events(
        self,
        dyad: str,
        session: int,
        path: str | os.PathLike[str],
        *,
        rater: str | None = None,
        consensus: bool = False,
        replace: bool = False,
        reason: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Import time-stamped events of a session from a CSV (all or nothing).

        Parameters
        ----------
        %(dyad)s
        %(session)s
        path : path-like
            CSV with columns ``onset,duration,label[,rater]`` (seconds from the start of the
            session's recording; see :func:`studymgr.io.recordings.read_events_csv`).
        rater : str | None
            Rater code for every row.
        consensus : bool
            The events are the raters' consensus (source ``consensus``); otherwise rows with a
            rater have source ``rater`` and the others ``csv``.
        replace : bool
            First remove the session's events of the same source and rater(s) (needs
            ``reason``).
        reason : str | None
            Why (kept in the audit trail).
        labels : sequence of str | None
            A strict label set (e.g. ``("MOI", "MONI")``): a row with another label refuses the
            file. None accepts any label.

        Returns
        -------
        dict
            ``n_events`` imported and ``n_removed`` (by ``replace``); ``n_notes_dropped`` too
            when the file's ``note`` column held text (read and dropped, never stored).

        Raises
        ------
        ConflictError
            The events are already stored (same onset, duration, label, rater and source).
        InputError
            A bad row, or an onset after the end of the session's recordings (a unit error,
            e.g. milliseconds).
        """
        from studymgr.io.recordings import read_events_csv

        check_code(dyad, "dyad")
        number = check_session_number(session)
        check_reason(replace, reason)
        self.require_unlocked(dyad, number)
        events, n_notes = read_events_csv(path, rater=rater, labels=labels,
                                          return_dropped=True)
        for e in events:
            e["source"] = "consensus" if consensus else "rater" if e["rater"] else "csv"
        removed = self._add_events(dyad, number, events, name=Path(path).name, replace=replace,
                                   reason=reason)
        out = {"n_events": len(events), "n_removed": removed}
        if n_notes:
            out["n_notes_dropped"] = n_notes
        return out

    @fill_doc
    def rater_agreement(self, dyad: str, session: int, *,
                        tolerance_s: float = DEFAULT_TOLERANCE_S,
                        min_raters: int = 2, bin_s: float | None = None,
                        labels: Iterable[str] | None = None, store: bool = True,
                        replace: bool = False, reason: str | None = None) -> dict[str, Any]:
        """Agreement of the raters' marks of a session, and its consensus moments as events.

        Parameters
        ----------
        %(dyad)s
        %(session)s
        tolerance_s : float
            Largest spread (s) of the marks of one consensus moment.
        min_raters : int
            Raters needed for a consensus moment.
        bin_s : float | None
            Bin width of Fleiss' kappa (s; default the tolerance).
        labels : iterable of str | None
            Labels to analyse (default every label the raters used).
        store : bool
            Store the consensus moments as events (source ``consensus``, no rater, onset =
            median of the raters' onsets).
        replace : bool
            Replace stored consensus events of these labels that differ (needs ``reason``).
        reason : str | None
            Why (audited).

        Returns
        -------
        dict
            ``moments`` and ``summary`` (DataFrames, see :func:`studymgr.compute.events.agreement.
            rater_agreement`), ``config``, ``outcome`` (``stored``, ``unchanged`` or
            ``not stored``), ``n_stored``, ``n_removed``.

        Raises
        ------
        InputError, ConflictError, NotFoundError
            Fewer than two raters, marks after the end of the session's recordings, different
            consensus events already stored (without ``replace``), a locked session.
        """
        from studymgr.compute.events.agreement import rater_agreement as agreement

        check_code(dyad, "dyad")
        number = check_session_number(session)
        check_reason(replace, reason)
        sid = self.session_id(dyad, number)
        marks = self._rater_marks(sid)
        if marks.empty:
            raise InputError(f"session {dyad}/{number} has no rater marks: import each rater's "
                             "file with 'studymgr events import DYAD N FILE --rater CODE'")
        longest = self._recording_length(sid)
        duration = float(longest) if longest is not None else \
            float((marks["onset_s"] + marks["duration_s"]).max()) or 1.0
        if longest is None:
            logger.info("%s/%s has no recording: the kappa bins end at the last mark", dyad,
                        number)
        result = agreement(marks, duration_s=duration, tolerance_s=tolerance_s,
                           min_raters=min_raters, bin_s=bin_s, labels=labels)
        config = {**result.config, "duration_from": "recording" if longest is not None
                  else "last mark"}
        out = {"moments": result.moments, "summary": result.summary, "config": config,
               "outcome": "not stored", "n_stored": 0, "n_removed": 0}
        if not store:
            return out
        new = [(float(r.onset_s), float(r.duration_s), str(r.label))
               for r in result.moments.itertuples()]
        outcome, removed = self._save_consensus(
            dyad, number, labels=sorted(result.summary["label"]), moments=new, config=config,
            kappas={r.label: None if pd.isna(r.kappa) else float(r.kappa)
                    for r in result.summary.itertuples()},
            replace=replace, reason=reason)
        if outcome == "unchanged":
            out["outcome"] = "unchanged"
        else:
            out.update(outcome="stored", n_stored=len(new), n_removed=removed)
        return out
