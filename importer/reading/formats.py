"""Number formats: a workbook cell's value as Excel shows it to a US firm.

The workbook reader returns values without their formats (`1960.0` for a cell
showing `$1,960.00`), so the formats are read here from the workbook itself:
for .xlsx from `xl/styles.xml` (each style's number format) and the sheet's
cells (each cell's style `s`, and its `t="e"` error text); for .xls from the
BIFF records (FORMAT, XF, each cell's XF index, error cells). Only cells whose
style has a format other than General and Text are formatted; the text itself
comes from `ssf` (a port of SheetJS's SSF engine), once per distinct
(format, value) pair, in US English: built-in format 14 is `m/d/yyyy`.

Known difference: SSF picks fractions from continued-fraction convergents, so a
two-digit fraction (`# ??/??`) of a value with no close small fraction may show
a coarser fraction than Excel's (3.14159: `3 1/7`, Excel `3 14/99`).
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath
from typing import Any

import defusedxml.ElementTree

from importer.reading.guards import biff_records, column_number

# ECMA-376 Part 1, 18.8.30 (numFmt): the built-in formats, as Excel shows them with
# the en-US locale (ids 5-8 and 14 depend on the locale; 27-36 and 50-81 are East
# Asian and not used by US files).
BUILTIN_FORMATS: dict[int, str] = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    5: '"$"#,##0_);\\("$"#,##0\\)',
    6: '"$"#,##0_);[Red]\\("$"#,##0\\)',
    7: '"$"#,##0.00_);\\("$"#,##0.00\\)',
    8: '"$"#,##0.00_);[Red]\\("$"#,##0.00\\)',
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    12: "# ?/?",
    13: "# ??/??",
    14: "m/d/yyyy",
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    22: "m/d/yyyy h:mm",
    37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)",
    39: "#,##0.00;(#,##0.00)",
    40: "#,##0.00;[Red](#,##0.00)",
    41: '_(* #,##0_);_(* \\(#,##0\\);_(* "-"_);_(@_)',
    42: '_("$"* #,##0_);_("$"* \\(#,##0\\);_("$"* "-"_);_(@_)',
    43: '_(* #,##0.00_);_(* \\(#,##0.00\\);_(* "-"??_);_(@_)',
    44: '_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)',
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mm:ss.0",
    48: "##0.0E+0",
    49: "@",
}
# Formats that show a value as the reader already gives it.
_AS_READ = frozenset({"general", "@", ""})
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_SECONDS_A_DAY = 86_400


@dataclass
class CellFormats:
    """The cells of one sheet that do not show their value as read (0-based positions)."""

    date1904: bool = False
    codes: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # row -> (col, code)
    # row -> (col, text): cells whose shown text the file holds (#N/A, an ODS cell's text)
    texts: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.codes or self.texts)

    def apply(self, index: int, raw: list[Any], texts: list[str], left: int) -> None:
        """Replace, in one row's `texts`, the shown text of its formatted and error cells."""
        for column, code in self.codes.get(index, ()):
            position = column - left
            if 0 <= position < len(raw):
                shown = show(raw[position], code, date1904=self.date1904)
                if shown is not None:
                    texts[column] = shown
        for column, text in self.texts.get(index, ()):
            if column < len(texts):
                texts[column] = text


