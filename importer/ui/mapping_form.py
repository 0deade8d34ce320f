"""Step 2, a new mapping: the proposal as a form, and the form back as a commented mapping file.

The form starts from `propose_mapping` (the assistant's reading of the file) and
holds, per Captorra field, where its value comes from and the transform; for
Type, a lookup from the file's case types to Captorra's GUIDs. Saving writes a
mapping in the documented format with a comment on every field, checks it the
way an import would (`load_mapping`, then `resolve_headers` against the file)
and only then puts it in the mappings folder, atomically. Comments hold field
descriptions and the proposal's reasons, never a value from the file.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd

from importer.assistant import Proposal, scalar
from importer.captorra import FIELDS, FIELDS_BY_NAME, GUID_PATTERN, CaptorraField
from importer.errors import MappingError, UsageError
from importer.mapping import FieldSpec, load_mapping, resolve_headers
from importer.transforms import TRANSFORMS, guid
from importer.ui.workspace import ColumnInfo, Upload

Source = Literal["none", "column", "columns", "template", "value"]
SOURCES: Mapping[Source, str] = {
    "none": "\u2014 not sent \u2014",
    "column": "a column",
    "columns": "several columns, joined",
    "template": "text built from columns",
    "value": "the same text on every row",
}
TRANSFORM_HINTS: Mapping[str, str] = {
    "upper": "UPPER CASE",
    "lower": "lower case",
    "title": "Title Case",
    "digits": "keep only digits",
    "phone": "US phone to 10 digits",
    "email": "email: no spaces, lower case",
    "state": "state name to 2 letters",
    "zip": "zip, leading zeros back",
    "first_name": "first name of a full name",
    "last_name": "last name of a full name",
    "guid": "tidy a GUID",
}
ENVIRONMENT = {"CaptorraId": "CAPTORRA_ID", "Referrer": "CAPTORRA_REFERRER"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_COMMENT_WIDTH = 96


class _Verbatim(Mapping[str, str]):
    """An environment in which `${NAME}` stays `${NAME}`: the form shows what the file says."""

    def __getitem__(self, name: str) -> str:
        return "${" + name + "}"

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass
class FieldForm:
    """One Captorra field's row of the form."""

    name: str
    source: Source = "none"
    column: str = ""
    columns: list[str] = field(default_factory=list)
    labeled: bool = True
    template: str = ""
    value: str = ""
    transform: str = ""
    lookup: list[tuple[str, str]] = field(default_factory=list)  # Type: case type -> GUID
    on_overflow: str = ""
    required: bool = False
    reason: str = ""  # the proposal's reason, written as the field's comment
    review: bool = False  # the proposal left it to a person

    @property
    def info(self) -> CaptorraField:
        return FIELDS_BY_NAME[self.name]

    @property
    def sources(self) -> list[Source]:
        """The kinds of source this field offers on the page."""
        if self.name == "Type":
            return ["none", "column"]
        if self.name in ENVIRONMENT:
            return ["value", "column"]
        return list(SOURCES)


@dataclass
class MappingForm:
    fields: list[FieldForm]
    name: str = ""  # the file name in the mappings folder, without .yaml
    match: str = ""  # a file-name pattern for `match:`; "" for none
    file_name: str = ""  # the upload the form was made for

    def __getitem__(self, name: str) -> FieldForm:
        return next(form for form in self.fields if form.name == name)


def from_proposal(
    proposal: Proposal, columns: Sequence[ColumnInfo], scratch: Path, *, file_name: str
) -> MappingForm:
    """The proposal as a form; `scratch` is a private folder to read its text from."""
    scratch.write_text(proposal.text, encoding="utf-8")
    specs = load_mapping(scratch, environ=_Verbatim()).mapping.fields
    reasons: dict[str, list[str]] = {}
    review: set[str] = set()
    for decision in proposal.decisions:
        reasons.setdefault(decision.field, []).append(decision.reason)
        if decision.review:
            review.add(decision.field)
    forms = []
    for info in FIELDS:
        form = _from_spec(info.name, specs.get(info.name))
        if info.name in reasons and len(reasons[info.name]) == 1:
            form.reason = reasons[info.name][0]
        form.review = info.name in review
        forms.append(form)
    type_form = next(form for form in forms if form.name == "Type")
    switched_off = [d for d in proposal.decisions if d.field == "Type" and d.source]
    if type_form.source == "none" and switched_off:
        # The proposal leaves Type commented out until a person writes the GUIDs.
        type_form.source, type_form.column = "column", str(switched_off[0].source)
        type_form.reason = "Captorra wants the GUID of each case type (from your settings)"
    if type_form.source == "column" and not type_form.lookup:
        by_header = {info.header: info for info in columns}
        distinct = by_header.get(type_form.column)
        type_form.lookup = [(text, "") for text in (distinct.distinct or [])] if distinct else []
    return MappingForm(forms, name=_suggest_name(file_name), match="", file_name=file_name)


