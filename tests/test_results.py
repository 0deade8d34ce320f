"""Tests for importer.results, reading files back with openpyxl, python-calamine and csv."""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from importer import results
from importer.errors import UsageError
from importer.results import (
    RESULT_COLUMNS,
    ResultsWriter,
    default_results_path,
    results_header,
)

INJECTIONS = ['=HYPERLINK("http://x")', "=cmd|' /C calc'!A0", "+1-555", "@SUM(1)", "-2+3"]
SUMMARY: dict[str, str | int | float] = {
    "posted": 1,
    "invalid": 1,
    "input file": "leads.xlsx",
    "duration (s)": 1.5,
}
HEADER_FILL = "FFD9E1F2"
CUT = "cell cut to 32,767 characters in this workbook (the input file has the full value)"


def frame(
    inputs: dict[str, Sequence[str]],
    *,
    status: Sequence[str] | None = None,
    warnings: Sequence[str] | None = None,
    first_row: int = 2,
) -> pd.DataFrame:
    """Rows as the pipeline passes them: input columns, then RESULT_COLUMNS."""
    n = len(next(iter(inputs.values())))
    outcome = pd.DataFrame(
        {
            "Source Row": range(first_row, first_row + n),
            "Status": list(status or ["posted"] * n),
            "IntakeID": [str(1000 + i) for i in range(n)],
            "Error": [""] * n,
            "Warnings": list(warnings or [""] * n),
        }
    )
    return pd.concat([pd.DataFrame(inputs, dtype="str"), outcome], axis=1)


def write(path: Path, rows: pd.DataFrame | Sequence[pd.DataFrame], inputs: Sequence[str]) -> Path:
    with ResultsWriter(path, input_columns=inputs) as writer:
        for chunk in [rows] if isinstance(rows, pd.DataFrame) else rows:
            writer.append(chunk)
        return writer.finish(SUMMARY)


def sheet_values(path: Path, sheet: str = "Results") -> list[list[Any]]:
    book = openpyxl.load_workbook(path)
    return [list(row) for row in book[sheet].iter_rows(values_only=True)]


def calamine_values(path: Path) -> list[list[Any]]:
    """The sheet as the importer's own reader sees it: it decodes `_xHHHH_` like Excel."""
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Results").to_python()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def undo_csv_prefix(value: str) -> str:
    return value[1:] if re.match(r"'+[=+\-@\t\r]", value) else value


def test_header_is_input_columns_then_result_columns(tmp_path: Path) -> None:
    rows = frame({"Last": ["Doe"], "First": ["Jane"]})
    values = sheet_values(write(tmp_path / "out.xlsx", rows, ["Last", "First"]))
    assert values == [
        ["Last", "First", *RESULT_COLUMNS],
        ["Doe", "Jane", 2, "posted", "1000", None, None],
    ]


def test_input_column_named_like_a_result_column_is_marked(tmp_path: Path) -> None:
    rows = frame({"Status": ["hot lead"]}, status=["invalid"])
    values = sheet_values(write(tmp_path / "out.xlsx", rows, ["Status"]))
    assert values[0] == ["Status (input)", *RESULT_COLUMNS]
    assert values[1][:2] == ["hot lead", 2]
    assert values[1][2] == "invalid"
    assert results_header(["Status", "Status (input)"]) == (
        "Status (input 2)",
        "Status (input)",
        *RESULT_COLUMNS,
    )


def test_every_cell_but_source_row_is_text(tmp_path: Path) -> None:
    texts = [*INJECTIONS, "08001", "1e5", "TRUE", "http://example.com", "2024-01-31"]
    rows = frame({"Value": texts})
    sheet = openpyxl.load_workbook(write(tmp_path / "out.xlsx", rows, ["Value"]))["Results"]
    cells = list(sheet.iter_rows(min_row=2))
    assert [row[0].value for row in cells] == texts
    for row in cells:
        assert row[1].data_type == "n"
        assert all(
            cell.data_type == "s" for cell in row if cell.value is not None and cell.column != 2
        )
        assert row[0].hyperlink is None


def test_csv_prefixes_what_excel_would_run(tmp_path: Path) -> None:
    texts = [*INJECTIONS, "\tx", "\rx", "'=x", "'plain", "08001", "Mary-Jo"]
    rows = frame({"=Name": texts})
    table = read_csv(write(tmp_path / "out.csv", rows, ["=Name"]))
    assert table[0] == ["'=Name", *RESULT_COLUMNS]
    assert [row[0] for row in table[1:]] == [
        "'" + text for text in [*INJECTIONS, "\tx", "\rx", "'=x"]
    ] + ["'plain", "08001", "Mary-Jo"]
    assert [row[1] for row in table[1:]] == [str(n) for n in range(2, 2 + len(texts))]


