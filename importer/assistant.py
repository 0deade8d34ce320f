"""Writing a first mapping for a new vendor's file, and previewing what a mapping sends.

`propose_mapping` reads a file's headers and a sample of its values and writes a
commented mapping file in the documented format. It guarantees that:

- the text loads with `load_mapping` and its headers resolve against the same
  file once CAPTORRA_ID and CAPTORRA_REFERRER are set, so `validate` runs on it
  as it stands (a field it could not fill, such as a missing last name, is left
  empty with a REVIEW comment: every row is then invalid, not the mapping);
- it never maps on a weak guess: a header must *be* a known name for a field
  (`Cell Phone`), not merely contain one (`Phone opt-in`), or, for emails and
  phones only, a column with a non-descriptive header must hold such values
  (a `Contact` column of emails); a header whose values contradict it, and two
  columns with an equal claim, are left to a person with a REVIEW comment;
- every column it does not map goes into Details as a labeled line, so the
  file loses nothing;
- every decision has a comment, and comments hold headers, counts and shares,
  never a value from the sample, except the distinct values of a case-type
  column (categories, not personal data);
- the YAML is written by hand (comments are the point), quoting every header
  YAML would read as something else.

Sniffing the sample works on whole columns with the transforms the import will
use, so "97% are US phones" means 97% become a 10-digit number.

`preview_mapping` shows the first rows of an input as they would be sent, with
the status and messages `validate` would give, by calling the pipeline's own
stages (read, resolve, apply, validate).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import yaml

from importer.captorra import FIELD_NAMES, FIELDS_BY_NAME
from importer.contacts import ContactFinder
from importer.errors import UsageError
from importer.lead_key import DuplicateFinder
from importer.mapping import LoadedMapping, json_schema, resolve_headers
from importer.pipeline import check_rows
from importer.reading import Chunk, ReadOptions, open_table
from importer.transforms import SPACE_CHARS, US_ZIP_PATTERN, email, phone, state, zip_code

# Editors that read this line validate and complete the mapping as it is typed.
SCHEMA_LINE = "# yaml-language-server: $schema=schema.json"

__all__ = [
    "Decision",
    "Preview",
    "PreviewRow",
    "Proposal",
    "preview_mapping",
    "propose_mapping",
    "scalar",
    "squash",
]

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Decision:
    """Why one field reads one column (or nothing), as its comment in the file says."""

    field: str  # a Captorra field
    source: str | None  # the input header it reads; None for a value or an empty placeholder
    transform: str | None
    reason: str
    review: bool = False  # True when a person must decide (a tie, a contradiction, a gap)


@dataclass(frozen=True)
class Proposal:
    text: str  # the mapping file, ready to write
    decisions: list[Decision]


@dataclass(frozen=True)
class PreviewRow:
    source_row: int  # the row number a person sees in the input
    status: str  # valid | invalid | duplicate
    payload: dict[str, str]  # the non-empty Captorra fields, as they would be sent
    error: str
    warnings: str


@dataclass(frozen=True)
class Preview:
    mapping: Path
    input: Path
    headers: dict[str, str]  # header in the mapping -> column of the input
    unused_columns: tuple[str, ...]  # input columns the mapping does not read
    rows: tuple[PreviewRow, ...]
    notes: tuple[str, ...]  # what the reader had to guess (encoding, sheet, ...)


# ---------------------------------------------------------------- header vocabulary

# Headers are compared "squashed": case, spaces and punctuation removed, `#` read as
# "num", so `E-mail`, `e_mail` and `EMAIL` are one name and `Lead #` is `leadnum`.
SNIFF_MIN_VALUES = 3  # fewer values than this neither contradict a header nor map a column
CONTRADICTED_BELOW = 0.5  # a header whose values are mostly something else is not trusted
# A full-name column is split into First and Last only when nearly every value is a
# person's name: a column of business names must not become first and last names.
_TRUSTED_FROM = MappingProxyType({"full name": 0.8})
TIE_BREAK_SHARE = 0.8  # in a tie, the only column this full of the right values wins
VALUES_ONLY_SHARE = 0.9  # a column with no telling header needs this share to be mapped
MAX_LISTED_TYPES = 30
REQUIRED_IDS = ("CaptorraId", "Referrer")
# Free text whose start carries the meaning: cut when too long, like Details.
_CUT_WHEN_LONG = frozenset({"ReferringKeyword", "BestTime", "Conversion"})
GUID_PLACEHOLDER = "<GUID>"


@dataclass(frozen=True)
class _Family:
    """Headers that name one field, and how to check and tidy its values."""

    label: str
    names: str  # squashed synonyms, space-separated
    kind: str | None = None  # what its values look like, for sniffing
    transform: str | None = None


def _load_synonyms() -> tuple[Mapping[str, _Family], Mapping[str, tuple[int, str]]]:
    """The header vocabulary, from `headers.yaml` beside this module (data, not code)."""
    data = yaml.safe_load(resources.files("importer").joinpath("headers.yaml").read_text("utf-8"))
    ranks = {
        squash(str(name)): (int(rank["rank"]), str(rank["label"]))
        for rank in data["phone_ranks"]
        for name in rank["names"]
    }
    families = {}
    for family, spec in data["families"].items():
        names = [squash(str(name)) for name in spec["names"]]
        if family == "Phone":
            names = list(ranks)
        families[str(family)] = _Family(
            str(spec["label"]),
            " ".join(dict.fromkeys(names)),
            spec.get("kind"),
            spec.get("transform"),
        )
    return MappingProxyType(families), MappingProxyType(ranks)


_ALTERNATE_RANK = 5
BY_VALUES = "chosen by its values (the header names no field)"
_VALUES_ONLY_RANK = 9  # a column chosen by its values comes after every named one
PHONE_RULE = (
    "several phone columns: Primary takes the first of primary, cell/mobile, phone, home, "
    "work; Secondary the next one; an alternate phone only Secondary"
)

# Words a header may contain without being taken for the field (`Email consent`).
_NEAR_MISS: Mapping[str, str] = MappingProxyType(
    {
        "email": "Email",
        "mail": "Email",
        "phone": "Primary",
        "cell": "Primary",
        "mobile": "Primary",
        "call": "Primary",
        "tel": "Primary",
        "telephone": "Primary",
        "zip": "Zip",
        "postal": "Zip",
        "state": "State",
        "province": "State",
        "city": "City",
        "town": "City",
        "address": "Address",
        "street": "Address",
        "county": "County",
        "name": "First/Last",
    }
)


def squash(header: str) -> str:
    """A header as the assistant compares it: `E-mail` -> `email`, `Lead #` -> `leadnum`."""
    return re.sub(r"[\W_]+", "", header.casefold().replace("#", "num"))


def _words(header: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", header)  # EmailConsent -> Email Consent
    return re.findall(r"[^\W\d_]+|[0-9]+", spaced.casefold())


_FAMILIES, _PHONE_RANKS = _load_synonyms()

_FAMILY_OF: Mapping[str, str] = MappingProxyType(
    {name: family for family, spec in _FAMILIES.items() for name in spec.names.split()}
)


# A header this long may be a misspelling (one letter off; two from 8 letters on) of a
# synonym; shorter ones are too close to other words ("call" is not "cell").
_TYPO_MIN_LENGTH = 5
_TWO_TYPOS_FROM = 8


def _misspelled(squashed: str) -> str | None:
    """The one synonym `squashed` is a misspelling of (`adress` -> `address`), or None."""
    if len(squashed) < _TYPO_MIN_LENGTH:
        return None
    allowed = 2 if len(squashed) >= _TWO_TYPOS_FROM else 1
    close = {
        name
        for name in _FAMILY_OF
        if len(name) >= _TYPO_MIN_LENGTH
        and abs(len(name) - len(squashed)) <= allowed
        and _edits(squashed, name) <= allowed
    }
    families = {_FAMILY_OF[name] for name in close}
    return min(close) if len(families) == 1 else None


def _edits(a: str, b: str) -> int:
    """Letters to insert, delete, change or swap with a neighbour to turn `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, letter in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (letter != other))
            if i > 1 and j > 1 and letter == b[j - 2] and a[i - 2] == other:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


# ---------------------------------------------------------------- sniffing values

_EMAIL = f"[^@{SPACE_CHARS}]+@[^@{SPACE_CHARS}]+\\.[^@{SPACE_CHARS}.]{{2,}}"
_TIDY_PHONE = r"[0-9]{10}(?: x[0-9]{1,6})?"
_NAME_WORD = "[^\\W\\d_][\\w.'\u2019\\-]*"  # letters, dots, hyphens, ' and \u2019
_FULL_NAME = rf"{_NAME_WORD}(?:[ ,]+{_NAME_WORD}){{1,4}}"


def _emails(values: pd.Series) -> pd.Series:
    return email(values).values.str.fullmatch(_EMAIL)


def _phones(values: pd.Series) -> pd.Series:
    return phone(values).values.str.fullmatch(_TIDY_PHONE)


def _states(values: pd.Series) -> pd.Series:
    errors = state(values).errors
    return pd.Series(True, index=values.index) if errors is None else errors == ""


def _zips(values: pd.Series) -> pd.Series:
    # Three digits at least: the zip transform would pad any small number.
    tidy = zip_code(values).values.str.fullmatch(US_ZIP_PATTERN)
    return tidy & values.str.contains("[0-9]{3}")


# Words that make a name a business's, not a person's (a column of them is not split).
_BUSINESS_WORDS = (
    r"(?i)(?:^|[ ,.])(?:llc|l\.l\.c|inc|corp|corporation|co|company|ltd|llp|pllc|pc|pa|"
    r"group|services?|solutions|associates|partners|law|firm|office|offices|agency|"
    r"insurance|clinic|center|centre|hospital|dental|medical|auto|motors|restaurant|"
    r"bank|church|school|university|foundation|trust|holdings|enterprises|industries|"
    r"international|store|shop|&|and)(?:$|[ ,.])"
)


def _full_names(values: pd.Series) -> pd.Series:
    names = values.str.fullmatch(_FULL_NAME) & ~values.str.contains("[0-9@#/:_&]")
    return names & ~values.str.contains(_BUSINESS_WORDS)


_SNIFFERS = MappingProxyType(
    {
        "email": (_emails, "email addresses"),
        "phone": (_phones, "US phones"),
        "state": (_states, "US states"),
        "zip": (_zips, "US zip codes"),
        "full name": (_full_names, "full names to split"),
    }
)


@dataclass(frozen=True, eq=False)
class _Column:
    """One input column as the assistant sees it: its header and its sampled values."""

    header: str
    values: pd.Series  # the non-empty sampled values, trimmed
    family: str | None  # the field family its header names, if any
    shares: Mapping[str, float]  # kind -> share of the values of that kind
    misspells: str | None = None  # the synonym its header seems a misspelling of

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def synonym(self) -> str:
        """The known header name this column's header is (or seems a misspelling of)."""
        return self.misspells or squash(self.header)

    @property
    def near_miss(self) -> tuple[str, str] | None:
        """(word, field) when the header contains a field's word without naming it."""
        if self.family is not None:
            return None
        for word in _words(self.header):
            if word in _NEAR_MISS:
                return word, _NEAR_MISS[word]
        return None

    def evidence(self, kind: str) -> str:
        if self.count == 0:
            return "no values in the sample to check"
        what = _SNIFFERS[kind][1]
        return f"{_percent(self.shares[kind])} of {self.count} sampled values are {what}"

    def contradicts(self, kind: str | None) -> bool:
        return (
            kind is not None
            and self.count >= SNIFF_MIN_VALUES
            and self.shares[kind] < _TRUSTED_FROM.get(kind, CONTRADICTED_BELOW)
        )


def _percent(share: float) -> str:
    return f"{int(share * 100)}%"  # rounded down: "100%" means every value


def _profile(header: str, column: pd.Series) -> _Column:
    values = column.astype("str").fillna("").str.strip()
    values = values[values != ""]
    squashed = squash(header)
    family = _FAMILY_OF.get(squashed)
    typo = None if family is not None else _misspelled(squashed)
    if typo is not None:
        family = _FAMILY_OF[typo]
    kinds = {_FAMILIES[family].kind} if family is not None else {"email", "phone"}
    shares = {
        kind: float(_SNIFFERS[kind][0](values).mean()) if len(values) else 0.0
        for kind in kinds
        if kind is not None
    }
    return _Column(header, values, family, MappingProxyType(shares), typo)


# ---------------------------------------------------------------- choosing


@dataclass(frozen=True)
class _Candidate:
    column: _Column
    rank: int  # lower is preferred
    how: str  # why it is a candidate at all
    slots: frozenset[str]  # the fields it may fill
    review: bool = False  # taken, but a person should look (a misspelled header)


@dataclass
class _Filled:
    assigned: dict[str, tuple[_Candidate, str]] = field(default_factory=dict)
    tie: tuple[str, list[_Candidate]] | None = None
    beaten: list[tuple[_Candidate, str]] = field(default_factory=list)  # (candidate, why)


def _fill(slots: Iterable[str], candidates: list[_Candidate], kind: str | None) -> _Filled:
    """Give each slot the best candidate left; stop at a tie sniffing cannot break."""
    pool = sorted(candidates, key=lambda candidate: candidate.rank)
    filled = _Filled()
    for slot in slots:
        eligible = [candidate for candidate in pool if slot in candidate.slots]
        if not eligible:
            continue
        tied = [candidate for candidate in eligible if candidate.rank == eligible[0].rank]
        winner, note = _break_tie(tied, kind)
        if winner is None:
            filled.tie = (slot, tied)
            return filled
        filled.assigned[slot] = (winner, note)
        if note:
            lost = f"its values lost the tie for {slot} to {_quoted(winner.column.header)}"
            filled.beaten += [(c, f"{c.how}; {lost}") for c in tied if c is not winner]
        pool.remove(winner)
    return filled


def _break_tie(tied: list[_Candidate], kind: str | None) -> tuple[_Candidate | None, str]:
    if len(tied) == 1:
        return tied[0], ""
    if kind is None:
        return None, ""
    strong = [c for c in tied if c.column.count and c.column.shares[kind] >= TIE_BREAK_SHARE]
    if len(strong) != 1:
        return None, ""
    others = ", ".join(
        f"{_quoted(c.column.header)} ({_percent(c.column.shares[kind])})"
        for c in tied
        if c is not strong[0]
    )
    return strong[0], f"its values break the tie with {others}"


# What a slot is called in messages: the field its column ends up in.
_SHOWN: Mapping[str, str] = MappingProxyType(
    {"Phone": "Primary", "Name": "First and Last", "Street": "Address", "Unit": "Address"}
)


def _slot_family(slot: str) -> str:
    return "Phone" if slot in {"Primary", "Secondary"} else slot


@dataclass
class _Plan:
    """What the proposal maps, the ties left to a person, and why the rest is in Details."""

    columns: list[_Column]
    chosen: dict[str, tuple[_Candidate, str]] = field(default_factory=dict)  # slot -> (it, note)
    ties: dict[str, list[_Candidate]] = field(default_factory=dict)
    in_details: dict[str, tuple[str, bool]] = field(default_factory=dict)  # header -> (why, review)
    several_phones: bool = False

    def family(self, name: str) -> list[_Column]:
        return [column for column in self.columns if column.family == name]

    def reads(self) -> set[str]:
        """Headers the active fields read (the case type stays in Details, see _type_entry)."""
        return {
            candidate.column.header
            for slot, (candidate, _) in self.chosen.items()
            if slot != "Type"
        }

    def note(self, header: str, reason: str, *, review: bool = False) -> None:
        self.in_details.setdefault(header, (reason, review))


def _named(plan: _Plan, family: str) -> list[_Candidate]:
    """The columns whose header names the family, minus those whose values deny it."""
    spec = _FAMILIES[family]
    candidates = []
    for column in plan.family(family):
        if spec.kind is not None and column.contradicts(spec.kind):
            plan.note(
                column.header,
                f"REVIEW: the header suggests {_SHOWN.get(family, family)} but only "
                f"{column.evidence(spec.kind)}",
                review=True,
            )
            continue
        rank, label = _PHONE_RANKS.get(column.synonym, (0, spec.label))
        slots = {"Secondary"} if rank == _ALTERNATE_RANK else {"Primary", "Secondary"}
        how = f"header synonym of {label}"
        if column.misspells is not None:
            how = f"header seems a misspelling of {_quoted(column.misspells)}, {label}"
        candidates.append(
            _Candidate(
                column,
                rank,
                how,
                frozenset(slots if family == "Phone" else {family}),
                review=column.misspells is not None,
            )
        )
    return candidates


def _by_values(plan: _Plan, kind: str, slots: frozenset[str]) -> list[_Candidate]:
    """Columns with no telling header that are full of `kind` values (a `Contact` of emails)."""
    return [
        _Candidate(column, _VALUES_ONLY_RANK, BY_VALUES, slots)
        for column in plan.columns
        if column.family is None
        and column.near_miss is None
        and column.count >= SNIFF_MIN_VALUES
        and column.shares.get(kind, 0.0) >= VALUES_ONLY_SHARE
        and column.header not in plan.reads()
    ]


def _plan(columns: list[_Column]) -> _Plan:
    plan = _Plan(columns)
    for family in ("First", "Last"):
        _settle(plan, [family], _named(plan, family), None)
    if all(name in plan.chosen or name in plan.ties for name in ("First", "Last")):
        for column in plan.family("Name"):
            plan.note(column.header, "a full name, not split: First and Last have columns")
    else:
        _settle(plan, ["Name"], _named(plan, "Name"), "full name")
    for family in ("Street", "Unit", "City", "State", "Zip", "County", "BestTime", "ID",
                   "ReferringKeyword", "Conversion", "Type"):  # fmt: skip
        _settle(plan, [family], _named(plan, family), _FAMILIES[family].kind)
    emails = _named(plan, "Email") or _by_values(plan, "email", frozenset({"Email"}))
    _settle(plan, ["Email"], emails, "email")
    phones = _named(plan, "Phone") + _by_values(plan, "phone", frozenset({"Primary", "Secondary"}))
    _settle(plan, ["Primary", "Secondary"], phones, "phone")
    plan.several_phones = len(phones) > 1
    _drop_unneeded(plan)
    _explain_details(plan)
    return plan


def _settle(plan: _Plan, slots: list[str], candidates: list[_Candidate], kind: str | None) -> None:
    filled = _fill(slots, candidates, kind)
    plan.chosen.update(filled.assigned)
    for candidate, why in filled.beaten:
        plan.note(candidate.column.header, why)
    if filled.tie is not None:
        plan.ties[filled.tie[0]] = filled.tie[1]


def _drop_unneeded(plan: _Plan) -> None:
    """An apartment or unit joins a street: without one it is only Details."""
    chosen, ties = plan.chosen, plan.ties
    if "Street" not in chosen and "Street" not in ties:
        units = [chosen.pop("Unit")[0]] if "Unit" in chosen else ties.pop("Unit", [])
        for unit in units:
            plan.note(unit.column.header, "an apartment or unit, but no street column was chosen")


def _explain_details(plan: _Plan) -> None:
    """Why each column left over goes to Details (the first reason given wins)."""
    if "Type" in plan.chosen:
        header = plan.chosen["Type"][0].column.header
        plan.note(header, "kept here until the Type lookup is filled in")
    for slot, tied in plan.ties.items():
        shown = _SHOWN.get(slot, slot)
        for candidate in tied:
            plan.note(
                candidate.column.header,
                f"REVIEW: one of the columns with an equal claim to {shown}; see there",
                review=True,
            )
    for column in plan.columns:
        plan.note(column.header, _left_over(column))


def _left_over(column: _Column) -> str:
    if column.family == "Notes":
        return "header synonym of notes; listed first, to be read first"
    if column.near_miss is not None:
        word, target = column.near_miss
        return f'not taken for {target}: a header that merely contains "{word}" is not enough'
    if column.family == "Phone":
        label = _PHONE_RANKS[column.synonym][1]
        return f"header synonym of {label}; Primary and Secondary are taken"
    if column.family is not None:
        spec = _FAMILIES[column.family]
        return (
            f"header synonym of {spec.label}; {_SHOWN.get(column.family, column.family)} is taken"
        )
    return "no Captorra field for it"


# ---------------------------------------------------------------- YAML text

_PLAIN = re.compile("[^\\W\\d][\\w ./&()'\u2019\\-]*")
# What PyYAML refuses in a document, plus the characters it reads as line breaks.
_NOT_PRINTABLE = re.compile(
    "[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def scalar(text: str) -> str:
    """`text` as a YAML scalar that every YAML reader reads back as that text.

    Plain when it is plainly text (`Cell Phone`), else double-quoted with JSON's
    escapes, which YAML shares: `Lead #`, `Injured?`, `Yes`, `Time: Best`, `2024`.
    """
    if (
        _PLAIN.fullmatch(text)
        and text == text.rstrip()
        and yaml.safe_load(f"k: {text}") == {"k": text}
    ):
        return text
    return _quoted(text)


def _quoted(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return _NOT_PRINTABLE.sub(escape, json.dumps(text, ensure_ascii=False))


def _flow(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"


def _comment(text: str, indent: str = "  ", *, hanging: str = "  ") -> list[str]:
    lines = textwrap.wrap(
        _NOT_PRINTABLE.sub(" ", text),
        width=99 - len(indent) - 2,
        subsequent_indent=hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [f"{indent}# {line}" for line in lines]


def _commented(lines: Iterable[str], indent: str = "  ") -> list[str]:
    """YAML lines a person can switch on by deleting the `# ` after the indent."""
    return [f"{indent}# {line}" for line in lines]


@dataclass
class _Entry:
    """One field's lines in the file (comments first) and the decisions behind them."""

    field: str
    lines: list[str]
    decisions: list[Decision]


