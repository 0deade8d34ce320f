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
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath
from typing import Any

import defusedxml.ElementTree

from importer.reading.guards import column_number

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
    errors: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # row -> (col, #N/A)

    def __bool__(self) -> bool:
        return bool(self.codes or self.errors)

    def apply(self, index: int, raw: list[Any], texts: list[str], left: int) -> None:
        """Replace, in one row's `texts`, the shown text of its formatted and error cells."""
        for column, code in self.codes.get(index, ()):
            position = column - left
            if 0 <= position < len(raw):
                shown = show(raw[position], code, date1904=self.date1904)
                if shown is not None:
                    texts[column] = shown
        for column, text in self.errors.get(index, ()):
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
                formats.errors.setdefault(row, []).append((column, text))
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


# `<c r="B7" s="3"`: attributes as every common writer orders them; other orders
# are found by the tolerant pattern, cell by cell.
_CELL_START = re.compile(rb"<(?:\w+:)?c\s([^>]*)>")
_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]+)(\d+)["']""")
_STYLE = re.compile(rb"""\bs\s*=\s*["'](\d+)["']""")
_ERROR_CELL = re.compile(
    rb"""<(?:\w+:)?c\s[^>]*\bt\s*=\s*["']e["'][^>]*>.*?<(?:\w+:)?v>([^<]*)</""", re.DOTALL
)


def _styled_cells(
    block: bytes, formatted: dict[int, str], codes: dict[int, list[tuple[int, str]]]
) -> None:
    # Only cells whose style has a format are looked at, found by one C-speed search.
    styles = b"|".join(str(index).encode() for index in formatted)
    fast = re.compile(rb'<c r="([A-Z]+)(\d+)"(?: t="\w+")? s="(' + styles + rb')"')
    if block.count(b'<c r="') == block.count(b"<c "):
        for letters, digits, style in fast.findall(block):
            codes.setdefault(int(digits) - 1, []).append(
                (column_number(letters) - 1, formatted[int(style)])
            )
        return
    for match in _CELL_START.finditer(block):  # some cell is written another way
        attributes = match.group(1)
        style_match, ref = _STYLE.search(attributes), _REF.search(attributes)
        if style_match is None or ref is None or int(style_match.group(1)) not in formatted:
            continue
        codes.setdefault(int(ref.group(2)) - 1, []).append(
            (column_number(ref.group(1)) - 1, formatted[int(style_match.group(1))])
        )


def _error_cells(block: bytes) -> Iterator[tuple[int, int, str]]:
    for match in _ERROR_CELL.finditer(block):
        ref = _REF.search(match.group(0))
        if ref is not None:
            text = match.group(1).decode("utf-8", "replace")
            yield int(ref.group(2)) - 1, column_number(ref.group(1)) - 1, text
