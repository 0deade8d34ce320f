"""The table below a header row: unique column names, text chunks, row numbers kept.

Every reader (CSV text, workbooks) hands its records here as lists of strings;
this is where the header is chosen, blank rows are skipped, and each row keeps
the row number a person sees in the input.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from importer.errors import InputFileError, NoHeaderRowError
from importer.reading.sniffing import looks_like_data, title_rows

EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_ROWS = 1_048_576
CHUNK_ROWS = 50_000

# A cell larger than this is not a lead field but a broken file.
MAX_CELL_CHARS = 32 * 1024 * 1024
HEAD_BYTES = 64 * 1024
_TITLE_LOOKAHEAD = 12


@dataclass(frozen=True)
class ReadOptions:
    """How to read one input; every field also has a key under `read:` in the mapping."""

    sheet: str | int | None = None  # None: the first visible sheet with data
    # 1-based; 0: the file has no header row (columns are "Column 1", ...); None: row 1,
    # unless it is a title above the header row, and refused when it looks like data.
    header_row: int | None = None
    encoding: str = "auto"
    delimiter: str = "auto"
    chunk_rows: int = CHUNK_ROWS
    # Only rows whose status in a results workbook read again was not posted.
    only_failed: bool = False

    @property
    def header_at(self) -> int:
        """The header row to start from (0: none)."""
        return 1 if self.header_row is None else self.header_row


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
    # A results workbook of this importer, read again (see reading.earlier).
    from_results: bool = False


def make_table(
    path: Path,
    records: Iterator[list[str]],
    options: ReadOptions,
    notes: list[str],
    where: str = "",
) -> InputTable:
    """The table below the header row of `records` (CSV records or sheet rows)."""
    header_row = options.header_at
    try:
        for _ in range(header_row - 1):
            next(records)
        header = next(records) if header_row else []
    except StopIteration:
        raise InputFileError(
            f"{path}: {where}has no header row at row {header_row}; "
            "check `read: header_row` in the mapping"
        ) from None
    # A title above the header row is seen in the first few rows, whatever the chunk size.
    lookahead = max(options.chunk_rows, _TITLE_LOOKAHEAD)
    first = list(itertools.islice(records, lookahead))
    if options.header_row is None:
        header, first, header_row = _below_title(path, header, first, notes)
    # Even a header row the mapping names is checked: a mapping copied from another
    # vendor says `header_row: 1`, and taking a lead for headers loses it silently.
    if header_row and looks_like_data(header, first):
        raise NoHeaderRowError(
            f"{path}: {where}seems to have no header row (row {header_row} looks like a "
            "lead, not column names); if so, add `header_row: 0` under `read:` in the "
            "mapping or use --no-header, and every row is read as a lead"
        )
    if not header_row:
        width = max((len(record) for record in first), default=0)
        header = [f"Column {number}" for number in range(1, width + 1)]
    # Chunks are chunk_rows long: what was looked at beyond goes back in line.
    records = itertools.chain(first[options.chunk_rows :], records)
    first = first[: options.chunk_rows]
    layout = _Layout.from_header(path, header, first, notes)
    row_count: int | None = len(first)
    if (following := next(records, None)) is not None:
        records, row_count = itertools.chain([following], records), None
    chunks = _chunks(layout, first, records, header_row + 1, options.chunk_rows)
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
        if not header_row:
            raise InputFileError(f"{path}: {where}has no leads; export the leads again")
        raise InputFileError(f"{path}: {where}has a header row but no leads below it")
    return InputTable(path, layout.columns, row_count, chunks, notes)


def _below_title(
    path: Path, header: list[str], first: list[list[str]], notes: list[str]
) -> tuple[list[str], list[list[str]], int]:
    """The header row, moved down past a title ("Leads for March") above it."""
    skip = title_rows(header, first)
    if not skip:
        return header, first, 1
    notes.append(
        f"{path.name}: row 1 looks like a title; read the column names from row {skip + 1} "
        f"(set `read: header_row` in the mapping to choose another row)"
    )
    return first[skip - 1], first[skip:], skip + 1


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


def quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
