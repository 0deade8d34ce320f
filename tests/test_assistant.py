"""The mapping assistant: proposing a mapping for a new file, and previewing a mapping.

Fixtures are small files in tests/data/assistant/, written by make_fixtures.py
(a test checks they are up to date); one-off header cases are written into
tmp_path. Every proposal a test looks at is also written and loaded, since the
promise is that it works as it stands.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.assistant import (
    Decision,
    Proposal,
    preview_mapping,
    propose_mapping,
    scalar,
    squash,
)
from importer.errors import InputFileError, MappingError, UsageError
from importer.mapping import LoadedMapping, load_mapping, resolve_headers
from importer.pipeline import ImportJob, import_files
from importer.reading import open_table
from tests.leads import CAPTORRA_ID, REFERRER, read_sheet

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "assistant"
ACME = ROOT / "sample_data" / "acme_leads.xlsx"
LAKESIDE = ROOT / "sample_data" / "lakeside_leads.csv"
NEW_VENDOR = DATA / "new_vendor.xlsx"
PHONES = ("(215) 555-0101", "609-555-0102", "2125550103")


@pytest.fixture(autouse=True)
def referrer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTORRA_REFERRER", REFERRER)


def _load_script(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fixtures_{script.parent.name}", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIXTURES = _load_script(DATA / "make_fixtures.py")


def write_csv(folder: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    path = folder / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def loaded(proposal: Proposal, folder: Path, input_path: Path) -> LoadedMapping:
    """The proposal written, loaded and checked against its input, as the CLI would."""
    path = folder / "proposed.yaml"
    path.write_text(proposal.text, encoding="utf-8")
    mapping = load_mapping(path)
    resolve_headers(mapping, open_table(input_path).columns, input_path)
    return mapping


def fields_of(proposal: Proposal) -> dict[str, Any]:
    document = yaml.safe_load(proposal.text)
    assert document["version"] == 1
    fields: dict[str, Any] = document["fields"]
    return fields


def propose_csv(
    folder: Path, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> tuple[Proposal, dict[str, Any]]:
    path = write_csv(folder, header, rows)
    proposal = propose_mapping(path)
    loaded(proposal, folder, path)
    return proposal, fields_of(proposal)


def comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def details(fields: dict[str, Any]) -> list[str]:
    assert fields["Details"]["format"] == "labeled"
    columns: list[str] = fields["Details"]["columns"]
    return columns


ENVIRONMENT = {
    "CaptorraId": {"value": "${CAPTORRA_ID}"},
    "Referrer": {"value": "${CAPTORRA_REFERRER}"},
}


# ---------------------------------------------------------------- synonyms


def _values_for(field: str) -> str:
    return {
        "Primary": "(215) 555-0101",
        "Email": "ann@mail.example",
        "State": "nj",
        "Zip": "08540",
    }.get(field, "text")


@pytest.mark.parametrize(
    ("header", "field", "spec"),
    [
        ("Phone", "Primary", "phone"),
        ("Cell", "Primary", "phone"),
        ("Mobile Phone", "Primary", "phone"),
        ("Home Phone", "Primary", "phone"),
        ("Work Phone", "Primary", "phone"),
        ("Phone #", "Primary", "phone"),
        ("E-mail", "Email", "email"),
        ("Email Address", "Email", "email"),
        ("EMAIL", "Email", "email"),
        ("Street", "Address", None),
        ("Address 1", "Address", None),
        ("Street Address", "Address", None),
        ("Town", "City", None),
        ("city", "City", None),
        ("St", "State", "state"),
        ("State", "State", "state"),
        ("Province", "State", "state"),
        ("Zip", "Zip", "zip"),
        ("Zip Code", "Zip", "zip"),
        ("Postal", "Zip", "zip"),
        ("Postal Code", "Zip", "zip"),
        ("Best Time", "BestTime", None),
        ("Contact Time", "BestTime", None),
        ("Best Time to Call", "BestTime", None),
        ("County", "County", None),
        ("Lead ID", "ID", None),
        ("Vendor ID", "ID", None),
        ("Lead #", "ID", None),
        ("Search Term", "ReferringKeyword", None),
        ("Keyword", "ReferringKeyword", None),
        ("utm_term", "ReferringKeyword", None),
        ("Landing Page", "Conversion", None),
        ("Conversion URL", "Conversion", None),
    ],
)
def test_a_header_synonym_maps_its_field(
    header: str, field: str, spec: str | None, tmp_path: Path
) -> None:
    rows = [["Ann", "Lee", _values_for(field)]] * 3
    _, fields = propose_csv(tmp_path, ["First Name", "Last Name", header], rows)
    expected = header if spec is None else {"column": header, "transform": spec}
    assert fields == {**ENVIRONMENT, "First": "First Name", "Last": "Last Name", field: expected}


@pytest.mark.parametrize(
    ("first", "last"),
    [("First Name", "Last Name"), ("Given Name", "Surname"), ("fname", "lname"), ("First", "Last")],
)
def test_first_and_last_name_synonyms(first: str, last: str, tmp_path: Path) -> None:
    _, fields = propose_csv(tmp_path, [first, last], [["Ann", "Lee"]] * 3)
    assert fields == {**ENVIRONMENT, "First": first, "Last": last}


@pytest.mark.parametrize("header", ["Notes", "Comments", "Description"])
def test_notes_come_first_in_details(header: str, tmp_path: Path) -> None:
    _, fields = propose_csv(
        tmp_path, ["First", "Last", "Source", header], [["Ann", "Lee", "web", "called"]] * 3
    )
    assert details(fields) == [header, "Source"]


@pytest.mark.parametrize("header", ["Practice Area", "Case Type"])
def test_a_case_type_column_stays_in_details_until_its_lookup_is_written(
    header: str, tmp_path: Path
) -> None:
    proposal, fields = propose_csv(tmp_path, ["First", "Last", header], [["A", "B", "Auto"]] * 3)
    assert "Type" not in fields
    assert details(fields) == [header]
    assert f"  # Type:\n  #   column: {header}\n  #   lookup:\n" in proposal.text


@pytest.mark.parametrize(("name", "apartment"), [("Address", "Apt"), ("Street", "Suite")])
def test_a_unit_column_joins_the_street(name: str, apartment: str, tmp_path: Path) -> None:
    _, fields = propose_csv(
        tmp_path, ["First", "Last", name, apartment], [["A", "B", "1 Oak St", "2B"]] * 3
    )
    assert fields["Address"] == {"template": f"{{{name}}} {{{apartment}}}"}
    assert "Details" not in fields


def test_a_unit_without_a_street_goes_to_details(tmp_path: Path) -> None:
    _, fields = propose_csv(tmp_path, ["First", "Last", "Apt"], [["A", "B", "2B"]] * 3)
    assert "Address" not in fields
    assert details(fields) == ["Apt"]


def test_a_search_term_longer_than_captorra_keeps_is_cut_not_refused(tmp_path: Path) -> None:
    rows = [["A", "B", "car accident lawyer " * 3], ["C", "D", "slip and fall"]]
    proposal, fields = propose_csv(tmp_path, ["First", "Last", "utm_term"], rows)
    assert fields["ReferringKeyword"] == {"column": "utm_term", "on_overflow": "truncate"}
    assert proposal.decisions[-1].reason == (
        "header synonym of a search term; 1 sampled value is over Captorra's 50 characters: "
        "on_overflow cuts such values (with a warning) rather than refuse the lead"
    )


def test_squash_ignores_case_spaces_and_punctuation() -> None:
    assert squash("E-mail") == squash("e_mail") == squash(" EMAIL ") == "email"
    assert squash("Lead #") == "leadnum"
    assert squash("Zip/Postal Code") == "zippostalcode"


# ---------------------------------------------------------------- weak guesses


def test_a_header_that_merely_contains_a_word_is_not_taken(tmp_path: Path) -> None:
    proposal = propose_mapping(DATA / "traps.csv")
    fields = fields_of(proposal)
    loaded(proposal, tmp_path, DATA / "traps.csv")
    assert fields["Primary"] == {"column": "Phone", "transform": "phone"}
    assert fields["Email"] == {"column": "Email", "transform": "email"}
    assert fields["Zip"] == {"column": "Zip", "transform": "zip"}
    assert details(fields) == ["Email consent", "Phone opt-in", "Do Not Call", "Zip verified"]
    assert comments(proposal.text)[-4:] == [
        '# "Email consent": not taken for Email: a header that merely contains "email" is not '
        "enough",
        '# "Phone opt-in": not taken for Primary: a header that merely contains "phone" is not '
        "enough",
        '# "Do Not Call": not taken for Primary: a header that merely contains "call" is not '
        "enough",
        '# "Zip verified": not taken for Zip: a header that merely contains "zip" is not enough',
    ]


def test_a_trap_header_is_not_taken_even_alone(tmp_path: Path) -> None:
    # With no real Email column, `Email consent` holding emails is still not the Email.
    _, fields = propose_csv(
        tmp_path, ["First", "Last", "Email consent"], [["A", "B", "a@mail.example"]] * 3
    )
    assert "Email" not in fields
    assert details(fields) == ["Email consent"]


def test_values_that_contradict_the_header_leave_it_to_a_person(tmp_path: Path) -> None:
    proposal, fields = propose_csv(
        tmp_path, ["First", "Last", "Phone"], [["A", "B", "a@mail.example"]] * 3
    )
    assert "Primary" not in fields
    assert "Email" not in fields  # a `Phone` header is not an email column either
    assert details(fields) == ["Phone"]
    assert (
        '# REVIEW "Phone": the header suggests Primary but only 0% of 3 sampled values are US '
        "phones" in comments(proposal.text)
    )
    assert proposal.decisions[-1] == Decision(
        "Details",
        "Phone",
        None,
        'REVIEW "Phone": the header suggests Primary but only 0% of 3 sampled values are US phones',
        review=True,
    )


def test_a_name_column_of_single_words_is_not_split(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["Name", "Phone"], [["Ann", phone] for phone in PHONES])
    proposal = propose_mapping(path)
    fields = fields_of(proposal)
    assert fields["First"] == fields["Last"] == {"value": ""}
    assert details(fields) == ["Name"]
    assert (
        "  # REVIEW First: no column could be taken for it, so it is left empty and every row is "
        'invalid\n  #   ("First: required") until you write its column here\n'
        '  First: {value: ""}\n'
    ) in proposal.text
    loaded(proposal, tmp_path, path)
    report = import_files(
        ImportJob(inputs=(path,), mapping=tmp_path / "proposed.yaml", output=tmp_path / "r.xlsx")
    )
    assert report.exit_code == 1
    assert {row["Error"] for row in read_sheet(tmp_path / "r.xlsx")} == {
        "First: required; Last: required"
    }


# ---------------------------------------------------------------- sniffing


def test_values_decide_for_headers_that_name_no_field(tmp_path: Path) -> None:
    proposal = propose_mapping(DATA / "sniffing.csv")
    loaded(proposal, tmp_path, DATA / "sniffing.csv")
    assert fields_of(proposal) == {
        **ENVIRONMENT,
        "First": {"column": "Name", "transform": "first_name"},
        "Last": {"column": "Name", "transform": "last_name"},
        "Primary": {"column": "Number", "transform": "phone"},
        "Email": {"column": "Contact", "transform": "email"},
        "City": "Town",
    }
    assert comments(proposal.text)[-9:] == [
        '# "Name": header synonym of a full name; no separate first and last name columns; 100% '
        "of 4",
        "#   sampled values are full names to split",
        '# "Name": header synonym of a full name; no separate first and last name columns; 100% '
        "of 4",
        "#   sampled values are full names to split",
        '# "Number": chosen by its values (the header names no field); 100% of 4 sampled values '
        "are US",
        "#   phones",
        '# "Contact": chosen by its values (the header names no field); 100% of 4 sampled values '
        "are email",
        "#   addresses",
        '# "Town": header synonym of a city',
    ]


def test_a_column_of_other_text_is_not_taken_by_its_values(tmp_path: Path) -> None:
    rows = [["A", "B", "a@mail.example", "maybe"], ["C", "D", "not an email", "x"]] * 2
    _, fields = propose_csv(tmp_path, ["First", "Last", "Contact", "Number"], rows)
    assert "Email" not in fields  # half of the values are emails: not enough
    assert "Primary" not in fields
    assert details(fields) == ["Contact", "Number"]


def test_values_break_a_tie_between_two_headers(tmp_path: Path) -> None:
    rows = [["A", "B", "a@mail.example", "b@mail.example"], ["C", "D", "c@mail.example", "no"]]
    proposal, fields = propose_csv(tmp_path, ["First", "Last", "Email", "E-mail"], rows)
    assert fields["Email"] == {"column": "Email", "transform": "email"}
    assert details(fields) == ["E-mail"]
    assert (
        '  # "Email": header synonym of an email address; 100% of 2 sampled values are email '
        "addresses; its\n"
        '  #   values break the tie with "E-mail" (50%)\n'
        "  Email: {column: Email, transform: email}\n"
    ) in proposal.text
    assert (
        '      # "E-mail": header synonym of an email address; its values lost the tie for Email '
        'to "Email"\n'
        "      - E-mail\n"
    ) in proposal.text


# ---------------------------------------------------------------- phones and ties


def test_a_cell_phone_is_primary_and_a_home_phone_secondary(tmp_path: Path) -> None:
    header = ["First", "Last", "Home Phone", "Cell Phone", "Work Phone"]
    proposal, fields = propose_csv(tmp_path, header, [["A", "B", p, p, p] for p in PHONES])
    assert fields["Primary"] == {"column": "Cell Phone", "transform": "phone"}
    assert fields["Secondary"] == {"column": "Home Phone", "transform": "phone"}
    assert details(fields) == ["Work Phone"]
    assert (
        "  # The rule for several phone columns: Primary takes the first of primary, cell/mobile, "
        "phone,\n"
        "  #   home, work; Secondary the next one; an alternate phone only Secondary\n"
        '  # "Cell Phone": header synonym of a cell phone; 100% of 3 sampled values are US phones\n'
        "  Primary: {column: Cell Phone, transform: phone}\n"
        "\n"
        '  # "Home Phone": header synonym of a home phone; 100% of 3 sampled values are US phones\n'
        "  Secondary: {column: Home Phone, transform: phone}\n"
    ) in proposal.text
    assert (
        '      # "Work Phone": header synonym of a work phone; Primary and Secondary are taken\n'
    ) in proposal.text


def test_an_alternate_phone_is_never_primary(tmp_path: Path) -> None:
    _, fields = propose_csv(
        tmp_path, ["First", "Last", "Alt Phone"], [["A", "B", p] for p in PHONES]
    )
    assert "Primary" not in fields
    assert fields["Secondary"] == {"column": "Alt Phone", "transform": "phone"}


def test_a_number_column_of_phones_takes_the_slot_left_free(tmp_path: Path) -> None:
    header = ["First", "Last", "Phone", "Number"]
    _, fields = propose_csv(tmp_path, header, [["A", "B", p, p] for p in PHONES])
    assert fields["Primary"] == {"column": "Phone", "transform": "phone"}
    assert fields["Secondary"] == {"column": "Number", "transform": "phone"}


def test_a_tie_is_left_as_comments_for_a_person(tmp_path: Path) -> None:
    header = ["First", "Last", "Phone", "Telephone"]
    proposal, fields = propose_csv(tmp_path, header, [["A", "B", p, p] for p in PHONES])
    assert "Primary" not in fields
    assert "Secondary" not in fields
    assert details(fields) == ["Phone", "Telephone"]
    assert (
        '  # REVIEW Primary: "Phone" and "Telephone" have an equal claim ("Phone": header synonym '
        "of a\n"
        '  #   phone, 100% of 3 sampled values are US phones; "Telephone": header synonym of a '
        "phone, 100%\n"
        "  #   of 3 sampled values are US phones). Both are in Details until you switch on one of "
        "the lines\n"
        "  #   below (and take that column out of Details)\n"
        "  # Primary: {column: Phone, transform: phone}\n"
        "  # Primary: {column: Telephone, transform: phone}\n"
    ) in proposal.text
    assert (
        '      # REVIEW "Telephone": one of the columns with an equal claim to Primary; see there\n'
    ) in proposal.text
    assert [decision.review for decision in proposal.decisions if decision.field != "Details"] == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_switching_on_a_suggested_line_works(tmp_path: Path) -> None:
    header = ["First", "Last", "Phone", "Telephone"]
    path = write_csv(tmp_path, header, [["A", "B", p, p] for p in PHONES])
    text = propose_mapping(path).text.replace(
        "  # Primary: {column: Phone", "  Primary: {column: Phone"
    )
    (tmp_path / "chosen.yaml").write_text(text, encoding="utf-8")
    preview = preview_mapping(load_mapping(tmp_path / "chosen.yaml"), path)
    assert [row.payload["Primary"] for row in preview.rows] == [
        "2155550101",
        "6095550102",
        "2125550103",
    ]


def test_a_tie_on_first_name_leaves_it_empty(tmp_path: Path) -> None:
    proposal, fields = propose_csv(
        tmp_path, ["First Name", "Given Name", "Last Name"], [["A", "B", "C"]] * 3
    )
    assert fields["First"] == {"value": ""}
    assert fields["Last"] == "Last Name"
    assert details(fields) == ["First Name", "Given Name"]
    assert '  # First: First Name\n  # First: Given Name\n  First: {value: ""}\n' in proposal.text


def test_a_tie_between_units_leaves_the_street_alone(tmp_path: Path) -> None:
    proposal, fields = propose_csv(
        tmp_path, ["First", "Last", "Street", "Apt", "Suite"], [["A", "B", "1 Oak", "2", "3"]] * 3
    )
    assert fields["Address"] == "Street"
    assert details(fields) == ["Apt", "Suite"]
    assert (
        '  # Address: {template: "{Street} {Apt}"}\n'
        '  # Address: {template: "{Street} {Suite}"}\n'
        '  # "Street": header synonym of a street address\n'
        "  Address: Street\n"
    ) in proposal.text


def test_a_tie_between_case_types_suggests_no_lookup(tmp_path: Path) -> None:
    proposal, fields = propose_csv(
        tmp_path, ["First", "Last", "Case Type", "Practice Area"], [["A", "B", "Auto", "Auto"]] * 3
    )
    assert "Type" not in fields
    assert details(fields) == ["Case Type", "Practice Area"]
    assert "  # Type:" not in proposal.text
    assert "Both are in Details until\n  #   you choose one and write a lookup for it\n" in (
        proposal.text
    )


def test_two_columns_of_emails_are_a_tie(tmp_path: Path) -> None:
    rows = [["A", "B", "a@mail.example", "c@mail.example"]] * 3
    proposal, fields = propose_csv(tmp_path, ["First", "Last", "Contact", "Other"], rows)
    assert "Email" not in fields
    assert "  # Email: {column: Contact, transform: email}\n" in proposal.text
    assert "  # Email: {column: Other, transform: email}\n" in proposal.text


def test_a_full_name_is_not_split_when_first_and_last_have_columns(tmp_path: Path) -> None:
    proposal, fields = propose_csv(
        tmp_path, ["Name", "First Name", "Last Name"], [["Ann", "Ann", "Lee"]] * 3
    )
    assert (fields["First"], fields["Last"]) == ("First Name", "Last Name")
    assert details(fields) == ["Name"]
    assert proposal.decisions[-1] == Decision(
        "Details", "Name", None, "a full name, not split: First and Last have columns"
    )


def test_a_full_name_fills_only_the_missing_part(tmp_path: Path) -> None:
    _, fields = propose_csv(tmp_path, ["Full Name", "First"], [["Ann Lee", "Annie"]] * 3)
    assert fields["First"] == "First"
    assert fields["Last"] == {"column": "Full Name", "transform": "last_name"}


_HEADERS = st.one_of(
    st.sampled_from(
        ["Phone", "Cell", "Email", "Name", "First Name", "Surname", "Street", "Apt", "Zip",
         "State", "Case Type", "Notes", "Lead #", "Contact", "Yes", "Time: Best", "{x}"]
    ),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
)  # fmt: skip
_VALUES = st.sampled_from(
    ["", "Ann Lee", "(215) 555-0101", "a@mail.example", "NJ", "08540", "Auto", "x: y", "#1"]
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_HEADERS, min_size=1, max_size=6, unique_by=str.casefold),
    st.lists(st.lists(_VALUES, min_size=6, max_size=6), min_size=1, max_size=4),
)
def test_any_proposal_loads_and_previews(headers: list[str], rows: list[list[str]]) -> None:
    if not any(header.strip() for header in headers) or not any(map(any, rows)):
        return  # the reader refuses such files; nothing to propose
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder), headers, [row[: len(headers)] for row in rows])
        try:
            proposal = propose_mapping(path)
        except InputFileError:
            return  # e.g. only blank rows once the columns are cut
        mapping = loaded(proposal, Path(folder), path)
        preview = preview_mapping(mapping, path)
        assert {row.status for row in preview.rows} <= {"valid", "invalid", "duplicate"}


# ---------------------------------------------------------------- the Type lookup


def test_the_type_lookup_lists_the_distinct_case_types_commented(tmp_path: Path) -> None:
    proposal = propose_mapping(ACME)
    block = (
        "  # Type:\n"
        "  #   column: Case Type\n"
        "  #   lookup:\n"
        '  #     Auto Accident: "<GUID>"\n'
        '  #     Slip and Fall: "<GUID>"\n'
        '  #     Workers Comp: "<GUID>"\n'
        '  #     Medical Malpractice: "<GUID>"\n'
        '  #     Dog Bite: "<GUID>"\n'
    )
    assert block in proposal.text
    assert "Type" not in fields_of(proposal)
    # Switched on as the comment says, it loads; the placeholders make rows invalid, not the file.
    switched_on = proposal.text.replace(block, block.replace("  # ", "  "))
    (tmp_path / "typed.yaml").write_text(switched_on, encoding="utf-8")
    typed = load_mapping(tmp_path / "typed.yaml")
    assert typed.mapping.fields["Type"].lookup == dict.fromkeys(
        ["Auto Accident", "Slip and Fall", "Workers Comp", "Medical Malpractice", "Dog Bite"],
        "<GUID>",
    )
    rows = preview_mapping(typed, ACME, rows=2).rows
    assert [row.error for row in rows] == [
        "",  # row 2 has no case type
        'First: 53 characters, limit 50; Type: "<GUID>" is not a GUID',
    ]


def test_the_type_lookup_lists_at_most_30_case_types(tmp_path: Path) -> None:
    rows = [["A", "B", f"Type {n:02d}"] for n in range(35)] + [["A", "B", "type 34"]]
    proposal, _ = propose_csv(tmp_path, ["First", "Last", "Case Type"], rows)
    listed = re.findall(r'^  #     (.*): "<GUID>"$', proposal.text, re.MULTILINE)
    assert listed == ["Type 34"] + [f"Type {n:02d}" for n in range(29)]
    assert "Listed: the\n  #   30 case types in the sample (the 5 least common left out)" in (
        proposal.text
    )


# ---------------------------------------------------------------- YAML text


def test_awkward_headers_are_quoted(tmp_path: Path) -> None:
    proposal = propose_mapping(DATA / "awkward_headers.csv")
    loaded(proposal, tmp_path, DATA / "awkward_headers.csv")
    fields = fields_of(proposal)
    assert fields["ID"] == "Lead #"
    assert fields["Address"] == {"columns": ["Address", "Apt: Suite"]}  # no template: the `:`
    assert details(fields) == [
        "Injured?", "Yes", "Time: Best", "2024", "null", "Notes, internal", "[Source]", "- dash",
        "'Quoted'",
    ]  # fmt: skip
    for line in ('  ID: "Lead #"', '      - "Yes"', '      - "2024"', '      - "Time: Best"'):
        assert line + "\n" in proposal.text


@pytest.mark.parametrize(
    "text",
    [
        "Cell Phone", "Yes", "no", "ON", "null", "~", "", " lead", "trail ", "123", "0x1F", "1e3",
        "2024-01-01", "a: b", "a #b", "#x", "- x", "[x]", "{x}", "x, y", "'q'", '"dq"',
        "tab\there", "line\nbreak", "nel\x85", "ls\u2028", "bom\ufeff", "José García", "O'Neil",
        "D\u2019Amico", "%x", "@x", "`x", "!x", "&x", "*x", "|x", ">x", "?x", "a\\b", "${X}",
    ],
)  # fmt: skip
def test_a_scalar_reads_back_as_the_text(text: str) -> None:
    assert yaml.safe_load(f"k: {scalar(text)}") == {"k": text}
    assert yaml.safe_load(f"{{k: {scalar(text)}, l: [{scalar(text)}]}}") == {
        "k": text,
        "l": [text],
    }
    assert "\n" not in scalar(text)


@given(st.text())
def test_any_text_reads_back_as_itself(text: str) -> None:
    assert yaml.safe_load(f"- {scalar(text)}\n- {{k: {scalar(text)}}}") == [text, {"k": text}]


def test_plain_text_stays_plain() -> None:
    assert [scalar(text) for text in ("Cell Phone", "José", "O'Neil", "utm_term")] == [
        "Cell Phone",
        "José",
        "O'Neil",
        "utm_term",
    ]


def test_the_first_line_names_the_schema() -> None:
    proposal = propose_mapping(DATA / "traps.csv")
    assert proposal.text.startswith("# yaml-language-server: $schema=schema.json\n#\n")


def test_the_sheet_asked_for_is_written(tmp_path: Path) -> None:
    proposal = propose_mapping(ACME, sheet="Leads", sample_rows=20)
    assert "\nread:\n  sheet: Leads\n" in proposal.text
    assert loaded(proposal, tmp_path, ACME).mapping.read.sheet == "Leads"
    assert "(18 columns, 20 rows sampled)" in proposal.text.replace("\n# ", " ")


def test_the_sample_size_must_be_positive() -> None:
    with pytest.raises(UsageError, match="sample_rows must be 1 or more, not 0"):
        propose_mapping(ACME, sample_rows=0)


def test_an_unreadable_file_raises_the_readers_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        propose_mapping(tmp_path / "missing.csv")


def test_comments_hold_no_personal_data() -> None:
    for path in (NEW_VENDOR, LAKESIDE):
        text = propose_mapping(path).text
        without_type_block = "\n".join(
            line for line in text.splitlines() if not line.startswith("  #  ")
        )
        frame = next(open_table(path).chunks).frame
        personal = [
            column
            for column in frame.columns
            if squash(column) not in {"casetype", "practicearea", "leadsource", "town", "province"}
        ]
        for column in personal:
            for value in frame[column]:
                value = value.strip()
                if len(value) > 3 and value != column:
                    assert value not in without_type_block, (column, value)


# ---------------------------------------------------------------- works as it stands

NEW_VENDOR_PROPOSAL = """\
# yaml-language-server: $schema=schema.json
#
# Mapping proposed by `captorra-import init-mapping` for new_vendor.xlsx (13 columns, 16 rows
# sampled). The comment above each field says why it was chosen; the one comment marked REVIEW is
# for a person to decide.
#
# It works as it stands once the two values it reads from the environment are set:
#   export CAPTORRA_ID=123456 CAPTORRA_REFERRER=<your Referrer GUID>
# Then check it on your file before importing:
#   captorra-import check-mapping <this file> new_vendor.xlsx

