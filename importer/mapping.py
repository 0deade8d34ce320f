"""The mapping file: which spreadsheet columns become which Captorra fields.

Loading is strict: any mistake (YAML syntax, a key written twice, an unknown
field, transform or option, two sources in one spec, a malformed template, an
unset `${VAR}`, a required Captorra field with no source, a header the input
lacks) raises `MappingError` naming the file, the line and the key, before a
single row is processed. YAML is parsed with a safe loader in which only
`true`/`false` are booleans, so a lookup key such as `Yes` or `No` stays the
text it looks like, and numbers and dates stay the text they were written as
(`012345`, `2024.10`).

Applying a mapping works on whole columns and returns the Captorra fields as
text plus the per-row problems found on the way (a lookup miss, an unknown
state, a cut Details).
"""

from __future__ import annotations

import codecs
import difflib
import re
import string
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from importer import settings
from importer.captorra import (
    FIELD_NAMES,
    FIELDS_BY_NAME,
    REQUIRED_FIELDS,
    TRUNCATED_BY_DEFAULT,
    Kind,
)
from importer.errors import MappingError
from importer.notes import RowNotes, join_nonempty
from importer.reading import ReadOptions
from importer.transforms import TRANSFORMS, collapse_spaces, guid

_ENV_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _as_text(value: object) -> object:
    """YAML reads `123456` as a number; a mapping means the text, exactly as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Number):
        return value.text
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text)]
TransformName = Literal[
    "upper", "lower", "title", "digits", "phone", "email", "state", "zip", "first_name",
    "last_name", "guid", "date",
]  # fmt: skip


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class ReadSettings(BaseModel):
    """How to read the input (`read:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str | int | None = Field(None, description="Excel: sheet name or 0-based index")
    header_row: int | None = Field(
        None,
        ge=0,
        description="1-based row holding the headers; 0: the file has none (columns are "
        "'Column 1', 'Column 2', ...); unset: row 1, or the row below a title",
    )
    encoding: str = Field("auto", description="CSV: auto or a codec name (cp1252, utf-16, ...)")
    delimiter: str = Field("auto", description="CSV: auto or one character")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        if encoding != "auto":
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValueError(
                    f"unknown encoding {encoding!r}; use auto, utf-8, cp1252, utf-16, ..."
                ) from None
        return encoding

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, delimiter: str) -> str:
        if delimiter != "auto" and len(delimiter) != 1:
            raise ValueError(f'must be auto or one character (a tab is "\\t"), not {delimiter!r}')
        return delimiter

    def options(self) -> ReadOptions:
        return ReadOptions(
            sheet=self.sheet,
            header_row=self.header_row,
            encoding=self.encoding,
            delimiter=self.delimiter,
        )


def _check_template(template: str) -> str:
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"{error}; write a literal brace as {{{{ or }}}}") from None
    for _, name, spec, conversion in parts:
        if name == "":
            raise ValueError("has an empty {}; put a column header between the braces")
        if spec or conversion:
            # str.format syntax would silently drop them: a header such as "Time: Best"
            # would be read as the header "Time".
            raise ValueError(
                f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                "is not a plain {Header}; a header with ':' or '!' cannot be used in a "
                "template (use columns: instead)"
            )
    return template


class FieldSpec(BaseModel):
    """Where one Captorra field's value comes from, and what is done to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: Text | None = Field(None, description="a column header")
    columns: list[Text] | None = Field(None, min_length=1, description="several headers, joined")
    join: str = Field(" ", description="what joins `columns` (default one space)")
    format: Literal["joined", "labeled"] = Field(
        "joined", description="`labeled`: one `Header: value` line per non-empty cell"
    )
    template: Annotated[str, AfterValidator(_check_template)] | None = Field(
        None, description="text with {Header} placeholders"
    )
    value: Text | None = Field(None, description="a constant; ${NAME} reads the environment")
    transform: Annotated[list[TransformName], BeforeValidator(_as_list)] = Field(
        default_factory=list, description="transforms applied in order after trimming"
    )
    lookup: dict[Text, Text] | None = Field(
        None, description="source value -> output, matched trimmed and case-insensitively"
    )
    default: Text | None = Field(None, description="used when the result is empty")
    required: bool = Field(False, description="make an optional Captorra field mandatory")
    on_overflow: Literal["truncate", "reject"] | None = Field(
        None, description="a value over the limit: cut it (with a warning) or reject the row"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [
            name
            for name in ("column", "columns", "template", "value")
            if getattr(self, name) is not None
        ]
        if len(sources) != 1:
            given = " and ".join(sources) if sources else "none"
            raise ValueError(
                f"a field needs exactly one of column, columns, template or value (given: {given})"
            )
        return self

    @field_validator("lookup")
    @classmethod
    def _unambiguous_lookup(cls, lookup: dict[str, str] | None) -> dict[str, str] | None:
        seen: dict[str, str] = {}
        for source in lookup or {}:
            key = source.strip().casefold()
            if key in seen:
                raise ValueError(
                    f"{seen[key]!r} and {source!r} are the same name to the lookup "
                    "(which ignores case and outer spaces); keep one"
                )
            seen[key] = source
        return lookup

    def headers(self) -> list[str]:
        """The input headers this spec reads."""
        if self.column is not None:
            return [self.column]
        if self.columns is not None:
            return list(self.columns)
        if self.template is not None:
            return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return []


def _spec_shorthand(value: object) -> object:
    return {"column": _as_text(value)} if isinstance(value, str | int | float) else value


def _check_field_name(name: str) -> str:
    if name not in FIELDS_BY_NAME:
        close = difflib.get_close_matches(name, FIELD_NAMES, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(
            f"{name!r} is not a Captorra field{hint} (`captorra-import fields` lists them)"
        )
    return name


FieldName = Annotated[str, AfterValidator(_check_field_name)]


class MatchRule(BaseModel):
    """Which input files a mapping is made for (`match:`), when several vendors share a folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str | None = Field(None, description="a file-name pattern, e.g. acme_*.csv")
    headers: list[Text] | None = Field(None, description="headers the file must have")


ContactKind = Literal["phone", "email"]


def _phone_and_email() -> list[ContactKind]:
    return ["phone", "email"]


class DuplicateRule(BaseModel):
    """When two leads are the same person (`duplicates:`): same phone or email, recently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: list[ContactKind] = Field(
        default_factory=_phone_and_email,
        description="what makes two leads the same person: phone (Primary or Secondary, "
        "10 digits) and/or email (case and outer spaces ignored); [] turns the check off",
    )
    window_days: int = Field(
        30,
        ge=0,
        le=36_500,
        description="a lead matching one posted in the last this many days is a duplicate "
        "and is not sent; 0 turns the check off",
    )

    @property
    def active(self) -> bool:
        return bool(self.match) and self.window_days > 0


class Mapping(BaseModel):
    """A whole mapping file (version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(description="the mapping format version: 1")
    read: ReadSettings = ReadSettings()
    match: MatchRule | None = Field(None, description="which input files this mapping is for")
    fields: dict[FieldName, Annotated[FieldSpec, BeforeValidator(_spec_shorthand)]] = Field(
        description="Captorra field -> where its value comes from"
    )
    lead_key: list[FieldName] | None = Field(
        None, description="the Captorra fields that identify a lead (duplicates, re-runs)"
    )
    duplicates: DuplicateRule = Field(
        DuplicateRule(),
        description="the same person in another lead, in this file or posted within the "
        "window: duplicate, not sent",
    )

    @field_validator("fields")
    @classmethod
    def _sendable_fields(cls, fields: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        if missing:
            raise ValueError(
                f"Captorra requires {', '.join(missing)} but the mapping gives no source for "
                f"{'it' if len(missing) == 1 else 'them'}"
            )
        if "State" in fields and fields["State"].on_overflow == "truncate":
            # Cutting "new jersey" to "ne" would send Nebraska.
            raise ValueError(
                "State cannot be truncated: cutting a name to two letters makes another "
                "state; remove on_overflow and use transform: state"
            )
        return fields

    @field_validator("lead_key")
    @classmethod
    def _key_fields_are_mapped(
        cls, lead_key: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        fields = info.data.get("fields")
        unmapped = [name for name in lead_key or () if fields is not None and name not in fields]
        if unmapped:
            raise ValueError(
                f"lead_key names {', '.join(unmapped)}, which the mapping does not map; "
                "map it under fields: or leave it out of lead_key"
            )
        return lead_key


# ---------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans (YAML 1.2), not yes/no/on/off.

    Dates stay text, and a number remembers how it was written, so that
    `value: 012345` means the text 012345 (not the octal number 5349).
    """


class _Number(int):
    """A YAML number: usable as a number (`version: 1`), and its text as written."""

    text: str


def _construct_number(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    assert isinstance(node, yaml.ScalarNode)
    if node.tag == "tag:yaml.org,2002:float":
        return str(node.value)  # no option takes a fraction: `2024.10` is meant as text
    number = _Number(loader.construct_yaml_int(node))
    number.text = str(node.value)
    return number


_TEXT_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _TEXT_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_number)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_number)


@dataclass(frozen=True)
class LoadedMapping:
    """A validated mapping and where it came from, for messages."""

    path: Path
    mapping: Mapping
    lines: MappingABC[tuple[str, ...], int]  # key path -> 1-based line

    def where(self, *key: str) -> str:
        """`file, line N, key.path`: where a message should point the user."""
        line = _line_of(self.lines, key)
        dotted = ".".join(key)
        return f"{self.path}, line {line}, {dotted}" if line else f"{self.path}, {dotted}"


def load_mapping(path: Path, *, environ: MappingABC[str, str] | None = None) -> LoadedMapping:
    """Read, validate and expand `${VAR}`s; raises `MappingError` on any mistake."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found; check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"{path}: cannot be read ({error})") from None
    document, lines = _parse_yaml(path, text)
    try:
        mapping = Mapping.model_validate(document)
    except ValidationError as error:
        raise MappingError(_describe(path, lines, error)) from None
    loaded = LoadedMapping(path, mapping, lines)
    # ${CAPTORRA_ID} and ${CAPTORRA_REFERRER} fall back to the saved settings.
    environ = settings.environment() if environ is None else environ
    return LoadedMapping(path, _expand_environment(loaded, environ), lines)


def _parse_yaml(path: Path, text: str) -> tuple[object, dict[tuple[str, ...], int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and start is not None and start.line != getattr(mark, "line", None):
            problem += f", {context} that starts on line {start.line + 1}"
        raise MappingError(f"{path}{line}: not valid YAML ({problem})") from None
    finally:
        loader.dispose()
    if node is None or not isinstance(document, dict):
        raise MappingError(
            f"{path}: a mapping file must be a YAML mapping with `version: 1` and `fields:`"
        )
    lines: dict[tuple[str, ...], int] = {}
    try:
        _record_lines(node, (), lines)
    except _DuplicateKey as duplicate:
        raise MappingError(f"{path}, {duplicate}") from None
    return document, lines


class _DuplicateKey(Exception):
    """A key written twice in one YAML mapping: YAML would silently keep the last one."""


def _record_lines(
    node: yaml.Node,
    key: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    seen: set[int] | None = None,
) -> None:
    lines[key] = node.start_mark.line + 1
    # An alias (*name) repeats a node: visit each once, so that a recursive alias or
    # an alias "bomb" cannot make this walk endless or exponential.
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        written: dict[str, int] = {}
        for key_node, value_node in node.value:
            name, line = str(key_node.value), key_node.start_mark.line + 1
            if name in written and name != "<<":
                raise _DuplicateKey(
                    f"line {line}, {'.'.join((*key, name))}: written twice (also line "
                    f"{written[name]}); YAML would silently use the last one, so keep one"
                )
            written[name] = line
            child = (*key, name)
            _record_lines(value_node, child, lines, seen)
            lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _record_lines(item, (*key, str(position)), lines, seen)


def _line_of(lines: MappingABC[tuple[str, ...], int], key: Sequence[str]) -> int | None:
    for end in range(len(key), 0, -1):
        if tuple(key[:end]) in lines:
            return lines[tuple(key[:end])]
    return None


def _describe(path: Path, lines: MappingABC[tuple[str, ...], int], error: ValidationError) -> str:
    """The first problem pydantic found, as `file, line N, key: what to do`."""
    first = error.errors()[0]
    key: list[str] = []
    for part in map(str, first["loc"]):
        # pydantic adds the union member tried (`str`, `int`) and `[key]` for a dict key.
        if (*key, part) in lines or not _PYDANTIC_LOC_TAG.fullmatch(part):
            key.append(part)
    if key and key[-1].isdigit() and tuple(key) not in lines and tuple(key[:-1]) in lines:
        key.pop()  # `transform: phnoe` is read as the list [phnoe]: no position to name
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown option {key[-1]!r}; check its spelling (see the README)"
    elif first["type"] == "literal_error" and "transform" in key:
        close = difflib.get_close_matches(str(first["input"]), TRANSFORMS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        message = (
            f"unknown transform {first['input']!r}; {hint}choose one of {', '.join(TRANSFORMS)}"
        )
    elif first["type"] == "missing":
        message = "is missing"
    elif key == ["version"]:
        message = f"must be 1 (the mapping format this importer reads), not {first['input']!r}"
    elif first["type"] == "too_short":
        message = "needs at least one entry"
    line = _line_of(lines, key)
    where = f"{path}, line {line}" if line else str(path)
    return f"{where}, {'.'.join(key) or 'top level'}: {message}"


_PYDANTIC_LOC_TAG = re.compile(r"\[key\]|str|int|float|bool|none|function-.*|[a-z]+\[.*\]")


def _expand_environment(loaded: LoadedMapping, environ: MappingABC[str, str]) -> Mapping:
    def expand(text: str | None, *key: str) -> str | None:
        if text is None:
            return None

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                saved = settings.OPTIONS.get(name)
                store = f"save it (captorra-import settings {saved} ...), " if saved else ""
                raise MappingError(
                    f"{loaded.where(*key)}: environment variable {name} is not set; "
                    f"{store}set it (export {name}=...) or write the value in the mapping"
                )
            return environ[name]

        return _ENV_VARIABLE.sub(value_of, text)

    fields = {}
    for name, spec in loaded.mapping.fields.items():
        lookup = None
        if spec.lookup is not None:
            lookup = {
                source: expand(out, "fields", name, "lookup", source) or ""
                for source, out in spec.lookup.items()
            }
        fields[name] = spec.model_copy(
            update={
                "value": expand(spec.value, "fields", name, "value"),
                "default": expand(spec.default, "fields", name, "default"),
                "lookup": lookup,
            }
        )
    return loaded.mapping.model_copy(update={"fields": fields})


# ---------------------------------------------------------------- against the input


def resolve_headers(
    loaded: LoadedMapping, columns: Sequence[str], input_path: Path
) -> dict[str, str]:
    """Match the mapping's headers to the input's; raise `MappingError` for a missing one.

    Headers match exactly, else ignoring case and spacing when that is unambiguous
    (vendors re-export `First Name` as `first name`).
    """
    by_loose: dict[str, list[str]] = {}
    for column in columns:
        by_loose.setdefault(loose_header(column), []).append(column)
    resolved: dict[str, str] = {}
    for name, spec in loaded.mapping.fields.items():
        for header in spec.headers():
            if header in columns:
                resolved[header] = header
            elif len(by_loose.get(loose_header(header), [])) == 1:
                resolved[header] = by_loose[loose_header(header)][0]
            else:
                raise MappingError(
                    _missing_header(
                        loaded, name, spec, header, by_loose.get(loose_header(header), []),
                        columns, input_path,
                    )
                )  # fmt: skip
    return resolved


def loose_header(header: str) -> str:
    """A header as compared loosely: case, spaces and underscores do not matter."""
    return re.sub(r"[\s_]+", " ", header).strip().casefold()


def _missing_header(
    loaded: LoadedMapping,
    name: str,
    spec: FieldSpec,
    header: str,
    loose_matches: Sequence[str],
    columns: Sequence[str],
    input_path: Path,
) -> str:
    option = next(
        option for option in ("column", "columns", "template") if getattr(spec, option) is not None
    )
    where = loaded.where("fields", name, option)
    if loose_matches:
        return (
            f"{where}: {input_path.name} has no column {header!r} but several that differ "
            f"from it only in case or spacing ({', '.join(map(repr, loose_matches))}); "
            "write the one you mean exactly"
        )
    close = difflib.get_close_matches(header, list(columns), n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(repr(c) for c in close)}" if close else ""
    return f"{where}: {input_path.name} has no column {header!r}{hint}"


# ---------------------------------------------------------------- applying


@dataclass(frozen=True)
class Mapped:
    """The Captorra fields of some rows, as text ("" = empty), and what went wrong."""

    values: pd.DataFrame  # columns: the mapped Captorra fields, in the table's order
    notes: RowNotes


def apply_mapping(mapping: Mapping, frame: pd.DataFrame, headers: MappingABC[str, str]) -> Mapped:
    """Map rows of the input to Captorra fields, column by column."""
    notes = RowNotes(frame.index)
    values = {}
    for name in FIELD_NAMES:
        spec = mapping.fields.get(name)
        if spec is not None:
            values[name] = _field_values(name, spec, frame, headers, notes)
    return Mapped(pd.DataFrame(values, index=frame.index), notes)


def _field_values(
    name: str, spec: FieldSpec, frame: pd.DataFrame, headers: MappingABC[str, str], notes: RowNotes
) -> pd.Series:
    values = _without_control_characters(_source(spec, frame, headers)).str.strip()
    return _limit(name, spec, _tidy(name, spec, values, notes), notes)


# C0 controls but tab, newline and carriage return: never part of a lead's data (a NUL
# from a broken export is not a name), and some systems choke on them.
_CONTROL_CHARACTERS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def _without_control_characters(values: pd.Series) -> pd.Series:
    if not _may_hold_control_characters(values):
        return values
    return values.str.replace(_CONTROL_CHARACTERS, "", regex=True)


def _may_hold_control_characters(values: pd.Series) -> bool:
    """A byte scan of the column's UTF-8 data: a regex per cell costs 20% of mapping.

    Control characters are single bytes that never occur inside a multi-byte UTF-8
    sequence, so a scan of the raw buffers finds them; a buffer shared with other
    rows can only give a false alarm, which the regex then settles.
    """
    try:
        chunks = pa.chunked_array(values.array.__arrow_array__()).chunks
    except (AttributeError, TypeError):  # not Arrow-backed: ask the regex
        return bool(values.str.contains(_CONTROL_CHARACTERS, regex=True).any())
    for chunk in chunks:
        data = chunk.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        control = (raw < 0x20) & (raw != 0x09) & (raw != 0x0A) & (raw != 0x0D)
        if control.any() or (raw == 0x7F).any():
            return True
    return False


def _tidy(name: str, spec: FieldSpec, values: pd.Series, notes: RowNotes) -> pd.Series:
    """Transforms, lookup, default and GUID form, in that order."""
    for transform in spec.transform:
        result = TRANSFORMS[transform](values)
        values = result.values
        if result.errors is not None:
            notes.error(name, result.errors)
        if result.warnings is not None:
            notes.warning(name, result.warnings)
    if spec.lookup is not None:
        values = _look_up(name, spec.lookup, values, notes)
    if spec.default is not None:
        values = values.where(values != "", spec.default)
    if FIELDS_BY_NAME[name].kind is Kind.GUID:
        values = guid(values).values
    return values


def _repeat(text: str, index: pd.Index) -> pd.Series:
    return pd.Series(text, index=index, dtype="str")


def _column(frame: pd.DataFrame, header: str) -> pd.Series:
    """An input column as text, a missing cell as "" (readers give text; callers may not)."""
    column = frame[header]
    if column.dtype != "str" or column.hasnans:
        column = column.astype("str").fillna("")
    return column


def _source(spec: FieldSpec, frame: pd.DataFrame, headers: MappingABC[str, str]) -> pd.Series:
    if spec.value is not None:
        return _repeat(spec.value, frame.index)
    if spec.column is not None:
        return _column(frame, headers[spec.column])
    if spec.columns is not None:
        parts = [_column(frame, headers[header]).str.strip() for header in spec.columns]
        if spec.format == "labeled":
            parts = [
                (header + ": " + part).where(part != "", "")
                for header, part in zip(spec.columns, parts, strict=True)
            ]
            return join_nonempty(parts, "\n")
        return join_nonempty(parts, spec.join)
    assert spec.template is not None
    return _fill_template(spec.template, frame, headers)


def _fill_template(template: str, frame: pd.DataFrame, headers: MappingABC[str, str]) -> pd.Series:
    pieces: list[pd.Series | str] = []
    for literal, header, _, _ in string.Formatter().parse(template):
        pieces.append(literal)
        if header:
            pieces.append(_column(frame, headers[header]))
    text = _repeat("", frame.index)
    for piece in pieces:
        text = text + piece
    return collapse_spaces(text).str.strip()


def _look_up(name: str, lookup: dict[str, str], values: pd.Series, notes: RowNotes) -> pd.Series:
    table = {source.strip().casefold(): out for source, out in lookup.items()}
    # Few distinct values, many rows: look each distinct value up once.
    codes, distinct = pd.factorize(values)
    found = [table.get(text.casefold()) for text in distinct]
    missing = [out is None and text != "" for out, text in zip(found, distinct, strict=True)]
    result = pd.array(["" if out is None else out for out in found], dtype="str")
    looked_up = pd.Series(result.take(codes, allow_fill=True), index=values.index, dtype="str")
    if any(missing):
        where = np.append(np.array(missing, dtype=bool), False)[codes]  # -1: a missing value
        notes.error(name, ('"' + values + '" is not in the lookup').where(where, ""))
    return looked_up.fillna("")


def _limit(name: str, spec: FieldSpec, values: pd.Series, notes: RowNotes) -> pd.Series:
    limit = FIELDS_BY_NAME[name].max_length
    policy = spec.on_overflow or ("truncate" if name in TRUNCATED_BY_DEFAULT else "reject")
    if limit is None or policy == "reject":
        return values
    lengths = values.str.len()
    long = lengths > limit
    if not long.any():
        return values
    cut = lengths[long].map("{:,}".format).astype("str") + f" characters cut to {limit:,}"
    notes.warning(name, cut.reindex(values.index, fill_value=""))
    return values.where(~long, values.str.slice(0, limit))


# ---------------------------------------------------------------- the JSON Schema


def json_schema() -> dict[str, Any]:
    """The mapping file's JSON Schema, for editors (`# yaml-language-server: $schema=...`)."""
    schema = Mapping.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "captorra-importer mapping file (version 1)"
    # What the validators accept beyond the model's own types: a bare header for a
    # field, one transform name for a list, a number for a text value.
    fields = schema["properties"]["fields"]
    fields["propertyNames"] = {"enum": list(FIELD_NAMES)}
    fields["additionalProperties"] = {
        "anyOf": [
            {"type": "string", "description": "a column header"},
            fields["additionalProperties"],
        ]
    }
    spec = schema["$defs"]["FieldSpec"]["properties"]
    spec["transform"] = {"anyOf": [spec["transform"]["items"], spec["transform"]]}
    spec["value"]["anyOf"].insert(0, {"type": "number"})
    return schema
