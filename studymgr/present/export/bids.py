"""The study's recordings as a BIDS dataset, written with MNE-BIDS.

Layout (BIDS 1.9, fNIRS extension):

- one subject per person (``sub-<code>``, the pseudonymous code with anything but letters and
  digits removed), one session per session number (``ses-<n>``); the task is the session kind
  (``task-therapy`` or ``task-interview``). A person in several dyads (a therapist treating
  several patients) has a session *n* with each; the ``acq-<dyad>`` entity keeps those files
  apart, as in the study's own data folder;
- recordings in other formats (NIRx, Hitachi, BOXY, FIF) are converted to SNIRF first (BIDS
  stores fNIRS as SNIRF); EEG recordings (EDF, BDF, BrainVision, EEGLAB, FIF) are written as
  BrainVision under ``eeg/`` (BIDS EEG extension): its header has no field for a name or birth
  date, unlike EDF's patient field, and FIF is not a BIDS EEG format;
- the SNIRF files are copied by MNE-BIDS and then rewritten without identifying header fields:
  of ``/nirs/metaDataTags`` only technical tags are kept (units, measurement date and time,
  manufacturer, software) and ``SubjectID`` becomes the BIDS subject label; tags such as
  ``firstName``, ``lastName``, ``DateOfBirth``, ``SubjectAge`` or ``sex`` are left out (the file
  is rebuilt, so the removed bytes are not left behind in the HDF5 file);
- ``*_events.tsv``: the events read from the recording plus the session's events (CSV, rater and
  consensus events, on both recordings of the session), with extra columns ``rater`` and
  ``source``; onsets are rounded to a sample by MNE-BIDS;
- ``participants.tsv`` with ``role`` and ``dyad`` (a therapist in several dyads lists them,
  comma-separated); ``sub-*/sub-*_sessions.tsv`` with the session number, kind, dyad(s) and date;
  ``sub-*/ses-*/sub-*_ses-*_scans.tsv`` with ``dyad``, ``role`` and ``source_sha256`` (the hash of
  the recording stored in the study);
- ``phenotype/<instrument>.tsv`` (+ ``.json``): one row per response with ``participant_id``
  (who answered), ``session_id``, ``dyad``, ``role``, ``timing``, the raw item values
  (``item_<id>``), ``missing_codes`` and the scale scores (``score_<scale>``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from studymgr.errors import InputError

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

# SNIRF metaDataTags kept in exported files: technical, never about the person.
KEEP_SNIRF_TAGS = frozenset({
    "SubjectID", "MeasurementDate", "MeasurementTime", "LengthUnit", "TimeUnit",
    "FrequencyUnit", "ManufacturerName", "Model", "AppName", "SnirfDraft", "MNE_coordFrame",
})
SUMMARY_COLUMNS = ["path", "kind", "dyad", "session", "role", "detail"]


def bids_label(code: str) -> str:
    """A BIDS label (letters and digits only) from a study code.

    Raises
    ------
    InputError
        Nothing is left of the code.
    """
    label = re.sub(r"[^A-Za-z0-9]", "", str(code))
    if not label:
        raise InputError(f"code {code!r} has no letters or digits: it cannot be a BIDS label")
    return label


def _labels(codes: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for code in codes:
        label = bids_label(code)
        if label in seen and seen[label] != code:
            raise InputError(f"{what} codes {seen[label]!r} and {code!r} both become BIDS label "
                             f"{label!r} (BIDS labels are letters and digits only): rename one")
        seen[label] = code
        out[code] = label
    return out


def strip_snirf(path: str | os.PathLike[str], subject: str) -> list[str]:
    """Rewrite a SNIRF file without identifying metadata tags.

    Every group and dataset is copied to a new file except the tags of ``metaDataTags`` not in
    :data:`KEEP_SNIRF_TAGS`; ``SubjectID`` is set to ``subject``. The new file replaces the old
    one atomically.

    Returns
    -------
    list of str
        The tags removed.
    """
    import h5py

    path = Path(path)
    removed: list[str] = []
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key in src:
                item = src[key]
                if isinstance(item, h5py.Group) and key.startswith("nirs"):
                    group = dst.create_group(key)
                    for akey, avalue in item.attrs.items():
                        group.attrs[akey] = avalue
                    for child in item:
                        if child == "metaDataTags":
                            removed += _copy_tags(item[child], group, subject)
                        else:
                            src.copy(item[child], group, name=child)
                else:
                    src.copy(item, dst, name=key)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sorted(set(removed))


def _copy_tags(tags: Any, parent: Any, subject: str) -> list[str]:
    out = parent.create_group("metaDataTags")
    removed = []
    for tag in tags:
        if tag not in KEEP_SNIRF_TAGS:
            removed.append(tag)
            continue
        if tag == "SubjectID":
            old = tags[tag]
            data = np.bytes_(subject.encode("utf-8"))
            if old.shape:
                out.create_dataset(tag, data=np.array([subject.encode("utf-8")],
                                                      dtype=old.dtype))
            else:
                out.create_dataset(tag, data=data)
        else:
            tags.copy(tags[tag], out, name=tag)
    if "SubjectID" not in tags:
        out.create_dataset("SubjectID", data=np.bytes_(subject.encode("utf-8")))
    return removed


def _tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _write_tsv(frame: pd.DataFrame, path: Path) -> None:
    frame = frame.astype(object).where(frame.notna(), "n/a")
    frame.to_csv(path, sep="\t", index=False, lineterminator="\n")


def _write_json(data: Any, path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_bids(study: Study, root: Path, progress: Callable[[int, int], None] | None = None
               ) -> pd.DataFrame:
    """Write the study's recordings, events and questionnaires under an empty folder ``root``.

    Parameters
    ----------
    study : Study
    root : pathlib.Path
        An existing, empty folder.
    progress : callable, optional
        Called as ``progress(done, total)`` after each recording.

    Returns
    -------
    DataFrame
        ``path, kind, dyad, session, role, detail``: one row per file written for a recording
        (``kind`` ``recording``), per phenotype table and per dataset-level file.
    """
    import mne
    import mne_bids

    from studymgr._version import __version__

    scans = study.scans()
    sessions = study.sessions()
    dyads = study.dyads()
    people = study.people()
    if scans.empty:
        raise InputError("the study has no recordings to export: import scans first "
                         "('studymgr scans import')")
    subjects = _labels(sorted(people["code"]), "person")
    _labels(sorted(dyads["dyad"]), "dyad")
    person_dyads: dict[str, list[str]] = {}
    for d in dyads.itertuples(index=False):
        person_dyads.setdefault(d.therapist, []).append(d.dyad)
        person_dyads.setdefault(d.patient, []).append(d.dyad)
    kind_of = {(s.dyad, int(s.session)): s.kind for s in sessions.itertuples(index=False)}
    date_of = {(s.dyad, int(s.session)): s.date for s in sessions.itertuples(index=False)}
    events = study.events()
    rows: list[dict[str, Any]] = []
    scan_extra: dict[Path, list[dict[str, Any]]] = {}
    converted = tempfile.TemporaryDirectory(prefix="studymgr-bids-")
    for i, scan in enumerate(scans.itertuples(index=False), start=1):
        dyad, number, role, person = scan.dyad, int(scan.session), scan.role, scan.person
        datatype = "eeg" if scan.modality == "eeg" else "nirs"
        raw = study.load_scan(dyad, number, role, scan.modality, preload=False)
        if datatype == "eeg":
            # every EEG format is written as BrainVision: its header has no field for a name
            # or birth date (EDF's has), and FIF is not a BIDS EEG format
            raw = _as_brainvision(raw, Path(converted.name) / f"{i}.vhdr")
        elif scan.format != "snirf":
            # BIDS stores fNIRS as SNIRF: other formats are converted (MNE-NIRS writer)
            raw = _as_snirf(raw, Path(converted.name) / f"{i}.snirf")
        raw.info["subject_info"] = None  # MNE-BIDS would derive age/sex from it
        own = raw.annotations
        extra = events.loc[(events["dyad"] == dyad) & (events["session"] == number)
                           & (events["source"] != "recording")]
        onsets = list(own.onset) + [float(v) for v in extra["onset_s"]]
        durations = list(own.duration) + [float(v) for v in extra["duration_s"]]
        labels = list(own.description) + [str(v) for v in extra["label"]]
        extras = ([{"rater": "n/a", "source": "recording"} for _ in own]
                  + [{"rater": "n/a" if pd.isna(r) else str(r), "source": str(s)}
                     for r, s in zip(extra["rater"], extra["source"], strict=True)])
        ann = mne.Annotations(onsets, durations, labels, orig_time=own.orig_time,
                              extras=extras if extras else None)
        raw.set_annotations(ann)
        acq = bids_label(dyad) if len(person_dyads.get(person, [])) > 1 else None
        bids_path = mne_bids.BIDSPath(subject=subjects[person], session=str(number),
                                      task=kind_of[(dyad, number)], acquisition=acq,
                                      datatype=datatype, root=root)
        with warnings.catch_warnings():
            # line frequency and channel-position notes: nothing the user can act on here
            warnings.simplefilter("ignore")
            mne_bids.write_raw_bids(raw, bids_path, overwrite=False, verbose="error")
        removed = strip_snirf(bids_path.fpath, subjects[person]) if datatype == "nirs" else []
        scans_tsv = (root / f"sub-{subjects[person]}" / f"ses-{number}"
                     / f"sub-{subjects[person]}_ses-{number}_scans.tsv")
        scan_extra.setdefault(scans_tsv, []).append({
            "filename": f"{datatype}/{bids_path.fpath.name}", "dyad": dyad, "role": role,
            "source_sha256": scan.sha256})
        detail = f"{len(ann)} events"
        if removed:
            detail += f"; removed header tags {', '.join(removed)}"
        rows.append({"path": bids_path.fpath.relative_to(root).as_posix(),
                     "kind": "recording", "dyad": dyad, "session": number, "role": role,
                     "detail": detail})
        if progress:
            progress(i, len(scans))
    converted.cleanup()
    _scans_tables(scan_extra)
    _events_sidecars(root)
    _participants(root, people, subjects, person_dyads)
    _sessions_tables(root, scans, subjects, person_dyads, kind_of, date_of)
    rows += _phenotype(study, root, subjects)
    mne_bids.make_dataset_description(
        path=str(root), name=study.name, dataset_type="raw", overwrite=True,
        generated_by=[{"Name": "studymgr", "Version": __version__,
                       "Description": "export bids"}], verbose="error")
    _readme(root, study.name)
    for name in ("dataset_description.json", "participants.tsv", "participants.json",
                 "README"):
        rows.append({"path": name, "kind": "dataset", "dyad": None, "session": None,
                     "role": None, "detail": ""})
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    frame["session"] = frame["session"].astype("Int64")
    n_eeg = int((scans["modality"] == "eeg").sum())
    frame.attrs["notes"] = ([f"{n_eeg} EEG recording(s) written as BrainVision (a BIDS EEG "
                             "format without personal header fields)"] if n_eeg else [])
    return frame


def _as_brainvision(raw: Any, path: Path) -> Any:
    """An EEG recording written as BrainVision (pybv, through MNE) and read back."""
    import mne

    raw.load_data()
    raw.info["subject_info"] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit and resolution notes of the writer
            mne.export.export_raw(path, raw, fmt="brainvision", overwrite=True,
                                  verbose="error")
    except Exception as exc:  # the writer raises several types for what it cannot store
        raise InputError(f"cannot convert {raw.filenames[0]} to BrainVision for BIDS ({exc})"
                         ) from None
    return mne.io.read_raw_brainvision(path, preload=False, verbose="error")


def _as_snirf(raw: Any, path: Path) -> Any:
    """The recording written as SNIRF and read back (not preloaded, as MNE-BIDS needs)."""
    import mne
    from mne_nirs.io import write_raw_snirf

    raw.load_data()
    try:
        write_raw_snirf(raw, str(path))
    except Exception as exc:  # the writer raises several types for what it cannot store
        raise InputError(f"cannot convert {raw.filenames[0]} to SNIRF for BIDS ({exc})") from None
    return mne.io.read_raw_snirf(str(path), preload=False, verbose="error")


def _scans_tables(extra: dict[Path, list[dict[str, Any]]]) -> None:
    for path, entries in extra.items():
        table = _tsv(path)
        add = pd.DataFrame(entries)
        table = table.drop(columns=[c for c in ("dyad", "role", "source_sha256") if c in table])
        table = table.merge(add, on="filename", how="left")
        _write_tsv(table, path)
        _write_json({
            "dyad": {"Description": "Dyad (therapist and patient) of the session recorded"},
            "role": {"Description": "Role of the person recorded", "Levels": {
                "therapist": "the therapist", "patient": "the patient"}},
            "source_sha256": {"Description": "SHA-256 of the recording as stored in the study "
                                             "(before header fields were removed)"},
        }, path.with_suffix(".json"))


def _events_sidecars(root: Path) -> None:
    for path in root.rglob("*_events.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["rater"] = {"Description": "Code of the rater who marked the event (n/a for "
                                        "events from the recording or a CSV)"}
        data["source"] = {"Description": "Where the event comes from", "Levels": {
            "recording": "the recording file", "csv": "an imported CSV",
            "rater": "one rater's marks", "consensus": "the raters' consensus"}}
        _write_json(data, path)


def _participants(root: Path, people: pd.DataFrame, subjects: dict[str, str],
                  person_dyads: dict[str, list[str]]) -> None:
    path = root / "participants.tsv"
    table = _tsv(path)
    role = {f"sub-{subjects[p.code]}": p.role for p in people.itertuples(index=False)}
    dyad = {f"sub-{subjects[p]}": ",".join(d) for p, d in person_dyads.items()}
    table["role"] = table["participant_id"].map(role)
    table["dyad"] = table["participant_id"].map(dyad)
    _write_tsv(table, path)
    side = root / "participants.json"
    data = json.loads(side.read_text(encoding="utf-8")) if side.exists() else {}
    data["role"] = {"Description": "Role in the study", "Levels": {
        "therapist": "therapist", "patient": "patient"}}
    data["dyad"] = {"Description": "Dyad(s) the person belongs to (comma-separated when a "
                                   "therapist treats several patients)"}
    _write_json(data, side)


def _sessions_tables(root: Path, scans: pd.DataFrame, subjects: dict[str, str],
                     person_dyads: dict[str, list[str]], kind_of: dict, date_of: dict) -> None:
    for person, group in scans.groupby("person"):
        label = subjects[str(person)]
        rows = []
        for number, part in group.groupby("session"):
            dyads = sorted(set(part["dyad"]))
            dates = sorted({date_of[(d, int(number))] for d in dyads} - {None})
            kinds = sorted({kind_of[(d, int(number))] for d in dyads})
            rows.append({"session_id": f"ses-{int(number)}", "session": int(number),
                         "kind": ",".join(kinds), "dyad": ",".join(dyads),
                         "acq_time": f"{dates[0]}T00:00:00" if len(dates) == 1 else None})
        path = root / f"sub-{label}" / f"sub-{label}_sessions.tsv"
        _write_tsv(pd.DataFrame(rows), path)
        _write_json({
            "session": {"Description": "Session number within the dyad"},
            "kind": {"Description": "Kind of session", "Levels": {
                "therapy": "therapy session", "interview": "assessment interview"}},
            "dyad": {"Description": "Dyad(s) with a session of this number (comma-separated for a "
                                    "therapist in several dyads; see acq-<dyad> in file names)"},
            "acq_time": {"Description": "Date of the session (n/a when the session number "
                                        "spans several dyads on different dates)"},
        }, path.with_suffix(".json"))


def _phenotype(study: Study, root: Path, subjects: dict[str, str]) -> list[dict[str, Any]]:
    items = study.items()
    scores = study.scores()
    if items.empty:
        return []
    folder = root / "phenotype"
    folder.mkdir()
    dyads = study.dyads().set_index("dyad")
    rows = []
    keys = ["dyad", "session", "role", "timing"]
    for (name, version), part in items.groupby(["instrument", "version"], sort=True):
        several = items.loc[items["instrument"] == name, "version"].nunique() > 1
        tool = f"{name}-{version}" if several else str(name)
        values = part.assign(cell=[("n/a" if pd.isna(v) else f"{v:g}") for v in part["value"]])
        wide = values.pivot_table(index=keys, columns="item", values="cell", aggfunc="first")
        order = list(dict.fromkeys(part.sort_values("position")["item"]))
        wide = wide[order]
        wide.columns = [f"item_{c}" for c in wide.columns]
        missing = (part.loc[part["missing"].notna()]
                   .assign(code=lambda f: "item_" + f["item"] + ":" + f["missing"])
                   .groupby(keys)["code"].agg(",".join))
        own_scores = scores.loc[(scores["instrument"] == name) & (scores["version"] == version)]
        score_wide = own_scores.pivot_table(index=keys, columns="scale", values="value",
                                            aggfunc="first", dropna=False)
        score_wide.columns = [f"score_{c}" for c in score_wide.columns]
        table = wide.join(missing.rename("missing_codes"), how="left").join(score_wide,
                                                                            how="left")
        table = table.reset_index()
        person = [dyads.loc[d, r] for d, r in zip(table["dyad"], table["role"],
                                                  strict=True)]
        table.insert(0, "participant_id", [f"sub-{subjects[p]}" for p in person])
        table.insert(1, "session_id", [f"ses-{int(n)}" for n in table["session"]])
        table = table.drop(columns="session")
        path = folder / f"{tool}.tsv"
        _write_tsv(table, path)
        side = {
            "MeasurementToolMetadata": {"Description": f"{name} version {version} (scoring "
                                                       "key in the study; item wording not "
                                                       "included)"},
            "session_id": {"Description": "Session of the dyad the questionnaire belongs to"},
            "dyad": {"Description": "Dyad of the session"},
            "role": {"Description": "Who answered", "Levels": {
                "therapist": "the therapist", "patient": "the patient"}},
            "timing": {"Description": "When", "Levels": {"pre": "before the session",
                                                          "post": "after the session"}},
            "missing_codes": {"Description": "Items without a value and why (item:code; NA not "
                                             "administered, REF refused, NR no response)"},
        }
        for item in order:
            side[f"item_{item}"] = {"Description": f"Item {item}: raw value (not "
                                                   "reverse-keyed)"}
        for col in score_wide.columns:
            side[col] = {"Description": f"Scale score {col.removeprefix('score_')} as computed "
                                        "by the study's scoring key"}
        _write_json(side, path.with_suffix(".json"))
        rows.append({"path": f"phenotype/{tool}.tsv", "kind": "phenotype", "dyad": None,
                     "session": None, "role": None, "detail": f"{len(table)} responses"})
    return rows


def _readme(root: Path, name: str) -> None:
    text = f"""# {name}: longitudinal therapist-patient hyperscanning (fNIRS, EEG)

Exported by studymgr. Each person is a subject (sub-<code>; codes are pseudonymous); session
numbers are the dyad's session numbers (ses-<n>). A therapist who treats several patients has a
session n with each of them: the acq-<dyad> entity names the dyad in those file names, and the
scans.tsv of each session lists the dyad and role of every recording. participants.tsv gives each
person's role and dyad(s); phenotype/ holds the questionnaires (one row per response; the
participant is the one who answered).

The SNIRF files are the recordings as stored in the study, rewritten without identifying header
fields (names, birth date, age, sex); EEG recordings are written as BrainVision (no personal
header fields); the original SHA-256 is in scans.tsv (source_sha256).
Events: the recording's own events plus the session's rater, consensus and CSV events (columns
rater and source); onsets are rounded to the nearest sample at or before the event.
"""
    (root / "README").write_text(text, encoding="utf-8")
