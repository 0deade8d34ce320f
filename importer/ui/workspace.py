"""The page's private workspace: uploaded files, checks and results, readable by this user only.

Everything a person uploads, and every workbook made from it, lives in one
temporary folder created with mode 0700 and removed when the server stops (a
downloaded workbook is the person's own copy). Files keep the name they had on
the person's computer, so that mapping profiles match them by name and the
journal records the same file name as the command line would.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pandas as pd
import python_calamine

from importer.errors import InputFileError, NoHeaderRowError
from importer.reading import (
    CSV_SUFFIXES,
    WORKBOOK_SUFFIXES,
    InputTable,
    ReadOptions,
    open_table,
)

if TYPE_CHECKING:
    from importer.ui.checking import Check, Checking
    from importer.ui.sending import Run

SAMPLE_ROWS = 2_000  # rows read for sample values and case types
SAMPLES_SHOWN = 3
SHORT_NAME = 60  # characters of a file name shown in headings
MAX_NAME_BYTES = 200  # leaves room for `.results.xlsx` within a file system's 255
SAMPLE_CHARS = 40
MAX_DISTINCT = 30  # a column with more distinct values is not a list of categories
ACCEPTED = ", ".join(sorted(CSV_SUFFIXES | WORKBOOK_SUFFIXES))


# Words of the command line and the mapping file, as a person on the page says them.
_PLAIN = (
    (
        "(set read.encoding to override)",
        "(if characters look wrong, choose another on the mapping page)",
    ),
    ("set read.encoding in the mapping", "choose another character set on the mapping page"),
    ("read.encoding", "the character set"),
    ("read.sheet", "the sheet"),
)


def plain(text: str) -> str:
    """A library message in the page's words (no option or mapping-file key names)."""
    for technical, said in _PLAIN:
        text = text.replace(technical, said)
    return text


class UploadTooLarge(Exception):
    """The upload went past the size limit; the route answers 413 (never leaves this package)."""


@dataclass(frozen=True)
class ColumnInfo:
    """One input column as the mapping form shows it."""

    header: str
    samples: list[str]  # a few distinct non-empty values, cut short
    distinct: list[str] | None  # every distinct value (a case-type column), None when too many


@dataclass(frozen=True)
class Sample:
    """The first rows of an upload as read with some options: read once, used by every page."""

    options: ReadOptions
    columns: list[str]
    frame: pd.DataFrame
    notes: list[str]


@dataclass
class Upload:
    """One file a person uploaded, and what was done with it so far."""

    id: str
    name: str  # the file's own name, made safe
    path: Path
    sheets: list[str]  # workbook sheet names; empty for CSV
    sheet: str | None = None  # the sheet chosen on the page; None: as the mapping says
    encoding: str | None = None  # CSV: the encoding chosen on the page; None: found out
    # None: row 1 (or the row below a title); 0: the file has no header row, every row is
    # a lead and the columns are "Column 1", ... (found when row 1 looks like a lead).
    header_row: int | None = None
    mapping: Path | None = None  # the mapping chosen or saved for it
    check: Check | None = None
    checking: Checking | None = None  # the check running now, if one is
    # What was typed on the mapping page and not saved yet (kept across reloads).
    draft: dict[str, list[str]] | None = None
    run: Run | None = None
    downloaded: set[str] = field(default_factory=set)  # which workbooks were downloaded
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sample: Sample | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def headers(self) -> list[str]:
        """The headers of the chosen sheet; raises `InputFileError`."""
        return self.sample().columns

    def options(self, *, chunk_rows: int) -> ReadOptions:
        """How the page reads the file: the sheet and encoding chosen on it."""
        return ReadOptions(
            sheet=self.sheet,
            header_row=self.header_row,
            encoding=self.encoding or "auto",
            chunk_rows=chunk_rows,
        )

    @property
    def headerless(self) -> bool:
        """Whether the page reads the file as having no header row."""
        return self.header_row == 0

    def sample(self) -> Sample:
        """The first rows with the sheet and encoding chosen; raises `InputFileError`.

        Read once per choice: opening a workbook reads and checks all of it, and
        the proposal, the samples and the upload's own check all need the same rows.
        A file whose first row looks like a lead is read without a header row (the
        command line asks for `--no-header`; a person on the page just goes on), and
        a mapping saved for it says so.
        """
        try:
            return self._sample_once()
        except NoHeaderRowError:
            if self.header_row is not None:
                raise
            self.header_row = 0
            return self._sample_once()

    def _sample_once(self) -> Sample:
        options = self.options(chunk_rows=SAMPLE_ROWS)
        with self.lock:
            if self._sample is not None and self._sample.options == options:
                return self._sample
        table = open_table(self.path, options)
        try:
            chunk = next(table.chunks, None)
        finally:
            close_chunks(table)  # the rest of a large file is never read
        frame = chunk.frame if chunk is not None else pd.DataFrame(columns=table.columns)
        sample = Sample(options, table.columns, frame, table.notes)
        with self.lock:
            self._sample = sample
        return sample

    def columns(self) -> list[ColumnInfo]:
        """The columns of the chosen sheet with sample values; raises `InputFileError`."""
        sample = self.sample()
        return [_column_info(header, sample.frame[header]) for header in sample.columns]

    def friendly(self, message: object) -> str:
        """A message (or an error) naming the person's file, not the workspace path."""
        return plain(str(message).replace(str(self.path), self.name))

    @property
    def short_name(self) -> str:
        """The file's name, shortened in the middle for headings and lists."""
        if len(self.name) <= SHORT_NAME:
            return self.name
        return self.name[: SHORT_NAME - 16] + "\u2026" + self.name[-15:]


