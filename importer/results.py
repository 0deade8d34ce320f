"""The results workbook: every input row with its outcome, in a file safe to open.

`ResultsWriter` streams chunks of rows into `.xlsx` (xlsxwriter, constant memory)
or `.csv`, and guarantees:

* **Atomic.** Everything goes to a hidden temp file next to the target, which is
  fsynced and renamed over the target by `finish()`. `abort()`, an exception, or
  leaving the `with` block without `finish()` deletes the temp file and leaves any
  existing target untouched. The writer refuses (`UsageError`) a target that is
  one of the input files. The file is created private to the user (mode 0600):
  it holds personal data.
* **Never lost to a locked target.** A target that cannot be replaced (open in
  Excel on Windows, which forbids replacing it, or read-only) is left alone: the
  results go to `<name> (2).results.xlsx` (then `(3)`, ...) beside it, the
  Summary sheet says so, and `note` holds the sentence for the caller to show.
* **Columns.** The input's columns in their order, values as read, then
  `RESULT_COLUMNS`. An input column named like a result column (a vendor's own
  `Status`) is headed `Status (input)`, so the writer's columns always carry
  their documented names; see `results_header`.
* **Text stays text.** Every cell but `Source Row` is written as a string, never
  a formula, number or link: `=HYPERLINK(...)` and `08001` read back as typed.
  In CSV, a value that Excel would run as a formula (starts with = + - @ tab or
  CR, after any apostrophes) gets one `'` in front (the OWASP rule, extended to
  leading apostrophes so it can be undone exactly: drop one `'` from a value
  matching `'+[=+\\-@\\t\\r]`). CSV is UTF-8 with a BOM so Excel reads accents.
* **Excel limits.** A cell holds 32,767 UTF-16 code units: a longer value is cut
  and the row's Warnings starts with "<column>: cell cut to 32,767 characters in
  this workbook (the input file has the full value)". A sheet holds 1,048,576
  rows: `Results` continues in `Results (2)`, `Results (3)`, ... with the header.
* **Characters XML cannot hold.** Control characters (except tab and newline),
  CR, U+FFFE and U+FFFF are stored with the OOXML escape `_xHHHH_`, and a
  literal `_xHHHH_` in a value has its underscore escaped as `_x005F_`. Excel
  (ECMA-376 ST_Xstring) and python-calamine (our reader) decode these back
  exactly, except that calamine leaves U+FFFE/U+FFFF escaped; openpyxl returns
  the stored form, which `openpyxl.utils.escape.unescape` decodes. xlsxwriter
  escapes on its own but gets two cases wrong (a value shaped like its internal
  rich-string markup, `<r>...</r>`, goes into the XML raw and can corrupt the
  file; and escapes next to `_xHHHH`-like text decode wrongly), so values with
  `_xHHHH` or a leading `<r>` are encoded here instead; see `_fit`.
"""

from __future__ import annotations

import csv
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from itertools import count, repeat
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Protocol, Self, TextIO

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from importer.errors import UsageError

RESULT_COLUMNS: tuple[str, ...] = ("Source Row", "Status", "IntakeID", "Error", "Warnings")

EXCEL_MAX_ROWS = 1_048_576  # rows in one sheet, header included (tests shrink it)
EXCEL_MAX_CELL = 32_767  # UTF-16 code units in one cell
MAX_COLUMN_WIDTH = 60

RESULTS_SHEET = "Results"
SUMMARY_SHEET = "Summary"

_CUT_NOTE = "{}: cell cut to 32,767 characters in this workbook (the input file has the full value)"

_GOOD = (("bg_color", "#C6EFCE"), ("font_color", "#006100"))
_BAD = (("bg_color", "#FFC7CE"), ("font_color", "#9C0006"))
_RETRY = (("bg_color", "#FFEB9C"), ("font_color", "#9C5700"))
_STATUS_STYLES: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType(
    {
        "posted": _GOOD,
        "valid": _GOOD,
        "already_posted": _GOOD,
        "invalid": _BAD,
        "rejected": _BAD,
        "duplicate": _BAD,
        "failed": _RETRY,
    }
)

