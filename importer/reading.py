"""Reading spreadsheets: CSV/TXT and Excel workbooks into text columns.

Guarantees:
- every value is text exactly as a person sees it in the sheet (`08001` stays
  `08001`, an Excel number 5555555555.0 becomes `5555555555`, dates become
  `YYYY-MM-DD`); nothing is parsed as a number or a formula;
- each row keeps the row number a person sees in the input (the frame's index),
  so every later message can name it;
- large CSV files are read in chunks, so memory stays bounded;
- a file that cannot be read raises `InputFileError` with one line naming the
  file, the reason and what to do.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

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
CHUNK_ROWS = 100_000
# A cell larger than this is not a lead field but a broken file.
MAX_CELL_CHARS = 32 * 1024 * 1024
# Zip-bomb guard: real workbooks compress 5-20x; bombs compress thousands of times.
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # .xls, and encrypted .xlsx


@dataclass(frozen=True)
class ReadOptions:
    """How to read one input; every field also has a key under `read:` in the mapping."""

    sheet: str | int | None = None  # None: the first visible sheet with data
    header_row: int = 1  # 1-based
    encoding: str = "auto"
    delimiter: str = "auto"
    chunk_rows: int = CHUNK_ROWS


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
    row_count: int | None  # None while unknown (a CSV larger than one chunk)
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
        with path.open("rb") as stream:
            head = stream.read(64 * 1024)
    except FileNotFoundError:
        raise InputFileError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a folder, not a spreadsheet") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot be opened ({error.strerror})") from None
    if not head:
        raise InputFileError(f"{path}: the file is empty; export the leads again")
    return head


# ---------------------------------------------------------------- CSV


def _open_csv(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    encoding, notes = _detect_encoding(path, head, options.encoding)
    sample = _decode_sample(path, head, encoding)
    if "\x00" in sample and sample.count("\x00") > len(sample) // 10:
        raise InputFileError(
            f"{path}: looks like a binary file, not a CSV; export the leads as CSV or Excel"
        )
    delimiter = _detect_delimiter(path, sample, options.delimiter)
    records = _csv_records(path, encoding, delimiter)
    try:
        for _ in range(options.header_row - 1):
            next(records)
        header = next(records)
    except StopIteration:
        raise InputFileError(
            f"{path}: has no header row at row {options.header_row}; "
            "check `read: header_row` in the mapping"
        ) from None
    first = list(itertools.islice(records, options.chunk_rows))
    layout = _Layout.from_header(path, header, first, notes)
    first_row = options.header_row + 1
    row_count = len(first) if len(first) < options.chunk_rows else None
    chunks = _csv_chunks(path, layout, first, records, first_row, options.chunk_rows)
    if row_count is not None:
        # Everything is in memory already: check now, so "header only" fails before any work.
        materialised = list(chunks)
        row_count = sum(len(chunk.frame) for chunk in materialised)
        chunks = iter(materialised)
    if row_count == 0:
        raise InputFileError(f"{path}: has a header row but no leads below it")
    return InputTable(path, layout.columns, row_count, chunks, notes)


def _detect_encoding(path: Path, head: bytes, requested: str) -> tuple[str, list[str]]:
    if requested != "auto":
        try:
            return codecs.lookup(requested).name, []
        except LookupError:
            raise InputFileError(
                f"{path}: unknown encoding {requested!r}; use auto, utf-8, cp1252, utf-16, ..."
            ) from None
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return name, []
    if _is_utf8(path):
        return "utf-8", []
    best = charset_normalizer.from_path(path).best()
    # cp1252 is what Excel on Windows writes; it is the honest fallback for Western files.
    encoding = best.encoding if best is not None else "cp1252"
    return encoding, [f"{path.name}: not UTF-8; read as {encoding} (set read.encoding to override)"]


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
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


def _detect_delimiter(path: Path, sample: str, requested: str) -> str:
    if requested != "auto":
        if len(requested) != 1:
            raise InputFileError(f"{path}: delimiter must be one character, not {requested!r}")
        return requested
    lines = sample.splitlines()[:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    # The sniffer gives up on short or irregular samples: the header line decides.
    counts = {delimiter: lines[0].count(delimiter) for delimiter in DELIMITERS} if lines else {}
    best = max(counts, key=lambda delimiter: counts[delimiter], default=",")
    return best if counts.get(best) else ","


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


def _csv_chunks(
    path: Path,
    layout: _Layout,
    first: list[list[str]],
    rest: Iterator[list[str]],
    first_row: int,
    chunk_rows: int,
) -> Iterator[Chunk]:
    records = first
    while records:
        yield layout.chunk(records, first_row)
        first_row += len(records)
        records = list(itertools.islice(rest, chunk_rows))


# ---------------------------------------------------------------- Excel


def _open_workbook(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    if head.startswith(_ZIP_MAGIC):
        _check_zip(path)
    elif head.startswith(_OLE_MAGIC) and path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise InputFileError(
            f"{path}: is password-protected or encrypted; save a copy without a password"
        )
    elif not head.startswith(_OLE_MAGIC) and path.suffix.lower() != ".ods":
        raise InputFileError(
            f"{path}: is not an Excel workbook (its content is not in Excel's format); "
            "export the leads again"
        )
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        sheet, notes = _choose_sheet(path, workbook, options.sheet)
        rows = sheet.to_python(skip_empty_area=False)
    except python_calamine.PasswordError:
        raise InputFileError(
            f"{path}: is password-protected; save a copy without a password"
        ) from None
    except InputFileError:
        raise
    except Exception as error:  # calamine raises several unrelated types for damaged files
        raise InputFileError(
            f"{path}: is damaged or not a readable workbook ({_first_line(error)}); "
            "open and re-save it in Excel"
        ) from None
    if len(rows) < options.header_row:
        raise InputFileError(
            f"{path}: sheet {sheet.name!r} has no header row at row {options.header_row}; "
            "check `read: header_row` in the mapping"
        )
    header = [_cell_text(value) for value in rows[options.header_row - 1]]
    body = [[_cell_text(value) for value in row] for row in rows[options.header_row :]]
    layout = _Layout.from_header(path, header, body, notes)
    chunks = [layout.chunk(body, options.header_row + 1)]
    row_count = len(chunks[0].frame)
    if row_count == 0:
        raise InputFileError(f"{path}: sheet {sheet.name!r} has a header row but no leads below it")
    return InputTable(path, layout.columns, row_count, iter(chunks), notes)


def _check_zip(path: Path) -> None:
    """Refuse zip bombs and XML entity tricks before any XML parser sees the file."""
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
            if "xl/workbook.xml" in names:
                # defusedxml refuses DTDs and entity declarations: a real workbook has none.
                defusedxml.ElementTree.fromstring(archive.read("xl/workbook.xml"), forbid_dtd=True)
                for name in sorted(names):
                    if name.endswith(".xml") and b"<!DOCTYPE" in archive.open(name).read(4096):
                        raise InputFileError(
                            f"{path}: contains an XML document type declaration ({name}); "
                            "refusing it as a possible XML bomb"
                        )
    except zipfile.BadZipFile:
        raise InputFileError(
            f"{path}: is damaged or truncated (not a complete zip archive); export it again"
        ) from None
    except defusedxml.DefusedXmlException:
        raise InputFileError(
            f"{path}: contains XML entity declarations; refusing it as a possible XML bomb"
        ) from None
    except (defusedxml.ElementTree.ParseError, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise InputFileError(
            f"{path}: is damaged ({_first_line(error)}); open and re-save it in Excel"
        ) from None


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
        return workbook.get_sheet_by_index(wanted), []
    if isinstance(wanted, str):
        if wanted not in names:
            raise InputFileError(
                f"{path}: has no sheet named {wanted!r}; its sheets are {_quoted(names)}"
            )
        return workbook.get_sheet_by_name(wanted), []
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
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
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
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        candidate = name if count == 1 else f"{name} ({count})"
        while candidate in seen and count > 1:
            count += 1
            candidate = f"{name} ({count})"
        if count > 1:
            notes.append(
                f"{path.name}: header {name!r} appears more than once; "
                f"the repeat is called {candidate!r}"
            )
            seen[candidate] = 1
        unique.append(candidate)
    return unique


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
