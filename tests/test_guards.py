"""The giant-sheet guard's fast measure of a block of cells (importer.reading.guards)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import given
from hypothesis import strategies as st

from importer.errors import InputFileError
from importer.reading import guards
from importer.reading.guards import block_extent, column_letters, column_number

_REF = re.compile(rb'<c r="([A-Za-z]+)(\d+)')


def exact_extent(block: bytes, rows: int, columns: int) -> tuple[int, int]:
    """Every cell read one by one: what `block_extent` must agree with."""
    refs = _REF.findall(block)
    return (
        max([rows, *(int(digits) for _, digits in refs)]),
        max([columns, *(column_number(letters) for letters, _ in refs)]),
    )


def block_of(refs: list[tuple[str, str]]) -> bytes:
    return b"".join(
        f'<c r="{letters}{digits}" t="s"><v>0</v></c>'.encode() for letters, digits in refs
    )


_letters = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz", min_size=1, max_size=3)
_digits = st.one_of(
    st.integers(1, 1_100_000).map(str),
    st.integers(1, 999).map(lambda n: f"00{n}"),  # leading zeros
)


@given(
    refs=st.lists(st.tuples(_letters, _digits), min_size=1, max_size=40),
    rows=st.integers(0, 1_100_000),
    columns=st.integers(0, 20_000),
)
def test_the_fast_measure_agrees_with_reading_every_cell(
    refs: list[tuple[str, str]], rows: int, columns: int
) -> None:
    block = block_of(refs)
    assert block_extent(block, rows, columns) == exact_extent(block, rows, columns)


@given(
    refs=st.lists(st.tuples(_letters, _digits), min_size=2, max_size=40),
)
def test_a_block_in_order_but_for_one_far_cell(refs: list[tuple[str, str]]) -> None:
    ordered = sorted(refs, key=lambda ref: int(ref[1]))
    middle = len(ordered) // 2
    far = [*ordered[:middle], ("XFD", "1048576"), *ordered[middle:]]
    assert block_extent(block_of(far), 0, 0) == (
        max(1_048_576, *(int(d) for _, d in refs)),
        max(16_384, *(column_number(letters.encode()) for letters, _ in refs)),
    )


@pytest.mark.parametrize("number", [1, 26, 27, 52, 702, 703, 16_384])
def test_column_letters_undo_column_number(number: int) -> None:
    assert column_number(column_letters(number).encode()) == number


def test_a_far_cell_before_the_last_row_is_refused(tmp_path: Path) -> None:
    # Written in order by xlsxwriter, then moved: the sheet's last cell is an ordinary one.
    path = tmp_path / "far.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for row in range(30):
        sheet.write_row(row, 0, [f"a{row}", f"b{row}"])
    workbook.close()
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    xml = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = xml.replace(
        b'<c r="B3" ', b'<c r="XFD1048576" t="n"><v>1</v></c><c r="B3" ', 1
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(InputFileError, match="a sheet spans 1,048,576 rows x 16,384 columns"):
        guards.check_zip(path)