_WORKBOOK_OPTIONS: Mapping[str, bool] = MappingProxyType(
    {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        # Only takes effect when a part passes 4 GB, which 1M rows of long text can.
        "use_zip64": True,
    }
)

# Values xlsxwriter's own escaping gets wrong: any `_xHHHH_`-like text (its escape
# of the escape does not handle overlaps or a following control character), and
# `<r>...</r>` (its marker for a rich string, written without escaping).
_FRAGILE = r"_x[0-9A-Fa-f]{4}|^<r>"
_FRAGILE_RE = re.compile(_FRAGILE)
# Characters stored as `_xHHHH_`, and underscores that would otherwise start one.
_OOXML_ESCAPED = re.compile(
    r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}[_\x00-\x08\x0b-\x1f\ufffe\uffff])"
)
_CSV_FORMULA = r"'*[=+\-@\t\r]"
_CSV_FORMULA_RE = re.compile(_CSV_FORMULA)


def default_results_path(input_path: Path) -> Path:
    """Where results go when the user names no file: `<dir>/<input stem>.results.xlsx`."""
    return input_path.with_name(f"{input_path.stem}.results.xlsx")


def free_path(path: Path) -> Path:
    """`path`, or `<stem> (2)<suffix>`, `(3)`, ... : the first name no file has yet.

    `leads.results.xlsx` becomes `leads (2).results.xlsx`, so the name still says
    what the file is.
    """
    name = path.name
    stem, suffix = path.stem, path.suffix
    for compound in (".results.xlsx", ".results.csv"):
        if name.lower().endswith(compound):
            stem, suffix = name[: -len(compound)], name[-len(compound) :]
    candidate, number = path, 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{stem} ({number}){suffix}")
        number += 1
    return candidate


def results_header(input_columns: Sequence[str]) -> tuple[str, ...]:
    """The header row: input columns, then `RESULT_COLUMNS`.

    An input column that shares a name with a result column is headed
    "<name> (input)" (or "<name> (input 2)", ... if that is taken too), so
    someone filtering on Status gets the importer's status, not the vendor's.
    """
    taken = {*map(str, input_columns), *RESULT_COLUMNS}
    names: list[str] = []
    for name in map(str, input_columns):
        if name in RESULT_COLUMNS:
            renamed, n = f"{name} (input)", 2
            while renamed in taken:
                renamed, n = f"{name} (input {n})", n + 1
            taken.add(renamed)
            name = renamed
        names.append(name)
    return (*names, *RESULT_COLUMNS)


class _DiscardedUnlessFinished:
    """`with writer:` publishes nothing unless `finish()` was called in the block."""

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Only finish() publishes: leaving the block any other way discards the file.
        self.abort()


