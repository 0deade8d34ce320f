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

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO

import charset_normalizer
import defusedxml.ElementTree
import numpy as np
import pandas as pd
import python_calamine

from importer.errors import InputFileError

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"})
DELIMITERS = ",;\t|"
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_ROWS = 1_048_576
CHUNK_ROWS = 50_000
# A cell larger than this is not a lead field but a broken file.
MAX_CELL_CHARS = 32 * 1024 * 1024
# Zip-bomb guard: real workbooks compress 5-20x; bombs compress thousands of times.
# The declared sizes can be trusted: the workbook reader refuses a member that
# unpacks to more than its declared size.
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
# The workbook reader allocates every cell of a sheet's bounding box at once, so
# one value typed in XFD1048576 of a 5 KB file would ask for 17 billion cells (and
# abort the process). Every row Excel allows, 32 columns wide, is plenty for leads.
MAX_SHEET_CELLS = EXCEL_MAX_ROWS * 32
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # .xls, and encrypted .xlsx
_HEAD_BYTES = 64 * 1024
# More control characters than this share of the text means a binary file.
_MAX_CONTROL_SHARE = 0.10
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ReadOptions:
    """How to read one input; every field also has a key under `read:` in the mapping."""

    sheet: str | int | None = None  # None: the first visible sheet with data
    header_row: int = 1  # 1-based
    encoding: str = "auto"
    delimiter: str = "auto"
    chunk_rows: int = CHUNK_ROWS
    # A smaller first chunk lets work on the first rows start sooner (the total row
    # count is then known only for files that fit in it).
    first_chunk_rows: int | None = None


@dataclass(frozen=True)
class Chunk:
    """Rows of one input, as text; the index is the row number a person sees."""

    frame: pd.DataFrame
    # Per row, why the reader could not read it faithfully ("" when it could).
    problems: pd.Series


@dataclass
class InputTable:
    path: Path
    columns: list[str]
    row_count: int | None  # None while unknown (a file larger than one chunk)
    chunks: Iterator[Chunk]
    notes: list[str] = field(default_factory=list)


def open_table(path: Path, options: ReadOptions = ReadOptions()) -> InputTable:
    """Open a spreadsheet for reading; raises `InputFileError` if it cannot be read."""
    if options.header_row < 1:
        raise InputFileError(f"{path}: header_row must be 1 or more, not {options.header_row}")
    head = _read_head(path)
    if head.startswith((_ZIP_MAGIC, _OLE_MAGIC)) or path.suffix.lower() in WORKBOOK_SUFFIXES:
        table = _open_workbook(path, head, options)
        if path.suffix.lower() in CSV_SUFFIXES:
            table.notes.append(f"{path.name} is an Excel workbook despite its name; read it as one")
        return table
    return _open_csv(path, head, options)


def _read_head(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputFileError(f"{path}: is a folder, not a spreadsheet")
        if not stat.S_ISREG(mode):
            # A pipe or a device would block or never end: only files are read.
            raise InputFileError(f"{path}: is not a regular file; save the leads to a file first")
        with path.open("rb") as stream:
            head = stream.read(_HEAD_BYTES)
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a folder, not a spreadsheet") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot be opened ({error.strerror})") from None
    if not head:
        raise InputFileError(f"{path}: the file is empty; export the leads again")
    return head


