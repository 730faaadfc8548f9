"""``studymgr report``: the longitudinal study report (HTML or PDF)."""

from __future__ import annotations

from pathlib import Path

import click

from studymgr.cli._common import Context, pass_ctx
from studymgr.present.report import MAX_TIMELINES


class Timelines(click.ParamType):
    """A whole number >= 0, or ``all`` (None)."""

    name = "N|all"

    def convert(self, value, param, ctx):  # type: ignore[override]
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "all":
            return None
        if not text.isdigit():
            self.fail(f"{value!r} is not a whole number >= 0 or 'all'", param, ctx)
        return int(text)


@click.command("report")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write [default: report.html, or report.pdf with --format pdf].")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default=None,
              help="Output format [default: from the file's suffix, else html].")
@click.option("--timelines", type=Timelines(), default=str(MAX_TIMELINES), show_default=True,
              help="Session timelines drawn in 'Moments of interest' (most consensus moments "
                   "first; each reloads the session's recordings, seconds per session): a "
                   "number, 0 for none, or all.")
@pass_ctx
def report(obj: Context, out: Path | None, fmt: str | None, timelines: int | None) -> None:
    """Write the study report: one self-contained file to read top to bottom.

    Sections: the study at a glance (session flow, completeness grid, questionnaires); data
    quality (usable channels, scalp coupling, excluded sessions and why); synchrony over
    sessions (one line per dyad, the growth model's mean with its 95% band, pseudo-dyads
    beside it); synchrony per ROI pair (heat maps, FDR marks); outcomes and alliance
    (trajectories, APA tables of the models, forest plot); model diagnostics (residuals, QQ
    plot, random effects, fit notes, a check that a refit reproduces the stored numbers);
    methods generated from the stored configurations; provenance. When raters marked moments
    of interest, a 'Moments of interest' section (rater agreement, session timelines with the
    marks under the coherence time course, event-locked synchrony, EEG coupling and frontal
    alpha asymmetry) comes after the outcomes.

    The HTML file embeds its figures and styles and needs no network. Parts whose data are
    missing (no scans yet, no models, a failed model) say so instead of failing. Models are
    the stored run ('studymgr models fit'); the report itself changes nothing in the study.

    \b
    Examples:
        studymgr report --out report.html
        studymgr report --format pdf --out report.pdf
        studymgr report --timelines all
        studymgr report
    """
    from studymgr.present.report import write_report

    if out is None:
        out = Path(f"report.{fmt or 'html'}")
    path = write_report(obj.study(), out, fmt=fmt, max_timelines=timelines)
    click.echo(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


COMMANDS = [report]
