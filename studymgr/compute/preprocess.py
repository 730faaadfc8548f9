"""fNIRS preprocessing on MNE Raw objects: raw intensity in, haemoglobin out.

Pure: a Raw and a :class:`PreprocessConfig` in, a new Raw (the input is never modified) and a record
of what was done out. Every step is the MNE / MNE-NIRS function, not a re-implementation:

1. optical density — :func:`mne.preprocessing.nirs.optical_density`;
2. scalp coupling index — :func:`mne.preprocessing.nirs.scalp_coupling_index` on optical density;
   source–detector pairs below ``sci_threshold`` are marked bad (both wavelengths together);
3. motion correction — TDDR, :func:`mne.preprocessing.nirs.temporal_derivative_distribution_repair`;
4. short-channel regression — :func:`mne_nirs.signal_enhancement.short_channel_regression`
   when channels shorter than ``short_channel_max_distance_m`` exist; then the short channels are
   dropped. MNE-NIRS implements this regression on *optical density* (it refuses haemoglobin), so
   it runs before the Beer–Lambert step, not after it as DESIGN.md lists;
5. modified Beer–Lambert law — :func:`mne.preprocessing.nirs.beer_lambert_law` with ``ppf``
   (MNE's default 6.0 since MNE 0.24, the Homer convention; older MNE-NIRS tutorials pass 0.1,
   the AnalyzIR convention of DPF 6 / partial-volume 60 — only the scale of the result differs);
6. band-pass — :meth:`mne.io.Raw.filter` (FIR, zero phase). Defaults 0.01-0.5 Hz: the high-pass
   edge sits well below the synchrony band (0.05-0.10 Hz by default) so the band is untouched while
   slow drift is removed; the low-pass at 0.5 Hz with a 0.2 Hz transition keeps respiration and
   Mayer waves for quality checks but stops above 0.7 Hz, i.e. below the cardiac band (~1 Hz);
7. optional resampling — :meth:`mne.io.Raw.resample`.

Optical-density or haemoglobin input is accepted: steps that come before the input's stage are
skipped and :attr:`PreprocessResult.steps` says so.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

import mne
import numpy as np
import pandas as pd
from mne.preprocessing.nirs import (
    beer_lambert_law,
    optical_density,
    scalp_coupling_index,
    source_detector_distances,
    temporal_derivative_distribution_repair,
)

from studymgr.errors import InputError
from studymgr.provenance import config_hash

logger = logging.getLogger(__name__)

__all__ = ["PreprocessConfig", "PreprocessResult", "preprocess", "sci_quality"]

# scalp_coupling_index's own transition bandwidth (MNE default), needed for the Nyquist check
_SCI_TRANS_BANDWIDTH = 0.3
_KINDS = {"fnirs_cw_amplitude": "cw_amplitude", "fnirs_od": "od", "hbo": "hb", "hbr": "hb"}
# MNE's fNIRS channel naming: "S<source>_D<detector> <wavelength nm>" or "... hbo"/"... hbr"
_WAVELENGTH_NAME = re.compile(r"S\d+_D\d+ \d+(\.\d+)?")
_HB_NAME = re.compile(r"S\d+_D\d+ (hbo|hbr)")


@dataclass(frozen=True)
class PreprocessConfig:
    """Every step and parameter of the preprocessing chain (recorded with each result).

    Parameters
    ----------
    sci_threshold : float | None
        Source–detector pairs with a scalp coupling index below this are marked bad; None skips
        the scalp coupling index.
    sci_l_freq, sci_h_freq : float
        Cardiac band (Hz) in which the scalp coupling index correlates the two wavelengths
        (MNE's defaults).
    motion_correction : "tddr" | None
        Temporal derivative distribution repair on optical density, or none.
    ppf : float | tuple of float
        Partial pathlength factor of the modified Beer–Lambert law (one value, or one per
        wavelength), dimensionless.
    short_channel_regression : "auto" | bool
        "auto" regresses out the nearest short channel when short channels exist; True requires
        them (error otherwise); False never regresses.
    short_channel_max_distance_m : float
        Channels with a source–detector distance below this (m) are short.
    drop_short_channels : bool
        Remove short channels from the output (they carry scalp, not brain, signal).
    l_freq, h_freq : float | None
        Band-pass edges (Hz); None skips that side.
    l_trans_bandwidth, h_trans_bandwidth : float | "auto"
        Transition bandwidths (Hz) of the FIR filter ("auto": MNE's rule).
    resample_sfreq : float | None
        Resample the result to this rate (Hz); None keeps the original rate.
    """

    sci_threshold: float | None = 0.5
    sci_l_freq: float = 0.7
    sci_h_freq: float = 1.5
    motion_correction: Literal["tddr"] | None = "tddr"
    ppf: float | tuple[float, ...] = 6.0
    short_channel_regression: Literal["auto"] | bool = "auto"
    short_channel_max_distance_m: float = 0.015
    drop_short_channels: bool = True
    l_freq: float | None = 0.01
    h_freq: float | None = 0.5
    l_trans_bandwidth: float | Literal["auto"] = "auto"
    h_trans_bandwidth: float | Literal["auto"] = 0.2
    resample_sfreq: float | None = None

    def __post_init__(self) -> None:
        def positive(name: str, value: object, *, none_ok: bool = False) -> None:
            if value is None and none_ok:
                return
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not np.isfinite(value) or value <= 0):
                raise InputError(
                    f"PreprocessConfig.{name} must be a positive number, got {value!r}"
                )

        if self.sci_threshold is not None:
            t = self.sci_threshold
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not -1 <= t <= 1:
                raise InputError(
                    f"PreprocessConfig.sci_threshold must be in [-1, 1] or None, got {t!r}"
                )
        positive("sci_l_freq", self.sci_l_freq)
        positive("sci_h_freq", self.sci_h_freq)
        if self.sci_l_freq >= self.sci_h_freq:
            raise InputError("PreprocessConfig.sci_l_freq must be below sci_h_freq")
        if self.motion_correction not in ("tddr", None):
            raise InputError(
                f"PreprocessConfig.motion_correction must be 'tddr' or None, "
                f"got {self.motion_correction!r}"
            )
        if isinstance(self.ppf, list):
            object.__setattr__(self, "ppf", tuple(self.ppf))  # keep the dataclass hashable
        ppf = self.ppf if isinstance(self.ppf, tuple) else (self.ppf,)
        if not ppf:
            raise InputError("PreprocessConfig.ppf must not be empty")
        for value in ppf:
            positive("ppf", value)
        if self.short_channel_regression not in ("auto", True, False):
            raise InputError(
                "PreprocessConfig.short_channel_regression must be 'auto', True or False, "
                f"got {self.short_channel_regression!r}"
            )
        positive("short_channel_max_distance_m", self.short_channel_max_distance_m)
        positive("l_freq", self.l_freq, none_ok=True)
        positive("h_freq", self.h_freq, none_ok=True)
        if self.l_freq is not None and self.h_freq is not None and self.l_freq >= self.h_freq:
            raise InputError(
                f"PreprocessConfig.l_freq ({self.l_freq} Hz) must be below "
                f"h_freq ({self.h_freq} Hz)"
            )
        for name in ("l_trans_bandwidth", "h_trans_bandwidth"):
            value = getattr(self, name)
            if value != "auto":
                positive(name, value)
        positive("resample_sfreq", self.resample_sfreq, none_ok=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every parameter, keys sorted."""
        out = asdict(self)
        out["ppf"] = list(self.ppf) if isinstance(self.ppf, tuple) else self.ppf
        return dict(sorted(out.items()))

    def config_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`to_dict` (as every config hash)."""
        return config_hash(self.to_dict())


@dataclass(frozen=True, eq=False)
class PreprocessResult:
    """Output of :func:`preprocess`.

    Attributes
    ----------
    raw : mne.io.BaseRaw
        Haemoglobin concentration changes (channels ``"S1_D1 hbo"``/``"S1_D1 hbr"``, mol/L), bad
        channels in ``raw.info["bads"]``.
    sci : pandas.Series
        Scalp coupling index per input channel (index: optical-density channel names; empty when
        not computed).
    bad_channels : list of str
        Bad channels of ``raw`` (output names).
    dropped_channels : list of str
        Input channels removed (short channels, non-fNIRS channels).
    steps : list of str
        What was done, in order, with parameters — or why a step was skipped.
    config : PreprocessConfig
        The configuration used.
    input_kind : str
        "cw_amplitude", "od" or "hb".
    """

    raw: mne.io.BaseRaw
    sci: pd.Series
    bad_channels: list[str]
    dropped_channels: list[str]
    steps: list[str]
    config: PreprocessConfig
    input_kind: str

    def summary(self) -> dict[str, Any]:
        """JSON-able record: config and its hash, steps, bad and dropped channels, SCI."""
        n = len(self.raw.ch_names)
        return {
            "config": self.config.to_dict(),
            "config_hash": self.config.config_hash(),
            "input_kind": self.input_kind,
            "steps": list(self.steps),
            "bad_channels": list(self.bad_channels),
            "dropped_channels": list(self.dropped_channels),
            "usable_share": (n - len(self.bad_channels)) / n if n else 0.0,
            "sci": {k: float(v) for k, v in self.sci.items()},
        }


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _input_kind(raw: object) -> tuple[str, list[str]]:
    """('cw_amplitude' | 'od' | 'hb', names of the fNIRS channels) or InputError."""
    if not isinstance(raw, mne.io.BaseRaw):
        raise InputError(f"expected an MNE Raw fNIRS recording, got {type(raw).__name__}")
    types = raw.get_channel_types()
    kinds = {_KINDS[t] for t in types if t in _KINDS}
    if not kinds:
        found = ", ".join(sorted(set(types))) or "no channels"
        raise InputError(
            "not an fNIRS recording: no fnirs_cw_amplitude, fnirs_od or hbo/hbr channels "
            f"(found: {found})"
        )
    if len(kinds) > 1:
        raise InputError(
            f"the recording mixes fNIRS data kinds ({', '.join(sorted(kinds))}): pass raw "
            "intensity, optical density or haemoglobin, one at a time"
        )
    names = [n for n, t in zip(raw.ch_names, types, strict=True) if t in _KINDS]
    kind = kinds.pop()
    pattern = _HB_NAME if kind == "hb" else _WAVELENGTH_NAME
    odd = [n for n in names if not pattern.fullmatch(n)]
    if odd:
        example = "'S1_D1 hbo'" if kind == "hb" else "'S1_D1 760'"
        raise InputError(
            f"{len(odd)} fNIRS channel names do not follow MNE's convention (e.g. {odd[0]!r}; "
            f"expected {example}): read the file with MNE's reader or rename the channels"
        )
    per_pair: dict[str, set[str]] = {}
    for n in names:
        per_pair.setdefault(_pair(n), set()).add(n.split(" ")[1])
    layouts = {frozenset(v) for v in per_pair.values()}
    if len(layouts) != 1 or len(next(iter(layouts))) < 2:
        raise InputError(
            "every source-detector pair needs the same two or more wavelengths (or hbo and hbr): "
            "the recording is incomplete"
        )
    return kind, names


def _pair(ch_name: str) -> str:
    return ch_name.split(" ")[0]


def _spread_bads(names: list[str], bads: set[str]) -> list[str]:
    """Bad names extended to every channel of the same source–detector pair."""
    bad_pairs = {_pair(n) for n in bads}
    return [n for n in names if _pair(n) in bad_pairs]


def _filter_length(sfreq: float, l_freq: float | None, h_freq: float | None,
                   l_trans: float | str, h_trans: float | str) -> int:
    """Length (samples) of the FIR filter MNE would design for these settings."""
    h = mne.filter.create_filter(
        None, sfreq, l_freq, h_freq, l_trans_bandwidth=l_trans, h_trans_bandwidth=h_trans,
        verbose=False,
    )
    return len(h)


def _mne_call(what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an MNE step; its ValueError/RuntimeError (bad input) becomes a one-line InputError."""
    try:
        return func(*args, **kwargs)
    except (ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{what} failed: {first}") from err


def _check_rates(raw: mne.io.BaseRaw, kind: str, config: PreprocessConfig) -> None:
    """Refuse recordings the configured filters cannot handle (before any work is done)."""
    sfreq = raw.info["sfreq"]
    nyq = sfreq / 2
    duration = raw.n_times / sfreq
    if kind != "hb" and config.sci_threshold is not None:
        if config.sci_h_freq + _SCI_TRANS_BANDWIDTH >= nyq:
            raise InputError(
                f"the scalp coupling index needs the "
                f"{config.sci_l_freq:g}-{config.sci_h_freq:g} Hz cardiac band but the recording "
                f"is sampled at {sfreq:g} Hz (Nyquist {nyq:g} Hz): "
                "set sci_threshold=None to skip it"
            )
        n = _filter_length(sfreq, config.sci_l_freq, config.sci_h_freq,
                           _SCI_TRANS_BANDWIDTH, _SCI_TRANS_BANDWIDTH)
        if n > raw.n_times:
            raise InputError(
                f"recording is {duration:.1f} s long but the scalp coupling index filter needs "
                f"{n / sfreq:.1f} s: use a longer recording or sci_threshold=None"
            )
    if config.h_freq is not None and config.h_freq >= nyq:
        raise InputError(
            f"h_freq {config.h_freq:g} Hz is not below the Nyquist frequency ({nyq:g} Hz) of this "
            f"{sfreq:g} Hz recording: lower h_freq or set it to None"
        )
    if config.h_freq is not None and config.h_trans_bandwidth != "auto":
        if config.h_freq + config.h_trans_bandwidth > nyq:
            raise InputError(
                f"h_freq {config.h_freq:g} Hz + h_trans_bandwidth {config.h_trans_bandwidth:g} Hz "
                f"exceeds the Nyquist frequency ({nyq:g} Hz): lower h_freq or h_trans_bandwidth"
            )
    if config.l_freq is not None or config.h_freq is not None:
        n = _filter_length(sfreq, config.l_freq, config.h_freq,
                           config.l_trans_bandwidth, config.h_trans_bandwidth)
        if n > raw.n_times:
            edge = f"{config.l_freq:g} Hz high-pass" if config.l_freq else "low-pass"
            raise InputError(
                f"recording is {duration:.1f} s long but the {edge} filter needs at least "
                f"{n / sfreq:.1f} s (MNE FIR length): use a longer recording or a higher l_freq"
            )
    if config.resample_sfreq is not None and config.h_freq is not None:
        if config.h_freq >= config.resample_sfreq / 2:
            raise InputError(
                f"resample_sfreq {config.resample_sfreq:g} Hz cannot represent h_freq "
                f"{config.h_freq:g} Hz: resample to more than {2 * config.h_freq:g} Hz"
            )


def _check_distances(raw: mne.io.BaseRaw) -> np.ndarray:
    dist = source_detector_distances(raw.info)
    missing = [n for n, d in zip(raw.ch_names, dist, strict=True) if not (np.isfinite(d) and d > 0)]
    if missing:
        raise InputError(
            f"{len(missing)} channels have no source-detector distance (e.g. {missing[0]!r}): "
            "the recording needs optode positions (set a montage with raw.set_montage)"
        )
    return dist


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def sci_quality(raw: mne.io.BaseRaw, *, threshold: float = 0.5, l_freq: float = 0.7,
                h_freq: float = 1.5) -> dict[str, Any]:
    """Scalp coupling index of a raw-intensity or optical-density recording (for import checks).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Raw intensity or optical density (not modified).
    threshold : float
        Channels below this are counted as unusable.
    l_freq, h_freq : float
        Cardiac band (Hz) of the scalp coupling index.

    Returns
    -------
    dict
        ``sci`` (channel → SCI), ``threshold``, ``n_channels``, ``bad_channels`` (list),
        ``usable_share`` (share of channels at or above the threshold, 0-1).
    """
    config = PreprocessConfig(sci_threshold=threshold, sci_l_freq=l_freq, sci_h_freq=h_freq,
                              l_freq=None, h_freq=None)
    kind, names = _input_kind(raw)
    if kind == "hb":
        raise InputError(
            "the scalp coupling index needs raw intensity or optical density, not haemoglobin"
        )
    _check_rates(raw, kind, config)
    data = raw.copy().pick(names).load_data()
    od = _mne_call("optical density", optical_density, data, verbose=False) \
        if kind == "cw_amplitude" else data
    sci = _mne_call("scalp coupling index", scalp_coupling_index, od, l_freq=l_freq,
                    h_freq=h_freq, verbose=False)
    values = {n: float(v) for n, v in zip(od.ch_names, sci, strict=True)}
    bad = _spread_bads(od.ch_names, {n for n, v in values.items() if v < threshold})
    return {
        "sci": values,
        "threshold": float(threshold),
        "n_channels": len(values),
        "bad_channels": bad,
        "usable_share": (len(values) - len(bad)) / len(values),
    }


def preprocess(raw: mne.io.BaseRaw, config: PreprocessConfig | None = None, *,
               verbose: bool | str | int | None = None) -> PreprocessResult:
    """Run the fNIRS preprocessing chain (see the module docstring) on a copy of ``raw``.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Raw intensity (``fnirs_cw_amplitude``), optical density (``fnirs_od``) or haemoglobin
        (``hbo``/``hbr``) with MNE channel names and optode positions. Not modified. Non-fNIRS
        channels are dropped; channels already in ``info["bads"]`` stay bad.
    config : PreprocessConfig | None
        Steps and parameters; default :class:`PreprocessConfig()`.
    verbose : bool | str | int | None
        MNE log level for the duration of the call (None: leave MNE's level as it is).

    Returns
    -------
    PreprocessResult
        ``.raw`` haemoglobin (mol/L), ``.sci``, ``.bad_channels``, ``.steps``, ``.config``.

    Raises
    ------
    InputError
        Not an fNIRS recording; too short or sampled too slowly for the configured filters; no
        optode positions; every channel bad; short-channel regression required but impossible.
    """
    config = PreprocessConfig() if config is None else config
    if not isinstance(config, PreprocessConfig):
        raise InputError(f"config must be a PreprocessConfig, got {type(config).__name__}")
    kind, names = _input_kind(raw)
    _check_rates(raw, kind, config)
    ctx = mne.utils.use_log_level(verbose) if verbose is not None else contextlib.nullcontext()
    with ctx:
        return _run(raw, kind, names, config)


def _run(raw_in: mne.io.BaseRaw, kind: str, names: list[str],
         config: PreprocessConfig) -> PreprocessResult:
    steps: list[str] = []
    dropped = [n for n in raw_in.ch_names if n not in names]
    raw = raw_in.copy().pick(names).load_data()  # our own copy: the caller's Raw stays as it was
    if dropped:
        steps.append(f"dropped {len(dropped)} non-fNIRS channels")
    if not np.all(np.isfinite(raw.get_data())):
        raise InputError("the recording contains NaN or infinite samples: repair or crop it first")
    raw.info["bads"] = _spread_bads(raw.ch_names, set(raw.info["bads"]))
    prior_bad = set(raw.info["bads"])
    sci = pd.Series(dtype=float, name="sci")
    is_hb = kind == "hb"
    dist = source_detector_distances(raw.info)
    short = [n for n, d in zip(raw.ch_names, dist, strict=True)
             if np.isfinite(d) and 0 < d < config.short_channel_max_distance_m]
    long_names = [n for n in raw.ch_names if n not in short]
    if long_names and prior_bad.issuperset(long_names):
        raise InputError(
            f"all {len(long_names)} channels are marked bad in the input: nothing to analyse"
        )

    # 1. optical density
    if kind == "cw_amplitude":
        raw = _mne_call("optical density", optical_density, raw)
        steps.append("optical density: mne.preprocessing.nirs.optical_density")
    elif kind == "od":
        steps.append("optical density: skipped (input is already optical density)")
    else:
        steps.append("optical density: skipped (input is already haemoglobin)")

    # 2. scalp coupling index
    if is_hb:
        steps.append("scalp coupling index: skipped (input is haemoglobin; SCI needs optical "
                     "density)")
    elif config.sci_threshold is None:
        steps.append("scalp coupling index: skipped (sci_threshold=None)")
    else:
        values = _mne_call("scalp coupling index", scalp_coupling_index, raw,
                           l_freq=config.sci_l_freq, h_freq=config.sci_h_freq)
        sci = pd.Series(values, index=pd.Index(raw.ch_names, name="channel"), name="sci")
        low = set(sci.index[sci < config.sci_threshold])
        new_bads = sorted(set(_spread_bads(raw.ch_names, low)) - set(raw.info["bads"]))
        raw.info["bads"] = _spread_bads(raw.ch_names, set(raw.info["bads"]) | low)
        steps.append(
            f"scalp coupling index: {len(new_bads)} of {len(raw.ch_names)} channels below "
            f"{config.sci_threshold:g} marked bad (mne.preprocessing.nirs.scalp_coupling_index, "
            f"{config.sci_l_freq:g}-{config.sci_h_freq:g} Hz)"
        )
        if long_names and set(raw.info["bads"]).issuperset(long_names):
            n_low = sum(n in low for n in long_names)
            if n_low == len(long_names):
                raise InputError(
                    f"all {len(long_names)} channels have scalp coupling index below "
                    f"{config.sci_threshold:g}: nothing to analyse"
                )
            raise InputError(
                f"all {len(long_names)} channels are bad ({n_low} with scalp coupling index "
                f"below {config.sci_threshold:g}, the others marked bad in the input): "
                "nothing to analyse"
            )

    # 3. motion correction (TDDR is designed for optical density)
    if config.motion_correction is None:
        steps.append("motion correction: skipped (motion_correction=None)")
    elif is_hb:
        steps.append("motion correction: skipped (input is already haemoglobin; TDDR belongs "
                     "before the Beer-Lambert step)")
    else:
        raw = _mne_call("TDDR motion correction", temporal_derivative_distribution_repair, raw)
        steps.append("motion correction: TDDR "
                     "(mne.preprocessing.nirs.temporal_derivative_distribution_repair)")

    # 4. short-channel regression (MNE-NIRS: optical density only), then drop short channels
    raw = _short_channels(raw, short, is_hb, config, steps, dropped)

    # 5. modified Beer-Lambert law
    if is_hb:
        steps.append("Beer-Lambert law: skipped (input is already haemoglobin)")
    else:
        _check_distances(raw)
        ppf = list(config.ppf) if isinstance(config.ppf, tuple) else config.ppf
        if isinstance(ppf, list) and len(ppf) == 1:
            ppf = ppf[0]
        raw = _mne_call("Beer-Lambert law", beer_lambert_law, raw, ppf=ppf)
        steps.append(f"Beer-Lambert law: ppf={ppf} (mne.preprocessing.nirs.beer_lambert_law)")

    # 6. band-pass
    if config.l_freq is None and config.h_freq is None:
        steps.append("band-pass: skipped (l_freq and h_freq are None)")
    else:
        raw.filter(config.l_freq, config.h_freq, l_trans_bandwidth=config.l_trans_bandwidth,
                   h_trans_bandwidth=config.h_trans_bandwidth)
        steps.append(
            f"band-pass: l_freq={config.l_freq}, h_freq={config.h_freq} Hz, "
            f"l_trans_bandwidth={config.l_trans_bandwidth}, "
            f"h_trans_bandwidth={config.h_trans_bandwidth} (mne.io.Raw.filter, FIR, zero phase)"
        )

    # 7. resampling
    if config.resample_sfreq is not None:
        old = raw.info["sfreq"]
        raw.resample(config.resample_sfreq)
        steps.append(f"resample: {old:g} Hz -> {config.resample_sfreq:g} Hz (mne.io.Raw.resample)")

    for step in steps:
        logger.info("preprocess: %s", step)
    return PreprocessResult(
        raw=raw, sci=sci, bad_channels=list(raw.info["bads"]), dropped_channels=dropped,
        steps=steps, config=config, input_kind=kind,
    )


def _short_channels(raw: mne.io.BaseRaw, short: list[str], is_hb: bool,
                    config: PreprocessConfig, steps: list[str], dropped: list[str]
                    ) -> mne.io.BaseRaw:
    mode = config.short_channel_regression
    limit_mm = config.short_channel_max_distance_m * 1000
    good_short = [n for n in short if n not in raw.info["bads"]]
    if mode is False:
        steps.append("short-channel regression: skipped (short_channel_regression=False)")
    elif not short:
        if mode is True:
            raise InputError(
                f"short_channel_regression=True but no channel is shorter than {limit_mm:g} mm: "
                "use 'auto' or False"
            )
        steps.append(f"short-channel regression: skipped (no short channels < {limit_mm:g} mm)")
    elif is_hb:
        if mode is True:
            raise InputError(
                "short_channel_regression=True needs optical density or raw intensity input "
                "(MNE-NIRS regresses optical density): pass the unconverted recording"
            )
        steps.append("short-channel regression: skipped (input is already haemoglobin; "
                     "MNE-NIRS regresses optical density)")
    elif not good_short:
        if mode is True:
            raise InputError(
                f"short_channel_regression=True but all {len(short)} short channels are bad"
            )
        steps.append(f"short-channel regression: skipped (all {len(short)} short channels bad)")
    else:
        from mne_nirs.signal_enhancement import short_channel_regression  # slow import

        raw = _mne_call("short-channel regression", short_channel_regression, raw,
                        max_dist=config.short_channel_max_distance_m)
        steps.append(
            f"short-channel regression: nearest of {len(good_short)} good short channels "
            f"(< {limit_mm:g} mm) regressed out "
            "(mne_nirs.signal_enhancement.short_channel_regression)"
        )
    if short and config.drop_short_channels:
        raw.drop_channels(short)
        dropped.extend(short)
        steps.append(f"short channels: dropped {len(short)} (< {limit_mm:g} mm)")
    return raw
