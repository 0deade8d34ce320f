"""Guards run before a workbook reader sees a file: zip bombs, XML bombs, giant sheets.

The workbook reader allocates a sheet's whole bounding box and trusts a zip's
contents, so every size is measured here first, from the bytes, cheaply.
"""

from __future__ import annotations

import functools
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import defusedxml.ElementTree

from importer.errors import InputFileError
from importer.reading.table import EXCEL_MAX_ROWS, first_line

# Zip-bomb guard: real workbooks compress 5-20x; bombs compress thousands of times.
# The declared sizes can be trusted: the workbook reader refuses a member that
# unpacks to more than its declared size.
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
# The workbook reader allocates every cell of a sheet's bounding box at once, so
# one value typed in XFD1048576 of a 5 KB file would ask for 17 billion cells (and
# abort the process). Every row Excel allows, 32 columns wide, is plenty for leads.
MAX_SHEET_CELLS = EXCEL_MAX_ROWS * 32
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # .xls, and encrypted .xlsx


def check_zip(path: Path) -> None:
    """Refuse zip bombs, XML entity tricks and giant sheets before the reader sees them."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(member.file_size for member in members)
            packed = sum(member.compress_size for member in members) or 1
            if total > MAX_UNCOMPRESSED_BYTES or (
                total > 64 * 1024**2 and total / packed > MAX_COMPRESSION_RATIO
            ):
                raise InputFileError(
                    f"{path}: unpacks to {total / 1024**2:,.0f} MB ({total / packed:,.0f}x "
                    "its size); refusing it as a possible zip bomb"
                )
            names = {member.filename for member in members}
            if "META-INF/manifest.xml" in names and b"encryption-data" in archive.read(
                "META-INF/manifest.xml"
            ):
                raise InputFileError(password_protected(path))  # an OpenDocument password
            if "xl/workbook.xml" in names:
                # defusedxml refuses DTDs and entity declarations: a real workbook has none.
                defusedxml.ElementTree.fromstring(archive.read("xl/workbook.xml"), forbid_dtd=True)
            for member in members:
                _check_member(path, archive, member)
                name = member.filename.lower()
                if name.startswith("xl/worksheets/") and name.endswith(".bin"):  # .xlsb
                    _refuse_large_sheet(path, *_biff12_extent(archive.read(member)))
                elif name == "content.xml":  # .ods
                    with archive.open(member) as stream:
                        _refuse_large_sheet(path, *_ods_extent(stream))
    except zipfile.BadZipFile:
        raise InputFileError(
            f"{path}: is damaged or truncated (not a complete zip archive); export it again"
        ) from None
    except defusedxml.DefusedXmlException:
        raise InputFileError(
            f"{path}: contains XML entity declarations; refusing it as a possible XML bomb"
        ) from None
    except (
        ValueError,  # a repeat count that is not a number
        defusedxml.ElementTree.ParseError,
        zipfile.LargeZipFile,
        NotImplementedError,  # a compression method zipfile does not know
        RuntimeError,  # an encrypted member
        zlib.error,
        OSError,
        EOFError,
    ) as error:
        raise InputFileError(
            f"{path}: is damaged ({first_line(error)}); open and re-save it in Excel"
        ) from None


# Cells as Excel and every common writer store them: `<c r="B7" ...>`. Anything
# else (attributes in another order, namespace prefixes, cells without `r`) is
# measured by the slower, tolerant patterns below.
_FAST_CELL_COLUMN = re.compile(rb'<c r="([A-Za-z]+)')
_FAST_CELL_ROW = re.compile(rb'<c r="[A-Za-z]+(\d+)')
_REF_WITHOUT_LETTER = re.compile(rb'<c r="(?![A-Za-z])')
_ODD_CELL = (re.compile(rb"<c[/>\t\r\n]"), re.compile(rb":c[\s/>]"))
_CELL_REF = re.compile(rb"\sr\s*=\s*[\"']([A-Za-z]+)(\d+)[\"']")
_ROW_REF = re.compile(rb"\sr\s*=\s*[\"'](\d+)[\"']")
_CELL_TAG = re.compile(rb"<(?:[\w.-]+:)?c[\s/>]")
_ROW_TAG = re.compile(rb"<(?:[\w.-]+:)?row[\s/>]")
_ROW_END = re.compile(rb"</(?:[\w.-]+:)?row\s*>")


def _check_member(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Refuse an XML document type, and a sheet whose cells span too many cells."""
    rows = columns = 0
    fast = True
    for block in _xml_blocks(archive, member):
        if b"<!DOCTYPE" in block:
            raise InputFileError(
                f"{path}: contains an XML document type declaration ({member.filename}); "
                "refusing it as a possible XML bomb"
            )
        if not fast:
            continue
        cells = block.count(b'<c r="')
        if (
            block.count(b"<c ") != cells
            or _REF_WITHOUT_LETTER.search(block)
            or any(odd.search(block) for odd in _ODD_CELL)
        ):
            fast = False  # some cell is written differently: measure the tolerant way
        elif cells:
            rows, columns = block_extent(block, rows, columns)
    if not fast:
        rows, columns = _tolerant_extent(archive, member)
    _refuse_large_sheet(path, rows, columns)


