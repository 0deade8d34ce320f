"""What identifies a lead: duplicates within a file, and re-runs across files.

The key is the mapping's `lead_key` (Captorra fields, after transforms); by
default `CaptorraId + ID` when the vendor's ID is mapped, else the contact
itself (`CaptorraId, First, Last, Primary, Email`). A row whose ID is empty
falls back to the contact key, so rows without an ID are never taken for one
lead. Values are compared normalised (case, spacing, phone digits).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd

from importer.mapping import Mapping

CONTACT_KEY = ("CaptorraId", "First", "Last", "Primary", "Email")
_SEPARATOR = "\x1f"  # cannot occur in a cell: spreadsheets use it for nothing


def key_fields(mapping: Mapping) -> tuple[str, ...]:
    if mapping.lead_key:
        return tuple(mapping.lead_key)
    if "ID" in mapping.fields:
        return ("CaptorraId", "ID")
    return tuple(name for name in CONTACT_KEY if name in mapping.fields)


def lead_keys(mapping: Mapping, values: pd.DataFrame) -> pd.Series:
    """The normalised key of every row, as text."""
    fields = key_fields(mapping)
    keys = _joined(values, fields)
    if mapping.lead_key is None and fields == ("CaptorraId", "ID"):
        contact = _joined(values, tuple(n for n in CONTACT_KEY if n in values))
        keys = keys.where(values["ID"].str.strip() != "", contact)
    return keys


def _joined(values: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
    parts = []
    for name in fields:
        column = values[name].str.casefold().str.replace(r"\s+", " ", regex=True).str.strip()
        if name in {"Primary", "Secondary"}:
            column = column.str.replace(r"\D+", "", regex=True)
        parts.append(name + "=" + column)
    key = pd.Series("", index=values.index, dtype="str")
    for position, part in enumerate(parts):
        key = key + (_SEPARATOR if position else "") + part
    return key


def key_hash(key: str, salt: bytes) -> str:
    """What the journal stores instead of the key: it holds names and phones."""
    return hashlib.blake2b(key.encode(), key=salt, digest_size=20).hexdigest()


class DuplicateFinder:
    """Remembers the first row of each key across the chunks of one file."""

    def __init__(self) -> None:
        self._first_row: dict[str, int] = {}

    def first_rows(self, keys: pd.Series) -> pd.Series:
        """For each row, the row number where its key first appeared (itself if new)."""
        rows = pd.Series(keys.index, index=keys.index, dtype="int64")
        first_here = rows.groupby(keys.to_numpy()).transform("min")
        earlier = keys.map(self._first_row)
        first = earlier.fillna(first_here).astype("int64")
        new = first == rows
        self._first_row.update(zip(keys[new], rows[new], strict=True))
        return first
