"""Files without a header row, and titles above the header row (importer.reading.sniffing).

Every fixture is written by the test. What is checked beyond the reading: a
headerless file is refused with one line that holds no cell value, `--no-header`
gives every row a status, and nothing personal reaches a mapping or the screen.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.errors import InputFileError, NoHeaderRowError
from importer.reading import ReadOptions, open_table
from importer.reading.sniffing import kind, looks_like_data, title_rows
from tests.leads import LEAD_HEADER, lead_rows, read_sheet

ROWS = lead_rows(4)
# Every value a person could recognise: none may be printed or written as a header.
PERSONAL = {value for row in ROWS for value in row[1:5]}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def write_rows(path: Path, rows: list[tuple[str, ...]] | list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[tuple[str, ...]] | list[list[str]]) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Leads")
    for number, row in enumerate(rows):
        sheet.write_row(number, 0, row)
    workbook.close()
    return path


@pytest.fixture
def headerless(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "leads.csv", ROWS)


HEADERLESS_MAPPING = """\
version: 1
read:
  header_row: 0
fields:
  CaptorraId: {value: "${CAPTORRA_ID}"}
  Referrer: {value: "123e4567-e89b-12d3-a456-426655440000"}
  First: Column 2
  Last: Column 3
  Primary: {column: Column 4, transform: phone}
  Email: {column: Column 5, transform: email}
  ID: Column 1
"""


def refusal(path: Path, where: str = "") -> str:
    return (
        f"{path}: {where}seems to have no header row (row 1 looks like a lead, not column "
        "names); if so, add `header_row: 0` under `read:` in the mapping or use --no-header, "
        "and every row is read as a lead"
    )


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ann@mail.example", "email"),
        ("https://example.com/form", "url"),
        ("www.example.com", "url"),
        ("(215) 555-0001", "phone"),
        ("2155550001", "phone"),
        ("1/22/2025", "date"),
        ("2025-01-22 14:34", "date"),
        ("$1,960.00", "number"),
        ("97.4%", "number"),
        ("08001", "number"),
        ("First Name", ""),
        ("Phone 2", ""),
        ("E-mail", ""),
        ("", ""),
    ],
)
def test_kind_tells_data_from_header_words(value: str, expected: str) -> None:
    assert kind(value) == expected


def test_header_words_are_not_data() -> None:
    assert not looks_like_data(list(LEAD_HEADER), [list(row) for row in ROWS])


def test_a_lead_in_the_header_row_is_data() -> None:
    assert looks_like_data(list(ROWS[0]), [list(row) for row in ROWS[1:]])


def test_numbered_columns_over_words_are_headers() -> None:
    # Some sheets number their columns: the values below are not numbers, so 1, 2, 3 are names.
    assert not looks_like_data(["1", "2", "3"], [["Ann", "Lee", "Austin"]] * 3)


def test_a_title_row_is_skipped_when_the_header_row_follows() -> None:
    assert title_rows(["Leads for March", "", ""], [["", ""], ["First", "Last", "Phone"]]) == 2
    assert title_rows(["First", "Last", "Phone"], [["Ann", "Lee", "1"]]) == 0
    assert title_rows(["Email"], [["a@b.example"], ["c@d.example"]]) == 0


# ---------------------------------------------------------------- reading


def test_a_headerless_csv_is_refused_without_printing_a_value(headerless: Path) -> None:
    # Its own kind of InputFileError: the page reads such a file without a header row.
    with pytest.raises(NoHeaderRowError) as raised:
        open_table(headerless)
    assert str(raised.value) == refusal(headerless)
    assert not any(value in str(raised.value) for value in PERSONAL)


def test_even_a_mapping_that_names_row_1_is_refused(headerless: Path) -> None:
    with pytest.raises(InputFileError) as raised:
        open_table(headerless, ReadOptions(header_row=1))
    assert str(raised.value) == refusal(headerless)


def test_a_headerless_workbook_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "leads.xlsx", ROWS)
    with pytest.raises(NoHeaderRowError) as raised:
        open_table(path)
    assert str(raised.value) == refusal(path, "sheet 'Leads' ")


@pytest.mark.parametrize("writer", [write_rows, write_xlsx])
def test_header_row_0_reads_every_row_as_a_lead(tmp_path: Path, writer: object) -> None:
    suffix = ".csv" if writer is write_rows else ".xlsx"
    path = writer(tmp_path / f"leads{suffix}", ROWS)  # type: ignore[operator]
    table = open_table(path, ReadOptions(header_row=0, chunk_rows=3))
    assert table.columns == [f"Column {n}" for n in range(1, 8)]
    frames = list(table.chunks)
    rows = {int(row): list(values) for frame in frames for row, values in frame.frame.iterrows()}
    assert rows == {number: list(row) for number, row in enumerate(ROWS, start=1)}


def test_a_title_above_the_header_row_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "report.xlsx", [["Leads for March"], [], LEAD_HEADER, *ROWS])
    table = open_table(path)
    assert table.columns == list(LEAD_HEADER)
    assert [int(row) for chunk in table.chunks for row in chunk.frame.index] == [4, 5, 6, 7]
    assert table.notes == [
        "report.xlsx: row 1 looks like a title; read the column names from row 3 "
        "(set `read: header_row` in the mapping to choose another row)"
    ]


# ---------------------------------------------------------------- commands


def test_validate_stops_with_exit_2_and_one_line(headerless: Path, mapping_file: Path) -> None:
    result = invoke("validate", headerless, "--mapping", mapping_file)
    assert result.exit_code == 2
    assert result.output == f"error: {refusal(headerless)}\n"


def test_no_header_gives_every_row_a_status(headerless: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "headerless.yaml"
    mapping.write_text(HEADERLESS_MAPPING.replace("  header_row: 0\n", "  sheet: 0\n"))
    out = tmp_path / "out.xlsx"
    result = invoke("validate", headerless, "-m", mapping, "--no-header", "-o", out)
    assert result.exit_code == 0, result.output
    rows = read_sheet(out)
    assert [row["Source Row"] for row in rows] == [1, 2, 3, 4]
    assert [row["Status"] for row in rows] == ["valid"] * 4


def test_read_header_row_0_in_the_mapping_runs(headerless: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "headerless.yaml"
    mapping.write_text(HEADERLESS_MAPPING)
    out = tmp_path / "out.xlsx"
    result = invoke("run", headerless, "-m", mapping, "--sandbox", "-o", out)
    assert result.exit_code == 0, result.output
    assert [row["Status"] for row in read_sheet(out)] == ["posted"] * 4


def test_init_mapping_refuses_a_headerless_file(headerless: Path, tmp_path: Path) -> None:
    result = invoke("init-mapping", headerless, "-o", tmp_path / "m.yaml")
    assert result.exit_code == 2
    assert result.output == f"error: {refusal(headerless)}\n"
    assert not (tmp_path / "m.yaml").exists()


def test_init_mapping_no_header_proposes_from_values_alone(
    headerless: Path, tmp_path: Path
) -> None:
    target = tmp_path / "m.yaml"
    result = invoke("init-mapping", headerless, "--no-header", "-o", target)
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert "read:\n" in text
    assert "  header_row: 0\n" in text
    assert "Email: {column: Column 5, transform: email}" in text
    assert "Primary: {column: Column 4, transform: phone}" in text
    for value in PERSONAL:
        assert value not in text
        assert value not in result.output


def test_no_header_and_header_row_together_are_a_usage_error(headerless: Path) -> None:
    result = invoke("init-mapping", headerless, "--no-header", "--header-row", "2")
    assert result.exit_code == 2
    assert "use --header-row or --no-header, not both" in result.output