def _spec(column: str, transform: str | None = None, **options: str) -> str:
    pairs = [("column", scalar(column))]
    pairs += [("transform", transform)] if transform else []
    pairs += list(options.items())
    return scalar(column) if len(pairs) == 1 else _flow(pairs)


def _column_entry(name: str, candidate: _Candidate, note: str) -> _Entry:
    column = candidate.column
    spec = _FAMILIES[column.family or _slot_family(name)]
    parts = [candidate.how]
    parts += [column.evidence(spec.kind)] if spec.kind is not None else []
    parts += [note] if note else []
    overflow = _overflow(name, column)
    parts += [overflow] if overflow else []
    reason = "; ".join(parts)
    options = {"on_overflow": "truncate"} if overflow else {}
    line = _spec(column.header, spec.transform, **options)
    shown = f"{_quoted(column.header)}: {reason}"
    if candidate.review:
        reason = shown = f"REVIEW {name}: {shown}"
    return _Entry(
        name,
        [*_comment(shown), f"  {name}: {line}"],
        [Decision(name, column.header, spec.transform, reason, review=candidate.review)],
    )


def _overflow(name: str, column: _Column) -> str:
    """Why free text over Captorra's limit is cut rather than refused ("" if none is over)."""
    limit = FIELDS_BY_NAME[name].max_length if name in _CUT_WHEN_LONG else None
    if limit is None:
        return ""
    long = int((column.values.str.len() > limit).sum())
    if not long:
        return ""
    values = "value is" if long == 1 else "values are"
    return (
        f"{long} sampled {values} over Captorra's {limit} characters: on_overflow cuts "
        "such values (with a warning) rather than refuse the lead"
    )


