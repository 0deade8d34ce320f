"""A results workbook read again: fix the rows in it, then import it again.

A results workbook written by this importer is recognised by its Summary sheet
beside a Results sheet whose header ends with the outcome columns. Then:

- its Results sheet is read, whatever the mapping's `read:` says (the mapping
  was written for the vendor's file, which may name another sheet or row);
- the outcome columns (Source Row, Status, IntakeID, Error, Warnings) are left
  out, and a vendor's own column the writer had to call `Status (input)` gets
  its name back, so another round never stacks a second suffix;
- every row keeps the Source Row of the original input as its row number, so
  the new results still point at the vendor's file;
- with `only_failed`, rows whose earlier status was posted (or already posted)
  are left out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pandas as pd

from importer.reading.table import Chunk
from importer.results import RESULT_COLUMNS, RESULTS_SHEET, SUMMARY_SHEET

POSTED = frozenset({"posted", "already_posted"})
_INPUT_SUFFIX = " (input)"


def is_results_workbook(sheet_names: Sequence[str]) -> bool:
    return SUMMARY_SHEET in sheet_names and RESULTS_SHEET in sheet_names


def has_outcome_columns(header: Sequence[str]) -> bool:
    return tuple(cell.strip() for cell in header[-len(RESULT_COLUMNS) :]) == RESULT_COLUMNS


@dataclass
class EarlierOutcomes:
    """Each sheet row's Source Row and Status, noted as the rows stream past."""

    only_failed: bool = False
    by_row: dict[int, tuple[int | None, str]] = field(default_factory=dict)

    def rows(self, sheet_rows: Iterator[list[str]]) -> Iterator[list[str]]:
        """The sheet's rows without the outcome columns (the header is row 1)."""
        header = next(sheet_rows, None)
        if header is None:
            return
        keep = len(header) - len(RESULT_COLUMNS)
        yield [_original_name(name) for name in header[:keep]]
        for number, row in enumerate(sheet_rows, start=2):
            source, status = [*row[keep : keep + 2], "", ""][:2]
            self.by_row[number] = (_row_number(source), status.strip())
            yield row[:keep]

    def renumbered(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """Chunks indexed by the original Source Row; without posted rows if only_failed."""
        for chunk in chunks:
            sheet_rows = [int(row) for row in chunk.frame.index]
            found = [self.by_row.pop(row, (None, "")) for row in sheet_rows]
            sources = [
                source if source is not None else row
                for (source, _), row in zip(found, sheet_rows, strict=True)
            ]
            if len(set(sources)) != len(sources):  # edited by hand: the sheet's own rows
                sources = sheet_rows
            index = pd.Index(sources, dtype="int64", name="Source Row")
            keep = [not (self.only_failed and status in POSTED) for _, status in found]
            frame = chunk.frame.set_axis(index)[keep]
            problems = chunk.problems.set_axis(index)[keep]
            if len(frame):
                yield Chunk(frame, problems)


def counted(chunks: Iterator[Chunk], known: int | None) -> tuple[Iterator[Chunk], int | None]:
    """The chunks, and how many rows they hold when the table is small enough to know."""
    if known is None:
        first = next(chunks, None)
        if first is None:
            return iter(()), 0
        return itertools.chain([first], chunks), None
    held = list(chunks)
    return iter(held), sum(len(chunk.frame) for chunk in held)


def _original_name(name: str) -> str:
    if name.endswith(_INPUT_SUFFIX) and name.removesuffix(_INPUT_SUFFIX) in RESULT_COLUMNS:
        return name.removesuffix(_INPUT_SUFFIX)
    return name


def _row_number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and 0 < int(text) <= 2**53 else None
