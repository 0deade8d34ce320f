"""The returns report: rows to return per vendor, and each vendor's rates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from importer.cli import cli
from importer.errors import InputFileError
from importer.pipeline import ImportJob, import_files
from importer.posting import PostSettings
from importer.results import RESULT_COLUMNS, ResultsWriter
from importer.returns import write_returns
from importer.sandbox import Sandbox
from tests.leads import MAPPING, read_sheet, write_csv
from tests.test_contacts import ACME_ROWS, BETA_HEADER, BETA_ROWS, ENDPOINT

SUMMARY_HEADER = [
    "Vendor", "Files", "Rows", "Valid", "Duplicate", "Invalid", "Rejected", "Failed",
    "Valid %", "Duplicate %", "Invalid %", "Rejected %", "To return",
]  # fmt: skip


def sheets(path: Path) -> dict[str, list[tuple[object, ...]]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {
            sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def import_to(folder: Path, leads: Path, mapping: Path, sandbox: Sandbox, journal: Path) -> None:
    job = ImportJob(
        inputs=(leads,),
        mapping=mapping,
        output=folder / f"{leads.stem}.results.xlsx",
        post=PostSettings(endpoint=ENDPOINT),
        journal=journal,
    )
    import_files(job, transport=sandbox.transport())


def test_returns_of_a_folder_of_results_lists_each_vendor_s_rows_and_rates(
    tmp_path: Path,
) -> None:
    acme_mapping = tmp_path / "acme.yaml"
    acme_mapping.write_text(MAPPING, encoding="utf-8")
    beta_mapping = tmp_path / "beta.yaml"
    beta_mapping.write_text(MAPPING.replace("ID: Lead ID", "ID: Ref"), encoding="utf-8")
    invalid = ("A4", "Eve", "", "2155550104", "eve@mail.example", "pa", "Auto Accident")
    acme = write_csv(tmp_path / "acme.csv", [*ACME_ROWS, invalid])
    again = ("B-80", "Dee", "New", "215 555 0200", "dee@mail.example", "PA", "Auto Accident")
    beta = write_csv(tmp_path / "beta.csv", [*BETA_ROWS, again], header=BETA_HEADER)
    folder = tmp_path / "results"
    folder.mkdir()
    sandbox, journal = Sandbox(), tmp_path / "j.sqlite3"
    import_to(folder, acme, acme_mapping, sandbox, journal)
    import_to(folder, beta, beta_mapping, sandbox, journal)
    acme_ids = [row["IntakeID"] for row in read_sheet(folder / "acme.results.xlsx")]

    result = CliRunner().invoke(cli, ["returns", str(folder), "-o", str(tmp_path / "r.xlsx")])

    assert result.exit_code == 0, result.output
    assert "Returns report: " in result.output
    report = sheets(tmp_path / "r.xlsx")
    assert list(report) == ["Summary", "acme", "beta"]
    assert report["Summary"] == [
        tuple(SUMMARY_HEADER),
        ("acme", 1, 4, 3, 0, 1, 0, 0, 0.75, 0, 0.25, 0, 1),
        ("beta", 1, 4, 1, 3, 0, 0, 0, 0.25, 0.75, 0, 0, 3),
    ]
    today = datetime.now().date().isoformat()
    posted_on = datetime.now(UTC).date().isoformat()
    header = ("Vendor Lead ID", "Return reason", "Details", "Imported", "File", "Source Row")
    assert report["acme"] == [
        (*header, "Lead ID", "First Name", "Last Name", "Phone", "E-mail", "State", "Case Type"),
        ("A4", "invalid", "Last: required", today, "acme.csv", 5, *invalid[:2], None, *invalid[3:]),
    ]
    assert report["beta"] == [
        (*header, *BETA_HEADER),
        (
            "B-77",
            "duplicate",
            f"same phone as a lead posted on {posted_on} from acme (IntakeID {acme_ids[0]}); "
            "not sent",
            today,
            "beta.csv",
            2,
            *BETA_ROWS[0],
        ),
        (
            "B-78",
            "duplicate",
            f"same email as a lead posted on {posted_on} from acme (IntakeID {acme_ids[1]}); "
            "not sent",
            today,
            "beta.csv",
            3,
            *BETA_ROWS[1],
        ),
        ("B-80", "duplicate", "same phone as row 4; not sent", today, "beta.csv", 5, *again),
    ]


def results_workbook(
    path: Path,
    *,
    vendor: str,
    started: str,
    rows: Sequence[tuple[str, str, str, str]],  # lead ID, a value, status, error
    input_name: str = "leads.csv",
) -> Path:
    """A results workbook as `run` writes it, with the given rows."""
    frame = pd.DataFrame(
        {
            "Lead ID": [row[0] for row in rows],
            "Notes": [row[1] for row in rows],
            "Source Row": list(range(2, len(rows) + 2)),
            "Status": [row[2] for row in rows],
            "IntakeID": "",
            "Error": [row[3] for row in rows],
            "Warnings": "",
        }
    )
    with ResultsWriter(path, input_columns=["Lead ID", "Notes"]) as writer:
        writer.append(frame[["Lead ID", "Notes", *RESULT_COLUMNS]])
        writer.finish(
            {
                "rows": len(rows),
                "Input file": f"/srv/inbox/{input_name}",
                "Mapping file": f"/etc/captorra/{vendor}.yaml",
                "Vendor": vendor,
                "Vendor lead ID column": "Lead ID",
                "Started": started,
            }
        )
    return path


@pytest.fixture
def retried(tmp_path: Path) -> Path:
    """One file imported twice: row 2 failed the first night and was posted the next."""
    folder = tmp_path / "results"
    folder.mkdir()
    results_workbook(
        folder / "leads.results.xlsx",
        vendor="acme",
        started="2026-11-01 02:30:00",
        rows=[("L1", "a", "failed", "HTTP 503"), ("L2", "b", "duplicate", "same phone as row 2")],
    )
    results_workbook(
        folder / "leads (2).results.xlsx",
        vendor="acme",
        started="2026-11-02 02:30:00",
        rows=[("L1", "a", "posted", ""), ("L2", "b", "duplicate", "same phone as row 2")],
    )
    return folder


def test_a_retried_file_counts_once_with_its_latest_status(retried: Path, tmp_path: Path) -> None:
    report = write_returns([retried], tmp_path / "r.xlsx")
    (acme,) = report.vendors
    assert (acme.files, acme.rows, acme.counts) == (2, 2, {"posted": 1, "duplicate": 1})
    assert acme.returned["Vendor Lead ID"].tolist() == ["L2"]
    assert acme.returned["Imported"].tolist() == ["2026-11-02"]


@pytest.mark.parametrize(
    ("options", "counts"),
    [
        ({"until": "2026-11-01"}, {"failed": 1, "duplicate": 1}),
        ({"since": "2026-11-02"}, {"posted": 1, "duplicate": 1}),
        ({"since": "2026-11-01", "until": "2026-11-02"}, {"posted": 1, "duplicate": 1}),
    ],
)
def test_since_and_until_choose_workbooks_by_import_day(
    retried: Path, tmp_path: Path, options: dict[str, str], counts: dict[str, int]
) -> None:
    dates = {name: datetime.fromisoformat(day).date() for name, day in options.items()}
    (acme,) = write_returns([retried], tmp_path / "r.xlsx", **dates).vendors  # type: ignore[arg-type]
    assert acme.counts == counts


def test_nothing_in_the_period_is_one_clear_error(retried: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["returns", str(retried), "--since", "2026-12-01", "-o", str(tmp_path / "r.xlsx")]
    )
    assert result.exit_code == 2
    assert result.output == (
        "error: none of the 2 results workbooks was imported since 2026-12-01; "
        "check --since and --until\n"
    )
    assert not (tmp_path / "r.xlsx").exists()


def test_cells_stay_text_and_rejections_keep_captorra_s_words(tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    results_workbook(
        tmp_path / "x.results.xlsx",
        vendor="acme",
        started="2026-11-01 02:30:00",
        rows=[("=1+1", formula, "rejected", "Referrer/Type GUID does not exist.")],
    )
    write_returns([tmp_path / "x.results.xlsx"], tmp_path / "r.xlsx")
    workbook = openpyxl.load_workbook(tmp_path / "r.xlsx")
    row = list(workbook["acme"][2])
    assert [cell.value for cell in row[:3]] == [
        "=1+1",
        "rejected",
        "Referrer/Type GUID does not exist.",
    ]
    assert row[-1].value == formula
    assert {cell.data_type for cell in row if isinstance(cell.value, str)} == {"s"}
    assert (tmp_path / "r.xlsx").stat().st_mode & 0o077 == 0  # private: it holds leads


def test_a_report_in_the_folder_is_not_read_as_results(retried: Path) -> None:
    first = write_returns([retried], retried / "returns.xlsx")
    second = write_returns([retried], retried / "returns 2.xlsx")
    assert first.workbooks == second.workbooks == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leads.csv", b"a,b\n1,2\n", "is not a results workbook"),
        ("missing.xlsx", None, "file not found; check the path"),
    ],
)
def test_a_named_file_that_is_not_results_is_refused(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError) as error:
        write_returns([path], tmp_path / "r.xlsx")
    assert str(error.value).startswith(f"{path}: {message}")


def test_an_empty_folder_says_what_to_give(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["returns", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: no results workbooks in {tmp_path}; give the ")


def test_the_report_never_overwrites_a_results_workbook(retried: Path) -> None:
    target = retried / "leads.results.xlsx"
    before = target.read_bytes()
    result = CliRunner().invoke(cli, ["returns", str(target), "-o", str(target)])
    assert result.exit_code == 2
    assert "refusing to write results over the input file" in result.output
    assert target.read_bytes() == before
