"""Exports for publication and sharing: APA tables, tidy data with a dictionary, BIDS.

- :func:`export_tables`: publication tables (descriptives per session, repeated-measures
  correlations, every stored model; event-locked synchrony, EEG coupling and frontal alpha
  asymmetry around moments of interest when stored) as CSV, Markdown, LaTeX, Word and HTML
  (:mod:`studymgr.present.tables`);
- :func:`export_data`: the tidy long tables as CSV files with a data dictionary, optionally
  de-identified (:mod:`studymgr.present.export.data`);
- :func:`export_bids`: the recordings, events and questionnaires as a BIDS dataset written with
  MNE-BIDS (:mod:`studymgr.present.export.bids`).

Each writes a whole folder or nothing: the output is built beside its final place and renamed
into it when complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr.errors import InputError
from studymgr.present.export._files import staged_folder, write_manifest
from studymgr.present.results import analysis_runs, run_configs, stored_model_config
from studymgr.present.tables import FORMATS, Table

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

__all__ = ["FORMATS", "Table", "export_bids", "export_data", "export_tables", "parse_formats",
           "study_tables"]


def parse_formats(formats: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"csv,md"`` or ``["csv", "md"]`` -> ``("csv", "md")`` (all formats when None).

    Raises
    ------
    InputError
        An unknown format.
    """
    if formats is None:
        return FORMATS
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out = []
    for item in items:
        name = str(item).strip().lower().lstrip(".")
        name = {"markdown": "md", "latex": "tex", "word": "docx", "htm": "html"}.get(name, name)
        if not name:
            continue
        if name not in FORMATS:
            raise InputError(f"unknown table format {item!r}: choose from {', '.join(FORMATS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise InputError(f"no table format given: choose from {', '.join(FORMATS)}")
    return tuple(out)


def _distinct_configs(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """The distinct stored configurations of some runs, most used first."""
    return [config for config, _ in run_configs(runs)]


def study_tables(study: Study) -> tuple[list[Table], list[str]]:
    """The publication tables of a study's stored results, and notes on what is missing.

    The model tables come first, then the moments-of-interest tables (event-locked
    synchrony, EEG coupling, frontal alpha asymmetry); all are numbered in that order.
    """
    from studymgr.present.tables import moments_tables, publication_tables
    from studymgr.runs.models import analysis_table

    config = stored_model_config(study)
    table = analysis_table(study, config)
    tables, notes = publication_tables(study.model_results(), table.frame, table.sources,
                                       table.config.chromophore)
    more, more_notes = moments_tables(
        study.eventlocked_results(level="session"), study.eeg_results(level="session"),
        study.eeg_asymmetry(),
        eventlocked_configs=_distinct_configs(analysis_runs(study, "eventlocked")),
        eeg_configs=_distinct_configs(analysis_runs(study, "eeg")))
    tables += more
    for i, t in enumerate(tables, start=1):
        t.number = i
    return tables, notes + more_notes


def export_tables(study: Study, out_dir: str | os.PathLike[str],
                  formats: str | Iterable[str] | None = None, *, overwrite: bool = False
                  ) -> pd.DataFrame:
    """Write the publication tables in the chosen formats into a new folder.

    Parameters
    ----------
    study : Study
    out_dir : path-like
        Folder to create (must not exist or be empty unless ``overwrite``).
    formats : str or iterable of str, optional
        Any of ``csv, md, tex, docx, html`` (default: all). CSV gives one file per table
        (``table01_descriptives.csv``, ..., ``table09_eventlocked.csv``,
        ``table10_eeg_coupling.csv``, ``table11_eeg_asymmetry.csv`` when stored); the others
        one document holding every table
        (``tables.md``, ``tables.tex`` (a complete LaTeX document, booktabs), ``tables.docx``,
        ``tables.html``).
    overwrite : bool
        Replace an existing non-empty folder.

    Returns
    -------
    DataFrame
        ``file, format, tables`` per file written, and ``notes`` in ``attrs["notes"]`` (tables
        that could not be made and why).
    """
    from studymgr.present import tables as tab

    fmts = parse_formats(formats)
    tables, notes = study_tables(study)
    if not tables:
        raise InputError("nothing to tabulate: " + "; ".join(notes))
    title = f"Tables: study {study.name}"
    rows = []
    with staged_folder(out_dir, overwrite=overwrite) as tmp:
        for fmt in fmts:
            if fmt == "csv":
                for t in tables:
                    name = f"table{t.number:02d}_{t.name}.csv"
                    (tmp / name).write_text(t.to_csv(), encoding="utf-8")
                    rows.append({"file": name, "format": fmt, "tables": 1})
                continue
            name = f"tables.{fmt}"
            if fmt == "md":
                (tmp / name).write_text(tab.markdown_document(tables, title), encoding="utf-8")
            elif fmt == "tex":
                (tmp / name).write_text(tab.latex_document(tables, title), encoding="utf-8")
            elif fmt == "html":
                (tmp / name).write_text(tab.html_document(tables, title), encoding="utf-8")
            else:
                tab.write_docx(tables, tmp / name, title)
            rows.append({"file": name, "format": fmt, "tables": len(tables)})
    frame = pd.DataFrame(rows, columns=["file", "format", "tables"])
    frame.attrs["notes"] = notes
    logger.info("wrote %d tables in %d formats to %s", len(tables), len(fmts), out_dir)
    return frame


def export_data(study: Study, out: str | os.PathLike[str], *, deidentify: bool = False,
                seed: int | None = None, overwrite: bool = False) -> pd.DataFrame:
    """Write the tidy long tables as CSV files with a data dictionary into a new folder.

    Parameters
    ----------
    study : Study
    out : path-like
        Folder to create (must not exist or be empty unless ``overwrite``).
    deidentify : bool
        Re-code dyad, person and rater codes, shift each dyad's dates by a random number of
        days and drop linking columns (see :mod:`studymgr.present.export.data`). The mapping is not
        written anywhere.
    seed : int or None
        Seed of the re-coding and date shifts (de-identification only). Keep it secret: with
        it the shifts can be undone. None draws a fresh random seed that is not stored.
    overwrite : bool
        Replace an existing non-empty folder.

    Returns
    -------
    DataFrame
        ``file, rows, columns`` per file written (``data_dictionary.csv`` and
        ``MANIFEST.sha256`` included).
    """
    from studymgr.present.export import data

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError(f"seed must be a whole number >= 0, got {seed!r}")
    if seed is not None and not deidentify:
        raise InputError("--seed only applies with --deidentify")
    with staged_folder(out, overwrite=overwrite) as tmp:
        tables = data.collect_tables(study)
        if deidentify:
            tables = data.deidentify(tables, seed=seed)
        data.write_tables(tables, tmp)
        write_manifest(tmp)
    rows = [{"file": f"{name}.csv", "rows": len(frame), "columns": frame.shape[1]}
            for name, frame in tables.items()]
    rows.append({"file": "data_dictionary.csv", "rows": None, "columns": None})
    rows.append({"file": "MANIFEST.sha256", "rows": None, "columns": None})
    frame = pd.DataFrame(rows, columns=["file", "rows", "columns"])
    for col in ("rows", "columns"):
        frame[col] = frame[col].astype("Int64")
    return frame


def export_bids(study: Study, out_dir: str | os.PathLike[str], *, overwrite: bool = False,
                progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Write the recordings, events and questionnaires as a BIDS dataset (MNE-BIDS).

    Parameters
    ----------
    study : Study
    out_dir : path-like
        Folder to create (must not exist or be empty unless ``overwrite``).
    overwrite : bool
        Replace an existing non-empty folder.
    progress : callable, optional
        ``progress(done, total)`` after each recording.

    Returns
    -------
    DataFrame
        ``path, kind, dyad, session, role, detail`` per file written (see
        :func:`studymgr.present.export.bids.write_bids`).

    Raises
    ------
    InputError
        No recordings, a recording changed on disk since import, or codes that collide as
        BIDS labels.
    """
    from studymgr.present.export.bids import write_bids

    with staged_folder(out_dir, overwrite=overwrite) as tmp:
        frame = write_bids(study, Path(tmp), progress=progress)
    return frame  # frame.attrs["notes"]: what was left out