def _environment_entries() -> list[_Entry]:
    entries = []
    for name, variable, what in (
        ("CaptorraId", "CAPTORRA_ID", "your firm's Captorra account number"),
        ("Referrer", "CAPTORRA_REFERRER", "the GUID Captorra gave this lead source"),
    ):
        reason = f"{what}, read from the environment variable {variable}"
        line = f"  {name}: " + _flow([("value", _quoted("${" + variable + "}"))])
        entries.append(
            _Entry(name, [*_comment(reason), line], [Decision(name, None, None, reason)])
        )
    return entries


def _name_entries(plan: _Plan) -> list[_Entry]:
    entries = []
    for name, transform in (("First", "first_name"), ("Last", "last_name")):
        if name in plan.chosen:
            entries.append(_column_entry(name, *plan.chosen[name]))
        elif name in plan.ties:
            entries.append(_tie_entry(name, name, plan.ties[name], suggest=_spec, gap=True))
        elif "Name" in plan.chosen:
            entries.append(_split_entry(name, transform, *plan.chosen["Name"]))
        elif "Name" in plan.ties:
            entries.append(
                _tie_entry(
                    name,
                    "Name",
                    plan.ties["Name"],
                    suggest=partial(_spec, transform=transform),
                    gap=True,
                )
            )
        else:
            entries.append(_gap_entry(name))
    return entries


