"""Generate realistic, messy lead spreadsheets like the ones vendors actually send.

Two made-up vendors are modelled:

* ``acme`` -- an Excel export with one column per field (Lead ID, First Name,
  Last Name, Phone, ... Notes, Source).
* ``lakeside`` -- a cp1252, semicolon-delimited CSV with a single Full Name
  column, one Address line and web tracking columns (Landing Page, utm_term).

Why messy: a tidy test file proves nothing. Real exports have phones in a dozen
formats and some stored as *numbers* (Excel keeps them as floats), zip codes
that lost their leading zero (New Jersey's 07030 becomes the number 7030),
state names spelled out in any case, stray spaces and capitals in emails and
names, "Smith, John" full names, accented names (José, Zoë, Ñúñez) that only
survive if the reader gets the encoding right, and multi-line notes with
commas, quotes and newlines, some longer than Captorra's 4,000-character
limit. Those are all *fixable* and should import cleanly.

On top of that a small, known set of rows is planted on purpose (see
`plan_defects`): about 3% truly invalid rows (a missing last name -- for
lakeside a blank Full Name --, a first name over 50 characters, the unknown
state "Xyz", an email of 120 characters), about 1% with an unknown case type
("Dog Bite"), and two rows that repeat the Lead ID of an earlier row (an exact
copy, and a re-send with one more line of notes). Small files get at least one
of each. Everything is deterministic for a given (rows, seed, vendor), so tests
can assert exactly which rows fail: `plan_defects(...).describe()` lists them.

Phone numbers use the 555-0100..0199 range reserved for fiction; domains end
in ``.example``. No real person is described.

Library use::

    rows = make_leads(240, seed=1, vendor="acme")
    write_xlsx(rows, "acme_leads.xlsx")

CLI::

    python benchmarks/leadgen.py --rows 1000000 --vendor lakeside --format csv --out big.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast, get_args

if TYPE_CHECKING:
    from xlsxwriter.workbook import Workbook

Vendor = Literal["acme", "lakeside"]
Row = dict[str, object]

ACME_HEADERS: tuple[str, ...] = (
    "Lead ID", "First Name", "Last Name", "Phone", "Alt Phone", "E-mail", "Street", "Unit",
    "City", "State", "Zip", "County", "Best Time to Call", "Case Type", "Accident Date",
    "Injured?", "Notes", "Source",
)  # fmt: skip
LAKESIDE_HEADERS: tuple[str, ...] = (
    "Lead #", "Full Name", "Cell Phone", "Email Address", "Address", "Town", "St",
    "Postal Code", "Practice Area", "Comments", "Landing Page", "utm_term",
)  # fmt: skip

# Share of rows planted as invalid / with an unknown case type (see module docstring).
INVALID_SHARE = 0.03
UNKNOWN_TYPE_SHARE = 0.01
UNKNOWN_CASE_TYPE = "Dog Bite"
# Accident dates are counted back from a fixed day, not today, so output never drifts.
REFERENCE_DAY = dt.date(2024, 9, 30)


class Defect(StrEnum):
    """The deliberately bad rows a generated file contains."""

    MISSING_LAST = "missing last name"
    # A Full Name column cannot lack only the last name: a lone word is read as both.
    BLANK_NAME = "blank Full Name (no first or last name)"
    LONG_FIRST = "first name over 50 characters"
    BAD_STATE = "unknown state 'Xyz'"
    LONG_EMAIL = "email of 120 characters"
    UNKNOWN_TYPE = f"unknown case type '{UNKNOWN_CASE_TYPE}'"
    DUPLICATE = "same lead ID as an earlier row"


@dataclass(frozen=True)
class Plan:
    """Which rows (0-based index into the list of rows) are planted, and how."""

    defects: Mapping[int, Defect] = field(default_factory=dict)
    duplicate_of: Mapping[int, int] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """One line per planted row, numbered as a person sees the sheet (header = row 1)."""
        lines = []
        for index in sorted(self.defects):
            line = f"row {index + 2}: {self.defects[index]}"
            if index in self.duplicate_of:
                line += f" (row {self.duplicate_of[index] + 2})"
            lines.append(line)
        return lines


def headers(vendor: Vendor) -> tuple[str, ...]:
    """The column headers of a vendor's export, in order."""
    return ACME_HEADERS if vendor == "acme" else LAKESIDE_HEADERS


