"""Fixtures shared by the tests: the environment and a mapping file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.leads import CAPTORRA_ID, MAPPING


@pytest.fixture(autouse=True)
def captorra_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The ids the test mapping reads; a journal and settings no test shares with a person's."""
    monkeypatch.setenv("CAPTORRA_ID", CAPTORRA_ID)
    monkeypatch.setenv("CAPTORRA_JOURNAL", str(tmp_path / "default-journal.sqlite3"))
    monkeypatch.delenv("CAPTORRA_ENDPOINT", raising=False)
    # Never a person's own settings: each test starts with none saved.
    monkeypatch.setenv("CAPTORRA_SETTINGS", str(tmp_path / "settings" / "settings.json"))
    # A proxy set on the machine running the tests must not carry their loopback traffic.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path
