"""Small lead files and mappings for the tests."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import openpyxl

CAPTORRA_ID = "123456"
REFERRER = "123e4567-e89b-12d3-a456-426655440000"
AUTO_TYPE = "6f1c2a3b-0000-4000-8000-000000000001"

LEAD_HEADER = ("Lead ID", "First Name", "Last Name", "Phone", "E-mail", "State", "Case Type")

MAPPING = f"""\
version: 1
fields:
  CaptorraId: {{value: "${{CAPTORRA_ID}}"}}
  Referrer: {{value: "{REFERRER}"}}
  First: First Name
  Last: Last Name
  Primary: {{column: Phone, transform: phone}}
  Email: {{column: E-mail, transform: email}}
  State: {{column: State, transform: state}}
  Type:
    column: Case Type
    lookup: {{Auto Accident: "{AUTO_TYPE}"}}
  ID: Lead ID
"""


def lead_rows(count: int, *, start: int = 1) -> list[tuple[str, ...]]:
    """`count` valid, distinct leads (fictional 555-01xx phones, .example emails)."""
    return [
        (
            f"L{n:05d}",
            f"First{n}",
            f"Last{n}",
            f"({215 + n // 10_000}) 555-{n % 10_000:04d}",  # one phone per lead
            f"lead{n}@mail.example",
            "pa",
            "Auto Accident",
        )
        for n in range(start, start + count)
    ]


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = LEAD_HEADER
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_sheet(path: Path, sheet: str = "Results") -> list[dict[str, str | int | None]]:
    """The rows of a results workbook sheet as dicts keyed by the header."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(workbook[sheet].iter_rows(values_only=True))
    finally:
        workbook.close()
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]  # type: ignore[arg-type]


def read_summary(path: Path) -> dict[str, object]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {
            str(label): value for label, value in workbook["Summary"].iter_rows(values_only=True)
        }
    finally:
        workbook.close()
