"""What every command shares: the study it works on, output formats, error handling."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from studymgr.errors import StudyError
from studymgr.present.text import records, render_table

__all__ = ["Context", "ProgressBars", "StudyGroup", "emit", "emit_summary",
           "output_options", "pass_ctx", "records", "render_table", "setup_logging"]


@dataclass
class Context:
    """Options given before the command (``--db``, ``--user``, ...), shared by all commands."""

    db: Path
    user: str | None = None
    data_dir: Path | None = None
    debug: bool = False
    _study: Any = field(default=None, repr=False)

    def study(self):
        """Open the study (once per command) and close it when the command ends."""
        if self._study is None:
            from studymgr.runs.study import open_study

            self._study = open_study(self.db, user=self.user, data_dir=self.data_dir)
            click.get_current_context().call_on_close(self._study.close)
        return self._study


pass_ctx = click.make_pass_decorator(Context)


class AliasGroup(click.Group):
    """A click group that keeps renamed commands working under their old names for a while.

    ``aliases`` maps an old name to ``(new name, release until which the old one works)``. An
    old name runs the new command after a one-line note on stderr (stdout stays clean for
    ``--json``/``--csv``); it is not listed in ``--help`` or offered by shell completion.
    """

    def __init__(self, *args: Any, aliases: dict[str, tuple[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, tuple[str, str]] = dict(aliases or {})

    def add_alias(self, old: str, new: str, until: str) -> None:
        """Let ``old`` run the command ``new`` (hidden, with a note) until release ``until``."""
        if old in self.commands:
            raise ValueError(f"{old!r} is a command, it cannot also be an alias")
        self.aliases[old] = (new, until)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.aliases and cmd_name not in self.commands:
            cmd_name = self.aliases[cmd_name][0]
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[override]
        name = args[0] if args else None
        if name in self.aliases and name not in self.commands:
            new, until = self.aliases[name]
            click.echo(f"'{ctx.command_path} {name}' is now '{ctx.command_path} {new}'; "
                       f"the old name works until {until}", err=True)
            args = [new, *args[1:]]
        return super().resolve_command(ctx, args)


class StudyGroup(AliasGroup):
    """A click group whose errors are one line on stderr with exit status 2.

    A :class:`StudyError` (bad input, unknown dyad, duplicate, ...) and a usage error print
    ``Error: ...`` and exit 2; an unexpected exception prints one line too unless ``--debug`` (or
    ``STUDYMGR_DEBUG=1``) asks for the traceback. Renamed commands keep working as hidden
    aliases (:class:`AliasGroup`).
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or os.environ.get("STUDYMGR_DEBUG") == "1"
        try:
            rv = super().main(args=argv, prog_name=prog_name or "studymgr",
                              complete_var=complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.UsageError as exc:
            hint = ""
            if exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(f"Error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except StudyError as exc:
            if debug:
                raise
            click.echo(f"Error: {_one_line(str(exc))}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted: nothing half-written was kept.", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug:
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {_one_line(str(exc))} "
                "(this is a bug in studymgr; rerun with --debug for the traceback)",
                err=True,
            )
            sys.exit(1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- output ----------------------------------------------------------------------------------------
def output_options(func: Callable) -> Callable:
    """Add ``--json`` and ``--csv`` to a listing command (default: an aligned table)."""

    @click.option("--json", "as_json", is_flag=True, help="Print JSON rows (for programs).")
    @click.option("--csv", "as_csv", is_flag=True, help="Print CSV (for spreadsheets).")
    @functools.wraps(func)
    def wrapper(*args, as_json: bool, as_csv: bool, **kwargs):
        if as_json and as_csv:
            raise click.UsageError("choose one of --json and --csv")
        fmt = "json" if as_json else "csv" if as_csv else "table"
        return func(*args, fmt=fmt, **kwargs)

    return wrapper


def emit(frame, fmt: str, *, empty: str = "(nothing yet)") -> None:
    """Print a DataFrame as an aligned table, CSV or JSON rows."""
    if fmt == "json":
        click.echo(json.dumps(records(frame), indent=2, default=str))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        click.echo(empty)
    else:
        click.echo(render_table(frame))


class ProgressBars:
    """Progress callback ``(phase, done, total)`` drawing one bar per phase on stderr.

    ``labels`` maps a phase to its label, or is one label for every phase. Click hides the bar
    when stderr is not a terminal. Use it as a context manager (``with ProgressBars(...) as
    bar:``) so that the last bar is closed however the work ends.
    """

    def __init__(self, labels: dict[str, str] | str) -> None:
        self.labels = labels
        self.bar = None
        self.phase: str | None = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.bar is None or phase != self.phase:
            self.close()
            label = (self.labels if isinstance(self.labels, str)
                     else self.labels.get(phase, phase))
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
            self.phase = phase
        self.bar.update(max(0, done - self.bar.pos))

    def single(self, done: int, total: int) -> None:
        """The same for a progress callback ``(done, total)`` of one phase."""
        self("", done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def emit_summary(summary, fmt: str) -> None:
    """Print a per-session summary with a count line; exit 2 when any session failed."""
    emit(summary, fmt)
    if fmt == "table":
        counts = summary["status"].value_counts().to_dict()
        click.echo(", ".join(f"{n} {status}" for status, n in counts.items()))
    if (summary["status"] == "failed").any():
        raise SystemExit(2)


def setup_logging(verbose: int) -> None:
    """``-v`` shows progress messages, ``-vv`` everything."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("mne", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
