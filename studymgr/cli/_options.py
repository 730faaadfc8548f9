"""Click options that several commands share: one declaration and one help text each.

Use them as decorators (``@opt.dyad``) or, where only the default differs between commands,
as factories (``@opt.max_pseudo(50)``). Options that go together are also a group
(``@opt.coherence_settings``, ``@opt.event_windows``, ``@opt.executor``). ``--json``/``--csv`` are
:func:`studymgr.cli._common.output_options`. A flag that means different things in different
commands is listed in :data:`CONTEXT_DEPENDENT` with the reason; every other flag must have one
help text wherever it appears (``tests/test_cli.py`` checks this).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from studymgr.errors import InputError

if TYPE_CHECKING:
    from studymgr.compute.synchrony.config import SynchronyConfig

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: Flags whose meaning (so help text) rightly differs between commands, and why.
CONTEXT_DEPENDENT: dict[str, str] = {
    "--labels": "events: allowed or analysed labels; eventlocked/eeg: the conditions",
    "--replace": "what is replaced: a recording, events, consensus moments",
    "--reason": "optional, required, or required with --replace (see reason())",
    "--seed": "what is seeded: pseudo pairs, window placements, a simulation, de-identification",
    "--jobs": "demo has no --executor and defaults to the available cores",
    "--growth": "simulate power takes a list of values (a power curve)",
    "--instrument": "scores: a filter; models: the instrument chosen for a construct",
    "--scanned": "session: a flag (scans planned); demo/simulate: a list of session numbers",
    "--out": "a folder, a report file or a CSV file",
    "--overwrite": "what may be overwritten differs per command",
    "--format": "a recording's file format, table formats, or the report's format",
    "--level": "eeg list has no ROIs (electrode pairs only)",
    "--measure": "eeg list: a filter; models: the brain variable modelled",
    "--chromophore": "synchrony list: a filter; models: the synchrony modelled (or eeg)",
    "--role": "whose recording (scans) or who answered (scores)",
}


def _option(*decls: str, **attrs: Any) -> Decorator:
    return click.option(*decls, **attrs)


def _group(*options: Decorator) -> Decorator:
    """Several options as one decorator, shown in ``--help`` in the order given."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func
    return decorate


# -- selection ---------------------------------------------------------------------------------
dyad = _option("--dyad", default=None, help="Only this dyad.")
session = _option("--session", type=int, default=None, help="Only this session number.")
instrument = _option("--instrument", default=None,
                     help="Only this instrument (name or name@version).")
force = _option("--force", is_flag=True, help="Recompute sessions that are up to date.")


# -- synchrony settings ------------------------------------------------------------------------
band = _option("--band", nargs=2, type=float, default=(0.05, 0.10), show_default=True,
               metavar="FMIN FMAX", help="Frequency band of the wavelet coherence (Hz).")
pairs = _option("--pairs", type=click.Choice(["homologous", "all"]), default="homologous",
                show_default=True,
                help="Channel (electrode) pairs: the same channel in both people, or all pairs.")
convention = _option("--convention", type=click.Choice(["grinsted", "pycwt"]),
                     default="grinsted", show_default=True,
                     help="Wavelet-coherence convention.")
montage = _option("--montage", type=click.Path(dir_okay=False), default=None,
                  help="CSV with columns channel,roi (default: each channel its own ROI).")
level = _option("--level", type=click.Choice(["session", "roi", "channel"]), default="session",
                show_default=True, help="Session index, ROI pairs or channel pairs.")
#: ``--band``, ``--pairs``, ``--convention``, ``--montage``: read by :func:`synchrony_config`.
coherence_settings = _group(band, pairs, convention, montage)


def synchrony_config(band: tuple[float, float], pairs: str, convention: str,
                     montage: str | None, **settings: Any) -> SynchronyConfig:
    """The synchrony settings given by :data:`coherence_settings` (the montage file read).

    ``settings`` are the other fields of the :class:`SynchronyConfig` (``pseudo``, ``seed``, ...).
    """
    from studymgr.compute.synchrony.config import SynchronyConfig
    from studymgr.compute.synchrony.montage import load_montage

    mapping = tuple(load_montage(montage).items()) if montage else None
    return SynchronyConfig(band=tuple(band), pairs=pairs, convention=convention, montage=mapping,
                           **settings)


