"""Validating mapped rows against Captorra's rules, column by column with pandera.

What Captorra would reject or cannot store makes a row invalid: a required field
empty, a value over its limit, a malformed GUID, a CaptorraId that is not
digits, a State that is not two letters. Every failing check of a row is
reported, not only the first. Doubts Captorra would accept anyway (an odd
email, a phone that is not a US number) are warnings only: the lead is still
sent, because losing a lead is worse than an odd field.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pandera.pandas as pa

from importer.captorra import FIELDS_BY_NAME, GUID_PATTERN, TRUNCATED_BY_DEFAULT, Kind
from importer.mapping import Mapped, Mapping
from importer.transforms import SPACE_CHARS, US_PHONE_PATTERN, US_ZIP_PATTERN

# ASCII classes, not \d or \s: pandas then runs the checks in pyarrow (see transforms),
# and Captorra's digits are 0-9, not any script's.
_KIND_PATTERNS = {
    Kind.DIGITS: r"[0-9]+",
    Kind.GUID: GUID_PATTERN.pattern,
    Kind.STATE: r"[A-Za-z]{2}",
}
_EMAIL = f"[^@{SPACE_CHARS}]+@[^@{SPACE_CHARS}]+\\.[^@{SPACE_CHARS}.]{{2,}}"

# How each failed check reads to a person, given the failing values.
_MESSAGES: dict[str, Callable[[pd.Series, int | None], pd.Series]] = {
    "required": lambda values, _: pd.Series("required", index=values.index, dtype="str"),
    "max_length": lambda values, limit: (
        values.str.len().map("{:,}".format).astype("str") + f" characters, limit {limit:,}"
    ),
    Kind.DIGITS: lambda values, _: '"' + values + '" is not all digits',
    Kind.GUID: lambda values, _: '"' + values + '" is not a GUID',
    Kind.STATE: lambda values, _: '"' + values + '" is not a 2-letter state',
}


def captorra_schema(mapping: Mapping) -> pa.DataFrameSchema:
    """The pandera schema for the fields this mapping sends."""
    columns = {}
    for name, spec in mapping.fields.items():
        field = FIELDS_BY_NAME[name]
        checks = []
        if field.required or spec.required:
            checks.append(pa.Check(lambda values: values != "", name="required"))
        policy = spec.on_overflow or ("truncate" if name in TRUNCATED_BY_DEFAULT else "reject")
        # A State's pattern already says "two letters"; its length would only repeat it.
        if field.max_length is not None and policy == "reject" and field.kind is not Kind.STATE:
            checks.append(
                pa.Check(
                    lambda values, limit=field.max_length: values.str.len() <= limit,
                    name="max_length",
                )
            )
        if field.kind in _KIND_PATTERNS:
            checks.append(
                pa.Check(
                    lambda values, pattern=_KIND_PATTERNS[field.kind]: (
                        (values == "") | values.str.fullmatch(pattern)
                    ),
                    name=str(field.kind),
                )
            )
        columns[name] = pa.Column("str", checks=checks, nullable=False)
    return pa.DataFrameSchema(columns, coerce=False)


def validate(mapping: Mapping, mapped: Mapped) -> None:
    """Add every rule violation and quality warning to `mapped.notes`."""
    if mapped.values.empty:
        return
    try:
        captorra_schema(mapping).validate(mapped.values, lazy=True)
    except pa.errors.SchemaErrors as failed:
        _note_failures(failed.failure_cases, mapped)
    _note_doubts(mapped)


def _note_failures(cases: pd.DataFrame, mapped: Mapped) -> None:
    cases = cases[cases["index"].notna()]
    # A value the mapping already explained (an unknown state, a lookup miss) needs no
    # second message; taken before this loop adds its own, so that every failing check
    # of a row is still reported.
    explained = {
        str(column): mapped.notes.rows_with_errors(str(column))
        for column in cases["column"].unique()
    }
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        rows = pd.Index(group["index"].astype("int64").unique())
        rows = rows.difference(explained[str(column)])
        values = mapped.values.loc[rows, str(column)]
        message = _MESSAGES[str(check)](values, FIELDS_BY_NAME[str(column)].max_length)
        mapped.notes.error(str(column), message.reindex(mapped.values.index, fill_value=""))


def _note_doubts(mapped: Mapped) -> None:
    values = mapped.values
    doubts = {
        "Primary": (US_PHONE_PATTERN, "not a 10-digit US phone number; sent as written"),
        "Secondary": (US_PHONE_PATTERN, "not a 10-digit US phone number; sent as written"),
        "Email": (_EMAIL, "does not look like an email address; sent as written"),
        "Zip": (US_ZIP_PATTERN, "not a US ZIP code; sent as written"),
    }
    for name, (pattern, message) in doubts.items():
        if name in values:
            column = values[name]
            odd = (column != "") & ~column.str.fullmatch(pattern)
            if odd.any():
                mapped.notes.warning(name, message, where=odd)