class ResultsWriter(_DiscardedUnlessFinished):
    """Writes the results file chunk by chunk; nothing is visible until `finish()`.

    `append` takes a DataFrame whose columns are `input_columns + RESULT_COLUMNS`
    in that order. Labels may repeat (an input column named "Status"): columns
    are read by position.
    """

    def __init__(
        self, path: Path, *, input_columns: Sequence[str], protected: Iterable[Path] = ()
    ) -> None:
        path = Path(path)
        kind = path.suffix.lower()
        if kind not in (".xlsx", ".csv"):
            raise UsageError(f"results file must end in .xlsx or .csv: {path}")
        _refuse_inputs(path, protected)
        if path.is_dir():
            raise UsageError(f"results file is a folder: {path}")
        self._target = path
        self._labels = [*input_columns, *RESULT_COLUMNS]
        self._source_position = len(input_columns)
        header = results_header(input_columns)
        try:
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as err:
            raise _cannot_write(path, err) from err
        self._temp = Path(name)
        self._open = True
        self.note = ""  # set by finish() when the results went to another name
        try:
            if kind == ".csv":
                self._sink: _Sink = _CsvSink(
                    os.fdopen(handle, "w", encoding="utf-8-sig", newline=""), header
                )
            else:
                os.close(handle)
                self._sink = _XlsxSink(self._temp, header)
        except BaseException:
            self._temp.unlink(missing_ok=True)
            raise

    def append(self, rows: pd.DataFrame) -> None:
        """Add the next chunk of rows (in input order)."""
        self._check_open()
        if list(rows.columns) != self._labels:
            raise ValueError(f"rows must have the columns {self._labels}, got {list(rows.columns)}")
        with self._aborting_on_error():
            text = [
                _as_text(rows.iloc[:, i])
                for i in range(rows.shape[1])
                if i != self._source_position
            ]
            sources = rows.iloc[:, self._source_position].astype("int64").tolist()
            self._sink.write(text, sources)

    def finish(self, summary: Mapping[str, str | int | float]) -> Path:
        """Complete the file (and its Summary sheet), move it into place, return its path.

        The path is the target's, or a free name beside it when the target cannot
        be replaced; `note` then says so.
        """
        self._check_open()
        target = self._target
        if blocked := _why_not_replaceable(target):
            target = free_path(target)
            self.note = f"{self._target.name} {blocked}; these results are in {target.name}"
            summary = {**summary, "Results file": target.name, "Note": self.note}
        with self._aborting_on_error():
            self._sink.close(summary)
            _fsync(self._temp)
            try:
                os.replace(self._temp, target)
            except PermissionError:  # locked after the check above: still keep the results
                blocked_now = target
                target = free_path(target)
                os.replace(self._temp, target)
                self.note = (
                    f"{blocked_now.name} could not be replaced (open in another program?); "
                    f"these results are in {target.name}"
                )
        self._open = False
        return target

    def abort(self) -> None:
        """Delete the temp file; any existing file at the target is left as it was."""
        if not self._open:
            return
        self._open = False
        try:
            self._sink.discard()
        finally:
            self._temp.unlink(missing_ok=True)

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("the results writer is already finished or aborted")

    @contextmanager
    def _aborting_on_error(self) -> Iterator[None]:
        """Abort on any exception; a disk error becomes a one-line `UsageError`."""
        try:
            yield
        except (OSError, FileCreateError) as err:
            self.abort()
            raise _cannot_write(self._target, err) from err
        except BaseException:
            self.abort()
            raise


class _Sink(Protocol):
    def write(self, columns: list[pd.Series[str]], sources: list[int]) -> None: ...
    def close(self, summary: Mapping[str, str | int | float]) -> None: ...
    def discard(self) -> None: ...


