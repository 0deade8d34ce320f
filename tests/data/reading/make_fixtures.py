"""Writes the reader's fixtures, one small file per case, next to this script.

    python tests/data/reading/make_fixtures.py

The output is deterministic (tests/test_reading.py checks the committed files
match it). Besides CSV and .xlsx (xlsxwriter), it writes the formats nothing in
the environment can produce, by hand and only as far as the reader needs:

* `.xls`: a BIFF8 workbook stream (BOF, BOUNDSHEET, LABEL, NUMBER, BOOLERR, ...)
  in an OLE compound file, the stream either in regular 512-byte sectors or,
  below 4,096 bytes, in the mini stream, as Excel stores small workbooks;
* `.xlsb`: BIFF12 records (BrtBundleSh, BrtRowHdr, BrtCellSt) in a zip;
* `.ods`: an OpenDocument `content.xml`, padded the way LibreOffice pads sheets.

`tests/data/hostile/make_corpus.py` uses these writers for its broken files.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
CREATED = dt.datetime(2024, 1, 1)  # fixed document properties: the same bytes every run

Cell = str | float | int | bool | dt.date | None

# ---------------------------------------------------------------- CSV

UTF8_TEXT = "First,Last,City\r\nJosé,Zoë,Montréal\r\nÑúñez,Lefèvre,Köln\r\n"

CSV_FIXTURES: dict[str, bytes] = {
    "utf8.csv": UTF8_TEXT.encode("utf-8"),
    "utf8_bom.csv": UTF8_TEXT.encode("utf-8-sig"),
    "utf16le_bom.csv": b"\xff\xfe" + UTF8_TEXT.encode("utf-16-le"),
    "utf16be_bom.csv": b"\xfe\xff" + UTF8_TEXT.encode("utf-16-be"),
    # O\u2019Brien's apostrophe (0x92) exists in cp1252 only: latin-1 reads a control code.
    "cp1252.csv": (
        "First,Last\r\nJosé,Zoë\r\nÑúñez,Lefèvre\r\nSeán,O\u2019Brien\r\n".encode("cp1252")
    ),
    "latin1.csv": "First,Last\nJosé,Zoë\nÑúñez,Lefèvre\n".encode("latin-1"),
    "comma.csv": b"First,Last,Notes\nAnn,Lee,a; b| c\nBob,Ray,d; e| f\n",
    "semicolon.csv": b"First;Last;City\nAnn;Lee;Boston, MA\nBob;Ray;Austin, TX\n",
    "tab.tsv": b"First\tLast\tCity\nAnn\tLee\tBoston, MA\nBob\tRay\tAustin, TX\n",
    "pipe.csv": b"First|Last|Notes\nAnn|Lee|a; b, c\nBob|Ray|d; e, f\n",
    "multiline.csv": (
        b'First,Last,Notes\nAnn,Lee,"line one\nline two\nline three"\n'
        b'Bob,Ray,"said ""hi"", left"\nCy,Lu,plain\n'
    ),
    "values.csv": (
        b"Zip,Amount,Padded,Formula,Plus,At,NA,Null,NaN,True,Leading\n"
        b"08001,1e5, padded ,=SUM(A1),+1 555 0100,@SUM(1),NA,null,NaN,TRUE,007\n"
    ),
    "blank_rows.csv": b"First,Last\nAnn,Lee\n\n,\n  ,\t\nBob,Ray\n",
    "blank_header_columns.csv": b"First,,Last,,\nAnn,,Lee,x,\nBob,,Ray,,\n",
    "duplicate_headers.csv": b"Phone,Phone,Phone (2),Phone\n1,2,3,4\n",
    "header_row_3.csv": (
        b"Acme leads export\nGenerated 2024-03-05,by vendor\nFirst,Last\nAnn,Lee\nBob,Ray\n"
    ),
    "ragged.csv": b"First,Last,City\nAnn\nBob,Ray,Austin,TX\nCy,Lu,Reno,\n",
    "nul_bytes.csv": b"First,Last\nAn\x00n,Lee\nBob,Ray\n",
    "chunked.csv": b"First,Last\nA2,L2\nA3,L3\n\nA5,L5\nA6,L6\nA7,,late\n",
    # Column 2 has no header and is empty in the first chunk; a value turns up later.
    "late_unheaded_value.csv": b"First,,Last\nAnn,,Lee\nBob,,Ray\nCy,late,Lu\n",
    "only_blank_rows.csv": b"First,Last\n,\n\n , \n",
    "header_only.csv": b"First,Last\n",
    "empty.csv": b"",
}

# ---------------------------------------------------------------- .xlsx


def _workbook(path: Path) -> xlsxwriter.Workbook:
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": CREATED})
    return workbook


def write_types(path: Path) -> None:
    """Every kind of cell value, in one row."""
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("Leads")
    date = workbook.add_format({"num_format": "yyyy-mm-dd"})
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    clock = workbook.add_format({"num_format": "hh:mm"})
    hours = workbook.add_format({"num_format": "[h]:mm:ss"})
    sheet.write_row(
        0,
        0,
        [
            *("Phone", "Small", "Tiny", "Big", "Sum", "Date", "Stamp", "Time"),
            *("Flag", "Text", "Formula", "Hours", "Negative", "Third"),
        ],
    )
    sheet.write_number(1, 0, 5555555555)
    sheet.write_number(1, 1, 0.1)
    sheet.write_number(1, 2, 1e-7)
    sheet.write_number(1, 3, 1.5e20)
    sheet.write_formula(1, 4, "=0.1+0.2", None, 0.1 + 0.2)
    sheet.write_datetime(1, 5, dt.datetime(2024, 3, 5), date)
    sheet.write_datetime(1, 6, dt.datetime(2024, 3, 5, 14, 30), stamp)
    sheet.write_datetime(1, 7, dt.time(9, 30), clock)
    sheet.write_boolean(1, 8, True)
    sheet.write_string(1, 9, "=SUM(A1)")
    sheet.write_formula(1, 10, "=1+2", None, 3)
    sheet.write_number(1, 11, 1.5, hours)
    sheet.write_number(1, 12, -12.5)
    sheet.write_number(1, 13, 1 / 3)
    sheet.write_string(2, 0, "08001")
    sheet.write_datetime(2, 6, dt.datetime(2024, 3, 5, 14, 30, 15), stamp)
    sheet.write_boolean(2, 8, False)
    workbook.close()


def _leads_sheet(workbook: xlsxwriter.Workbook, name: str, first: str) -> None:
    sheet = workbook.add_worksheet(name)
    sheet.write_row(0, 0, ["First", "Last"])
    sheet.write_row(1, 0, [first, "Lee"])


def write_sheets(path: Path) -> None:
    workbook = _workbook(path)
    _leads_sheet(workbook, "Leads", "Ann")
    _leads_sheet(workbook, "Other", "Olga")
    workbook.add_worksheet("Empty")
    workbook.close()


def write_hidden_first(path: Path) -> None:
    workbook = _workbook(path)
    _leads_sheet(workbook, "Old", "Hidden Hal")
    _leads_sheet(workbook, "Leads", "Ann")
    workbook.worksheets()[1].activate()
    workbook.worksheets()[0].hide()
    workbook.close()


def write_empty_first(path: Path) -> None:
    workbook = _workbook(path)
    workbook.add_worksheet("Notes")
    _leads_sheet(workbook, "Leads", "Ann")
    workbook.close()


def write_no_data(path: Path) -> None:
    workbook = _workbook(path)
    workbook.add_worksheet("Leads")
    workbook.close()


def write_header_only(path: Path) -> None:
    workbook = _workbook(path)
    workbook.add_worksheet("Leads").write_row(0, 0, ["First", "Last"])
    workbook.close()


def write_merged(path: Path) -> None:
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("Leads")
    sheet.merge_range(0, 0, 0, 2, "Acme leads, March")  # a title above the header
    sheet.write_row(1, 0, ["First", "Last", "City"])
    sheet.write_row(2, 0, ["Ann", "Lee"])
    sheet.write_row(3, 0, ["Bob", "Ray"])
    sheet.merge_range(2, 2, 3, 2, "Boston")  # one city for two leads
    sheet.merge_range(4, 0, 4, 1, "Cy Lu")  # one name across First and Last
    workbook.close()


def write_offset(path: Path) -> None:
    """Data that starts at C3, below two empty rows and right of two empty columns."""
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("Leads")
    sheet.write_row(2, 2, ["First", "Last"])
    sheet.write_row(3, 2, ["Ann", "Lee"])
    sheet.write_row(5, 2, ["Bob", "Ray"])
    workbook.close()


def write_no_cell_refs(path: Path) -> None:
    """Rows and cells without `r` attributes, as some generators write them (legal)."""
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("Leads")
    for number, row in enumerate([["First", "Last"], ["Ann", "Lee"], ["Bob", "Ray"]]):
        sheet.write_row(number, 0, row)
    workbook.close()
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    sheet_xml = members["xl/worksheets/sheet1.xml"].decode()
    members["xl/worksheets/sheet1.xml"] = re.sub(r' r="[A-Z]*\d+"', "", sheet_xml).encode()
    path.write_bytes(_zip(members))


XLSX_FIXTURES: dict[str, Callable[[Path], None]] = {
    "types.xlsx": write_types,
    "sheets.xlsx": write_sheets,
    "hidden_first.xlsx": write_hidden_first,
    "empty_first.xlsx": write_empty_first,
    "no_data.xlsx": write_no_data,
    "header_only.xlsx": write_header_only,
    "merged.xlsx": write_merged,
    "offset.xlsx": write_offset,
    "no_cell_refs.xlsx": write_no_cell_refs,
    # An .xlsx exported under a .csv name.
    "workbook_named.csv": write_sheets,
}

# ---------------------------------------------------------------- .xls (BIFF8 in OLE)

_END, _FREE, _FAT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
_DATE_XF, _STAMP_XF = 1, 2  # XF records below: 0 General, 1 a date, 2 a date and time


def biff_record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(kind: int) -> bytes:
    return biff_record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))


def biff_cell(row: int, column: int, value: Cell) -> bytes:
    """One LABEL, NUMBER or BOOLERR record."""
    if isinstance(value, bool):
        return biff_record(0x0205, struct.pack("<HHHBB", row, column, 0, int(value), 0))
    if isinstance(value, dt.date):
        stamp = value if isinstance(value, dt.datetime) else dt.datetime(*value.timetuple()[:3])
        serial = (stamp - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
        xf = _STAMP_XF if isinstance(value, dt.datetime) else _DATE_XF
        return biff_record(0x0203, struct.pack("<HHHd", row, column, xf, serial))
    if isinstance(value, int | float):
        return biff_record(0x0203, struct.pack("<HHHd", row, column, 0, float(value)))
    text = str(value).encode("utf-16-le")
    return biff_record(0x0204, struct.pack("<HHHHB", row, column, 0, len(text) // 2, 1) + text)


def xls_stream(
    sheets: Sequence[tuple[str, Sequence[Sequence[Cell]], bool]],
    *,
    dimensions: tuple[int, int, int, int] | None = None,
    extra: bytes = b"",
) -> bytes:
    """A BIFF8 workbook stream: globals, then each (name, rows, hidden) sheet.

    `dimensions` replaces every sheet's DIMENSIONS (first row, end row, first
    column, end column); `extra` is appended to the last sheet's records.
    """
    head = _bof(0x0005) + biff_record(0x0042, struct.pack("<H", 1200))  # CODEPAGE: UTF-16
    head += biff_record(0x0022, struct.pack("<H", 0))  # DATEMODE: 1900
    for number_format in (0, 14, 22):  # XF: General, m/d/yyyy, m/d/yyyy h:mm
        head += biff_record(0x00E0, struct.pack("<HH", 0, number_format) + bytes(16))
    bodies = []
    for index, (_, rows, _) in enumerate(sheets):
        width = max((len(row) for row in rows), default=0)
        dims = dimensions or (0, len(rows), 0, width)
        cells = b"".join(
            biff_cell(r, c, value)
            for r, row in enumerate(rows)
            for c, value in enumerate(row)
            if value is not None
        )
        tail = extra if index == len(sheets) - 1 else b""
        bodies.append(
            _bof(0x0010)
            + biff_record(0x0200, struct.pack("<IIHHH", *dims, 0))
            + cells
            + tail
            + biff_record(0x000A)
        )

    def boundsheet(position: int, name: str, hidden: bool) -> bytes:
        encoded = name.encode("utf-16-le")
        data = struct.pack("<IBBBB", position, int(hidden), 0, len(encoded) // 2, 1) + encoded
        return biff_record(0x0085, data)

    position = len(head) + sum(len(boundsheet(0, n, h)) for n, _, h in sheets) + 4
    index_records = []
    for (name, _, hidden), body in zip(sheets, bodies, strict=True):
        index_records.append(boundsheet(position, name, hidden))
        position += len(body)
    return head + b"".join(index_records) + biff_record(0x000A) + b"".join(bodies)


def _directory_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0" if name else b""
    fields = struct.pack("<HBB3I", len(encoded), kind, 1 if name else 0, _FREE, _FREE, child)
    return encoded.ljust(64, b"\0") + fields + bytes(36) + struct.pack("<IQ", start, size)


def compound_file(name: str, stream: bytes) -> bytes:
    """An OLE compound file holding one stream: FAT, directory, [mini FAT], data."""
    mini = len(stream) < 4096
    body = stream.ljust(math.ceil(len(stream) / 64) * 64, b"\0") if mini else stream
    body = body.ljust(math.ceil(len(body) / 512) * 512, b"\0")
    count = len(body) // 512
    first = 3 if mini else 2  # sector 0: FAT, 1: directory, (2: mini FAT)
    fat = [_FAT, _END] + ([_END] if mini else [])
    fat += [first + i + 1 for i in range(count - 1)] + [_END]
    fat += [_FREE] * (128 - len(fat))
    if len(fat) > 128:
        raise ValueError("one FAT sector is enough for the fixtures")
    header = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<9I", 0, 1, 1, 0, 4096, 2 if mini else _END, int(mini), _END, 0)
    header += struct.pack("<109I", 0, *([_FREE] * 108))
    if mini:
        chunks = len(stream.ljust(math.ceil(len(stream) / 64) * 64)) // 64
        minifat = [*range(1, chunks), _END] + [_FREE] * (128 - chunks)
        directory = _directory_entry("Root Entry", 5, 1, first, len(body))
        directory += _directory_entry(name, 2, _FREE, 0, len(stream))
        extra = struct.pack("<128I", *minifat)
    else:
        directory = _directory_entry("Root Entry", 5, 1, _END, 0)
        directory += _directory_entry(name, 2, _FREE, first, len(stream))
        extra = b""
    directory += _directory_entry("", 0, _FREE, 0, 0) * 2
    return header + struct.pack("<128I", *fat) + directory + extra + body


LEAD_ROWS: list[list[Cell]] = [
    ["First", "Last", "Phone", "Signed up", "Called", "Opted in", "Score"],
    ["José", "Zoë", 5555555555, dt.date(2024, 3, 5), dt.datetime(2024, 3, 5, 14, 30), True, 0.1],
    ["Ann", "Lee", 2155550134, dt.date(2023, 12, 31), None, False, 1e-7],
]


def xls_bytes(*, mini: bool = False) -> bytes:
    """A hidden sheet before the leads; `mini` keeps the stream below 4 KB (mini stream)."""
    hidden = ("Old", [["First"], ["Hidden Hal"]], True)
    stream = xls_stream([hidden, ("Leads", LEAD_ROWS, False)])
    if not mini:
        stream = stream.ljust(4096, b"\0")  # regular sectors: the reader stops at EOF
    return compound_file("Workbook", stream)


def encrypted_xls_bytes() -> bytes:
    """A password-protected .xls: FILEPASS after the BOF, then scrambled records."""
    stream = _bof(0x0005) + biff_record(0x002F, struct.pack("<HHH", 1, 1, 1) + bytes(48))
    stream += random_bytes(6000, seed=4)
    return compound_file("Workbook", stream)


def formats_xls_bytes(*, date1904: bool = False) -> bytes:
    """Cells with a custom FORMAT, built-in formats and error values (BOOLERR, FORMULA)."""

    def xf(number_format: int) -> bytes:
        return biff_record(0x00E0, struct.pack("<HH", 0, number_format) + bytes(16))

    def number(column: int, style: int, value: float) -> bytes:
        return biff_record(0x0203, struct.pack("<HHHd", 1, column, style, value))

    money = '"$"#,##0.00'.encode("utf-16-le")
    head = _bof(0x0005) + biff_record(0x0042, struct.pack("<H", 1200))
    head += biff_record(0x0022, struct.pack("<H", int(date1904)))
    head += biff_record(0x041E, struct.pack("<HHB", 164, len(money) // 2, 1) + money)
    head += xf(0) + xf(164) + xf(10) + xf(14) + xf(3)  # General, $, 0.00%, date, #,##0
    header = ["Amount", "Share", "Date", "Count", "Lookup", "Ratio"]
    cells = b"".join(biff_cell(0, c, name) for c, name in enumerate(header))
    cells += (
        number(0, 1, 1960.0) + number(1, 2, 0.974) + number(2, 3, 44217.0 if date1904 else 45679.0)
    )
    cells += number(3, 4, 167943.0)
    cells += biff_record(0x0205, struct.pack("<HHHBB", 1, 4, 0, 0x2A, 1))  # #N/A
    result = struct.pack("<BBBBBBH", 2, 0, 0x07, 0, 0, 0, 0xFFFF)  # a formula's #DIV/0!
    formula = struct.pack("<HIH", 0, 0, 2) + b"\x1c\x07"  # options, cce, ptgErr #DIV/0!
    cells += biff_record(0x0006, struct.pack("<HHH", 1, 5, 0) + result + formula)
    body = _bof(0x0010) + biff_record(0x0200, struct.pack("<IIHHH", 0, 2, 0, 6, 0))
    body += cells + biff_record(0x000A)
    name = "Leads".encode("utf-16-le")
    position = len(head) + 4 + 8 + len(name) + 4
    sheet = biff_record(0x0085, struct.pack("<IBBBB", position, 0, 0, len(name) // 2, 1) + name)
    stream = head + sheet + biff_record(0x000A) + body
    return compound_file("Workbook", stream.ljust(4096, b"\0"))


def excel4_bytes() -> bytes:
    """An Excel 4.0 worksheet: BIFF4 records with no OLE container."""
    bof = struct.pack("<HHH", 0x0000, 0x0010, 0x0000)
    label = struct.pack("<HHBBBH", 0, 0, 0, 0, 0, 5) + b"First"
    return biff_record(0x0409, bof) + biff_record(0x0004, label) + biff_record(0x000A)


def excel95_bytes() -> bytes:
    """An Excel 5.0/95 workbook: BIFF5 (one-byte strings) in an OLE `Book` stream."""

    def bof(kind: int) -> bytes:
        return biff_record(0x0809, struct.pack("<HHHH", 0x0500, kind, 0x0DBB, 0x07CC))

    def label(row: int, column: int, text: str) -> bytes:
        encoded = text.encode("cp1252")
        return biff_record(0x0204, struct.pack("<HHHH", row, column, 0, len(encoded)) + encoded)

    head = bof(0x0005) + biff_record(0x0042, struct.pack("<H", 1252))
    head += biff_record(0x00E0, struct.pack("<HH", 0, 0) + bytes(12))
    rows = [["First", "Last"], ["Ann", "Lee"]]
    cells = b"".join(label(r, c, v) for r, row in enumerate(rows) for c, v in enumerate(row))
    body = bof(0x0010) + biff_record(0x0200, struct.pack("<HHHHH", 0, 2, 0, 2, 0))
    body += cells + biff_record(0x000A)
    name = b"Leads"
    position = len(head) + 4 + 7 + len(name) + 4
    sheet = biff_record(0x0085, struct.pack("<IBBB", position, 0, 0, len(name)) + name)
    stream = head + sheet + biff_record(0x000A) + body
    return compound_file("Book", stream.ljust(4096, b"\0"))


# ---------------------------------------------------------------- .xlsb (BIFF12 in a zip)


def _biff12_number(number: int, most: int) -> bytes:
    out = b""
    for _ in range(most):
        byte, number = number & 0x7F, number >> 7
        out += bytes([byte | (0x80 if number else 0)])
        if not number:
            break
    return out


def biff12_record(kind: int, data: bytes = b"") -> bytes:
    return _biff12_number(kind, 2) + _biff12_number(len(data), 4) + data


def _wide(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return struct.pack("<I", len(encoded) // 2) + encoded


_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
    '"http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="{type}" Target="{target}"/></Relationships>'
)
_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def xlsb_bytes(
    rows: Sequence[Sequence[str]], *, far: tuple[int, int] | None = None, extra: bytes = b""
) -> bytes:
    """A one-sheet .xlsb of text cells; `far` adds a cell at that (row, column), `extra` records."""
    book = biff12_record(0x83) + biff12_record(0x8F)  # BrtBeginBook, BrtBeginBundleShs
    book += biff12_record(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("Leads"))
    book += biff12_record(0x90) + biff12_record(0x9D, bytes(20)) + biff12_record(0x84)
    sheet = biff12_record(0x81)  # BrtBeginSheet
    sheet += biff12_record(0x94, struct.pack("<4I", 0, len(rows) - 1, 0, 1))  # BrtWsDim
    sheet += biff12_record(0x91)  # BrtBeginSheetData
    cells = [(r, c, value) for r, row in enumerate(rows) for c, value in enumerate(row)]
    if far is not None:
        cells.append((*far, "far"))
    for row in sorted({r for r, _, _ in cells}):
        sheet += biff12_record(0x00, struct.pack("<I", row) + bytes(21))  # BrtRowHdr
        for _, column, value in (cell for cell in cells if cell[0] == row):
            sheet += biff12_record(0x06, struct.pack("<I", column) + bytes(4) + _wide(value))
    sheet += extra + biff12_record(0x92) + biff12_record(0x82)
    return _zip(
        {
            "[Content_Types].xml": b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns='
            b'"http://schemas.openxmlformats.org/package/2006/content-types"/>',
            "_rels/.rels": _RELS.format(
                type=_OFFICE_REL + "officeDocument", target="xl/workbook.bin"
            ).encode(),
            "xl/_rels/workbook.bin.rels": _RELS.format(
                type=_OFFICE_REL + "worksheet", target="worksheets/sheet1.bin"
            ).encode(),
            "xl/workbook.bin": book,
            "xl/worksheets/sheet1.bin": sheet,
        }
    )


def _zip(members: dict[str, bytes]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


# ---------------------------------------------------------------- .ods

_ODS_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods_row(*values: str, repeat: int = 1, pad: int = 0) -> str:
    """A table row of text cells, `repeat`ed, padded with `pad` empty cells as LibreOffice does."""
    cells = "".join(
        f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'
        for value in values
    )
    if pad:
        cells += f'<table:table-cell table:number-columns-repeated="{pad}"/>'
    return f'<table:table-row table:number-rows-repeated="{repeat}">{cells}</table:table-row>'


def encrypted_ods_bytes() -> bytes:
    """What LibreOffice writes with a password: content.xml scrambled, said in the manifest."""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
        'manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="900">'
        '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AA==">'
        '<manifest:algorithm manifest:algorithm-name="Blowfish CFB" '
        'manifest:initialisation-vector="AA=="/></manifest:encryption-data>'
        "</manifest:file-entry></manifest:manifest>"
    )
    return _zip(
        {
            "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
            "content.xml": random_bytes(900, seed=5),
            "META-INF/manifest.xml": manifest.encode(),
        }
    )


def ods_bytes(rows: str) -> bytes:
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NAMESPACES} '
        'office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Leads">'
        f"{rows}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
        'manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>'
    )
    return _zip(
        {
            "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
            "content.xml": content.encode(),
            "META-INF/manifest.xml": manifest.encode(),
        }
    )


# ---------------------------------------------------------------- broken files


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


BINARY_FIXTURES: dict[str, Callable[[], bytes]] = {
    "leads.xls": xls_bytes,
    "small.xls": lambda: xls_bytes(mini=True),
    "leads.xlsb": lambda: xlsb_bytes([["First", "Last"], ["Ann", "Lee"]]),
    "leads.ods": lambda: ods_bytes(
        ods_row("First", "Last", pad=1022)
        + ods_row("Ann", "Lee", pad=1022)
        + ods_row(repeat=1048574, pad=1024)
    ),
    "random.xlsx": lambda: random_bytes(3000, seed=1),
    "random.csv": lambda: random_bytes(3000, seed=3),
    "ole_header.xlsx": lambda: bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504),
    # What Excel writes for a password-protected .xlsx: an OLE file, not a zip.
    "encrypted.xlsx": lambda: compound_file("EncryptedPackage", random_bytes(5000, seed=2)),
    "encrypted.xls": encrypted_xls_bytes,
    "encrypted.ods": encrypted_ods_bytes,
    "excel4.xls": excel4_bytes,
    "formats.xls": formats_xls_bytes,
    # LibreOffice stores each value's shown text beside it: that text is what is read.
    "formats.ods": lambda: ods_bytes(
        ods_row("Amount", "Share", "Date", "Count")
        + "<table:table-row>"
        + '<table:table-cell office:value-type="currency" office:currency="USD" '
        'office:value="1960"><text:p>$1,960.00</text:p></table:table-cell>'
        + '<table:table-cell office:value-type="percentage" office:value="0.974">'
        "<text:p>97.4%</text:p></table:table-cell>"
        + '<table:table-cell office:value-type="date" office:date-value="2025-01-22">'
        "<text:p>1/22/2025</text:p></table:table-cell>"
        + '<table:table-cell office:value-type="float" office:value="167943">'
        "<text:p>167,943</text:p></table:table-cell>"
        + "</table:table-row>"
        + ods_row(repeat=1000, pad=4)
    ),
    "formats_1904.xls": lambda: formats_xls_bytes(date1904=True),
    "excel95.xls": excel95_bytes,
    # CRMs and web apps export text under Excel's names.
    "csv_named.xls": b"First Name,Last Name,Zip\r\nAnn,Lee,08001\r\nBob,Ray,19103\r\n".__bytes__,
    "tsv_named.xlsx": b"First Name\tLast Name\tZip\nAnn\tLee\t08001\n".__bytes__,
    "html_named.xls": (
        b'<html><head><meta charset="utf-8"></head><body><table border="1">'
        b"<tr><th>First Name</th><th>Last Name</th><th>Zip</th></tr>"
        b"<tr><td>Ann</td><td>Lee</td><td>08001</td></tr>"
        b"<tr><td>Bob &amp; Co</td><td></td><td>19103</td></tr>"
        b"</table></body></html>"
    ).__bytes__,
}


def main(folder: Path = HERE) -> None:
    for name, content in CSV_FIXTURES.items():
        (folder / name).write_bytes(content)
    for name, write in XLSX_FIXTURES.items():
        write(folder / name)
    for name, make in BINARY_FIXTURES.items():
        (folder / name).write_bytes(make())
    whole = (folder / "types.xlsx").read_bytes()
    (folder / "truncated.xlsx").write_bytes(whole[: len(whole) // 2])


if __name__ == "__main__":
    main()
