"""What identifies a lead: duplicates within a file, and re-runs across files.

The key is the mapping's `lead_key` (Captorra fields, after transforms); by
default `CaptorraId + ID` when the vendor's ID is mapped, else the contact
itself (`CaptorraId, First, Last, Primary, Email`). A row whose ID is empty
falls back to the contact key (whether `ID` is in the key by default or by the
mapping's `lead_key`), and so does a row whose key fields other than CaptorraId
are all empty, so rows without an ID are never taken for one lead. Values are
compared normalised (case, spacing, phone digits).

The journal stores key hashes across runs: changing the normalisation would
make leads posted by an earlier version look new, so it must stay as it is.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from importer.mapping import Mapping
from importer.transforms import collapse_spaces

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
    normalised = {name: _normalised(name, values[name]) for name in fields}
    keys = _joined(normalised)
    identifying = [name for name in fields if name != "CaptorraId"]
    blank = pd.Series(not identifying, index=values.index)
    if identifying:
        blank = pd.concat([normalised[name] == "" for name in identifying], axis=1).all(axis=1)
    if "ID" in normalised:
        blank |= normalised["ID"] == ""
    if blank.any():
        contact = [name for name in CONTACT_KEY if name in values]
        keys = keys.mask(
            blank, _joined({name: _normalised(name, values[name]) for name in contact})
        )
    return keys


def _normalised(name: str, column: pd.Series) -> pd.Series:
    """casefold(), whitespace runs -> one space, trimmed; phones: digits only.

    These must stay exactly what earlier versions computed: the journal's hashes
    depend on them. On ASCII text pyarrow's lower() and [^0-9] equal casefold() and
    \\D, and run column at a time; the rare other rows take Python's own.
    """
    phone = name in {"Primary", "Secondary"}
    normal = collapse_spaces(column.str.lower()).str.strip(" ")
    if phone:
        normal = normal.str.replace(r"[^0-9]+", "", regex=True)
    other = ~column.str.isascii()
    if other.any():
        odd = column[other].str.casefold().str.replace(r"\s+", " ", regex=True).str.strip()
        if phone:
            odd = odd.str.replace(r"\D+", "", regex=True)
        normal = normal.mask(other, odd)
    return normal


def _joined(columns: dict[str, pd.Series]) -> pd.Series:
    key: pd.Series | None = None
    for name, column in columns.items():
        part = name + "=" + column
        key = part if key is None else key + _SEPARATOR + part
    assert key is not None, "a lead key has at least CaptorraId"
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
        rows = keys.index.to_numpy(dtype="int64")
        codes, distinct = pd.factorize(keys)
        texts = distinct.tolist()
        # The first row of each distinct key: in an earlier chunk, else the lowest here.
        first = np.full(len(texts), np.iinfo(np.int64).max, dtype="int64")
        np.minimum.at(first, codes, rows)
        earlier = [self._first_row.get(text, -1) for text in texts]
        known = np.array(earlier, dtype="int64") >= 0
        first[known] = np.array(earlier, dtype="int64")[known]
        new = ~known
        self._first_row.update(
            zip(np.asarray(texts, dtype=object)[new].tolist(), first[new].tolist(), strict=True)
        )
        return pd.Series(first[codes], index=keys.index, dtype="int64")
