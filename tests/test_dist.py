"""The one-file program from `make dist`, run as someone without Python would run it.

Marked `dist`: `make test-dist` builds the program and runs these; `make test`
does not (the build takes minutes). Every run starts from an empty environment
(no virtualenv, no PYTHONPATH, nothing but the ids a mapping reads) in a folder
of its own, so nothing from this checkout can help the program.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.leads import CAPTORRA_ID, REFERRER, read_sheet
from tests.page_process import fetch_the_page

pytestmark = pytest.mark.dist

ROOT = Path(__file__).parent.parent
PROGRAM = ROOT / "dist" / ("captorra-import.exe" if sys.platform == "win32" else "captorra-import")
COMMANDS = (
    "validate",
    "run",
    "batch",
    "sandbox",
    "history",
    "init-mapping",
    "check-mapping",
    "mapping-schema",
    "ui",
    "fields",
    "check-connection",
)


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A folder with the sample files, and nothing else."""
    if not PROGRAM.exists():
        pytest.fail(f"{PROGRAM} is missing: build it with `make dist`")
    folder = tmp_path / "a folder ü"
    folder.mkdir()
    shutil.copy(ROOT / "sample_data" / "lakeside_leads.csv", folder)
    shutil.copy(ROOT / "mappings" / "lakeside.yaml", folder)
    return folder


def empty_environment(place: Path) -> dict[str, str]:
    # HOME only so that the journal and settings land in the test's folder.
    return {"HOME": str(place), "CAPTORRA_ID": CAPTORRA_ID, "CAPTORRA_REFERRER": REFERRER}


def program(place: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROGRAM), *arguments],
        env=empty_environment(place),
        cwd=place,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def test_version(place: Path) -> None:
    result = program(place, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "captorra-import, version 0.1.0\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_starts(place: Path, command: str) -> None:
    result = program(place, command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: captorra-import {command} ")


def test_validate_a_sample(place: Path) -> None:
    result = program(place, "validate", "lakeside_leads.csv", "--mapping", "lakeside.yaml")
    assert result.returncode == 1, result.stderr  # the sample has invalid rows on purpose
    assert "Traceback" not in result.stderr
    rows = read_sheet(place / "lakeside_leads.results.xlsx")
    assert {row["Status"] for row in rows} == {"valid", "invalid", "duplicate"}


def test_run_to_the_sandbox_then_history(place: Path) -> None:
    arguments = ("lakeside_leads.csv", "--mapping", "lakeside.yaml", "--sandbox")
    result = program(place, "run", *arguments, "--journal", "journal.sqlite3")
    assert result.returncode == 1, result.stderr
    rows = read_sheet(place / "lakeside_leads.results.xlsx")
    assert sum(row["Status"] == "posted" for row in rows) == 53
    history = program(place, "history", "--journal", "journal.sqlite3")
    assert history.returncode == 0, history.stderr
    assert "lakeside_leads.csv" in history.stdout


def test_ui_answers_its_page(place: Path) -> None:
    command = [str(PROGRAM), "ui", "--no-browser", "--port", "0", "--sandbox"]
    fetch_the_page(command, env=empty_environment(place), cwd=place)


def test_started_without_arguments_it_serves_the_page(place: Path) -> None:
    """A double-click: the page on a free port, mappings in the user's settings folder."""
    fetch_the_page([str(PROGRAM)], env=empty_environment(place), cwd=place)
