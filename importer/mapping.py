"""The mapping file: which spreadsheet columns become which Captorra fields.

Loading is strict: any mistake (YAML syntax, an unknown field, transform or
option, two sources in one spec, an unset `${VAR}`, a required Captorra field
with no source, a header the input lacks) raises `MappingError` naming the file,
the line and the key, before a single row is processed. YAML is parsed with a
safe loader in which only `true`/`false` are booleans, so a lookup key such as
`Yes` or `No` stays the text it looks like.

Applying a mapping works on whole columns and returns the Captorra fields as
text plus the per-row problems found on the way (a lookup miss, an unknown
state, a cut Details).
"""

from __future__ import annotations

import difflib
import os
import re
import string
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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
from importer.transforms import TRANSFORMS, guid

_ENV_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _as_text(value: object) -> object:
    """YAML reads `123456` as a number; a mapping means the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text)]
TransformName = Literal[
    "upper", "lower", "title", "digits", "phone", "email", "state", "zip", "first_name",
    "last_name", "guid",
]  # fmt: skip


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class ReadSettings(BaseModel):
    """How to read the input (`read:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str | int | None = Field(None, description="Excel: sheet name or 0-based index")
    header_row: int = Field(1, ge=1, description="1-based row holding the headers")
    encoding: str = Field("auto", description="CSV: auto or a codec name (cp1252, utf-16, ...)")
    delimiter: str = Field("auto", description="CSV: auto or one character")

    def options(self) -> ReadOptions:
        return ReadOptions(
            sheet=self.sheet,
            header_row=self.header_row,
            encoding=self.encoding,
            delimiter=self.delimiter,
        )


class FieldSpec(BaseModel):
    """Where one Captorra field's value comes from, and what is done to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: Text | None = Field(None, description="a column header")
    columns: list[Text] | None = Field(None, description="several headers, joined")
    join: str = Field(" ", description="what joins `columns` (default one space)")
    format: Literal["joined", "labeled"] = Field(
        "joined", description="`labeled`: one `Header: value` line per non-empty cell"
    )
    template: str | None = Field(None, description="text with {Header} placeholders")
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


class Mapping(BaseModel):
    """A whole mapping file (version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(description="the mapping format version: 1")
    read: ReadSettings = ReadSettings()
    fields: dict[str, Annotated[FieldSpec, BeforeValidator(_spec_shorthand)]] = Field(
        description="Captorra field -> where its value comes from"
    )
    lead_key: list[str] | None = Field(
        None, description="the Captorra fields that identify a lead (duplicates, re-runs)"
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for name in fields:
            _check_field_name(name)
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        if missing:
            raise ValueError(
                f"Captorra requires {', '.join(missing)} but the mapping gives no source for "
                f"{'it' if len(missing) == 1 else 'them'}"
            )
        return fields

    @field_validator("lead_key")
    @classmethod
    def _known_key_fields(cls, lead_key: list[str] | None) -> list[str] | None:
        for name in lead_key or ():
            _check_field_name(name)
        return lead_key

    @model_validator(mode="after")
    def _key_fields_are_mapped(self) -> Mapping:
        unmapped = [name for name in self.lead_key or () if name not in self.fields]
        if unmapped:
            raise ValueError(
                f"lead_key names {', '.join(unmapped)}, which the mapping does not map"
            )
        return self


def _check_field_name(name: str) -> None:
    if name not in FIELDS_BY_NAME:
        close = difflib.get_close_matches(name, FIELD_NAMES, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(
            f"{name!r} is not a Captorra field{hint} (`captorra-import fields` lists them)"
        )


# ---------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans (YAML 1.2), not yes/no/on/off."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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
    return LoadedMapping(
        path, _expand_environment(loaded, os.environ if environ is None else environ), lines
    )


def _parse_yaml(path: Path, text: str) -> tuple[object, dict[tuple[str, ...], int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        document = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise MappingError(f"{path}{line}: not valid YAML ({problem})") from None
    finally:
        loader.dispose()
    if node is None or not isinstance(document, dict):
        raise MappingError(
            f"{path}: a mapping file must be a YAML mapping with `version: 1` and `fields:`"
        )
    lines: dict[tuple[str, ...], int] = {}
    _record_lines(node, (), lines)
    return document, lines


def _record_lines(node: yaml.Node, key: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*key, str(key_node.value))
            _record_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _record_lines(item, (*key, str(position)), lines)


def _line_of(lines: MappingABC[tuple[str, ...], int], key: Sequence[str]) -> int | None:
    for end in range(len(key), 0, -1):
        if tuple(key[:end]) in lines:
            return lines[tuple(key[:end])]
    return None


def _describe(path: Path, lines: MappingABC[tuple[str, ...], int], error: ValidationError) -> str:
    """The first problem pydantic found, as `file, line N, key: what to do`."""
    first = error.errors()[0]
    key = [str(part) for part in first["loc"] if not str(part).startswith("function-")]
    key = [part for part in key if part not in {"[key]"}]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown option {key[-1]!r}; check its spelling (see the README)"
    elif first["type"] == "literal_error" and "transform" in key:
        message = f"unknown transform; choose one of {', '.join(TRANSFORMS)}"
    elif first["type"] == "missing":
        message = "is missing"
    line = _line_of(lines, key)
    where = f"{path}, line {line}" if line else str(path)
    return f"{where}, {'.'.join(key) or 'top level'}: {message}"


def _expand_environment(loaded: LoadedMapping, environ: MappingABC[str, str]) -> Mapping:
    def expand(text: str | None, *key: str) -> str | None:
        if text is None:
            return None

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise MappingError(
                    f"{loaded.where(*key)}: environment variable {name} is not set; "
                    f"set it (export {name}=...) or write the value in the mapping"
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
        by_loose.setdefault(_loose(column), []).append(column)
    resolved: dict[str, str] = {}
    for name, spec in loaded.mapping.fields.items():
        for header in spec.headers():
            if header in columns:
                resolved[header] = header
            elif len(by_loose.get(_loose(header), [])) == 1:
                resolved[header] = by_loose[_loose(header)][0]
            else:
                raise MappingError(_missing_header(loaded, name, spec, header, columns, input_path))
    return resolved


def _loose(header: str) -> str:
    return re.sub(r"[\s_]+", " ", header).strip().casefold()


def _missing_header(
    loaded: LoadedMapping,
    name: str,
    spec: FieldSpec,
    header: str,
    columns: Sequence[str],
    input_path: Path,
) -> str:
    option = next(
        option for option in ("column", "columns", "template") if getattr(spec, option) is not None
    )
    close = difflib.get_close_matches(header, list(columns), n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(repr(c) for c in close)}" if close else ""
    return (
        f"{loaded.where('fields', name, option)}: {input_path.name} has no column {header!r}{hint}"
    )


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
    values = _source(spec, frame, headers).str.strip()
    for transform in spec.transform:
        result = TRANSFORMS[transform](values)
        values = result.values
        if result.errors is not None:
            notes.error(name, result.errors)
    if spec.lookup is not None:
        values = _look_up(name, spec.lookup, values, notes)
    if spec.default is not None:
        values = values.where(values != "", spec.default)
    field = FIELDS_BY_NAME[name]
    if field.kind is Kind.GUID:
        values = guid(values).values
    return _limit(name, spec, values, notes)


def _source(spec: FieldSpec, frame: pd.DataFrame, headers: MappingABC[str, str]) -> pd.Series:
    if spec.column is not None:
        return frame[headers[spec.column]]
    if spec.value is not None:
        return pd.Series(spec.value, index=frame.index, dtype="str")
    if spec.columns is not None:
        parts = [frame[headers[header]].str.strip() for header in spec.columns]
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
    text = pd.Series("", index=frame.index, dtype="str")
    for literal, header, _, _ in string.Formatter().parse(template):
        text = text + literal
        if header:
            text = text + frame[headers[header]]
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _look_up(name: str, lookup: dict[str, str], values: pd.Series, notes: RowNotes) -> pd.Series:
    table = {source.strip().casefold(): out for source, out in lookup.items()}
    found = values.str.casefold().map(table)
    missing = found.isna() & (values != "")
    if missing.any():
        notes.error(name, ('"' + values + '" is not in the lookup').where(missing, ""))
    return found.fillna("").astype("str")


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
