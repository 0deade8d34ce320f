"""The baseline for map+validate: one pydantic model, validated row by row.

This is how the stage is usually written first: a `BaseModel` whose fields are
the Captorra fields (aliased to the acme headers), with `mode="before"`
validators doing the mapping's transforms and `StringConstraints` doing the
checks, then a loop over row dicts. It does the same work as
`mappings/example.yaml` + `importer.validation` + `importer.lead_key`:

- trim every value; phone, email, title, state, zip and GUID transforms; the
  Case Type lookup; Address from the `{Street} {Unit}` template; Details as
  labeled lines of Notes, Accident Date and Injured?;
- required fields (CaptorraId, First, Last, Referrer and the mapping's ID),
  length limits (rejecting, but cutting Details and Tracking with a warning),
  digits, GUID and 2-letter-state patterns, an unknown state or case type;
- the same quality warnings (phone, email and zip that look odd);
- the lead key (CaptorraId + ID, normalised) and duplicates of earlier rows.

Every failing field of a row is reported (pydantic collects them all), though
only the first failing constraint of each field. The baseline is written for
this one mapping, not driven by the mapping file, which only makes it faster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from importer.captorra import GUID_PATTERN
from importer.transforms import _phone_by_library, _state_codes

_GUID = GUID_PATTERN.pattern
_EXCEL_WHOLE_FLOAT = re.compile(r"^(\d+)\.0+$")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+?\d{1,2}")
_SPACES = re.compile(r"\s+")
_STATE_PUNCTUATION = re.compile(r"[.,]")
_US_PHONE = re.compile(
    r"(?:\+?1[\s.\-]*)?\(?(\d{3})\)?[\s.\-]*(\d{3})[\s.\-]*(\d{4})"
    r"(?:\s*(?:x|ext\.?|extension|#)\s*(\d{1,6}))?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}", re.IGNORECASE)
_US_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
_ZIP_PLUS4 = re.compile(r"^(\d{5})[\s\-]*(\d{4})$")
_SHORT_ZIP = re.compile(r"\d{1,4}")
_LONG_ZIP = re.compile(r"\d{6,9}")
_GUID_HEX = re.compile(
    r"\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?"
    r"([0-9a-fA-F]{12})\}?"
)
_STATES = _state_codes()
_DETAILS_COLUMNS = ("Notes", "Accident Date", "Injured?")
_LONG_TEXT = 4000

Digits = Annotated[str, StringConstraints(min_length=1, pattern=r"^\d+$")]
Guid = Annotated[str, StringConstraints(min_length=1, pattern=f"^{_GUID}$")]
OptionalGuid = Annotated[str, StringConstraints(pattern=f"^(?:{_GUID})?$")]
StateCode = Annotated[str, StringConstraints(pattern=r"^(?:[A-Za-z]{2})?$")]


@dataclass(frozen=True)
class Constants:
    """The mapping's fixed values and its Case Type lookup (keys trimmed and casefolded)."""

    captorra_id: str
    referrer: str
    keyword: str
    case_types: Mapping[str, str]