def _split_entry(name: str, transform: str, candidate: _Candidate, note: str) -> _Entry:
    column = candidate.column
    parts = [candidate.how, "no separate first and last name columns", column.evidence("full name")]
    reason = "; ".join([*parts, *([note] if note else [])])
    line = _flow([("column", scalar(column.header)), ("transform", transform)])
    shown = f"{_quoted(column.header)}: {reason}"
    if candidate.review:
        reason = shown = f"REVIEW {name}: {shown}"
    return _Entry(
        name,
        [*_comment(shown), f"  {name}: {line}"],
        [Decision(name, column.header, transform, reason, review=candidate.review)],
    )


def _empty(name: str) -> str:
    return f"  {name}: " + _flow([("value", _quoted(""))])


def _gap_entry(name: str) -> _Entry:
    reason = (
        f"REVIEW {name}: no column could be taken for it, so it is left empty and every row is "
        f'invalid ("{name}: required") until you write its column here'
    )
    return _Entry(
        name, [*_comment(reason), _empty(name)], [Decision(name, None, None, reason, True)]
    )


def _tie_entry(
    name: str,
    slot: str,
    tied: list[_Candidate],
    *,
    suggest: Callable[[str], str] | None,
    gap: bool = False,
    claim: str = "have an equal claim",
) -> _Entry:
    """A REVIEW comment for columns with an equal claim, with a line to switch on for each."""
    kind = _FAMILIES[_slot_family(slot)].kind
    evidence = "; ".join(
        f"{_quoted(c.column.header)}: {c.how}" + (f", {c.column.evidence(kind)}" if kind else "")
        for c in tied
    )
    headers = " and ".join(_quoted(candidate.column.header) for candidate in tied)
    if suggest is None:
        then = "Both are in Details until you choose one and write a lookup for it"
    elif gap:
        then = (
            f"{name} is left empty, so every row is invalid until you switch on one of the "
            "lines below (and take that column out of Details)"
        )
    else:
        then = (
            "Both are in Details until you switch on one of the lines below (and take that "
            "column out of Details)"
        )
    reason = f"REVIEW {name}: {headers} {claim} ({evidence}). {then}"
    lines = _comment(reason)
    if suggest is not None:
        lines += _commented(f"{name}: {suggest(c.column.header)}" for c in tied)
    lines += [_empty(name)] if gap else []
    return _Entry(name, lines, [Decision(name, None, None, reason, review=True)])


