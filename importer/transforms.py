"""Transforms a mapping can apply to a field: whole columns in, whole columns out.

Every transform is total (never raises, whatever the text) and idempotent
(applying it twice changes nothing), which the property tests check. A value a
transform cannot make sense of is kept as written, because losing a lead is
worse than an odd field; only `state` reports a value it cannot use, since
Captorra stores just two letters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import NamedTuple

import dateutil.parser
import numpy as np
import pandas as pd
import phonenumbers


class Transformed(NamedTuple):
    values: pd.Series
    # Per row, why the value cannot be used ("" when it can); None when nothing failed.
    errors: pd.Series | None = None
    # Per row, a doubt worth a person's look; the value is still used.
    warnings: pd.Series | None = None


Transform = Callable[[pd.Series], Transformed]

# The patterns below spell out ASCII digits and Python's whitespace instead of \d and
# \s: pandas runs such patterns in pyarrow (RE2), column at a time, while \s, and \d on
# non-ASCII text, send the whole column through Python's `re` one cell at a time (3-30x
# slower). [0-9] is also what Captorra means by a digit: "٢١٥" is not a phone number.
_OTHER_SPACE_CHARS = "\t-\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SPACE_CHARS = " " + _OTHER_SPACE_CHARS
"""The characters `str.isspace` accepts (what `\\s` means), for use inside [...]."""
SPACE = f"[{SPACE_CHARS}]"
# A whitespace run other than a lone space: what collapsing must replace. Matching
# only these (not every single space between words) makes collapsing ~4x faster.
_SPACE_RUN = f"(?:[{_OTHER_SPACE_CHARS}]| {SPACE}){SPACE}*"

_EXCEL_WHOLE_FLOAT = r"^([0-9]+)\.0+$"  # 5555555555.0: Excel's float for a typed-in number
_SCIENTIFIC = r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]{1,2}"  # 5.555555555E+9: the same, via CSV


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
    # int(), not format(): Decimal("0.0E0") formats as "0.0", which a second pass would change.
    return str(int(number)) if number == number.to_integral_value() else text


def collapse_spaces(values: pd.Series) -> pd.Series:
    """Every run of whitespace (of any kind) -> one space; the ends are not trimmed."""
    return values.str.replace(_SPACE_RUN, " ", regex=True)


def per_distinct(values: pd.Series, function: Callable[[str], str]) -> pd.Series:
    """`function` applied once per distinct value: for the few transforms that need Python."""
    codes, uniques = pd.factorize(values)
    done = pd.array([function(text) for text in uniques], dtype="str")
    return pd.Series(done.take(codes, allow_fill=True), index=values.index, dtype="str")


def upper(values: pd.Series) -> Transformed:
    return Transformed(values.str.upper())


def lower(values: pd.Series) -> Transformed:
    return Transformed(values.str.lower())


def title(values: pd.Series) -> Transformed:
    return Transformed(values.str.title())


def digits(values: pd.Series) -> Transformed:
    return Transformed(values.str.replace(r"[^0-9]+", "", regex=True))


def email(values: pd.Series) -> Transformed:
    return Transformed(values.str.replace(SPACE + "+", "", regex=True).str.lower())


# ---------------------------------------------------------------- phone

_SEPARATORS = r"(?:[.\-]|" + SPACE + ")*"
US_PHONE_PATTERN = (
    r"^(?:\+?1"
    + _SEPARATORS
    + r")?\(?([0-9]{3})\)?"
    + _SEPARATORS
    + r"([0-9]{3})"
    + _SEPARATORS
    + r"([0-9]{4})(?:"
    + SPACE
    + r"*(?i:x|ext\.?|extension|#)"
    + SPACE
    + r"*([0-9]{1,6}))?$"
)
"""A US phone number as people write it: `(215) 555-0134`, `+1 215.555.0134 ext 12`."""
US_PHONE = re.compile(US_PHONE_PATTERN)


def phone(values: pd.Series) -> Transformed:
    """US numbers -> 10 digits (`2155550134`, ` x12` kept); anything else as written."""
    todo = (values != "") & ~values.str.fullmatch(r"[0-9]{10}")
    if not todo.any():
        return Transformed(values)
    written = repair_excel_number(values[todo])
    us = written.str.fullmatch(US_PHONE_PATTERN)
    formatted = written[us].str.replace(US_PHONE_PATTERN, r"\1\2\3 x\4", regex=True)
    # No extension leaves a bare " x": \4 of a group that did not take part is empty.
    formatted = formatted.mask(formatted.str.endswith(" x"), formatted.str.slice(stop=-2))
    by_library = per_distinct(written[~us], _phone_by_library)
    return Transformed(values.mask(todo, pd.concat([formatted, by_library])))


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
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "District of Columbia",
    "PR": "Puerto Rico",
    "GU": "Guam",
    "VI": "Virgin Islands",
    "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
_STATE_ALIASES = {
    "washington dc": "DC",
    "washington d c": "DC",
    "d c": "DC",
    "us virgin islands": "VI",
    "u s virgin islands": "VI",
    "penn": "PA",
    "mass": "MA",
}


def _state_key(text: str) -> str:
    return " ".join(text.casefold().replace(".", " ").replace(",", " ").split())


def _state_codes() -> dict[str, str]:
    codes = {code.casefold(): code for code in _STATES}
    codes |= {name.casefold(): code for code, name in _STATES.items()}
    return codes | _STATE_ALIASES


def _state_code(text: str, codes: dict[str, str]) -> str | None:
    key = _state_key(text)
    # "N.J." and "N. Y." are codes written with dots: only a 2-letter result counts.
    spaced = key.replace(" ", "")
    return codes.get(key) or (codes.get(spaced) if len(spaced) == 2 else None)


def state(values: pd.Series) -> Transformed:
    """US state and territory names or codes, in any case -> the 2-letter code."""
    # A file spells its states a few dozen ways at most: work out each spelling once.
    codes, spellings = pd.factorize(values)
    table = _state_codes()
    found = [_state_code(text, table) for text in spellings]
    out = [text if code is None else code for code, text in zip(found, spellings, strict=True)]
    unknown = [
        code is None and _state_key(text) != "" for code, text in zip(found, spellings, strict=True)
    ]
    result = pd.Series(
        pd.array(out, dtype="str").take(codes, allow_fill=True), index=values.index, dtype="str"
    )
    if not any(unknown):
        return Transformed(result)
    # codes are -1 for a missing value: the appended False answers for those.
    where = np.append(np.array(unknown, dtype=bool), False)[codes]
    errors = ('"' + values + '" is not a US state or territory').where(where, "")
    return Transformed(result, errors)


# ---------------------------------------------------------------- zip

US_ZIP_PATTERN = r"[0-9]{5}(?:-[0-9]{4})?"


def zip_code(values: pd.Series) -> Transformed:
    """ZIP or ZIP+4 as `12345` / `12345-6789`, re-padding zeros Excel stripped.

    Excel reads 07030 as the number 7030: a 1-4 digit zip (or a 6-8 digit ZIP+4)
    can only have lost leading zeros, so they are put back.
    """
    todo = (values != "") & ~values.str.fullmatch(US_ZIP_PATTERN)
    if not todo.any():
        return Transformed(values)
    written = repair_excel_number(values[todo])
    compact = written.str.replace(
        r"^([0-9]{5})(?:-|" + SPACE + r")*([0-9]{4})$", r"\1\2", regex=True
    )
    short = compact.str.fullmatch(r"[0-9]{1,4}")
    long = compact.str.fullmatch(r"[0-9]{6,8}")
    padded = compact.mask(short, ("0000" + compact).str.slice(-5))
    padded = padded.mask(long, ("00000000" + compact).str.slice(-9))
    plus4 = padded.str.fullmatch(r"[0-9]{9}")
    padded = padded.mask(plus4, padded.str.slice(0, 5) + "-" + padded.str.slice(5))
    return Transformed(values.mask(todo, padded))


# ---------------------------------------------------------------- guid

_GUID_HEX = (
    r"\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?"
    r"([0-9a-fA-F]{12})\}?"
)
_CANONICAL_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def guid(values: pd.Series) -> Transformed:
    """`{...}`, upper-case and unhyphenated GUIDs -> canonical hyphenated lower case."""
    # GUID columns hold a handful of distinct values (one Referrer, a few Types).
    codes, distinct = pd.factorize(values)
    texts = pd.Series(distinct, dtype="str")
    odd = texts.str.fullmatch(_GUID_HEX) & ~texts.str.fullmatch(_CANONICAL_GUID)
    if not odd.any():
        return Transformed(values)
    canonical = texts.str.replace("^" + _GUID_HEX + "$", r"\1-\2-\3-\4-\5", regex=True)
    texts = texts.mask(odd, canonical.str.lower())
    return Transformed(
        pd.Series(texts.array.take(codes, allow_fill=True), index=values.index, dtype="str")
    )


# ---------------------------------------------------------------- dates

_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Two different defaults: a part the text does not give shows up as a difference.
_DEFAULTS = (dt.datetime(2001, 1, 1), dt.datetime(2002, 2, 2))
NOT_A_DATE = "not a date; kept as written"
_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[.]?"
# The start of a whole date: 1/22/2025, 2025-01-22, 22-Jan-25, Jan 22, 2025 (a weekday
# may come first). The parser alone takes "0A1B" for a date in time zone B.
_DATE_SHAPE = re.compile(
    r"(?:[a-z]+[.]?,?\s+)?"
    rf"(?:[0-9]{{1,4}}[-/.][0-9]{{1,2}}[-/.][0-9]{{1,4}}|[0-9]{{1,2}}[- ]{_MONTH}[- ,]+[0-9]{{2,4}}"
    rf"|{_MONTH}\s+[0-9]{{1,2}},?\s+[0-9]{{2,4}})(?:[ T][0-9].*)?",
    re.IGNORECASE,
)


def date(values: pd.Series) -> Transformed:
    """Any date text (`1/22/2025`, `22-Jan-25`, `January 22, 2025 2:34 PM`) -> `2025-01-22`.

    Read month first, as a US firm writes dates; a text that is not a whole date (no
    day, or no year) is kept as written, with a warning.
    """
    todo = (values != "") & ~values.str.fullmatch(_ISO_DATE)
    if not todo.any():
        return Transformed(values)
    done = per_distinct(values[todo], _iso_date)
    failed = done == ""
    result = values.mask(todo & ~failed.reindex(values.index, fill_value=False), done)
    warnings = None
    if failed.any():
        warnings = pd.Series("", index=values.index, dtype="str")
        warnings[failed[failed].index] = NOT_A_DATE
    return Transformed(result, None, warnings)


def _iso_date(text: str) -> str:
    """The ISO date of `text`, or "" when it is not a whole date."""
    if not _DATE_SHAPE.fullmatch(text.strip()):
        return ""
    try:
        first, second = (
            dateutil.parser.parse(text, default=default, dayfirst=False, ignoretz=True)
            for default in _DEFAULTS
        )
    except (ValueError, OverflowError):
        return ""
    if first.date() != second.date():
        return ""
    return str(first.date().isoformat())


# ---------------------------------------------------------------- names

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "md", "phd", "esq", "dds", "cpa"})
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "ter", "de", "da", "das", "dos", "del", "della", "di", "la", "le"}
    | {"du", "st"}
)


def _bare(token: str) -> str:
    return token.strip(".,").casefold()


def _without_suffixes(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(name, suffixes): `Smith Jr. III` -> (`Smith`, `Jr. III`); one token stays a name."""
    end = len(tokens)
    while end > 1 and _bare(tokens[end - 1]) in _SUFFIXES:
        end -= 1
    return tokens[:end], tokens[end:]


