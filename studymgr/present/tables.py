"""Publication tables in APA style: one table object, rendered to CSV, Markdown, LaTeX, HTML and
Word.

Pure: tidy frames in (the stored model results, the analysis table), :class:`Table` objects out.
The renderers return text; only :func:`write_docx` writes a file (python-docx).

Number formats (APA Publication Manual, 7th ed., sections 6.36 and 7.21):

- two decimals by default; an estimate, its standard error and its confidence interval get as
  many decimals as the standard error needs for two significant digits (at least 2, at most 6),
  so that a slope of 0.054 (SE 0.013) is not printed as 0.05 (0.01);
- values that cannot exceed 1 in magnitude (p, r, R², ICC) have no leading zero (``.45``);
- p exactly to three decimals, ``< .001`` below .001 and ``> .999`` above .999;
- Satterthwaite degrees of freedom (not whole numbers) to one decimal;
- a typeset minus sign (U+2212) in HTML and Word, ``$-$`` in LaTeX; CSV and Markdown keep the
  ASCII hyphen-minus so that the numbers stay machine-readable.

Titles, column headers, group labels and text cells may use a tiny markup that each renderer
translates: ``*x*`` italic, ``^{x}`` superscript, ``_{x}`` subscript (e.g. ``*p*_{FDR}``,
``τ_{00}``, ``*R*^{2}``); ``\\*`` is a literal asterisk (as in a formula's ``session * pair``,
see :func:`literal`).
"""

from __future__ import annotations

import csv
import html
import io
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from studymgr.compute.events.eventlocked import REST
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

MINUS = "\u2212"
FORMATS = ("csv", "md", "tex", "docx", "html")
CONSTRUCT_LABELS = {
    "synchrony": "synchrony",
    "symptoms": "symptoms",
    "wellbeing": "wellbeing",
    "alliance": "alliance",
    "session_quality": "session quality",
    "session": "session",
}
_MARKUP = re.compile(r"\*([^*]+)\*|\^\{([^}]*)\}|_\{([^}]*)\}")


# --------------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------------


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def decimals_for(scale: Any, minimum: int = 2, maximum: int = 6) -> int:
    """Decimals that show ``scale`` (e.g. a standard error) to two significant digits.

    Examples
    --------
    >>> decimals_for(2.57), decimals_for(0.0135), decimals_for(2.07e-4)
    (2, 3, 5)
    """
    if _missing(scale) or not math.isfinite(float(scale)) or float(scale) == 0:
        return minimum
    digits = 1 - math.floor(math.log10(abs(float(scale))))
    return int(min(maximum, max(minimum, digits)))


def fmt_num(x: Any, decimals: int = 2) -> str:
    """A number with fixed decimals (``""`` when missing; never ``-0.00``)."""
    if _missing(x):
        return ""
    value = float(x)
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else ""
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text


def fmt_unit(x: Any, decimals: int = 2) -> str:
    """A value that cannot exceed 1 in magnitude, without the leading zero: ``-.12``, ``.45``."""
    text = fmt_num(x, decimals)
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def fmt_p(p: Any) -> str:
    """A p-value as journals print it: ``< .001``, ``.023``, ``> .999``."""
    if _missing(p):
        return ""
    value = float(p)
    if value < 0.001:
        return "< .001"
    text = fmt_unit(value, 3)
    return "> .999" if text == "1.000" else text


def fmt_ci(low: Any, high: Any, decimals: int = 2, unit: bool = False) -> str:
    """A confidence interval ``[low, high]`` (``""`` when either end is missing)."""
    if _missing(low) or _missing(high):
        return ""
    f = fmt_unit if unit else fmt_num
    return f"[{f(low, decimals)}, {f(high, decimals)}]"


def fmt_df(df: Any) -> str:
    """Degrees of freedom to one decimal (Satterthwaite df are not whole numbers)."""
    return fmt_num(df, 1)


def fmt_int(x: Any) -> str:
    """A count."""
    return "" if _missing(x) else str(int(x))