def _address_entries(plan: _Plan) -> list[_Entry]:
    if "Street" in plan.ties:
        return [_tie_entry("Address", "Street", plan.ties["Street"], suggest=_spec)]
    if "Street" not in plan.chosen:
        return []
    street, note = plan.chosen["Street"]
    if "Unit" in plan.chosen:
        return [_street_and_unit(street, note, plan.chosen["Unit"][0])]
    entry = _column_entry("Address", street, note)
    if "Unit" in plan.ties:
        unit_tie = _tie_entry(
            "Address",
            "Unit",
            plan.ties["Unit"],
            suggest=lambda unit: _joined(street.column.header, unit),
            claim=f"have an equal claim to follow {_quoted(street.column.header)}",
        )
        entry.lines[:0] = unit_tie.lines
        entry.decisions[:0] = unit_tie.decisions
    return [entry]


def _joined(street: str, unit: str) -> str:
    if set(street + unit) & set("{}:!"):
        # A template cannot hold such a header; `columns` joins them the same way.
        return _flow([("columns", f"[{scalar(street)}, {scalar(unit)}]")])
    return _flow([("template", _quoted(f"{{{street}}} {{{unit}}}"))])


def _street_and_unit(street: _Candidate, note: str, unit: _Candidate) -> _Entry:
    headers = (street.column.header, unit.column.header)
    street_reason = "; ".join(part for part in (street.how, note) if part)
    unit_reason = f"{unit.how}; joined after the street"
    return _Entry(
        "Address",
        [
            *_comment(f"{_quoted(headers[0])}: {street_reason}"),
            *_comment(f"{_quoted(headers[1])}: {unit_reason}"),
            f"  Address: {_joined(*headers)}",
        ],
        [
            Decision("Address", headers[0], None, street_reason),
            Decision("Address", headers[1], None, unit_reason),
        ],
    )