def test_csv_has_bom_and_utf8(tmp_path: Path) -> None:
    rows = frame({"Name": ["José Ñúñez", "Zoë Łukasz"]})
    path = write(tmp_path / "out.csv", rows, ["Name"])
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfName,Source Row,")
    assert "José Ñúñez".encode() in data
    assert [row[0] for row in read_csv(path)[1:]] == ["José Ñúñez", "Zoë Łukasz"]


def test_summary_sheet_follows_results(tmp_path: Path) -> None:
    path = write(tmp_path / "out.xlsx", frame({"A": ["x"]}), ["A"])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Results", "Summary"]
    assert sheet_values(path, "Summary") == [[label, value] for label, value in SUMMARY.items()]
    assert book["Summary"]["A1"].font.bold
    assert book["Summary"]["B1"].data_type == "n"


def test_status_cells_are_coloured(tmp_path: Path) -> None:
    statuses = ["posted", "invalid", "failed", "mystery"]
    rows = frame({"A": ["1", "2", "3", "4"]}, status=statuses)
    sheet = openpyxl.load_workbook(write(tmp_path / "out.xlsx", rows, ["A"]))["Results"]
    fills = [sheet.cell(row=r, column=3).fill for r in range(2, 6)]
    assert [fill.fgColor.rgb for fill in fills[:3]] == ["FFC6EFCE", "FFFFC7CE", "FFFFEB9C"]
    assert fills[3].fill_type is None


def test_header_is_styled_frozen_and_filtered(tmp_path: Path) -> None:
    rows = frame({"Name": ["x" * 200, "y"], "Zip": ["1", "2"]})
    sheet = openpyxl.load_workbook(write(tmp_path / "out.xlsx", rows, ["Name", "Zip"]))["Results"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:G3"
    assert all(cell.font.bold and cell.fill.fgColor.rgb == HEADER_FILL for cell in sheet[1])
    assert sheet.column_dimensions["A"].width <= 61  # capped, plus Excel's padding
    assert sheet.column_dimensions["B"].width < sheet.column_dimensions["A"].width


def test_long_cell_is_cut_and_noted(tmp_path: Path) -> None:
    long = "é" * 40_000
    emoji = "x" + "😀" * 20_000  # 40,001 UTF-16 units: Excel counts those, not characters
    rows = frame({"Details": [long, emoji, "short"]}, warnings=["phone looks odd", "", ""])
    values = sheet_values(write(tmp_path / "out.xlsx", rows, ["Details"]))
    note = f"Details: {CUT}"
    assert values[1][0] == long[:32_767]
    assert values[1][-1] == f"{note}; phone looks odd"
    assert values[2][0] == emoji[:16_384]  # never half an emoji
    assert values[2][-1] == note
    assert values[3][0] == "short"
    assert values[3][-1] is None


def test_long_warnings_keep_the_cut_notes(tmp_path: Path) -> None:
    rows = frame({"Details": ["d" * 33_000]}, warnings=["w" * 33_000])
    warnings = sheet_values(write(tmp_path / "out.xlsx", rows, ["Details"]))[1][-1]
    assert len(warnings) == 32_767
    assert warnings.startswith(f"Details: {CUT}; Warnings: {CUT}; www")
    assert warnings.endswith("www")


TRICKY = [
    "a\x00b\x01\x08\x0b\x0c\x0e\x1f",
    "x\r\ny\rz\tw\n",
    "\ufffe\uffff",
    "_x0041_",  # looks like an OOXML escape
    "_x005F_x0041_",
    "_x0041\x00",  # xlsxwriter gets this one wrong on its own
    "<r>&</r>",  # xlsxwriter writes this as raw XML on its own
    "<r><t>x</t></r>",
    " padded ",
]


def test_control_characters_round_trip(tmp_path: Path) -> None:
    rows = frame({"Note": TRICKY})
    values = sheet_values(write(tmp_path / "out.xlsx", rows, ["Note"]))
    # openpyxl returns OOXML escapes (_xHHHH_) as stored; Excel decodes them.
    assert [unescape(row[0]) for row in values[1:]] == TRICKY
    assert values[1][0] == "a_x0000_b_x0001__x0008__x000B__x000C__x000E__x001F_"
    # calamine decodes every escape but those of the noncharacters U+FFFE, U+FFFF.
    decoded = [row[0] for row in calamine_values(tmp_path / "out.xlsx")[1:]]
    assert decoded == [text if text != "\ufffe\uffff" else "_xFFFE__xFFFF_" for text in TRICKY]
    table = read_csv(write(tmp_path / "out.csv", rows, ["Note"]))
    assert [row[0] for row in table[1:]] == TRICKY


def test_long_value_that_needs_escaping_still_fits(tmp_path: Path) -> None:
    value = "_x0041_" * 5_000  # 35,000 characters, 7 more units each once escaped
    rows = frame({"Note": [value]})
    stored = sheet_values(write(tmp_path / "out.xlsx", rows, ["Note"]))[1]
    assert value.startswith(unescape(stored[0]))
    assert stored[-1].startswith("Note: cell cut")


def test_full_sheet_continues_on_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "EXCEL_MAX_ROWS", 4)  # header + 3 rows per sheet
    names = [f"n{i}" for i in range(7)]
    chunks = [frame({"Name": names[:2]}), frame({"Name": names[2:]}, first_row=4)]
    path = write(tmp_path / "out.xlsx", chunks, ["Name"])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Results", "Results (2)", "Results (3)", "Summary"]
    sheets = [sheet_values(path, name) for name in book.sheetnames[:3]]
    assert all(sheet[0] == ["Name", *RESULT_COLUMNS] for sheet in sheets)
    assert [row[:2] for sheet in sheets for row in sheet[1:]] == [
        [name, n] for n, name in enumerate(names, start=2)
    ]
    assert [book[name].auto_filter.ref for name in book.sheetnames[:3]] == [
        "A1:F4",
        "A1:F4",
        "A1:F2",
    ]
    assert all(book[name].freeze_panes == "A2" for name in book.sheetnames[:3])


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_failure_mid_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # xlsxwriter's row buffers
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / f"leads.results{suffix}"
    target.write_bytes(b"previous results")

    def crash() -> None:
        with ResultsWriter(target, input_columns=["A"]) as writer:
            writer.append(frame({"A": ["x"] * 50}))
            raise RuntimeError("network down")

    with pytest.raises(RuntimeError, match="network down"):
        crash()
    assert target.read_bytes() == b"previous results"
    assert list(folder.iterdir()) == [target]
    assert list(scratch.iterdir()) == []


