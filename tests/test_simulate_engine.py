"""The simulator's planted coupling is what the synchrony engine measures.

Simulated recordings (studymgr.compute.simulate.signals, no motion) go through the linear part
of the real preprocessing chain (studymgr.compute.preprocess: MNE optical density, Beer-Lambert,
band-pass; TDDR's robust reweighting is left out because, being nonlinear, it lets the in-band
signal shift other bands slightly) and the real engine
(studymgr.compute.synchrony.coherence.band_coherence). Independent references:

- the planted coupling parameter itself: in the coupling band (0.05-0.10 Hz) the measured
  coherence must rise strictly with it; the pairs of one seed differ only in how much of the
  band-limited neural signal the two people share. (Below a coupling of ~0.3 the curve is
  nearly flat: each person's own Mayer wave, ~0.1 Hz, also lies in the band and dilutes the
  shared part, so single draws at 0 and 0.25 can swap order. The couplings tested are 0, 0.5,
  0.75 and 1, averaged over two seeds; each seed must be in order too.)
- the band-limited construction of the shared component (zero power outside the band, checked
  in tests/test_simulate.py): outside the band the coherence must stay at the level of
  coupling 0, i.e. the engine's bias for independent signals;
- an exact case: the planted neural components at coupling 1 are identical signals, whose
  coherence is 1 by definition.
"""

from __future__ import annotations

import numpy as np
import pytest

from studymgr.compute.preprocess import PreprocessConfig, preprocess
from studymgr.compute.simulate.study import simulate_recording_pair
from studymgr.compute.synchrony.coherence import band_coherence

SFREQ = 5.0
BAND = (0.05, 0.10)
# Outside bands: below (periods 33-67 s, above the 0.01 Hz high-pass) and above (2.5-5 s) the
# coupling band, each at least a Morlet bandwidth (omega0 = 6: ~1/6 of the frequency) away.
BELOW = (0.015, 0.03)
ABOVE = (0.2, 0.4)
COUPLINGS = (0.0, 0.5, 0.75, 1.0)
SEEDS = (4, 5)


def _measure(coupling: float, seed: int) -> dict[str, float]:
    raw_t, raw_p, truth = simulate_recording_pair(coupling, duration_s=600, sfreq=SFREQ,
                                                  n_channels=6, seed=seed, motion_spikes=0,
                                                  return_truth=True)
    config = PreprocessConfig(sci_threshold=None, motion_correction=None)
    hbo = [preprocess(raw, config, verbose="error").raw.get_data(picks="hbo")
           for raw in (raw_t, raw_p)]
    out = {name: float(band_coherence(hbo[0], hbo[1], SFREQ, band=band).mean())
           for name, band in (("in", BAND), ("below", BELOW), ("above", ABOVE))}
    neural = [truth["persons"][code]["neural"] for code in ("T01", "P01")]
    out["neural"] = float(band_coherence(neural[0], neural[1], SFREQ, band=BAND).mean())
    return out


@pytest.fixture(scope="module")
def per_seed() -> dict[int, dict[float, dict[str, float]]]:
    return {seed: {c: _measure(c, seed) for c in COUPLINGS} for seed in SEEDS}


@pytest.fixture(scope="module")
def measured(per_seed) -> dict[float, dict[str, float]]:
    """The measures averaged over the seeds."""
    keys = next(iter(per_seed[SEEDS[0]].values()))
    return {c: {k: float(np.mean([per_seed[s][c][k] for s in SEEDS])) for k in keys}
            for c in COUPLINGS}


def _increasing(values: list[float]) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


def test_in_band_coherence_rises_with_planted_coupling(measured, per_seed):
    """Strictly increasing in the band (on average and for each seed), by a clear margin from
    coupling 0 to 1."""
    in_band = [measured[c]["in"] for c in COUPLINGS]
    assert _increasing(in_band), in_band
    for seed in SEEDS:
        assert _increasing([per_seed[seed][c]["in"] for c in COUPLINGS]), (seed, per_seed)
    assert in_band[-1] - in_band[0] > 0.2, in_band
    assert all(0 <= v <= 1 for v in in_band)


def test_no_coupling_measured_outside_the_band(measured):
    """Outside the band every coupling gives the coupling-0 coherence (the engine's bias for
    independent signals), and that level is far below the coupled in-band value."""
    for name in ("below", "above"):
        values = [measured[c][name] for c in COUPLINGS]
        assert max(values) - min(values) < 0.02, (name, values)
        assert measured[1.0]["in"] > max(values) + 0.15, (name, values)


def test_planted_neural_components(measured):
    """The planted neural signals (before systemic physiology, motion and noise are added):
    coupling 1 makes them identical (coherence exactly 1), and their coherence rises with the
    coupling faster than that of the full recordings, whose other in-band signals dilute it."""
    neural = [measured[c]["neural"] for c in COUPLINGS]
    assert neural[-1] == pytest.approx(1.0, abs=1e-9)
    assert _increasing(neural), neural
    gain_neural = neural[-1] - neural[0]
    gain_full = measured[1.0]["in"] - measured[0.0]["in"]
    assert gain_neural > gain_full > 0