def block_extent(block: bytes, rows: int, columns: int) -> tuple[int, int]:
    """(rows, columns) grown to the highest row and column of the cells of `block`.

    Its cells are all written `<c r="B7"`. Writers put rows in order, so the last
    cell's row is the highest, and a sheet is as wide in every block: one search
    for a cell beyond them proves it without making an object per cell (half
    the time to check a large sheet). Only a block where one is found is read
    cell by cell.
    """
    last = _FAST_CELL_ROW.match(block, max(block.rfind(b'<c r="'), 0))
    rows = max(rows, int(last.group(1)) if last else 0)
    if _beyond_row(rows).search(block):
        rows = max([rows, *map(int, set(_FAST_CELL_ROW.findall(block)))])
    if _beyond_column(columns).search(block):
        columns = max([columns, *map(column_number, set(_FAST_CELL_COLUMN.findall(block)))])
    return rows, columns


@functools.lru_cache(maxsize=64)
def _beyond_row(row: int) -> re.Pattern[bytes]:
    """A cell whose row number is higher than `row`."""
    return re.compile(rb'<c r="[A-Za-z]+(?:' + _beyond(str(row), _DIGITS) + rb")(?!\d)")


@functools.lru_cache(maxsize=64)
def _beyond_column(column: int) -> re.Pattern[bytes]:
    """A cell whose column is to the right of column number `column` (0: none)."""
    pattern = rb'<c r="(?:' + _beyond(column_letters(column), _LETTERS) + rb")(?![A-Za-z])"
    return re.compile(pattern, re.IGNORECASE)


_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _beyond(text: str, alphabet: str) -> bytes:
    """The strings of `alphabet` that count higher than `text`: longer ones (a row
    number with leading zeros too, to be safe), or as long and higher at the first
    place they differ."""
    every = f"[{alphabet[0]}-{alphabet[-1]}]"
    higher = [f"{every}{{{len(text) + 1},}}"] + [
        f"{text[:place]}[{alphabet[alphabet.index(symbol) + 1]}-{alphabet[-1]}]"
        f"{every}{{{len(text) - place - 1}}}"
        for place, symbol in enumerate(text)
        if symbol != alphabet[-1]
    ]
    return "|".join(higher).encode()


def column_letters(number: int) -> str:
    """1 -> `A`, 16384 -> `XFD`; 0 -> ``."""
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = _LETTERS[remainder] + letters
    return letters


def _refuse_large_sheet(path: Path, rows: int, columns: int) -> None:
    if rows * columns > MAX_SHEET_CELLS:
        raise InputFileError(
            f"{path}: a sheet spans {rows:,} rows x {columns:,} columns, more cells than "
            f"the importer reads ({MAX_SHEET_CELLS:,}); delete the unused rows and columns "
            "or save the sheet as CSV"
        )