class _XlsxSink:
    """Results sheets (spilling at `EXCEL_MAX_ROWS`) and a Summary sheet, via xlsxwriter."""

    def __init__(self, path: Path, header: tuple[str, ...]) -> None:
        # Our own scratch folder for xlsxwriter's per-sheet row buffers, so that
        # an abort removes them too (xlsxwriter deletes them only on close()).
        self._scratch = tempfile.TemporaryDirectory(
            prefix="importer-results-", ignore_cleanup_errors=True
        )
        self._book = xlsxwriter.Workbook(
            str(path), {**_WORKBOOK_OPTIONS, "tmpdir": self._scratch.name}
        )
        self._header = header
        self._source_col = len(header) - len(RESULT_COLUMNS)
        self._header_format = self._book.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "text_wrap": False}
        )
        self._bold = self._book.add_format({"bold": True})
        self._status_formats = {
            status: self._book.add_format(dict(style)) for status, style in _STATUS_STYLES.items()
        }
        self._widths = [len(name) + 3 for name in header]  # room for the filter button
        self._sheets: list[Any] = []
        self._rows_used: list[int] = []
        self._add_results_sheet()

    def write(self, columns: list[pd.Series[str]], sources: list[int]) -> None:
        self._note_widths(columns, sources)
        values = self._fitted(columns)
        start, total = 0, len(sources)
        while start < total:
            if self._rows_used[-1] >= EXCEL_MAX_ROWS:
                self._add_results_sheet()
            take = min(total - start, EXCEL_MAX_ROWS - self._rows_used[-1])
            part = values if take == total else [column[start : start + take] for column in values]
            self._write_rows(part, sources[start : start + take])
            self._rows_used[-1] += take
            start += take

    def close(self, summary: Mapping[str, str | int | float]) -> None:
        last_col = len(self._header) - 1
        for sheet, used in zip(self._sheets, self._rows_used, strict=True):
            sheet.autofilter(0, 0, used - 1, last_col)
            for col, width in enumerate(self._widths):
                sheet.set_column(col, col, min(width, MAX_COLUMN_WIDTH))
        self._write_summary(summary)
        self._book.close()
        self._scratch.cleanup()

    def discard(self) -> None:
        # Zipping everything written so far just to delete it can take minutes
        # after a long run is interrupted; closing each sheet's row buffer is enough.
        for sheet in self._book.worksheets():
            sheet._opt_close()
        self._scratch.cleanup()

    def _add_results_sheet(self) -> None:
        number = len(self._sheets) + 1
        sheet = self._book.add_worksheet(
            RESULTS_SHEET if number == 1 else f"{RESULTS_SHEET} ({number})"
        )
        for col, name in enumerate(self._header):
            sheet.write_string(0, col, _fit(name)[0], self._header_format)
        sheet.freeze_panes(1, 0)
        self._sheets.append(sheet)
        self._rows_used.append(1)

    def _note_widths(self, columns: list[pd.Series[str]], sources: list[int]) -> None:
        if not sources:
            return
        texts = iter(columns)
        for col in range(len(self._header)):
            longest = (
                len(str(max(sources)))
                if col == self._source_col
                else int(next(texts).str.len().max())
            )
            self._widths[col] = max(self._widths[col], longest + 1)

    def _fitted(self, columns: list[pd.Series[str]]) -> list[list[str]]:
        """The cell strings to hand xlsxwriter, with cut cells reported in Warnings."""
        values = [column.tolist() for column in columns]
        names = [name for col, name in enumerate(self._header) if col != self._source_col]
        notes: dict[int, list[str]] = {}
        for name, column, cells in zip(names[:-1], columns[:-1], values[:-1], strict=True):
            for row in _rare_rows(column):
                cells[row], cut = _fit(cells[row])
                if cut:
                    notes.setdefault(row, []).append(_CUT_NOTE.format(name))
        warnings = values[-1]
        for row in {*notes, *_rare_rows(columns[-1])}:
            row_notes, text = notes.get(row, []), warnings[row]
            warnings[row], cut = _fit(_joined(row_notes, text))
            if cut:
                # Notes go first so that cutting a long Warnings text never loses them.
                row_notes = [*row_notes, _CUT_NOTE.format(names[-1])]
                warnings[row], _ = _fit(_joined(row_notes, text))
        return values

    def _write_rows(self, values: list[list[str]], sources: list[int]) -> None:
        sheet = self._sheets[-1]
        write_string, write_number = sheet.write_string, sheet.write_number
        status_formats = self._status_formats
        n = self._source_col
        inputs, (statuses, intake_ids, errors, warnings) = values[:n], values[n:]
        input_rows = zip(*inputs, strict=True) if inputs else repeat(())
        rows = zip(
            count(self._rows_used[-1]), input_rows, sources, statuses, intake_ids, errors, warnings
        )
        # The hot loop: one call per non-empty cell, nothing else. Empty strings
        # are left as empty cells rather than written as "".
        for row, cells, source, status, intake_id, error, warning in rows:
            for col, cell in enumerate(cells):
                if cell:
                    write_string(row, col, cell)
            write_number(row, n, source)
            if status:
                write_string(row, n + 1, status, status_formats.get(status))
            if intake_id:
                write_string(row, n + 2, intake_id)
            if error:
                write_string(row, n + 3, error)
            if warning:
                write_string(row, n + 4, warning)

    def _write_summary(self, summary: Mapping[str, str | int | float]) -> None:
        sheet = self._book.add_worksheet(SUMMARY_SHEET)
        label_width, value_width = 10, 10
        for row, (label, value) in enumerate(summary.items()):
            sheet.write_string(row, 0, _fit(label)[0], self._bold)
            is_number = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
            if is_number:
                sheet.write_number(row, 1, value)
            else:
                sheet.write_string(row, 1, _fit(str(value))[0])
            label_width = max(label_width, len(label) + 2)
            value_width = max(value_width, len(str(value)) + 2)
        sheet.set_column(0, 0, min(label_width, MAX_COLUMN_WIDTH))
        sheet.set_column(1, 1, min(value_width, MAX_COLUMN_WIDTH))