# --------------------------------------------------------------------------------------------
# The table object
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One body row.

    Attributes
    ----------
    cells : list of str
        Formatted cells (numbers with ASCII ``-``; text cells may use the markup).
    values : list
        The number behind each numeric cell (a ``(low, high)`` tuple for an interval), None for
        a text cell. Renderers typeset minus signs in numeric cells only; the HTML renderer
        keeps the full-precision value in a ``data-value`` attribute.
    group : str or None
        The group (a spanning sub-heading such as *Fixed effects*) the row belongs to.
    """

    cells: list[str]
    values: list[Any]
    group: str | None = None


@dataclass
class Table:
    """An APA-style table: number, italic title, header, grouped body rows and a note.

    Attributes
    ----------
    name : str
        File-name stem (``growth``, ``descriptives``, ...).
    title : str
        Title in title case (rendered in italics).
    columns : list of str
        Column headers (markup allowed).
    rows : list of Row
    note : str
        General note (rendered after an italic *Note.*; markup allowed).
    number : int or None
        Table number, set when the tables are collected.
    group_label : str
        Header of the group column in the CSV rendering.
    source : dict
        What the table shows (e.g. ``{"model": "growth"}``), for programs and tests.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    note: str = ""
    number: int | None = None
    group_label: str = "Section"
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``Table 3`` (or ``Table`` when unnumbered)."""
        return f"Table {self.number}" if self.number is not None else "Table"

    def frame(self) -> pd.DataFrame:
        """The formatted cells as a DataFrame (plain text headers; group as first column when
        there are groups)."""
        columns = [plain(c) for c in self.columns]
        data = [[plain(c) if v is None else c for c, v in zip(r.cells, r.values, strict=True)]
                for r in self.rows]
        frame = pd.DataFrame(data, columns=columns)
        if any(r.group for r in self.rows):
            frame.insert(0, self.group_label, [plain(r.group or "") for r in self.rows])
        return frame

    # -- renderers ------------------------------------------------------------------------------
    def to_csv(self) -> str:
        """CSV of the formatted table (header line, then one line per body row)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        frame = self.frame()
        writer.writerow(list(frame.columns))
        writer.writerows(frame.itertuples(index=False, name=None))
        return buf.getvalue()

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown: bold number, italic title, pipe table, note."""
        out = [f"**{self.label}**", "", f"*{_md(self.title)}*", ""]
        n = len(self.columns)
        out.append("| " + " | ".join(_md_markup(c) for c in self.columns) + " |")
        out.append("|" + "|".join([":--"] + ["--:"] * (n - 1)) + "|")
        for group, rows in _grouped(self.rows):
            if group:
                out.append("| " + " | ".join([f"*{_md(group)}*"] + [""] * (n - 1)) + " |")
            for r in rows:
                cells = [_md_markup(c) if v is None else _md(c)
                         for c, v in zip(r.cells, r.values, strict=True)]
                out.append("| " + " | ".join(cells) + " |")
        if self.note:
            out += ["", f"*Note.* {_md_markup(self.note)}"]
        return "\n".join(out) + "\n"

    def to_latex(self) -> str:
        """A ``table`` environment (needs ``\\usepackage{booktabs}``)."""
        n = len(self.columns)
        lines = [r"\begin{table}[htbp]", r"\raggedright", r"\small",
                 rf"\textbf{{{_tex(self.label)}}}\par\smallskip",
                 rf"\textit{{{_tex_markup(self.title)}}}\par\medskip",
                 r"\begin{tabular}{l" + "c" * (n - 1) + "}", r"\toprule",
                 " & ".join(_tex_markup(c) for c in self.columns) + r" \\", r"\midrule"]
        for group, rows in _grouped(self.rows):
            if group:
                lines.append(rf"\multicolumn{{{n}}}{{l}}{{\textit{{{_tex_markup(group)}}}}} \\")
            for r in rows:
                cells = [_tex_markup(c) if v is None else _tex_number(c)
                         for c, v in zip(r.cells, r.values, strict=True)]
                lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.note:
            lines += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize",
                      rf"\textit{{Note.}} {_tex_markup(self.note)}", r"\end{minipage}"]
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"

    def to_html(self, table_id: str | None = None) -> str:
        """An HTML fragment (``<figure class="apa-table">``); style it with :data:`HTML_CSS`.

        Numeric cells carry their full-precision value in ``data-value``.
        """
        n = len(self.columns)
        ident = f' id="{html.escape(table_id)}"' if table_id else ""
        src = " ".join(f'data-{html.escape(k)}="{html.escape(str(v))}"'
                       for k, v in self.source.items())
        out = [f'<figure class="apa-table"{ident} data-name="{html.escape(self.name)}"'
               f"{' ' + src if src else ''}>",
               f'<p class="apa-number"><b>{html.escape(self.label)}</b></p>',
               f'<p class="apa-title"><i>{html_markup(self.title)}</i></p>',
               '<table class="apa"><thead><tr>']
        left = ' class="l"'
        out += [f"<th{left if i == 0 else ''}>{html_markup(c)}</th>"
                for i, c in enumerate(self.columns)]
        out.append("</tr></thead><tbody>")
        for group, rows in _grouped(self.rows):
            if group:
                out.append(f'<tr class="apa-group"><td colspan="{n}" class="l">'
                           f"<i>{html_markup(group)}</i></td></tr>")
            for r in rows:
                tds = []
                for i, (c, v) in enumerate(zip(r.cells, r.values, strict=True)):
                    cls = ' class="l"' if i == 0 else ""
                    if v is None:
                        tds.append(f"<td{cls}>{html_markup(c)}</td>")
                    else:
                        tds.append(f'<td{cls} data-value="{html.escape(_data_value(v))}">'
                                   f"{html.escape(_typeset_minus(c), quote=False)}</td>")
                out.append("<tr>" + "".join(tds) + "</tr>")
        out.append("</tbody></table>")
        if self.note:
            out.append(f'<p class="apa-note"><i>Note.</i> {html_markup(self.note)}</p>')
        out.append("</figure>")
        return "\n".join(out)


def _grouped(rows: Sequence[Row]) -> list[tuple[str | None, list[Row]]]:
    """Consecutive rows of the same group, in order."""
    out: list[tuple[str | None, list[Row]]] = []
    for r in rows:
        if out and out[-1][0] == r.group:
            out[-1][1].append(r)
        else:
            out.append((r.group, [r]))
    return out


def _data_value(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_data_value(v) for v in value)
    if _missing(value):
        return ""
    return repr(float(value))


# --------------------------------------------------------------------------------------------
# Markup and escaping per format
# --------------------------------------------------------------------------------------------

_SUPERSCRIPTS = {"2": "\u00b2", "3": "\u00b3"}


_STAR = "\x00"  # stands for an escaped (literal) asterisk while parsing


def literal(text: str) -> str:
    """``text`` with markup characters escaped, to be shown as is (e.g. a model formula)."""
    return text.replace("*", "\\*")


def plain(text: str) -> str:
    """Markup removed (superscript 2 kept as ``²``): for CSV and plain text."""
    return "".join(part if kind != "sup" else "".join(_SUPERSCRIPTS.get(ch, ch) for ch in part)
                   for kind, part in _split(text))


def _split(text: str) -> list[tuple[str, str]]:
    """``[(kind, text)]`` with kind ``""`` (plain), ``i``, ``sup`` or ``sub``."""
    parts = [(kind, part.replace(_STAR, "*"))
             for kind, part in _split_raw(text.replace("\\*", _STAR))]
    return parts


def _split_raw(text: str) -> list[tuple[str, str]]:
    parts, pos = [], 0
    for m in _MARKUP.finditer(text):
        if m.start() > pos:
            parts.append(("", text[pos:m.start()]))
        if m.group(1) is not None:
            parts.append(("i", m.group(1)))
        elif m.group(2) is not None:
            parts.append(("sup", m.group(2)))
        else:
            parts.append(("sub", m.group(3)))
        pos = m.end()
    if pos < len(text):
        parts.append(("", text[pos:]))
    return parts


def _typeset_minus(text: str) -> str:
    return re.sub(r"-(?=[\d.])", MINUS, text)


def _render_markup(text: str, escape: Callable[[str], str], wrap: Mapping[str, str]) -> str:
    """``text`` in one output format: each part escaped, then put in its kind's template
    (``wrap[kind] % part``; plain parts as they are)."""
    return "".join(wrap[kind] % escape(part) if kind else escape(part)
                   for kind, part in _split(text))


def _html_escape(text: str) -> str:
    return html.escape(text, quote=False)


_HTML_WRAP = {"i": "<i>%s</i>", "sup": "<sup>%s</sup>", "sub": "<sub>%s</sub>"}
_MD_WRAP = {"i": "*%s*", "sup": "<sup>%s</sup>", "sub": "<sub>%s</sub>"}
_TEX_WRAP = {"i": r"\textit{%s}", "sup": r"\textsuperscript{%s}", "sub": r"\textsubscript{%s}"}


def html_markup(text: str) -> str:
    """Markup as HTML (``<i>``, ``<sup>``, ``<sub>``), the text escaped."""
    return _render_markup(text, _html_escape, _HTML_WRAP)


def _md(text: str) -> str:
    return text.replace("|", r"\|")


def _md_markup(text: str) -> str:
    return _render_markup(text, _md, _MD_WRAP)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$",
                MINUS: "$-$", "\u00d7": r"$\times$", "\u2013": "--", "\u2014": "---",
                "\u2264": r"$\leq$", "\u2265": r"$\geq$", "\u00b2": r"$^2$",
                "\u03c4": r"$\tau$", "\u03c3": r"$\sigma$", "\u03c1": r"$\rho$",
                "\u03b2": r"$\beta$", "\u03c9": r"$\omega$", "\u00b1": r"$\pm$",
                "\u2248": r"$\approx$", "\u2192": r"$\rightarrow$"}


def _tex(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_markup(text: str) -> str:
    return _render_markup(text, _tex, _TEX_WRAP)


def _tex_number(text: str) -> str:
    return _tex(_typeset_minus(text))


HTML_CSS = """
figure.apa-table { margin: 1.5em 0; }
figure.apa-table p { margin: 0.2em 0; }
table.apa { border-collapse: collapse; border-top: 2px solid #222; border-bottom: 2px solid #222;
  font-variant-numeric: tabular-nums; margin: 0.4em 0; }
