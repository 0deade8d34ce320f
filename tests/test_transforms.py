"""The transforms: the messy forms real exports hold, and the properties every transform keeps.

Every transform takes and returns a whole column. The table-driven tests pin the
output for the forms vendors actually send; the property tests check, on any
text, that a transform never raises, is idempotent (applying it again changes
nothing) and, for valid input, gives the documented shape.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer import transforms
from importer.transforms import SPACE, SPACE_CHARS, TRANSFORMS, collapse_spaces, split_name


def run(name: str, *texts: str) -> list[str]:
    return list(TRANSFORMS[name](pd.Series(list(texts), dtype="str")).values)


def errors_of(name: str, *texts: str) -> list[str] | None:
    errors = TRANSFORMS[name](pd.Series(list(texts), dtype="str")).errors
    return None if errors is None else list(errors)


# ---------------------------------------------------------------- table-driven


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("(215) 555-0134", "2155550134"),
        ("215.555.0134", "2155550134"),
        ("215-555-0134", "2155550134"),
        ("+1 215 555 0134", "2155550134"),
        ("1-215-555-0134", "2155550134"),
        ("12155550134", "2155550134"),
        ("2155550134", "2155550134"),
        ("2155550134 ext 12", "2155550134 x12"),
        ("(215) 555-0134 x7", "2155550134 x7"),
        ("215.555.0134 EXT. 99", "2155550134 x99"),
        ("215 555 0134 extension 5", "2155550134 x5"),
        ("215\u00a0555\u00a00134", "2155550134"),  # no-break spaces from a web form
        ("215\n555-0134", "2155550134"),  # a line break: pandas runs Python's re, not RE2
        ("2155550134.0", "2155550134"),  # Excel's float for a typed-in number
        ("2.155550134E+9", "2155550134"),  # the same float after a CSV export
        ("0.0E0", "0"),  # a whole number in scientific notation loses its ".0" at once
        ("1-800-FLOWERS", "8003569377"),  # letters: libphonenumber reads them
        ("+44 20 7946 0958", "+44 20 7946 0958"),  # not a US number: kept as written
        ("555-0134", "555-0134"),  # too short: kept as written
        ("call me", "call me"),
        ("", ""),
    ],
)
def test_phone(written: str, expected: str) -> None:
    assert run("phone", written) == [expected]
    assert errors_of("phone", written) is None


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("7030", "07030"),  # Excel read 07030 as the number 7030
        ("501", "00501"),
        ("19146", "19146"),
        ("19146.0", "19146"),
        ("7030.0", "07030"),
        ("191461234", "19146-1234"),
        ("19146-1234", "19146-1234"),
        ("19146 1234", "19146-1234"),
        ("19146\n1234", "19146-1234"),
        ("70301234", "07030-1234"),  # ZIP+4 typed as a number: 07030-1234
        ("K1A 0B6", "K1A 0B6"),  # a Canadian postcode: kept as written
        ("1234567890", "1234567890"),
        ("", ""),
    ],
)
def test_zip(written: str, expected: str) -> None:
    assert run("zip", written) == [expected]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("new jersey", "NJ"),
        ("PENNSYLVANIA", "PA"),
        ("pa", "PA"),
        ("Pa.", "PA"),
        ("N.J.", "NJ"),
        ("  New   York ", "NY"),
        ("Washington", "WA"),
        ("Washington D.C.", "DC"),
        ("Washington, DC", "DC"),
        ("District of Columbia", "DC"),
        ("Puerto Rico", "PR"),
        ("U.S. Virgin Islands", "VI"),
        ("Mass.", "MA"),
        ("", ""),
    ],
)
def test_state(written: str, expected: str) -> None:
    assert run("state", written) == [expected]
    assert errors_of("state", written) is None


def test_an_unknown_state_is_kept_and_makes_the_row_invalid() -> None:
    assert run("state", "NJ", "Xyz", "Ontario") == ["NJ", "Xyz", "Ontario"]
    assert errors_of("state", "NJ", "Xyz", "Ontario") == [
        "",
        '"Xyz" is not a US state or territory',
        '"Ontario" is not a US state or territory',
    ]


@pytest.mark.parametrize(
    ("written", "first", "last"),
    [
        ("Smith, John", "John", "Smith"),
        ("SMITH, JOHN", "JOHN", "SMITH"),
        ("John Q. Smith Jr.", "John", "Smith Jr."),
        ("Dr. Maria de la Cruz", "Maria", "de la Cruz"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("John Van der Berg", "John", "Van der Berg"),
        ("Mr. John Smith", "John", "Smith"),
        ("  john   smith ", "john", "smith"),
        ("Smith, Dr. John Q.", "John", "Smith"),
        ("Smith, John, Jr.", "John", "Smith Jr."),
        ("John Smith, Jr.", "John", "Smith Jr."),
        ("Smith Jr., John", "John", "Smith Jr."),
        ("Garcia Lopez, Maria", "Maria", "Garcia Lopez"),
        ("Cher", "Cher", "Cher"),  # one word is both: Captorra needs a First and a Last
        ("", "", ""),
    ],
)
def test_names(written: str, first: str, last: str) -> None:
    assert split_name(written) == (first, last)
    assert run("first_name", written) == [first]
    assert run("last_name", written) == [last]


def test_a_last_name_splits_to_itself() -> None:
    # Before: "de la Cruz" split again lost its "de" (the particle needed a first name
    # before it) and "Smith, John, Jr." gave the first name "John," with its comma.
    assert run("last_name", "de la Cruz", "de la Cruz Jr.", "Van der Berg") == [
        "de la Cruz",
        "de la Cruz Jr.",
        "Van der Berg",
    ]
    assert run("first_name", "Smith, John, Jr.", "John,") == ["John", "John"]


def test_a_surname_of_several_words_before_a_comma_is_the_one_exception() -> None:
    # Kept whole from "Garcia Lopez, Maria"; alone, "Garcia Lopez" is a first and a last
    # name. Correct splitting wins over idempotence here (see split_name).
    assert run("last_name", "Garcia Lopez, Maria") == ["Garcia Lopez"]
    assert run("last_name", "Garcia Lopez") == ["Lopez"]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("{3F2B8C1E-5A47-4D9B-9E21-6C0F7A1D2B01}", "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"),
        ("3F2B8C1E-5A47-4D9B-9E21-6C0F7A1D2B01", "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"),
        ("3f2b8c1e5a474d9b9e216c0f7a1d2b01", "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"),
        ("{3f2b8c1e5a474d9b9e216c0f7a1d2b01}", "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"),
        ("3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01", "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"),
        ("3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b0", "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b0"),
        ("Auto Accident", "Auto Accident"),
        ("", ""),
    ],
)
def test_guid(written: str, expected: str) -> None:
    assert run("guid", written) == [expected]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # Dates as Excel's number formats show them to a US firm (built-in 14, 15, 22, ...)
        ("1/22/2025", "2025-01-22"),
        ("01/22/25", "2025-01-22"),
        ("22-Jan-25", "2025-01-22"),
        ("January 22, 2025", "2025-01-22"),
        ("Wednesday, January 22, 2025", "2025-01-22"),
        ("1/22/2025 14:34", "2025-01-22"),
        ("1/22/2025 2:34:25 PM", "2025-01-22"),
        ("2025-01-22T14:34:25", "2025-01-22"),
        ("2025-01-22", "2025-01-22"),
        ("3/4/2025", "2025-03-04"),  # month first, as in the US
        ("", ""),
    ],
)
def test_date(written: str, expected: str) -> None:
    result = TRANSFORMS["date"](pd.Series([written], dtype="str"))
    assert list(result.values) == [expected]
    assert result.warnings is None


@pytest.mark.parametrize("written", ["2025", "January", "45679", "soon", "13/45/2025"])
def test_a_text_that_is_not_a_whole_date_is_kept_with_a_warning(written: str) -> None:
    result = TRANSFORMS["date"](pd.Series([written], dtype="str"))
    assert list(result.values) == [written]
    assert result.warnings is not None
    assert list(result.warnings) == ["not a date; kept as written"]


@pytest.mark.parametrize(
    ("name", "written", "expected"),
    [
        ("upper", "Main St 1a", "MAIN ST 1A"),
        ("lower", "O'BRIEN", "o'brien"),
        ("title", "CHERRY HILL", "Cherry Hill"),
        ("digits", "AC-0001234", "0001234"),
        ("digits", "(215) 555-0134", "2155550134"),
        ("digits", "\u0662\u0661\u0665", ""),  # Arabic-Indic digits are not Captorra's
        ("email", " John.Smith@Mail.Example ", "john.smith@mail.example"),
        ("email", "john smith@mail.example", "johnsmith@mail.example"),
        ("email", "", ""),
    ],
)
def test_text_transforms(name: str, written: str, expected: str) -> None:
    assert run(name, written) == [expected]


def test_transforms_keep_the_index_and_the_text_dtype() -> None:
    values = pd.Series(["7030", "", "pa"], index=pd.Index([7, 3, 12]), dtype="str")
    for name, transform in TRANSFORMS.items():
        result = transform(values).values
        assert list(result.index) == [7, 3, 12], name
        assert result.dtype == "str", name


def test_space_is_exactly_what_python_calls_whitespace() -> None:
    # The transforms spell \s out so that pandas runs them in pyarrow; the class must
    # mean what \s means, or trimming and collapsing would change.
    spaces = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert {c for c in map(chr, range(0x3001)) if re.fullmatch(SPACE, c)} == spaces
    assert max(spaces) == "\u3000"
    assert set(SPACE_CHARS) <= spaces | {"-"}


def test_collapse_spaces() -> None:
    values = pd.Series(["12  Main\tSt", " a\u00a0\u2003b ", "a b", ""], dtype="str")
    assert list(collapse_spaces(values)) == ["12 Main St", " a b ", "a b", ""]


# ---------------------------------------------------------------- properties

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
# Arbitrary text seldom looks like a phone, a zip or a state: mix in near misses.
MESSY = st.one_of(
    TEXT,
    st.text(st.sampled_from("0123456789 .-+()xXetEn#{}abcdefABCDEF,\n\t\u00a0"), max_size=24),
    st.sampled_from(
        [
            *("(215) 555-0134", "2155550134 ext 12", "2.155550134E+9", "7030", "19146.0", "pa"),
            *("Washington D.C.", "Smith, John", "Dr. Maria de la Cruz", "John Q. Smith Jr."),
            *("{3F2B8C1E-5A47-4D9B-9E21-6C0F7A1D2B01}", "1E+99", "0.0", "de la", ", Jr."),
            *("1/22/2025", "22-Jan-25", "January 22, 2025 2:34 PM", "0001-01-01", "2/29/2023"),
        ]
    ),
)
COLUMNS = st.lists(MESSY, max_size=6)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@PROPERTY
@given(texts=COLUMNS)
def test_every_transform_is_total_and_idempotent(name: str, texts: list[str]) -> None:
    if name == "last_name":
        # The documented exception: a several-word surname before a comma.
        texts = [text.replace(",", " ") for text in texts]
    values = pd.Series(texts, dtype="str")
    once = TRANSFORMS[name](values).values
    assert len(once) == len(values)
    twice = TRANSFORMS[name](once).values
    assert list(twice) == list(once)


US_NUMBER = st.tuples(
    st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999), st.integers(0, 99999)
)
PHONE_FORMS = [
    "({a}) {e}-{line}",
    "{a}.{e}.{line}",
    "{a}-{e}-{line}",
    "+1 {a} {e} {line}",
    "1-{a}-{e}-{line}",
    "{a}{e}{line}",
    "{a}{e}{line}.0",
    "{a} {e} {line} ext {x}",
    "({a}) {e}-{line} x{x}",
]


@PROPERTY
@given(number=US_NUMBER, form=st.sampled_from(PHONE_FORMS))
def test_a_us_phone_becomes_ten_digits(number: tuple[int, int, int, int], form: str) -> None:
    area, exchange, line, extension = number
    written = form.format(a=area, e=exchange, line=f"{line:04d}", x=extension)
    expected = f"{area}{exchange}{line:04d}"
    if "{x}" in form:
        expected += f" x{extension}"
    assert run("phone", written) == [expected]


@PROPERTY
# 00501 is the lowest ZIP code: below it, the number Excel kept cannot tell a ZIP from a ZIP+4.
@given(zip5=st.integers(501, 99999), plus4=st.none() | st.integers(0, 9999), form=st.integers(0, 3))
def test_a_us_zip_gets_its_five_digits_back(zip5: int, plus4: int | None, form: int) -> None:
    expected = f"{zip5:05d}" if plus4 is None else f"{zip5:05d}-{plus4:04d}"
    digits = expected.replace("-", "")
    written = [expected, str(int(digits)), f"{int(digits)}.0", digits][form]
    assert run("zip", written) == [expected]
    assert re.fullmatch(r"[0-9]{5}(?:-[0-9]{4})?", run("zip", written)[0])


STATE_NAMES = {
    "NJ": "New Jersey",
    "PA": "Pennsylvania",
    "NY": "New York",
    "DC": "District of Columbia",
    "PR": "Puerto Rico",
    "WV": "West Virginia",
    "CA": "California",
}


@PROPERTY
@given(
    code=st.sampled_from(sorted(STATE_NAMES)),
    use_name=st.booleans(),
    case=st.sampled_from([str.lower, str.upper, str.title, str]),
    pad=st.sampled_from(["", " ", "  "]),
)
def test_a_state_in_any_case_becomes_its_code(
    code: str, use_name: bool, case: object, pad: str
) -> None:
    assert callable(case)
    written = pad + case(STATE_NAMES[code] if use_name else code) + pad
    assert run("state", written) == [code]
    assert errors_of("state", written) is None


def test_a_one_word_name_is_both_names_with_a_warning() -> None:
    values = pd.Series(["Cher", "Smith, John", "Ann Lee", ""], dtype="str")
    result = transforms.last_name(values)
    assert result.values.tolist() == ["Cher", "Smith", "Lee", ""]
    assert result.warnings is not None
    assert result.warnings.tolist() == ["one word: used as both first and last name", "", "", ""]
    assert transforms.first_name(values).values.tolist() == ["Cher", "John", "Ann", ""]
