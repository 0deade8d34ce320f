"""The assistant's vocabulary (importer/headers.yaml): platform headers, typos, business names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.assistant import propose_mapping
from importer.cli import cli
from tests.leads import REFERRER
from tests.test_assistant import PHONES, details, propose_csv, write_csv

EMAILS = ("ann@mail.example", "bob@mail.example", "cy@mail.example")


@pytest.fixture(autouse=True)
def referrer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTORRA_REFERRER", REFERRER)


def rows(*columns: tuple[str, ...]) -> list[list[str]]:
    return [list(row) for row in zip(*columns, strict=True)]


@pytest.mark.parametrize(
    ("header", "field", "values"),
    [
        ("State/Region", "State", ("PA", "NJ", "NY")),  # HubSpot
        ("Mailing State/Province", "State", ("PA", "NJ", "NY")),  # Salesforce
        ("Address 1 - Region", "State", ("PA", "NJ", "NY")),  # Google contacts
        ("Zip/Postal Code", "Zip", ("19103", "08001", "10001")),
        ("Mailing Zip/Postal Code", "Zip", ("19103", "08001", "10001")),
        ("Street Address", "Address", ("1 Oak St", "2 Elm Rd", "3 Pine Ave")),
        ("Mobile Phone Number", "Primary", PHONES),  # HubSpot
        ("Home Phone", "Primary", PHONES),  # Outlook
        ("Business Phone", "Primary", PHONES),  # Outlook
        ("Home", "Primary", PHONES),  # Outlook-style short headers
        ("Office", "Primary", PHONES),
        ("Work", "Primary", PHONES),
        ("phone_number", "Primary", PHONES),  # Meta lead ads
        ("E-mail Address", "Email", EMAILS),  # Outlook
    ],
)
def test_platform_headers_are_known(
    tmp_path: Path, header: str, field: str, values: tuple[str, ...]
) -> None:
    names = ("Ann Lee", "Bob Ray", "Cy Day")
    _, fields = propose_csv(tmp_path, ["Full Name", header], rows(names, values))
    spec = fields[field]
    assert (spec if isinstance(spec, str) else spec["column"]) == header


@pytest.mark.parametrize(
    ("header", "field", "synonym"),
    [
        ("Adress", "Address", "address"),
        ("Emial", "Email", "email"),
        ("Fisrt Name", "First", "firstname"),
        ("Phnoe Number", "Primary", "phonenumber"),
    ],
)
def test_a_misspelled_header_is_taken_and_marked_review(
    tmp_path: Path, header: str, field: str, synonym: str
) -> None:
    values = {
        "Address": ("1 Oak St", "2 Elm Rd", "3 Pine Ave"),
        "Email": EMAILS,
        "First": ("Ann", "Bob", "Cy"),
        "Primary": PHONES,
    }[field]
    path = write_csv(tmp_path, ["Last Name", header], rows(("Lee", "Ray", "Day"), values))
    proposal = propose_mapping(path)
    decision = next(d for d in proposal.decisions if d.field == field)
    assert decision.source == header
    assert decision.review
    assert decision.reason.startswith(
        f'REVIEW {field}: "{header}": header seems a misspelling of "{synonym}"'
    )


def test_short_headers_are_not_taken_for_typos(tmp_path: Path) -> None:
    # "Call" is one letter from "cell": too short to guess.
    _, fields = propose_csv(tmp_path, ["Full Name", "Call"], rows(("Ann Lee",) * 3, ("y",) * 3))
    assert "Call" in details(fields)


BUSINESSES = (
    "Acme Plumbing LLC",
    "Smith & Sons Roofing",
    "Bright Dental Group",
    "Rivera Law Firm",
    "Lee Ann",
    "Tom Baker",
    "Joe Diner",
)


def test_a_column_of_business_names_is_not_split(tmp_path: Path) -> None:
    phones = tuple(f"215555010{n}" for n in range(7))
    proposal, fields = propose_csv(tmp_path, ["Name", "Phone"], rows(BUSINESSES, phones))
    assert fields["First"] == {"value": ""}
    assert fields["Last"] == {"value": ""}
    assert "Name" in details(fields)
    review = [d.reason for d in proposal.decisions if d.review and d.source == "Name"]
    assert review == [
        'REVIEW "Name": the header suggests First and Last but only 42% of 7 sampled values '
        "are full names to split"
    ]


def test_every_review_line_on_screen_names_its_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        ["First", "Last", "Phone", "Telephone", "Cell"],
        rows(("A", "B", "C"), ("D", "E", "F"), EMAILS, PHONES, PHONES),
    )
    result = CliRunner().invoke(cli, ["init-mapping", str(path), "-o", str(tmp_path / "m.yaml")])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines() if "REVIEW" in line]
    assert lines
    for line in lines:
        named = line.split(":", 1)[0]
        assert any(f'"{header}"' in named for header in ("Phone", "Telephone", "Cell")) or (
            named.startswith("REVIEW ") and named.removeprefix("REVIEW ") in {"Primary"}
        ), line
