"""Reading spreadsheets: CSV/TXT and Excel workbooks into text columns.

Guarantees:
- every value is text exactly as a person sees it in the sheet (`08001` stays
  `08001`, an Excel number 5555555555.0 becomes `5555555555`, 0.1 + 0.2 becomes
  `0.3` as Excel shows it, dates become `YYYY-MM-DD`); nothing is parsed as a
  number or a formula;
- each row keeps the row number a person sees in the input (the frame's index),
  so every later message can name it; a CSV record with a quoted line break
  is one row, as Excel shows it;
- files are read in chunks (CSV text as it is decoded; a workbook's rows are
  turned into text a chunk at a time, from a sheet of at most `MAX_SHEET_CELLS`),
  so memory stays bounded;
- a file that cannot be read raises `InputFileError` with one line naming the
  file, the reason and what to do. Hostile files (zip bombs, XML entity bombs,
  a sheet whose cells span more than `MAX_SHEET_CELLS`) are refused before the
  workbook reader sees them.
"""

from __future__ import annotations

import stat
from pathlib import Path

from importer.errors import InputFileError
from importer.reading.guards import (
    MAX_COMPRESSION_RATIO,
    MAX_SHEET_CELLS,
    MAX_UNCOMPRESSED_BYTES,
    OLE_MAGIC,
    ZIP_MAGIC,
    check_old_excel,
)
from importer.reading.html import is_html, open_html
from importer.reading.table import (
    CHUNK_ROWS,
    EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
    HEAD_BYTES,
    MAX_CELL_CHARS,
    Chunk,
    InputTable,
    ReadOptions,
)
from importer.reading.text import DELIMITERS, is_text, open_csv
from importer.reading.workbooks import open_workbook

__all__ = [
    "CHUNK_ROWS",
    "CSV_SUFFIXES",
    "DELIMITERS",
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_ROWS",
    "MAX_CELL_CHARS",
    "MAX_COMPRESSION_RATIO",
    "MAX_SHEET_CELLS",
    "MAX_UNCOMPRESSED_BYTES",
    "WORKBOOK_SUFFIXES",
    "Chunk",
    "InputTable",
    "ReadOptions",
    "open_table",
]

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"})


_DEFAULTS = ReadOptions()


def open_table(path: Path, options: ReadOptions = _DEFAULTS) -> InputTable:
    """Open a spreadsheet for reading; raises `InputFileError` if it cannot be read."""
    if options.header_row is not None and options.header_row < 0:
        raise InputFileError(f"{path}: header_row must be 0 or more, not {options.header_row}")
    table = _open(path, options)
    if options.only_failed and not table.from_results:
        raise InputFileError(
            f"{path}: is not a results workbook of this importer; --only-failed reads "
            "the <input>.results.xlsx an earlier validate or run wrote"
        )
    return table


def _open(path: Path, options: ReadOptions) -> InputTable:
    head = _read_head(path)
    check_old_excel(path, head)
    if head.startswith((ZIP_MAGIC, OLE_MAGIC)):
        table = open_workbook(path, head, options)
        if path.suffix.lower() in CSV_SUFFIXES:
            table.notes.append(f"{path.name} is an Excel workbook despite its name; read it as one")
        return table
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return _open_disguised(path, head, options)
    return open_csv(path, head, options)


def _open_disguised(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    """A workbook's name on text: CRMs and web apps export CSV and HTML tables as .xls."""
    if is_html(head):
        table = open_html(path, head, options)
        note = f"{path.name} is a web page (an HTML table) despite its name; read its table"
    elif is_text(path, head):
        table = open_csv(path, head, options)
        note = f"{path.name} is a CSV text file despite its name; read it as CSV"
    else:
        raise InputFileError(
            f"{path}: is not an Excel workbook (its content is not in Excel's format); "
            "export the leads again"
        )
    table.notes.insert(0, note)
    return table


def _read_head(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputFileError(f"{path}: is a folder, not a spreadsheet")
        if not stat.S_ISREG(mode):
            # A pipe or a device would block or never end: only files are read.
            raise InputFileError(f"{path}: is not a regular file; save the leads to a file first")
        with path.open("rb") as stream:
            head = stream.read(HEAD_BYTES)
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a folder, not a spreadsheet") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot be opened ({error.strerror})") from None
    if not head:
        raise InputFileError(f"{path}: the file is empty; export the leads again")
    return head