def show(value: object, code: str, *, date1904: bool = False) -> str | None:
    """`value` as format `code` shows it, or None to keep the reader's text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None  # text and TRUE/FALSE show as they are read
    if isinstance(value, int | float):
        return _formatted(code, float(value), date1904)
    # The reader turned date cells into datetimes from the workbook's own epoch: a
    # serial number in the 1900 system is the same day.
    serial = _serial(value)
    return None if serial is None else _formatted(code, serial, False)


def _serial(value: object) -> float | None:
    if isinstance(value, dt.datetime):
        return (value - _EXCEL_EPOCH).total_seconds() / _SECONDS_A_DAY
    if isinstance(value, dt.date):
        return float((value - _EXCEL_EPOCH.date()).days)
    if isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return (seconds + value.microsecond / 1e6) / _SECONDS_A_DAY
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / _SECONDS_A_DAY
    return None


@cache
def _formatted(code: str, value: float, date1904: bool) -> str | None:
    # Lead files repeat their dates and amounts: each distinct pair is formatted once.
    try:
        text = _engine(date1904).format(code, value)
    except Exception:  # an odd format SSF cannot read: the value as read is still right
        return None
    return str(text).strip()


@cache
def _engine(date1904: bool) -> Any:
    with warnings.catch_warnings():
        # ssf imports pkg_resources-era modules that warn on import.
        warnings.simplefilter("ignore")
        from ssf import SSF

        return SSF(locale="en-US", date1904=date1904)


def is_shown_as_read(code: str) -> bool:
    """General and Text formats show a value as the reader gives it."""
    return code.strip().lower() in _AS_READ


# ---------------------------------------------------------------- .xlsx


def xlsx_formats(archive: zipfile.ZipFile, sheet_name: str) -> CellFormats:
    """The formatted and error cells of one sheet of an open .xlsx archive."""
    names = set(archive.namelist())
    formats = CellFormats(date1904=_date1904(archive))
    styles = _xlsx_styles(archive) if "xl/styles.xml" in names else []
    member = _sheet_member(archive, sheet_name)
    if member is None or member not in names:
        return formats
    formatted = {index: code for index, code in enumerate(styles) if not is_shown_as_read(code)}
    for block in _blocks(archive, member):
        if formatted:
            _styled_cells(block, formatted, formats.codes)
        if b't="e"' in block or b"t='e'" in block:
            for row, column, text in _error_cells(block):
                formats.texts.setdefault(row, []).append((column, text))
    return formats


def _xml(archive: zipfile.ZipFile, member: str) -> Any:
    return defusedxml.ElementTree.fromstring(archive.read(member), forbid_dtd=True)


def _date1904(archive: zipfile.ZipFile) -> bool:
    try:
        properties = _xml(archive, "xl/workbook.xml").find(f"{_MAIN}workbookPr")
    except KeyError:
        return False
    flag = "" if properties is None else properties.get("date1904", "")
    return flag.lower() in {"1", "true"}


def _xlsx_styles(archive: zipfile.ZipFile) -> list[str]:
    """Each cell style's number format code, by style index."""
    root = _xml(archive, "xl/styles.xml")
    custom = {
        int(element.get("numFmtId", "0")): element.get("formatCode", "")
        for element in root.iter(f"{_MAIN}numFmt")
    }
    cell_styles = root.find(f"{_MAIN}cellXfs")
    if cell_styles is None:
        return []
    codes = []
    for style in cell_styles.findall(f"{_MAIN}xf"):
        number = int(style.get("numFmtId", "0"))
        codes.append(custom.get(number, BUILTIN_FORMATS.get(number, "General")))
    return codes


def _sheet_member(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding the sheet called `sheet_name`."""
    workbook = _xml(archive, "xl/workbook.xml")
    wanted = None
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        if sheet.get("name") == sheet_name:
            wanted = sheet.get(_RELATIONSHIP)
    if wanted is None:
        return None
    relations = _xml(archive, "xl/_rels/workbook.xml.rels")
    for relation in relations:
        if relation.get("Id") == wanted:
            target = relation.get("Target", "")
            if target.startswith("/"):
                return str(target).lstrip("/")
            return str(PurePosixPath("xl") / target)
    return None


def _blocks(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member's bytes in blocks that end after a `</c>`, so no cell is cut in two."""
    rest = b""
    with archive.open(member) as stream:
        while block := stream.read(1 << 22):
            block = rest + block
            cut = (block.rfind(b"</c>") + 4) or (block.rfind(b">") + 1) or len(block)
            rest = block[cut:]
            yield block[:cut]
    if rest:
        yield rest


_CELL_TAG = re.compile(rb"<(?:\w+:)?c\s")
_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]+)(\d+)["']""")
_STYLE = re.compile(rb"""\bs\s*=\s*["'](\d+)["']""")
_ERROR_CELL = re.compile(
    rb"""<(?:\w+:)?c\s[^>]*\bt\s*=\s*["']e["'][^>]*>.*?<(?:\w+:)?v>([^<]*)</""", re.DOTALL
)


