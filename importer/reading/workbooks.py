"""Excel and OpenDocument workbooks: a sheet's rows as text, as a person sees them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import struct
import zipfile
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import python_calamine
from defusedxml.ElementTree import ParseError

from importer.errors import InputFileError
from importer.reading.earlier import (
    EarlierOutcomes,
    counted,
    has_outcome_columns,
    is_results_workbook,
)
from importer.reading.formats import CellFormats, ods_formats, xls_formats, xlsx_formats
from importer.reading.guards import (
    OLE_MAGIC,
    ZIP_MAGIC,
    check_ole,
    check_zip,
    column_letters,
    password_protected,
    workbook_stream,
)
from importer.reading.table import InputTable, ReadOptions, first_line, make_table, quoted
from importer.results import RESULTS_SHEET


def open_workbook(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    if head.startswith(ZIP_MAGIC):
        check_zip(path)
    elif head.startswith(OLE_MAGIC):
        check_ole(path)
    # calamine lets go of the GIL while it loads a sheet: the number formats of the
    # sheet it most likely loads are read meanwhile, in a thread of their own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cell-formats") as helper:
        loaded = _load_sheet(path, head, options, helper)
        sheet, notes, earlier, options = loaded.sheet, loaded.notes, loaded.earlier, loaded.options
        merged = sheet.merged_cell_ranges or []
        if loaded.formats is not None and loaded.formats_of == sheet.name:
            formats = loaded.formats.result()
        else:
            formats = _cell_formats(path, head, sheet.name, (sheet.end or (0, 0))[0] + 1)
    notes.extend(_merged_note(path, sheet.name, merged, options.header_at))
    rows = _sheet_rows(sheet, formats)
    where = f"sheet {sheet.name!r} "
    if earlier is None:
        return make_table(path, rows, options, notes, where=where)
    table = make_table(path, earlier.rows(rows), options, notes, where=where)
    table.chunks, table.row_count = counted(earlier.renumbered(table.chunks), table.row_count)
    if table.row_count == 0:
        raise InputFileError(
            f"{path}: every row of this results workbook was posted already; "
            "nothing is left to import with --only-failed"
        )
    table.from_results = True
    return table


@dataclasses.dataclass
class _LoadedSheet:
    sheet: python_calamine.CalamineSheet
    notes: list[str]
    earlier: EarlierOutcomes | None  # a results workbook's outcomes, when it is one
    options: ReadOptions  # as they apply to this sheet
    formats_of: str  # the sheet `formats` are read from, guessed before loading
    formats: Future[CellFormats] | None


def _load_sheet(path: Path, head: bytes, options: ReadOptions, helper: Executor) -> _LoadedSheet:
    """The sheet to read, loaded; the formats of the likely one are read by `helper` meanwhile."""
    formats = None
    try:
        with python_calamine.CalamineWorkbook.from_path(str(path)) as workbook:
            likely = _likely_sheet(workbook, options)
            # An OpenDocument sheet's formats need its loaded size: those come after.
            if likely is not None and not _is_opendocument(path, head):
                formats = helper.submit(_cell_formats, path, head, likely, 0)
            earlier = _earlier_results(workbook, options)
            if earlier is not None:
                options = dataclasses.replace(options, sheet=RESULTS_SHEET, header_row=1)
                sheet = workbook.get_sheet_by_name(RESULTS_SHEET)
                notes = [
                    f"{path.name} is a results workbook of this importer: read its "
                    f"{RESULTS_SHEET!r} sheet without the outcome columns; each row keeps "
                    "its Source Row"
                ]
            else:
                sheet, notes = _choose_sheet(path, workbook, options.sheet)
        return _LoadedSheet(sheet, notes, earlier, options, likely or "", formats)
    except python_calamine.PasswordError:
        raise InputFileError(password_protected(path)) from None
    except InputFileError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    # calamine raises several unrelated types for damaged files, and a Rust panic
    # arrives as pyo3's PanicException, which is not an Exception.
    except BaseException as error:
        raise InputFileError(
            f"{path}: is damaged or not a readable workbook ({first_line(error)}); "
            "open and re-save it in Excel"
        ) from None


def _likely_sheet(workbook: python_calamine.CalamineWorkbook, options: ReadOptions) -> str | None:
    """The sheet that will be read, as far as its names tell before any is loaded."""
    names: list[str] = list(workbook.sheet_names)
    if is_results_workbook(names):
        return RESULTS_SHEET
    wanted = options.sheet
    if isinstance(wanted, int):
        return names[wanted] if 0 <= wanted < len(names) else None
    if isinstance(wanted, str):
        return wanted if wanted in names else None
    visible = python_calamine.SheetVisibleEnum.Visible
    shown = [sheet.name for sheet in workbook.sheets_metadata if sheet.visible == visible]
    return shown[0] if shown else None


def _is_opendocument(path: Path, head: bytes) -> bool:
    if not head.startswith(ZIP_MAGIC):
        return False
    with zipfile.ZipFile(path) as archive:
        return "content.xml" in archive.namelist()


def _earlier_results(
    workbook: python_calamine.CalamineWorkbook, options: ReadOptions
) -> EarlierOutcomes | None:
    """Outcomes to note, when the workbook is a results workbook of this importer."""
    if not is_results_workbook(list(workbook.sheet_names)):
        return None
    header = next(iter(workbook.get_sheet_by_name(RESULTS_SHEET).iter_rows()), [])
    if not has_outcome_columns([_cell_text(value) for value in header]):
        return None
    return EarlierOutcomes(only_failed=options.only_failed)


def _cell_formats(path: Path, head: bytes, sheet_name: str, rows: int) -> CellFormats:
    """Which cells of the sheet show something else than their value as read."""
    try:
        if head.startswith(OLE_MAGIC):
            stream = workbook_stream(path.read_bytes())
            return CellFormats() if stream is None else xls_formats(stream, sheet_name)
        if not head.startswith(ZIP_MAGIC):
            return CellFormats()
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "xl/workbook.xml" in names:
                return xlsx_formats(archive, sheet_name)
            if "content.xml" in names:
                return ods_formats(archive, sheet_name, rows)
            return CellFormats()
    except (
        KeyError,
        ValueError,
        IndexError,
        struct.error,
        zipfile.BadZipFile,
        OSError,
        ParseError,
    ) as error:
        raise InputFileError(
            f"{path}: is damaged ({first_line(error)}); open and re-save it in Excel"
        ) from None


def _sheet_rows(sheet: python_calamine.CalamineSheet, formats: CellFormats) -> Iterator[list[str]]:
    """Every row from row 1 and column A, as text a person sees, one row at a time."""
    start = sheet.start
    if start is None or not sheet.height:
        return
    # `iter_rows` yields the empty rows above the data, but not the empty columns to
    # its left: put those back so positions (and "Column N" names) are the sheet's.
    left = [""] * start[1]
    if not formats:
        for row in sheet.iter_rows():
            yield left + [_cell_text(value) for value in row]
        return
    for index, row in enumerate(sheet.iter_rows()):
        texts = left + [_cell_text(value) for value in row]
        formats.apply(index, row, texts, start[1])
        yield texts


def _choose_sheet(
    path: Path, workbook: python_calamine.CalamineWorkbook, wanted: str | int | None
) -> tuple[python_calamine.CalamineSheet, list[str]]:
    names: list[str] = list(workbook.sheet_names)
    if isinstance(wanted, int):
        if not 0 <= wanted < len(names):
            raise InputFileError(
                f"{path}: has no sheet number {wanted} (sheets are numbered from 0: "
                f"{quoted(names)})"
            )
        return _nonempty(path, workbook.get_sheet_by_index(wanted), names), []
    if isinstance(wanted, str):
        if wanted not in names:
            raise InputFileError(
                f"{path}: has no sheet named {wanted!r}; its sheets are {quoted(names)}"
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
            f"(its sheets are {quoted(names)})"
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
    return f"{column_letters(column + 1)}{row + 1}"


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
