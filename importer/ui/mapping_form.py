"""Step 2, the mapping as a form, and the form back as a commented mapping file.

The form starts from `propose_mapping` (the assistant's reading of the file), or
from a saved mapping being changed, and holds, per Captorra field, where its
value comes from and the transform; for Type, a lookup from the file's case
types to Captorra's GUIDs. What a saved mapping says beyond the form (defaults,
more transforms, read options, ...) is carried through unchanged. Saving writes
a mapping in the documented format with a comment on every field, every value
through the YAML serialiser (never pasted into text), checks it the way an
import would (`load_mapping`, then `resolve_headers` against the file) and only
then puts it in the mappings folder, atomically; a replaced mapping is kept as
`.bak`. Comments hold field descriptions and the proposal's reasons, never a
value from the file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from importer.assistant import Proposal
from importer.captorra import FIELDS, FIELDS_BY_NAME, GUID_PATTERN, CaptorraField
from importer.errors import MappingError, UsageError
from importer.mapping import FieldSpec, load_mapping, resolve_headers
from importer.transforms import TRANSFORMS, guid
from importer.ui.workspace import ColumnInfo, Upload

Source = Literal["none", "settings", "column", "columns", "template", "value"]
SOURCES: Mapping[Source, str] = {
    "none": "\u2014 not sent \u2014",
    "settings": "from Settings",
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
# The fields Settings fill: the mapping file says ${CAPTORRA_ID}, read when it is used.
ENVIRONMENT = {"CaptorraId": "CAPTORRA_ID", "Referrer": "CAPTORRA_REFERRER"}
# What the form edits of a field; anything else a saved mapping says is kept as it is.
_FORM_KEYS = frozenset(
    {"column", "columns", "format", "template", "value", "transform", "on_overflow", "required"}
)
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
    # What a saved mapping says of the field beyond the form (default, join, more
    # transforms, ...): written back unchanged. JSON in a hidden input of the page.
    more: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> CaptorraField:
        return FIELDS_BY_NAME[self.name]

    @property
    def sources(self) -> list[Source]:
        """The kinds of source this field offers on the page."""
        if self.name == "Type":
            return ["none", "column"]
        if self.name in ENVIRONMENT:
            return ["settings", "value", "column"]
        kinds: list[Source] = [kind for kind in SOURCES if kind != "settings"]
        return kinds[1:] if self.info.required else kinds


@dataclass
class MappingForm:
    fields: list[FieldForm]
    name: str = ""  # the file name in the mappings folder, without .yaml
    match: str = ""  # a file-name pattern for `match:`; "" for none
    file_name: str = ""  # the upload the form was made for
    original: str = ""  # the saved mapping being changed ("" for a new one)
    # The rest of a saved mapping (read options, lead_key, headers to match, ...),
    # written back unchanged. JSON in a hidden input of the page.
    rest: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> FieldForm:
        return next(form for form in self.fields if form.name == name)


def from_proposal(
    proposal: Proposal,
    columns: Sequence[ColumnInfo],
    scratch: Path,
    *,
    file_name: str,
    learnt: Mapping[str, str] | None = None,
) -> MappingForm:
    """The proposal as a form; `scratch` is a private folder to read its text from.

    `learnt` (case type, case-folded -> GUID, from the settings) fills the GUIDs
    of case types met in earlier mappings.
    """
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
            # "..., read from the environment variable X": on the page it comes from Settings.
            form.reason = reasons[info.name][0].split(", read from the environment")[0]
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
    known = learnt or {}
    type_form.lookup = [
        (key, text or known.get(key.casefold(), "")) for key, text in type_form.lookup
    ]
    return MappingForm(forms, name=_suggest_name(file_name), match="", file_name=file_name)


def from_saved(path: Path, *, file_name: str) -> MappingForm:
    """A saved mapping as a form, every choice in it; raises `MappingError`."""
    mapping = load_mapping(path, environ=_Verbatim()).mapping
    rest = mapping.model_dump(mode="json", exclude_defaults=True, exclude={"fields", "version"})
    match = rest.pop("match", None) or {}
    pattern = str(match.pop("filename", "") or "")
    if match:
        rest["match"] = match  # headers the file must have: kept as they are
    forms = [_from_spec(info.name, mapping.fields.get(info.name)) for info in FIELDS]
    name = path.name.removesuffix(path.suffix)
    return MappingForm(
        forms, name=name, match=pattern, file_name=file_name, original=path.name, rest=rest
    )


def _from_spec(name: str, spec: FieldSpec | None) -> FieldForm:
    form = FieldForm(name)
    if spec is None:
        if name in ENVIRONMENT:
            form.source = "settings"
        return form
    form.transform = spec.transform[0] if spec.transform else ""
    form.on_overflow = spec.on_overflow or ""
    form.required = spec.required
    more = spec.model_dump(mode="json", exclude_defaults=True)
    form.more = {key: value for key, value in more.items() if key not in _FORM_KEYS}
    if spec.transform[1:]:
        form.more["transform"] = list(spec.transform[1:])  # after the one the form shows
    if name == "Type":
        form.lookup = list((form.more.pop("lookup", None) or {}).items())
    if spec.column is not None:
        form.source, form.column = "column", spec.column
    elif spec.columns is not None:
        form.source, form.columns = "columns", list(spec.columns)
        form.labeled = spec.format == "labeled"
    elif spec.template is not None:
        form.source, form.template = "template", spec.template
    elif name in ENVIRONMENT and spec.value == "${" + ENVIRONMENT[name] + "}":
        form.source = "settings"
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
            more=_json_object(one(prefix + "more")),
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
    return MappingForm(
        forms,
        name=one("name"),
        match=match,
        file_name=file_name,
        original=one("original"),
        rest=_json_object(one("rest")),
    )


def _json_object(text: str) -> dict[str, Any]:
    # Hidden inputs the page wrote; whatever they say is checked by load_mapping on saving.
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


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
    if _UNPRINTABLE.search(form.match):
        found.append(f"File name rule: {_CONTROL}")
    for entry in form.fields:
        label = entry.name
        if entry.source == "column" and not entry.column:
            found.append(f"{label}: choose its column")
        elif entry.source == "columns" and not entry.columns:
            found.append(f"{label}: tick at least one column")
        elif entry.source == "template" and not entry.template:
            found.append(f"{label}: write the text, with {{Column}} for each column")
        elif entry.source == "value" and not entry.value:
            found.append(f"{label}: write the text to send on every row, or choose its column")
        elif entry.source == "none" and entry.info.required:
            found.append(f"{label}: Captorra needs it; choose its column")
        typed = [entry.template, entry.value, *(text for _, text in entry.lookup)]
        if any(_UNPRINTABLE.search(text) for text in typed):
            found.append(f"{label}: {_CONTROL}")
        if entry.transform and entry.transform not in TRANSFORMS:
            found.append(f"{label}: unknown way to tidy it: {entry.transform!r}")
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
    if referrer.source == "value" and not _is_guid(referrer.value):
        found.append(
            "Referrer: write the GUID Captorra gave this lead source, or choose "
            "\u201cfrom Settings\u201d"
        )
    return found


_CONTROL = "holds a control character (a tab, a line break, ...); type it again without it"


def _is_guid(text: str) -> bool:
    tidy = str(guid(pd.Series([text], dtype="str")).values.iloc[0])
    return GUID_PATTERN.fullmatch(tidy.lower()) is not None


def learnt_case_types(form: MappingForm) -> dict[str, str]:
    """The case types of the Type lookup that have a GUID: offered in the next mapping."""
    if form["Type"].source != "column":
        return {}
    return {key: text for key, text in form["Type"].lookup if key and _is_guid(text)}


# ---------------------------------------------------------------- writing


def render(
    form: MappingForm,
    *,
    sheet: str | None,
    encoding: str | None = None,
    header_row: int | None = None,
    today: date | None = None,
) -> str:
    """The mapping file's text, with a comment on every field.

    Every value goes through the YAML serialiser (`yaml.safe_dump`): whatever was
    typed on the page, the file reads back as exactly that text.
    """
    made = (today or date.today()).isoformat()
    lines = [
        *_comment(
            f"Mapping for {form.file_name or 'a lead file'}, made with `captorra-import ui` "
            f"on {made}. The comment above each field says what Captorra keeps in it and "
            "where its value comes from.",
            indent="",
        ),
        "# Values written ${NAME} are read when the mapping is used: CAPTORRA_ID and",
        "# CAPTORRA_REFERRER from the environment, else from `captorra-import settings`.",
        "",
        *_dumped({"version": 1}),
        "",
    ]
    rest = dict(form.rest)
    read = dict(rest.pop("read", None) or {})
    if sheet is not None:
        read["sheet"] = sheet
    if encoding is not None:
        read["encoding"] = encoding  # chosen on the page: the characters looked wrong
    if header_row == 0:
        # The page read the file without a header row (its columns are "Column 1", ...):
        # the check, the send and the command line must read it the same way.
        read["header_row"] = 0
    if read:
        lines += [
            "# how to read the file (the sheet holding the leads, ...)",
            *_dumped({"read": read}),
        ]
        lines.append("")
    match = dict(rest.pop("match", None) or {})
    if form.match:
        match["filename"] = form.match
    if match:
        lines += [
            "# the files this mapping is chosen for automatically",
            *_dumped({"match": match}),
        ]
        lines.append("")
    lines.append("fields:")
    for entry in form.fields:
        if entry.source != "none":
            lines += ["", *_field_lines(entry)]
    if rest:
        lines += ["", *_dumped(rest)]
    return "\n".join(lines) + "\n"


def _dumped(document: Mapping[str, object], *, indent: str = "") -> list[str]:
    text = yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096
    )
    return [indent + line for line in text.splitlines()]


def _field_lines(entry: FieldForm) -> list[str]:
    info = entry.info
    about = f"{info.name}{' (required)' if info.required else ''}: {info.description}"
    if info.max_length:
        about += f", {info.max_length:,} characters at most"
    lines = _comment(about)
    lines += _comment(entry.reason or _described(entry), hanging="  ")
    spec = _spec(entry)
    if list(spec) == ["column"]:
        return lines + _dumped({entry.name: spec["column"]}, indent="  ")
    return lines + _dumped({entry.name: spec}, indent="  ")


def _spec(entry: FieldForm) -> dict[str, object]:
    """The field as the mapping file says it (see the README's "The mapping file")."""
    spec: dict[str, object] = {}
    if entry.source == "column":
        spec["column"] = entry.column
    elif entry.source == "columns":
        spec["columns"] = list(entry.columns)
        if entry.labeled:
            spec["format"] = "labeled"
    elif entry.source == "template":
        spec["template"] = entry.template
    elif entry.source == "settings":
        spec["value"] = "${" + ENVIRONMENT[entry.name] + "}"
    else:
        spec["value"] = entry.value
    more = dict(entry.more)
    then = more.pop("transform", None)
    transforms = ([entry.transform] if entry.transform else []) + (
        [str(name) for name in then] if isinstance(then, list) else []
    )
    if transforms:
        spec["transform"] = transforms[0] if len(transforms) == 1 else transforms
    lookup = [(key, text) for key, text in entry.lookup if key and text]
    if entry.name == "Type" and lookup:
        spec["lookup"] = dict(lookup)
    if entry.on_overflow:
        spec["on_overflow"] = entry.on_overflow
    if entry.required:
        spec["required"] = True
    return spec | more


def _described(entry: FieldForm) -> str:
    if entry.source == "settings":
        return "the value saved in Settings (or set in the environment)"
    if entry.source == "value":
        return "the same text on every row"
    if entry.source == "columns":
        return "several columns" + (", one labeled line each" if entry.labeled else ", joined")
    if entry.source == "template":
        return "text built from columns"
    return "chosen on the page"


def _comment(text: str, *, indent: str = "  ", hanging: str = "") -> list[str]:
    wrapped = textwrap.wrap(
        _UNPRINTABLE.sub(" ", text),
        width=_COMMENT_WIDTH - len(indent),
        subsequent_indent=hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [f"{indent}# {line}" for line in wrapped]


def save(form: MappingForm, *, directory: Path, upload: Upload, replace: bool = False) -> Path:
    """Write the form as `<directory>/<name>.yaml` if it is a working mapping for `upload`.

    With `replace`, the saved mapping `form.original` is replaced (its old text
    kept beside it as `<name>.yaml.bak`); otherwise an existing name is refused.
    Raises `UsageError` for a mistake on the page and `MappingError` when the file
    would not load or does not fit the upload; nothing is written then.
    """
    found = problems(form)
    if found:
        raise UsageError("\n".join(found))
    if replace:
        if form.original not in saved_names(directory):
            raise UsageError(f"there is no saved mapping called {form.original!r} to change")
        target = directory / form.original
    else:
        name = form.name.removesuffix(".yaml").removesuffix(".yml")
        target = directory / f"{name}.yaml"
        if target.exists():
            raise UsageError(
                f"a mapping called {target.name} already exists; choose another name, or "
                "change that mapping"
            )
    clash = _same_rule(form.match, directory, besides=target.name)
    if clash:
        raise UsageError(
            f"{clash} is already used automatically for files named like {form.match}: change "
            f"the file name (or untick it), or change {clash} instead"
        )
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / f".{target.name}.tmp"
    try:
        text = render(
            form, sheet=upload.sheet, encoding=upload.encoding, header_row=upload.header_row
        )
        scratch.write_text(text, encoding="utf-8")
        try:
            resolve_headers(load_mapping(scratch), upload.headers(), upload.path)
        except MappingError as error:
            message = upload.friendly(error).replace(str(scratch), target.name)
            raise MappingError(message) from None
        if replace:
            shutil.copy2(target, target.with_name(target.name + ".bak"))
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return target


def _same_rule(pattern: str, directory: Path, *, besides: str) -> str:
    """The saved mapping (other than `besides`) chosen for files named like `pattern`, if any.

    Two mappings for the same files would leave the next file with no mapping at all.
    """
    if not pattern:
        return ""
    for name in saved_names(directory):
        if name == besides:
            continue
        try:
            rule = load_mapping(directory / name, environ=_Verbatim()).mapping.match
        except MappingError:
            continue  # a broken mapping matches nothing; using it says why
        if rule is not None and (rule.filename or "").casefold() == pattern.casefold():
            return name
    return ""


def saved_names(directory: Path) -> list[str]:
    """The mapping files in the mappings folder, by name."""
    if not directory.is_dir():
        return []
    return sorted(
        path.name
        for path in directory.iterdir()
        if path.suffix.lower() in {".yaml", ".yml"} and not path.name.startswith(".")
    )