def _table(
    path: Path,
    records: Iterator[list[str]],
    options: ReadOptions,
    notes: list[str],
    where: str = "",
) -> InputTable:
    """The table below the header row of `records` (CSV records or sheet rows)."""
    try:
        for _ in range(options.header_row - 1):
            next(records)
        header = next(records)
    except StopIteration:
        raise InputFileError(
            f"{path}: {where}has no header row at row {options.header_row}; "
            "check `read: header_row` in the mapping"
        ) from None
    first_rows = options.first_chunk_rows or options.chunk_rows
    first = list(itertools.islice(records, first_rows))
    layout = _Layout.from_header(path, header, first, notes)
    row_count = len(first) if len(first) < first_rows else None
    chunks = _chunks(layout, first, records, options.header_row + 1, options.chunk_rows)
    # Check now, so "header only" (or only blank rows) fails before any work.
    if row_count is not None:  # everything is in memory already
        materialised = list(chunks)
        row_count = sum(len(chunk.frame) for chunk in materialised)
        chunks = iter(materialised)
    elif (leading := next(chunks, None)) is not None:
        chunks = itertools.chain([leading], chunks)
    else:
        row_count = 0
    if row_count == 0:
        raise InputFileError(f"{path}: {where}has a header row but no leads below it")
    return InputTable(path, layout.columns, row_count, chunks, notes)


def _chunks(
    layout: _Layout,
    first: list[list[str]],
    rest: Iterator[list[str]],
    first_row: int,
    chunk_rows: int,
) -> Iterator[Chunk]:
    # A chunk of rows as Python strings is the largest thing the importer holds:
    # each step lets go of what it has handed on before it reads more.
    pending = [first]
    del first
    while pending:
        records = pending.pop()
        chunk = layout.chunk(records, first_row)
        first_row += len(records)
        del records
        if len(chunk.frame):  # a run of blank rows is no chunk at all
            yield chunk
        del chunk
        if more := list(itertools.islice(rest, chunk_rows)):
            pending.append(more)


# ---------------------------------------------------------------- CSV