def _type_entry(plan: _Plan) -> _Entry | None:
    if "Type" in plan.ties:
        return _tie_entry("Type", "Type", plan.ties["Type"], suggest=None)
    if "Type" not in plan.chosen:
        return None
    candidate, _ = plan.chosen["Type"]
    column = candidate.column
    names, more = _distinct(column.values)
    listed = f"the {len(names)} case types in the sample" + (
        f" (the {more} least common left out)" if more else ""
    )
    reason = (
        f"REVIEW Type: {_quoted(column.header)}: {candidate.how}. Captorra wants the GUID of "
        "each case type (from your Captorra settings), so this block is switched off: delete "
        f"the `# ` before its lines, write each GUID in place of {GUID_PLACEHOLDER}, and take "
        f"{_quoted(column.header)} out of Details. Listed: {listed}"
    )
    block = ["Type:", f"  column: {scalar(column.header)}", "  lookup:"]
    block += [f"    {scalar(name)}: {_quoted(GUID_PLACEHOLDER)}" for name in names]
    return _Entry(
        "Type",
        [*_comment(reason), *_commented(block)],
        [Decision("Type", column.header, None, reason, review=True)],
    )


def _distinct(values: pd.Series) -> tuple[list[str], int]:
    """The distinct values, most common first, one spelling per case-insensitive name."""
    keys = values.str.casefold()
    counts = keys.value_counts(sort=False)
    spelling = values.groupby(keys, sort=False).agg(lambda texts: texts.value_counts().index[0])
    order = sorted(counts.index, key=lambda key: (-counts[key], key))
    names = [str(spelling[key]) for key in order]
    return names[:MAX_LISTED_TYPES], max(0, len(names) - MAX_LISTED_TYPES)


