"""Workbook values as Excel shows them (importer.reading.formats).

Every workbook is written by the test with xlsxwriter: a number and a number
format per cell, read back through `open_table`. Where each expected text
comes from:

- [ECMA] ECMA-376 Part 1, 18.8.30 numFmt: the built-in format ids (14 is the
  short date, shown by an en-US Excel as m/d/yyyy; 7 is currency with two
  decimals and negatives in parentheses; 44 is accounting).
- [MS] Microsoft Support, "Number format codes" and "Review guidelines for
  customizing a number format": `#,##0` adds thousands separators, `0.00` shows
  exactly two decimals, `0.0%` multiplies by 100, `0.00E+00` is scientific,
  `# ?/?` is a fraction, `00000` pads with leading zeros, `h:mm:ss AM/PM` a
  12-hour clock, `[h]` elapsed hours.
- [MS-special] Excel's Format Cells > Special list for English (United States):
  Zip Code + 4 (`00000-0000`) and Phone Number (`[<=9999999]###-####;(###) ###-####`).
- [MS-1904] Microsoft Support, "Date systems in Excel": in the 1904 date system
  serial 44217 is 1/22/2025 (1462 days less than in the 1900 system).
- [MS-errors] Microsoft Support, "How to correct a #N/A error" (and #DIV/0!):
  an error cell shows its error's name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.reading import ReadOptions, open_table
from importer.reading.formats import show

# (format, value written, text Excel shows, source)
CATEGORIES: list[tuple[str | int, float, str, str]] = [
    (14, 45679.607234, "1/22/2025", "ECMA"),
    ("m/d/yyyy", 45679.607234, "1/22/2025", "MS"),
    ("mm/dd/yyyy", 45679.0, "01/22/2025", "MS"),
    ("d-mmm-yy", 45679.0, "22-Jan-25", "ECMA 15"),
    ("mmmm d, yyyy", 45679.0, "January 22, 2025", "MS"),
    (22, 45679.607234, "1/22/2025 14:34", "ECMA"),
    (19, 0.7411226851851852, "5:47:13 PM", "ECMA"),
    ("h:mm AM/PM", 0.5, "12:00 PM", "MS"),
    ("[h]:mm:ss", 1.5, "36:00:00", "MS"),
    ('"$"#,##0.00', 1960.0, "$1,960.00", "MS"),
    (7, -1960.0, "($1,960.00)", "ECMA"),
    # The accounting format pads to the column's width; the text itself is this.
    (44, 1960.0, "$1,960.00", "ECMA"),
    ("#,##0", 167943.0, "167,943", "MS"),
    (3, 1234567.0, "1,234,567", "ECMA"),
    (4, 1234.5, "1,234.50", "ECMA"),
    ("0.0%", 0.974, "97.4%", "MS"),
    (9, 0.5, "50%", "ECMA"),
    (11, 10000000000.0, "1.00E+10", "ECMA"),
    ("# ?/?", 1.25, "1 1/4", "MS"),
    (12, 0.5, "1/2", "ECMA"),
    (2, 0.1, "0.10", "ECMA"),
    ("0.000", 2.5, "2.500", "MS"),
    ("00000", 8001.0, "08001", "MS"),
    ("00000-0000", 191031234.0, "19103-1234", "MS-special"),
    ("[<=9999999]###-####;(###) ###-####", 5555550123.0, "(555) 555-0123", "MS-special"),
    ("[<=9999999]###-####;(###) ###-####", 5550123.0, "555-0123", "MS-special"),
    ("General", 5555555555.0, "5555555555", "MS"),
]


def write_workbook(
    path: Path, cells: list[tuple[str | int, Any]], *, date_1904: bool = False
) -> Path:
    """One header row (A, B, ...) and one row of values, each with its format."""
    workbook = xlsxwriter.Workbook(str(path), {"date_1904": date_1904})
    sheet = workbook.add_worksheet("Leads")
    for column, (code, value) in enumerate(cells):
        sheet.write_string(0, column, f"Col{column}")
        cell_format = workbook.add_format({"num_format": code})
        if isinstance(value, str) and value.startswith("#"):
            sheet.write_formula(1, column, "=NA()", cell_format, value)
        elif isinstance(value, dt.datetime):
            sheet.write_datetime(1, column, value, cell_format)
        else:
            sheet.write_number(1, column, value, cell_format)
    workbook.close()
    return path


def shown_row(path: Path) -> list[str]:
    table = open_table(path, ReadOptions(header_row=1))
    frame = next(table.chunks).frame
    return [str(value) for value in frame.iloc[0]]


def test_each_category_reads_as_excel_shows_it(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "formats.xlsx", [(c, v) for c, v, _, _ in CATEGORIES])
    expected = [text for _, _, text, _ in CATEGORIES]
    assert shown_row(path) == expected


def test_formats_come_from_the_sheet_read_when_the_first_visible_one_is_empty(
    tmp_path: Path,
) -> None:
    # The formats of the first visible sheet are read while the workbook loads;
    # when that sheet turns out empty, the next one's must be read instead.
    path = tmp_path / "second.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Cover")
    sheet = workbook.add_worksheet("Leads")
    sheet.write_row(0, 0, ["Zip", "Phone"])
    sheet.write_number(1, 0, 8001, workbook.add_format({"num_format": "00000"}))
    sheet.write_number(1, 1, 5555550123, workbook.add_format({"num_format": "(###) ###-####"}))
    workbook.close()
    assert shown_row(path) == ["08001", "(555) 555-0123"]


def test_a_date_written_as_a_date_shows_in_its_own_format(tmp_path: Path) -> None:
    stamp = dt.datetime(2025, 1, 22, 14, 34, 25)
    path = write_workbook(
        tmp_path / "dates.xlsx", [(14, stamp), ("h:mm:ss AM/PM", stamp), ("yyyy-mm-dd", stamp)]
    )
    # A date-only format shows no time; a time format no date.
    assert shown_row(path) == ["1/22/2025", "2:34:25 PM", "2025-01-22"]


def test_1904_date_system(tmp_path: Path) -> None:
    stamp = dt.datetime(2025, 1, 22)
    path = write_workbook(
        tmp_path / "mac.xlsx", [(14, stamp), ("m/d/yyyy", 44217.0)], date_1904=True
    )
    assert shown_row(path) == ["1/22/2025", "1/22/2025"]  # [MS-1904]


def test_error_cells_read_as_their_text(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "errors.xlsx", [("General", "#N/A"), ("0.00", "#DIV/0!")])
    assert shown_row(path) == ["#N/A", "#DIV/0!"]  # [MS-errors]


def test_error_cells_in_the_header_row_are_not_empty(tmp_path: Path) -> None:
    path = tmp_path / "header_errors.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_formula(0, 0, "=1/0", None, "#DIV/0!")
    sheet.write_formula(0, 1, "=NA()", None, "#N/A")
    sheet.write_row(1, 0, ["Ann", "Lee"])
    workbook.close()
    assert open_table(path).columns == ["#DIV/0!", "#N/A"]


def test_text_and_general_cells_are_as_read(tmp_path: Path) -> None:
    assert show("08001", "00000") is None  # text in a number format stays text
    assert show(True, "0.00") is None


# ---------------------------------------------------------------- property

_DAYS = st.dates(dt.date(1950, 1, 1), dt.date(2090, 12, 31))
# (format, values, the text every US Excel shows) for formats lead files carry; the
# values are whole at the format's precision, so no rounding rule is involved.
_COMMON: list[tuple[str, st.SearchStrategy[Any], Any]] = [
    ("#,##0", st.integers(0, 10**12), lambda n: (float(n), f"{n:,}")),
    ("#,##0.00", st.integers(0, 10**10), lambda n: (n / 100, f"{n / 100:,.2f}")),
    ('"$"#,##0.00', st.integers(0, 10**10), lambda n: (n / 100, f"${n / 100:,.2f}")),
    ("0%", st.integers(0, 1000), lambda n: (n / 100, f"{n}%")),
    ("00000", st.integers(0, 99999), lambda n: (float(n), f"{n:05d}")),
    ("0.00", st.integers(0, 10**8), lambda n: (n / 100, f"{n / 100:.2f}")),
    ("m/d/yyyy", _DAYS, lambda d: (d, f"{d.month}/{d.day}/{d.year}")),
    ("mm/dd/yyyy", _DAYS, lambda d: (d, d.strftime("%m/%d/%Y"))),
    ("yyyy-mm-dd", _DAYS, lambda d: (d, d.isoformat())),
    ("d-mmm-yy", _DAYS, lambda d: (d, f"{d.day}-{d:%b}-{d:%y}")),
    (
        "h:mm AM/PM",
        st.integers(0, 24 * 60 - 1),
        lambda m: (m / 1440, f"{(m // 60 - 1) % 12 + 1}:{m % 60:02d} {'AM' if m < 720 else 'PM'}"),
    ),
]


@st.composite
def formatted_cells(draw: st.DrawFn) -> tuple[str, Any, str]:
    code, values, expected = draw(st.sampled_from(_COMMON))
    value, text = expected(draw(values))
    if isinstance(value, dt.date):
        value = dt.datetime.combine(value, dt.time())
    return code, value, text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(formatted_cells(), min_size=1, max_size=6))
def test_any_value_in_a_common_format_reads_back_as_shown(
    cells: list[tuple[str, Any, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("formats") / "cells.xlsx"
    write_workbook(path, [(code, value) for code, value, _ in cells])
    assert shown_row(path) == [text for _, _, text in cells]


# ---------------------------------------------------------------- .xls

XLS = Path(__file__).parent / "data" / "reading"


@pytest.mark.parametrize("name", ["formats.xls", "formats_1904.xls"])
def test_xls_cells_read_as_excel_shows_them(name: str) -> None:
    """FORMAT and XF records (a custom "$"#,##0.00, built-ins 10, 14 and 3), a BOOLERR
    #N/A and a formula whose cached result is #DIV/0!; formats_1904.xls stores its
    date as 44217 in the 1904 date system [MS-1904]."""
    assert shown_row(XLS / name) == [
        "$1,960.00",
        "97.40%",
        "1/22/2025",
        "167,943",
        "#N/A",
        "#DIV/0!",
    ]


def test_ods_cells_read_as_the_text_the_file_shows() -> None:
    """OpenDocument stores the displayed text (<text:p>) beside each value (ODF 1.2,
    19.385 office:value-type): currency, percentage, date and float cells read as it."""
    assert shown_row(XLS / "formats.ods") == ["$1,960.00", "97.4%", "1/22/2025", "167,943"]