def _open_csv(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    encoding, notes = _detect_encoding(path, head, options.encoding)
    sample = _decode_sample(path, head, encoding)
    if len(_CONTROL.findall(sample)) > len(sample) * _MAX_CONTROL_SHARE:
        raise InputFileError(
            f"{path}: looks like a binary file, not a CSV; export the leads as CSV or Excel"
        )
    complete = len(head) < _HEAD_BYTES
    delimiter = _detect_delimiter(path, sample, options, complete=complete)
    records = _csv_records(path, encoding, delimiter)
    return _table(path, records, options, notes)


def _detect_encoding(path: Path, head: bytes, requested: str) -> tuple[str, list[str]]:
    if requested != "auto":
        try:
            name = codecs.lookup(requested).name
        except LookupError:
            raise InputFileError(
                f"{path}: unknown encoding {requested!r}; use auto, utf-8, cp1252, utf-16, ..."
            ) from None
        # Excel's "CSV UTF-8" starts with a BOM: it must not end up in the first header.
        if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", []
        if name in {"utf-16-le", "utf-16-be"} and head.startswith(
            (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        ):
            return "utf-16", []
        return name, []
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return name, []
    if _decodes(path, "utf-8"):
        return "utf-8", []
    encoding = _guess_legacy_encoding(path)
    return encoding, [f"{path.name}: not UTF-8; read as {encoding} (set read.encoding to override)"]


# Single-byte code pages a detector cannot tell apart on a short file of names.
_WESTERN = frozenset(
    {
        "cp1250",
        "cp1252",
        "latin_1",
        "iso8859_2",
        "iso8859_15",
        "mac_roman",
        "cp850",
        "cp437",
        "mac_latin2",
    }
)


def _guess_legacy_encoding(path: Path) -> str:
    best = charset_normalizer.from_path(path).best()
    # Lead files come from US vendors whose Excel on Windows writes cp1252, and on a
    # few accented names cp1250 or latin-1 look just as likely to a detector.
    if (best is None or best.encoding in _WESTERN) and _decodes(path, "cp1252"):
        return "cp1252"
    return best.encoding if best is not None else "latin_1"


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _decode_sample(path: Path, head: bytes, encoding: str) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict").decode(head)
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{path}: is not valid {encoding} at byte {error.start}; "
            "set read.encoding in the mapping"
        ) from None


def _detect_delimiter(path: Path, sample: str, options: ReadOptions, *, complete: bool) -> str:
    """The delimiter that splits the header into most columns that the rows below repeat.

    Not `csv.Sniffer`: its quote-guessing regex is quadratic (a 64 KB line of `,"`
    takes 20 s) and it does not know which line is the header.
    """
    requested = options.delimiter
    if requested != "auto":
        if len(requested) != 1:
            raise InputFileError(f"{path}: delimiter must be one character, not {requested!r}")
        return requested
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False)
        records = list(itertools.islice(reader, options.header_row + 50))
        if not complete:
            records = records[:-1]  # the sample may end inside its last record
        if len(records) < options.header_row:
            continue
        width = len(records[options.header_row - 1])
        rows = [record for record in records[options.header_row :] if any(record)]
        score = (sum(len(record) == width for record in rows), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_records(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    csv.field_size_limit(MAX_CELL_CHARS)
    try:
        with path.open(encoding=encoding, newline="", errors="strict") as stream:
            yield from csv.reader(stream, delimiter=delimiter, strict=False)
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{path}: is not valid {encoding} (byte {error.start} of a block); "
            "set read.encoding in the mapping"
        ) from None
    except csv.Error as error:
        raise InputFileError(f"{path}: cannot be read as CSV ({error})") from None


# ---------------------------------------------------------------- Excel


def _open_workbook(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    if head.startswith(_ZIP_MAGIC):
        _check_zip(path)
    elif head.startswith(_OLE_MAGIC) and path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise InputFileError(
            f"{path}: is password-protected or encrypted; save a copy without a password"
        )
    elif head.startswith(_OLE_MAGIC):
        _check_xls(path)
    elif path.suffix.lower() != ".ods":
        raise InputFileError(
            f"{path}: is not an Excel workbook (its content is not in Excel's format); "
            "export the leads again"
        )
    try:
        with python_calamine.CalamineWorkbook.from_path(str(path)) as workbook:
            sheet, notes = _choose_sheet(path, workbook, options.sheet)
        merged = sheet.merged_cell_ranges or []
    except python_calamine.PasswordError:
        raise InputFileError(
            f"{path}: is password-protected; save a copy without a password"
        ) from None
    except InputFileError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    # calamine raises several unrelated types for damaged files, and a Rust panic
    # arrives as pyo3's PanicException, which is not an Exception.
    except BaseException as error:
        raise InputFileError(
            f"{path}: is damaged or not a readable workbook ({_first_line(error)}); "
            "open and re-save it in Excel"
        ) from None
    notes.extend(_merged_note(path, sheet.name, merged, options.header_row))
    return _table(path, _sheet_rows(sheet), options, notes, where=f"sheet {sheet.name!r} ")


def _sheet_rows(sheet: python_calamine.CalamineSheet) -> Iterator[list[str]]:
    """Every row from row 1 and column A, as text, one row at a time."""
    start = sheet.start
    if start is None or not sheet.height:
        return
    # `iter_rows` yields the empty rows above the data, but not the empty columns to
    # its left: put those back so positions (and "Column N" names) are the sheet's.
    left = [""] * start[1]
    for row in sheet.iter_rows():
        yield left + [_cell_text(value) for value in row]


def _check_zip(path: Path) -> None:
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
            if "xl/workbook.xml" in {member.filename for member in members}:
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
            f"{path}: is damaged ({_first_line(error)}); open and re-save it in Excel"
        ) from None


# Cells as Excel and every common writer store them: `<c r="B7" ...>`. Anything
# else (attributes in another order, namespace prefixes, cells without `r`) is
# measured by the slower, tolerant patterns below.
_FAST_CELL_COLUMN = re.compile(rb'<c r="([A-Za-z]+)')
_FAST_CELL_ROW = re.compile(rb'<c r="[A-Za-z]+(\d+)')
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
        letters = _FAST_CELL_COLUMN.findall(block)
        if block.count(b"<c ") != len(letters) or any(odd.search(block) for odd in _ODD_CELL):
            fast = False  # some cell is written differently: measure the tolerant way
        elif letters:
            columns = max([columns, *map(_column_number, set(letters))])
            rows = max([rows, *map(int, set(_FAST_CELL_ROW.findall(block)))])
    if not fast:
        rows, columns = _tolerant_extent(archive, member)
    _refuse_large_sheet(path, rows, columns)


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
            columns = max(columns, _column_number(letters))
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


def _column_number(letters: bytes) -> int:
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
_BIFF_SHEET = 0x0085  # BOUNDSHEET: where a sheet's records start
_BIFF_DIMENSIONS = 0x0200
_BIFF_MULRK = 0x00BD  # row, first column, values, last column
# Number, Label, BoolErr, RK, LabelSst, Formula: all start with row, column.
_BIFF_CELLS = frozenset({0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006})


def _check_xls(path: Path) -> None:
    try:
        stream = _ole_stream(path.read_bytes(), ("workbook", "book"))
        if stream is None:
            return  # not an Excel workbook: the reader says so
        for start in _biff_sheet_offsets(stream):
            _refuse_large_sheet(path, *_biff_sheet_extent(stream, start))
    except (ValueError, IndexError, struct.error) as error:
        raise InputFileError(
            f"{path}: is damaged ({_first_line(error)}); open and re-save it in Excel"
        ) from None


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


def _biff_records(stream: bytes, start: int) -> Iterator[tuple[int, bytes]]:
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
        for kind, data in _biff_records(stream, 0)
        if kind == _BIFF_SHEET and len(data) >= 4
    ]


