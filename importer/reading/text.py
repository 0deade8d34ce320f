"""CSV and text files: the encoding and delimiter found, records read as they are decoded."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import charset_normalizer

from importer.errors import InputFileError
from importer.reading.table import HEAD_BYTES, MAX_CELL_CHARS, InputTable, ReadOptions, make_table

DELIMITERS = ",;\t|"
# More control characters than this share of the text means a binary file.
_MAX_CONTROL_SHARE = 0.10
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def open_csv(path: Path, head: bytes, options: ReadOptions) -> InputTable:
    encoding, notes = _detect_encoding(path, head, options.encoding)
    sample = _decode_sample(path, head, encoding)
    if _binary(sample):
        raise InputFileError(
            f"{path}: looks like a binary file, not a CSV; export the leads as CSV or Excel"
        )
    complete = len(head) < HEAD_BYTES
    delimiter = _detect_delimiter(path, sample, options, complete=complete)
    records = _csv_records(path, encoding, delimiter)
    return make_table(path, records, options, notes)


def is_text(path: Path, head: bytes) -> bool:
    """Whether the file's first bytes read as text in the encoding found for it."""
    try:
        encoding, _ = _detect_encoding(path, head, "auto")
        return not _binary(_decode_sample(path, head, encoding))
    except InputFileError:
        return False


def decode(path: Path, head: bytes, requested: str = "auto") -> str:
    """The whole file as text, in the encoding found for it (or the one requested)."""
    encoding, _ = _detect_encoding(path, head, requested)
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{path}: is not valid {encoding} at byte {error.start}; "
            "set read.encoding in the mapping"
        ) from None


def _binary(sample: str) -> bool:
    return len(_CONTROL.findall(sample)) > len(sample) * _MAX_CONTROL_SHARE


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
    header_row = max(options.header_at, 1)  # without a header, the first row is as good
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False)
        records = list(itertools.islice(reader, header_row + 50))
        if not complete:
            records = records[:-1]  # the sample may end inside its last record
        if len(records) < header_row:
            continue
        width = len(records[header_row - 1])
        rows = [record for record in records[header_row:] if any(record)]
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