def _styled_cells(
    block: bytes, formatted: dict[int, str], codes: dict[int, list[tuple[int, str]]]
) -> None:
    """Note the cells whose style has a format, found by their ` s="N"` attribute.

    A search for the attribute runs at C speed (most cells have no formatted style);
    only its matches are looked at in Python, back to the start of their tag.
    """
    styles = b"|".join(str(index).encode() for index in formatted)
    # Every common writer puts ` s="N"`: a literal start the search skips to at C speed.
    pattern = re.compile(rb""" s=["'](""" + styles + rb""")["']""")
    columns: dict[bytes, int] = {}
    for match in pattern.finditer(block):
        tag = block.rfind(b"<", 0, match.start())
        is_cell = block.startswith(b"<c ", tag) or _CELL_TAG.match(block, tag) is not None
        ref = _REF.search(block, tag, match.start()) if is_cell else None
        if ref is None:  # a row's style, or a cell without a position
            continue
        letters = ref.group(1)
        if letters not in columns:
            columns[letters] = column_number(letters) - 1
        codes.setdefault(int(ref.group(2)) - 1, []).append(
            (columns[letters], formatted[int(match.group(1))])
        )


def _error_cells(block: bytes) -> Iterator[tuple[int, int, str]]:
    for match in _ERROR_CELL.finditer(block):
        ref = _REF.search(match.group(0))
        if ref is not None:
            text = match.group(1).decode("utf-8", "replace")
            yield int(ref.group(2)) - 1, column_number(ref.group(1)) - 1, text


# ---------------------------------------------------------------- .xls (BIFF5/8)

_BIFF_BOUNDSHEET, _BIFF_FORMAT, _BIFF_XF, _BIFF_DATEMODE = 0x0085, 0x041E, 0x00E0, 0x0022
_BIFF_BOF, _BIFF_FORMULA, _BIFF_BOOLERR, _BIFF_MULRK = 0x0809, 0x0006, 0x0205, 0x00BD
# NUMBER, RK, LABELSST, LABEL, BOOLERR, FORMULA: row, column, XF index first.
_BIFF_XF_CELLS = frozenset({0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x0006})
# [MS-XLS] 2.5.97.2 BErr: the error codes and the text Excel shows for each.
_BIFF_ERRORS = {
    0x00: "#NULL!",
    0x07: "#DIV/0!",
    0x0F: "#VALUE!",
    0x17: "#REF!",
    0x1D: "#NAME?",
    0x24: "#NUM!",
    0x2A: "#N/A",
}


def xls_formats(stream: bytes, sheet_name: str) -> CellFormats:
    """The formatted and error cells of one sheet of an .xls workbook stream."""
    wide = _biff_version(stream) >= 0x0600
    custom: dict[int, str] = {}
    styles: list[int] = []
    formats = CellFormats()
    sheet_start = None
    for kind, data in biff_records(stream, 0):
        if kind == _BIFF_FORMAT and len(data) >= 3:
            custom[struct.unpack_from("<H", data)[0]] = _biff_string(data[2:], wide=wide)
        elif kind == _BIFF_XF and len(data) >= 4:
            styles.append(struct.unpack_from("<H", data, 2)[0])
        elif kind == _BIFF_DATEMODE and len(data) >= 2:
            formats.date1904 = struct.unpack_from("<H", data)[0] == 1
        elif (
            kind == _BIFF_BOUNDSHEET
            and len(data) >= 8
            and _biff_string(data[6:], wide=wide, short=True) == sheet_name
        ):
            sheet_start = struct.unpack_from("<I", data)[0]
    codes = [custom.get(number, BUILTIN_FORMATS.get(number, "General")) for number in styles]
    formatted = {index: code for index, code in enumerate(codes) if not is_shown_as_read(code)}
    if sheet_start is not None:
        _xls_cells(stream, sheet_start, formatted, formats)
    return formats


def _xls_cells(stream: bytes, start: int, formatted: dict[int, str], formats: CellFormats) -> None:
    for kind, data in biff_records(stream, start):
        if kind == _BIFF_MULRK and len(data) >= 6:
            row, first = struct.unpack_from("<HH", data)
            for offset in range(4, len(data) - 2 - 5, 6):
                style = struct.unpack_from("<H", data, offset)[0]
                if style in formatted:
                    column = first + (offset - 4) // 6
                    formats.codes.setdefault(row, []).append((column, formatted[style]))
            continue
        if kind not in _BIFF_XF_CELLS or len(data) < 6:
            continue
        row, column, style = struct.unpack_from("<HHH", data)
        error = _biff_error(kind, data)
        if error is not None:
            formats.texts.setdefault(row, []).append((column, error))
        elif style in formatted:
            formats.codes.setdefault(row, []).append((column, formatted[style]))


