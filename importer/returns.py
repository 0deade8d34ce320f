"""The returns report: the rows to return to each vendor for credit, and its rates.

`write_returns` reads results workbooks (what `run`, `validate` and `batch`
write: `Results` sheets and a `Summary` naming the vendor) and writes one
workbook:

- `Summary`: per vendor, the files and rows, how many were valid (posted,
  already posted or valid), duplicate, invalid, rejected by Captorra or failed,
  the rates of the first four and the rows to return;
- one sheet per vendor with the rows to return: duplicates (the Details say of
  which lead, when and from which vendor), invalid rows (why) and rows Captorra
  rejected (its text), each with the vendor's own lead ID, the file, the row
  and the original columns.

A file imported more than once (the retry of a file with failed rows) counts
once: for the same vendor, file name, row and values, the latest workbook
(by its Summary's Started time) wins. `since`/`until` pick workbooks by the day
they were imported. The report is written like a results workbook: atomically,
private to the user, every cell text (never a formula).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import python_calamine

from importer.contacts import vendor_name
from importer.errors import InputFileError
from importer.reading import ReadOptions, open_table
from importer.results import RESULT_COLUMNS, RESULTS_SHEET, SUMMARY_SHEET, TextWorkbook

log = logging.getLogger("captorra_importer")

RETURNED = ("duplicate", "invalid", "rejected")
VALID = ("posted", "already_posted", "valid")
SUMMARY_HEADER = (
    "Vendor", "Files", "Rows", "Valid", "Duplicate", "Invalid", "Rejected", "Failed",
    "Valid %", "Duplicate %", "Invalid %", "Rejected %", "To return",
)  # fmt: skip
RETURN_HEADER = ("Vendor Lead ID", "Return reason", "Details", "Imported", "File", "Source Row")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class ResultsFile:
    """One results workbook, read: who it came from and its rows."""

    path: Path
    vendor: str
    input_name: str
    started: str  # "YYYY-MM-DD HH:MM:SS", local time, as its Summary says
    id_column: str
    columns: list[str]  # the input's columns, as the results header them
    rows: pd.DataFrame  # those columns and RESULT_COLUMNS, as text


@dataclass
class VendorReturns:
    vendor: str
    files: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    returned: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def count(self, *statuses: str) -> int:
        return sum(self.counts.get(status, 0) for status in statuses)

    def rate(self, *statuses: str) -> float:
        return self.count(*statuses) / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class ReturnsReport:
    path: Path
    workbooks: int
    vendors: list[VendorReturns]


def write_returns(
    sources: Sequence[Path],
    output: Path,
    *,
    since: date | None = None,
    until: date | None = None,
) -> ReturnsReport:
    """Read the results workbooks in `sources` (files or folders), write the report."""
    files = [
        read_results(path, strict=not folder)
        for path, folder in _workbook_paths(sources)
        if not (folder and path.resolve() == output.resolve())  # an earlier report
    ]
    found = [file for file in files if file is not None]
    if not found:
        raise InputFileError(
            f"no results workbooks in {', '.join(map(str, sources))}; give the .results.xlsx "
            "files that run or batch wrote, or the folders holding them"
        )
    chosen = [file for file in found if _within(file.started, since, until)]
    if not chosen:
        raise InputFileError(
            f"none of the {len(found)} results workbooks was imported "
            f"{_period(since, until)}; check --since and --until"
        )
    vendors = _by_vendor(sorted(chosen, key=lambda file: file.started))
    with TextWorkbook(output, protected=[file.path for file in chosen]) as book:
        book.add_sheet(
            "Summary",
            SUMMARY_HEADER,
            [_summary_row(vendor) for vendor in vendors],
            percent_columns=range(8, 12),
        )
        names: set[str] = {"summary"}
        for vendor in vendors:
            columns = list(vendor.returned.columns)
            book.add_sheet(
                _sheet_name(vendor.vendor, names),
                columns,
                vendor.returned.itertuples(index=False, name=None),
            )
        path = book.finish()
    return ReturnsReport(path, len(chosen), vendors)


def read_results(path: Path, *, strict: bool = True) -> ResultsFile | None:
    """A results workbook; not one: `InputFileError` if `strict`, else None."""
    found = _results_sheets(path, strict=strict)
    if found is None:
        return None
    summary, sheets = found
    vendor = summary.get("Vendor") or vendor_name(summary["Mapping file"])
    header: list[str] = [*RESULT_COLUMNS]
    frames: list[pd.DataFrame] = []
    for lines in sheets:
        header = [_cell(name) for name in lines[0]] if lines else header
        # Every cell the importer writes is text but Source Row: all of it back to text.
        body = pd.DataFrame(lines[1:], columns=header, dtype=object)
        frames.append(body.apply(lambda column: column.map(_cell)).astype("str"))
    rows = pd.concat(frames, ignore_index=True)
    return ResultsFile(
        path=path,
        vendor=vendor,
        input_name=Path(summary.get("Input file", path.name)).name,
        started=summary.get("Started", ""),
        id_column=summary.get("Vendor lead ID column", ""),
        columns=header[: -len(RESULT_COLUMNS)],
        rows=rows,
    )


_NOT_RESULTS = (
    "is not a results workbook (it needs the Results and Summary sheets that run and batch write)"
)


def _results_sheets(
    path: Path, *, strict: bool
) -> tuple[dict[str, str], Sequence[Sequence[Sequence[object]]]] | None:
    """The Summary (label -> value) and the rows of each Results sheet, if `path` is one."""
    try:
        # open_table first: it refuses hostile workbooks before anything parses them.
        open_table(path, ReadOptions(chunk_rows=1))
        book = python_calamine.CalamineWorkbook.from_path(str(path))
    except InputFileError as error:
        if strict:
            raise
        log.warning("%s: skipped (%s)", path.name, error)
        return None
    except python_calamine.CalamineError:
        if strict:
            raise InputFileError(f"{path}: {_NOT_RESULTS}") from None
        return None
    try:
        names = [
            name
            for name in book.sheet_names
            if name == RESULTS_SHEET or name.startswith(f"{RESULTS_SHEET} (")
        ]
        lines = []
        if SUMMARY_SHEET in book.sheet_names:
            lines = book.get_sheet_by_name(SUMMARY_SHEET).to_python(skip_empty_area=False)
        summary = {str(line[0]): _cell(line[1]) for line in lines if len(line) >= 2 and line[0]}
        if not names or "Mapping file" not in summary:
            if strict:
                raise InputFileError(f"{path}: {_NOT_RESULTS}")
            return None
        sheets = [book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in names]
    finally:
        book.close()
    return summary, sheets


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _workbook_paths(sources: Iterable[Path]) -> list[tuple[Path, bool]]:
    """Each workbook to read, and whether it was found in a folder (not named)."""
    paths: list[tuple[Path, bool]] = []
    for source in sources:
        if source.is_dir():
            paths.extend(
                (path, True)
                for path in sorted(source.glob("*.xlsx"))
                if path.is_file() and not path.name.startswith((".", "~$"))
            )
        else:
            paths.append((source, False))
    return paths


def _within(started: str, since: date | None, until: date | None) -> bool:
    day = started[:10]
    return (since is None or day >= since.isoformat()) and (
        until is None or day <= until.isoformat()
    )


def _period(since: date | None, until: date | None) -> str:
    if since and until:
        return f"from {since} to {until}"
    return f"since {since}" if since else f"until {until}"


def _by_vendor(files: list[ResultsFile]) -> list[VendorReturns]:
    """Per vendor: counts and rows to return, each row once (the latest workbook's)."""
    by_vendor: dict[str, list[ResultsFile]] = {}
    for file in files:
        by_vendor.setdefault(file.vendor, []).append(file)
    return [_vendor(vendor, group) for vendor, group in sorted(by_vendor.items())]


def _vendor(vendor: str, files: list[ResultsFile]) -> VendorReturns:
    columns: list[str] = []
    for file in files:
        columns.extend(column for column in file.columns if column not in columns)
    frames = []
    for file in files:
        rows = file.rows
        frame = pd.DataFrame(
            {
                "Vendor Lead ID": rows.get(file.id_column, ""),
                "Return reason": rows["Status"],
                "Details": rows["Error"],
                "Imported": file.started[:10],
                "File": file.input_name,
                "Source Row": rows["Source Row"],
            },
            index=rows.index,
        )
        original = rows[file.columns].reindex(columns=columns, fill_value="")
        frames.append(pd.concat([frame, original], axis=1))
    every = pd.concat(frames, ignore_index=True).fillna("")
    # A retried file's rows: the same file name, row and values; the last import wins.
    every = every.drop_duplicates(["File", "Source Row", *columns], keep="last")
    counts = every["Return reason"].value_counts()
    returned = every[every["Return reason"].isin(RETURNED)].copy()
    returned["Source Row"] = pd.to_numeric(returned["Source Row"], errors="coerce").fillna(0)
    return VendorReturns(
        vendor,
        files=len(files),
        counts={str(status): int(n) for status, n in counts.items()},
        returned=returned.astype({"Source Row": "int64"}),
    )


def _summary_row(vendor: VendorReturns) -> list[str | int | float]:
    return [
        vendor.vendor,
        vendor.files,
        vendor.rows,
        vendor.count(*VALID),
        vendor.count("duplicate"),
        vendor.count("invalid"),
        vendor.count("rejected"),
        vendor.count("failed"),
        vendor.rate(*VALID),
        vendor.rate("duplicate"),
        vendor.rate("invalid"),
        vendor.rate("rejected"),
        len(vendor.returned),
    ]


def _sheet_name(vendor: str, taken: set[str]) -> str:
    """A sheet name Excel accepts (31 characters, no []:*?/\\), unique ignoring case."""
    base = _SHEET_NAME_BAD.sub("_", vendor).strip("'") or "vendor"
    name, number = base[:31], 2
    while name.casefold() in taken:
        suffix = f" ({number})"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name.casefold())
    return name