def close_chunks(table: InputTable) -> None:
    """Stop reading a table early (its chunks are a generator holding the file open)."""
    close = getattr(table.chunks, "close", None)
    if close is not None:
        close()


def _column_info(header: str, column: pd.Series) -> ColumnInfo:
    values = column.astype("str").fillna("").str.strip()
    values = values[values != ""]
    samples = [_short(text) for text in values.drop_duplicates().head(SAMPLES_SHOWN)]
    keys = values.str.casefold()
    if keys.nunique() > MAX_DISTINCT:
        return ColumnInfo(header, samples, None)
    # One spelling per case-insensitive value (the lookup ignores case), most common first.
    counts = keys.value_counts()
    spelling = values.groupby(keys).agg(lambda texts: texts.value_counts().index[0])
    distinct = [str(spelling[key]) for key in counts.index]
    return ColumnInfo(header, samples, distinct)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "\u2026"


def safe_name(raw: str) -> str:
    """The base name of an uploaded file, safe as a file name; raises `InputFileError`.

    A long name is shortened before its ending (`.xlsx` stays): file systems take
    255 bytes at most.
    """
    name = PurePosixPath(raw.replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ()&+,]+", "_", name).strip(" .")
    ending = PurePosixPath(name).suffix
    if len(name.encode()) > MAX_NAME_BYTES:
        stem = name.removesuffix(ending).encode()[: MAX_NAME_BYTES - len(ending.encode())]
        name = stem.decode("utf-8", "ignore").rstrip(" .") + ending
    suffix = ending.lower()
    if not name or suffix not in CSV_SUFFIXES | WORKBOOK_SUFFIXES:
        raise InputFileError(
            f"{name or 'the file'}: is not a spreadsheet this importer reads; choose a "
            f"file ending in {ACCEPTED}"
        )
    return name


class Workspace:
    """The private folder and the uploads in it; safe to use from several threads."""

    def __init__(self, *, max_upload_bytes: int) -> None:
        self.max_upload_bytes = max_upload_bytes
        # mkdtemp creates the folder with mode 0700: leads are personal data.
        self.root = Path(tempfile.mkdtemp(prefix="captorra-ui-"))
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Upload]:
        with self._lock:
            return iter(list(self._uploads.values()))

    def get(self, upload_id: str) -> Upload | None:
        with self._lock:
            return self._uploads.get(upload_id)

    async def receive(self, raw_name: str, body: AsyncIterator[bytes]) -> Upload:
        """Store an upload streamed in `body`; raises `UploadTooLarge` or `InputFileError`."""
        name = safe_name(raw_name)
        upload_id = secrets.token_urlsafe(9)
        folder = self.root / upload_id
        folder.mkdir(mode=0o700)
        path = folder / name
        size = 0
        try:
            with path.open("xb") as stream:
                async for block in body:
                    size += len(block)
                    if size > self.max_upload_bytes:
                        raise UploadTooLarge
                    stream.write(block)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Upload(upload_id, name, path, sheets=[])

    def open(self, upload: Upload) -> None:
        """Check that the stored file reads as a spreadsheet, then keep it.

        Raises `InputFileError` (naming the person's file) and forgets the upload.
        """
        try:
            upload.sample()
            if upload.path.suffix.lower() in WORKBOOK_SUFFIXES:
                upload.sheets = _sheet_names(upload.path)
        except InputFileError as error:
            shutil.rmtree(upload.folder, ignore_errors=True)
            raise InputFileError(upload.friendly(error)) from None
        with self._lock:
            self._uploads[upload.id] = upload

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _sheet_names(path: Path) -> list[str]:
    # open_table has already refused hostile workbooks; this only lists the tabs.
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        return [
            metadata.name
            for metadata in workbook.sheets_metadata
            if metadata.visible == python_calamine.SheetVisibleEnum.Visible
        ]
    finally:
        close = getattr(workbook, "close", None)
        if close is not None:
            close()