def _from_spec(name: str, spec: FieldSpec | None) -> FieldForm:
    form = FieldForm(name)
    if spec is None:
        if name in ENVIRONMENT:
            form.source, form.value = "value", "${" + ENVIRONMENT[name] + "}"
        return form
    form.transform = spec.transform[0] if spec.transform else ""
    form.on_overflow = spec.on_overflow or ""
    form.required = spec.required
    form.lookup = list((spec.lookup or {}).items())
    if spec.column is not None:
        form.source, form.column = "column", spec.column
    elif spec.columns is not None:
        form.source, form.columns = "columns", list(spec.columns)
        form.labeled = spec.format == "labeled"
    elif spec.template is not None:
        form.source, form.template = "template", spec.template
    else:
        form.source, form.value = "value", spec.value or ""
    return form


def _suggest_name(file_name: str) -> str:
    stem = Path(file_name).stem
    name = re.sub(r"[^A-Za-z0-9 _.-]+", "_", stem).strip(" ._-")
    return (name or "mapping")[:60]


def suggest_match(file_name: str) -> str:
    """A pattern for files named like this one: `acme_leads_2024-05.xlsx` -> `acme_leads*.xlsx`."""
    path = Path(file_name)
    stem = re.sub(r"[\d_\- .]+$", "", path.stem) or path.stem
    return f"{stem}*{path.suffix.lower()}"


# ---------------------------------------------------------------- the submitted form


def from_submission(data: Mapping[str, list[str]], *, file_name: str) -> MappingForm:
    """The form as the page sent it (`application/x-www-form-urlencoded`, parsed)."""

    def one(key: str, default: str = "") -> str:
        values = data.get(key)
        return values[-1].strip() if values else default

    forms = []
    for info in FIELDS:
        prefix = f"{info.name}."
        pick = one(prefix + "pick", "none")
        column = pick.removeprefix("col:") if pick.startswith("col:") else ""
        form = FieldForm(
            info.name,
            source="column" if pick.startswith("col:") else _source(pick),
            column=column,
            columns=[text for text in data.get(prefix + "columns", []) if text],
            labeled=bool(one(prefix + "labeled")),
            template=one(prefix + "template"),
            value=one(prefix + "value"),
            transform=one(prefix + "transform"),
            on_overflow=one(prefix + "on_overflow"),
            required=bool(one(prefix + "required")),
            reason=one(prefix + "reason"),
            review=bool(one(prefix + "review")),
        )
        if info.name == "Type":
            keys = data.get("Type.lookup.value", [])
            guids = data.get("Type.lookup.guid", [])
            form.lookup = [
                (key.strip(), text.strip())
                for key, text in zip(keys, guids, strict=False)
                if key.strip() or text.strip()
            ]
        forms.append(form)
    match = one("match") if one("use_match") else ""
    return MappingForm(forms, name=one("name"), match=match, file_name=file_name)


def _source(text: str) -> Source:
    return next((source for source in SOURCES if source == text), "none")


def problems(form: MappingForm) -> list[str]:
    """What must be fixed on the page before the mapping can be written."""
    found = []
    name = form.name.removesuffix(".yaml").removesuffix(".yml")
    if not _NAME.fullmatch(name):
        found.append(
            "Name: use letters, digits, spaces, dots, dashes or underscores (60 at most), "
            "starting with a letter or digit"
        )
    for entry in form.fields:
        label = entry.name
        if entry.source == "column" and not entry.column:
            found.append(f"{label}: choose its column")
        elif entry.source == "columns" and not entry.columns:
            found.append(f"{label}: tick at least one column")
        elif entry.source == "template" and not entry.template:
            found.append(f"{label}: write the text, with {{Column}} for each column")
        if entry.transform and entry.transform not in TRANSFORMS:
            found.append(f"{label}: unknown transform {entry.transform!r}")
    type_form = form["Type"]
    if type_form.source == "column":
        guids = [text for _, text in type_form.lookup if text]
        if not guids:
            found.append(
                "Type: write the Captorra GUID of at least one case type (from your Captorra "
                "settings), or choose \u201cnot sent\u201d"
            )
        for key, text in type_form.lookup:
            if text and not _is_guid(text):
                found.append(f"Type: the GUID for {key or '(no name)'!r} is not a GUID: {text!r}")
            if text and not key:
                found.append(f"Type: the GUID {text!r} has no case type before it")
    referrer = form["Referrer"]
    if referrer.source == "value" and "${" not in referrer.value and not _is_guid(referrer.value):
        found.append(
            "Referrer: write the GUID Captorra gave this lead source, or ${CAPTORRA_REFERRER}"
        )
    return found


def _is_guid(text: str) -> bool:
    tidy = str(guid(pd.Series([text], dtype="str")).values.iloc[0])
    return GUID_PATTERN.fullmatch(tidy.lower()) is not None


# ---------------------------------------------------------------- writing


