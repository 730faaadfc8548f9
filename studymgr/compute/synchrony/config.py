"""The synchrony settings: everything that determines a session's synchrony values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from studymgr.compute.preprocess import PreprocessConfig
from studymgr.compute.synchrony.montage import channel_base
from studymgr.errors import InputError
from studymgr.provenance import config_hash

__all__ = ["CHROMOPHORES", "SynchronyConfig"]

CHROMOPHORES = ("hbo", "hbr")


@dataclass(frozen=True)
class SynchronyConfig:
    """Everything that determines a session's synchrony values (stored with every result).

    Parameters
    ----------
    band : tuple of float
        Frequency band in Hz averaged over (default 0.05–0.10 Hz, periods 10–20 s).
    pairs : str
        ``"homologous"`` (the same channel in both people) or ``"all"`` channel pairs.
    convention : str
        Wavelet-coherence convention, ``"grinsted"`` (MATLAB wtc) or ``"pycwt"``.
    chromophores : tuple of str
        Which haemoglobin signals to use (``hbo``, ``hbr``).
    pseudo : bool
        Compute the pseudo-dyad baseline and permutation p-values.
    max_pseudo : int
        At most this many pseudo pairs per session (a seeded random subset when more exist).
    seed : int
        Seed of that subset.
    resample_sfreq : float | None
        Common sampling rate in Hz; default: the lowest rate among the recordings of the run.
    montage : tuple of (channel, roi) | None
        Channel-to-ROI map; without one each channel is its own ROI.
    preprocess : PreprocessConfig
        The preprocessing chain.
    """

    band: tuple[float, float] = (0.05, 0.10)
    pairs: str = "homologous"
    convention: str = "grinsted"
    chromophores: tuple[str, ...] = CHROMOPHORES
    pseudo: bool = True
    max_pseudo: int = 50
    seed: int = 0
    resample_sfreq: float | None = None
    montage: tuple[tuple[str, str], ...] | None = None
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def __post_init__(self) -> None:
        lo, hi = (float(v) for v in self.band)
        if not 0 < lo < hi:
            raise InputError(f"invalid band {self.band}: expected 0 < fmin < fmax (Hz)")
        object.__setattr__(self, "band", (lo, hi))
        if self.pairs not in ("homologous", "all"):
            raise InputError(f"invalid pairs {self.pairs!r}: expected homologous or all")
        if self.convention not in ("grinsted", "pycwt"):
            raise InputError(f"invalid convention {self.convention!r}: grinsted or pycwt")
        bad = set(self.chromophores) - set(CHROMOPHORES)
        if bad or not self.chromophores:
            raise InputError(f"invalid chromophores {self.chromophores}: choose from hbo, hbr")
        if self.max_pseudo < 1:
            raise InputError("max_pseudo must be at least 1")
        if self.montage is not None:
            object.__setattr__(self, "montage", tuple(sorted(tuple(m) for m in self.montage)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what is stored and hashed)."""
        out = dataclasses.asdict(self)
        out["preprocess"] = self.preprocess.to_dict()
        out["band"] = list(self.band)
        out["chromophores"] = list(self.chromophores)
        out["montage"] = None if self.montage is None else [list(m) for m in self.montage]
        return out

    def config_hash(self) -> str:
        """sha256 of :meth:`to_dict`'s canonical JSON."""
        return config_hash(self.to_dict())

    def roi_of(self, channel: str) -> str | None:
        """ROI of a channel (``None`` when a montage leaves it out)."""
        base = channel_base(channel)
        if self.montage is None:
            return base
        return dict(self.montage).get(base)
