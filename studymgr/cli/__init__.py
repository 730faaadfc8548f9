"""The ``studymgr`` command line: a thin face over the Python API (no logic of its own).

Where a command lives: ``studymgr X ...`` is in ``cli/X.py`` (a group, e.g. ``cli/scans.py``,
or a single command, e.g. ``cli/status.py``); the one exception is ``restore``, beside its
inverse in ``cli/backup.py``. Options several commands share are in ``cli/_options.py``,
output formats, errors and progress bars in ``cli/_common.py``. Each public module lists its
commands in ``COMMANDS`` and the old names of renamed ones in ``ALIASES`` (hidden; they print
a note and run the new command).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from studymgr._version import __version__
from studymgr.cli._common import Context, StudyGroup, setup_logging


@click.group(name="studymgr", cls=StudyGroup,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("STUDYMGR_DB", "study.db"),
    show_default="$STUDYMGR_DB or ./study.db",
    help="The study database file.",
)
@click.option("--user", default=None, metavar="NAME",
              help="Who is recorded in the audit trail [default: $STUDYMGR_USER or OS login].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use this data folder instead of the one stored in the study.")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debugging detail).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(__version__, prog_name="studymgr")
@click.pass_context
def cli(ctx: click.Context, db: Path, user: str | None, data_dir: Path | None, verbose: int,
        debug: bool) -> None:
    """Study manager for longitudinal therapist-patient hyperscanning research.

    A study is a SQLite database (--db) plus a data folder beside it. Start with

    \b
        studymgr init
        studymgr dyad add D01 --therapist T01 --patient P01
        studymgr session add D01 1 --date 2025-03-14
        studymgr status
    """
    setup_logging(verbose)
    ctx.obj = Context(db=db, user=user, data_dir=data_dir, debug=debug)


def _register() -> None:
    # Every public module of this package contributes its COMMANDS (click commands or groups)
    # and the old names of renamed ones (ALIASES: old -> (new, until)).
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)
        for old, (new, until) in getattr(module, "ALIASES", {}).items():
            cli.add_alias(old, new, until)


_register()


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="studymgr")
