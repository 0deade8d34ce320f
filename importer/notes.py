"""Per-row errors and warnings, collected column by column and rendered once.

Stages add whole columns of messages ("" where a row is fine); rendering joins
them per row in the Captorra field order, e.g.
`First: required; Last: 60 characters, limit 50`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from importer.captorra import FIELD_NAMES

_ORDER = {name: rank for rank, name in enumerate(FIELD_NAMES)}
SEPARATOR = "; "


class RowNotes:
    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self._errors: list[tuple[int, int, pd.Series]] = []
        self._error_fields: dict[str, pd.Index] = {}
        self._warnings: list[tuple[int, int, pd.Series]] = []

    def error(
        self, field: str | None, messages: pd.Series | str, where: pd.Series | None = None
    ) -> None:
        """Record `field: message` for the rows where `messages` is non-empty (or `where` holds)."""
        added = self._add(self._errors, field, messages, where)
        if field:
            rows = added.index[added != ""]
            self._error_fields[field] = self.rows_with_errors(field).union(rows)

    def rows_with_errors(self, field: str) -> pd.Index:
        """The rows that already have an error for this field."""
        return self._error_fields.get(field, pd.Index([], dtype="int64"))

    def warning(
        self, field: str | None, messages: pd.Series | str, where: pd.Series | None = None
    ) -> None:
        self._add(self._warnings, field, messages, where)

    def _add(
        self,
        into: list[tuple[int, int, pd.Series]],
        field: str | None,
        messages: pd.Series | str,
        where: pd.Series | None,
    ) -> pd.Series:
        if isinstance(messages, str):
            messages = pd.Series(messages, index=self.index, dtype="str")
        if where is not None:
            messages = messages.where(where, "")
        messages = messages.reindex(self.index, fill_value="").fillna("")
        prefixed = messages
        if field:
            # Most rows have nothing to say: prefix only the ones that do.
            said = messages != ""
            prefixed = messages.mask(said, f"{field}: " + messages[said])
        rank = _ORDER.get(field, -1) if field else -1
        into.append((rank, len(into), prefixed))
        return prefixed

    def errors(self) -> pd.Series:
        return _render(self._errors, self.index)

    def warnings(self) -> pd.Series:
        return _render(self._warnings, self.index)

    def has_errors(self) -> pd.Series:
        return self.errors() != ""


def _render(entries: list[tuple[int, int, pd.Series]], index: pd.Index) -> pd.Series:
    if not entries:
        return pd.Series("", index=index, dtype="str")
    ordered = sorted(entries, key=lambda entry: entry[:2])
    return join_nonempty([messages for _, _, messages in ordered], SEPARATOR)


def join_nonempty(parts: Sequence[pd.Series], separator: str) -> pd.Series:
    """Join columns row by row, skipping empty cells (no doubled separators)."""
    joined = parts[0]
    for part in parts[1:]:
        both = (joined != "") & (part != "")
        if both.sum() * 4 > len(both):  # mostly full (Details): whole columns at once
            between = pd.Series(separator, index=part.index, dtype="str").where(both, "")
            joined = joined + between + part
            continue
        # Mostly empty (notes of rows): concatenate only the rows that have two texts.
        joined = joined.mask(joined == "", part)
        if both.any():
            joined = joined.mask(both, joined[both] + separator + part[both])
    return joined


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def for_log(note: str) -> str:
    """A reader's note fit for a log line: quoted text from the file (headers) left out.

    In a file without a header row the "headers" are a lead's cells: a log must
    never hold them. The page and the results show the note in full.
    """
    if "header" not in note:  # sheet names, encodings: the file's shape, not its cells
        return note
    return _QUOTED.sub("'\u2026'", note)
