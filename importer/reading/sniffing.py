"""Is the first row headers or data? And is there a title above the headers?

A file exported without its header row would otherwise lose its first lead to
the header, and write that person's email and phone into a mapping as column
names. What gives data away is its shape: emails, phone numbers, web
addresses, dates and numbers, repeated by the rows below. Header words never
look like that. Nothing here returns or prints a cell's value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}.*)?")
_PHONE = re.compile(r"\+?[\d\s().-]{7,20}")
_NUMBER = re.compile(r"[-+(]?[$€£]?\s*[\d,]*\.?\d+\)?%?")
_STRONG = frozenset({"email", "url", "phone"})
# Rows below the header compared with it; more tells nothing new.
_LOOK_BELOW = 50
# A title is a row of at most one value above a row of at least this many.
_HEADER_WIDTH = 3


def kind(value: str) -> str:
    """What a cell looks like: email, url, date, phone, number, or "" (words)."""
    text = value.strip()
    if not text:
        return ""
    if _EMAIL.fullmatch(text):
        return "email"
    if _URL.fullmatch(text):
        return "url"
    if _DATE.fullmatch(text):
        return "date"
    digits = sum(character.isdigit() for character in text)
    if _PHONE.fullmatch(text) and 7 <= digits <= 15 and not text.replace(".", "").isdigit():
        return "phone"
    if _NUMBER.fullmatch(text):
        return "number" if digits < 10 or not text.isdigit() else "phone"
    return ""


def looks_like_data(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bool:
    """True when the header row has the shape of the rows below it, not of headers.

    A header cell counts as data when it looks like an email, phone, web address,
    date or number and most values below it look the same. One email, phone or
    web address is enough; dates and numbers must be half the headers (a sheet
    may number its columns, but then the values below are not numbers).
    """
    below = [row for row in rows[:_LOOK_BELOW] if any(cell.strip() for cell in row)]
    filled = [(position, cell) for position, cell in enumerate(header) if cell.strip()]
    if not filled:
        return False
    strong = weak = 0
    for position, cell in filled:
        cell_kind = kind(cell)
        if not cell_kind or not _repeated_below(cell_kind, position, below):
            continue
        if cell_kind in _STRONG:
            strong += 1
        else:
            weak += 1
    return strong > 0 or weak * 2 >= len(filled)


def _repeated_below(cell_kind: str, position: int, below: Sequence[Sequence[str]]) -> bool:
    values = [row[position] for row in below if position < len(row) and row[position].strip()]
    if not values:
        return True  # nothing to compare with: the cell's own shape decides
    same = sum(kind(value) == cell_kind for value in values)
    return same * 2 >= len(values)


def title_rows(first: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """How many rows, from `first` on, are a title above the real header row.

    A report title ("Leads for March") fills one cell; the header row below it
    fills several. Returns 0 when `first` already looks like the header row.
    """
    if _filled(first) > 1:
        return 0
    for offset, row in enumerate(rows[:10], start=1):
        count = _filled(row)
        if count >= _HEADER_WIDTH:
            return offset
        if count > 1:
            return 0
    return 0


def _filled(row: Sequence[str]) -> int:
    return sum(bool(cell.strip()) for cell in row)
