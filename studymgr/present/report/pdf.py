"""The report as a PDF, with matplotlib's PdfPages only (no browser, no system libraries).

Text pages are laid out line by line (wrapped); each figure is a page of its own (vector
graphics, with its caption); tables are set in a monospace font. Plainer than the HTML
page, with the same content.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from studymgr.present.report.document import (
    ApaTable,
    Bullets,
    Code,
    DataTable,
    Document,
    Fig,
    Para,
)
from studymgr.present.tables import Table, plain

logger = logging.getLogger(__name__)

A4 = (8.27, 11.69)
MARGIN = 0.07  # of the page
LINE = 0.0165  # line height, fraction of the page height (9 pt)
WIDTH = 105  # characters per line at 9 pt


class _Pager:
    """Lays out lines of text on A4 pages, starting a new page when one is full."""

    def __init__(self, pdf: PdfPages) -> None:
        self.pdf = pdf
        self.fig: Figure | None = None
        self.y = 0.0

    def _new(self) -> None:
        self.flush()
        self.fig = Figure(figsize=A4)
        self.y = 1 - MARGIN

    def flush(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None

    def line(self, text: str, *, size: float = 9, weight: str = "normal", style: str = "normal",
             family: str = "sans-serif", color: str = "#222222") -> None:
        height = LINE * size / 9
        if self.fig is None or self.y - height < MARGIN:
            self._new()
        self.fig.text(MARGIN, self.y, text, fontsize=size, fontweight=weight, fontstyle=style,
                      family=family, color=color, va="top")
        self.y -= height

    def paragraph(self, text: str, **kw) -> None:
        width = kw.pop("width", WIDTH)
        for line in textwrap.wrap(plain(text), width=width) or [""]:
            self.line(line, **kw)
        self.space(0.5)

    def space(self, lines: float = 1) -> None:
        self.y -= LINE * lines

    def page_break(self) -> None:
        self.flush()


def _figure_page(pdf: PdfPages, figure: Figure, caption: str, heading: str | None) -> None:
    """The figure as a vector page of its own size, its caption below it and the section
    heading above it when the section starts with it (the layout engine makes room for both
    as the figure's super-labels)."""
    width = max(40, int(figure.get_figwidth() * 15))
    figure.supxlabel("\n".join(textwrap.wrap(plain(caption), width=width)), fontsize=8,
                     x=0.01, ha="left")
    if heading:
        figure.suptitle(heading, x=0.01, ha="left", fontsize=12, fontweight="bold")
    pdf.savefig(figure)


def text_table(frame: pd.DataFrame, width: int = 132) -> list[str]:
    """A DataFrame as aligned monospace lines (numbers right-aligned, long cells cut)."""
    cols = [plain(str(c)) for c in frame.columns]
    rows = [["" if v is None or (not isinstance(v, str) and v != v) else plain(str(v))
             for v in row] for row in frame.itertuples(index=False)]
    # the first column (labels) may be long; the others are numbers or short codes
    limits = [48] + [max(12, (width - 50) // max(len(cols) - 1, 1))] * (len(cols) - 1)
    rows = [[c if len(c) <= lim else c[: lim - 1] + "…" for c, lim in zip(r, limits,
                                                                          strict=True)]
            for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]

    def fmt(cells: list[str]) -> str:
        out = [c.ljust(w) if i == 0 or not _numeric(c) else c.rjust(w)
               for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(out).rstrip()

    lines = [fmt(cols), "  ".join("-" * w for w in widths)]
    return lines + [fmt(r) for r in rows]


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-.<>[" or text.startswith("−"))


def apa_lines(table: Table) -> list[str]:
    """An APA table as monospace lines: header, then each group's label and its rows."""
    frame = pd.DataFrame([[plain(c) if v is None else c for c, v in
                           zip(r.cells, r.values, strict=True)] for r in table.rows],
                         columns=[plain(c) for c in table.columns])
    lines = text_table(frame)
    out = lines[:2]
    group = None
    for row, line in zip(table.rows, lines[2:], strict=True):
        if row.group and row.group != group:
            out.append(plain(row.group))
        group = row.group
        out.append(("  " if row.group else "") + line)
    return out


def _table_lines(pager: _Pager, frame) -> None:
    for line in text_table(frame.head(60)):
        pager.line(line, size=6.5, family="monospace")
    if len(frame) > 60:
        pager.line(f"... {len(frame) - 60} more rows (see the HTML report or the exports)",
                   size=6.5, family="monospace")
    pager.space()


def render_pdf(doc: Document, path: str | Path) -> Path:
    """Write the report as a PDF file."""
    path = Path(path)
    with PdfPages(path, metadata={"Title": doc.title, "Creator": "studymgr"}) as pdf:
        pager = _Pager(pdf)
        pager.line(doc.title, size=16, weight="bold")
        pager.space(0.6)
        pager.paragraph(doc.subtitle, color="#555555")
        pager.space()
        for i, section in enumerate(doc.sections, start=1):
            pager.line(f"{i}. {section.title}", size=10)
        n_fig = 0
        for i, section in enumerate(doc.sections, start=1):
            # the heading is written with the section's first text, or on its first figure
            heading: str | None = f"{i}. {section.title}"
            blocks = list(section.blocks)
            if section.intro:
                blocks.insert(0, Para(f"*{section.intro}*"))
            for block in blocks:
                if isinstance(block, Fig):
                    n_fig += 1
                    pager.page_break()
                    _figure_page(pdf, block.figure, f"Figure {n_fig}. {block.caption}",
                                 heading)
                    heading = None
                    continue
                if heading is not None:
                    pager.space(1)
                    pager.line(heading, size=13, weight="bold")
                    pager.space(0.5)
                    heading = None
                if isinstance(block, Para):
                    prefix = {"missing": "[missing] ", "warning": "[check] ", "ok": ""}.get(
                        block.kind, "")
                    pager.paragraph(prefix + block.text,
                                    color="#A04000" if block.kind == "warning" else "#222222")
                elif isinstance(block, Bullets):
                    for item in block.items:
                        pager.paragraph("- " + item)
                elif isinstance(block, Code):
                    pager.paragraph(block.caption, style="italic")
                    for line in block.text.splitlines()[:120]:
                        pager.line(line[:WIDTH], size=7, family="monospace")
                    pager.space()
                elif isinstance(block, ApaTable):
                    t = block.table
                    pager.line(t.label, weight="bold")
                    pager.paragraph(t.title, style="italic")
                    for line in apa_lines(t):
                        pager.line(line, size=6.5, family="monospace")
                    pager.space()
                    if t.note:
                        pager.paragraph("Note. " + t.note, size=7.5, width=125)
                elif isinstance(block, DataTable):
                    pager.paragraph(block.caption, style="italic")
                    _table_lines(pager, block.frame)
        pager.flush()
    logger.info("wrote the PDF report %s", path)
    return path
