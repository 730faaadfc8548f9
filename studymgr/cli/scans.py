"""``studymgr scans ...``: session recordings (fNIRS) — import, list, quality, pairs, check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from studymgr.cli import _options as opt
from studymgr.cli._common import Context, emit, output_options, pass_ctx
from studymgr.errors import InputError
from studymgr.ids import ROLES

LIST_TABLE = ["dyad", "session", "role", "person", "format", "sfreq", "n_channels", "duration_s",
              "meas_date", "usable_share", "cardiac_hz", "n_events", "path"]


@click.group()
def scans() -> None:
    """Import, list and check the fNIRS recordings of sessions."""


_sci_threshold = click.option("--sci-threshold", type=click.FloatRange(0, 1), default=0.5,
                              show_default=True,
                              help="Minimum scalp coupling index of a usable channel.")
_role = click.option("--role", type=click.Choice(ROLES), required=True,
                     help="Whose recording it is.")


@scans.command("import")
@click.argument("dyad")
@click.argument("session", metavar="N")
@click.argument("file", type=click.Path(path_type=Path))
@_role
@click.option("--format", "fmt",
              type=click.Choice(["snirf", "nirx", "hitachi", "boxy", "fif", "edf", "bdf",
                                 "brainvision", "eeglab"]),
              default=None, help="Force the format [default: from the file name].")
@click.option("--modality", type=click.Choice(["nirs", "eeg"]), default="nirs",
              show_default=True, help="fNIRS or EEG recording.")
@click.option("--replace", is_flag=True, help="Replace the session's recording for this role.")
@opt.reason("--replace")
@_sci_threshold
@pass_ctx
def scans_import(obj: Context, dyad: str, session: str, file: Path, role: str, fmt: str | None,
                 modality: str, replace: bool, reason: str | None, sci_threshold: float) -> None:
    """Import one person's recording of session N of DYAD.

    FILE is a SNIRF file, a NIRx folder (or its .hdr), a Hitachi .csv, a BOXY .txt or a .fif
    file with fNIRS channels. It is read with MNE, checked, hashed and copied into the data
    folder (sub-<person>/ses-<n>/nirs/...); its channels, quality (scalp coupling index, flat
    and saturated channels, cardiac peak) and annotations (as events) are stored. Importing the
    same file again does nothing.

    With --modality eeg, FILE is an EDF, BDF or FIF file, or a BrainVision or EEGLAB folder
    (or its .vhdr / .set file; the folder must hold only that recording), stored under
    sub-<person>/ses-<n>/eeg/; its quality is flat and saturated channels, line noise at
    50/60 Hz and the alpha peak.

    \b
    Examples:
        studymgr scans import D01 1 --role therapist T01_s1.snirf
        studymgr scans import D01 1 --role patient recordings/2025-03-03_P01/
        studymgr scans import D01 1 --role patient fixed.snirf --replace --reason "re-export"
        studymgr scans import D01 1 --role therapist T01_s1.edf --modality eeg
    """
    from studymgr.present.text import describe_recording

    result = obj.study().import_scan(dyad, session, role, file, modality=modality, fmt=fmt,
                                     replace=replace, reason=reason,
                                     sci_threshold=sci_threshold)
    where = f"{dyad}/{result['session']} {role}"
    if result["outcome"] == "skipped":
        click.echo(f"Already stored for {where} (same SHA-256): nothing to do")
        return
    click.echo(f"{result['outcome'].capitalize()} {where}: {result['path']}")
    click.echo("  " + describe_recording(result))
    if result["pair_status"] is not None:
        click.echo(f"  pair: {result['pair_status']}"
                   + ("" if result["pair_status"] == "ok" else " (see 'studymgr scans pairs')"))


@scans.command("import-dir")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--mapping", type=click.Path(path_type=Path), default=None,
              help="CSV with columns path,dyad,session,role (any layout).")
@_sci_threshold
@output_options
@pass_ctx
def scans_import_dir(obj: Context, folder: Path, mapping: Path | None, sci_threshold: float,
                     fmt: str) -> None:
    """Import every recording in FOLDER, each file all-or-nothing, and print a summary.

    Naming pattern without --mapping (BIDS): FOLDER/sub-<person>/ses-<n>/nirs/ holding *.snirf
    files or NIRx folders. The person's code gives the role and the dyad; a therapist in several
    dyads needs the dyad in the name, e.g. sub-T01_ses-1_task-therapy_acq-D02_nirs.snirf.
    Sidecar files (.json, .tsv) are ignored. With --mapping, exactly the listed files are
    imported (paths relative to FOLDER).

    Each file is imported, skipped (already stored, same hash) or refused (with the reason).
    Exit status: 0 when nothing was refused, 2 when any file was refused.

    \b
    Examples:
        studymgr scans import-dir bids/
        studymgr scans import-dir exports/ --mapping exports/map.csv
        studymgr scans import-dir bids/ --json > import-report.json
    """
    study = obj.study()
    bar = None

    def progress(index: int, total: int, path: str) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Importing", file=sys.stderr,
                                    show_pos=True)
            bar.__enter__()
        elif index:
            bar.update(1)

    try:
        summary = study.import_scans_dir(folder, mapping=mapping, sci_threshold=sci_threshold,
                                         progress=progress)
    finally:
        if bar is not None:
            bar.update(1)
            bar.__exit__(None, None, None)
    emit(summary, fmt, empty=f"No recordings found in {folder} (expected "
                             "sub-<person>/ses-<n>/nirs/*.snirf, or use --mapping).")
    counts = summary["outcome"].value_counts()
    n_refused = int(counts.get("refused", 0))
    if fmt == "table":
        click.echo(f"{int(counts.get('imported', 0))} imported, "
                   f"{int(counts.get('skipped', 0))} skipped, {n_refused} refused")
    if n_refused:
        raise InputError(f"{n_refused} of {len(summary)} recording(s) refused (reasons in the "
                         "summary); nothing was stored for them")


@scans.command("list")
@click.argument("dyad", required=False)
@output_options
@pass_ctx
def scans_list(obj: Context, dyad: str | None, fmt: str) -> None:
    """List stored recordings with their quality (usable share, cardiac peak).

    \b
    Examples:
        studymgr scans list
        studymgr scans list D01 --csv
    """
    frame = obj.study().scans(dyad)
    if fmt == "table":
        frame = frame[LIST_TABLE]
    emit(frame, fmt, empty="No recordings yet: import one with 'studymgr scans import'.")


@scans.command("quality")
@click.argument("dyad")
@click.argument("session", metavar="N")
@_role
@output_options
@pass_ctx
def scans_quality(obj: Context, dyad: str, session: str, role: str, fmt: str) -> None:
    """Show the quality of every channel of one recording (SCI, flat, saturated, usable).

    \b
    Examples:
        studymgr scans quality D01 1 --role patient
        studymgr scans quality D01 1 --role therapist --csv > quality.csv
    """
    emit(obj.study().scan_quality(dyad, session, role), fmt)


@scans.command("pairs")
@click.argument("dyad", required=False)
@output_options
@pass_ctx
def scans_pairs(obj: Context, dyad: str | None, fmt: str) -> None:
    """Show whether each session's two recordings can be analysed together.

    Status ok, warning (e.g. different sampling rates: resampled at analysis time; missing
    measurement dates: a common start is assumed) or error (no overlap in time).

    \b
    Examples:
        studymgr scans pairs
        studymgr scans pairs D01 --json
    """
    emit(obj.study().scan_pairs(dyad), fmt,
         empty="No session has both recordings yet.")


@scans.command("check")
@click.option("--clean", is_flag=True,
              help="Remove files left by interrupted imports (never a stored recording).")
@output_options
@pass_ctx
def scans_check(obj: Context, clean: bool, fmt: str) -> None:
    """Re-hash every stored recording and look for leftovers in the data folder.

    Exit status 2 when a recording is missing or changed, or leftovers remain.

    \b
    Examples:
        studymgr scans check
        studymgr scans check --clean
    """
    frame = obj.study().check_scans(clean=clean)
    emit(frame, fmt, empty="No recordings stored.")
    bad = frame[frame["status"].isin(["missing", "changed"])
                | (frame["status"].isin(["orphan", "partial"]) & (not clean))]
    if len(bad):
        hint = "" if clean else " (--clean removes leftovers)"
        raise InputError(f"{len(bad)} problem(s) in the data folder{hint}")


@scans.command("split")
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("outdir", type=click.Path(path_type=Path))
@pass_ctx
def scans_split(obj: Context, file: Path, outdir: Path) -> None:
    """Split a SNIRF file holding several people (/nirs1, /nirs2) into one file per person.

    The parts are written to OUTDIR as <name>_nirs1.snirf, <name>_nirs2.snirf, ...; import each
    with its --role.

    \b
    Example:
        studymgr scans split pair.snirf split/
    """
    from studymgr.io.recordings import split_snirf

    for path in split_snirf(file, outdir):
        click.echo(f"Wrote {path}")


COMMANDS = [scans]