def _biff_sheet_extent(stream: bytes, start: int) -> tuple[int, int]:
    """(rows, columns) the reader allocates for the sheet starting at `start`."""
    rows = columns = 0
    for kind, data in _biff_records(stream, start):
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


def _choose_sheet(
    path: Path, workbook: python_calamine.CalamineWorkbook, wanted: str | int | None
) -> tuple[python_calamine.CalamineSheet, list[str]]:
    names: list[str] = list(workbook.sheet_names)
    if isinstance(wanted, int):
        if not 0 <= wanted < len(names):
            raise InputFileError(
                f"{path}: has no sheet number {wanted} (sheets are numbered from 0: "
                f"{_quoted(names)})"
            )
        return _nonempty(path, workbook.get_sheet_by_index(wanted), names), []
    if isinstance(wanted, str):
        if wanted not in names:
            raise InputFileError(
                f"{path}: has no sheet named {wanted!r}; its sheets are {_quoted(names)}"
            )
        return _nonempty(path, workbook.get_sheet_by_name(wanted), names), []
    visible = python_calamine.SheetVisibleEnum.Visible
    for metadata in workbook.sheets_metadata:
        if metadata.visible != visible:
            continue
        sheet = workbook.get_sheet_by_name(metadata.name)
        if sheet.height and sheet.width:
            notes = (
                []
                if metadata.name == names[0]
                else [f"{path.name}: read sheet {metadata.name!r}, the first visible one with data"]
            )
            return sheet, notes
    raise InputFileError(f"{path}: no visible sheet has any data; check the workbook")


def _nonempty(
    path: Path, sheet: python_calamine.CalamineSheet, names: list[str]
) -> python_calamine.CalamineSheet:
    if not (sheet.height and sheet.width):
        raise InputFileError(
            f"{path}: sheet {sheet.name!r} is empty; check `read: sheet` in the mapping "
            f"(its sheets are {_quoted(names)})"
        )
    return sheet


def _merged_note(
    path: Path, sheet: str, merged: list[tuple[tuple[int, int], tuple[int, int]]], header_row: int
) -> list[str]:
    """Merged cells below the header hold their value in the first cell only: say so."""
    below = [
        f"{_cell_name(*start)}:{_cell_name(*end)}"
        for start, end in merged
        if end[0] >= header_row - 1
    ]
    if not below:
        return []
    shown = ", ".join(below[:3]) + (f" and {len(below) - 3} more" if len(below) > 3 else "")
    return [
        f"{path.name}: sheet {sheet!r} has merged cells ({shown}); a merged value is read "
        "in its first cell only, the others are empty"
    ]


