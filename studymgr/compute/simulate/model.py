"""The parameters of a simulation, and the planted study-level model (dyad × session draws).

Three groups describe a simulated study: its :class:`Design` (dyads, sessions, which are
scanned), the planted :class:`Effects` and the :class:`Recording` settings. Each checks its
values when made, so a group that exists is valid.

Model of the planted effects (latent outcomes are z-scores; positive = more of the construct)::

    coupling[d, s] = clip(baseline_coupling + u0[d] + (growth + u1[d]) * (s - 1) + e[d, s], 0, 1)
    symptoms[d, s] = a[d] + symptom_slope * (coupling[d, s] - baseline_coupling) + e
    wellbeing[d, s] = b[d] + wellbeing_slope * (coupling[d, s] - baseline_coupling) + e
    session_quality[d, s] = q[d] + session_quality_slope * (coupling[d, s] - baseline_coupling) + e
    alliance[d, s] = al[d] + alliance_effect * (coupling[d, s] - baseline_coupling) + e

with ``u0 ~ N(0, coupling_sd_dyad)``, ``u1 ~ N(0, coupling_sd_growth)``,
``e[d, s] ~ N(0, coupling_sd_session)`` for coupling and dyad intercepts ``N(0, outcome_sd_dyad)``
and session residuals ``N(0, outcome_sd_session)`` for the outcomes. So by default symptoms
fall, wellbeing and session quality rise as coupling rises, and alliance is unrelated to
coupling (``alliance_effect=0``).

:class:`Design` and :class:`Effects` are shared by the simulated study on disk
(:func:`studymgr.compute.simulate.study.simulate_study`), the model-only table
(:func:`simulate_synchrony_table`), the power analysis (:mod:`studymgr.compute.simulate.power`)
and the demo. This module needs numpy and pandas only (no MNE), so power-analysis workers
import it quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.simulate._params import (
    check_band,
    check_int,
    check_real,
    seed_sequence,
    set_checked,
    with_overrides,
)
from studymgr.errors import InputError

__all__ = ["Design", "Effects", "Recording", "simulate_synchrony_table"]

#: Most long source–detector pairs of a simulated montage.
MAX_CHANNELS = 36

#: Latent outcomes tied to coupling, and the :class:`Effects` field of each link.
OUTCOME_SLOPES = {"symptoms": "symptom_slope", "wellbeing": "wellbeing_slope",
                  "session_quality": "session_quality_slope", "alliance": "alliance_effect"}


@dataclass(frozen=True)
class Design:
    """The shape of a simulated study.

    Parameters
    ----------
    n_dyads : int
        Number of dyads, 1-99 (dyads ``D01``…, patients ``P01``…).
    n_sessions : int
        Sessions per dyad, 1-999, numbered from 1.
    scanned : sequence of int | None
        Session numbers recorded (fNIRS; synchrony exists there only). Default: every session.
        Kept sorted and without repeats.

    Raises
    ------
    InputError
        A count out of range, or a scanned session that does not exist.
    """

    n_dyads: int = 8
    n_sessions: int = 6
    scanned: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        set_checked(self, "n_dyads", check_int(self.n_dyads, "n_dyads", lo=1, hi=99))
        n_sessions = check_int(self.n_sessions, "n_sessions", lo=1, hi=999)
        set_checked(self, "n_sessions", n_sessions)
        if self.scanned is None:
            return
        try:
            scanned = tuple(sorted({check_int(s, "scanned session", lo=1) for s in self.scanned}))
        except TypeError:
            raise InputError(
                f"scanned must be a list of session numbers, got {self.scanned!r}"
            ) from None
        beyond = [s for s in scanned if s > n_sessions]
        if beyond:
            raise InputError(
                f"scanned sessions {beyond} do not exist: sessions are numbered 1..{n_sessions}"
            )
        set_checked(self, "scanned", scanned)

    @property
    def scanned_sessions(self) -> tuple[int, ...]:
        """The scanned session numbers (every session when ``scanned`` is None)."""
        if self.scanned is None:
            return tuple(range(1, self.n_sessions + 1))
        return self.scanned

    @property
    def dyads(self) -> list[str]:
        """Dyad codes ``D01``, ``D02``, …"""
        return [f"D{d + 1:02d}" for d in range(self.n_dyads)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``scanned`` as the list of scanned sessions)."""
        return {"n_dyads": self.n_dyads, "n_sessions": self.n_sessions,
                "scanned": list(self.scanned_sessions)}