def test_nothing_is_published_without_finish(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    with ResultsWriter(target, input_columns=["A"]) as writer:
        writer.append(frame({"A": ["x"]}))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="already finished or aborted"):
        writer.append(frame({"A": ["x"]}))


def test_refuses_to_write_over_an_input(tmp_path: Path) -> None:
    source = tmp_path / "leads.xlsx"
    source.write_bytes(b"input")
    for target in [source, tmp_path / "sub" / ".." / "leads.xlsx"]:
        with pytest.raises(UsageError, match=r"^refusing to write results over the input file "):
            ResultsWriter(target, input_columns=["A"], protected=[source])
    assert source.read_bytes() == b"input"
    assert list(tmp_path.iterdir()) == [source]


def test_refuses_other_suffixes(tmp_path: Path) -> None:
    target = tmp_path / "out.xls"
    with pytest.raises(UsageError) as raised:
        ResultsWriter(target, input_columns=["A"])
    assert str(raised.value) == f"results file must end in .xlsx or .csv: {target}"


def test_rows_must_have_the_declared_columns(tmp_path: Path) -> None:
    with (
        ResultsWriter(tmp_path / "out.xlsx", input_columns=["A"]) as writer,
        pytest.raises(ValueError, match="rows must have the columns"),
    ):
        writer.append(frame({"B": ["x"]}))


def test_default_results_path() -> None:
    assert default_results_path(Path("in/leads.xlsx")) == Path("in/leads.results.xlsx")


# Fragments that stress the escaping, glued together in any order with any text.
FRAGMENTS = st.sampled_from(
    ["_x", "_x0041_", "_x005F", "0041", "_", "<r>", "</r>", "&", "\x00", "\r", "\ufffe", "=", "'"]
)
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
VALUES = st.one_of(ANY_TEXT, st.lists(FRAGMENTS | ANY_TEXT, max_size=6).map("".join))
# One workbook per example; tmp_path is reused safely since each write replaces the file.
ROUND_TRIP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@ROUND_TRIP
@given(texts=st.lists(VALUES, min_size=1, max_size=8))
def test_any_text_round_trips_through_xlsx(tmp_path: Path, texts: list[str]) -> None:
    rows = frame({"Value": texts}, warnings=list(reversed(texts)))
    path = write(tmp_path / "out.xlsx", rows, ["Value"])
    values = sheet_values(path)
    assert [unescape(row[0] or "") for row in values[1:]] == texts
    assert [unescape(row[-1] or "") for row in values[1:]] == list(reversed(texts))
    for text, row in zip(texts, calamine_values(path)[1:], strict=True):
        if "\ufffe" not in text and "\uffff" not in text:
            assert row[0] == text


