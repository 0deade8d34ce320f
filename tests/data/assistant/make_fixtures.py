"""Writes the mapping assistant's fixtures next to this script.

    python tests/data/assistant/make_fixtures.py

Every name, phone (the fictional 555-01xx range) and `.example` email is made
up. The output is deterministic (fixed workbook properties), and
tests/test_assistant.py checks that the committed files match it.

* `new_vendor.xlsx`: a vendor the assistant's rules were not written from, with
  its own headers, phones stored as Excel numbers, zips that lost their zero,
  states as names and codes, and two bad rows (row 9 has no surname; row 14's
  province is not a US state);
* `traps.csv`: headers that merely contain a field's word (`Email consent`,
  `Phone opt-in`, `Do Not Call`, `Zip verified`) beside the real columns;
* `sniffing.csv`: headers that name no field (`Contact`, `Number`) over emails
  and phones, and a `Name` column of full names;
* `awkward_headers.csv`: headers YAML would misread unquoted (`Lead #`,
  `Injured?`, `Yes`, `Time: Best`, `2024`, ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
CREATED = dt.datetime(2024, 1, 1)  # fixed document properties: the same bytes every run

NEW_VENDOR_HEADER = (
    "Given Name", "Surname", "Mobile", "Email Address", "Street Address", "Apt", "Town",
    "Province", "Postal Code", "Case Type", "Comments", "Lead Source", "utm_term",
)  # fmt: skip

# Mobile and Postal Code: an int is stored as an Excel number, as vendors' sheets do.
NEW_VENDOR_ROWS: tuple[tuple[str | int, ...], ...] = (
    ("Maria", "Lopez", 2155550101, "Maria.Lopez@mail.example", "12 Oak St", "Apt 3", "Camden",
     "New Jersey", 8102, "Auto Accident", "Rear-ended on Route 73.", "Facebook",
     "car crash lawyer"),
    ("James", "O'Neil", "(609) 555-0102", "jon@mail.example", "40 Elm Ave", "", "Trenton",
     "NJ", 8608, "Slip and Fall", "Fell in a store.", "Google", "slip and fall attorney"),
    ("Aisha", "Khan", "+1 267 555 0103", " aisha.khan@mail.example ", "7 Pine Rd", "Unit 2",
     "Philadelphia", "pa", 19103, "Auto Accident", "", "Google", ""),
    ("Chen", "Wei", 2125550104, "chen.wei@mail.example", "900 Broadway", "Suite 12",
     "New York", "NY", 10003, "Workers Comp", "Hurt at work, forklift.", "Radio", ""),
    ("Olga", "Petrova", "973.555.0105", "olga.p@mail.example", "3 Maple Ct", "", "Newark",
     "New Jersey", 7102, "Auto Accident", "Passenger in a taxi.", "Facebook", "taxi accident"),
    ("Luis", "García", "856-555-0106", "luis.garcia@mail.example", "81 Birch Ln", "", "Cherry Hill",
     "NJ", 8002, "Medical Malpractice", "Surgery complication.", "TV", ""),
    ("Emma", "Brown", 3025550107, "emma.brown@mail.example", "5 Cedar Dr", "Apt 1A", "Dover",
     "Delaware", 19901, "Slip and Fall", "Icy steps at a hotel.", "Google", "injury lawyer de"),
    ("Noah", "", "(215) 555-0108", "noah@mail.example", "66 Walnut St", "", "Philadelphia",
     "PA", 19106, "Auto Accident", "No surname given on the form.", "Facebook", ""),
    ("Zoë", "Martin", "2155550109", "zoe.martin@mail.example", "14 Spruce St", "", "Media",
     "Pennsylvania", 19063, "Dog Bite", "Neighbour's dog.", "Billboard", ""),
    ("Ben", "Cohen", 6095550110, "ben.cohen@mail.example", "2 Lake Dr", "", "Princeton", "nj",
     8540, "Auto Accident", "", "Google", "car accident lawyer nj"),
    ("Grace", "Kim", "732 555 0111", "grace.kim@mail.example", "19 Shore Rd", "Apt 5",
     "Asbury Park", "NJ", 7712, "Workers Comp", "Back injury lifting boxes.", "Radio", ""),
    ("Omar", "Haddad", "(201) 555-0112", "omar.h@mail.example", "8 Hill St", "", "Hoboken", "NJ",
     7030, "Auto Accident", "Hit by a bus.", "TV", ""),
    ("Sophie", "Tremblay", 4165550113, "sophie.t@mail.example", "1 King St", "", "Toronto",
     "Ontario", "M5H 1A1", "Auto Accident", "Moved from Canada.", "Google", ""),
    ("Ivan", "Novak", "215-555-0114", "ivan.novak@mail.example", "77 Market St", "Fl 2",
     "Philadelphia", "PA", 19107, "Slip and Fall", "Wet floor, no sign.", "Facebook", ""),
    ("Hannah", "Schmidt", 6105550115, "hannah.s@mail.example", "30 Church Rd", "", "Ardmore",
     "Pennsylvania", 19003, "Medical Malpractice", "Wrong medication.", "TV", ""),
    ("Kofi", "Mensah", "(302) 555-0116", "kofi.m@mail.example", "4 River Rd", "", "Wilmington",
     "DE", 19801, "Auto Accident", "T-boned at a light.", "Google", "t bone accident"),
)  # fmt: skip

TRAPS = (
    ("First Name", "Last Name", "Phone", "Email", "Zip", "Email consent", "Phone opt-in",
     "Do Not Call", "Zip verified"),
    ("Ann", "Lee", "(215) 555-0121", "ann.lee@mail.example", "19103", "Yes", "Y", "FALSE", "yes"),
    ("Bob", "Ray", "609-555-0122", "bob.ray@mail.example", "08540", "No", "N", "TRUE", "no"),
    ("Cy", "Lu", "2125550123", "cy.lu@mail.example", "10003", "Yes", "Y", "FALSE", "yes"),
    ("Di", "Fox", "302.555.0124", "di.fox@mail.example", "19901", "Yes", "N", "FALSE", "yes"),
)  # fmt: skip

SNIFFING = (
    ("Name", "Number", "Contact", "Town"),
    ("Ann Lee", "(215) 555-0131", "ann.lee@mail.example", "Camden"),
    ("Ray, Bob", "609-555-0132", "bob.ray@mail.example", "Trenton"),
    ("Dr. Cy Lu Jr.", "2125550133", "cy.lu@mail.example", "New York"),
    ("Di Fox", "+1 302 555 0134", "di.fox@mail.example", "Dover"),
)

AWKWARD = (
    ("Lead #", "First Name", "Last Name", "Injured?", "Yes", "Time: Best", "2024", "null",
     "Notes, internal", "[Source]", "Address", "Apt: Suite", "- dash", "'Quoted'"),
    ("L-1", "Ann", "Lee", "Yes", "y", "morning", "x", "n", "called twice", "web", "1 Oak St",
     "2B", "d", "q"),
    ("L-2", "Bob", "Ray", "No", "n", "evening", "y", "m", "", "tv", "2 Elm St", "", "e", "r"),
)  # fmt: skip


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode("utf-8")


def write_new_vendor(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"in_memory": True})
    workbook.set_properties({"created": CREATED})
    sheet = workbook.add_worksheet("Leads")
    sheet.write_row(0, 0, NEW_VENDOR_HEADER)
    for number, row in enumerate(NEW_VENDOR_ROWS, start=1):
        for position, value in enumerate(row):
            if isinstance(value, int):
                sheet.write_number(number, position, value)
            elif value:
                sheet.write_string(number, position, value)
    workbook.close()


def fixtures() -> dict[str, bytes]:
    """The CSV fixtures' bytes, by file name."""
    return {
        "traps.csv": _csv(TRAPS),
        "sniffing.csv": _csv(SNIFFING),
        "awkward_headers.csv": _csv(AWKWARD),
    }


def main(folder: Path = HERE) -> None:
    for name, data in fixtures().items():
        (folder / name).write_bytes(data)
    write_new_vendor(folder / "new_vendor.xlsx")


if __name__ == "__main__":
    main()