table.apa th { border-bottom: 1px solid #222; font-weight: normal; padding: 0.3em 0.8em;
  text-align: center; }
table.apa td { padding: 0.15em 0.8em; text-align: center; white-space: nowrap; }
table.apa .l { text-align: left; }
table.apa tr.apa-group td { padding-top: 0.5em; }
p.apa-note { font-size: 0.9em; max-width: 60em; }
"""


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def markdown_document(tables: Sequence[Table], title: str = "Tables") -> str:
    """All tables in one Markdown document."""
    return f"# {title}\n\n" + "\n".join(t.to_markdown() for t in tables)


def latex_document(tables: Sequence[Table], title: str = "Tables") -> str:
    """A complete LaTeX document holding every table (compiles with pdflatex + booktabs)."""
    head = [r"\documentclass[11pt]{article}", r"\usepackage[T1]{fontenc}",
            r"\IfFileExists{lmodern.sty}{\usepackage{lmodern}}{}",
            r"\usepackage[utf8]{inputenc}", r"\usepackage{booktabs}",
            r"\usepackage[a4paper,margin=2cm]{geometry}", r"\begin{document}",
            rf"\section*{{{_tex(title)}}}"]
    body = [t.to_latex() for t in tables]
    return "\n".join(head) + "\n" + "\n".join(body) + "\\end{document}\n"


def html_document(tables: Sequence[Table], title: str = "Tables") -> str:
    """A self-contained HTML page holding every table."""
    body = "\n".join(t.to_html(table_id=f"table-{t.number}") for t in tables)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>body {{ font-family: 'Times New Roman',"
            f" serif; margin: 2em; }}{HTML_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def write_docx(tables: Sequence[Table], path: str | Path, title: str = "Tables") -> Path:
    """Write every table into one Word document (python-docx), APA rules as cell borders.

    Returns
    -------
    pathlib.Path
    """
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(11)
    document.add_heading(title, level=1)
    for i, table in enumerate(tables):
        if i:
            document.add_paragraph()
        p = document.add_paragraph()
        p.add_run(table.label).bold = True
        p = document.add_paragraph()
        _docx_runs(p, table.title, italic=True)
        n = len(table.columns)
        groups = _grouped(table.rows)
        n_rows = 1 + sum((1 if g else 0) + len(rows) for g, rows in groups)
        grid = document.add_table(rows=n_rows, cols=n)
        for j, head in enumerate(table.columns):
            cell = grid.rows[0].cells[j]
            _docx_runs(cell.paragraphs[0], head)
            _docx_cell(cell, align=WD_ALIGN_PARAGRAPH.LEFT if j == 0 else
                       WD_ALIGN_PARAGRAPH.CENTER, top=True, bottom=True)
        k = 1
        for group, rows in groups:
            if group:
                cells = grid.rows[k].cells
                merged = cells[0].merge(cells[-1])
                _docx_runs(merged.paragraphs[0], group, italic=True)
                k += 1
            for r in rows:
                for j, (text, value) in enumerate(zip(r.cells, r.values, strict=True)):
                    cell = grid.rows[k].cells[j]
                    if value is None:
                        _docx_runs(cell.paragraphs[0], text)
                    else:
                        cell.paragraphs[0].add_run(_typeset_minus(text))
                    _docx_cell(cell, align=WD_ALIGN_PARAGRAPH.LEFT if j == 0 else
                               WD_ALIGN_PARAGRAPH.CENTER)
                k += 1
        for cell in grid.rows[n_rows - 1].cells:
            _docx_cell(cell, bottom=True)
        if table.note:
            p = document.add_paragraph()
            run = p.add_run("Note. ")
            run.italic = True
            _docx_runs(p, table.note)
            for run in p.runs:
                run.font.size = Pt(9)
    out = Path(path)
    document.save(str(out))
    return out


def _docx_runs(paragraph: Any, text: str, italic: bool = False) -> None:
    for kind, part in _split(text):
        run = paragraph.add_run(part)
        run.italic = italic or kind == "i"
        run.font.superscript = kind == "sup"
        run.font.subscript = kind == "sub"


def _docx_cell(cell: Any, *, align: Any = None, top: bool = False, bottom: bool = False) -> None:
    """Alignment, small font and APA horizontal rules (top/bottom borders) of a Word cell."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    for p in cell.paragraphs:
        if align is not None:
            p.alignment = align
        for run in p.runs:
            run.font.size = Pt(10)
    if not (top or bottom):
        return
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge, on in (("top", top), ("bottom", bottom)):
        if on:
            el = OxmlElement(f"w:{edge}")
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), "8")
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
            borders.append(el)


# --------------------------------------------------------------------------------------------
# Building the tables from results
# --------------------------------------------------------------------------------------------


def construct_label(name: str) -> str:
    """``session_quality`` -> ``session quality``."""
    return CONSTRUCT_LABELS.get(name, name.replace("_", " "))


