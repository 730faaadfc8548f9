"""Shared docstring text for parameters documented in many places (MNE's ``fill_doc`` pattern).

A docstring names an entry as ``%(name)s`` on a line of its own, indented like the parameter
lines around it; :func:`fill_doc` replaces it with the entry, indented to match::

    @fill_doc
    def compute(study, *, force=False):
        '''Compute something.

        Parameters
        ----------
        %(study)s
        %(force)s
        '''

Entries are written as numpydoc parameter blocks (``name : type`` then the description indented
by four spaces). A foundation module: it imports nothing of studymgr, so every layer may use it.
The test suite checks that no ``%(`` is left in any docstring after import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["docdict", "fill_doc"]

T = TypeVar("T", bound=Callable)

docdict: dict[str, str] = {}

# -- a study and its sessions --------------------------------------------------------------------
docdict["study"] = """
study : Study
    The open study."""
docdict["dyad"] = """
dyad : str
    Dyad code."""
docdict["session"] = """
session : int
    Session number (within the dyad, from 1)."""
docdict["dyad_session_filter"] = """
dyad, session : str, int | None
    Restrict to one dyad and/or session number."""
docdict["force"] = """
force : bool
    Recompute sessions whose results are up to date."""
docdict["progress_compute"] = """
progress : callable | None
    Called as ``progress("compute", done, total)``."""

# -- creating and opening a study (studymgr.store.study, studymgr.runs.study) --------------------
docdict["new_study_path"] = """
path : path-like
    The database file to create (must not exist)."""
docdict["new_study_name"] = """
name : str | None
    The study's code name (default: the file's stem, e.g. ``study``)."""
docdict["new_study_data_dir"] = """
data_dir : path-like | None
    Folder for recordings and derived files (default ``<stem>_data`` beside the database).
    Stored relative to the database when it lies beside it, so the pair can be moved."""
docdict["study_path"] = """
path : path-like
    The study database file."""
docdict["study_user"] = """
user : str | None
    Recorded in the audit trail (default ``$STUDYMGR_USER`` or the OS login name)."""
docdict["study_data_dir"] = """
data_dir : path-like | None
    Use this data folder instead of the stored one (e.g. the study was moved)."""
docdict["study_upgrade"] = """
upgrade : bool
    Upgrade an older schema (default). With False an older study is refused."""
docdict["store_factory"] = """
factory : type
    The class to open the study as (a subclass of :class:`~studymgr.store.Store`)."""

# -- questionnaire entry (studymgr.runs.entry) ----------------------------------------------------
docdict["session_any"] = """
session : int or str
    Session number."""
docdict["instrument_spec"] = """
instrument : str
    ``name`` or ``name@version``; a built-in is stored in the study on first use."""
docdict["role_answered"] = """
role : str
    Who answered: ``patient`` or ``therapist`` (one of the instrument's roles; required)."""
docdict["timing_default"] = """
timing : str | None
    ``pre`` or ``post``; default: the instrument's only timing (required when it has two)."""
docdict["respondent"] = """
respondent : str | None
    Deprecated name of ``role`` (until studymgr 0.3)."""

# -- running work --------------------------------------------------------------------------------
docdict["jobs"] = """
jobs : int
    Worker processes when no ``executor`` is given (1: this process)."""
docdict["executor_map"] = """
executor : studymgr.runs.executors.Executor | None
    Where the work runs: any object whose ``map(func, items)`` yields results in the order of
    ``items`` (e.g. ``get_executor("dask", jobs=4)``); default this process (``jobs=1``) or a
    local pool of ``jobs`` processes. It is not closed here."""
docdict["executor_sessions"] = """
executor : studymgr.runs.executors.Executor | None
    Where recordings are prepared and sessions computed (default: this process). A session
    whose task a cluster gives up on is reported as failed and the others finish. It is not
    closed here."""
docdict["seed"] = """
seed : int
    Seed (a non-negative integer): the same seed gives identical results."""

# -- models --------------------------------------------------------------------------------------
docdict["model_config"] = """
config : ModelConfig, mapping or None
    See :class:`studymgr.compute.models.table.ModelConfig` (default: its defaults)."""

# -- simulation ----------------------------------------------------------------------------------
docdict["sim_design"] = """
design : studymgr.compute.simulate.model.Design | None
    Dyads, sessions and scanned sessions (default :class:`Design`'s defaults)."""
docdict["sim_effects"] = """
effects : studymgr.compute.simulate.model.Effects | None
    The planted model: coupling, its growth and variances, the outcome links (default
    :class:`Effects`'s defaults)."""
docdict["sim_recording"] = """
recording : studymgr.compute.simulate.model.Recording | None
    Length, sampling rate, montage and artefacts of every simulated recording (default
    :class:`Recording`'s defaults)."""
docdict["sim_overrides"] = """
**overrides
    Any field of the groups above by name (``n_dyads=4, growth=0.1, ...``): replaces that
    field of the group (the keyword arguments of earlier versions keep working)."""
docdict["synchrony_noise_sd"] = """
synchrony_noise_sd : float
    SD of the measurement error added to the planted coupling to give the observed
    ``synchrony`` (coupling units, 0-1 scale)."""
docdict["coupling_band"] = """
band : tuple of float
    (fmin, fmax) of the coupling band (Hz); default 0.05-0.10 Hz (periods 10-20 s)."""

def _indented(text: str, indent: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [indent + line if line else line for line in lines[1:]])


def fill_doc(obj: T) -> T:
    """Replace the ``%(name)s`` entries of ``obj.__doc__`` with :data:`docdict`'s text.

    Parameters
    ----------
    obj : function or class
        Its docstring is filled in place (nothing happens without a docstring, e.g. ``-OO``).

    Returns
    -------
    function or class
        ``obj`` itself.

    Raises
    ------
    KeyError
        A ``%(name)s`` that :data:`docdict` does not hold (at import, so it cannot ship).
    """
    doc = obj.__doc__
    if not doc or "%(" not in doc:
        return obj
    lines = doc.split("\n")
    filled = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            name = stripped[2:-2]
            if name not in docdict:
                raise KeyError(f"{getattr(obj, '__qualname__', obj)}: no docdict entry {name!r}")
            indent = line[: len(line) - len(stripped)]
            filled.append(indent + _indented(docdict[name].strip("\n"), indent))
        else:
            filled.append(line)
    obj.__doc__ = "\n".join(filled)
    return obj
