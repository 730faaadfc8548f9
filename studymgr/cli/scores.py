"""``studymgr scores ...``: questionnaire entry, import, amendments, listings, reliability."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import click
import pandas as pd

from studymgr._aliases import REMOVED_IN
from studymgr.cli import _options as opt
from studymgr.cli._common import Context, emit, output_options, pass_ctx, render_table
from studymgr.compute.instruments import Instrument
from studymgr.errors import InputError
from studymgr.ids import ROLES, TIMINGS
from studymgr.runs import entry

T = TypeVar("T")

#: Files with at least this many rows get a progress bar on stderr.
PROGRESS_MIN_ROWS = 500

_ITEMS_HELP = ("Item values in order, comma-separated (e.g. 3,2,1,0,3,2,1), or by item id "
               "(1=3,2=2,...). Missing answers explicitly: NA (or an empty value), REF "
               "(refused), NR (not readable). Without --items you are asked item by item.")


@click.group()
def scores() -> None:
    """Enter, import, amend and list questionnaire responses and their scores."""


def _prompt_items(inst: Instrument) -> list[str]:
    codes = "/".join(inst.missing_codes)
    click.echo(f"{inst.name} {inst.version}: {len(inst.items)} items; type each value, or "
               f"{codes} for a missing answer.", err=True)

    def checker(item_id: str):
        def check(raw: str) -> str:
            try:
                return entry.check_item_value(inst, item_id, raw)
            except InputError as exc:  # click re-asks after a UsageError
                raise click.UsageError(str(exc)) from None

        return check

    return [click.prompt(f"item {it.id} ({it.describe()})", value_proc=checker(it.id), err=True)
            for it in inst.items]


def _role_option(role: str | None, respondent: str | None) -> str:
    """``--role``, or its old name ``--respondent`` (hidden; works until studymgr 0.3)."""
    if respondent is not None:
        if role is not None and role != respondent:
            raise click.UsageError("--role and --respondent (its old name) disagree: give "
                                   "--role only")
        click.echo(f"Warning: --respondent is now --role; the old name works until studymgr "
                   f"{REMOVED_IN}", err=True)
        role = respondent
    if role is None:
        raise click.MissingParameter(param_hint="'--role'", param_type="option")
    return role


def _enter_or_amend(obj: Context, dyad: str, session: str, instrument: str, role: str,
                    timing: str | None, items: str | None, fmt: str,
                    reason: str | None = None) -> None:
    study = obj.study()
    amend = reason is not None
    if amend and not reason.strip():
        raise InputError("amending needs a reason (--reason \"...\"), kept in the audit trail")
    if items is None:
        target = entry.prepare_entry(study, dyad, session, instrument, role=role,
                                     timing=timing, amend=amend)
        values: object = _prompt_items(target.instrument.instrument)
    else:
        values = items
    if amend:
        frame = entry.amend_response(study, dyad, session, instrument, role=role,
                                     timing=timing, items=values, reason=reason)
    else:
        frame = entry.enter_response(study, dyad, session, instrument, role=role,
                                     timing=timing, items=values)
    if fmt != "table":
        emit(frame, fmt)
        return
    first = frame.iloc[0]
    click.echo(f"{'Amended' if amend else 'Entered'} {first['instrument']}@{first['version']} "
               f"for {first['dyad']}/{first['session']} ({first['role']}, "
               f"{first['timing']}):")
    click.echo(render_table(frame[["scale", "value", "n_answered", "n_items", "prorated",
                                   "band"]]))


def _response_options(func):
    for decorator in reversed((
        click.argument("dyad"),
        click.argument("session", metavar="SESSION"),
        click.argument("instrument"),
        click.option("--role", type=click.Choice(ROLES), default=None,
                     help="Who filled in the questionnaire (required)."),
        click.option("--respondent", type=click.Choice(ROLES), default=None, hidden=True,
                     help="Old name of --role (until studymgr 0.3)."),
        click.option("--timing", type=click.Choice(TIMINGS), default=None,
                     help="Before or after the session [default: the instrument's only "
                          "timing; required when it has two]."),
        click.option("--items", default=None, metavar="VALUES", help=_ITEMS_HELP),
    )):
        func = decorator(func)
    return func


@scores.command("enter")
@_response_options
@output_options
@pass_ctx
def scores_enter(obj: Context, dyad: str, session: str, instrument: str, role: str | None,
                 respondent: str | None, timing: str | None, items: str | None,
                 fmt: str) -> None:
    """Enter one questionnaire response and show its scores.

    INSTRUMENT is a name (gad7) or name@version (gad7@2006); see 'studymgr instrument list'.

    \b
    Examples:
        studymgr scores enter D01 2 gad7 --role patient --timing pre --items 3,2,1,0,3,2,1
        studymgr scores enter D01 2 wai-sr --role patient --items 4,5,4,NA,5,4,4,5,3,4,4,5
        studymgr scores enter D01 2 who5 --role therapist --timing post   (asks per item)
    """
    _enter_or_amend(obj, dyad, session, instrument, _role_option(role, respondent), timing,
                    items, fmt)


@scores.command("amend")
@_response_options
@opt.reason(required=True)
@output_options
@pass_ctx
def scores_amend(obj: Context, dyad: str, session: str, instrument: str, role: str | None,
                 respondent: str | None, timing: str | None, items: str | None, reason: str,
                 fmt: str) -> None:
    """Replace the item values of an entered response (old values stay in the audit trail).

    \b
    Examples:
        studymgr scores amend D01 2 gad7 --role patient --timing pre \\
            --items 3,2,2,0,3,2,1 --reason "item 3 misread from the paper form"
        studymgr scores amend D01 2 srs --role patient --reason "re-measured lines"
    """
    _enter_or_amend(obj, dyad, session, instrument, _role_option(role, respondent), timing,
                    items, fmt, reason=reason)


def _progress(rows: Iterable[T], length: int) -> Iterator[T]:
    # Only on a terminal: in a pipe or a log the bar would be noise before the result or error.
    stream = sys.stderr
    if length < PROGRESS_MIN_ROWS or not stream.isatty():
        yield from rows
        return
    with click.progressbar(rows, length=length, label="Checking rows", file=stream) as bar:
        yield from bar


@scores.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def scores_import(ctx: click.Context, file: Path) -> None:
    """Import many responses from a CSV file: all rows or none.

    One row per response. Columns: dyad, session, role, instrument (name or
    name@version), timing (may be omitted or empty for instruments given pre or post only),
    then one column per item named by its id (1, 2, ...) or with a prefix (i1, item1,
    item_1). An empty item cell means NA; REF and NR are kept as missing codes. A file may mix
    instruments (cells of items a row's instrument lacks stay empty). Excel files: save the
    sheet as CSV UTF-8 first.

    If any row is bad, nothing is imported and every problem is listed (line, column, value,
    reason). Importing the same file again does nothing; rows identical to stored responses
    are skipped, rows that differ from stored ones are refused (use 'studymgr scores amend').

    \b
    Examples:
        studymgr scores import sessions_1-3.csv
        studymgr -v scores import responses.csv
    """
    study = ctx.find_object(Context).study()
    try:
        result = entry.import_responses(study, file, progress=_progress)
    except entry.ImportRowsError as exc:
        # The one place a multi-line error is wanted: one line per bad row, summary first.
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    click.echo(result.message())


@scores.command("list")
@opt.dyad
@opt.instrument
@click.option("--construct", default=None,
              type=click.Choice(["symptoms", "wellbeing", "alliance", "session_quality",
                                 "other"]),
              help="Only instruments measuring this construct.")
@output_options
@pass_ctx
def scores_list(obj: Context, dyad: str | None, instrument: str | None, construct: str | None,
                fmt: str) -> None:
    """List stored scores, one row per response and scale.

    \b
    Examples:
        studymgr scores list
        studymgr scores list --dyad D01 --instrument gad7
        studymgr scores list --construct symptoms --csv > symptoms.csv
    """
    emit(obj.study().scores(dyad=dyad, instrument=instrument, construct=construct), fmt,
         empty="No scores yet: enter some with 'studymgr scores enter' or 'scores import'.")


@scores.command("items")
@opt.dyad
@opt.instrument
@opt.session
@output_options
@pass_ctx
def scores_items(obj: Context, dyad: str | None, instrument: str | None, session: int | None,
                 fmt: str) -> None:
    """List stored item values (raw, not reverse-keyed) with their missing codes.

    \b
    Examples:
        studymgr scores items --dyad D01 --session 2
        studymgr scores items --instrument wai-sr --csv > wai_items.csv
    """
    emit(obj.study().items(dyad=dyad, instrument=instrument, session=session), fmt,
         empty="No item values stored (for this selection).")


@scores.command("responses")
@opt.dyad
@opt.instrument
@output_options
@pass_ctx
def scores_responses(obj: Context, dyad: str | None, instrument: str | None, fmt: str) -> None:
    """List stored responses: status (entered/amended), source, who entered them and when.

    \b
    Examples:
        studymgr scores responses --dyad D01
        studymgr scores responses --json
    """
    emit(obj.study().responses(dyad=dyad, instrument=instrument), fmt,
         empty="No responses stored (for this selection).")


@scores.command("reliability")
@click.argument("instrument")
@click.option("--by-session", is_flag=True, help="Also one row per session number.")
@click.option("--pairwise", is_flag=True,
              help="Use pairwise-complete item covariances instead of dropping incomplete "
                   "responses.")
@output_options
@pass_ctx
def scores_reliability(obj: Context, instrument: str, by_session: bool, pairwise: bool,
                       fmt: str) -> None:
    """Cronbach's alpha (with Feldt's 95% CI) of each scale, per role.

    \b
    Examples:
        studymgr scores reliability wai-sr
        studymgr scores reliability gad7 --by-session --csv
    """
    frame = entry.reliability(obj.study(), instrument, by_session=by_session,
                              nan_policy="pairwise" if pairwise else "listwise")
    if fmt == "table":
        frame = frame.assign(session=[
            "all" if pd.isna(s) else str(s) for s in frame["session"]])
    emit(frame, fmt)


COMMANDS = [scores]