@ROUND_TRIP
@given(texts=st.lists(VALUES, min_size=1, max_size=8))
def test_any_text_round_trips_through_csv(tmp_path: Path, texts: list[str]) -> None:
    rows = frame({"Value": texts}, warnings=list(reversed(texts)))
    table = read_csv(write(tmp_path / "out.csv", rows, ["Value"]))
    assert [undo_csv_prefix(row[0]) for row in table[1:]] == texts
    assert [undo_csv_prefix(row[-1]) for row in table[1:]] == list(reversed(texts))


# ---------------------------------------------------------------- a target that cannot be replaced


def lock_like_excel(monkeypatch: pytest.MonkeyPatch, locked: Path) -> None:
    """Opening `locked` for writing fails as on Windows while Excel has the workbook open."""
    real_open = os.open

    def sharing_violation(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == locked and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(
                13, "The process cannot access the file because it is being used by another process"
            )
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", sharing_violation)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_results_file_open_in_excel_is_left_and_the_results_go_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    target = tmp_path / f"leads.results{suffix}"
    target.write_bytes(b"the results Excel has open")
    lock_like_excel(monkeypatch, target)
    with ResultsWriter(target, input_columns=["A"]) as writer:
        writer.append(frame({"A": ["x"]}))
        written = writer.finish(SUMMARY)
    assert written == tmp_path / f"leads (2).results{suffix}"
    assert target.read_bytes() == b"the results Excel has open"
    note = (
        f"leads.results{suffix} is open in another program (Excel?); "
        f"these results are in leads (2).results{suffix}"
    )
    assert writer.note == note
    if suffix == ".xlsx":
        assert sheet_values(written)[1][:2] == ["x", 2]
        summary = dict(sheet_values(written, "Summary"))
        assert summary["Results file"] == written.name
        assert summary["Note"] == note
    else:
        assert read_csv(written)[1][:2] == ["x", "2"]


def test_the_next_free_number_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "leads.results.xlsx"
    for name in (target.name, "leads (2).results.xlsx"):
        (tmp_path / name).write_bytes(b"older")
    lock_like_excel(monkeypatch, target)
    assert write(target, frame({"A": ["x"]}), ["A"]) == tmp_path / "leads (3).results.xlsx"
    assert (tmp_path / "leads (2).results.xlsx").read_bytes() == b"older"


def test_a_read_only_results_file_is_left_as_it_is(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"kept")
    target.chmod(0o444)
    with ResultsWriter(target, input_columns=["A"]) as writer:
        writer.append(frame({"A": ["x"]}))
        written = writer.finish(SUMMARY)
    assert written == tmp_path / "out (2).xlsx"
    assert writer.note == "out.xlsx is read-only; these results are in out (2).xlsx"
    assert target.read_bytes() == b"kept"


def test_a_lock_taken_after_the_check_still_loses_no_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "leads.results.xlsx"
    target.write_bytes(b"old")
    real_replace = os.replace

    def locked_target(source: Any, destination: Any) -> None:
        if Path(destination) == target:  # Windows: [WinError 32] sharing violation
            raise PermissionError(13, "The process cannot access the file")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", locked_target)
    with ResultsWriter(target, input_columns=["A"]) as writer:
        writer.append(frame({"A": ["x"]}))
        written = writer.finish(SUMMARY)
    assert written == tmp_path / "leads (2).results.xlsx"
    assert writer.note == (
        "leads.results.xlsx could not be replaced (open in another program?); "
        "these results are in leads (2).results.xlsx"
    )
    assert sheet_values(written)[1][:2] == ["x", 2]
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == [written.name, target.name]


def test_a_replaceable_target_is_simply_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")
    with ResultsWriter(target, input_columns=["A"]) as writer:
        writer.append(frame({"A": ["x"]}))
        assert writer.finish(SUMMARY) == target
    assert writer.note == ""
    assert "Note" not in dict(sheet_values(target, "Summary"))


@pytest.mark.parametrize(
    ("name", "free"),
    [
        ("leads.results.xlsx", "leads (2).results.xlsx"),
        ("leads.RESULTS.CSV", "leads (2).RESULTS.CSV"),
        ("out.xlsx", "out (2).xlsx"),
        ("acme 0401.csv", "acme 0401 (2).csv"),
        ("no suffix", "no suffix (2)"),
    ],
)
def test_free_path_numbers_before_the_suffix(tmp_path: Path, name: str, free: str) -> None:
    assert results.free_path(tmp_path / name) == tmp_path / name
    (tmp_path / name).write_bytes(b"")
    assert results.free_path(tmp_path / name) == tmp_path / free