def plan_defects(n: int, *, seed: int = 0, vendor: Vendor = "acme") -> Plan:
    """Decide, without generating any rows, which rows of `make_leads(n, ...)` are bad."""
    rng = random.Random(f"leadgen-plan:{vendor}:{seed}:{n}")
    duplicate_of: dict[int, int] = {}
    if n >= 10:
        for index in sorted(rng.sample(range(n // 2, n), 2)):
            source = rng.randrange(index)
            while source in duplicate_of or source in duplicate_of.values():
                source = rng.randrange(index)
            duplicate_of[index] = source
    kinds = _invalid_kinds(vendor)
    n_invalid = max(len(kinds), round(n * INVALID_SHARE)) if n >= 8 else 0
    n_unknown = max(1, round(n * UNKNOWN_TYPE_SHARE)) if n >= 8 else 0
    taken = set(duplicate_of) | set(duplicate_of.values())
    # Row 0 stays good so the first lead a person sees looks normal.
    candidates = rng.sample(range(1, n), n_invalid + n_unknown + len(taken)) if n > 1 else []
    picks = [i for i in candidates if i not in taken]
    defects: dict[int, Defect] = dict.fromkeys(duplicate_of, Defect.DUPLICATE)
    for k, index in enumerate(picks[:n_invalid]):
        defects[index] = kinds[k % len(kinds)]
    defects.update(dict.fromkeys(picks[n_invalid : n_invalid + n_unknown], Defect.UNKNOWN_TYPE))
    return Plan(defects=defects, duplicate_of=duplicate_of)


def make_leads(n: int, *, seed: int = 0, vendor: Vendor = "acme") -> list[Row]:
    """`n` lead rows for `vendor`, as dicts keyed by that vendor's headers.

    Values are typed the way the vendor's export holds them: mostly `str`, but
    some phones and zips are `int` (numbers in Excel) and Accident Date is a
    `datetime.date`. An empty cell is "".
    """
    return list(iter_leads(n, seed=seed, vendor=vendor))


def iter_leads(n: int, *, seed: int = 0, vendor: Vendor = "acme") -> Iterator[Row]:
    """Like `make_leads`, but one row at a time, so a million rows need little memory."""
    plan = plan_defects(n, seed=seed, vendor=vendor)
    rng = random.Random(f"leadgen-rows:{vendor}:{seed}")
    pools = _Pools.build(random.Random(f"leadgen-pools:{seed}"))
    make_row = _acme_row if vendor == "acme" else _lakeside_row
    first_id = 100_000 + rng.randrange(900_000)
    sources = set(plan.duplicate_of.values())
    kept: dict[int, Row] = {}
    last_duplicate = max(plan.duplicate_of, default=-1)
    for index in range(n):
        if index in plan.duplicate_of:
            row = _resend(kept[plan.duplicate_of[index]], vendor, add_note=index == last_duplicate)
        else:
            person = _person(rng, pools, first_id + index)
            defect = plan.defects.get(index)
            if defect is not None:
                _plant(person, defect, rng, vendor)
            row = make_row(person, rng, pools)
        if index in sources:
            kept[index] = row
        yield row


# ---------------------------------------------------------------------------
# Writers


def write_xlsx(rows: Iterable[Mapping[str, object]], path: str | os.PathLike[str]) -> int:
    """Write rows to an .xlsx sheet named "Leads" the way a vendor export stores them.

    `int`/`float` cells become Excel numbers (so 5555550123 is stored as a float
    and zip 07030 written as 7030 shows as 7030), dates become Excel dates and
    everything else is text. Returns the number of data rows written.
    """
    import xlsxwriter  # imported here so the CSV path does not need it

    first, rows_iter = _peek(rows)
    columns = list(first) if first is not None else []
    with _replacing(path) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
        # A fixed creation time keeps the file byte-identical for the same seed.
        workbook.set_properties({"created": dt.datetime(2024, 10, 1, 9, 0)})
        try:
            count = _fill_sheet(workbook, columns, rows_iter)
        finally:
            workbook.close()
    return count


def _fill_sheet(
    workbook: Workbook, columns: Sequence[str], rows: Iterable[Mapping[str, object]]
) -> int:
    sheet = workbook.add_worksheet("Leads")
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "mm/dd/yyyy"})
    for col, name in enumerate(columns):
        sheet.set_column(col, col, 40 if name in ("Notes", "Comments") else 16)
        sheet.write_string(0, col, name, bold)
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, name in enumerate(columns):
            value = row.get(name, "")
            if value == "" or value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(count, col, value)
            elif isinstance(value, dt.date):
                sheet.write_datetime(count, col, value, date_format)
            elif isinstance(value, int | float):
                sheet.write_number(count, col, value)
            else:
                sheet.write_string(count, col, str(value))
    sheet.freeze_panes(1, 0)
    return count


def write_csv(
    rows: Iterable[Mapping[str, object]],
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> int:
    """Write rows as CSV (CRLF line ends, quoted only where needed, like Excel).

    Dates are written as MM/DD/YYYY. The encoding is strict: every generated
    name and note fits cp1252. Returns the number of data rows written.
    """
    first, rows_iter = _peek(rows)
    columns = list(first) if first is not None else []
    count = 0
    with _replacing(path) as tmp, tmp.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows_iter:
            writer.writerow([_csv_text(row.get(name, "")) for name in columns])
            count += 1
    return count


@contextmanager
def _replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp file beside `path` that replaces it only if writing succeeds."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)


def _csv_text(value: object) -> object:
    if isinstance(value, dt.date):
        return value.strftime("%m/%d/%Y")
    return value


def _peek(
    rows: Iterable[Mapping[str, object]],
) -> tuple[Mapping[str, object] | None, Iterator[Mapping[str, object]]]:
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return None, iterator
    return first, chain([first], iterator)


# ---------------------------------------------------------------------------
# Reference data. Every string here is cp1252-safe (checked by `_check_cp1252`).

# state code -> (full name, weight, area codes, [(city, county, zip)])
_STATES: Mapping[str, tuple[str, int, tuple[int, ...], tuple[tuple[str, str, str], ...]]] = {
    "NJ": ("New Jersey", 34, (201, 609, 732, 856, 973), (
        ("Hoboken", "Hudson", "07030"), ("Jersey City", "Hudson", "07302"),
        ("Newark", "Essex", "07102"), ("Camden", "Camden", "08102"),
        ("Cherry Hill", "Camden", "08002"), ("Trenton", "Mercer", "08608"),
        ("Toms River", "Ocean", "08753"), ("Paterson", "Passaic", "07505"),
    )),
    "PA": ("Pennsylvania", 34, (215, 267, 412, 610, 717), (
        ("Philadelphia", "Philadelphia", "19103"), ("Philadelphia", "Philadelphia", "19147"),
        ("Pittsburgh", "Allegheny", "15213"), ("Allentown", "Lehigh", "18101"),
        ("Norristown", "Montgomery", "19401"), ("Harrisburg", "Dauphin", "17101"),
        ("Media", "Delaware", "19063"),
    )),
    "NY": ("New York", 10, (212, 516, 718), (
        ("Brooklyn", "Kings", "11201"), ("Yonkers", "Westchester", "10701"),
        ("Staten Island", "Richmond", "10301"),
    )),
    "MA": ("Massachusetts", 9, (508, 617, 781), (
        ("Boston", "Suffolk", "02116"), ("Cambridge", "Middlesex", "02139"),
        ("Worcester", "Worcester", "01608"), ("Springfield", "Hampden", "01103"),
    )),
    "DE": ("Delaware", 6, (302,), (
        ("Wilmington", "New Castle", "19801"), ("Dover", "Kent", "19901"),
    )),
    "CT": ("Connecticut", 4, (203, 860), (
        ("Hartford", "Hartford", "06103"), ("New Haven", "New Haven", "06510"),
    )),
    "MD": ("Maryland", 3, (410, 443), (("Baltimore", "Baltimore City", "21201"),)),
}  # fmt: skip

_FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Christopher", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Donald", "Ashley", "Kevin", "Kimberly", "Brian", "Emily", "Luis",
    "Maria", "Carlos", "Ana", "Jamal", "Aaliyah", "DeShawn", "Tyrone", "Keisha", "Wei",
    "Mei", "Priya", "Raj", "Tomasz", "Agnieszka", "Giuseppe", "Francesca", "Sean", "Siobhan",
    "Mary Ann", "Jean-Luc", "Anne Marie",
    # accented, all in cp1252
    "José", "Zoë", "Renée", "Inés", "Andrés", "Chloë", "François", "Mónica", "Björn",
    "Søren", "Raúl", "Héctor", "Noémie", "Dagný",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Moore",
    "Robinson", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Hill", "Green", "Adams", "Baker", "Rodriguez", "Martinez", "Hernandez", "Lopez",
    "Gonzalez", "Perez", "Sanchez", "Rivera", "Nguyen", "Kim", "Patel", "Chen", "Kowalski",
    "Russo", "Esposito", "Murphy", "O'Connor", "McCarthy", "MacDonald", "D'Angelo",
    "Smith-Jones", "Van der Berg", "De La Cruz", "Washington",
    # accented and typographic-apostrophe names, all in cp1252
    "Ñúñez", "García", "Peña", "Müller", "Gómez", "Øvergård", "Lefèvre", "Ibáñez",
    "O\u2019Brien", "D\u2019Amico",
)  # fmt: skip
_STREETS = (
    "Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lincoln", "Park", "Walnut",
    "Chestnut", "Spruce", "Market", "Broad", "Highland", "Ridge", "Church", "River",
    "Lake", "Hamilton", "Franklin", "Pine", "Sunset", "Mill", "Jefferson", "Kennedy",
)  # fmt: skip
_STREET_SUFFIXES = ("St", "St.", "Street", "Ave", "Avenue", "Rd", "Road", "Blvd", "Dr", "Ln")
_UNITS = ("Apt 2B", "Apt. 4", "#3", "Unit 12", "Fl 2", "Suite 300", "apt 1a", "Apt 10C")
_DOMAINS = ("gmail.example", "yahoo.example", "aol.example", "hotmail.example",
            "comcast.example", "verizon.example", "outlook.example")  # fmt: skip
_BEST_TIMES = (
    "Morning", "Afternoon", "Evening", "Anytime", "after 5pm", "Before 9 AM",
    "Weekends only", "Lunch (12-1)", "ASAP", "evenings after 6, not before",
    "Any time - cell is best", "Mornings, work nights",
)  # fmt: skip
_CASE_TYPES = ("Auto Accident", "Slip and Fall", "Workers Comp", "Medical Malpractice")
_CASE_WEIGHTS = (55, 20, 15, 10)
# Lakeside's web forms spell practice areas several ways; the mapping's lookup lists each.
_LAKESIDE_AREAS: Mapping[str, tuple[str, ...]] = {
    "Auto Accident": ("Auto Accident", "Car Accident", "car accident"),
    "Slip and Fall": ("Slip and Fall", "Slip & Fall"),
    "Workers Comp": ("Workers Comp", "Workers' Compensation"),
    "Medical Malpractice": ("Medical Malpractice", "Med Mal"),
}
_ACME_SOURCES = (
    "Google Ads", "Google Ads", "Facebook Lead Ad", "Website Form", "TV - Channel 6",
    "Radio - WXTU", "Referral - Former Client", "Bing Ads", "Billboard I-95", "",
)  # fmt: skip
_INJURED = ("Yes", "Yes", "Yes", "No", "Y", "N", "yes", "no", "YES", "")
_LANDING_SLUGS: Mapping[str, tuple[str, ...]] = {
    "Auto Accident": ("car-accident-lawyer", "auto-accident", "truck-accident"),
    "Slip and Fall": ("slip-and-fall", "premises-liability"),
    "Workers Comp": ("workers-compensation", "injured-at-work"),
    "Medical Malpractice": ("medical-malpractice",),
    UNKNOWN_CASE_TYPE: ("dog-bite-lawyer",),
}
_UTM_TERMS: Mapping[str, tuple[str, ...]] = {
    "Auto Accident": ("car accident lawyer", "car accident attorney near me",
                      "rear ended what to do", "truck accident lawyer philadelphia"),
    "Slip and Fall": ("slip and fall lawyer", "fell in store injury claim"),
    "Workers Comp": ("workers comp lawyer", "hurt at work lawyer nj"),
    "Medical Malpractice": ("medical malpractice attorney", "misdiagnosis lawsuit"),
    UNKNOWN_CASE_TYPE: ("dog bite lawyer",),
}  # fmt: skip

# Sentences for notes, by case type. Commas, quotes, typographic apostrophes and
# dashes are deliberate: they are what breaks naive CSV handling.
_NOTE_SENTENCES: Mapping[str, tuple[str, ...]] = {
    "Auto Accident": (
        "Caller was rear-ended at a red light on Route 73.",
        "T-boned in an intersection; other driver ran the stop sign.",
        "Other driver\u2019s insurance is State Farm, claim # pending.",
        'Police report taken, officer said "other driver at fault".',
        "Went to the ER by ambulance, neck and lower back pain.",
        "Car was totaled, rental ends Friday.",
        "Passenger in an Uber at the time of the crash.",
        "Has photos of both cars and the intersection.",
    ),
    "Slip and Fall": (
        "Slipped on a wet floor at a grocery store, no warning sign.",
        "Fell on ice in an apartment complex parking lot.",
        "Store manager wrote an incident report, she has a copy.",
        "Broke her wrist \u2013 cast for 6 weeks.",
        'Tripped on a broken step; landlord was told "months ago".',
    ),
    "Workers Comp": (
        "Injured lifting boxes at the warehouse, back surgery scheduled.",
        "Employer says it\u2019s not work related, denied the claim.",
        "Fell from a ladder on a job site, no harness provided.",
        "Out of work since the injury, no comp checks yet.",
        "Supervisor told him \"don't file, we'll take care of it\".",
    ),
    "Medical Malpractice": (
        "Surgery in March, infection not caught for two weeks.",
        "Misdiagnosed in the ER, sent home, returned the next day.",
        "Wrong medication dose at discharge, hospitalized again.",
        "Has all records from the hospital, about 300 pages.",
    ),
    UNKNOWN_CASE_TYPE: (
        "Neighbor\u2019s dog bit her on the leg, 8 stitches.",
        'Dog was off leash, owner said "he never bites".',
    ),
}
_GENERIC_SENTENCES = (
    "Spanish speaker, prefers text.",
    "Already spoke with another firm, not signed.",
    "Wants a call back, works nights.",
    "Caller is the daughter; client is 78.",
    "Do NOT call before 10am.",
    "Left VM, will try again tomorrow.",
    "Has health insurance through Medicaid.",
    "Asked about fees, told no fee unless we win.",
)
_FILLER_SENTENCES = tuple(chain(_GENERIC_SENTENCES, *_NOTE_SENTENCES.values()))


def _invalid_kinds(vendor: Vendor) -> tuple[Defect, ...]:
    name = Defect.MISSING_LAST if vendor == "acme" else Defect.BLANK_NAME
    return (name, Defect.LONG_FIRST, Defect.BAD_STATE, Defect.LONG_EMAIL)


_LONG_EMAIL_DOMAIN = "billing.saint-elizabeth-regional-medical-center-and-rehabilitation.example"
_LONG_FIRST_NAMES = (
    "Christopher-Alexander-Maximilian-Bartholomew-Jonathan",
    "Mary Elizabeth Anne Catherine Josephine Victoria Rose",
    "Please call my husband he handles everything thank you",
)


@dataclass(frozen=True)
class _Pools:
    """Notes built once per file, so a million rows only pick from lists."""

    notes: Mapping[str, tuple[str, ...]]
    long_notes: tuple[str, ...]
    # Phones given out so far: two people share one only once an area code's 100
    # fictional numbers are all taken (the importer takes a shared phone for one person).
    phones: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, rng: random.Random) -> _Pools:
        notes = {
            case: tuple(_note(rng, sentences) for _ in range(60))
            for case, sentences in _NOTE_SENTENCES.items()
        }
        return cls(notes=notes, long_notes=tuple(_long_note(rng) for _ in range(12)))