def _biff12_extent(sheet: bytes) -> tuple[int, int]:
    """(rows, columns) an .xlsb sheet's cells span: BrtRowHdr sets the row, cells the column."""
    rows = columns = row = position = 0
    while position < len(sheet):
        kind, position = _biff12_number(sheet, position, 2)
        size, position = _biff12_number(sheet, position, 4)
        record = sheet[position : position + size]
        position += size
        if len(record) < 4:
            continue
        if kind == 0x0000:  # BrtRowHdr; the reader stops at a row beyond Excel's
            row = min(struct.unpack_from("<I", record)[0], EXCEL_MAX_ROWS)
        elif 0x0002 <= kind <= 0x000B:  # BrtCellRk ... BrtFmlaError: column first
            columns = max(columns, struct.unpack_from("<I", record)[0] + 1)
            rows = max(rows, row + 1)
    return rows, columns


def _biff12_number(data: bytes, position: int, most: int) -> tuple[int, int]:
    """A record type or size: 7 bits a byte, the high bit saying another byte follows."""
    number = 0
    for index in range(most):
        if position >= len(data):
            break
        byte = data[position]
        position += 1
        number |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            break
    return number, position


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_TABLE_TAG, _ODS_ROW_TAG = f"{_ODS_TABLE}table", f"{_ODS_TABLE}table-row"
_ODS_CELL_TAGS = frozenset({f"{_ODS_TABLE}table-cell", f"{_ODS_TABLE}covered-table-cell"})
_ODS_VALUE_TYPE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}value-type"


def _ods_extent(stream: IO[bytes]) -> tuple[int, int]:
    """(rows, columns) the largest .ods table's values span, repeats included.

    A few bytes of `number-rows-repeated` x `number-columns-repeated` stand for
    billions of cells; the empty repeats every producer pads a sheet with do not count.
    """
    largest = (0, 0)
    rows = columns = row_index = column = used = 0
    for event, element in defusedxml.ElementTree.iterparse(
        stream, events=("start", "end"), forbid_dtd=True
    ):
        if event == "start":
            if element.tag == _ODS_TABLE_TAG:
                rows = columns = row_index = 0
            elif element.tag == _ODS_ROW_TAG:
                column = used = 0
            continue
        if element.tag in _ODS_CELL_TAGS:
            column += int(element.get(f"{_ODS_TABLE}number-columns-repeated", "1"))
            if element.get(_ODS_VALUE_TYPE) is not None or len(element):
                used = column
            element.clear()
        elif element.tag == _ODS_ROW_TAG:
            row_index += int(element.get(f"{_ODS_TABLE}number-rows-repeated", "1"))
            if used:
                rows, columns = row_index, max(columns, used)
            element.clear()
        elif element.tag == _ODS_TABLE_TAG:
            largest = max(largest, (rows, columns), key=lambda extent: extent[0] * extent[1])
    return largest


