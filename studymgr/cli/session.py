"""``studymgr session ...``: the meetings of a dyad."""

from __future__ import annotations

import click

from studymgr.cli import _options as opt
from studymgr.cli._common import Context, emit, output_options, pass_ctx
from studymgr.ids import SESSION_KINDS


@click.group()
def session() -> None:
    """Add, list, change and lock sessions."""


# 'add' shows defaults; 'set' changes only what is given (default None).
_date = click.option("--date", default=None, metavar="YYYY-MM-DD", help="Date of the session.")


def _kind(default: str | None):
    return click.option("--kind", type=click.Choice(SESSION_KINDS), default=default,
                        show_default=default is not None, help="Therapy or interview.")


def _scanned(default: bool | None):
    return click.option("--scanned/--not-scanned", default=default,
                        show_default=default is not None,
                        help="Whether fNIRS recordings are planned for this session.")


def _attended(default: bool | None):
    return click.option("--attended/--missed", default=default,
                        show_default=default is not None,
                        help="Whether the session took place.")


@session.command("add")
@click.argument("dyad")
@click.argument("number", metavar="N")
@_date
@_kind("therapy")
@_scanned(True)
@_attended(True)
@pass_ctx
def session_add(obj: Context, dyad: str, number: str, date: str | None, kind: str,
                scanned: bool, attended: bool) -> None:
    """Add session N (1, 2, ...) of DYAD.

    \b
    Examples:
        studymgr session add D01 1 --date 2025-03-14
        studymgr session add D01 2 --not-scanned
        studymgr session add D01 7 --kind interview
    """
    obj.study().add_session(dyad, number, date=date, kind=kind, scanned=scanned,
                            attended=attended)
    click.echo(f"Added session {dyad}/{number} ({kind}{', scans planned' if scanned else ''})")


@session.command("list")
@click.argument("dyad", required=False)
@output_options
@pass_ctx
def session_list(obj: Context, dyad: str | None, fmt: str) -> None:
    """List sessions, of one DYAD or of all.

    \b
    Examples:
        studymgr session list
        studymgr session list D01 --csv
    """
    emit(obj.study().sessions(dyad), fmt,
         empty="No sessions yet: add one with 'studymgr session add DYAD N'.")


@session.command("set")
@click.argument("dyad")
@click.argument("number", metavar="N")
@_date
@_kind(None)
@_scanned(None)
@_attended(None)
@opt.reason()
@pass_ctx
def session_set(obj: Context, dyad: str, number: str, date: str | None, kind: str | None,
                scanned: bool | None, attended: bool | None, reason: str | None) -> None:
    """Change the date, kind, scan plan or attendance of an unlocked session.

    \b
    Examples:
        studymgr session set D01 2 --missed --reason "patient ill"
        studymgr session set D01 1 --date 2025-03-15 --reason "typo"
    """
    changes = {k: v for k, v in {"date": date, "kind": kind, "scanned": scanned,
                                 "attended": attended}.items() if v is not None}
    obj.study().update_session(dyad, number, reason=reason, **changes)
    click.echo(f"Updated session {dyad}/{number}: "
               + ", ".join(f"{k}={v}" for k, v in changes.items()))


@session.command("lock")
@click.argument("dyad")
@click.argument("number", metavar="N")
@opt.reason()
@pass_ctx
def session_lock(obj: Context, dyad: str, number: str, reason: str | None) -> None:
    """Lock a session: its questionnaires, scans and events become read-only.

    \b
    Examples:
        studymgr session lock D01 1
        studymgr session lock D01 2 --reason "data checked by second rater"
    """
    obj.study().lock_session(dyad, number, reason=reason)
    click.echo(f"Locked session {dyad}/{number}")


@session.command("unlock")
@click.argument("dyad")
@click.argument("number", metavar="N")
@opt.reason(required=True)
@pass_ctx
def session_unlock(obj: Context, dyad: str, number: str, reason: str) -> None:
    """Unlock a locked session (the reason is kept in the audit trail).

    \b
    Example:
        studymgr session unlock D01 1 --reason "late questionnaire found"
    """
    obj.study().unlock_session(dyad, number, reason=reason)
    click.echo(f"Unlocked session {dyad}/{number}")


COMMANDS = [session]
