"""The analysis table: one row per dyad × session, synchrony beside the scored constructs.

Pure: tidy frames in (sessions, stored synchrony, stored scores), one wide table out. No store
access and no file I/O: :mod:`studymgr.runs.models` fetches the frames and saves the results.

Columns of the table, in this order:

``dyad``, ``session`` (its number), ``kind`` (therapy or interview)
    One row per session of the study (restricted to ``kinds``), ordered by dyad and session.
``synchrony``
    The session's synchrony index of the true therapist–patient pair (wavelet coherence averaged
    over homologous ROI pairs, of the configured chromophore); empty when not computed.
``synchrony_pseudo``, ``n_pseudo``
    The mean of the same index over the session's pseudo pairs (the therapist with other dyads'
    patients at the same session number and vice versa), and how many pseudo pairs it averages.
``symptoms``, ``wellbeing``, ``alliance``, ``session_quality``
    The score of the instrument and scale chosen for each construct (see :class:`ModelConfig`),
    in the scale's units; empty when not entered or not scorable.
``synchrony.<roi_t>.<roi_p>``, ``synchrony_pseudo.<roi_t>.<roi_p>``
    The same two synchrony values per ROI pair (therapist's ROI, patient's ROI). ROI codes never
    contain ``.``, so the dot separates them unambiguously.

With a per-person measure (``measure="faa"``: one person's frontal alpha asymmetry over the
session, see ``person`` and ``unit`` of :class:`ModelConfig`) the brain columns are named after it:
``asymmetry`` (and an empty ``asymmetry_pseudo``, ``n_pseudo`` 0: a person measure has no
pseudo-dyad baseline) in place of ``synchrony`` and ``synchrony_pseudo``.

Construct sources (defaults after the reference study, Sened et al. 2025): every construct is
patient-rated; symptoms and wellbeing before the session, alliance and session quality after it;
the scale is the instrument's primary scale. When several instruments of a construct were given
by that role at that timing and the configuration names none, the one with most responses
is used (ties: alphabetical) and the table's notes say so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from studymgr._aliases import REMOVED_IN
from studymgr.errors import InputError
from studymgr.ids import (  # the study's vocabulary, re-exported for the models' users
    CONSTRUCTS,
    ROLES,
    SESSION_KINDS,
    TIMINGS,
)

logger = logging.getLogger(__name__)

CHROMOPHORES = ("hbo", "hbr", "eeg")
KINDS = SESSION_KINDS
ROI_PAIRS = ("all", "homologous")
#: Per-person measures (stored in ``person_measures``) and the name of their analysis column.
PERSON_MEASURES = {"faa": "asymmetry"}
DEFAULT_SOURCES: dict[str, tuple[str, str]] = {
    "symptoms": ("patient", "pre"),
    "wellbeing": ("patient", "pre"),
    "alliance": ("patient", "post"),
    "session_quality": ("patient", "post"),
}
BASE_COLUMNS = ["dyad", "session", "kind", "synchrony", "synchrony_pseudo", "n_pseudo",
                *CONSTRUCTS]
SYNCHRONY_COLUMNS = ["dyad", "session", "pair", "chromophore", "level", "therapist_unit",
                     "patient_unit", "value", "config_hash"]
SCORE_COLUMNS = ["dyad", "session", "role", "timing", "instrument", "version", "construct",
                 "scale", "value", "primary"]
SESSION_COLUMNS = ["dyad", "session", "kind"]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConstructSource:
    """Which scores stand for one construct.

    Attributes
    ----------
    instrument : str or None
        ``name`` or ``name@version``; None picks the construct's instrument with most responses
        by ``role`` at ``timing``.
    scale : str or None
        Scale id; None takes the instrument's primary scale.
    role : str
        Who answered: ``patient`` or ``therapist``.
    timing : str
        ``pre`` or ``post`` (the session).
    """

    instrument: str | None = None
    scale: str | None = None
    role: str = "patient"
    timing: str = "pre"

    @property
    def respondent(self) -> str:
        """Deprecated name of :attr:`role` (until studymgr 0.3)."""
        warnings.warn(f"ConstructSource.respondent is now ConstructSource.role; the old name "
                      f"works until studymgr {REMOVED_IN}", DeprecationWarning, stacklevel=2)
        return self.role


def _default_constructs() -> dict[str, ConstructSource]:
    return {c: ConstructSource(role=r, timing=t) for c, (r, t) in DEFAULT_SOURCES.items()}


@dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the analysis table and the models fitted on it.

    Attributes
    ----------
    chromophore : str
        ``hbo`` (default) or ``hbr``: whose synchrony enters the table; ``eeg`` for EEG
        sessions (see ``measure``).
    constructs : dict of str to ConstructSource
        Source of each construct (symptoms, wellbeing, alliance, session_quality).
    kinds : tuple of str
        Session kinds in the table (default both therapy and interview sessions).
    lag : int
        Sessions between synchrony and outcome in the lagged outcome models (>= 1).
    roi_pairs : str
        ``all`` ROI pairs stored (default) or only ``homologous`` ones (same ROI in both).
    measure : str or None
        The stored synchrony measure; None means ``wtc`` (wavelet coherence) for ``hbo`` and
        ``hbr`` and ``plv_alpha`` (alpha-band phase-locking value) for ``eeg``; e.g.
        ``aec_theta`` picks another EEG measure. ``faa`` models one person's frontal alpha
        asymmetry instead of synchrony (chromophore ``eeg``).
    person : str
        With a per-person measure: whose (``patient``, default, or ``therapist``).
    unit : str or None
        With a per-person measure: the electrode pair ``LEFT:RIGHT`` (e.g. ``F3:F4``); None
        takes the pair computed first.
    """

    chromophore: str = "hbo"
    constructs: dict[str, ConstructSource] = field(default_factory=_default_constructs)
    kinds: tuple[str, ...] = KINDS
    lag: int = 1
    roi_pairs: str = "all"
    measure: str | None = None
    person: str = "patient"
    unit: str | None = None

    @property
    def synchrony_measure(self) -> str:
        """The measure the table reads (``measure``, or the chromophore's default)."""
        if self.measure is not None:
            return self.measure
        return "plv_alpha" if self.chromophore == "eeg" else "wtc"

    @property
    def variable(self) -> str:
        """Name of the brain variable in the table and the models: ``synchrony``, or the
        per-person measure's name (``asymmetry`` for ``faa``)."""
        return PERSON_MEASURES.get(self.synchrony_measure, "synchrony")

    @property
    def person_measure(self) -> bool:
        """Whether the measure is one person's (``person_measures``), not a pair's."""
        return self.synchrony_measure in PERSON_MEASURES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | ModelConfig | None) -> ModelConfig:
        """Validate a configuration given as a (JSON) mapping; missing keys keep defaults.

        ``constructs`` maps a construct to a mapping with any of ``instrument, scale,
        role, timing`` (``respondent``, the old name of ``role``, is read until studymgr 0.3)
        or to a string (the instrument), e.g.
        ``{"constructs": {"symptoms": "gad7", "alliance": {"instrument": "wai-sr",
        "scale": "total"}}}``. Unknown keys, constructs or values raise :class:`InputError`.
        """
        if data is None:
            return cls()
        if isinstance(data, ModelConfig):
            return data
        if not isinstance(data, Mapping):
            raise InputError(f"the model configuration must be a JSON object (a mapping), got "
                             f"{type(data).__name__}")
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(map(str, data)) - allowed)
        if unknown:
            raise InputError(f"unknown model setting(s) {', '.join(map(repr, unknown))}: use "
                             f"{', '.join(sorted(allowed))}")
        out = cls()
        if "chromophore" in data:
            out = replace(out, chromophore=_choice(data["chromophore"], CHROMOPHORES,
                                                   "chromophore"))
        if "kinds" in data:
            kinds = data["kinds"]
            if isinstance(kinds, str) or not isinstance(kinds, list | tuple) or not kinds:
                raise InputError(f"kinds must be a non-empty list of session kinds "
                                 f"({', '.join(KINDS)}), got {kinds!r}")
            out = replace(out, kinds=tuple(dict.fromkeys(_choice(k, KINDS, "session kind")
                                                         for k in kinds)))
        if "lag" in data:
            lag = data["lag"]
            if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
                raise InputError(f"lag must be a whole number of sessions >= 1, got {lag!r}")
            out = replace(out, lag=lag)
        if "roi_pairs" in data:
            out = replace(out, roi_pairs=_choice(data["roi_pairs"], ROI_PAIRS, "roi_pairs"))
        if "constructs" in data:
            out = replace(out, constructs=_parse_constructs(data["constructs"]))
        if data.get("measure") is not None:
            measure = data["measure"]
            if not isinstance(measure, str) or not 1 <= len(measure) <= 32 or any(
                    not (c.isascii() and (c.isalnum() or c == "_")) for c in measure):
                raise InputError(f"invalid measure {measure!r} in the model configuration: e.g. "
                                 "wtc, plv_alpha, aec_theta")
            out = replace(out, measure=measure)
        if "person" in data:
            out = replace(out, person=_choice(data["person"], ROLES, "person"))
        if data.get("unit") is not None:
            unit = data["unit"]
            if not isinstance(unit, str) or not 1 <= len(unit) <= 64 or ":" not in unit:
                raise InputError(f"invalid unit {unit!r} in the model configuration: give the "
                                 "asymmetry electrode pair as LEFT:RIGHT, e.g. F3:F4")
            out = replace(out, unit=unit)
        if out.person_measure and out.chromophore != "eeg":
            if "chromophore" in data:
                raise InputError(f"measure {out.synchrony_measure} is an EEG measure: use "
                                 "chromophore eeg (or leave it out)")
            out = replace(out, chromophore="eeg")
        return out

    def with_instruments(self, choices: Mapping[str, str]) -> ModelConfig:
        """A copy with the instruments of some constructs set (``{construct: spec}``)."""
        constructs = dict(self.constructs)
        for name, spec in choices.items():
            _check_construct(name)
            constructs[name] = replace(constructs[name], instrument=_spec(spec, name))
        return replace(self, constructs=constructs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``ModelConfig.from_dict(c.to_dict()) == c``."""
        return {
            "chromophore": self.chromophore,
            "constructs": {c: {"instrument": s.instrument, "scale": s.scale,
                               "role": s.role, "timing": s.timing}
                           for c, s in self.constructs.items()},
            "kinds": list(self.kinds),
            "lag": self.lag,
            "roi_pairs": self.roi_pairs,
            "measure": self.measure,
            # only with a per-person measure, so that synchrony runs keep their config hash
            **({"person": self.person, "unit": self.unit} if self.person_measure else {}),
        }


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InputError(f"invalid {what} {value!r} in the model configuration: use one of "
                         f"{', '.join(choices)}")
    return str(value)


def _check_construct(name: Any) -> str:
    if name not in CONSTRUCTS:
        raise InputError(f"unknown construct {name!r} in the model configuration: use one of "
                         f"{', '.join(CONSTRUCTS)}")
    return str(name)


def _spec(value: Any, construct: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"the instrument of {construct} must be a name such as gad7 (or "
                         f"gad7@2006), got {value!r}")
    name, _, version = value.strip().partition("@")
    if not name or (("@" in value) and not version):
        raise InputError(f"invalid instrument {value!r} for {construct}: write name or "
                         "name@version")
    return value.strip()


def _parse_constructs(data: Any) -> dict[str, ConstructSource]:
    if not isinstance(data, Mapping):
        raise InputError("constructs must map a construct name to its source, e.g. "
                         '{"symptoms": {"instrument": "gad7", "timing": "pre"}}')
    out = _default_constructs()
    keys = {f.name for f in fields(ConstructSource)}
    for name, spec in data.items():
        _check_construct(name)
        if isinstance(spec, str):
            spec = {"instrument": spec}
        if isinstance(spec, Mapping) and "respondent" in spec:
            warnings.warn(f"the source key 'respondent' of {name} is now 'role'; the old name "
                          f"works until studymgr {REMOVED_IN}", DeprecationWarning, stacklevel=3)
            if "role" in spec and spec["role"] != spec["respondent"]:
                raise InputError(f"{name}: 'role' and 'respondent' (its old name) disagree; "
                                 "give role only")
            spec = {**{k: v for k, v in spec.items() if k != "respondent"},
                    "role": spec["respondent"]}
        if not isinstance(spec, Mapping):
            raise InputError(f"the source of {name} must be an instrument name or a mapping "
                             f"with {', '.join(sorted(keys))}")
        unknown = sorted(set(map(str, spec)) - keys)
        if unknown:
            raise InputError(f"unknown key(s) {', '.join(map(repr, unknown))} for {name}: use "
                             f"{', '.join(sorted(keys))}")
        src = out[name]
        if spec.get("instrument") is not None:
            src = replace(src, instrument=_spec(spec["instrument"], name))
        if spec.get("scale") is not None:
            scale = spec["scale"]
            if not isinstance(scale, str) or not scale:
                raise InputError(f"the scale of {name} must be a scale id, got {scale!r}")
            src = replace(src, scale=scale)
        if "role" in spec:
            src = replace(src, role=_choice(spec["role"], ROLES, f"role of {name}"))
        if "timing" in spec:
            src = replace(src, timing=_choice(spec["timing"], TIMINGS, f"timing of {name}"))
        out[name] = src
    return out


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


@dataclass
class AnalysisTable:
    """The analysis table and how it was made.

    Attributes
    ----------
    frame : DataFrame
        One row per dyad × session (columns in the module docstring).
    sources : dict
        Per construct, the scores used: ``{"instrument", "version", "scale", "role",
        "timing", "n_responses", "n_in_table", "chosen"}`` (``chosen``: ``config`` when named
        in the configuration, ``default`` when it was the only candidate, ``most responses``),
        or None when no such scores exist.
    roi_pairs : dict of str to tuple
        Column of each ROI pair's true synchrony -> ``(therapist ROI, patient ROI)``.
    synchrony_config_hashes : list of str
        Configuration hashes of the synchrony runs whose values entered the table.
    notes : list of str
        Plain-language remarks (choices made, data absent).
    config : ModelConfig
        The configuration used.
    """

    frame: pd.DataFrame
    sources: dict[str, dict[str, Any] | None]
    roi_pairs: dict[str, tuple[str, str]]
    synchrony_config_hashes: list[str]
    notes: list[str]
    config: ModelConfig

    def to_csv(self) -> str:
        """Canonical CSV text: header line, ``\\n`` line ends, floats in shortest round-trip
        form, missing values empty (``pandas.read_csv`` in pandas >= 3 and R's ``read.csv`` read
        the values back exactly)."""
        return table_csv(self.frame)

    @property
    def sha256(self) -> str:
        """sha256 of :meth:`to_csv` (hex): the table's identity in the models run."""
        return table_hash(self.frame)

    @property
    def available(self) -> dict[str, bool]:
        """Which measures have at least one value (``synchrony``, ``synchrony_pseudo`` and
        each construct)."""
        var = self.config.variable
        cols = [var, f"{var}_pseudo", *CONSTRUCTS]
        return {c: bool(self.frame[c].notna().any()) for c in cols}


def table_csv(frame: pd.DataFrame) -> str:
    """Canonical CSV text of an analysis table (see :meth:`AnalysisTable.to_csv`)."""
    return frame.to_csv(index=False, lineterminator="\n")


def table_hash(frame: pd.DataFrame) -> str:
    """sha256 (hex) of the canonical CSV of an analysis table."""
    return hashlib.sha256(table_csv(frame).encode("utf-8")).hexdigest()


def roi_column(roi_t: str, roi_p: str, pseudo: bool = False) -> str:
    """Column name of an ROI pair's synchrony: ``synchrony[_pseudo].<roi_t>.<roi_p>``."""
    return f"synchrony{'_pseudo' if pseudo else ''}.{roi_t}.{roi_p}"


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty and not set(columns) <= set(frame.columns):
        return pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {', '.join(missing)}")
    return frame


def build_analysis_table(sessions: pd.DataFrame, synchrony: pd.DataFrame,
                         scores: pd.DataFrame, config: ModelConfig | Mapping | None = None
                         ) -> AnalysisTable:
    """Build the analysis table from tidy frames.

    Parameters
    ----------
    sessions : DataFrame
        ``dyad, session, kind`` (as :meth:`Study.sessions`): the rows of the table.
    synchrony : DataFrame
        Stored synchrony, tidy, at ``session`` and ``roi`` level (as :meth:`Study.synchrony`):
        ``dyad, session, pair, chromophore, level, therapist_unit, patient_unit, value,
        config_hash``; values are coherence (0-1, unitless).
    scores : DataFrame
        Stored scores, tidy (as :meth:`Study.scores`): ``dyad, session, role, timing,
        instrument, version, construct, scale, value, primary``.
    config : ModelConfig, mapping or None
        Chromophore, construct sources, session kinds, ROI pairs.

    Returns
    -------
    AnalysisTable

    Raises
    ------
    InputError
        A configured instrument or scale that has no scores as configured (the message says
        what exists), or an instrument name with several versions in the scores.
    """
    config = ModelConfig.from_dict(config)
    sessions = _require(sessions, SESSION_COLUMNS, "sessions")
    synchrony = _require(synchrony, SYNCHRONY_COLUMNS, "synchrony")
    scores = _require(scores, SCORE_COLUMNS, "scores")
    notes: list[str] = []

    frame = sessions.loc[sessions["kind"].isin(config.kinds), SESSION_COLUMNS].copy()
    frame["session"] = frame["session"].astype("int64")
    frame = frame.sort_values(["dyad", "session"], kind="stable").reset_index(drop=True)
    keys = ["dyad", "session"]

    # -- synchrony: the session index and each ROI pair, true and pseudo -----------------------
    sync = synchrony.loc[synchrony["chromophore"] == config.chromophore].copy()
    if "measure" in sync.columns:  # the store's frame is already one measure
        sync = sync.loc[sync["measure"] == config.synchrony_measure]
    if not len(sync) and len(synchrony):
        other = sorted(set(synchrony["chromophore"]) - {config.chromophore})
        notes.append(f"no {config.chromophore} synchrony is stored (only "
                     f"{', '.join(other)}): choose that chromophore to model it")
    sync["session"] = sync["session"].astype("int64")
    sync = sync.merge(frame[keys], on=keys, how="inner")
    sync["value"] = pd.to_numeric(sync["value"], errors="coerce").astype(float)
    session_level = sync.loc[sync["level"] == "session"]
    true_idx = session_level.loc[session_level["pair"] == "true"].groupby(keys)["value"].mean()
    pseudo = session_level.loc[session_level["pair"] == "pseudo"].groupby(keys)["value"]
    frame = _join(frame, true_idx.rename("synchrony"), keys)
    frame = _join(frame, pseudo.mean().rename("synchrony_pseudo"), keys)
    frame = _join(frame, pseudo.count().rename("n_pseudo"), keys)
    frame["n_pseudo"] = frame["n_pseudo"].fillna(0).astype("int64")

    used = sync.loc[sync["value"].notna(), "config_hash"].dropna().unique()
    hashes = sorted(map(str, used))
    if len(hashes) > 1:
        notes.append(f"the synchrony values come from {len(hashes)} different synchrony "
                     "configurations (sessions computed with different settings): recompute "
                     "them with one setting before interpreting the models")

    # -- constructs ----------------------------------------------------------------------------
    sources: dict[str, dict[str, Any] | None] = {}
    for construct in CONSTRUCTS:
        values, source = _construct_values(scores, frame[keys], construct,
                                           config.constructs[construct], notes)
        sources[construct] = source
        frame = _join(frame, values.rename(construct), keys)

    # -- ROI pairs -------------------------------------------------------------------------------
    roi = sync.loc[sync["level"] == "roi"]
    if config.roi_pairs == "homologous":
        roi = roi.loc[roi["therapist_unit"] == roi["patient_unit"]]
    pairs = sorted({(str(t), str(p)) for t, p in zip(roi["therapist_unit"], roi["patient_unit"],
                                                      strict=True)})
    roi_pairs: dict[str, tuple[str, str]] = {}
    roi_cols: dict[str, np.ndarray] = {}
    if pairs:
        grouped = roi.groupby(["pair", "therapist_unit", "patient_unit", *keys])["value"].mean()
        index = pd.MultiIndex.from_frame(frame[keys])
        for rt, rp in pairs:
            for pseudo_flag, pair in ((False, "true"), (True, "pseudo")):
                try:
                    part = grouped.loc[(pair, rt, rp)]
                except KeyError:
                    part = pd.Series(dtype=float)
                col = roi_column(rt, rp, pseudo_flag)
                roi_cols[col] = part.reindex(index).to_numpy(dtype=float)
            roi_pairs[roi_column(rt, rp)] = (rt, rp)
    frame = frame[BASE_COLUMNS]
    if config.variable != "synchrony":
        frame = frame.rename(columns={"synchrony": config.variable,
                                      "synchrony_pseudo": f"{config.variable}_pseudo"})
    if roi_cols:
        frame = pd.concat([frame, pd.DataFrame(roi_cols, index=frame.index)], axis=1)

    if frame.empty:
        notes.append("the study has no sessions" + (
            "" if set(config.kinds) == set(KINDS) else f" of kind {', '.join(config.kinds)}"))
    for note in notes:
        logger.info("analysis table: %s", note)
    return AnalysisTable(frame=frame, sources=sources, roi_pairs=roi_pairs,
                         synchrony_config_hashes=hashes, notes=notes, config=config)


def _join(frame: pd.DataFrame, values: pd.Series, keys: list[str]) -> pd.DataFrame:
    """Left-join a Series indexed by ``keys`` as a new column (row order kept)."""
    if values.empty:
        return frame.assign(**{str(values.name): np.nan})
    return frame.merge(values.reset_index(), on=keys, how="left", validate="one_to_one")


def _construct_values(scores: pd.DataFrame, rows: pd.DataFrame, construct: str,
                      source: ConstructSource, notes: list[str]
                      ) -> tuple[pd.Series, dict[str, Any] | None]:
    """Scores standing for one construct, indexed by (dyad, session), and where they came from."""
    who = f"{source.role}-rated, {source.timing}-session"
    empty = pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []],
                                                                    names=["dyad", "session"]))
    rated = scores.loc[(scores["role"] == source.role)
                       & (scores["timing"] == source.timing)]
    chosen = "config"  # named in the configuration; else "default" or "most responses"
    if source.instrument is not None:
        name, _, version = source.instrument.partition("@")
        of_name = scores.loc[scores["instrument"] == name]
        if of_name.empty:
            raise InputError(f"{construct}: instrument {name!r} has no scores in this study; "
                             "enter it first or choose another instrument")
        if version and not (of_name["version"] == version).any():
            raise InputError(f"{construct}: {name} has no scores of version {version} (stored: "
                             f"{', '.join(sorted(set(of_name['version'])))})")
        if not version:
            versions = sorted(set(of_name["version"]))
            if len(versions) > 1:
                raise InputError(f"{construct}: {name} has scores of several versions "
                                 f"({', '.join(versions)}); name one as {name}@VERSION")
            version = versions[0]
        picked = rated.loc[(rated["instrument"] == name) & (rated["version"] == version)]
        if picked.empty:
            given = sorted(set(zip(of_name["role"], of_name["timing"], strict=True)))
            example = {"constructs": {construct: {"instrument": source.instrument,
                                                  "role": given[0][0],
                                                  "timing": given[0][1]}}}
            raise InputError(f"{construct}: {name} has no {who} scores (stored as "
                             f"role/timing: {', '.join(f'{r}/{t}' for r, t in given)}); set "
                             f"the role and timing of {construct} in the configuration, "
                             f"e.g. {json.dumps(example)}")
    else:
        candidates = rated.loc[rated["construct"] == construct]
        if candidates.empty:
            notes.append(f"no {construct.replace('_', ' ')} measure entered ({who})")
            return empty, None
        counts = (candidates.drop_duplicates(["dyad", "session", "instrument", "version"])
                  .groupby(["instrument", "version"]).size())
        # most responses first; ties broken alphabetically (name, then version)
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
        name, version = order[0][0]
        chosen = "default"
        picked = candidates.loc[(candidates["instrument"] == name)
                                & (candidates["version"] == version)]
        if len(order) > 1:
            chosen = "most responses"
            others = ", ".join(f"{n}@{v} ({c})" for (n, v), c in order[1:])
            notes.append(f"{construct}: several {who} instruments; used {name}@{version} with "
                         f"the most responses ({order[0][1]}) rather than {others}; name one in "
                         "the configuration to choose")
    scales = list(dict.fromkeys(picked["scale"]))
    if source.scale is not None:
        if source.scale not in scales:
            raise InputError(f"{construct}: {name}@{version} has no scale {source.scale!r} "
                             f"(scales: {', '.join(scales)})")
        scale = source.scale
    else:
        primary = picked.loc[picked["primary"].astype(bool), "scale"]
        scale = str(primary.iloc[0]) if len(primary) else scales[0]
    values = picked.loc[picked["scale"] == scale].copy()
    values["session"] = values["session"].astype("int64")
    values["value"] = pd.to_numeric(values["value"], errors="coerce").astype(float)
    series = values.groupby(["dyad", "session"])["value"].mean()
    in_table = series.reindex(pd.MultiIndex.from_frame(rows)).notna().sum()
    info = {"instrument": name, "version": version, "scale": scale,
            "role": source.role, "timing": source.timing,
            "n_responses": int(series.notna().sum()), "n_in_table": int(in_table),
            "chosen": chosen}
    return series, info