def _details_entry(plan: _Plan) -> _Entry | None:
    reads = plan.reads()
    left = [column.header for column in plan.columns if column.header not in reads]
    if not left:
        return None
    notes = [column.header for column in plan.family("Notes") if column.header in left]
    ordered = notes + [header for header in left if header not in notes]
    lines = [
        *_comment(
            'Details: every column no field took, one "Header: value" line each, so the lead '
            "loses nothing (cut at 4,000 characters, with a warning)"
        ),
        "  Details:",
        "    columns:",
    ]
    decisions = []
    for header in ordered:
        reason, review = plan.in_details[header]
        # A REVIEW line names its column: the screen lists them without the file around.
        shown = (
            f"REVIEW {_quoted(header)}: {reason.removeprefix('REVIEW: ')}"
            if review
            else f"{_quoted(header)}: {reason}"
        )
        lines += _comment(shown, indent="      ")
        lines.append(f"      - {scalar(header)}")
        decisions.append(Decision("Details", header, None, shown if review else reason, review))
    lines.append("    format: labeled")
    return _Entry("Details", lines, decisions)


def _field_entries(plan: _Plan) -> list[_Entry]:
    entries = [*_environment_entries(), *_name_entries(plan)]
    phones = [entry for name in ("Primary", "Secondary") for entry in _simple(plan, name)]
    if plan.several_phones and phones:
        phones[0].lines[:0] = _comment(f"The rule for {PHONE_RULE}")
    entries += phones + _simple(plan, "Email") + _address_entries(plan)
    for name in ("City", "State", "Zip", "County", "BestTime", "ID", "ReferringKeyword"):
        entries += _simple(plan, name)
    entries += _simple(plan, "Conversion")
    details, type_entry = _details_entry(plan), _type_entry(plan)
    entries += [entry for entry in (details, type_entry) if entry is not None]
    # The two ids first, as in the README's example; then Captorra's order.
    order = ["CaptorraId", "Referrer", *(n for n in FIELD_NAMES if n not in REQUIRED_IDS)]
    return sorted(entries, key=lambda entry: order.index(entry.field))


def _simple(plan: _Plan, name: str) -> list[_Entry]:
    if name in plan.chosen:
        return [_column_entry(name, *plan.chosen[name])]
    if name in plan.ties:
        transform = _FAMILIES[_slot_family(name)].transform
        suggest = partial(_spec, transform=transform)
        return [_tie_entry(name, name, plan.ties[name], suggest=suggest)]
    return []


def _render(path: Path, sample: _Sample, plan: _Plan, options: ReadOptions) -> Proposal:
    entries = _field_entries(plan)
    lines = [SCHEMA_LINE, "#"]
    lines += _comment(_preamble(path, sample, entries), indent="", hanging="")
    for note in sample.notes:
        lines += _comment(f"Reading the file: {note}", indent="")
    lines += [
        "#",
        "# It works as it stands once the two values it reads from the environment are set:",
        "#   export CAPTORRA_ID=123456 CAPTORRA_REFERRER=<your Referrer GUID>",
        "# Then check it on your file before importing:",
        f"#   captorra-import check-mapping <this file> {_NOT_PRINTABLE.sub(' ', path.name)}",
    ]
    lines += ["", "version: 1", ""]
    read = []
    if options.sheet is not None:
        sheet = options.sheet
        read.append(f"  sheet: {sheet if isinstance(sheet, int) else scalar(sheet)}")
    if options.header_row is not None:
        if options.header_row == 0:
            read.append("  # The file has no header row: its columns are Column 1, Column 2, ...")
        read.append(f"  header_row: {options.header_row}")
    if read:
        lines += ["read:", *read, ""]
    lines.append("fields:")
    for entry in entries:
        lines += ["", *entry.lines]
    decisions = [decision for entry in entries for decision in entry.decisions]
    return Proposal("\n".join(lines) + "\n", decisions)


