"""The report as one self-contained HTML page: CSS inline, figures as base64 PNG, no network."""

from __future__ import annotations

import html
import logging

import pandas as pd

from studymgr.present.figures import to_data_uri
from studymgr.present.report.document import (
    ApaTable,
    Bullets,
    Code,
    DataTable,
    Document,
    Fig,
    Para,
)
from studymgr.present.tables import HTML_CSS, html_markup

logger = logging.getLogger(__name__)

CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  color: #222; max-width: 70em; margin: 0 auto; padding: 1.5em 2em 4em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.1em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
p.subtitle { color: #555; margin-top: 0; }
nav.toc ol { columns: 2; }
figure.plot { margin: 1.2em 0; }
figure.plot img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #333; max-width: 60em; }
p.missing, p.warning, p.ok { padding: 0.5em 0.8em; border-left: 4px solid; }
p.missing { background: #f4f4f4; border-color: #999; }
p.warning { background: #fdf1e6; border-color: #d55e00; }
p.ok { background: #eaf6ef; border-color: #009e73; }
table.listing { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
table.listing th, table.listing td { border: 1px solid #ddd; padding: 0.2em 0.6em;
  text-align: left; }
table.listing th { background: #f2f2f2; }
table.listing td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
p.caption { font-size: 0.9em; font-style: italic; margin-bottom: 0.2em; }
@media print { nav.toc { display: none; } h2 { page-break-before: auto; } }
"""


def render_html(doc: Document) -> str:
    """The whole page as a string."""
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(doc.title)}</title>",
           f"<style>{CSS}{HTML_CSS}</style></head><body>",
           f"<h1>{html.escape(doc.title)}</h1>",
           f'<p class="subtitle">{html.escape(doc.subtitle)}</p>',
           '<nav class="toc"><ol>']
    out += [f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in doc.sections]
    out.append("</ol></nav>")
    n_fig = 0
    for section in doc.sections:
        out.append(f'<section id="{section.id}"><h2>{html.escape(section.title)}</h2>')
        if section.intro:
            out.append(f"<p><i>{html_markup(section.intro)}</i></p>")
        for block in section.blocks:
            if isinstance(block, Fig):
                n_fig += 1
                out.append(f'<figure class="plot" id="figure-{n_fig}">'
                           f'<img src="{to_data_uri(block.figure)}" '
                           f'alt="{html.escape(block.caption)}">'
                           f"<figcaption><b>Figure {n_fig}.</b> "
                           f"{html_markup(block.caption)}</figcaption></figure>")
            elif isinstance(block, ApaTable):
                t = block.table
                out.append(t.to_html(table_id=f"table-{t.number}" if t.number else None))
            elif isinstance(block, Para):
                cls = f' class="{block.kind}"' if block.kind else ""
                out.append(f"<p{cls}>{html_markup(block.text)}</p>")
            elif isinstance(block, Bullets):
                out.append("<ul>" + "".join(f"<li>{html_markup(i)}</li>" for i in block.items)
                           + "</ul>")
            elif isinstance(block, DataTable):
                out.append(listing(block.frame, block.caption))
            elif isinstance(block, Code):
                if block.caption:
                    out.append(f'<p class="caption">{html.escape(block.caption)}</p>')
                out.append(f"<pre>{html.escape(block.text)}</pre>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def listing(frame: pd.DataFrame, caption: str = "") -> str:
    """A plain HTML table of a DataFrame (numbers right-aligned)."""
    out = []
    if caption:
        out.append(f'<p class="caption">{html.escape(caption)}</p>')
    out.append('<table class="listing"><thead><tr>')
    out += [f"<th>{html.escape(str(c), quote=False)}</th>" for c in frame.columns]
    out.append("</tr></thead><tbody>")
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in frame.columns]
    for row in frame.itertuples(index=False):
        cells = []
        for value, num in zip(row, numeric, strict=True):
            text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
                else (f"{value:.4g}" if isinstance(value, float) else str(value))
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{html.escape(text, quote=False)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)
