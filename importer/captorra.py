"""The Captorra lead-posting API as data: one table of field definitions.

This table drives the validation schema, the `fields` command, the
documentation and the sandbox, so the rules live in exactly one place.
Source: `CAPTORRA.md` (Captorra's "Captorra API Posting" page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

PRODUCTION_ENDPOINT = "https://captorraapi.captorra.com/api/captorraapi/create"

GUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Kind(StrEnum):
    """What a field's value must look like, beyond its length."""

    TEXT = "text"
    MULTILINE = "multiline text"
    DIGITS = "digits"
    GUID = "GUID"
    STATE = "2-letter state"


@dataclass(frozen=True)
class CaptorraField:
    name: str
    required: bool
    kind: Kind
    max_length: int | None
    description: str


FIELDS: tuple[CaptorraField, ...] = (
    CaptorraField("CaptorraId", True, Kind.DIGITS, None, "the client organization posted to"),
    CaptorraField("First", True, Kind.TEXT, 50, "contact first name"),
    CaptorraField("Last", True, Kind.TEXT, 50, "contact last name"),
    CaptorraField("Referrer", True, Kind.GUID, None, "the posting source (vendor/site)"),
    CaptorraField("Primary", False, Kind.TEXT, 50, "primary phone"),
    CaptorraField("Secondary", False, Kind.TEXT, 50, "secondary phone"),
    CaptorraField("Email", False, Kind.TEXT, 100, "email"),
    CaptorraField("Address", False, Kind.TEXT, 250, "address line 1"),
    CaptorraField("City", False, Kind.TEXT, 80, "city"),
    CaptorraField("State", False, Kind.STATE, 2, "state (two letters)"),
    CaptorraField("Zip", False, Kind.TEXT, 20, "zip code"),
    CaptorraField("County", False, Kind.TEXT, 50, "county"),
    CaptorraField("BestTime", False, Kind.TEXT, 100, "best time to reach the contact"),
    CaptorraField("Details", False, Kind.MULTILINE, 4000, "details of the lead"),
    CaptorraField("Type", False, Kind.GUID, None, "case type / practice area"),
    CaptorraField("Keyword", False, Kind.TEXT, 50, "transaction number / marketing details"),
    CaptorraField("ID", False, Kind.TEXT, 100, "the vendor's own unique id for the lead"),
    CaptorraField("ReferringKeyword", False, Kind.TEXT, 50, "search term"),
    CaptorraField("Conversion", False, Kind.TEXT, 300, "conversion page"),
    CaptorraField("Tracking", False, Kind.MULTILINE, 4000, "tracking route"),
)

FIELDS_BY_NAME: MappingProxyType[str, CaptorraField] = MappingProxyType(
    {field.name: field for field in FIELDS}
)
FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in FIELDS)
REQUIRED_FIELDS: tuple[str, ...] = tuple(field.name for field in FIELDS if field.required)
GUID_FIELDS: tuple[str, ...] = tuple(field.name for field in FIELDS if field.kind is Kind.GUID)

# Fields where a long value is cut (with a warning) rather than rejecting the lead:
# free text where the start carries the meaning.
TRUNCATED_BY_DEFAULT: frozenset[str] = frozenset({"Details", "Tracking"})


class ApiError:
    """The error texts Captorra documents, verbatim."""

    JSON_SYNTAX = "JSON syntax error"
    INVALID_GUID = "Invalid GUID format."
    UNKNOWN_GUID = "Referrer/Type GUID does not exist."
    MISSING_CAPTORRA_ID = "Please provide the CaptorraId"
    MISSING_FIRST = "Please provide First"
    MISSING_LAST = "Please provide Last"
    MISSING_REFERRER = "Please provide Referrer"