def _preamble(path: Path, sample: _Sample, entries: list[_Entry]) -> str:
    reviews = sum(decision.review for entry in entries for decision in entry.decisions)
    review = {
        0: "nothing was left for a person to decide, but read it through.",
        1: "the one comment marked REVIEW is for a person to decide.",
    }.get(reviews, f"the {reviews} comments marked REVIEW are for a person to decide.")
    return (
        f"Mapping proposed by `captorra-import init-mapping` for {path.name} "
        f"({len(sample.columns)} columns, {len(sample.frame)} rows sampled). The comment above "
        f"each field says why it was chosen; {review}"
    )


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Sample:
    columns: list[str]
    frame: pd.DataFrame
    notes: list[str]


def _first_chunk(path: Path, options: ReadOptions) -> tuple[list[str], Chunk | None, list[str]]:
    table = open_table(path, options)
    chunks: Iterator[Chunk] = table.chunks
    try:
        return table.columns, next(chunks, None), table.notes
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # the rest of a large file is never read


def _read_sample(path: Path, options: ReadOptions) -> _Sample:
    rows = options.chunk_rows
    if rows < 1:
        raise UsageError(f"sample_rows must be 1 or more, not {rows}")
    columns, chunk, notes = _first_chunk(path, options)
    frame = chunk.frame.head(rows) if chunk is not None else pd.DataFrame(columns=columns)
    return _Sample(columns, frame, notes)


# ---------------------------------------------------------------- public API


def propose_mapping(
    path: Path,
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
    sample_rows: int = 500,
    first_rows: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
) -> Proposal:
    """A commented mapping for `path`, from its headers and its first `sample_rows` rows.

    `header_row=0` reads a file without a header row: its columns are `Column 1`,
    ... and only their values speak for them. `first_rows` (a chunk already read,
    its columns the file's headers, with the reader's `notes`) spares reading the
    file again. Raises `InputFileError` when the file cannot be read; see the
    module docstring for what the text guarantees.
    """
    options = ReadOptions(sheet=sheet, header_row=header_row, chunk_rows=sample_rows)
    if first_rows is None:
        sample = _read_sample(path, options)
    else:
        sample = _Sample(list(first_rows.columns), first_rows.head(sample_rows), list(notes))
    plan = _plan([_profile(header, sample.frame[header]) for header in sample.columns])
    return _render(path, sample, plan, options)


def preview_mapping(
    loaded: LoadedMapping, path: Path, *, rows: int = 10, sheet: str | int | None = None
) -> Preview:
    """The first `rows` rows of `path` as the mapping would send them, with their status.

    Raises `MappingError` when the input lacks a header the mapping reads, and
    `InputFileError` when it cannot be read: exactly what `validate` would raise.
    """
    if rows < 0:
        raise UsageError(f"rows must be 0 or more, not {rows}")
    options = loaded.mapping.read.options()
    options = dataclasses.replace(
        options, sheet=options.sheet if sheet is None else sheet, chunk_rows=max(rows, 1)
    )
    columns, chunk, notes = _first_chunk(path, options)
    headers = resolve_headers(loaded, columns, path)
    read = set(headers.values())
    unused = tuple(column for column in columns if column not in read)
    previewed = _preview_rows(loaded, chunk, headers, rows) if chunk is not None else ()
    return Preview(loaded.path, path, headers, unused, previewed, tuple(notes))


def _preview_rows(
    loaded: LoadedMapping, chunk: Chunk, headers: dict[str, str], rows: int
) -> tuple[PreviewRow, ...]:
    head = Chunk(chunk.frame.head(rows), chunk.problems.head(rows))
    contacts = ContactFinder(loaded.mapping.duplicates)
    checked = check_rows(loaded.mapping, head, headers, DuplicateFinder(), contacts=contacts)
    outcome = checked.outcome
    records = checked.values.to_dict("records")
    return tuple(
        PreviewRow(
            source_row=int(row),
            status=str(outcome.at[row, "Status"]),
            payload={str(name): text for name, text in record.items() if text},
            error=str(outcome.at[row, "Error"]),
            warnings=str(outcome.at[row, "Warnings"]),
        )
        for row, record in zip(head.frame.index, records, strict=True)
    )


def write_mapping(path: Path, text: str, *, overwrite: bool = False) -> Path:
    """Write a mapping (or schema) file atomically; never replace one unless told to.

    A mapping's first line points editors at `schema.json` beside it, so the
    schema is written there too when it is missing.
    """
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists already; choose another --output or add --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, text)
    schema = path.with_name("schema.json")
    if text.startswith(SCHEMA_LINE) and not schema.exists():
        _write_atomically(schema, json.dumps(json_schema(), indent=2) + "\n")
    return path


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