def max_pseudo(default: int) -> Decorator:
    """``--max-pseudo N``: how many pseudo-dyad pairs per session."""
    return _option("--max-pseudo", type=int, default=default, show_default=True,
                   help="At most this many pseudo-dyad pairs per session (a seeded subset).")


# -- events around which brain measures are compared -------------------------------------------
def split_labels(text: str | None) -> tuple[str, ...] | None:
    """``"MOI, MONI"`` -> ``("MOI", "MONI")``; None stays None (no --labels given).

    Raises
    ------
    InputError
        When the text holds no label.
    """
    if text is None:
        return None
    labels = tuple(t.strip() for t in text.split(",") if t.strip())
    if not labels:
        raise InputError("--labels needs at least one label, e.g. --labels MOI,MONI")
    return labels


conditions = _option("--labels", default="MOI,MONI", show_default=True, metavar="L1,L2",
                     help="Event labels analysed as conditions.")
source = _option("--source", type=click.Choice(["consensus", "rater", "any"]),
                 default="consensus", show_default=True,
                 help="Which events: consensus moments, all rater marks, or any.")
window = _option("--window", nargs=2, type=float, default=(-15.0, 15.0), show_default=True,
                 metavar="START END", help="Window around each onset (s).")
#: ``--labels``, ``--source``, ``--window``: which events, and the window around each.
event_windows = _group(conditions, source, window)


# -- where work runs ---------------------------------------------------------------------------
#: ``--jobs``, ``--executor`` and ``--scheduler``: local processes or a Dask cluster.
executor = _group(
    _option("--jobs", type=int, default=1, show_default=True,
            help="Worker processes (local), or workers of a local Dask cluster."),
    _option("--executor", type=click.Choice(["local", "dask"]), default="local",
            show_default=True,
            help="Run on this machine's processes, or on a Dask cluster (studymgr[dask])."),
    _option("--scheduler", default=None, metavar="ADDRESS",
            help="Dask scheduler address, e.g. tcp://host:8786 (default: start a local "
                 "cluster of --jobs workers)."),
)


# -- audit trail -------------------------------------------------------------------------------
def reason(required: bool | str = False) -> Decorator:
    """``--reason``: why, kept in the audit trail.

    ``required`` is False (optional), True (always required) or the flag that requires it,
    e.g. ``"--replace"`` (checked by the API).
    """
    if required is True:
        return _option("--reason", required=True,
                       help="Why (required; kept in the audit trail).")
    if required:
        return _option("--reason", default=None,
                       help=f"Why (required with {required}; kept in the audit trail).")
    return _option("--reason", default=None, help="Why (kept in the audit trail).")


def seed(of: str, default: int | None = 0) -> Decorator:
    """``--seed N``: the seed of ``of`` (e.g. "the window placements")."""
    return _option("--seed", type=int, default=default, show_default=default is not None,
                   help=f"Seed of {of}.")


# -- simulated designs (demo, simulate) --------------------------------------------------------
def parse_numbers(text: str | None, option: str, kind: type = int) -> tuple | None:
    """``"1,3,5"`` -> ``(1, 3, 5)`` (``kind`` of each); None stays None.

    Raises
    ------
    click.BadParameter
        Naming ``option`` when a value is not a number.
    """
    if text is None:
        return None
    try:
        return tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        what = "session numbers like 1,3,5" if kind is int else "numbers like 0.01,0.02,0.04"
        raise click.BadParameter(f"expected a comma-separated list of {what}, got {text!r}",
                                 param_hint=option) from None


def _scanned_numbers(ctx: click.Context, param: click.Parameter, value: str | None):
    return parse_numbers(value, "--scanned")


dyads = _option("--dyads", type=int, default=8, show_default=True, help="Number of dyads.")
sessions = _option("--sessions", type=int, default=6, show_default=True,
                   help="Sessions per dyad.")
scanned_sessions = _option("--scanned", default=None, metavar="1,3,5",
                           callback=_scanned_numbers,
                           help="Sessions with fNIRS recordings (hence synchrony) [default: "
                                "every session].")
channels = _option("--channels", type=int, default=8, show_default=True,
                   help="Source-detector pairs per person.")
duration = _option("--duration", type=float, default=360.0, show_default=True,
                   help="Length of each recording (s).")


def growth(default: float) -> Decorator:
    """``--growth G``: one planted growth of coupling."""
    return _option("--growth", type=float, default=default, show_default=True,
                   help="Planted growth of coupling per session (0-1 scale).")