def render(form: MappingForm, *, sheet: str | None, today: date | None = None) -> str:
    """The mapping file's text, with a comment on every field."""
    made = (today or date.today()).isoformat()
    lines = [
        *_comment(
            f"Mapping for {form.file_name or 'a lead file'}, made with `captorra-import ui` "
            f"on {made}. The comment above each field says what Captorra keeps in it and "
            "where its value comes from.",
            indent="",
        ),
        "# Values written ${NAME} are read from the environment when the mapping is used:",
        "#   export CAPTORRA_ID=123456 CAPTORRA_REFERRER=<your Referrer GUID>",
        "",
        "version: 1",
        "",
    ]
    if sheet is not None:
        lines += ["read:", "  # the tab (sheet) holding the leads", f"  sheet: {scalar(sheet)}", ""]
    if form.match:
        lines += [
            "match:                          # files this mapping is chosen for automatically",
            f"  filename: {_quoted(form.match)}",
            "",
        ]
    lines.append("fields:")
    for entry in form.fields:
        if entry.source != "none":
            lines += ["", *_field_lines(entry)]
    return "\n".join(lines) + "\n"


def _field_lines(entry: FieldForm) -> list[str]:
    info = entry.info
    about = f"{info.name}{' (required)' if info.required else ''}: {info.description}"
    if info.max_length:
        about += f", {info.max_length:,} characters at most"
    lines = _comment(about)
    lines += _comment(entry.reason or _described(entry), hanging="  ")
    pairs = _source_pairs(entry)
    if entry.transform:
        pairs.append(("transform", entry.transform))
    if entry.on_overflow:
        pairs.append(("on_overflow", entry.on_overflow))
    if entry.required:
        pairs.append(("required", "true"))
    lookup = [(key, text) for key, text in entry.lookup if key and text]
    if entry.name == "Type" and lookup:
        lines.append(f"  {entry.name}:")
        lines += [f"    {key}: {value}" for key, value in pairs]
        lines.append("    lookup:                     # case type in the file -> Captorra's GUID")
        lines += [f"      {scalar(key)}: {scalar(text)}" for key, text in lookup]
        return lines
    if len(pairs) == 1 and pairs[0][0] == "column":
        lines.append(f"  {entry.name}: {pairs[0][1]}")
    else:
        lines.append(f"  {entry.name}: {{{', '.join(f'{k}: {v}' for k, v in pairs)}}}")
    return lines


def _source_pairs(entry: FieldForm) -> list[tuple[str, str]]:
    if entry.source == "column":
        return [("column", scalar(entry.column))]
    if entry.source == "columns":
        pairs = [("columns", "[" + ", ".join(scalar(c) for c in entry.columns) + "]")]
        return pairs + ([("format", "labeled")] if entry.labeled else [])
    if entry.source == "template":
        return [("template", _quoted(entry.template))]
    return [("value", _quoted(entry.value))]


def _described(entry: FieldForm) -> str:
    if entry.source == "value":
        variable = re.fullmatch(r"\$\{(\w+)\}", entry.value)
        if variable:
            return f"read from the environment variable {variable.group(1)}"
        return "the same text on every row"
    if entry.source == "columns":
        return "several columns" + (", one labeled line each" if entry.labeled else ", joined")
    if entry.source == "template":
        return "text built from columns"
    return "chosen on the page"


def _quoted(text: str) -> str:
    # A double-quoted scalar (JSON's escapes are YAML's); scalar() would leave plain
    # text plain, and ${NAME} or a pattern's * must not be read as YAML syntax.
    quoted = scalar(text)
    return quoted if quoted.startswith('"') else f'"{quoted}"'


def _comment(text: str, *, indent: str = "  ", hanging: str = "") -> list[str]:
    wrapped = textwrap.wrap(
        _UNPRINTABLE.sub(" ", text),
        width=_COMMENT_WIDTH - len(indent),
        subsequent_indent=hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [f"{indent}# {line}" for line in wrapped]


def save(form: MappingForm, *, directory: Path, upload: Upload) -> Path:
    """Write the form as `<directory>/<name>.yaml` if it is a working mapping for `upload`.

    Raises `UsageError` for a mistake on the page and `MappingError` when the file
    would not load or does not fit the upload; nothing is written then.
    """
    found = problems(form)
    if found:
        raise UsageError("\n".join(found))
    name = form.name.removesuffix(".yaml").removesuffix(".yml")
    target = directory / f"{name}.yaml"
    if target.exists():
        raise UsageError(f"a mapping called {target.name} already exists; choose another name")
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / f".{name}.yaml.tmp"
    try:
        scratch.write_text(render(form, sheet=upload.sheet), encoding="utf-8")
        try:
            resolve_headers(load_mapping(scratch), upload.headers(), upload.path)
        except MappingError as error:
            message = upload.friendly(error).replace(str(scratch), target.name)
            raise MappingError(message) from None
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return target