def _note(rng: random.Random, sentences: Sequence[str]) -> str:
    parts = rng.sample(sentences, rng.randint(1, min(3, len(sentences))))
    if rng.random() < 0.5:
        parts.append(rng.choice(_GENERIC_SENTENCES))
    sep = rng.choice((" ", " ", "\n", "\r\n", "; "))
    return sep.join(parts)


def _long_note(rng: random.Random) -> str:
    """A call log of 4,100-6,000 characters: over Captorra's 4,000 limit for Details."""
    target = rng.randint(4_100, 6_000)
    lines: list[str] = []
    size = 0
    day = dt.date(2024, 1, 2)
    while size < target:
        day += dt.timedelta(days=rng.randint(1, 4))
        who = rng.choice(("LM", "Spoke w/ client", "Intake (KR)", "Paralegal", "Client called"))
        text = " ".join(rng.sample(_FILLER_SENTENCES, 3))
        line = f"{day:%m/%d} {who}: {text}"
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


@dataclass
class _Person:
    """One made-up lead before it is rendered in a vendor's format."""

    lead_number: int
    first: str
    last: str
    email: str
    state: str
    city: str
    county: str
    zip: str
    area_codes: tuple[int, ...]
    case_type: str


_STATE_CODES = tuple(_STATES)
_STATE_WEIGHTS = tuple(_STATES[code][1] for code in _STATE_CODES)
_STATE_CUM_WEIGHTS = tuple(sum(_STATE_WEIGHTS[: i + 1]) for i in range(len(_STATE_WEIGHTS)))
_CASE_CUM_WEIGHTS = tuple(sum(_CASE_WEIGHTS[: i + 1]) for i in range(len(_CASE_WEIGHTS)))


