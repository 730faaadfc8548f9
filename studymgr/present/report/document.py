"""The report as a list of sections made of blocks, rendered to HTML or PDF.

Building the content (:mod:`studymgr.present.report.sections`) is kept apart from rendering it
(:mod:`studymgr.present.report.html`, :mod:`studymgr.present.report.pdf`), so both formats say
the same.
Text may use the markup of :mod:`studymgr.present.tables` (``*italic*``, ``^{sup}``, ``_{sub}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from studymgr.present.tables import Table


@dataclass
class Para:
    """A paragraph. ``kind``: ``""`` (plain), ``missing`` (data not there yet), ``warning``
    (something to check) or ``ok``."""

    text: str
    kind: str = ""


@dataclass
class Bullets:
    """A bulleted list."""

    items: list[str]


@dataclass
class Fig:
    """A figure (matplotlib Figure) with its caption."""

    figure: Any
    caption: str
    name: str


@dataclass
class ApaTable:
    """A publication table (see :class:`studymgr.present.tables.Table`)."""

    table: Table


@dataclass
class DataTable:
    """A plain listing (a DataFrame) with a caption."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Code:
    """Preformatted text (configurations, hashes)."""

    text: str
    caption: str = ""


Block = Para | Bullets | Fig | ApaTable | DataTable | Code


@dataclass
class Section:
    """A titled part of the report; ``id`` is its HTML anchor."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    """The whole report."""

    title: str
    subtitle: str
    sections: list[Section]

    def figures(self) -> list[Fig]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Fig)]

    def close(self) -> None:
        """Release the figures' memory."""
        for fig in self.figures():
            fig.figure.clear()