def _tolerant_extent(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[int, int]:
    """An upper bound of (rows, columns) a sheet's cells span, however they are written.

    A cell without `r` takes the column after the previous one in its row, and a
    row without `r` the row after the previous one, so those are counted too.
    """
    rows = columns = rows_seen = widest = in_row = 0
    for block in _xml_blocks(archive, member):
        for letters, digits in set(_CELL_REF.findall(block)):
            columns = max(columns, column_number(letters))
            rows = max(rows, int(digits))
        rows = max([rows, *map(int, _ROW_REF.findall(block))])
        rows_seen += len(_ROW_TAG.findall(block))
        *ended, last = _ROW_END.split(block)
        for part in ended:
            widest = max(widest, in_row + len(_CELL_TAG.findall(part)))
            in_row = 0
        in_row += len(_CELL_TAG.findall(last))
    return rows + rows_seen, columns + max(widest, in_row)


def _xml_blocks(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's bytes in blocks that end after a `>`, so no tag is cut in two."""
    rest = b""
    with archive.open(member) as stream:
        while block := stream.read(1 << 22):
            block = rest + block
            cut = block.rfind(b">") + 1 or len(block)
            rest = block[cut:]
            yield block[:cut]
    if rest:
        yield rest


def column_number(letters: bytes) -> int:
    """`A` -> 1, `XFD` -> 16384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


# ---------------------------------------------------------------- Excel 97-2003 (.xls)

# The .xls reader reserves a sheet's claimed DIMENSIONS and every cell of its
# bounding box when the workbook is opened, so both are measured here first.
_FREE_SECTOR = 0xFFFFFFFA  # sector numbers from here up mark ends and free sectors
_BIFF_EOF = 0x000A
_BIFF_FILEPASS = 0x002F  # the workbook is encrypted from here on
# The BOF record of Excel 2.1, 3.0 and 4.0 files: type 0x0009, 0x0209, 0x0409.
_OLD_BOFS = frozenset({b"\x09\x00", b"\x09\x02", b"\x09\x04"})
_BIFF_SHEET = 0x0085  # BOUNDSHEET: where a sheet's records start
_BIFF_DIMENSIONS = 0x0200
_BIFF_MULRK = 0x00BD  # row, first column, values, last column
# Number, Label, BoolErr, RK, LabelSst, Formula: all start with row, column.
_BIFF_CELLS = frozenset({0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006})


def check_ole(path: Path) -> None:
    """Refuse a password-protected OLE file, and .xls sheets too large for the reader.

    Excel saves a password-protected .xlsx as an OLE file holding `EncryptedPackage`,
    and a password-protected .xls with a FILEPASS record, after which every record
    is scrambled (its "sheet sizes" are noise).
    """
    workbook_name = path.suffix.lower() in {".xlsx", ".xlsm"}
    try:
        data = path.read_bytes()
        if _ole_stream(data, ("encryptedpackage", "encryptioninfo")) is not None:
            raise InputFileError(password_protected(path))
        stream = _ole_stream(data, ("workbook", "book"))
        if stream is None:
            if workbook_name:
                raise InputFileError(
                    f"{path}: is password-protected or encrypted; save a copy without a password"
                )
            return  # not an Excel workbook: the reader says so
        if any(kind == _BIFF_FILEPASS for kind, _ in biff_records(stream, 0)):
            raise InputFileError(password_protected(path))
        for start in _biff_sheet_offsets(stream):
            _refuse_large_sheet(path, *_biff_sheet_extent(stream, start))
    except (ValueError, IndexError, struct.error) as error:
        if workbook_name:  # an OLE file is no .xlsx: what Excel encrypts, damaged
            raise InputFileError(
                f"{path}: is password-protected or encrypted; save a copy without a password"
            ) from None
        raise InputFileError(
            f"{path}: is damaged ({first_line(error)}); open and re-save it in Excel"
        ) from None


def workbook_stream(data: bytes) -> bytes | None:
    """The BIFF workbook stream of an .xls (Excel 97-2003, or 5.0/95), or None."""
    return _ole_stream(data, ("workbook", "book"))


def password_protected(path: Path) -> str:
    return f"{path}: is password-protected; save a copy without a password"


def check_old_excel(path: Path, head: bytes) -> None:
    """Excel 2.x-4.0 files (BIFF2-4, no OLE container) are read by no reader here."""
    if len(head) >= 4 and head[:2] in _OLD_BOFS and 4 <= struct.unpack_from("<H", head, 2)[0] <= 16:
        raise InputFileError(
            f"{path}: is an Excel 4.0 (or older) workbook: open it in Excel and save it as .xlsx"
        )


def _ole_stream(data: bytes, names: Sequence[str]) -> bytes | None:
    """The first stream called one of `names` in an OLE compound file, or None."""
    if len(data) < 512:
        raise ValueError("shorter than an Excel 97-2003 header")
    shift, mini_shift = struct.unpack_from("<HH", data, 30)
    if shift not in (9, 12) or mini_shift != 6:
        raise ValueError("not an Excel 97-2003 sector layout")
    size = 1 << shift
    fat_count, directory, _, cutoff, minifat, _, difat, difat_count = struct.unpack_from(
        "<8I", data, 44
    )
    sectors = (len(data) + size - 1) // size

    def sector(number: int) -> bytes:
        if number >= sectors:
            raise ValueError(f"sector {number} is beyond the end of the file")
        return data[(number + 1) * size : (number + 2) * size]

    fat_sectors = list(struct.unpack_from("<109I", data, 76))
    for _ in range(min(difat_count, sectors)):
        if difat >= _FREE_SECTOR:
            break
        *more, difat = struct.unpack(f"<{size // 4}I", sector(difat).ljust(size, b"\xff"))
        fat_sectors += more
    fat_bytes = b"".join(sector(n) for n in fat_sectors[:fat_count] if n < _FREE_SECTOR)
    fat = struct.unpack(f"<{len(fat_bytes) // 4}I", fat_bytes[: len(fat_bytes) // 4 * 4])

    def chain(first: int, table: Sequence[int]) -> Iterator[int]:
        number, steps = first, 0
        while number < _FREE_SECTOR:
            if steps > len(table) or number >= len(table):
                raise ValueError("a sector chain is broken or loops")
            yield number
            number, steps = table[number], steps + 1

    entries = b"".join(sector(n) for n in chain(directory, fat))
    for offset in range(0, len(entries) - 127, 128):
        entry = entries[offset : offset + 128]
        name_bytes = struct.unpack_from("<H", entry, 64)[0]
        name = entry[: max(0, min(name_bytes, 64) - 2)].decode("utf-16-le", "replace")
        start, length = struct.unpack_from("<II", entry, 116)
        if entry[66] != 2 or name.lower() not in names:
            continue
        if length >= cutoff:
            return b"".join(sector(n) for n in chain(start, fat))[:length]
        root_start = struct.unpack_from("<I", entries, 116)[0]
        mini = b"".join(sector(n) for n in chain(root_start, fat))
        minifat_bytes = b"".join(sector(n) for n in chain(minifat, fat))
        table = struct.unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes)
        return b"".join(mini[n * 64 : n * 64 + 64] for n in chain(start, table))[:length]
    return None


def biff_records(stream: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    position = start
    while position + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, position)
        data = stream[position + 4 : position + 4 + length]
        position += 4 + length
        yield kind, data
        if kind == _BIFF_EOF:
            return


def _biff_sheet_offsets(stream: bytes) -> list[int]:
    """Where each sheet starts, from the workbook globals (the reader jumps there)."""
    return [
        struct.unpack_from("<I", data)[0]
        for kind, data in biff_records(stream, 0)
        if kind == _BIFF_SHEET and len(data) >= 4
    ]


def _biff_sheet_extent(stream: bytes, start: int) -> tuple[int, int]:
    """(rows, columns) the reader allocates for the sheet starting at `start`."""
    rows = columns = 0
    for kind, data in biff_records(stream, start):
        if kind in _BIFF_CELLS and len(data) >= 4:
            row, column = struct.unpack_from("<HH", data)
        elif kind == _BIFF_MULRK and len(data) >= 6:
            row = struct.unpack_from("<H", data)[0]
            column = struct.unpack_from("<H", data, len(data) - 2)[0]
        elif kind == _BIFF_DIMENSIONS and len(data) in (10, 14):
            layout = "<IIHH" if len(data) == 14 else "<HHHH"
            first_row, end_row, first_column, end_column = struct.unpack_from(layout, data)
            if end_row and end_column:
                # The reader computes (end - first) in 32 bits: a first beyond the end wraps.
                rows = max(rows, (end_row - first_row) % 2**32)
                columns = max(columns, (end_column - first_column) % 2**32)
            continue
        else:
            continue
        rows, columns = max(rows, row + 1), max(columns, column + 1)
    return rows, columns