version: 1

fields:

  # your firm's Captorra account number, read from the environment variable CAPTORRA_ID
  CaptorraId: {value: "${CAPTORRA_ID}"}

  # the GUID Captorra gave this lead source, read from the environment variable CAPTORRA_REFERRER
  Referrer: {value: "${CAPTORRA_REFERRER}"}

  # "Given Name": header synonym of a first name
  First: Given Name

  # "Surname": header synonym of a last name
  Last: Surname

  # "Mobile": header synonym of a cell phone; 100% of 16 sampled values are US phones
  Primary: {column: Mobile, transform: phone}

  # "Email Address": header synonym of an email address; 100% of 16 sampled values are email
  #   addresses
  Email: {column: Email Address, transform: email}

  # "Street Address": header synonym of a street address
  # "Apt": header synonym of an apartment or unit; joined after the street
  Address: {template: "{Street Address} {Apt}"}

  # "Town": header synonym of a city
  City: Town

  # "Province": header synonym of a state; 93% of 16 sampled values are US states
  State: {column: Province, transform: state}

  # "Postal Code": header synonym of a zip code; 93% of 16 sampled values are US zip codes
  Zip: {column: Postal Code, transform: zip}

  # Details: every column no field took, one "Header: value" line each, so the lead loses nothing
  #   (cut at 4,000 characters, with a warning)
  Details:
    columns:
      # "Comments": header synonym of notes; listed first, to be read first
      - Comments
      # "Case Type": kept here until the Type lookup is filled in
      - Case Type
      # "Lead Source": no Captorra field for it
      - Lead Source
    format: labeled

  # REVIEW Type: "Case Type": header synonym of a case type. Captorra wants the GUID of each case
  #   type (from your Captorra settings), so this block is switched off: delete the `# ` before its
  #   lines, write each GUID in place of <GUID>, and take "Case Type" out of Details. Listed: the 5
  #   case types in the sample
  # Type:
  #   column: Case Type
  #   lookup:
  #     Auto Accident: "<GUID>"
  #     Slip and Fall: "<GUID>"
  #     Medical Malpractice: "<GUID>"
  #     Workers Comp: "<GUID>"
  #     Dog Bite: "<GUID>"

  # "utm_term": header synonym of a search term
  ReferringKeyword: utm_term
