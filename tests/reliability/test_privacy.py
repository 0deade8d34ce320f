"""Leads are personal data: logs and the journal carry none of it unless asked to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, running_server
from tests.leads import MAPPING, lead_rows, write_csv

ROWS = lead_rows(40)
# What a leak would look like: every name, email and phone of the fixture.
PERSONAL = sorted({value for row in ROWS for value in row[1:5]} | {"2155550007"})


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    leads = write_csv(tmp_path / "leads.csv", ROWS)
    env = {**os.environ, "CAPTORRA_ID": "123456"}
    return mapping, leads, env


def run_logged(
    tmp_path: Path, setup: tuple[Path, Path, dict[str, str]], *extra: str
) -> subprocess.CompletedProcess[str]:
    mapping, leads, env = setup
    config = SandboxConfig(fault_rate=0.3, retry_after=0.0, slow_seconds=0.4, seed=5)
    with running_server(config) as (url, _):
        return subprocess.run(
            [sys.executable, "-m", "importer", "run", str(leads), "-m", str(mapping),
             "--endpoint", url, "--journal", str(tmp_path / "j.sqlite3"), "--timeout", "0.2",
             "--retries", "8", "-o", str(tmp_path / "out.xlsx"), *extra],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip


def test_logs_and_journal_hold_no_personal_data(
    tmp_path: Path, setup: tuple[Path, Path, dict[str, str]]
) -> None:
    done = run_logged(tmp_path, setup)
    assert done.returncode == 0, done.stderr
    assert "attempt 1: " in done.stderr  # the faults were logged, by row number
    journal = b"".join(path.read_bytes() for path in tmp_path.glob("j.sqlite3*"))
    for value in PERSONAL:
        assert value not in done.stderr
        assert value not in done.stdout
        assert value.encode() not in journal


def test_payload_logging_is_opt_in_and_says_so(
    tmp_path: Path, setup: tuple[Path, Path, dict[str, str]]
) -> None:
    done = run_logged(tmp_path, setup, "--log-payloads")
    assert done.returncode == 0, done.stderr
    assert "--log-payloads: the log now contains personal data" in done.stderr
    assert "lead7@mail.example" in done.stderr