class _CsvSink:
    """The same columns as the Results sheet, as CSV; no Summary (the CLI prints it)."""

    def __init__(self, handle: TextIO, header: tuple[str, ...]) -> None:
        self._handle = handle
        self._writer = csv.writer(handle)
        self._writer.writerow([_csv_safe(name) for name in header])
        self._source_col = len(header) - len(RESULT_COLUMNS)

    def write(self, columns: list[pd.Series[str]], sources: list[int]) -> None:
        values = [_csv_defused(column) for column in columns]
        n = self._source_col
        self._writer.writerows(zip(*values[:n], sources, *values[n:], strict=True))

    def close(self, summary: Mapping[str, str | int | float]) -> None:
        self._handle.flush()
        self._handle.close()

    def discard(self) -> None:
        # The file is deleted next, so a failing flush (disk full) does not matter.
        with suppress(OSError):
            self._handle.close()


def _rare_rows(column: pd.Series[str]) -> list[int]:
    """Rows whose value may be too long or needs `_fit`'s own encoding.

    A string of at most half the limit cannot reach it even in UTF-16, so only
    these (rare) values pay for the exact, per-value check.
    """
    rare = column.str.len().gt(EXCEL_MAX_CELL // 2) | column.str.contains(_FRAGILE)
    return np.flatnonzero(rare.to_numpy(dtype=bool)).tolist()


def _fit(value: str) -> tuple[str, bool]:
    """What to hand xlsxwriter so the cell reads back as `value`, and whether it was cut."""
    cut = _utf16_len(value) > EXCEL_MAX_CELL
    if cut:
        value = _utf16_cut(value, EXCEL_MAX_CELL)
    while _FRAGILE_RE.search(value):
        encoded = _raw_inline_string(value)
        encoded_units = _utf16_len(encoded)
        if encoded_units <= EXCEL_MAX_CELL:
            return encoded, cut
        # xlsxwriter applies the cell limit to this markup too and would cut
        # through it, so the value gives way (a rare extra cut, reported the same).
        units = _utf16_len(value)
        value = _utf16_cut(value, min(units - 1, units * EXCEL_MAX_CELL // encoded_units))
        cut = True
    return value, cut


def _raw_inline_string(value: str) -> str:
    """`value` as a complete, escaped rich-text run, which xlsxwriter writes verbatim.

    xlsxwriter (constant_memory) passes a string that starts with `<r>` and ends
    with `</r>` straight into the XML. Here we use that on purpose: every `_` is
    written as `&#95;`, so xlsxwriter's own escaping finds nothing to change.
    """
    escaped = _OOXML_ESCAPED.sub(lambda match: f"_x{ord(match.group()):04X}_", value)
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<r><t xml:space="preserve">{escaped.replace("_", "&#95;")}</t></r>'


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _utf16_cut(text: str, units: int) -> str:
    """The longest start of `text` within `units` UTF-16 code units, never half a surrogate pair."""
    cut = text.encode("utf-16-le", "surrogatepass")[: 2 * max(units, 0)].decode(
        "utf-16-le", "surrogatepass"
    )
    if cut and "\ud800" <= cut[-1] <= "\udbff":
        cut = cut[:-1]
    return cut


def _joined(notes: list[str], warnings: str) -> str:
    return "; ".join(text for text in [*notes, warnings] if text)


def _as_text(column: pd.Series[Any]) -> pd.Series[str]:
    if column.hasnans:
        column = column.fillna("")
    return column.astype(str)


def _csv_safe(value: str) -> str:
    return "'" + value if _CSV_FORMULA_RE.match(value) else value


def _csv_defused(column: pd.Series[str]) -> list[str]:
    """The column's values with a `'` before any that Excel would read as a formula."""
    values = column.tolist()
    for row in np.flatnonzero(column.str.match(_CSV_FORMULA).to_numpy(dtype=bool)).tolist():
        values[row] = "'" + values[row]
    return values


def _refuse_inputs(path: Path, protected: Iterable[Path]) -> None:
    target = path.resolve()
    for source in map(Path, protected):
        same = target == source.resolve() or (
            path.exists() and source.exists() and os.path.samefile(path, source)
        )
        if same:
            raise UsageError(f"refusing to write results over the input file {source}")


def _why_not_replaceable(path: Path) -> str:
    """Why an existing `path` cannot be replaced, or "" when it can (or does not exist)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""
    if not stat.S_ISREG(mode):
        return ""  # not a file we would open to probe (a FIFO would block); replace decides
    if not mode & stat.S_IWUSR:
        return "is read-only"
    try:
        # Excel on Windows holds an open workbook so that no one else may write it,
        # and then replacing it fails too: opening it for writing asks the same.
        descriptor = os.open(path, os.O_WRONLY)
    except PermissionError:
        return "is open in another program (Excel?)"
    except OSError:
        return ""
    os.close(descriptor)
    return ""


def _fsync(path: Path) -> None:
    # Without this, a crash soon after the rename can leave an empty file
    # where the previous results were.
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _cannot_write(path: Path, err: BaseException) -> UsageError:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return UsageError(f"cannot write results file {path}: {reason}")


class TextWorkbook(_DiscardedUnlessFinished):
    """A workbook of plain sheets (a report), with the results workbook's guarantees.

    Written atomically (a temp file beside the target, fsynced and renamed by
    `finish()`; anything else leaves an existing target untouched), private to
    the user, never over an input, and text cells are only ever text (no
    formulas, numbers or links; `_fit` for the XML and the cell limit).
    """

    def __init__(self, path: Path, *, protected: Iterable[Path] = ()) -> None:
        path = Path(path)
        if path.suffix.lower() != ".xlsx":
            raise UsageError(f"report file must end in .xlsx: {path}")
        _refuse_inputs(path, protected)
        if path.is_dir():
            raise UsageError(f"report file is a folder: {path}")
        self._target = path
        try:
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as err:
            raise _cannot_write(path, err) from err
        os.close(handle)
        self._temp = Path(name)
        # Not constant_memory: a report is small, and nothing is written before close().
        options = {**_WORKBOOK_OPTIONS, "constant_memory": False}
        self._book = xlsxwriter.Workbook(str(self._temp), options)
        self._header = self._book.add_format({"bold": True, "bg_color": "#D9E1F2", "bottom": 1})
        self._percent = self._book.add_format({"num_format": "0.0%"})
        self._open = True

    def add_sheet(
        self,
        name: str,
        header: Sequence[str],
        rows: Iterable[Sequence[str | int | float]],
        *,
        percent_columns: Iterable[int] = (),
    ) -> None:
        """A sheet with a header row, a filter and frozen header; numbers stay numbers."""
        percent = set(percent_columns)
        sheet = self._book.add_worksheet(name)
        widths = [len(title) + 3 for title in header]
        for col, title in enumerate(header):
            sheet.write_string(0, col, _fit(title)[0], self._header)
        last = 0
        for last, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if isinstance(value, str):
                    if value:
                        sheet.write_string(last, col, _fit(value)[0])
                else:
                    sheet.write_number(last, col, value, self._percent if col in percent else None)
                widths[col] = max(widths[col], len(str(value)) + 1)
        sheet.autofilter(0, 0, last, max(len(header) - 1, 0))
        sheet.freeze_panes(1, 0)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, min(width, MAX_COLUMN_WIDTH))

    def finish(self) -> Path:
        try:
            self._book.close()
            _fsync(self._temp)
            os.replace(self._temp, self._target)
        except (OSError, FileCreateError) as err:
            self.abort()
            raise _cannot_write(self._target, err) from err
        self._open = False
        return self._target

    def abort(self) -> None:
        if self._open:
            self._open = False
            self._temp.unlink(missing_ok=True)
