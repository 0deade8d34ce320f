"""The mapping file: loading it (every mistake is one exact message) and applying it.

Each failure mode has its own small file under `tests/data/mappings/`; the
messages name the file, the line and the key, as a person fixing the file needs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.errors import MappingError
from importer.mapping import (
    FieldSpec,
    LoadedMapping,
    Mapped,
    Mapping,
    apply_mapping,
    load_mapping,
    loose_header,
    resolve_headers,
)
from importer.transforms import TRANSFORMS
from importer.validation import validate

DATA = Path(__file__).parent / "data" / "mappings"
ROOT = Path(__file__).parent.parent
REFERRER = "123e4567-e89b-12d3-a456-426655440000"
AUTO = "3f2b8c1e-5a47-4d9b-9e21-6c0f7a1d2b01"
SLIP = "8a6d4e2f-1b3c-4f5a-8d7e-9c2b1a0f3e02"

HEAD = f"""\
version: 1
fields:
  CaptorraId: {{value: "123456"}}
  Referrer: {{value: {REFERRER}}}
  First: First Name
  Last: Last Name
"""


def load(
    tmp_path: Path, extra: str = "", *, environ: dict[str, str] | None = None
) -> LoadedMapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(HEAD + extra, encoding="utf-8")
    return load_mapping(path, environ=environ or {})


def mapped(loaded: LoadedMapping, **columns: list[str]) -> Mapped:
    """Apply the mapping to rows given column by column (keyword = header, `_` = space)."""
    data = {
        name.replace("_", " "): pd.array(values, dtype="str") for name, values in columns.items()
    }
    rows = len(next(iter(data.values())))
    data.setdefault("First Name", pd.array(["Ann"] * rows, dtype="str"))
    data.setdefault("Last Name", pd.array(["Lee"] * rows, dtype="str"))
    frame = pd.DataFrame(data, index=pd.RangeIndex(2, 2 + rows, name="Source Row"))
    headers = resolve_headers(loaded, list(frame.columns), Path("leads.csv"))
    return apply_mapping(loaded.mapping, frame, headers)


def error_of(name: str, *, environ: dict[str, str] | None = None) -> str:
    path = DATA / name
    with pytest.raises(MappingError) as raised:
        load_mapping(path, environ=environ or {})
    return str(raised.value).replace(str(path), name)


# ---------------------------------------------------------------- mapping errors

TRANSFORM_NAMES = (
    "upper, lower, title, digits, phone, email, state, zip, first_name, last_name, guid, date"
)


MISTAKES = [
    (
        "yaml_syntax.yaml",
        "yaml_syntax.yaml, line 6: not valid YAML (expected ',' or ']', but got ':', "
        "while parsing a flow sequence that starts on line 5)",
    ),
    (
        "unknown_field.yaml",
        "unknown_field.yaml, line 7, fields.Emial: 'Emial' is not a Captorra field; "
        "did you mean Email? (`captorra-import fields` lists them)",
    ),
    (
        "unknown_transform.yaml",
        "unknown_transform.yaml, line 9, fields.Primary.transform: unknown transform "
        f"'phnoe'; did you mean phone? choose one of {TRANSFORM_NAMES}",
    ),
    (
        "unknown_option.yaml",
        "unknown_option.yaml, line 8, fields.Primary.colum: unknown option 'colum'; "
        "check its spelling (see the README)",
    ),
    (
        "two_sources.yaml",
        "two_sources.yaml, line 7, fields.Primary: a field needs exactly one of column, "
        "columns, template or value (given: column and value)",
    ),
    (
        "no_source.yaml",
        "no_source.yaml, line 7, fields.Primary: a field needs exactly one of column, "
        "columns, template or value (given: none)",
    ),
    (
        "required_field_missing.yaml",
        "required_field_missing.yaml, line 2, fields: Captorra requires Referrer but the "
        "mapping gives no source for it",
    ),
    (
        "unset_variable.yaml",
        "unset_variable.yaml, line 5, fields.Referrer.value: environment variable "
        "CAPTORRA_TEST_UNSET is not set; set it (export CAPTORRA_TEST_UNSET=...) or write "
        "the value in the mapping",
    ),
    ("version_missing.yaml", "version_missing.yaml, version: is missing"),
    (
        "version_wrong.yaml",
        "version_wrong.yaml, line 1, version: must be 1 (the mapping format this importer "
        "reads), not 2",
    ),
    (
        "lead_key_unknown.yaml",
        "lead_key_unknown.yaml, line 7, lead_key.1: 'LeadId' is not a Captorra field "
        "(`captorra-import fields` lists them)",
    ),
    (
        "lead_key_unmapped.yaml",
        "lead_key_unmapped.yaml, line 7, lead_key: lead_key names ID, which the mapping "
        "does not map; map it under fields: or leave it out of lead_key",
    ),
    (
        "empty.yaml",
        "empty.yaml: a mapping file must be a YAML mapping with `version: 1` and `fields:`",
    ),
    (
        "list.yaml",
        "list.yaml: a mapping file must be a YAML mapping with `version: 1` and `fields:`",
    ),
    (
        "python_object.yaml",
        "python_object.yaml, line 3: not valid YAML (could not determine a constructor for "
        "the tag 'tag:yaml.org,2002:python/object/apply:os.system')",
    ),
    (
        "duplicate_key.yaml",
        "duplicate_key.yaml, line 7, fields.First: written twice (also line 5); YAML would "
        "silently use the last one, so keep one",
    ),
    (
        "template_brace.yaml",
        "template_brace.yaml, line 7, fields.Address.template: expected '}' before end of "
        "string; write a literal brace as {{ or }}",
    ),
    (
        "template_format_spec.yaml",
        "template_format_spec.yaml, line 7, fields.BestTime.template: {Time:Best} is not a "
        "plain {Header}; a header with ':' or '!' cannot be used in a template (use "
        "columns: instead)",
    ),
    (
        "columns_empty.yaml",
        "columns_empty.yaml, line 7, fields.Details.columns: needs at least one entry",
    ),
    (
        "state_truncate.yaml",
        "state_truncate.yaml, line 2, fields: State cannot be truncated: cutting a name to "
        "two letters makes another state; remove on_overflow and use transform: state",
    ),
    (
        "lookup_ambiguous.yaml",
        "lookup_ambiguous.yaml, line 9, fields.Type.lookup: 'Auto Accident' and 'auto "
        "accident' are the same name to the lookup (which ignores case and outer spaces); "
        "keep one",
    ),
    (
        "read_encoding.yaml",
        "read_encoding.yaml, line 2, read.encoding: unknown encoding 'latin-9000'; use auto, "
        "utf-8, cp1252, utf-16, ...",
    ),
    (
        "read_delimiter.yaml",
        "read_delimiter.yaml, line 3, read.delimiter: must be auto or one character (a tab "
        "is \"\\t\"), not ';;'",
    ),
    (
        "recursive_alias.yaml",
        "recursive_alias.yaml, line 8, fields.Details.columns.1: Input should be a valid string",
    ),
]


@pytest.mark.parametrize(("name", "message"), MISTAKES)
def test_a_mapping_mistake_is_one_message(name: str, message: str) -> None:
    assert error_of(name) == message


def test_every_failure_fixture_is_tested() -> None:
    tested = {"valid.yaml", "everything.yaml"} | {name for name, _ in MISTAKES}
    assert {path.name for path in DATA.glob("*.yaml")} == tested


def test_a_mapping_that_is_not_there(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(MappingError) as raised:
        load_mapping(path, environ={})
    assert str(raised.value) == f"{path}: mapping file not found; check the path"


def test_an_unset_variable_in_a_lookup_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as raised:
        load(tmp_path, "  Type:\n    column: Case Type\n    lookup: {Auto: '${AUTO_GUID}'}\n")
    assert str(raised.value) == (
        f"{tmp_path / 'mapping.yaml'}, line 9, fields.Type.lookup.Auto: environment variable "
        "AUTO_GUID is not set; set it (export AUTO_GUID=...) or write the value in the mapping"
    )


def test_yaml_tags_cannot_build_python_objects(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    for tag in ("!!python/object:os.system", "!!python/name:os.system", "!!python/tuple"):
        path.write_text(HEAD + f"  ID: {tag} [x]\n", encoding="utf-8")
        with pytest.raises(MappingError, match="not valid YAML"):
            load_mapping(path, environ={})


# ---------------------------------------------------------------- what the loader reads


def test_yes_no_and_on_stay_text_and_only_true_false_are_booleans(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "  Type:\n    column: Case Type\n    required: true\n"
        f"    lookup: {{Yes: {AUTO}, No: {SLIP}, on: {AUTO}, off: {SLIP}, true: {AUTO}}}\n",
    )
    spec = loaded.mapping.fields["Type"]
    assert spec.required is True
    assert spec.lookup == {"Yes": AUTO, "No": SLIP, "on": AUTO, "off": SLIP, "true": AUTO}


def test_numbers_and_dates_are_text_as_written(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "version: 1\nread: {header_row: 2, sheet: 0}\nfields:\n"
        "  CaptorraId: {value: 012345}\n"
        f"  Referrer: {{value: {REFERRER}}}\n"
        "  First: First Name\n  Last: Last Name\n"
        "  Keyword: {value: 2024.10}\n"
        "  ReferringKeyword: {value: 2024-10-01}\n"
        "  Zip: {column: Zip, default: 07030}\n"
        "  County: {column: 7, lookup: {1: One, 007: Seven}}\n",
        encoding="utf-8",
    )
    mapping = load_mapping(path, environ={}).mapping
    assert (mapping.read.header_row, mapping.read.sheet) == (2, 0)
    fields = mapping.fields
    # Before: 012345 was read as the octal number 5349, 2024.10 as 2024.1, and a date
    # was refused as not text.
    assert fields["CaptorraId"].value == "012345"
    assert fields["Keyword"].value == "2024.10"
    assert fields["ReferringKeyword"].value == "2024-10-01"
    assert fields["Zip"].default == "07030"
    assert fields["County"].column == "7"
    assert fields["County"].lookup == {"1": "One", "007": "Seven"}


def test_a_number_as_a_value_is_text(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(HEAD.replace('{value: "123456"}', "{value: 123456}"), encoding="utf-8")
    assert load_mapping(path, environ={}).mapping.fields["CaptorraId"].value == "123456"


def test_variables_expand_in_values_defaults_and_lookups(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "  Type:\n    column: Case Type\n    default: ${SLIP}\n"
        "    lookup: {Auto Accident: '${AUTO}', Other: 'x-${AUTO}'}\n"
        "  Keyword: {value: 'Acme ${SEASON} ${YEAR}'}\n",
        environ={"AUTO": AUTO, "SLIP": SLIP, "SEASON": "spring", "YEAR": "2024"},
    )
    fields = loaded.mapping.fields
    assert fields["Type"].default == SLIP
    assert fields["Type"].lookup == {"Auto Accident": AUTO, "Other": f"x-{AUTO}"}
    assert fields["Keyword"].value == "Acme spring 2024"


def test_the_example_mappings_load() -> None:
    environ = {"CAPTORRA_ID": "123456", "CAPTORRA_REFERRER": REFERRER}
    for name in ("example.yaml", "lakeside.yaml"):
        loaded = load_mapping(ROOT / "mappings" / name, environ=environ)
        assert loaded.mapping.fields["CaptorraId"].value == "123456"
        assert loaded.mapping.lead_key == ["CaptorraId", "ID"]


def test_field_spec_headers() -> None:
    assert FieldSpec(template="{Street} {{x}} {Unit}").headers() == ["Street", "Unit"]
    assert FieldSpec(columns=["Notes", "Injured?"]).headers() == ["Notes", "Injured?"]
    assert FieldSpec(value="x").headers() == []


# ---------------------------------------------------------------- headers


def test_a_missing_header_names_the_closest_ones() -> None:
    loaded = load_mapping(DATA / "valid.yaml", environ={})
    columns = ["First Name", "Last Name", "Phone Number", "Cell Phone", "E-mail"]
    with pytest.raises(MappingError) as raised:
        resolve_headers(loaded, columns, Path("/inbox/leads.csv"))
    assert str(raised.value) == (
        f"{DATA / 'valid.yaml'}, line 7, fields.Primary.column: leads.csv has no column "
        "'Phone'; closest: 'Cell Phone', 'Phone Number'"
    )


def test_headers_match_loosely_when_that_is_unambiguous() -> None:
    loaded = load_mapping(DATA / "valid.yaml", environ={})
    columns = ["first_name", " LAST  NAME ", "Phone"]
    assert resolve_headers(loaded, columns, Path("leads.csv")) == {
        "First Name": "first_name",
        "Last Name": " LAST  NAME ",
        "Phone": "Phone",
    }
    assert loose_header(" First_Name\t") == loose_header("first  name") == "first name"


def test_an_ambiguous_loose_header_is_a_mapping_error() -> None:
    loaded = load_mapping(DATA / "valid.yaml", environ={})
    with pytest.raises(MappingError) as raised:
        resolve_headers(loaded, ["First Name", "Last Name", "phone", "PHONE"], Path("leads.csv"))
    assert str(raised.value) == (
        f"{DATA / 'valid.yaml'}, line 7, fields.Primary.column: leads.csv has no column 'Phone' "
        "but several that differ from it only in case or spacing ('phone', 'PHONE'); write the "
        "one you mean exactly"
    )


def test_headers_of_templates_and_columns_are_resolved(tmp_path: Path) -> None:
    loaded = load(
        tmp_path, "  Address: {template: '{Street} {Unit}'}\n  Details: {columns: [Notes]}\n"
    )
    with pytest.raises(MappingError) as raised:
        resolve_headers(loaded, ["First Name", "Last Name", "Street", "Notes"], Path("a.csv"))
    assert str(raised.value) == (
        f"{tmp_path / 'mapping.yaml'}, line 7, fields.Address.template: a.csv has no column 'Unit'"
    )


# ---------------------------------------------------------------- applying


def test_a_column_is_trimmed(tmp_path: Path) -> None:
    result = mapped(load(tmp_path), First_Name=["  Ann ", "", "\tBo"])
    assert list(result.values["First"]) == ["Ann", "", "Bo"]
    assert list(result.values.columns) == ["CaptorraId", "First", "Last", "Referrer"]
    assert list(result.values.index) == [2, 3, 4]


def test_a_value_is_the_same_for_every_row(tmp_path: Path) -> None:
    result = mapped(load(tmp_path, "  Keyword: {value: ' Acme leads '}\n"), First_Name=["A", "B"])
    assert list(result.values["Keyword"]) == ["Acme leads", "Acme leads"]
    assert list(result.values["CaptorraId"]) == ["123456", "123456"]


def test_columns_are_joined_skipping_empty_cells(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "  Address: {columns: [Street, Unit]}\n  BestTime: {columns: [Day, Time], join: ', '}\n",
    )
    result = mapped(
        loaded,
        Street=["1 Main St ", "2 Oak Ave", ""],
        Unit=["Apt 4", "", " "],
        Day=["Mon", "", "Tue"],
        Time=["9am", "noon", ""],
    )
    assert list(result.values["Address"]) == ["1 Main St Apt 4", "2 Oak Ave", ""]
    assert list(result.values["BestTime"]) == ["Mon, 9am", "noon", "Tue"]


def test_labeled_details_have_one_line_per_non_empty_cell(tmp_path: Path) -> None:
    loaded = load(
        tmp_path, '  Details: {columns: [Notes, Accident Date, "Injured?"], format: labeled}\n'
    )
    result = mapped(
        loaded,
        Notes=["Rear-ended\non I-95", "", ""],
        Accident_Date=["03/02/2024", "", ""],
        **{"Injured?": ["Yes", " No ", ""]},
    )
    assert list(result.values["Details"]) == [
        "Notes: Rear-ended\non I-95\nAccident Date: 03/02/2024\nInjured?: Yes",
        "Injured?: No",
        "",
    ]


def test_a_template_collapses_whitespace(tmp_path: Path) -> None:
    loaded = load(tmp_path, "  Address: {template: '{Street}, {Unit} ({City})'}\n")
    result = mapped(
        loaded,
        Street=["12  Main\tSt", "3 Elm Rd"],
        Unit=["", "Apt\u00a07"],
        City=[" Camden ", "Media"],
    )
    assert list(result.values["Address"]) == ["12 Main St, ( Camden )", "3 Elm Rd, Apt 7 (Media)"]


def test_transforms_apply_in_order(tmp_path: Path) -> None:
    loaded = load(tmp_path, "  City: {column: City, transform: [lower, title]}\n")
    assert list(mapped(loaded, City=["CHERRY HILL", "mount laurel"]).values["City"]) == [
        "Cherry Hill",
        "Mount Laurel",
    ]


def test_a_lookup_matches_trimmed_and_ignoring_case(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        f"  Type:\n    column: Case Type\n    lookup: {{Auto Accident: {AUTO}, ' Slip and Fall': "
        f"{SLIP.upper()}}}\n",
    )
    result = mapped(loaded, Case_Type=[" auto ACCIDENT ", "slip and fall", "", "Dog Bite"])
    assert list(result.values["Type"]) == [AUTO, SLIP, "", ""]
    assert list(result.notes.errors()) == ["", "", "", 'Type: "Dog Bite" is not in the lookup']


def test_a_default_fills_an_empty_result(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        f"  Type:\n    column: Case Type\n    lookup: {{Auto Accident: {AUTO}}}\n"
        f"    default: '{{{SLIP.upper()}}}'\n"
        "  BestTime: {column: Best Time, default: anytime}\n",
    )
    result = mapped(loaded, Case_Type=["Auto Accident", ""], Best_Time=["", "9am"])
    assert list(result.values["Type"]) == [AUTO, SLIP]
    assert list(result.values["BestTime"]) == ["anytime", "9am"]


def test_guid_fields_are_always_canonical(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        HEAD.replace(REFERRER, "'{" + REFERRER.upper() + "}'") + "  Type: {column: Case Type}\n",
        encoding="utf-8",
    )
    loaded = load_mapping(path, environ={})
    result = mapped(loaded, Case_Type=[AUTO.upper().replace("-", ""), "", "not a guid"])
    assert list(result.values["Referrer"]) == [REFERRER] * 3
    assert list(result.values["Type"]) == [AUTO, "", "not a guid"]


def test_details_and_tracking_are_cut_with_a_warning(tmp_path: Path) -> None:
    loaded = load(tmp_path, "  Details: Notes\n  Tracking: Source\n")
    result = mapped(loaded, Notes=["x" * 4_100, "short"], Source=["y" * 4_000, "z" * 4_001])
    assert list(result.values["Details"].str.len()) == [4_000, 5]
    assert list(result.values["Tracking"].str.len()) == [4_000, 4_000]
    assert list(result.notes.warnings()) == [
        "Details: 4,100 characters cut to 4,000",
        "Tracking: 4,001 characters cut to 4,000",
    ]
    assert list(result.notes.errors()) == ["", ""]


def test_on_overflow_chooses_between_cutting_and_rejecting(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "  Keyword: {column: Campaign, on_overflow: truncate}\n"
        "  Details: {column: Notes, on_overflow: reject}\n",
    )
    result = mapped(loaded, Campaign=["c" * 51], Notes=["n" * 4_001])
    assert list(result.values["Keyword"]) == ["c" * 50]
    assert list(result.values["Details"]) == ["n" * 4_001]
    assert list(result.notes.warnings()) == ["Keyword: 51 characters cut to 50"]
    validate(loaded.mapping, result)
    assert list(result.notes.errors()) == ["Details: 4,001 characters, limit 4,000"]


def test_a_frame_that_is_not_text_is_read_as_text(tmp_path: Path) -> None:
    loaded = load(tmp_path, "  Zip: {column: Zip, transform: zip}\n")
    frame = pd.DataFrame(
        {"First Name": ["Ann", None], "Last Name": ["Lee", "Bo"], "Zip": [7030, None]},
        index=pd.RangeIndex(2, 4),
    )
    result = apply_mapping(
        loaded.mapping, frame, resolve_headers(loaded, list(frame.columns), Path("x"))
    )
    assert list(result.values["First"]) == ["Ann", ""]
    assert list(result.values["Zip"]) == ["07030", ""]


def test_no_rows(tmp_path: Path) -> None:
    loaded = load(tmp_path, "  State: {column: State, transform: state}\n")
    result = mapped(loaded, State=[])
    assert result.values.shape == (0, 5)
    validate(loaded.mapping, result)
    assert list(result.notes.errors()) == []


HEADERS = ["First Name", "Last Name", "Phone", "Email", "Street", "Unit", "City", "State"]
HEADERS += ["Zip", "Name", "Notes", "Case Type", "ID"]
CELL = st.text(st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", " ", "(215) 555-0134", "7030", "pa", "Xyz", "Auto Accident", "Smith, John", "x" * 60]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(CELL, min_size=len(HEADERS), max_size=len(HEADERS)), max_size=4))
def test_mapping_and_validating_never_raise(rows: list[list[str]]) -> None:
    loaded = EVERYTHING
    frame = pd.DataFrame(
        {
            header: pd.array([row[i] for row in rows], dtype="str")
            for i, header in enumerate(HEADERS)
        },
        index=pd.RangeIndex(2, 2 + len(rows)),
    )
    result = apply_mapping(loaded.mapping, frame, {header: header for header in HEADERS})
    validate(loaded.mapping, result)
    errors, warnings = result.notes.errors(), result.notes.warnings()
    assert len(errors) == len(warnings) == len(rows)
    assert all(isinstance(text, str) for text in [*errors, *warnings])
    assert all(result.values.dtypes == "str")


EVERYTHING = load_mapping(DATA / "everything.yaml", environ={})


def test_the_property_mapping_uses_every_transform() -> None:
    used = {name for spec in EVERYTHING.mapping.fields.values() for name in spec.transform}
    assert used == set(TRANSFORMS)


def test_control_characters_are_no_part_of_a_value() -> None:
    loaded = Mapping.model_validate(
        {
            "version": 1,
            "fields": {
                "CaptorraId": {"value": "1"},
                "First": "A",
                "Last": "B",
                "Referrer": {"value": "123e4567-e89b-12d3-a456-426655440000"},
                "Details": "C",
            },
        }
    )
    frame = pd.DataFrame(
        {"A": ["An\x00n", "\x00"], "B": ["Lee\x1b", "Ray"], "C": ["line 1\r\nline\t2\x07", ""]},
        dtype="str",
    )
    values = apply_mapping(loaded, frame, {"A": "A", "B": "B", "C": "C"}).values
    assert values["First"].tolist() == ["Ann", ""]
    assert values["Last"].tolist() == ["Lee", "Ray"]
    assert values["Details"].tolist() == ["line 1\r\nline\t2", ""]