def _biff_error(kind: int, data: bytes) -> str | None:
    if kind == _BIFF_BOOLERR and len(data) >= 8 and data[7] == 1:
        return _BIFF_ERRORS.get(data[6], "#N/A")
    # A formula's cached result: an error is 0x02 in the first byte and 0xFFFF at the end.
    if kind == _BIFF_FORMULA and len(data) >= 14 and data[6] == 0x02 and data[12:14] == b"\xff\xff":
        return _BIFF_ERRORS.get(data[8], "#N/A")
    return None


def _biff_version(stream: bytes) -> int:
    if len(stream) >= 6 and struct.unpack_from("<H", stream)[0] == _BIFF_BOF:
        return int(struct.unpack_from("<H", stream, 4)[0])
    return 0


def _biff_string(data: bytes, *, wide: bool, short: bool = False) -> str:
    """A BIFF8 (XL)UnicodeString, or a BIFF5 byte string: its length, then its text."""
    if not wide:
        length, rest = (
            (data[0], data[1:]) if short else (struct.unpack_from("<H", data)[0], data[2:])
        )
        return rest[:length].decode("cp1252", "replace")
    length, rest = (data[0], data[1:]) if short else (struct.unpack_from("<H", data)[0], data[2:])
    if not rest:
        return ""
    high, text = rest[0] & 1, rest[1:]
    return (
        text[: length * 2].decode("utf-16-le", "replace")
        if high
        else text[:length].decode("latin-1")
    )


# ---------------------------------------------------------------- .ods

_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_TEXT_P = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}p"
_ODS_CELLS = frozenset({f"{_ODS_TABLE}table-cell", f"{_ODS_TABLE}covered-table-cell"})
# Types whose shown text differs from the stored value; text and booleans read as shown.
_ODS_FORMATTED = frozenset({"float", "percentage", "currency", "date", "time"})


def ods_formats(archive: zipfile.ZipFile, sheet_name: str, rows: int) -> CellFormats:
    """An .ods sheet's numbers, dates and times as shown: the text the file stores with them.

    OpenDocument keeps, beside each value, the text the application displayed
    (`<text:p>`), so no format needs interpreting. Only the first `rows` rows are
    looked at: the sheet's rows with data, not the empty rows that pad it.
    """
    formats = CellFormats()
    inside = False
    row = 0
    with archive.open("content.xml") as stream:
        for event, element in defusedxml.ElementTree.iterparse(
            stream, events=("start", "end"), forbid_dtd=True
        ):
            tag = element.tag
            if tag == f"{_ODS_TABLE}table":
                if event == "start":
                    inside, row = element.get(f"{_ODS_TABLE}name") == sheet_name, 0
                elif inside:
                    break
                continue
            if not inside or event != "end":
                continue
            if tag == f"{_ODS_TABLE}table-row":
                repeat = int(element.get(f"{_ODS_TABLE}number-rows-repeated", "1"))
                _ods_row(element, row, min(repeat, max(rows - row, 0)), formats)
                row += repeat
                element.clear()
                if row >= rows:
                    break
    return formats


def _ods_row(element: Any, row: int, repeat: int, formats: CellFormats) -> None:
    column = 0
    shown: list[tuple[int, str]] = []
    for cell in element:
        if cell.tag not in _ODS_CELLS:
            continue
        span = int(cell.get(f"{_ODS_TABLE}number-columns-repeated", "1"))
        if cell.get(f"{_ODS_OFFICE}value-type") in _ODS_FORMATTED:
            text = "\n".join("".join(p.itertext()) for p in cell.iter(_ODS_TEXT_P))
            shown += [(column + offset, text) for offset in range(min(span, 1024))]
        column += span
    if shown:
        for number in range(row, row + repeat):
            formats.texts[number] = shown
