"""The README's promises point at tests that exist: the table cannot rot silently."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def guarantee_references() -> list[tuple[str, str]]:
    """(test file, test name) for every test the Guarantees table names."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    references = []
    for row in table.splitlines():
        current = ""
        for path, name in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", row):
            current = path or current
            references.append((current, name))
    return references


def test_every_guarantee_names_an_existing_test() -> None:
    references = guarantee_references()
    assert len(references) >= 30
    for path, name in references:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{path}::{name} is gone"


def test_the_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick_start
    assert "make test" in quick_start