def _without_titles(tokens: list[str]) -> list[str]:
    start = 0
    while start < len(tokens) - 1 and _bare(tokens[start]) in _TITLES:
        start += 1
    return tokens[start:]


def split_name(full: str) -> tuple[str, str]:
    """`Smith, John` / `Dr. John Q. Smith Jr.` -> (`John`, `Smith Jr.`).

    A single word is both first and last name, and a last name such as
    `de la Cruz Jr.` splits to itself, so that splitting a part again gives the
    same part (the transforms are idempotent). The one exception is a surname of
    several plain words before a comma (`Garcia Lopez, Maria`): it is kept whole,
    though `Garcia Lopez` alone would split into Garcia and Lopez.
    """
    text = " ".join(full.split())
    head, comma, tail = text.partition(",")
    given, suffixes = _without_suffixes(tail.replace(",", " ").split())
    surname = _without_titles(head.split())
    if comma and surname and given and not (len(given) == 1 and _bare(given[0]) in _SUFFIXES):
        given = _without_titles(given)  # "Last, First Middle[, Suffix]"
        return given[0], " ".join(surname + suffixes)
    tokens, suffixes = _without_suffixes(text.replace(",", " ").split())
    tokens = _without_titles(tokens)
    if not tokens:
        return text, text
    # Particles before the surname belong to it ("Maria de la Cruz"), even when
    # nothing precedes them ("de la Cruz"), so a last name splits to itself.
    start = len(tokens) - 1
    while start > 0 and _bare(tokens[start - 1]) in _PARTICLES:
        start -= 1
    return tokens[0], " ".join(tokens[start:] + suffixes)


def first_name(values: pd.Series) -> Transformed:
    return Transformed(per_distinct(values, lambda text: split_name(text)[0]))


def last_name(values: pd.Series) -> Transformed:
    single = values.str.fullmatch(r"[^ \t\n\r\f\v,]+")
    warnings = None
    if single.any():
        # Better a lead called "Cher Cher" than a lost lead: Captorra requires both names.
        warnings = pd.Series(
            "one word: used as both first and last name", index=values.index, dtype="str"
        ).where(single, "")
    return Transformed(per_distinct(values, lambda text: split_name(text)[1]), None, warnings)


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
        "date": date,
    }
)
