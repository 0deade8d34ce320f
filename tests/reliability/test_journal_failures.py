"""A journal that cannot be written stops sending: nothing is posted unrecorded."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.errors import JournalError
from importer.journal import Journal
from importer.pipeline import ImportJob, import_files
from importer.posting import PostSettings
from importer.sandbox import SANDBOX_PATH, Sandbox, SandboxConfig, running_server
from tests.leads import MAPPING, lead_rows, read_sheet, write_csv


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 160 KiB file system: a journal on it fills up after a few dozen leads."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the patched-write "
            "test covers the same promise"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def recorded_attempts(journal: Path) -> int:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM leads WHERE attempts > 0").fetchone()
    return int(count)


def test_a_full_disk_stops_the_run_with_exit_2_and_nothing_unrecorded(
    tiny_disk: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    leads = write_csv(tmp_path / "leads.csv", lead_rows(2000))
    journal = tiny_disk / "journal.sqlite3"
    out = tmp_path / "out.xlsx"
    with running_server(SandboxConfig()) as (url, sandbox):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "importer",
                "run",
                str(leads),
                "-m",
                str(mapping),
                "--endpoint",
                url,
                "--journal",
                str(journal),
                "-o",
                str(out),
            ],
            env={**os.environ, "CAPTORRA_ID": "123456"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        created = len(sandbox.intakes)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: journal {journal} cannot be written (database or disk is full); nothing more "
        "is sent. Free disk space or fix permissions, then re-run"
    )
    assert 0 < created < 2000
    assert created <= recorded_attempts(journal)
    statuses = {row["Status"] for row in read_sheet(out)}
    assert statuses == {"posted", "failed"}


def test_a_failing_journal_write_sends_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    leads = write_csv(tmp_path / "leads.csv", lead_rows(300))
    allowed = 40
    recorded: list[int] = []
    real_attempting = Journal.attempting

    def attempting(self: Journal, lead: object) -> None:
        if len(recorded) >= allowed:
            raise JournalError("journal x cannot be written (disk I/O error)")
        recorded.append(1)
        real_attempting(self, lead)  # type: ignore[arg-type]

    monkeypatch.setattr(Journal, "attempting", attempting)
    sandbox = Sandbox()
    out = tmp_path / "out.xlsx"
    job = ImportJob(
        inputs=(leads,),
        mapping=mapping,
        output=out,
        journal=tmp_path / "j.sqlite3",
        post=PostSettings(endpoint=f"http://127.0.0.1:9{SANDBOX_PATH}", concurrency=4),
    )
    with pytest.raises(JournalError, match="disk I/O error"):
        import_files(job, transport=sandbox.transport())
    assert len(sandbox.intakes) == allowed  # every request sent was recorded first
    rows = read_sheet(out)  # the results still say what was and was not sent
    assert sum(row["Status"] == "posted" for row in rows) == allowed
    not_sent = [row for row in rows if row["Status"] == "failed"]
    assert len(not_sent) == 300 - allowed
    assert {str(row["Error"]).split(";")[0] for row in not_sent} <= {
        "not sent: the journal cannot be written",
    }
