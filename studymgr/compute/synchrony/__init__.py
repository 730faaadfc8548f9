"""Inter-brain synchrony: wavelet transform coherence, montages and the synchrony settings."""

from studymgr.compute.synchrony.coherence import (
    CONVENTIONS,
    DJ,
    FOURIER_FACTOR,
    OMEGA0,
    Coherence,
    band_coherence,
    wavelet_coherence,
)

__all__ = ["CONVENTIONS", "DJ", "FOURIER_FACTOR", "OMEGA0", "Coherence", "band_coherence",
           "wavelet_coherence"]
