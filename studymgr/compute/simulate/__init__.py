"""Simulated studies with planted effects: signals, the study on disk, power by simulation.

:mod:`~studymgr.compute.simulate.model` holds the parameter groups (:class:`Design`,
:class:`Effects`, :class:`Recording`) and the planted dyad × session model;
:mod:`~studymgr.compute.simulate.signals` the fNIRS recordings;
:mod:`~studymgr.compute.simulate.study` a whole study on disk (and the names of the other two);
:mod:`~studymgr.compute.simulate.power` the power analysis.
"""

from studymgr.compute.simulate.model import Design, Effects, Recording

__all__ = ["Design", "Effects", "Recording"]
