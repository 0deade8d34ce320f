"""The mapping file's JSON Schema: generated from the model, kept in the repository."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from importer.mapping import json_schema

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = sorted((ROOT / "mappings").glob("*.yaml"))


def test_the_kept_copy_matches_the_model() -> None:
    kept = json.loads((ROOT / "mappings" / "schema.json").read_text())
    assert kept == json_schema(), "run: captorra-import mapping-schema -o mappings/schema.json"


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda path: path.name)
def test_every_shipped_mapping_points_at_the_schema_and_passes_it(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=schema.json\n")
    jsonschema.validate(yaml.safe_load(text), json_schema())


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1, "fields": {"Phone": "Phone"}},
        {"version": 1, "fields": {"First": {"column": "A", "transform": "phonee"}}},
        {"version": 1, "fields": {"First": {"column": "A", "colour": "red"}}},
        {"version": 2, "fields": {}},
    ],
    ids=["unknown-field", "unknown-transform", "unknown-option", "version"],
)
def test_editors_are_told_about_mistakes(document: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())