def _lag_text(k: int) -> str:
    return "previous session" if k == 1 else f"{k} sessions earlier"


def term_label(term: str) -> str:
    """A readable label for a fixed-effect term or contrast of the stored models.

    Examples
    --------
    >>> term_label("synchrony_lag1_within")
    'Synchrony, previous session (within dyad)'
    >>> term_label("session:pair")
    'Session × true pair'
    """
    if term == "(Intercept)":
        return "Intercept"
    if term == "pair":
        return "True pair (vs. pseudo-dyad)"
    if term == "session:pair":
        return "Session \u00d7 true pair"
    if " - " in term:
        parts = [term_label(t) for t in term.split(" - ")]
        tails = [re.search(r" \(.*\)$", p) for p in parts]
        if all(tails) and len({t.group(0) for t in tails}) == 1:
            tail = tails[0].group(0)
            heads = [p[: -len(tail)] for p in parts]
            return " \u2212 ".join([heads[0]] + [h.lower() for h in heads[1:]]) + tail
        return " \u2212 ".join(parts)
    m = re.fullmatch(r"(.+?)(?:_lag(\d+))?(_within|_between)?(_z)?", term)
    if m is None:  # pragma: no cover - the pattern matches any non-empty text
        return term
    base, lag, part, z = m.groups()
    label = construct_label(base)
    label = label[:1].upper() + label[1:]
    if lag:
        label += f", {_lag_text(int(lag))}"
    quals = []
    if part:
        quals.append("within dyad" if part == "_within" else "between dyads")
    if z:
        quals.append("per SD")
    if quals:
        label += f" ({', '.join(quals)})"
    return label


def model_title(name: str) -> str:
    """Title of a stored model's table (title case)."""
    parts = name.split(":")
    kind = parts[0]
    if kind == "growth":
        return "Growth of Inter-Brain Synchrony Over Sessions"
    if kind == "growth_true_vs_pseudo":
        return "Growth of Synchrony in True Dyads Versus Pseudo-Dyads"
    outcome = _title(construct_label(parts[1])) if len(parts) > 1 else ""
    if kind == "outcome" and len(parts) == 3:
        k = int(parts[2].removeprefix("lag"))
        when = "the Previous Session" if k == 1 else f"{k} Sessions Earlier"
        return f"{outcome} Predicted by Synchrony in {when}"
    if kind == "outcome":
        return f"{outcome} Predicted by Synchrony in the Same Session"
    if kind == "alliance":
        return f"{outcome} Predicted by Alliance in the Same Session"
    if kind == "compare":
        return f"{outcome} Predicted by Synchrony and Alliance Jointly (Standardised Predictors)"
    if kind == "growth_roi":
        return f"Growth of Synchrony for ROI Pair {':'.join(parts[1:])}"
    return _title(name.replace("_", " "))


def _title(text: str) -> str:
    small = {"of", "in", "and", "by", "the", "for", "vs", "over", "to"}
    words = text.split(" ")
    return " ".join(w if (i and w in small) else w[:1].upper() + w[1:]
                    for i, w in enumerate(words))


def _fit_value(fit: Mapping[str, Any], key: str) -> Any:
    value = fit.get(key)
    return None if _missing(value) else value


def model_table(fit: Mapping[str, Any], terms: pd.DataFrame, random: pd.DataFrame) -> Table:
    """The APA table of one stored mixed model.

    Parameters
    ----------
    fit : mapping
        One row of ``model_results()["fits"]`` (model, formula, n_obs, n_groups, converged,
        singular, fallback, r2_marginal, r2_conditional, icc, notes).
    terms : DataFrame
        Its rows of ``model_results()["terms"]`` (term, estimate, se, df, t, p, ci_low,
        ci_high).
    random : DataFrame
        Its rows of ``model_results()["random"]`` (group, var1, var2, vcov, sdcor).

    Returns
    -------
    Table
        Fixed effects (and a tested contrast) with b, SE, 95% CI, Satterthwaite df, t, p; the
        random-effect variances; ICC, marginal and conditional R², N dyads and observations.
    """
    name = str(fit["model"])
    columns = ["Term", "*b*", "*SE*", "95% CI", "*df*", "*t*", "*p*"]
    rows: list[Row] = []
    for t in terms.itertuples(index=False):
        d = decimals_for(t.se)
        group = "Contrast" if " - " in str(t.term) else "Fixed effects"
        rows.append(Row(
            cells=[term_label(str(t.term)), fmt_num(t.estimate, d), fmt_num(t.se, d),
                   fmt_ci(t.ci_low, t.ci_high, d), fmt_df(t.df), fmt_num(t.t, 2), fmt_p(t.p)],
            values=[None, t.estimate, t.se, (t.ci_low, t.ci_high), t.df, t.t, t.p],
            group=group))
    blank = [""] * (len(columns) - 2)
    none = [None] * (len(columns) - 2)

    def stat(label: str, text: str, value: Any) -> None:
        rows.append(Row([label, text, *blank], [None, value, *none],
                        group="Random effects and model fit"))

    for r in random.itertuples(index=False):
        if r.group == "Residual":
            stat("σ^{2} (residual variance)", fmt_num(r.vcov, decimals_for(r.vcov)), r.vcov)
        elif _missing(r.var2):
            if r.var1 == "(Intercept)":
                label = "τ_{00} (dyad intercept variance)"
            else:
                label = f"τ_{{11}} (dyad {construct_label(str(r.var1))}-slope variance)"
            stat(label, fmt_num(r.vcov, decimals_for(r.vcov)), r.vcov)
        else:
            stat("ρ_{01} (intercept–slope correlation)", fmt_unit(r.sdcor, 2), r.sdcor)
    icc = _fit_value(fit, "icc")
    stat("ICC (null model)", fmt_unit(icc, 2), icc)
    r2m, r2c = _fit_value(fit, "r2_marginal"), _fit_value(fit, "r2_conditional")
    stat("*R*^{2} marginal", fmt_unit(r2m, 2), r2m)
    stat("*R*^{2} conditional", fmt_unit(r2c, 2), r2c)
    stat("*N* dyads", fmt_int(fit.get("n_groups")), fit.get("n_groups"))
    stat("Observations", fmt_int(fit.get("n_obs")), fit.get("n_obs"))
    note = (f"Linear mixed-effects model fitted by restricted maximum likelihood: "
            f"{literal(str(fit['formula']))} (lme4 notation). *b* = unstandardised estimate; "
            "CI = confidence interval; *df* by Satterthwaite's method; *p* two-sided. ICC from the "
            "intercept-only model of the outcome; *R*^{2} after Nakagawa and Schielzeth (2013).")
    if name.startswith("compare:"):
        note += (" Predictors are split into within-dyad and between-dyad parts and "
                 "standardised (per SD of each part); the contrast tests whether the "
                 "within-dyad effects of synchrony and alliance differ.")
    if name.startswith("growth_true_vs_pseudo"):
        note += (" True pairs (coded 1) and pseudo-dyads (0) stacked; Session × true pair is "
                 "the growth specific to real dyads.")
    lag = re.search(r":lag(\d+)$", name)
    if lag:
        note += (f" Synchrony at session *t* predicts the outcome at *t* + {lag.group(1)}, "
                 "controlling the outcome at *t*.")
    fallback = _fit_value(fit, "fallback")
    if fallback:
        note += f" Note on the fit: {fallback}."
    if fit.get("singular") is True and not fallback:
        note += " The fit is singular (a random-effect variance is estimated as zero)."
    if fit.get("converged") is False:
        note += " The model did not converge; interpret with caution."
    return Table(name=_file_name(name), title=model_title(name), columns=columns, rows=rows,
                 note=note, source={"model": name})


