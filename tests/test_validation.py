"""Validation: what Captorra would reject makes a row invalid, with one exact message per check.

Rows are mapped by a real mapping first, as in the pipeline, so the messages are
the ones a person reads in the results workbook.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from importer.mapping import Mapped, apply_mapping, load_mapping, resolve_headers
from importer.validation import captorra_schema, validate

REFERRER = "123e4567-e89b-12d3-a456-426655440000"
AUTO = "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"

MAPPING = f"""\
version: 1
fields:
  CaptorraId: {{column: Account}}
  Referrer: {{column: Source GUID}}
  First: First Name
  Last: Last Name
  Primary: {{column: Phone, transform: phone}}
  Email: {{column: E-mail, transform: email}}
  State: {{column: State, transform: state}}
  Zip: {{column: Zip, transform: zip}}
  County: {{column: County}}
  Details: {{column: Notes}}
  Type: {{column: Case Type, lookup: {{Auto Accident: {AUTO}}}}}
  ID: {{column: Lead ID, required: true}}
"""
GOOD = {
    "Account": "123456",
    "Source GUID": REFERRER,
    "First Name": "Ann",
    "Last Name": "Lee",
    "Phone": "(215) 555-0134",
    "E-mail": "ann@mail.example",
    "State": "pa",
    "Zip": "19146",
    "County": "Philadelphia",
    "Notes": "Rear-ended",
    "Case Type": "Auto Accident",
    "Lead ID": "AC-1",
}


@pytest.fixture(scope="module")
def mapping_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("validation") / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def checked(mapping_path: Path, *changes: dict[str, str], text: str | None = None) -> Mapped:
    """Map and validate one row per change (each change applied to a good row)."""
    if text is not None:
        mapping_path = mapping_path.with_name("other.yaml")
        mapping_path.write_text(text, encoding="utf-8")
    loaded = load_mapping(mapping_path, environ={})
    rows = [GOOD | change for change in changes]
    frame = pd.DataFrame(
        {name: pd.array([row[name] for row in rows], dtype="str") for name in GOOD},
        index=pd.RangeIndex(2, 2 + len(rows), name="Source Row"),
    )
    headers = resolve_headers(loaded, list(frame.columns), Path("leads.csv"))
    mapped = apply_mapping(loaded.mapping, frame, headers)
    validate(loaded.mapping, mapped)
    return mapped


def errors(mapped: Mapped) -> list[str]:
    return list(mapped.notes.errors())


def warnings(mapped: Mapped) -> list[str]:
    return list(mapped.notes.warnings())


def test_a_good_row_has_nothing_to_say(mapping_path: Path) -> None:
    mapped = checked(mapping_path, {})
    assert errors(mapped) == [""]
    assert warnings(mapped) == [""]
    assert list(mapped.notes.has_errors()) == [False]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Account": ""}, "CaptorraId: required"),
        ({"Account": "12a456"}, 'CaptorraId: "12a456" is not all digits'),
        # Digits of another script are digits to Python, not to Captorra.
        ({"Account": "\u0661\u0662\u0663"}, 'CaptorraId: "\u0661\u0662\u0663" is not all digits'),
        ({"First Name": " "}, "First: required"),
        ({"First Name": "A" * 51}, "First: 51 characters, limit 50"),
        ({"Last Name": ""}, "Last: required"),
        ({"Source GUID": ""}, "Referrer: required"),
        ({"Source GUID": "acme-2024"}, 'Referrer: "acme-2024" is not a GUID'),
        ({"Source GUID": REFERRER[:-1]}, f'Referrer: "{REFERRER[:-1]}" is not a GUID'),
        ({"E-mail": "a" * 95 + "@x.example"}, "Email: 105 characters, limit 100"),
        ({"County": "C" * 1_234}, "County: 1,234 characters, limit 50"),
        ({"State": "Xyz"}, 'State: "Xyz" is not a US state or territory'),
        ({"Case Type": "Dog Bite"}, 'Type: "Dog Bite" is not in the lookup'),
        ({"Lead ID": ""}, "ID: required"),
        ({"Lead ID": "L" * 101}, "ID: 101 characters, limit 100"),
    ],
)
def test_each_rule_and_its_message(
    mapping_path: Path, change: dict[str, str], message: str
) -> None:
    assert errors(checked(mapping_path, {}, change)) == ["", message]


def test_a_state_that_is_not_two_letters_without_the_state_transform(mapping_path: Path) -> None:
    text = MAPPING.replace("{column: State, transform: state}", "State")
    mapped = checked(mapping_path, {"State": "new jersey"}, {"State": "NJ"}, text=text)
    assert errors(mapped) == ['State: "new jersey" is not a 2-letter state', ""]


def test_an_unknown_state_is_reported_once(mapping_path: Path) -> None:
    # The state transform already explains the value; "not a 2-letter state" would repeat it.
    assert errors(checked(mapping_path, {"State": "Xyz"})) == [
        'State: "Xyz" is not a US state or territory'
    ]


def test_every_failing_check_of_a_row_in_field_order(mapping_path: Path) -> None:
    mapped = checked(
        mapping_path,
        {"Case Type": "Dog Bite", "Last Name": "L" * 60, "First Name": ""},
        {"Lead ID": "", "Account": "x", "State": "Xyz", "Source GUID": "nope", "Zip": "?"},
    )
    assert errors(mapped) == [
        'First: required; Last: 60 characters, limit 50; Type: "Dog Bite" is not in the lookup',
        'CaptorraId: "x" is not all digits; Referrer: "nope" is not a GUID; '
        'State: "Xyz" is not a US state or territory; ID: required',
    ]
    assert warnings(mapped) == ["", "Zip: not a US ZIP code; sent as written"]


def test_doubts_are_warnings_and_the_row_stays_valid(mapping_path: Path) -> None:
    mapped = checked(
        mapping_path,
        {"E-mail": "ann at mail"},
        {"E-mail": "ann@mail"},
        {"Phone": "+44 20 7946 0958"},
        {"Phone": "555-0134"},
        {"Zip": "K1A 0B6"},
        {"Zip": "7030"},
        {"Phone": "2155550134 x12", "E-mail": "", "Zip": "19146-1234"},
        {"Phone": "+44 20 7946 0958", "E-mail": "nope", "Zip": "123456789012"},
    )
    assert errors(mapped) == [""] * 8
    phone = "Primary: not a 10-digit US phone number; sent as written"
    email = "Email: does not look like an email address; sent as written"
    zip_code = "Zip: not a US ZIP code; sent as written"
    assert warnings(mapped) == [
        email,
        email,
        phone,
        phone,
        zip_code,
        "",
        "",
        f"{phone}; {email}; {zip_code}",
    ]


def test_long_details_are_cut_not_rejected(mapping_path: Path) -> None:
    mapped = checked(mapping_path, {"Notes": "n" * 4_500})
    assert errors(mapped) == [""]
    assert warnings(mapped) == ["Details: 4,500 characters cut to 4,000"]


def test_the_schema_has_the_checks_of_each_mapped_field(mapping_path: Path) -> None:
    schema = captorra_schema(load_mapping(mapping_path, environ={}).mapping)
    checks = {
        name: [check.name for check in column.checks] for name, column in schema.columns.items()
    }
    assert checks == {
        "CaptorraId": ["required", "digits"],
        "Referrer": ["required", "GUID"],
        "First": ["required", "max_length"],
        "Last": ["required", "max_length"],
        "Primary": ["max_length"],
        "Email": ["max_length"],
        "State": ["2-letter state"],
        "Zip": ["max_length"],
        "County": ["max_length"],
        "Details": [],
        "Type": ["GUID"],
        "ID": ["required", "max_length"],
    }


def test_no_rows_is_nothing_to_validate(mapping_path: Path) -> None:
    assert errors(checked(mapping_path)) == []
