"""Transforms a mapping can apply to a field: whole columns in, whole columns out.

Every transform is total (never raises, whatever the text) and idempotent
(applying it twice changes nothing), which the property tests check. A value a
transform cannot make sense of is kept as written, because losing a lead is
worse than an odd field; only `state` reports a value it cannot use, since
Captorra stores just two letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import NamedTuple

import pandas as pd
import phonenumbers


class Transformed(NamedTuple):
    values: pd.Series
    # Per row, why the value cannot be used ("" when it can); None when nothing failed.
    errors: pd.Series | None = None


Transform = Callable[[pd.Series], Transformed]

_EXCEL_WHOLE_FLOAT = r"^(\d+)\.0+$"  # 5555555555.0: Excel's float for a typed-in number
_SCIENTIFIC = r"^\d(?:\.\d+)?[eE]\+?\d{1,2}$"  # 5.555555555E+9: the same, after a CSV export


def repair_excel_number(values: pd.Series) -> pd.Series:
    """Undo what Excel does to digits it took for a number: `.0` and scientific notation."""
    values = values.str.replace(_EXCEL_WHOLE_FLOAT, r"\1", regex=True)
    scientific = values.str.fullmatch(_SCIENTIFIC)
    if scientific.any():
        values = values.copy()
        values[scientific] = values[scientific].map(_expand_scientific)
    return values


def _expand_scientific(text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return text
    return format(number, "f") if number == number.to_integral_value() else text


def upper(values: pd.Series) -> Transformed:
    return Transformed(values.str.upper())


def lower(values: pd.Series) -> Transformed:
    return Transformed(values.str.lower())


def title(values: pd.Series) -> Transformed:
    return Transformed(values.str.title())


def digits(values: pd.Series) -> Transformed:
    return Transformed(values.str.replace(r"\D+", "", regex=True))


def email(values: pd.Series) -> Transformed:
    return Transformed(values.str.replace(r"\s+", "", regex=True).str.lower())


# ---------------------------------------------------------------- phone

US_PHONE = re.compile(
    r"^(?:\+?1[\s.\-]*)?\(?(\d{3})\)?[\s.\-]*(\d{3})[\s.\-]*(\d{4})"
    r"(?:\s*(?:x|ext\.?|extension|#)\s*(\d{1,6}))?$",
    re.IGNORECASE,
)


def phone(values: pd.Series) -> Transformed:
    """US numbers -> 10 digits (`2155550134`, ` x12` kept); anything else as written."""
    values = repair_excel_number(values)
    parts = values.str.extract(US_PHONE)
    national = parts[0] + parts[1] + parts[2]
    extension = parts[3].fillna("")
    formatted = national + extension.where(extension == "", " x" + extension)
    result = formatted.where(national.notna(), values)
    leftover = national.isna() & (values != "")
    if leftover.any():
        result = result.copy()
        result[leftover] = values[leftover].map(_phone_by_library)
    return Transformed(result)


def _phone_by_library(text: str) -> str:
    """The rare forms the pattern misses (letters, odd punctuation): ask libphonenumber."""
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return text
    if number.country_code != 1 or not phonenumbers.is_valid_number(number):
        return text
    national = str(number.national_number)
    return f"{national} x{number.extension}" if number.extension else national


# ---------------------------------------------------------------- state

_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "DC": "District of Columbia", "PR": "Puerto Rico", "GU": "Guam",
    "VI": "Virgin Islands", "AS": "American Samoa", "MP": "Northern Mariana Islands",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}  # fmt: skip
_STATE_ALIASES = {
    "washington dc": "DC", "washington d c": "DC", "d c": "DC",
    "us virgin islands": "VI", "u s virgin islands": "VI", "penn": "PA", "mass": "MA",
}  # fmt: skip


def _state_key(values: pd.Series) -> pd.Series:
    return (
        values.str.casefold()
        .str.replace(r"[.,]", " ", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


def _state_codes() -> dict[str, str]:
    codes = {code.casefold(): code for code in _STATES}
    codes |= {name.casefold(): code for code, name in _STATES.items()}
    return codes | _STATE_ALIASES


def state(values: pd.Series) -> Transformed:
    """US state and territory names or codes, in any case -> the 2-letter code."""
    codes = _state_key(values).map(_state_codes())
    unknown = codes.isna() & (values != "")
    errors = None
    if unknown.any():
        errors = ('"' + values + '" is not a US state or territory').where(unknown, "")
    return Transformed(codes.fillna(values).astype("str"), errors)


# ---------------------------------------------------------------- zip


def zip_code(values: pd.Series) -> Transformed:
    """ZIP or ZIP+4 as `12345` / `12345-6789`, re-padding zeros Excel stripped.

    Excel reads 07030 as the number 7030: a 1-4 digit zip (or a 6-8 digit ZIP+4)
    can only have lost leading zeros, so they are put back.
    """
    values = repair_excel_number(values)
    compact = values.str.replace(r"^(\d{5})[\s\-]*(\d{4})$", r"\1\2", regex=True)
    short = compact.str.fullmatch(r"\d{1,4}")
    long = compact.str.fullmatch(r"\d{6,9}")
    padded = compact.where(~short, compact.str.zfill(5))
    padded = padded.where(~long, compact.str.zfill(9))
    plus4 = padded.str.fullmatch(r"\d{9}")
    padded = padded.where(~plus4, padded.str.slice(0, 5) + "-" + padded.str.slice(5))
    return Transformed(padded)


# ---------------------------------------------------------------- guid

_GUID_HEX = (
    r"^\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?"
    r"([0-9a-fA-F]{12})\}?$"
)


def guid(values: pd.Series) -> Transformed:
    """`{...}`, upper-case and unhyphenated GUIDs -> canonical hyphenated lower case."""
    canonical = values.str.replace(_GUID_HEX, r"\1-\2-\3-\4-\5", regex=True).str.lower()
    is_guid = values.str.fullmatch(_GUID_HEX)
    return Transformed(canonical.where(is_guid, values))


# ---------------------------------------------------------------- names

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "md", "phd", "esq", "dds", "cpa"})
_PARTICLES = frozenset({"van", "von", "de", "da", "del", "della", "di", "la", "le", "du", "st"})


def _bare(token: str) -> str:
    return token.strip(".,").casefold()


def split_name(full: str) -> tuple[str, str]:
    """`Smith, John` / `Dr. John Q. Smith Jr.` -> (`John`, `Smith Jr.`).

    A single word is both first and last name, so that splitting a part again
    gives the same part (the transforms are idempotent).
    """
    text = " ".join(full.split())
    head, comma, tail = text.partition(",")
    if comma and tail.strip() and not all(_bare(t) in _SUFFIXES for t in tail.split()):
        tokens, last_tokens = tail.split(), head.split()  # "Last, First Middle"
    else:
        tokens = text.replace(",", " ").split()
        last_tokens = []
    while len(tokens) > 1 and _bare(tokens[0]) in _TITLES:
        tokens = tokens[1:]
    if not last_tokens:
        suffixes: list[str] = []
        while len(tokens) > 1 and _bare(tokens[-1]) in _SUFFIXES:
            suffixes.insert(0, tokens.pop())
        start = len(tokens) - 1
        while start > 1 and _bare(tokens[start - 1]) in _PARTICLES:
            start -= 1
        last_tokens = tokens[start:] + suffixes
    if not tokens:
        return text, text
    return tokens[0], " ".join(last_tokens)


def first_name(values: pd.Series) -> Transformed:
    return Transformed(values.map(lambda text: split_name(text)[0]).astype("str"))


def last_name(values: pd.Series) -> Transformed:
    return Transformed(values.map(lambda text: split_name(text)[1]).astype("str"))


TRANSFORMS: MappingProxyType[str, Transform] = MappingProxyType(
    {
        "upper": upper,
        "lower": lower,
        "title": title,
        "digits": digits,
        "phone": phone,
        "email": email,
        "state": state,
        "zip": zip_code,
        "first_name": first_name,
        "last_name": last_name,
        "guid": guid,
    }
)