# Letters NFKD does not split into an ASCII base letter plus an accent.
_UNDECOMPOSABLE = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss"})


def _person(rng: random.Random, pools: _Pools, lead_number: int) -> _Person:
    state = rng.choices(_STATE_CODES, cum_weights=_STATE_CUM_WEIGHTS)[0]
    _, _, area_codes, places = _STATES[state]
    city, county, zip_code = rng.choice(places)
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    case_type = rng.choices(_CASE_TYPES, cum_weights=_CASE_CUM_WEIGHTS)[0]
    local = rng.choice(
        (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}{rng.randint(1, 99)}")
    )
    # Mailbox names are plain ASCII: "Ñúñez" -> "nunez", "O'Brien" -> "obrien".
    local = local.lower().translate(_UNDECOMPOSABLE)
    local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    local = "".join(ch for ch in local if ch.isalnum() or ch == ".")
    email = f"{local}@{rng.choice(_DOMAINS)}"
    return _Person(lead_number, first, last, email, state, city, county, zip_code, area_codes,
                   case_type)  # fmt: skip


def _plant(person: _Person, defect: Defect, rng: random.Random, vendor: Vendor) -> None:
    """Turn a good person into one with exactly one deliberate defect."""
    if defect is Defect.MISSING_LAST:
        person.last = ""
    elif defect is Defect.BLANK_NAME:
        person.first = person.last = ""
    elif defect is Defect.LONG_FIRST:
        # In a Full Name column only a single long word stays a first name.
        person.first = rng.choice(_LONG_FIRST_NAMES if vendor == "acme" else _LONG_FIRST_NAMES[:1])
    elif defect is Defect.BAD_STATE:
        person.state = "Xyz"
    elif defect is Defect.LONG_EMAIL:
        # A system-made claims alias on a long hospital domain, exactly 120 characters:
        # well-formed (local part under 64), only too long for Captorra's 100.
        stem = person.email.split("@")[0][:30] + ".claims."
        room = 120 - len("@") - len(_LONG_EMAIL_DOMAIN) - len(stem)
        digits = "".join(rng.choices("0123456789", k=room))
        person.email = f"{stem}{digits}@{_LONG_EMAIL_DOMAIN}"
    elif defect is Defect.UNKNOWN_TYPE:
        person.case_type = UNKNOWN_CASE_TYPE


