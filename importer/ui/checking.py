"""Step 3, the check: what `validate` says of every row, and which rows were posted before.

The statuses and messages are the pipeline's own: `import_files` runs without
posting into the upload's private folder, and its results workbook is read back.
Nothing is sent and the journal is only read. Messages are split per Captorra
field so the page can mark the input cells each one is about.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import python_calamine

from importer.captorra import FIELD_NAMES
from importer.contacts import IDENTIFIERS
from importer.errors import ImporterError
from importer.journal import Journal
from importer.lead_key import key_fields, lead_keys
from importer.mapping import LoadedMapping, apply_mapping, load_mapping, resolve_headers
from importer.notes import SEPARATOR
from importer.pipeline import FileReport, ImportJob, Observer, import_files
from importer.posting import Lead, Outcome
from importer.reading import InputTable, ReadOptions, open_table
from importer.results import RESULT_COLUMNS, RESULTS_SHEET
from importer.ui.workspace import Upload, close_chunks

log = logging.getLogger("captorra_importer")

SHOWN_ROWS = 200  # rows per filter in the page; the workbook has them all
Filter = Literal["all", "problems", "warnings", "posted"]
FILTERS: Mapping[Filter, str] = {
    "problems": "Rows with problems",
    "warnings": "Rows with warnings",
    "posted": "Already posted",
    "all": "All rows",
}
_PROBLEMS = frozenset({"invalid", "duplicate"})


@dataclass(frozen=True)
class Note:
    level: Literal["error", "warning", "info"]
    text: str


@dataclass(frozen=True)
class Cell:
    value: str
    notes: tuple[Note, ...]

    @property
    def level(self) -> str:
        """The worst note's level, for the cell's colour ("" when it has none)."""
        levels = {note.level for note in self.notes}
        return next((level for level in ("error", "warning", "info") if level in levels), "")


@dataclass(frozen=True)
class CheckedRow:
    source_row: int
    status: str
    cells: tuple[Cell, ...]
    notes: tuple[Note, ...]  # about the whole row, or about a field no shown column feeds


@dataclass(frozen=True)
class Check:
    """What sending this file with this mapping would do; see the module docstring."""

    mapping: Path
    stamp: tuple[object, ...]  # what it was made from: a changed stamp means check again
    columns: tuple[str, ...]  # the input columns the mapping reads, in the file's order
    counts: Counter[str]  # valid (would be sent), already_posted, invalid, duplicate
    matching: Mapping[Filter, int]
    rows: Mapping[Filter, tuple[CheckedRow, ...]]  # the first SHOWN_ROWS of each filter
    results: Path  # the check's results workbook
    notes: tuple[str, ...]  # what the reader had to guess

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def stamp(upload: Upload, mapping: Path) -> tuple[object, ...]:
    """Changes whenever the file, the sheet or the mapping file does."""
    return (mapping, mapping.stat().st_mtime_ns, mapping.stat().st_size, upload.sheet)


def run_check(
    upload: Upload,
    mapping: Path,
    *,
    journal: Path,
    endpoint: str,
    observer: Observer | None = None,
) -> Check:
    """Validate the upload with the mapping; raises `MappingError` or `InputFileError`.

    `endpoint` is the journal's name for where a send would go (the sandbox's label
    or the URL): rows posted there before are counted `already_posted`. `observer`
    hears the rows checked so far, as `validate`'s progress bar does.
    """
    made = stamp(upload, mapping)
    output = upload.folder / "check" / f"{upload.path.stem}.check.xlsx"
    output.parent.mkdir(mode=0o700, exist_ok=True)
    job = ImportJob(
        inputs=(upload.path,),
        mapping=mapping,
        output=output,
        sheet=upload.sheet,
        journal=journal,
        posted_to=endpoint,  # rows with the phone or email of a lead posted there: duplicates
    )
    report = import_files(job, observer=observer).files[0]
    assert report.results is not None  # one input: its errors raise
    loaded = load_mapping(mapping)
    table = open_table(upload.path, _options(loaded, upload.sheet))
    try:
        headers = resolve_headers(loaded, table.columns, upload.path)
        posted = posted_rows(loaded, table, headers, journal=journal, endpoint=endpoint)
    finally:
        close_chunks(table)
    read = set(headers.values())
    columns = [column for column in table.columns if column in read]
    reader = _RowReader(loaded, table.columns, columns, headers, posted)
    counts: Counter[str] = Counter()
    matching: Counter[Filter] = Counter()
    rows: dict[Filter, list[CheckedRow]] = {name: [] for name in FILTERS}
    for values in _result_rows(report.results):
        row, warned = reader.row(values)
        counts[row.status] += 1
        for name in _filters(row.status, warned):
            matching[name] += 1
            if len(rows[name]) < SHOWN_ROWS:
                rows[name].append(row)
    return Check(
        mapping=mapping,
        stamp=made,
        columns=tuple(columns),
        counts=counts,
        matching=matching,
        rows={name: tuple(found) for name, found in rows.items()},
        results=report.results,
        notes=tuple(upload.friendly(note) for note in table.notes),
    )


class Checking:
    """One check running in a background thread, with the rows checked so far.

    The page shows the count while it runs (a 200,000-row file takes a while) and
    the check itself once it is over; it is also the pipeline's Observer.
    """

    def __init__(
        self, made: Callable[[], Check], *, stamp: tuple[object, ...], start: bool = True
    ) -> None:
        self.stamp = stamp
        self._made = made
        self._lock = threading.Lock()
        self._rows = 0
        self._total: int | None = None
        self.check: Check | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="captorra-ui-check", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        self._thread.start()

    @property
    def over(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def progress(self) -> tuple[int, int | None]:
        """Rows checked so far, and of how many (None while the reader does not know)."""
        with self._lock:
            return self._rows, self._total

    def _run(self) -> None:
        try:
            self.check = self._made()
        except (ImporterError, OSError) as error:
            self.error = error
        except Exception as error:  # the page must say something; never a traceback with data
            log.error("the check stopped on an unexpected %s", type(error).__name__)
            self.error = error

    # ------------------------------------------------------------ Observer

    def file_started(self, path: Path, rows: int | None) -> None:
        with self._lock:
            self._total = rows

    def rows_done(self, status: str, count: int) -> None:
        with self._lock:
            self._rows += count

    def file_finished(self, report: FileReport) -> None:
        pass


def posted_rows(
    loaded: LoadedMapping,
    table: InputTable,
    headers: Mapping[str, str],
    *,
    journal: Path,
    endpoint: str,
) -> dict[int, Outcome]:
    """The rows of `table` whose lead the journal says was posted to `endpoint`, and when.

    Reads the journal only (`Journal.posted_before`); a journal not made yet means
    nothing was posted. The lead keys are the pipeline's own (`lead_keys` on the
    mapped values), so a row found here is exactly one a send would skip.
    """
    if not journal.exists():
        return {}
    store = Journal(journal)
    try:
        store.endpoint = endpoint
        found: dict[int, Outcome] = {}
        for chunk in table.chunks:
            mapped = apply_mapping(loaded.mapping, chunk.frame, headers)
            keys = lead_keys(loaded.mapping, mapped.values)
            for row, key in zip(keys.index.tolist(), keys.tolist(), strict=True):
                outcome = store.posted_before(Lead(int(row), {}, str(key)))
                if outcome is not None:
                    found[int(row)] = outcome
        return found
    finally:
        store.close()


def _options(loaded: LoadedMapping, sheet: str | None) -> ReadOptions:
    options = loaded.mapping.read.options()
    return options if sheet is None else dataclasses.replace(options, sheet=sheet)


def _filters(status: str, warned: bool) -> Iterator[Filter]:
    yield "all"
    if status in _PROBLEMS:
        yield "problems"
    if warned:
        yield "warnings"
    if status == "already_posted":
        yield "posted"


def _result_rows(workbook: Path) -> Iterator[Sequence[object]]:
    """The rows of the Results sheets (one per million rows), header left out."""
    book = python_calamine.CalamineWorkbook.from_path(str(workbook))
    try:
        for name in book.sheet_names:
            if name == RESULTS_SHEET or name.startswith(f"{RESULTS_SHEET} ("):
                rows = book.get_sheet_by_name(name).iter_rows()
                next(rows, None)
                yield from rows
    finally:
        book.close()


class _RowReader:
    """Turns a row of the results workbook into what the page shows."""

    def __init__(
        self,
        loaded: LoadedMapping,
        input_columns: list[str],
        shown: list[str],
        headers: Mapping[str, str],
        posted: Mapping[int, Outcome],
    ) -> None:
        self.positions = [input_columns.index(column) for column in shown]
        self.posted = posted
        self.key = key_fields(loaded.mapping)
        # Captorra field -> the shown columns it is read from.
        self.feeds = {
            name: [shown.index(headers[h]) for h in spec.headers() if headers[h] in shown]
            for name, spec in loaded.mapping.fields.items()
        }

    def row(self, values: Sequence[object]) -> tuple[CheckedRow, bool]:
        """The row, and whether it has warnings."""
        source, status, intake_id, error, warning = (
            _text(value) for value in values[-len(RESULT_COLUMNS) :]
        )
        number = int(float(source))
        cell_notes: list[list[Note]] = [[] for _ in self.positions]
        row_notes: list[Note] = []
        notes = [Note("error", text) for text in split_messages(error)]
        notes += [Note("warning", text) for text in split_messages(warning)]
        if status == "valid" and number in self.posted:
            earlier = self.posted[number]
            status = "already_posted"
            shown = "; ".join(earlier.warnings)
            notes.append(Note("info", f"IntakeID {earlier.intake_id}: {shown}"))
        elif intake_id:
            notes.append(Note("info", f"IntakeID {intake_id}"))
        for note in notes:
            about = [field_of(note.text) or ""]
            if status == "duplicate" and not about[0]:
                # "same lead as row N" / "same phone as ...": the cells that make it the same
                about = same_what(note.text) or list(self.key)
            columns = sorted({column for name in about for column in self.feeds.get(name, [])})
            for column in columns:
                cell_notes[column].append(note)
            if not columns:
                row_notes.append(note)
        cells = tuple(
            Cell(_text(values[position]), tuple(found))
            for position, found in zip(self.positions, cell_notes, strict=True)
        )
        return CheckedRow(number, status, cells, tuple(row_notes)), bool(warning)


def same_what(message: str) -> list[str]:
    """The fields a same-contact duplicate is about ("same phone and email as ...")."""
    if not message.startswith(("same phone", "same email")):
        return []
    kinds = message.removeprefix("same ").partition(" as ")[0].split(" and ")
    return [name for kind, names in IDENTIFIERS.items() if kind in kinds for name in names]


def split_messages(text: str) -> list[str]:
    """`First: required; Type: "x" is not in the lookup` -> one message per field.

    A part that names no field continues the message before it (a message may hold
    the separator), or, first of all, is about the whole row.
    """
    messages: list[str] = []
    for part in text.split(SEPARATOR) if text else []:
        if messages and field_of(part) is None:
            messages[-1] += SEPARATOR + part
        else:
            messages.append(part)
    return messages


def field_of(message: str) -> str | None:
    """The Captorra field a message is about (`Last: required` -> Last), if any."""
    name, colon, _ = message.partition(": ")
    return name if colon and name in FIELD_NAMES else None


def _text(value: object) -> str:
    return "" if value is None else str(value)
