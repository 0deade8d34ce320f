"""Web pages saved as .xls: the HTML table many web apps export as "Excel".

The page's largest table is read with pandas' HTML reader on html5lib (through
BeautifulSoup): a browser-grade parser that neither loads nor expands anything
from outside the file. Cells are read as the text shown, never as numbers
(`08001` stays `08001`), and become rows like any other reader's.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from importer.errors import InputFileError
from importer.reading.table import InputTable, ReadOptions, make_table
from importer.reading.text import decode

_HTML_START = re.compile(rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|table|head|body|meta)\b")
_BOM = b"\xef\xbb\xbf"


def is_html(head: bytes) -> bool:
    """Whether a file's first bytes are the start of a web page."""
    return _HTML_START.match(head.removeprefix(_BOM).lower()) is not None


def open_html(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    text = decode(path, head, options.encoding)
    try:
        # extract_links="all" turns every cell into (text, link): pandas then keeps the
        # text as it is instead of reading "08001" as the number 8001.
        tables = pd.read_html(
            io.StringIO(text),
            flavor="bs4",
            header=None,
            extract_links="all",
            keep_default_na=False,
            thousands=None,  # type: ignore[arg-type]  # documented: None reads no separator
            displayed_only=True,
        )
    except ValueError:  # "No tables found"
        raise InputFileError(
            f"{path}: is a web page without a table of leads; export the leads again as CSV"
        ) from None
    largest = max(tables, key=lambda frame: frame.shape[0] * frame.shape[1])
    return make_table(path, iter(_records(largest)), options, [])


def _records(frame: pd.DataFrame) -> list[list[str]]:
    """The table's rows as text: its header cells (`<th>`) first, when it has some."""
    rows = [[_text(cell) for cell in row] for row in frame.itertuples(index=False)]
    if isinstance(frame.columns, pd.RangeIndex):
        return rows
    return [[_text(name) for name in frame.columns], *rows]


def _text(cell: object) -> str:
    if isinstance(cell, tuple):
        # A header of several rows is a tuple of (text, link) pairs: join their texts.
        parts = [_text(part) for part in cell] if cell and isinstance(cell[0], tuple) else []
        if parts:
            return " ".join(part for part in dict.fromkeys(parts) if part)
        cell = cell[0] if cell else ""
    if cell is None or (isinstance(cell, float) and cell != cell):
        return ""
    return str(cell)