def _cell_name(row: int, column: int) -> str:
    """(0, 0) -> `A1`."""
    letters = ""
    column += 1
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return f"{letters}{row + 1}"


def _cell_text(value: object) -> str:
    """A workbook cell as a person sees it, never in scientific notation."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # Excel shows 15 significant digits: 0.1 + 0.2 is 0.3, not 0.30000000000000004.
        return format(Decimal(format(value, ".15g")), "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.timedelta):
        # A duration ([h]:mm:ss) as Excel shows it: 36:00:00, not "1 day, 12:00:00".
        seconds = round(value.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
    return str(value)


# ---------------------------------------------------------------- common


@dataclass(frozen=True)
class _Layout:
    """Which raw columns are kept, and under which unique header."""

    columns: list[str]
    keep: list[int]  # raw positions of the kept columns
    dropped: list[int]  # blank-header columns that were empty in the first rows
    width: int  # raw columns in the header

    @classmethod
    def from_header(
        cls, path: Path, header: list[str], rows: list[list[str]], notes: list[str]
    ) -> _Layout:
        width = len(header)
        if width > EXCEL_MAX_COLUMNS:
            raise InputFileError(
                f"{path}: has {width:,} columns, more than Excel allows "
                f"({EXCEL_MAX_COLUMNS:,}); is this a lead file?"
            )
        names = [name.strip() for name in header]
        keep, dropped = [], []
        for position, name in enumerate(names):
            if name or any(position < len(row) and row[position].strip() for row in rows):
                keep.append(position)
            else:
                dropped.append(position)
        if not keep:
            raise InputFileError(f"{path}: the header row is empty; check `read: header_row`")
        columns = _unique_names(
            [names[position] or f"Column {position + 1}" for position in keep], path, notes
        )
        return cls(columns, keep, dropped, width)

    def chunk(self, records: Sequence[list[str]], first_row: int) -> Chunk:
        rows = np.arange(first_row, first_row + len(records), dtype=np.int64)
        padded = [self._fit(record) for record in records]
        by_column = list(zip(*padded, strict=True)) if padded else [()] * self.width
        frame = pd.DataFrame(
            {
                name: pd.array(by_column[position], dtype="str")
                for name, position in zip(self.columns, self.keep, strict=True)
            },
            index=pd.Index(rows, name="Source Row"),
        )
        problems = pd.Series(
            [self._problem(record) for record in records], index=frame.index, dtype="str"
        )
        blank = frame.apply(lambda column: column.str.strip() == "").all(axis=1)
        keep = ~blank | (problems != "")
        return Chunk(frame[keep], problems[keep])

    def _fit(self, record: list[str]) -> list[str]:
        if len(record) < self.width:
            return record + [""] * (self.width - len(record))
        return record[: self.width]

    def _problem(self, record: list[str]) -> str:
        extra = [value for value in record[self.width :] if value.strip()]
        if extra:
            return (
                f"row has {len(record)} values but the header has {self.width} columns; "
                "check for an unquoted delimiter in this row"
            )
        lost = [
            position + 1
            for position in self.dropped
            if position < len(record) and record[position].strip()
        ]
        if lost:
            return f"value in column {lost[0]}, which has no header; add a header for it"
        return ""


def _unique_names(names: list[str], path: Path, notes: list[str]) -> list[str]:
    """Repeated headers get " (2)", " (3)", ...: never a name another header already has."""
    taken = set(names)
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate = name
        if name in seen:
            count = 2
            while f"{name} ({count})" in taken:
                count += 1
            candidate = f"{name} ({count})"
            taken.add(candidate)
            notes.append(
                f"{path.name}: header {name!r} appears more than once; "
                f"the repeat is called {candidate!r}"
            )
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