@fill_doc
@dataclass(frozen=True)
class Recording:
    """Settings of each simulated recording.

    Parameters
    ----------
    duration_s : float
        Recording length (s).
    sfreq : float
        Sampling frequency (Hz), at least 4 Hz (the cardiac band must be sampled for the scalp
        coupling index).
    n_channels : int
        Number of long (30 mm) source–detector pairs, 1-36; each gives two channels (760, 850 nm).
    %(coupling_band)s
    short_channels : bool
        Add one 8 mm short-separation channel per source, carrying the systemic (scalp) signals
        only, for short-channel regression.
    bad_channels : int
        Number of long source–detector pairs per person made unusable (alternately a noisy contact
        and no light), which the scalp coupling index should flag.
    motion_spikes : int
        Number of head movements per person (spikes, half with a baseline shift).

    Raises
    ------
    InputError
        A value out of range, or a band the recording cannot resolve.
    """

    duration_s: float = 360.0
    sfreq: float = 10.0
    n_channels: int = 8
    band: tuple[float, float] = (0.05, 0.10)
    short_channels: bool = False
    bad_channels: int = 0
    motion_spikes: int = 2

    def __post_init__(self) -> None:
        duration_s = check_real(self.duration_s, "duration_s", lo=0.0, lo_open=True)
        sfreq = check_real(self.sfreq, "sfreq", lo=4.0)
        n_channels = check_int(self.n_channels, "n_channels", lo=1, hi=MAX_CHANNELS)
        for name, value in (
            ("duration_s", duration_s), ("sfreq", sfreq), ("n_channels", n_channels),
            ("band", check_band(self.band, sfreq, duration_s)),
            ("short_channels", bool(self.short_channels)),
            ("bad_channels", check_int(self.bad_channels, "bad_channels", lo=0, hi=n_channels)),
            ("motion_spikes", check_int(self.motion_spikes, "motion_spikes", lo=0)),
        ):
            set_checked(self, name, value)

    @property
    def n_times(self) -> int:
        """Samples per recording."""
        return int(round(self.duration_s * self.sfreq))

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``band`` as a list)."""
        return {"duration_s": self.duration_s, "sfreq": self.sfreq,
                "n_channels": self.n_channels, "band": list(self.band),
                "short_channels": self.short_channels, "bad_channels": self.bad_channels,
                "motion_spikes": self.motion_spikes}


@dataclass(frozen=True)
class Effects:
    """The planted effects: coupling, its growth and variation, and what it is linked to.

    Coupling is the share of band-limited neural variance that therapist and patient have in
    common (0-1, see :func:`studymgr.compute.simulate.signals.simulate_recording_pair`);
    outcomes are latent z-scores (positive = more of the construct). The model is written out in
    :mod:`studymgr.compute.simulate.model`.

    Parameters
    ----------
    baseline_coupling : float
        Mean coupling at session 1 (coupling units, 0-1).
    growth : float
        Mean change of coupling per session (coupling units per session, -1 to 1).
    coupling_sd_dyad, coupling_sd_growth, coupling_sd_session : float
        SDs of the dyad random intercept (coupling units), the dyad random slope (coupling
        units per session) and the session residual (coupling units) of coupling.
    symptom_slope, wellbeing_slope, session_quality_slope : float
        Change of the latent outcome per unit of coupling (z per coupling unit; coupling is
        centred at ``baseline_coupling``).
    alliance_effect : float
        Change of latent alliance per unit of coupling (z per coupling unit; 0: alliance
        unrelated to coupling).
    outcome_sd_dyad, outcome_sd_session : float
        SDs of the outcomes' dyad intercepts and session residuals (z units).

    Raises
    ------
    InputError
        A value that is not a finite number, a baseline outside 0-1, a growth outside -1 to 1 or
        a negative SD.
    """

    baseline_coupling: float = 0.2
    growth: float = 0.08
    coupling_sd_dyad: float = 0.05
    coupling_sd_growth: float = 0.02
    coupling_sd_session: float = 0.08
    symptom_slope: float = -2.0
    wellbeing_slope: float = 1.5
    session_quality_slope: float = 1.5
    alliance_effect: float = 0.0
    outcome_sd_dyad: float = 0.7
    outcome_sd_session: float = 0.4

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "baseline_coupling":
                checked = check_real(value, f.name, lo=0, hi=1)
            elif f.name == "growth":
                checked = check_real(value, f.name, lo=-1, hi=1)
            elif "_sd_" in f.name:
                checked = check_real(value, f.name, lo=0.0)
            else:
                checked = check_real(value, f.name)
            set_checked(self, f.name, checked)

    def as_dict(self) -> dict[str, float]:
        """``{field: value}``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def slope(self, outcome: str) -> float:
        """The planted change of ``outcome`` (symptoms, wellbeing, session_quality, alliance)
        per unit of coupling."""
        return getattr(self, OUTCOME_SLOPES[outcome])