def _file_name(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_").lower()


def rm_corr_table(terms: pd.DataFrame, fit: Mapping[str, Any]) -> Table:
    """Repeated-measures correlations of synchrony with each construct (stored ``rm_corr``)."""
    rows = []
    for t in terms.itertuples(index=False):
        construct = str(t.term).split("~", 1)[-1]
        rows.append(Row(
            cells=[_cap(construct_label(construct)), fmt_unit(t.estimate, 2),
                   fmt_ci(t.ci_low, t.ci_high, 2, unit=True), fmt_int(t.df), fmt_p(t.p),
                   fmt_p(t.p_fdr)],
            values=[None, t.estimate, (t.ci_low, t.ci_high), t.df, t.p, t.p_fdr]))
    note = ("Repeated-measures correlation (Bakdash & Marusich, 2017): the common within-dyad "
            "association of synchrony with each measure across sessions. *p*_{FDR} = "
            "Benjamini–Hochberg adjusted over the measures.")
    if fit.get("n_obs") is not None and not _missing(fit.get("n_obs")):
        note += f" Up to {int(fit['n_obs'])} sessions in {int(fit['n_groups'])} dyads."
    return Table(name="rm_corr", title="Repeated-Measures Correlations of Synchrony With "
                 "Outcomes and Alliance", columns=["Measure", "*r*", "95% CI", "*df*", "*p*",
                                                  "*p*_{FDR}"],
                 rows=rows, note=note, source={"model": "rm_corr"})


def roi_table(roi: pd.DataFrame) -> Table:
    """Growth slope of synchrony per ROI pair with Benjamini–Hochberg adjusted p."""
    rows = []
    for r in roi.itertuples(index=False):
        if r.status != "ok":
            rows.append(Row([str(r.therapist_roi), str(r.patient_roi), "", "", "", "",
                             "not fitted"], [None] * 7))
            continue
        d = decimals_for(r.se)
        rows.append(Row([str(r.therapist_roi), str(r.patient_roi), fmt_num(r.slope, d),
                         fmt_num(r.se, d), fmt_df(r.df), fmt_p(r.p), fmt_p(r.p_fdr)],
                        [None, None, r.slope, r.se, r.df, r.p, r.p_fdr]))
    note = ("Session slope of synchrony from the growth model fitted separately per ROI pair "
            "(therapist ROI × patient ROI): synchrony ~ session + (1 + session | dyad), "
            "random intercept only when that fit was singular. *p*_{FDR} = Benjamini–Hochberg "
            "adjusted over the ROI pairs fitted.")
    return Table(name="roi_growth", title="Growth of Synchrony per ROI Pair",
                 columns=["Therapist ROI", "Patient ROI", "*b* (per session)", "*SE*", "*df*",
                          "*p*", "*p*_{FDR}"], rows=rows, note=note, source={"model": "roi"})


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


DESCRIPTIVE_MEASURES = ("synchrony", "synchrony_pseudo", "symptoms", "wellbeing", "alliance",
                        "session_quality")


def measure_label(column: str, sources: Mapping[str, Any] | None, chromophore: str) -> str:
    """Label of an analysis-table column with its source (instrument and scale)."""
    chroma = {"hbo": "HbO", "hbr": "HbR"}.get(chromophore, chromophore)
    if column == "synchrony":
        return f"Synchrony, true pairs (WTC, {chroma})"
    if column == "synchrony_pseudo":
        return f"Synchrony, pseudo-dyads (WTC, {chroma})"
    src = (sources or {}).get(column) or {}
    label = _cap(construct_label(column))
    if src.get("instrument"):
        label += f" ({src['instrument']} {src.get('scale') or ''}".rstrip() + ")"
    return label


def descriptives_table(frame: pd.DataFrame, sources: Mapping[str, Any] | None = None,
                       chromophore: str = "hbo") -> Table:
    """Means, SDs and n per session of synchrony and of each construct.

    Parameters
    ----------
    frame : DataFrame
        The analysis table (one row per dyad × session).
    sources : mapping, optional
        The analysis table's construct sources (instrument, scale, role, timing).
    chromophore : str
        Whose synchrony the table holds.
    """
    rows: list[Row] = []
    for col in DESCRIPTIVE_MEASURES:
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        if not values.notna().any():
            continue
        d = decimals_for(values.std(ddof=1) if values.notna().sum() > 1 else values.abs().max())
        label = measure_label(col, sources, chromophore)
        by = values.groupby(frame["session"].astype(int))
        for session, vals in [*by, ("All", values)]:
            v = vals.dropna()
            n = int(v.size)
            if n == 0:
                continue
            m = float(v.mean())
            sd = float(v.std(ddof=1)) if n > 1 else None
            rows.append(Row([str(session), fmt_int(n), fmt_num(m, d), fmt_num(sd, d)],
                            [None, n, m, sd], group=label))
    note_parts = ["*n* = dyads with a value; *M* and *SD* over dyads (SD with *n* − 1)."]
    note_parts.append("Synchrony is band-averaged wavelet transform coherence (0–1) of the "
                      "session's recordings; pseudo-dyads pair the therapist with other "
                      "dyads' patients (and vice versa) at the same session number.")
    for col in ("symptoms", "wellbeing", "alliance", "session_quality"):
        src = (sources or {}).get(col)
        if src and src.get("instrument"):
            note_parts.append(f"{_cap(construct_label(col))}: {src['instrument']}@"
                              f"{src.get('version')} {src.get('scale')}, "
                              f"{src.get('role')}-rated, {src.get('timing')}-session.")
    return Table(name="descriptives", title="Descriptive Statistics per Session",
                 columns=["Session", "*n*", "*M*", "*SD*"], rows=rows,
                 note=" ".join(note_parts), group_label="Measure",
                 source={"table": "descriptives"})


def model_order(names: Sequence[str]) -> list[str]:
    """Stored model names in reading order: growth, true vs pseudo, then per outcome the
    same-session, lagged, alliance and joint models."""
    def key(name: str) -> tuple:
        parts = name.split(":")
        kind = parts[0]
        outcome = parts[1] if len(parts) > 1 else ""
        o_rank = {"symptoms": 0, "wellbeing": 1, "session_quality": 2}.get(outcome, 3)
        k_rank = {"growth": 0, "growth_true_vs_pseudo": 1, "outcome": 2, "alliance": 3,
                  "compare": 4, "rm_corr": 5, "growth_roi": 6}.get(kind, 7)
        lagged = 1 if len(parts) > 2 else 0
        if kind in ("growth", "growth_true_vs_pseudo"):
            return (k_rank, 0, 0, name)
        if kind == "outcome":
            return (2, o_rank, lagged, name)
        if kind in ("alliance", "compare"):
            return (2, o_rank, k_rank, name)
        return (k_rank + 10, 0, 0, name)

    return sorted(names, key=key)


def publication_tables(results: Mapping[str, pd.DataFrame], analysis: pd.DataFrame | None = None,
                       sources: Mapping[str, Any] | None = None, chromophore: str = "hbo"
                       ) -> tuple[list[Table], list[str]]:
    """Every publication table the stored results allow, numbered in reading order.

    Parameters
    ----------
    results : mapping of str to DataFrame
        As returned by ``Study.model_results()`` (``fits``, ``terms``, ``random``, ``roi``).
    analysis : DataFrame or None
        The analysis table (for the descriptives).
    sources : mapping or None
        The construct sources of the analysis table.
    chromophore : str

    Returns
    -------
    tables : list of Table
    notes : list of str
        What could not be tabulated and why (failed models, no data).
    """
    tables: list[Table] = []
    notes: list[str] = []
    if analysis is not None and len(analysis):
        desc = descriptives_table(analysis, sources, chromophore)
        if desc.rows:
            tables.append(desc)
        else:
            notes.append("descriptives: no synchrony or questionnaire values in the analysis "
                         "table")
    else:
        notes.append("descriptives: the analysis table is empty (no sessions)")
    fits = results.get("fits", pd.DataFrame())
    terms = results.get("terms", pd.DataFrame())
    random = results.get("random", pd.DataFrame())
    if fits is None or fits.empty:
        notes.append("models: no models run is stored (run 'studymgr models fit')")
        fits = pd.DataFrame(columns=["model", "status"])
    by_name = {str(r["model"]): r for r in fits.to_dict(orient="records")}
    for name in model_order(list(by_name)):
        fit = by_name[name]
        if name.startswith("growth_roi:"):
            continue
        if fit.get("status") != "ok":
            notes.append(f"{name}: not tabulated, the model failed ({fit.get('message')})")
            continue
        own = terms.loc[terms["model"] == name]
        if name == "rm_corr":
            tables.append(rm_corr_table(own, fit))
        else:
            tables.append(model_table(fit, own, random.loc[random["model"] == name]))
    roi = results.get("roi")
    if roi is not None and len(roi):
        tables.append(roi_table(roi))
    for i, t in enumerate(tables, start=1):
        t.number = i
    return tables, notes


# --------------------------------------------------------------------------------------------
# Moments of interest: event-locked synchrony, EEG coupling and frontal alpha asymmetry
# --------------------------------------------------------------------------------------------

CHROMOPHORE_LABELS = {"hbo": "HbO", "hbr": "HbR"}


def condition_order(conditions: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
    """Conditions in reading order: ``session`` (whole session), the labels (``labels``' order,
    then any other sorted), ``rest``."""
    found = list(dict.fromkeys(str(c) for c in conditions))
    middle = [c for c in found if c not in ("session", REST)]
    wanted = [lab for lab in (labels or []) if lab in middle]
    ordered = wanted + sorted(c for c in middle if c not in wanted)
    return (["session"] if "session" in found else []) + ordered + ([REST] if REST in found
                                                                    else [])


def _condition_header(condition: str) -> str:
    return {"session": "Whole session", REST: "Rest"}.get(condition, literal(condition))


def _range(lo: Any, hi: Any, unit: str = "") -> str:
    return f"{float(lo):g}–{float(hi):g}{unit}"


def _configs_note(configs: Sequence[Mapping[str, Any]], what: str) -> str:
    if len(configs) > 1:
        return (f" The stored {what} results come from {len(configs)} different settings "
                "(sessions computed with different configurations); see the methods.")
    return ""


def eventlocked_apa_table(results: pd.DataFrame, *, labels: Sequence[str] | None = None,
                          chromophores: Sequence[str] | None = None,
                          configs: Sequence[Mapping[str, Any]] = ()) -> Table:
    """Session-level event-locked synchrony per session: each label's mean, moments and
    permutation p, and the rest of the session.

    Parameters
    ----------
    results : DataFrame
        As ``Study.eventlocked_results(level="session")`` returns them (other levels are
        ignored).
    labels : sequence of str, optional
        Label order (default: sorted).
    chromophores : sequence of str, optional
        Which chromophores, in this order (default: HbO then HbR, those present); with more
        than one the rows are grouped by chromophore.
    configs : sequence of mapping
        The distinct stored event-locked configurations (for the note).

    Returns
    -------
    Table
        Columns Dyad, Session, then per label *M*, *n*, *p*, then Rest *M*; every numeric
        cell's value is the stored number.
    """
    frame = results.loc[results["level"] == "session"]
    present = list(dict.fromkeys(frame["chromophore"]))
    chromas = [c for c in (chromophores or sorted(present, key=lambda c: (c != "hbo", c)))
               if c in present]
    order = [c for c in condition_order(frame["condition"], labels) if c != REST]
    columns = ["Dyad", "Session"]
    for lab in order:
        columns += [f"{literal(lab)} *M*", f"{literal(lab)} *n*", f"{literal(lab)} *p*"]
    columns.append("Rest *M*")
    rows: list[Row] = []
    for chroma in chromas:
        wide = eventlocked_table(frame, labels=order, chromophore=chroma)
        group = CHROMOPHORE_LABELS.get(chroma, chroma) if len(chromas) > 1 else None
        for r in wide.to_dict(orient="records"):
            cells, values = [str(r["dyad"]), str(int(r["session"]))], [None, None]
            for lab in order:
                m, n, p = r.get(lab), r.get(f"n_{lab}"), r.get(f"p_{lab}")
                n = None if _missing(n) else int(n)
                cells += [fmt_unit(m, 3), fmt_int(n), fmt_p(p)]
                values += [None if _missing(m) else float(m), n,
                           None if _missing(p) else float(p)]
            rest = r.get(REST)
            cells.append(fmt_unit(rest, 3))
            values.append(None if _missing(rest) else float(rest))
            rows.append(Row(cells, values, group=group))
    chroma_text = " and ".join(CHROMOPHORE_LABELS.get(c, c) for c in chromas)
    note = (f"Session level ({chroma_text}): band-averaged wavelet transform coherence (0–1) "
            "of the therapist's and the patient's signals at every sample, averaged over the "
            "homologous ROI pairs. *M* = mean coherence in the windows around the label's "
            "moments (mean of the moments' window means); *n* = moments whose window had "
            "defined coherence; *p* = one-sided random-window permutation *p*: (1 + the "
            "number of randomly placed sets of windows with a mean at least as high) / (1 + "
            "the number of sets) (Phipson & Smyth, 2010). Rest = mean over every sample "
            "outside all moments' windows.")
    if len(configs) == 1:
        cfg = configs[0]
        lo, hi = (cfg.get("synchrony") or {}).get("band", (0.05, 0.10))
        w0, w1 = cfg.get("window", (-15.0, 15.0))
        note += (f" Windows from {float(w0):g} to {float(w1):g} s around each "
                 f"{cfg.get('source', 'consensus')} moment; band {_range(lo, hi, ' Hz')}; "
                 f"{cfg.get('n_permutations')} permutations, seed {cfg.get('seed')}.")
    note += _configs_note(configs, "event-locked")
    return Table(name="eventlocked", title="Event-Locked Synchrony Around Moments of Interest",
                 columns=columns, rows=rows, note=note, group_label="Chromophore",
                 source={"table": "eventlocked"})


def _band_ranges(configs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    if len(configs) != 1:
        return {}
    return {str(b[0]): (float(b[1]), float(b[2])) for b in configs[0].get("bands") or []}


def measure_title(measure: str, bands: Mapping[str, tuple[float, float]] | None = None) -> str:
    """``plv_alpha`` -> ``PLV, alpha (8–12 Hz)`` (the band's range when known)."""
    kind, _, band = measure.partition("_")
    text = f"{kind.upper()}, {band}" if band else kind.upper()
    if band and bands and band in bands:
        text += f" ({_range(*bands[band], ' Hz')})"
    return text


def eeg_coupling_table(results: pd.DataFrame, *, labels: Sequence[str] | None = None,
                       configs: Sequence[Mapping[str, Any]] = ()) -> Table:
    """Inter-brain EEG coupling per session and condition, one group of rows per measure.

    Parameters
    ----------
    results : DataFrame
        As ``Study.eeg_results(level="session")`` returns them.
    labels : sequence of str, optional
        Label order (default: sorted).
    configs : sequence of mapping
        The distinct stored EEG configurations (band ranges, epoch length and window for the
        note).

    Returns
    -------
    Table
        Columns Dyad, Session, Whole session, each label, Rest.
    """
    frame = results.loc[results["level"] == "session"]
    conditions = condition_order(frame["condition"], labels)
    bands = _band_ranges(configs)
    rows: list[Row] = []
    for measure in dict.fromkeys(frame["measure"]):
        part = frame.loc[frame["measure"] == measure]
        wide = part.pivot_table(index=["dyad", "session"], columns="condition", values="value",
                                aggfunc="first", dropna=False)
        for (dyad, session), r in wide.iterrows():
            values = [None if _missing(r.get(c)) else float(r.get(c)) for c in conditions]
            rows.append(Row([str(dyad), str(int(session)), *[fmt_unit(v, 3) for v in values]],
                            [None, None, *values], group=measure_title(str(measure), bands)))
    note = ("PLV = phase-locking value (0–1); AEC = amplitude envelope correlation (−1 to 1); "
            "each averaged over the homologous electrode pairs. Whole session: mean over every "
            "epoch; a label: mean over its moments, each moment the mean of the epochs whose "
            "centre lies in its window; rest: mean over the epochs outside every moment's "
            "window. PLV is biased upwards for short epochs: compare conditions and sessions "
            "computed with the same settings, not PLV with zero.")
    if len(configs) == 1:
        cfg = configs[0]
        w0, w1 = cfg.get("window", (-15.0, 15.0))
        note += (f" Epochs of {float(cfg.get('epoch_s', 2.0)):g} s; windows from "
                 f"{float(w0):g} to {float(w1):g} s around each {cfg.get('source', 'consensus')}"
                 " moment.")
    note += _configs_note(configs, "EEG")
    return Table(name="eeg_coupling", title="Inter-Brain EEG Coupling Around Moments of Interest",
                 columns=["Dyad", "Session", *[_condition_header(c) for c in conditions]],
                 rows=rows, note=note, group_label="Measure", source={"table": "eeg_coupling"})


def eeg_asymmetry_table(asymmetry: pd.DataFrame, *, labels: Sequence[str] | None = None,
                        configs: Sequence[Mapping[str, Any]] = ()) -> Table:
    """Frontal alpha asymmetry per person, session and condition.

    Parameters
    ----------
    asymmetry : DataFrame
        As ``Study.eeg_asymmetry()`` returns it (``dyad, session, role, left, right,
        condition, value, ...``).
    labels : sequence of str, optional
        Label order (default: sorted).
    configs : sequence of mapping
        The distinct stored EEG configurations (alpha band and windows for the note).

    Returns
    -------
    Table
        One group of rows per role and electrode pair; columns Dyad, Session, Whole session,
        each label, Rest.
    """
    conditions = condition_order(asymmetry["condition"], labels)
    rows: list[Row] = []
    roles = sorted(dict.fromkeys(asymmetry["role"]), key=lambda r: (r != "therapist", r))
    for role in roles:
        mine = asymmetry.loc[asymmetry["role"] == role]
        for (left, right), part in mine.groupby(["left", "right"], sort=True):
            wide = part.pivot_table(index=["dyad", "session"], columns="condition",
                                    values="value", aggfunc="first", dropna=False)
            group = f"{_cap(str(role))} ({right} vs. {left})"
            for (dyad, session), r in wide.iterrows():
                values = [None if _missing(r.get(c)) else float(r.get(c)) for c in conditions]
                rows.append(Row([str(dyad), str(int(session)),
                                 *[fmt_num(v, 2) for v in values]],
                                [None, None, *values], group=group))
    note = ("Frontal alpha asymmetry = ln(alpha power at the right electrode) − ln(alpha power "
            "at the left electrode) in sliding windows (Davidson, 1988; Allen et al., 2004): "
            "positive values mean relatively more right alpha power, i.e. relatively more "
            "left-frontal activity. Whole session: mean over every window; a label: mean over "
            "its moments, each moment the mean of the windows whose centre lies in its window; "
            "rest: the windows outside every moment's window.")
    if len(configs) == 1:
        cfg = configs[0]
        lo, hi = cfg.get("asymmetry_band", (8.0, 12.0))
        note += (f" Alpha band {_range(lo, hi, ' Hz')}, {float(cfg.get('asymmetry_window_s', 2)):g}"
                 f"-s windows every {float(cfg.get('asymmetry_step_s', 1)):g} s.")
    note += _configs_note(configs, "EEG")
    return Table(name="eeg_asymmetry", title="Frontal Alpha Asymmetry Around Moments of Interest",
                 columns=["Dyad", "Session", *[_condition_header(c) for c in conditions]],
                 rows=rows, note=note, group_label="Person", source={"table": "eeg_asymmetry"})


def moments_tables(eventlocked: pd.DataFrame | None, eeg: pd.DataFrame | None,
                   asymmetry: pd.DataFrame | None, *,
                   eventlocked_configs: Sequence[Mapping[str, Any]] = (),
                   eeg_configs: Sequence[Mapping[str, Any]] = ()
                   ) -> tuple[list[Table], list[str]]:
    """The moments-of-interest tables the stored results allow, and why the others are absent.

    Parameters
    ----------
    eventlocked : DataFrame or None
        ``Study.eventlocked_results(level="session")``.
    eeg : DataFrame or None
        ``Study.eeg_results(level="session")``.
    asymmetry : DataFrame or None
        ``Study.eeg_asymmetry()``.
    eventlocked_configs, eeg_configs : sequence of mapping
        The distinct stored configurations (for the notes).

    Returns
    -------
    tables : list of Table
        Unnumbered.
    notes : list of str
    """
    tables: list[Table] = []
    notes: list[str] = []
    labels = [lab for cfg in eventlocked_configs for lab in cfg.get("labels", [])]
    if eventlocked is not None and (eventlocked["level"] == "session").any():
        tables.append(eventlocked_apa_table(eventlocked, labels=labels or None,
                                            configs=eventlocked_configs))
    else:
        notes.append("event-locked synchrony: none stored (store consensus moments with "
                     "'studymgr events agreement DYAD N', then run 'studymgr eventlocked "
                     "compute')")
    eeg_labels = [lab for cfg in eeg_configs for lab in cfg.get("labels", [])] or None
    if eeg is not None and (eeg["level"] == "session").any():
        tables.append(eeg_coupling_table(eeg, labels=eeg_labels, configs=eeg_configs))
    else:
        notes.append("EEG coupling around moments: no EEG results stored (import both "
                     "people's EEG and run 'studymgr eeg compute')")
    if asymmetry is not None and len(asymmetry):
        tables.append(eeg_asymmetry_table(asymmetry, labels=eeg_labels, configs=eeg_configs))
    else:
        notes.append("frontal alpha asymmetry around moments: none stored (run 'studymgr eeg "
                     "compute')")
    return tables, notes


# -- event-locked synchrony, wide ------------------------------------------------------------------
def eventlocked_table(results: pd.DataFrame, *, labels: Sequence[str] | None = None,
                      chromophore: str | None = "hbo") -> pd.DataFrame:
    """A wide table of event-locked results: one row per session and unit pair.

    Parameters
    ----------
    results : DataFrame
        Tidy results as :meth:`Study.eventlocked_results` returns them: ``dyad, session,
        measure, chromophore, level, therapist_unit, patient_unit, condition, value, n_windows,
        null_mean, p_value``.
    labels : sequence of str | None
        Conditions to show, in this order (default: every label found, then ``rest``).
    chromophore : str | None
        Keep one chromophore (default ``hbo``; None keeps all).

    Returns
    -------
    DataFrame
        ``dyad, session, measure, chromophore, level, therapist_unit, patient_unit`` then, per
        label L: ``L`` (mean in its windows), ``n_L`` (windows), ``null_L`` (mean of the random
        windows), ``p_L`` (permutation p); then ``rest`` (mean outside every window).
    """
    keys = ["dyad", "session", "measure", "chromophore", "level", "therapist_unit",
            "patient_unit"]
    needed = [*keys, "condition", "value", "n_windows", "null_mean", "p_value"]
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise InputError(f"event-locked results lack column(s) {', '.join(missing)}")
    frame = results if chromophore is None else results[results["chromophore"] == chromophore]
    found = [c for c in dict.fromkeys(frame["condition"]) if c != REST]
    wanted = list(labels) if labels is not None else sorted(found)
    out = frame[keys].drop_duplicates().reset_index(drop=True)
    for lab in [*wanted, REST]:
        part = frame[frame["condition"] == lab].set_index(keys)
        cols = {"value": lab} if lab == REST else {"value": lab, "n_windows": f"n_{lab}",
                                                   "null_mean": f"null_{lab}",
                                                   "p_value": f"p_{lab}"}
        out = out.merge(part[list(cols)].rename(columns=cols), left_on=keys, right_index=True,
                        how="left")
        for col in cols.values():
            if col.startswith("n_"):
                out[col] = out[col].astype("Int64")
    return out.sort_values(keys, kind="stable", ignore_index=True)
