"""Hostile inputs, run through the CLI exactly as a user would.

    captorra-import validate FILE --mapping tests/data/hostile/mapping.yaml --output OUT

Every file in tests/data/hostile/ (written by make_corpus.py), and the big ones
make_corpus.py writes at test time, must end in one of two ways, within 20 s:

* a clear error: exit code 2, one `error: ` line on stderr naming the file and
  what to do, no traceback, no results file; or
* a status for every row in the results workbook (exit 0 or 1), every input
  value stored as a string, never as a formula.

A last test runs the whole corpus in a child process whose address space is
capped at 2 GiB, so an allocation bomb fails the test instead of the machine.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils.escape import unescape

from importer.cli import cli

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
MAPPING = HOSTILE / "mapping.yaml"
SECONDS = 20
_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING) ")


def _corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hostile_corpus", HOSTILE / "make_corpus.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


corpus = _corpus()


@dataclass
class Outcome:
    exit_code: int
    errors: list[str]  # the `error: ` lines of stderr
    warnings: list[str]  # the WARNING log lines, without their time stamp
    results: Path


def validate(path: Path, tmp_path: Path) -> Outcome:
    results = tmp_path / "results.xlsx"
    started = time.monotonic()
    ran = CliRunner().invoke(
        cli, ["validate", str(path), "--mapping", str(MAPPING), "--output", str(results)]
    )
    assert time.monotonic() - started < SECONDS
    assert ran.exception is None or isinstance(ran.exception, SystemExit), ran.exception
    assert "Traceback" not in ran.output
    lines = ran.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    logged = [line for line in lines if _LOG_LINE.match(line)]
    assert len(errors) + len(logged) == len(lines), lines  # nothing else on stderr
    warnings = [_LOG_LINE.sub("", line) for line in logged if " WARNING " in line[:30]]
    return Outcome(ran.exit_code, errors, warnings, results)


def assert_refused(outcome: Outcome, message: str) -> None:
    assert outcome.exit_code == 2
    assert outcome.errors == [f"error: {message}"]
    assert len(outcome.errors[0]) < 300
    assert not outcome.results.exists()


Row = tuple[int, str, str, str, str]  # Source Row, First, Last, Status, Error


def result_rows(outcome: Outcome) -> list[Row]:
    """The results workbook's rows; asserts every input value is a string cell."""
    sheet = openpyxl.load_workbook(outcome.results)["Results"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["First", "Last", "Source Row", "Status", "IntakeID", "Error", "Warnings"]
    rows = []
    for cells in sheet.iter_rows(min_row=2):
        for cell in (cells[0], cells[1]):  # the input columns
            assert cell.value is None or cell.data_type == "s", cell.value
        first, last, number, status, _, error, _ = (
            unescape(cell.value) if isinstance(cell.value, str) else cell.value for cell in cells
        )
        rows.append((number, first or "", last or "", status, error or ""))
    return rows


def path_of(name: str) -> Path:
    return HOSTILE / name


# ---------------------------------------------------------------- refused with a clear error

_SPANS = (
    "a sheet spans {} rows x {} columns, more cells than the importer reads (33,554,432); "
    "delete the unused rows and columns or save the sheet as CSV"
)

REFUSED = {
    "empty.csv": "the file is empty; export the leads again",
    "header_only.csv": "has a header row but no leads below it",
    "random_bytes.csv": "looks like a binary file, not a CSV; export the leads as CSV or Excel",
    "random_bytes.xlsx": (
        "is not an Excel workbook (its content is not in Excel's format); export the leads again"
    ),
    "truncated.xlsx": ("is damaged or truncated (not a complete zip archive); export it again"),
    "encrypted.xlsx": "is password-protected; save a copy without a password",
    "entity_bomb_workbook.xlsx": (
        "contains XML entity declarations; refusing it as a possible XML bomb"
    ),
    "entity_bomb_sheet.xlsx": (
        "contains an XML document type declaration (xl/worksheets/sheet1.xml); "
        "refusing it as a possible XML bomb"
    ),
    # The workbook reader panics on it; the panic is caught like any damage.
    "bad_string_index.xlsb": (
        "is damaged or not a readable workbook (index out of bounds: the len is 0 but the "
        "index is 99); open and re-save it in Excel"
    ),
    # Tiny files whose cells span billions of cells: the reader would allocate them all.
    "far_cell.xlsx": _SPANS.format("1,048,576", "16,384"),
    # Cells without `r` are measured by an upper bound: rows + row tags, columns + widest row.
    "far_cell_no_refs.xlsx": _SPANS.format("1,048,580", "20,002"),
    "far_cell.xls": _SPANS.format("65,536", "65,536"),
    "lying_dimensions.xls": _SPANS.format("1,048,576", "16,384"),
    "far_column.xlsb": _SPANS.format("1,001", "16,777,216"),
    "repeat_bomb.ods": _SPANS.format("9,002", "11,000"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_one_clear_line(name: str, tmp_path: Path) -> None:
    path = path_of(name)
    assert_refused(validate(path, tmp_path), f"{path}: {REFUSED[name]}")


def _zip_bomb_message(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        total = sum(member.file_size for member in archive.infolist())
        packed = sum(member.compress_size for member in archive.infolist())
    assert total > 64 * 1024**2
    assert total / packed > 200
    return (
        f"{path}: unpacks to {total / 1024**2:,.0f} MB ({total / packed:,.0f}x its size); "
        "refusing it as a possible zip bomb"
    )


@pytest.mark.parametrize(
    "write", [corpus.write_ratio_zip_bomb, corpus.write_claimed_zip_bomb], ids=["ratio", "claimed"]
)
def test_zip_bombs_are_refused(write: Callable[[Path], None], tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    write(path)
    assert_refused(validate(path, tmp_path), _zip_bomb_message(path))


def test_100k_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    corpus.write_many_columns(path)
    assert_refused(
        validate(path, tmp_path),
        f"{path}: has 100,002 columns, more than Excel allows (16,384); is this a lead file?",
    )


# ---------------------------------------------------------------- a status for every row

_RAGGED = (
    "row has 4 values but the header has 2 columns; check for an unquoted delimiter in this row"
)

ROWS: dict[str, tuple[int, list[Row], list[str]]] = {
    "utf16.csv": (0, [(2, "José", "Zoë", "valid", "")], []),
    "utf8_bom.csv": (0, [(2, "José", "Zoë", "valid", "")], []),
    # The reader keeps NUL as text (the results show the input as read); mapping
    # drops control characters, so a name of one NUL is no name at all.
    "nul_bytes.csv": (
        1,
        [
            (2, "An\x00n", "Lee", "valid", ""),
            (3, "\x00", "\x00", "invalid", "First: required; Last: required"),
            (4, "Bob", "Ray", "valid", ""),
        ],
        [],
    ),
    "ragged.csv": (
        1,
        [
            (2, "Ann", "", "invalid", "Last: required"),
            (3, "Bob", "Ray", "invalid", _RAGGED),
            (4, "Cy", "Lu", "valid", ""),
        ],
        [],
    ),
    "workbook_named.csv": (
        0,
        [(2, "Ann", "Lee", "valid", ""), (3, "Bob", "Ray", "valid", "")],
        ["workbook_named.csv is an Excel workbook despite its name; read it as one"],
    ),
    "formulas.xlsx": (0, [(2, "Ann", "LEE", "valid", ""), (3, "Bob", "Ray", "valid", "")], []),
    "merged.xlsx": (
        1,
        [(2, "Ann Lee", "", "invalid", "Last: required"), (3, "Bob", "Ray", "valid", "")],
        [
            "merged.xlsx: sheet 'Leads' has merged cells (A2:B2); a merged value is read in its "
            "first cell only, the others are empty"
        ],
    ),
    "hidden_sheets.xlsx": (
        0,
        [(2, "Ann", "Lee", "valid", "")],
        ["hidden_sheets.xlsx: read sheet 'Leads', the first visible one with data"],
    ),
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_row_gets_a_status(name: str, tmp_path: Path) -> None:
    exit_code, rows, warnings = ROWS[name]
    outcome = validate(path_of(name), tmp_path)
    assert outcome.exit_code == exit_code
    assert outcome.errors == []
    assert outcome.warnings == warnings
    assert result_rows(outcome) == rows


@pytest.mark.parametrize("name", ["formula_injection.csv", "formula_injection.xlsx"])
def test_formula_injection_is_stored_as_text(name: str, tmp_path: Path) -> None:
    outcome = validate(path_of(name), tmp_path)
    assert outcome.exit_code == 1
    expected = []
    for number, text in enumerate(corpus.INJECTIONS, start=2):
        error = "First: 54 characters, limit 50" if "HYPERLINK" in text else ""
        expected.append((number, text, f"Lee{number - 1}", "invalid" if error else "valid", error))
    assert result_rows(outcome) == expected


def test_a_5_mb_cell_is_a_row_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "big_cell.csv"
    corpus.write_big_cell(path)
    outcome = validate(path, tmp_path)
    assert outcome.exit_code == 1
    rows = result_rows(outcome)
    assert rows[0][:2] == (2, "Ann")
    assert rows[0][2] == "x" * 32_767  # cut to what an Excel cell holds
    assert rows[0][3:] == ("invalid", "Last: 5,242,880 characters, limit 50")
    assert rows[1] == (3, "Bob", "Ray", "valid", "")


def test_the_csv_sniffer_trap_is_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "trap.csv"
    corpus.write_sniffer_trap(path)
    started = time.monotonic()
    outcome = validate(path, tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.exit_code == 1
    assert result_rows(outcome) == [
        (
            2,
            "",
            ",",
            "invalid",
            "row has 16001 values but the header has 2 columns; "
            "check for an unquoted delimiter in this row; First: required",
        )
    ]


def test_every_committed_file_is_covered() -> None:
    committed = {path.name for path in HOSTILE.iterdir() if path.suffix not in {".py", ".yaml"}}
    covered = {*REFUSED, *ROWS, "formula_injection.csv", "formula_injection.xlsx"}
    assert committed == covered


# ---------------------------------------------------------------- bounded memory

_CHILD = """
import json, resource, sys
limit = 2 * 1024**3  # an allocation bomb fails here instead of taking the machine
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from click.testing import CliRunner
from importer.cli import cli
mapping, output, *inputs = sys.argv[1:]
codes = {}
for path in inputs:
    ran = CliRunner().invoke(cli, ["validate", path, "--mapping", mapping, "--output", output])
    codes[path] = [ran.exit_code, "Traceback" in ran.output]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"codes": codes, "peak": peak}))
"""


def test_the_whole_corpus_runs_in_bounded_memory(tmp_path: Path) -> None:
    generated = []
    for name, write in [
        ("ratio_bomb.xlsx", corpus.write_ratio_zip_bomb),
        ("claimed_bomb.xlsx", corpus.write_claimed_zip_bomb),
        ("big_cell.csv", corpus.write_big_cell),
        ("wide.csv", corpus.write_many_columns),
        ("trap.csv", corpus.write_sniffer_trap),
    ]:
        write(tmp_path / name)
        generated.append(tmp_path / name)
    inputs = [*sorted(p for p in HOSTILE.iterdir() if p.suffix not in {".py", ".yaml"})]
    inputs += generated
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(MAPPING), str(tmp_path / "out.xlsx")]
        + [str(path) for path in inputs],
        capture_output=True,
        text=True,
        timeout=SECONDS * 3,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.splitlines()[-1])
    assert time.monotonic() - started < SECONDS * 2
    assert report["peak"] < 1024**3
    assert sorted(report["codes"]) == sorted(str(path) for path in inputs)
    for path, (code, traceback) in report["codes"].items():
        assert code in (0, 1, 2), path
        assert not traceback, path
