"""The longitudinal study report: one self-contained HTML page (or a PDF) read top to bottom.

Sections: the study at a glance (session flow, completeness grid, questionnaires), data quality
(usable channels, scalp coupling, excluded sessions and why), synchrony over sessions (one line
per dyad, the growth model's mean trajectory with its confidence band, pseudo-dyads beside it),
synchrony per ROI pair (heat maps with FDR marks), outcomes and alliance (trajectories, model
tables, forest plot), moments of interest (only when raters marked moments: agreement, session
timelines, event-locked synchrony, EEG coupling and frontal alpha asymmetry), model diagnostics
(residuals, QQ plot, random effects, fit notes in plain words, a refit check), a methods
section generated from the stored configurations, and provenance (versions, hashes,
configurations).

Modules: :mod:`~studymgr.present.report.collect` (read the study, refit), :mod:`~.sections`
(content), :mod:`~.diagnostics` (BLUPs, residuals, mean trajectory), :mod:`~.methods` (methods
text), :mod:`~.html` and :mod:`~.pdf` (rendering), :mod:`~.options` (defaults). Shared with the
exports, one level down: :mod:`studymgr.present.figures` (pure matplotlib),
:mod:`studymgr.present.tables` and :mod:`studymgr.present.results` (stored runs and settings).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from studymgr.errors import InputError
from studymgr.present.report.options import MAX_TIMELINES, REPORT_FORMATS, check_max_timelines

if TYPE_CHECKING:
    from studymgr.present.report.document import Document
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

__all__ = ["MAX_TIMELINES", "REPORT_FORMATS", "build_document", "check_max_timelines",
           "write_report"]


def build_document(study: Study, *,
                   max_timelines: int | None = MAX_TIMELINES) -> Document:
    """The report's content (a :class:`~studymgr.present.report.document.Document`) for a study.

    Parameters
    ----------
    study : Study
        The open study.
    max_timelines : int or None
        At most this many moments timelines (sessions with most consensus moments first);
        None draws every session's.
    """
    from studymgr._version import __version__
    from studymgr.ids import utcnow
    from studymgr.present.report.collect import gather
    from studymgr.present.report.document import Document
    from studymgr.present.report.sections import build_sections, number_tables

    data = gather(study, max_timelines=check_max_timelines(max_timelines))
    sections = build_sections(data)
    number_tables(sections)
    when = utcnow()[:16].replace("T", " ")
    subtitle = (f"Generated {when} UTC by studymgr {__version__} from {Path(study.path).name} "
                f"(schema version {data.summary['schema_version']}).")
    return Document(title=f"Study {data.name}: longitudinal report", subtitle=subtitle,
                    sections=sections)


def write_report(study: Study, out: str | os.PathLike[str], fmt: str | None = None, *,
                 max_timelines: int | None = MAX_TIMELINES) -> Path:
    """Write the study report.

    Parameters
    ----------
    study : Study
        The open study.
    out : path-like
        File to write (replaced atomically if it exists).
    fmt : {"html", "pdf"} or None
        Output format; by default taken from the file's suffix (``.pdf`` -> PDF, else HTML).
    max_timelines : int or None
        At most this many session timelines in the moments section (each reloads and
        preprocesses the session's two recordings: seconds per session); 0 draws none, None
        every session's.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        Unknown format, ``out`` is a folder, its folder does not exist, or a bad
        ``max_timelines``.
    """
    import matplotlib

    from studymgr.present.figures import rc

    out = Path(out)
    if fmt is None:
        fmt = "pdf" if out.suffix.lower() == ".pdf" else "html"
    fmt = str(fmt).lower()
    if fmt not in REPORT_FORMATS:
        raise InputError(f"unknown report format {fmt!r}: choose html or pdf")
    if out.is_dir():
        raise InputError(f"{out} is a folder: give a file name such as {out / ('report.' + fmt)}")
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    max_timelines = check_max_timelines(max_timelines)
    with matplotlib.rc_context(rc()):
        doc = build_document(study, max_timelines=max_timelines)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if fmt == "html":
                from studymgr.present.report.html import render_html

                tmp.write_text(render_html(doc), encoding="utf-8")
            else:
                from studymgr.present.report.pdf import render_pdf

                render_pdf(doc, tmp)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            doc.close()
    logger.info("wrote the %s report %s", fmt.upper(), out)
    return out
