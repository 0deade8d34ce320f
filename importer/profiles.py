"""Vendor profiles: choosing, for each input file, the one mapping made for it.

A mapping becomes a profile with a `match` rule: a file-name pattern
(`acme_*.csv`), a list of headers the file must have, or both. A file is
imported only when exactly one profile matches; otherwise `MappingError` lists
every profile and why it did or did not match. When the chosen profile reads
headers the file lacks, the message lists the missing and the new headers: the
vendor changed their file.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping
from pathlib import Path

from importer.errors import MappingError
from importer.mapping import LoadedMapping, load_mapping, loose_header
from importer.reading import ReadOptions, open_table

HEADER_SAMPLE_ROWS = 50  # enough to read the header; the import reads the rest


def load_profiles(
    directory: Path, *, environ: Mapping[str, str] | None = None
) -> list[LoadedMapping]:
    """Every mapping in the folder; a broken one stops the run (it concerns every file)."""
    if not directory.is_dir():
        raise MappingError(f"{directory}: mappings folder not found; check the path")
    paths = sorted(p for p in directory.iterdir() if p.suffix.lower() in {".yaml", ".yml"})
    profiles = [load_mapping(path, environ=environ) for path in paths]
    if not any(profile.mapping.match for profile in profiles):
        raise MappingError(
            f"{directory}: no mapping there has a `match:` rule, so none can be chosen for a "
            'file; add e.g. `match: {filename: "acme_*.csv"}` to each vendor\'s mapping'
        )
    return profiles


def choose_profile(
    path: Path,
    profiles: list[LoadedMapping],
    *,
    known: Mapping[ReadOptions, list[str]] | None = None,
) -> LoadedMapping:
    """The one profile whose `match` rule fits this file; see the module docstring.

    `known` holds headers already read (by read options, `chunk_rows` aside), so the
    file is not opened again for them.
    """
    headers_by_options = {
        dataclasses.replace(options, chunk_rows=HEADER_SAMPLE_ROWS): headers
        for options, headers in (known or {}).items()
    }
    matching: list[LoadedMapping] = []
    reasons: list[str] = []
    for profile in profiles:
        rule = profile.mapping.match
        if rule is None:
            reasons.append(f"{profile.path.name}: has no match rule")
            continue
        if rule.filename and not fnmatch.fnmatch(path.name.casefold(), rule.filename.casefold()):
            reasons.append(f"{profile.path.name}: file name is not like {rule.filename!r}")
            continue
        headers = _headers(path, profile, headers_by_options)
        missing = _missing(rule.headers or [], headers)
        if missing:
            reasons.append(f"{profile.path.name}: lacks headers {_quoted(missing)}")
            if rule.filename:
                raise MappingError(_changed(path, profile, missing, headers))
            continue
        matching.append(profile)
    if len(matching) > 1:
        names = ", ".join(profile.path.name for profile in matching)
        raise MappingError(
            f"{path}: matches several mapping profiles ({names}); make their `match:` rules "
            "narrower so that one fits"
        )
    if not matching:
        raise MappingError(f"{path}: no mapping profile matches it ({'; '.join(reasons)})")
    chosen = matching[0]
    used = [header for spec in chosen.mapping.fields.values() for header in spec.headers()]
    missing = _missing(used, _headers(path, chosen, headers_by_options))
    if missing:
        raise MappingError(_changed(path, chosen, missing, headers_by_options[_options(chosen)]))
    return chosen


def _options(profile: LoadedMapping) -> ReadOptions:
    options = profile.mapping.read.options()
    return ReadOptions(
        options.sheet,
        options.header_row,
        options.encoding,
        options.delimiter,
        chunk_rows=HEADER_SAMPLE_ROWS,
    )


def _headers(path: Path, profile: LoadedMapping, cache: dict[ReadOptions, list[str]]) -> list[str]:
    options = _options(profile)
    if options not in cache:
        cache[options] = open_table(path, options).columns
    return cache[options]


def _missing(wanted: list[str], headers: list[str]) -> list[str]:
    present = {loose_header(header) for header in headers}
    return [header for header in dict.fromkeys(wanted) if loose_header(header) not in present]


def _changed(path: Path, profile: LoadedMapping, missing: list[str], headers: list[str]) -> str:
    used = {
        loose_header(header)
        for spec in profile.mapping.fields.values()
        for header in spec.headers()
    }
    wanted = (
        {loose_header(header) for header in (profile.mapping.match.headers or [])}
        if (profile.mapping.match)
        else set()
    )
    new = [header for header in headers if loose_header(header) not in used | wanted]
    hint = f"; new headers: {_quoted(new)}" if new else ""
    return (
        f"{path}: looks like a file for {profile.path.name} but lacks its headers "
        f"{_quoted(missing)}{hint}. The vendor changed their file: update the mapping"
    )


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)