class AcmeLead(BaseModel):
    """One acme row as a Captorra lead: the acme columns are the aliases."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    CaptorraId: Digits
    Referrer: Guid
    First: str = Field(alias="First Name", min_length=1, max_length=50)
    Last: str = Field(alias="Last Name", min_length=1, max_length=50)
    Primary: str = Field(alias="Phone", max_length=50)
    Secondary: str = Field(alias="Alt Phone", max_length=50)
    Email: str = Field(alias="E-mail", max_length=100)
    Address: str = Field(max_length=250)
    City: str = Field(alias="City", max_length=80)
    State: StateCode = Field(alias="State")
    Zip: str = Field(alias="Zip", max_length=20)
    County: str = Field(alias="County", max_length=50)
    BestTime: str = Field(alias="Best Time to Call", max_length=100)
    Details: str
    Type: OptionalGuid = Field(alias="Case Type")
    Keyword: str = Field(max_length=50)
    ID: str = Field(alias="Lead ID", min_length=1, max_length=100)
    Tracking: str = Field(alias="Source")

    @model_validator(mode="before")
    @classmethod
    def _map(cls, row: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        constants: Constants = _context(info)["constants"]
        street, unit = row.get("Street", ""), row.get("Unit", "")
        details = "\n".join(
            f"{name}: {part}" for name in _DETAILS_COLUMNS if (part := row.get(name, "").strip())
        )
        return {
            **row,
            "CaptorraId": constants.captorra_id,
            "Referrer": constants.referrer,
            "Keyword": constants.keyword,
            "Address": _SPACES.sub(" ", f"{street} {unit}").strip(),
            "Details": details,
        }

    @field_validator("First", "Last", "Email", "City", "County", "BestTime", "ID", mode="before")
    @classmethod
    def _trimmed(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if info.field_name == "Email":
            return _SPACES.sub("", value).lower()
        if info.field_name == "City":
            return value.title()
        return value

    @field_validator("Primary", "Secondary", mode="before")
    @classmethod
    def _phone(cls, value: str) -> str:
        return phone(value.strip())

    @field_validator("State", mode="before")
    @classmethod
    def _state(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        key = _SPACES.sub(" ", _STATE_PUNCTUATION.sub(" ", value.casefold())).strip()
        code = _STATES.get(key)
        if code is None:
            raise ValueError(f'"{value}" is not a US state or territory')
        return code

    @field_validator("Zip", mode="before")
    @classmethod
    def _zip(cls, value: str) -> str:
        return zip_code(value.strip())

    @field_validator("Referrer", mode="before")
    @classmethod
    def _referrer(cls, value: str) -> str:
        return canonical_guid(value.strip())

    @field_validator("Type", mode="before")
    @classmethod
    def _case_type(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            return value
        found = _context(info)["constants"].case_types.get(value.casefold())
        if found is None:
            raise ValueError(f'"{value}" is not in the lookup')
        return canonical_guid(found)

    @field_validator("Details", "Tracking", mode="before")
    @classmethod
    def _cut(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if len(value) > _LONG_TEXT:
            _context(info)["warnings"].append(
                f"{info.field_name}: {len(value):,} characters cut to {_LONG_TEXT:,}"
            )
            return value[:_LONG_TEXT]
        return value

    @field_validator("Primary", "Secondary", "Email", "Zip")
    @classmethod
    def _doubts(cls, value: str, info: ValidationInfo) -> str:
        pattern, doubt = _DOUBTS[info.field_name or ""]
        if value and not pattern.fullmatch(value):
            _context(info)["warnings"].append(f"{info.field_name}: {doubt}")
        return value


def _context(info: ValidationInfo) -> dict[str, Any]:
    """What `validate_rows` passes every validation: the constants and the row's warnings."""
    assert info.context is not None, "validate rows with validate_rows()"
    context: dict[str, Any] = info.context
    return context


_PHONE_DOUBT = "not a 10-digit US phone number; sent as written"
_DOUBTS = {
    "Primary": (_US_PHONE, _PHONE_DOUBT),
    "Secondary": (_US_PHONE, _PHONE_DOUBT),
    "Email": (_EMAIL, "does not look like an email address; sent as written"),
    "Zip": (_US_ZIP, "not a US ZIP code; sent as written"),
}


def repair_excel_number(value: str) -> str:
    value = _EXCEL_WHOLE_FLOAT.sub(r"\1", value)
    if _SCIENTIFIC.fullmatch(value):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        if number == number.to_integral_value():
            return format(number, "f")
    return value


def phone(value: str) -> str:
    value = repair_excel_number(value)
    match = _US_PHONE.fullmatch(value)
    if match is not None:
        area, exchange, line, extension = match.groups()
        return f"{area}{exchange}{line}" + (f" x{extension}" if extension else "")
    # The rare forms the pattern misses go to libphonenumber, exactly as the importer does.
    return _phone_by_library(value) if value else value


def zip_code(value: str) -> str:
    value = _ZIP_PLUS4.sub(r"\1\2", repair_excel_number(value))
    if _SHORT_ZIP.fullmatch(value):
        value = value.zfill(5)
    elif _LONG_ZIP.fullmatch(value):
        value = value.zfill(9)
    if len(value) == 9 and value.isdigit():
        value = f"{value[:5]}-{value[5:]}"
    return value


def canonical_guid(value: str) -> str:
    match = _GUID_HEX.fullmatch(value)
    return "-".join(match.groups()).lower() if match is not None else value


def _key_part(value: str) -> str:
    return _SPACES.sub(" ", value.casefold()).strip()


@dataclass
class RowResults:
    status: list[str]
    errors: list[str]
    warnings: list[str]
    leads: dict[int, AcmeLead]  # the valid leads, ready to send


def validate_rows(rows: Iterable[tuple[int, dict[str, str]]], constants: Constants) -> RowResults:
    """Validate (row number, row dict) pairs in order; duplicates are of earlier valid rows."""
    results = RowResults([], [], [], {})
    first_row: dict[tuple[str, str], int] = {}
    for number, row in rows:
        warnings: list[str] = []
        context = {"constants": constants, "warnings": warnings}
        try:
            lead = AcmeLead.model_validate(row, context=context)
        except ValidationError as failure:
            results.status.append("invalid")
            results.errors.append(
                "; ".join(f"{error['loc'][0]}: {error['msg']}" for error in failure.errors())
            )
        else:
            key = (_key_part(lead.CaptorraId), _key_part(lead.ID))
            first = first_row.setdefault(key, number)
            if first == number:
                results.status.append("valid")
                results.errors.append("")
                results.leads[number] = lead
            else:
                results.status.append("duplicate")
                results.errors.append(f"same lead as row {first} (same CaptorraId, ID); not sent")
        results.warnings.append("; ".join(warnings))
    return results