def latent_table(design: Design, effects: Effects, rng: np.random.Generator
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dyad × session table of planted coupling and latent outcomes, and the dyad effects."""
    n_d, n_s = design.n_dyads, design.n_sessions
    dyads = design.dyads
    u0 = rng.normal(0.0, effects.coupling_sd_dyad, n_d)
    u1 = rng.normal(0.0, effects.coupling_sd_growth, n_d)
    e = rng.normal(0.0, effects.coupling_sd_session, (n_d, n_s))
    s = np.arange(n_s)
    coupling = np.clip(
        effects.baseline_coupling + u0[:, None] + (effects.growth + u1[:, None]) * s[None, :] + e,
        0, 1,
    )
    centred = coupling - effects.baseline_coupling
    dyad_effects = {"coupling_intercept": u0, "coupling_slope": u1}
    latent = {}
    for name in OUTCOME_SLOPES:
        dyad_eff = rng.normal(0.0, effects.outcome_sd_dyad, n_d)
        dyad_effects[name] = dyad_eff
        latent[name] = (dyad_eff[:, None] + effects.slope(name) * centred
                        + rng.normal(0.0, effects.outcome_sd_session, (n_d, n_s)))
    # the therapist's own wellbeing: a dyad-level offset and session noise, no coupling effect
    wb_t = rng.normal(0.0, effects.outcome_sd_dyad, n_d)
    dyad_effects["wellbeing_therapist"] = wb_t
    latent["wellbeing_therapist"] = wb_t[:, None] + rng.normal(0.0, effects.outcome_sd_session,
                                                               (n_d, n_s))
    rows = {
        "dyad": np.repeat(dyads, n_s),
        "session": np.tile(s + 1, n_d),
        "scanned": np.isin(np.tile(s + 1, n_d), design.scanned_sessions),
        "coupling": coupling.ravel(),
    }
    rows.update({k: v.ravel() for k, v in latent.items()})
    return pd.DataFrame(rows), pd.DataFrame({"dyad": dyads, **dyad_effects})


@fill_doc
def simulate_synchrony_table(
    *,
    design: Design | None = None,
    effects: Effects | None = None,
    synchrony_noise_sd: float = 0.05,
    seed: int = 0,
    **overrides: Any,
) -> pd.DataFrame:
    """Model-only simulation: dyad × session synchrony and outcomes, no recordings.

    Uses exactly the planted model of :func:`studymgr.compute.simulate.study.simulate_study`
    (same design, effects and seed → the same coupling and latent outcomes), for power analysis
    by repetition over seeds.

    Parameters
    ----------
    %(sim_design)s
    %(sim_effects)s
    %(synchrony_noise_sd)s
    %(seed)s
    **overrides
        Fields of :class:`Design` and :class:`Effects` by name (``n_dyads=4, growth=0.1``, the
        keyword arguments of earlier versions): replace that field.

    Returns
    -------
    pandas.DataFrame
        One row per dyad × session: ``dyad, session, scanned, coupling, synchrony, symptoms,
        wellbeing, session_quality, alliance, wellbeing_therapist`` (latent outcomes, z units;
        alliance is patient-rated; the therapist's wellbeing is unrelated to coupling).
        ``synchrony`` is NaN in sessions not scanned.
    """
    groups = with_overrides("simulate_synchrony_table",
                            {"design": (Design, design), "effects": (Effects, effects)}, overrides)
    design, effects = groups["design"], groups["effects"]
    noise_sd = check_real(synchrony_noise_sd, "synchrony_noise_sd", lo=0.0)
    ss_table, _, _, ss_noise = seed_sequence(seed).spawn(4)
    table, _ = latent_table(design, effects, np.random.default_rng(ss_table))
    noise = np.random.default_rng(ss_noise).normal(0.0, noise_sd, len(table))
    synchrony = (table["coupling"] + noise).where(table["scanned"])
    table.insert(4, "synchrony", synchrony.astype(float))
    return table

