"""A results workbook as the next input (importer.reading.earlier): fix rows, import again."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.errors import InputFileError
from importer.reading import ReadOptions, open_table
from tests.leads import LEAD_HEADER, MAPPING, lead_rows, read_sheet, write_csv

# A vendor's own Status column: the results call it "Status (input)".
HEADER = (*LEAD_HEADER, "Status")
INPUT_COLUMNS = [*LEAD_HEADER, "Status (input)"]
OUTCOME = ["Source Row", "Status", "IntakeID", "Error", "Warnings"]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


@pytest.fixture
def vendor_file(tmp_path: Path) -> Path:
    rows = [(*row, "vendor ok") for row in lead_rows(4)]
    rows[1] = ("L00002", "", "Last2", "2155550002", "x@mail.example", "pa", "Auto Accident", "")
    return write_csv(tmp_path / "leads.csv", rows, HEADER)


@pytest.fixture
def sheet_mapping(tmp_path: Path) -> Path:
    """A mapping written for the vendor's workbook: it names a sheet the results lack."""
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING.replace("version: 1\n", "version: 1\nread:\n  sheet: Leads\n"))
    return path


def run(source: Path, mapping: Path, out: Path, *extra: str) -> list[dict[str, object]]:
    journal = source.parent / "journal.sqlite3"
    result = invoke(
        "run", source, "-m", mapping, "--sandbox", "--journal", journal, "-o", out, *extra
    )
    assert result.exit_code in (0, 1), result.output
    return read_sheet(out)  # type: ignore[return-value]


def test_the_results_round_trip_twice(
    vendor_file: Path, sheet_mapping: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(MAPPING)
    first = run(vendor_file, plain, tmp_path / "r1.xlsx")
    second = run(tmp_path / "r1.xlsx", sheet_mapping, tmp_path / "r2.xlsx")
    third = run(tmp_path / "r2.xlsx", sheet_mapping, tmp_path / "r3.xlsx")
    for rows in (first, second, third):
        assert list(rows[0]) == [*INPUT_COLUMNS, *OUTCOME]  # no stacked "(input)"
        assert [row["Source Row"] for row in rows] == [2, 3, 4, 5]
        assert [row["Status (input)"] for row in rows] == [
            "vendor ok",
            None,
            "vendor ok",
            "vendor ok",
        ]
    assert [row["Status"] for row in first] == ["posted", "invalid", "posted", "posted"]
    assert [row["Status"] for row in third] == [
        "already_posted",
        "invalid",
        *["already_posted"] * 2,
    ]
    assert [row["IntakeID"] for row in third] == [row["IntakeID"] for row in first]


def test_only_failed_reads_the_rows_not_posted(
    vendor_file: Path, sheet_mapping: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(MAPPING)
    run(vendor_file, plain, tmp_path / "r1.xlsx")
    rows = run(tmp_path / "r1.xlsx", sheet_mapping, tmp_path / "r2.xlsx", "--only-failed")
    assert [(row["Source Row"], row["Status"]) for row in rows] == [(3, "invalid")]


def test_the_table_leaves_out_the_outcome_columns(vendor_file: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(MAPPING)
    run(vendor_file, plain, tmp_path / "r1.xlsx")
    table = open_table(tmp_path / "r1.xlsx", ReadOptions(sheet="Leads", header_row=4))
    assert table.columns == [*LEAD_HEADER, "Status"]
    assert [int(row) for chunk in table.chunks for row in chunk.frame.index] == [2, 3, 4, 5]
    assert table.notes == [
        "r1.xlsx is a results workbook of this importer: read its 'Results' sheet without "
        "the outcome columns; each row keeps its Source Row"
    ]


def test_only_failed_refuses_a_file_that_is_not_a_results_workbook(vendor_file: Path) -> None:
    with pytest.raises(InputFileError) as raised:
        open_table(vendor_file, ReadOptions(only_failed=True))
    assert str(raised.value) == (
        f"{vendor_file}: is not a results workbook of this importer; --only-failed reads "
        "the <input>.results.xlsx an earlier validate or run wrote"
    )


def test_only_failed_with_everything_posted_says_so(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(MAPPING)
    source = write_csv(tmp_path / "good.csv", lead_rows(2))
    run(source, plain, tmp_path / "r1.xlsx")
    result = invoke("validate", tmp_path / "r1.xlsx", "-m", plain, "--only-failed")
    assert result.exit_code == 2
    assert result.output == (
        f"error: {tmp_path / 'r1.xlsx'}: every row of this results workbook was posted "
        "already; nothing is left to import with --only-failed\n"
    )
