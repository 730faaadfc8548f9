"""``studymgr export ...``: publication tables, tidy data and BIDS."""

from __future__ import annotations

from pathlib import Path

import click

from studymgr.cli import _options as opt
from studymgr.cli._common import Context, ProgressBars, emit, output_options, pass_ctx


@click.group()
def export() -> None:
    """Export publication tables, tidy data (optionally de-identified) and BIDS."""


_OUT = click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                    help="Folder to create (must not exist or be empty).")
_OVERWRITE = click.option("--overwrite", is_flag=True,
                          help="Replace the folder if it exists (only once the new one is "
                               "complete).")


@export.command("tables")
@_OUT
@click.option("--format", "formats", default="csv,md,tex,docx,html", show_default=True,
              metavar="LIST", help="Comma-separated: csv, md, tex, docx, html.")
@_OVERWRITE
@output_options
@pass_ctx
def export_tables_cmd(obj: Context, out: Path, formats: str, overwrite: bool, fmt: str) -> None:
    """Write APA-style publication tables of the stored results.

    Tables: descriptives per session (M, SD, n), one per stored model (estimates, SE, 95% CI,
    Satterthwaite df, t, p; random-effect variances, ICC, marginal and conditional R², N dyads
    and observations), repeated-measures correlations and growth per ROI pair. When stored:
    event-locked synchrony around moments of interest (per session, each label's mean
    coherence, moments and permutation p, and the rest of the session), EEG coupling (PLV,
    AEC per band) and frontal alpha asymmetry per condition (whole session, each label, rest).
    Numbers as journals print them: p < .001, no leading zero for p, r and R², two decimals
    (more where the standard error needs them). Tables that cannot be made are listed with
    the reason.

    CSV gives one file per table; md, tex (a complete LaTeX document using booktabs), docx
    (Word) and html give one document with every table.

    \b
    Examples:
        studymgr export tables --out tables
        studymgr export tables --out tables --format docx,tex
        studymgr export tables --out tables --overwrite --json
    """
    from studymgr.present.export import export_tables

    frame = export_tables(obj.study(), out, formats, overwrite=overwrite)
    emit(frame, fmt)
    if fmt == "table":
        click.echo(f"\nWrote {len(frame)} file(s) to {out}.")
        for note in frame.attrs.get("notes", []):
            click.echo(f"  - {note}")


@export.command("data")
@_OUT
@click.option("--deidentify", is_flag=True,
              help="Re-code dyad, person and rater codes, shift each dyad's dates by a random "
                   "number of days, drop file hashes, paths and free text.")
@opt.seed("the re-coding and date shifts (with --deidentify; keep it secret) [default: a "
          "fresh random seed, not stored]", default=None)
@_OVERWRITE
@output_options
@pass_ctx
def export_data_cmd(obj: Context, out: Path, deidentify: bool, seed: int | None,
                    overwrite: bool, fmt: str) -> None:
    """Write the tidy long tables as CSV files with a data dictionary.

    Files: dyads, sessions, scores, items, scans, synchrony (session, ROI and channel level),
    synchrony_tests, events, analysis_table (as the models see it), model_terms, model_fits,
    eventlocked (event-locked synchrony around moments of interest), eeg_coupling and
    eeg_asymmetry (each written with its header even when empty); data_dictionary.csv (every
    column: type, unit, description, missing values) and MANIFEST.sha256 (check with
    'sha256sum -c MANIFEST.sha256').

    With --deidentify the codes become dyad-1, therapist-1, patient-1, ... (numbered in a
    random order) and every date of a dyad moves by the same number of days (intervals are
    kept); the mapping is not written anywhere.

    \b
    Examples:
        studymgr export data --out data
        studymgr export data --out shared --deidentify
        studymgr export data --out shared --deidentify --seed 81723 --overwrite
    """
    from studymgr.present.export import export_data

    frame = export_data(obj.study(), out, deidentify=deidentify, seed=seed,
                        overwrite=overwrite)
    emit(frame, fmt)
    if fmt == "table":
        click.echo(f"\nWrote {len(frame)} file(s) to {out}"
                   + (" (de-identified)." if deidentify else "."))


@export.command("bids")
@_OUT
@_OVERWRITE
@output_options
@pass_ctx
def export_bids_cmd(obj: Context, out: Path, overwrite: bool, fmt: str) -> None:
    """Write the recordings, events and questionnaires as a BIDS dataset (MNE-BIDS).

    One subject per person (sub-<code>), ses-<n> per session number, task-therapy or
    task-interview; acq-<dyad> keeps apart the files of a therapist in several dyads. SNIRF
    files are copied without identifying header fields (names, birth date, age, sex);
    events.tsv holds the recording's and the session's events (with rater and source);
    participants.tsv, sessions.tsv and scans.tsv carry role and dyad; questionnaires go to
    phenotype/. Each recording's hash is checked before it is exported.

    \b
    Examples:
        studymgr export bids --out bids
        studymgr export bids --out bids --overwrite
        studymgr export bids --out bids --json
    """
    from studymgr.present.export import export_bids

    with ProgressBars("Exporting recordings") as bar:
        frame = export_bids(obj.study(), out, overwrite=overwrite, progress=bar.single)
    emit(frame, fmt)
    if fmt == "table":
        n = int((frame["kind"] == "recording").sum())
        click.echo(f"\nWrote a BIDS dataset with {n} recording(s) to {out}.")
        for note in frame.attrs.get("notes", []):
            click.echo(f"  - {note}")


COMMANDS = [export]