# ---------------------------------------------------------------------------
# Rendering one person the way each vendor's export writes it


def _messy_name(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return name.upper()
    if roll < 0.09:
        return name.lower()
    if roll < 0.15:
        return f" {name}  "
    if roll < 0.18 and " " not in name:
        return f"{name} "
    return name


# Each vendor's people get their own half of the fictional numbers, so the two
# sample files never give two people one phone.
_ACME_LINES = range(100, 150)
_LAKESIDE_LINES = range(150, 200)


def _phone(
    rng: random.Random, area_codes: Sequence[int], taken: set[str], lines: range
) -> str | int:
    area = rng.choice(area_codes)
    drawn = rng.randrange(100, 200)  # 555-0100..0199: reserved for fictional use
    # The next free number instead of a taken one, without drawing again: every
    # other value of the file stays what this seed always gave.
    line = lines.start + (drawn - 100) % len(lines)
    for step in range(len(lines)):
        free = lines.start + (line - lines.start + step) % len(lines)
        if f"{area}5550{free}" not in taken:
            line = free
            break
    digits = f"{area}5550{line}"
    taken.add(digits)
    roll = rng.random()
    if roll < 0.25:
        return int(digits)  # the vendor's spreadsheet holds it as a number
    if roll < 0.45:
        return f"({area}) 555-0{line}"
    if roll < 0.60:
        return f"{area}-555-0{line}"
    if roll < 0.70:
        return f"{area}.555.0{line}"
    if roll < 0.78:
        return f"+1 {area} 555 0{line}"
    if roll < 0.83:
        return f"1-{area}-555-0{line}"
    if roll < 0.93:
        return digits
    if roll < 0.97:
        return f"{digits} ext {rng.randint(2, 400)}"
    return f"({area}) 555-0{line} x{rng.randint(2, 99)}"


def _messy_state(rng: random.Random, state: str) -> str:
    if state not in _STATES:
        return state
    full = _STATES[state][0]
    roll = rng.random()
    if roll < 0.55:
        return state
    if roll < 0.65:
        return state.lower()
    if roll < 0.80:
        return full
    if roll < 0.90:
        return full.lower()
    if roll < 0.95:
        return full.upper()
    return f"{state} "


def _messy_zip(rng: random.Random, zip_code: str) -> str | int:
    roll = rng.random()
    if roll < 0.5:
        return int(zip_code)  # 07030 -> 7030: the leading zero is gone
    if roll < 0.9:
        return zip_code
    return f"{zip_code}-{rng.randint(1000, 9999)}"


def _messy_email(rng: random.Random, email: str) -> str:
    roll = rng.random()
    if roll < 0.10:
        return ""
    if roll < 0.16:
        return email.upper()
    if roll < 0.24:
        local, domain = email.split("@")
        return f"{local.title()}@{domain.title()}"
    if roll < 0.32:
        return f" {email} "
    if roll < 0.36:
        return f"{email}  "
    return email


def _messy_city(rng: random.Random, city: str) -> str:
    roll = rng.random()
    if roll < 0.10:
        return city.upper()
    if roll < 0.20:
        return city.lower()
    if roll < 0.25:
        return f" {city}"
    return city


def _street(rng: random.Random) -> str:
    number = rng.randint(1, 9999)
    prefix = rng.choice(("", "", "", "N ", "S. ", "W ", "East "))
    street = f"{number} {prefix}{rng.choice(_STREETS)} {rng.choice(_STREET_SUFFIXES)}"
    return street.lower() if rng.random() < 0.1 else street


def _notes(rng: random.Random, pools: _Pools, case_type: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        return ""
    if roll < 0.165:
        return rng.choice(pools.long_notes)
    return rng.choice(pools.notes[case_type])


def _acme_row(person: _Person, rng: random.Random, pools: _Pools) -> Row:
    county = person.county
    roll = rng.random()
    if roll < 0.1:
        county = ""
    elif roll < 0.25:
        county = f"{county} County"
    elif roll < 0.3:
        county = county.lower()
    case_type = person.case_type
    roll = rng.random()
    if roll < 0.03 and case_type != UNKNOWN_CASE_TYPE:
        case_type = ""
    elif roll < 0.13:
        case_type = case_type.lower()
    elif roll < 0.16:
        case_type = f"{case_type.upper()} "
    accident: dt.date | str = ""
    if rng.random() < 0.92:
        accident = REFERENCE_DAY - dt.timedelta(days=rng.randrange(730))
    return {
        "Lead ID": f"AC-{person.lead_number:07d}",
        "First Name": _messy_name(rng, person.first),
        "Last Name": _messy_name(rng, person.last) if person.last else "",
        "Phone": _phone(rng, person.area_codes, pools.phones, _ACME_LINES),
        "Alt Phone": (
            _phone(rng, person.area_codes, pools.phones, _ACME_LINES) if rng.random() < 0.25 else ""
        ),
        "E-mail": _messy_email(rng, person.email) if len(person.email) < 100 else person.email,
        "Street": _street(rng),
        "Unit": rng.choice(_UNITS) if rng.random() < 0.25 else "",
        "City": _messy_city(rng, person.city),
        "State": _messy_state(rng, person.state),
        "Zip": _messy_zip(rng, person.zip),
        "County": county,
        "Best Time to Call": rng.choice(_BEST_TIMES) if rng.random() < 0.7 else "",
        "Case Type": case_type,
        "Accident Date": accident,
        "Injured?": rng.choice(_INJURED),
        "Notes": _notes(rng, pools, person.case_type),
        "Source": rng.choice(_ACME_SOURCES),
    }


def _full_name(rng: random.Random, first: str, last: str) -> str:
    if not last:
        return first
    roll = rng.random()
    if roll < 0.15:
        return f"{last}, {first}"
    if roll < 0.18:
        return f"{last}, {first}".upper()
    if roll < 0.23:
        return f"{first} {last}".lower()
    if roll < 0.30:
        return f"  {first}  {last} "
    return f"{first} {last}"


def _lakeside_row(person: _Person, rng: random.Random, pools: _Pools) -> Row:
    area = (
        UNKNOWN_CASE_TYPE
        if person.case_type == UNKNOWN_CASE_TYPE
        else rng.choice(_LAKESIDE_AREAS[person.case_type])
    )
    address = _street(rng)
    if rng.random() < 0.25:
        address += rng.choice((" ", ", ")) + rng.choice(_UNITS)
    zip_code = _messy_zip(rng, person.zip)
    landing = ""
    if rng.random() < 0.9:
        slug = rng.choice(_LANDING_SLUGS[person.case_type])
        landing = (
            f"https://www.lakesidelegal.example/{slug}?utm_source="
            f"{rng.choice(('google', 'google', 'facebook', 'bing'))}&utm_medium=cpc"
            f"&utm_campaign={slug.replace('-', '_')}_{rng.choice(('nj', 'pa', 'ny'))}"
        )
        if rng.random() < 0.3:
            landing += f"&gclid=Cj0KCQjw{rng.getrandbits(96):024x}"
    term = rng.choice(_UTM_TERMS[person.case_type]) if landing else ""
    if landing and rng.random() < 0.03:
        term = "{keyword}"  # an ad platform macro the vendor never filled in
    return {
        "Lead #": str(person.lead_number),
        "Full Name": _full_name(rng, person.first, person.last),
        "Cell Phone": _phone(rng, person.area_codes, pools.phones, _LAKESIDE_LINES),
        "Email Address": (
            _messy_email(rng, person.email) if len(person.email) < 100 else person.email
        ),
        "Address": address,
        "Town": _messy_city(rng, person.city),
        "St": _messy_state(rng, person.state),
        "Postal Code": str(zip_code),
        "Practice Area": area,
        "Comments": _notes(rng, pools, person.case_type),
        "Landing Page": landing,
        "utm_term": term,
    }


def _resend(row: Row, vendor: Vendor, *, add_note: bool) -> Row:
    """A duplicate: the vendor sent an earlier lead again, with the same ID.

    The first duplicate is an exact copy; the second is a re-send with one more
    line in the notes, as happens when a vendor updates and re-exports a lead.
    """
    copy = dict(row)
    notes = "Notes" if vendor == "acme" else "Comments"
    if add_note:
        copy[notes] = f"{copy[notes]}\nRE-SENT: client called again, still wants a call back."
    return copy


# ---------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a realistic, messy lead file (see the module docstring)."
    )
    parser.add_argument("--rows", type=int, required=True, help="number of data rows")
    parser.add_argument("--vendor", choices=get_args(Vendor), default="acme")
    parser.add_argument("--format", choices=("xlsx", "csv"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--encoding", help="CSV encoding (default: utf-8 for acme, cp1252 for lakeside)"
    )
    parser.add_argument(
        "--delimiter", help="CSV delimiter (default: ',' for acme, ';' for lakeside)"
    )
    parser.add_argument(
        "--list-defects", action="store_true", help="print the deliberately bad rows"
    )
    args = parser.parse_args(argv)
    vendor = cast(Vendor, args.vendor)
    native_csv = vendor == "lakeside"
    started = time.perf_counter()
    rows = iter_leads(args.rows, seed=args.seed, vendor=vendor)
    if args.format == "xlsx":
        count = write_xlsx(rows, args.out)
    else:
        encoding = args.encoding or ("cp1252" if native_csv else "utf-8")
        delimiter = args.delimiter or (";" if native_csv else ",")
        count = write_csv(rows, args.out, encoding=encoding, delimiter=delimiter)
    elapsed = time.perf_counter() - started
    print(f"wrote {count:,} {vendor} rows to {args.out} in {elapsed:.1f}s", file=sys.stderr)
    if args.list_defects:
        plan = plan_defects(args.rows, seed=args.seed, vendor=vendor)
        print("\n".join(plan.describe()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