"""


def test_the_proposal_for_a_new_vendor() -> None:
    proposal = propose_mapping(NEW_VENDOR)
    assert proposal.text == NEW_VENDOR_PROPOSAL
    assert proposal.decisions[4] == Decision(
        "Primary",
        "Mobile",
        "phone",
        "header synonym of a cell phone; 100% of 16 sampled values are US phones",
    )
    assert [(d.field, d.source, d.transform, d.review) for d in proposal.decisions] == [
        ("CaptorraId", None, None, False),
        ("Referrer", None, None, False),
        ("First", "Given Name", None, False),
        ("Last", "Surname", None, False),
        ("Primary", "Mobile", "phone", False),
        ("Email", "Email Address", "email", False),
        ("Address", "Street Address", None, False),
        ("Address", "Apt", None, False),
        ("City", "Town", None, False),
        ("State", "Province", "state", False),
        ("Zip", "Postal Code", "zip", False),
        ("Details", "Comments", None, False),
        ("Details", "Case Type", None, False),
        ("Details", "Lead Source", None, False),
        ("Type", "Case Type", None, True),
        ("ReferringKeyword", "utm_term", None, False),
    ]


@pytest.mark.parametrize(
    ("path", "counts"),
    [
        (ACME, {"valid": 228, "invalid": 7, "duplicate": 5}),
        (LAKESIDE, {"valid": 54, "invalid": 4, "duplicate": 2}),
        (NEW_VENDOR, {"valid": 14, "invalid": 2}),
        (DATA / "traps.csv", {"valid": 4}),
        (DATA / "sniffing.csv", {"valid": 4}),
        (DATA / "awkward_headers.csv", {"valid": 2}),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_propose_write_validate(path: Path, counts: dict[str, int], tmp_path: Path) -> None:
    loaded(propose_mapping(path), tmp_path, path)
    report = import_files(
        ImportJob(inputs=(path,), mapping=tmp_path / "proposed.yaml", output=tmp_path / "r.xlsx")
    )
    assert report.exit_code == (1 if set(counts) - {"valid"} else 0)
    assert dict(report.files[0].counts) == counts


@pytest.mark.parametrize(
    ("path", "hand_written"),
    [(ACME, "example.yaml"), (LAKESIDE, "lakeside.yaml")],
    ids=["acme", "lakeside"],
)
def test_the_proposal_sends_what_the_hand_written_mapping_sends(
    path: Path, hand_written: str, tmp_path: Path
) -> None:
    proposed = loaded(propose_mapping(path), tmp_path, path)
    ours = preview_mapping(proposed, path, rows=1000).rows
    theirs = preview_mapping(load_mapping(ROOT / "mappings" / hand_written), path, rows=1000).rows
    assert len(ours) == len(theirs) == (240 if path == ACME else 60)
    for field in ("First", "Last", "Primary", "Secondary", "Email", "Address", "State", "Zip"):
        assert [row.payload.get(field) for row in ours] == [
            row.payload.get(field) for row in theirs
        ], field


def test_the_new_vendors_valid_rows_carry_the_right_values(tmp_path: Path) -> None:
    preview = preview_mapping(loaded(propose_mapping(NEW_VENDOR), tmp_path, NEW_VENDOR), NEW_VENDOR)
    by_row = {row.source_row: row for row in preview.rows}
    assert by_row[9].status == "invalid"
    assert by_row[9].error == "Last: required"
    for number, written in enumerate(FIXTURES.NEW_VENDOR_ROWS[:10], start=2):
        if number == 9:
            continue
        payload = by_row[number].payload
        assert by_row[number].status == "valid"
        assert (payload["First"], payload["Last"], payload["Email"]) == (
            written[0],
            written[1],
            str(written[3]).strip().lower(),
        )
        assert payload["Primary"] == re.sub(r"[^0-9]", "", str(written[2]))[-10:]
    assert by_row[2].payload == {
        "CaptorraId": CAPTORRA_ID,
        "First": "Maria",
        "Last": "Lopez",
        "Referrer": REFERRER,
        "Primary": "2155550101",
        "Email": "maria.lopez@mail.example",
        "Address": "12 Oak St Apt 3",
        "City": "Camden",
        "State": "NJ",
        "Zip": "08102",
        "Details": "Comments: Rear-ended on Route 73.\nCase Type: Auto Accident\n"
        "Lead Source: Facebook",
        "ReferringKeyword": "car crash lawyer",
    }


# ---------------------------------------------------------------- preview


def test_preview_shows_the_first_rows_as_they_would_be_sent() -> None:
    preview = preview_mapping(load_mapping(ROOT / "mappings" / "example.yaml"), ACME, rows=3)
    assert [(row.source_row, row.status, row.error) for row in preview.rows] == [
        (2, "valid", ""),
        (3, "invalid", "First: 53 characters, limit 50"),
        (4, "valid", ""),
    ]
    first = preview.rows[0]
    assert (first.payload["CaptorraId"], first.payload["First"], first.payload["Last"]) == (
        CAPTORRA_ID,
        "Agnieszka",
        "Smith",
    )
    assert preview.rows[1].payload["Type"] == "8a6d4e2f-1b3c-4f5a-8d7e-9c2b1a0f3e02"
    assert "BestTime" not in first.payload  # empty fields are not sent
    assert preview.unused_columns == ()
    assert preview.headers["E-mail"] == "E-mail"
    assert preview.notes == ()


def test_preview_agrees_with_validate(tmp_path: Path) -> None:
    mapping = load_mapping(ROOT / "mappings" / "lakeside.yaml")
    preview = preview_mapping(mapping, LAKESIDE, rows=100)
    assert preview.notes == ()  # the mapping names the encoding: nothing guessed
    import_files(ImportJob(inputs=(LAKESIDE,), mapping=mapping.path, output=tmp_path / "r.xlsx"))
    results = read_sheet(tmp_path / "r.xlsx")
    assert len(preview.rows) == len(results) == 60
    for row, result in zip(preview.rows, results, strict=True):
        assert row.source_row == result["Source Row"]
        assert row.warnings == (result["Warnings"] or "")
        if result["Status"] != "duplicate":  # duplicates are a whole-file matter
            assert (row.status, row.error) == (result["Status"], result["Error"] or "")


def test_preview_names_the_columns_the_mapping_does_not_read(tmp_path: Path) -> None:
    mapping = tmp_path / "small.yaml"
    mapping.write_text(
        "version: 1\nfields:\n"
        '  CaptorraId: {value: "1"}\n  Referrer: {value: "${CAPTORRA_REFERRER}"}\n'
        "  First: Given Name\n  Last: Surname\n",
        encoding="utf-8",
    )
    preview = preview_mapping(load_mapping(mapping), NEW_VENDOR, rows=2)
    assert preview.unused_columns == FIXTURES.NEW_VENDOR_HEADER[2:]
    assert [row.payload for row in preview.rows] == [
        {"CaptorraId": "1", "First": "Maria", "Last": "Lopez", "Referrer": REFERRER},
        {"CaptorraId": "1", "First": "James", "Last": "O'Neil", "Referrer": REFERRER},
    ]


def test_preview_of_a_file_that_lacks_a_header_raises_the_mapping_error() -> None:
    mapping = load_mapping(ROOT / "mappings" / "example.yaml")
    with pytest.raises(MappingError, match=r"new_vendor.xlsx has no column 'First Name'"):
        preview_mapping(mapping, NEW_VENDOR)


def test_preview_of_no_rows_checks_the_headers_only() -> None:
    preview = preview_mapping(load_mapping(ROOT / "mappings" / "example.yaml"), ACME, rows=0)
    assert preview.rows == ()
    assert preview.headers["Lead ID"] == "Lead ID"
    with pytest.raises(UsageError, match="rows must be 0 or more, not -1"):
        preview_mapping(load_mapping(ROOT / "mappings" / "example.yaml"), ACME, rows=-1)


def test_preview_reads_the_sheet_asked_for(tmp_path: Path) -> None:
    proposal = propose_mapping(ACME, sample_rows=5)
    preview = preview_mapping(loaded(proposal, tmp_path, ACME), ACME, rows=2, sheet="Leads")
    assert [row.source_row for row in preview.rows] == [2, 3]


# ---------------------------------------------------------------- fixtures


def test_committed_fixtures_are_what_the_script_writes(tmp_path: Path) -> None:
    FIXTURES.main(tmp_path)
    written = sorted(path.name for path in tmp_path.iterdir())
    committed = [path.name for path in DATA.iterdir() if path.is_file() and path.suffix != ".py"]
    assert written == sorted(committed)
    for name in written:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
