"""``studymgr instrument ...``: questionnaire definitions (scoring keys) in the study."""

from __future__ import annotations

import json
from pathlib import Path

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx


@click.group()
def instrument() -> None:
    """List, add and show questionnaire definitions (scoring keys, never item wording)."""


@instrument.command("list")
@output_options
@pass_ctx
def instrument_list(obj: Context, fmt: str) -> None:
    """List the instruments the study knows: stored ones and the built-ins.

    Built-ins are stored in the study when first used; 'stored' says which are.

    \b
    Examples:
        studymgr instrument list
        studymgr instrument list --json
    """
    emit(obj.study().instruments(), fmt)


@instrument.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def instrument_add(obj: Context, file: Path) -> None:
    """Validate an instrument definition (JSON) and store it in the study.

    The format is schemas/instrument.schema.json. A stored definition never changes: to change
    one, give it a new "version".

    \b
    Examples:
        studymgr instrument add my_mood_check.json
    """
    info = obj.study().add_instrument(file)
    spec = f"{info['name']}@{info['version']}"
    if info["added"]:
        click.echo(f"Added instrument {spec} ({info['source']}, hash {info['hash'][:12]})")
    else:
        click.echo(f"Instrument {spec} is already stored with this definition (hash "
                   f"{info['hash'][:12]}): nothing to do")


@instrument.command("show")
@click.argument("spec", metavar="INSTRUMENT")
@pass_ctx
def instrument_show(obj: Context, spec: str) -> None:
    """Print an instrument's definition as JSON (the study's stored copy when stored).

    \b
    Examples:
        studymgr instrument show gad7
        studymgr instrument show wai-sr@2006 > wai-sr.json
    """
    inst = obj.study().instrument(spec)
    click.echo(json.dumps(inst.definition, indent=2, ensure_ascii=False))


COMMANDS = [instrument]
