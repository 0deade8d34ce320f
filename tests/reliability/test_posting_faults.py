"""The promises under fire, against the sandbox server on 127.0.0.1 (real sockets).

Each test checks the results workbook against the sandbox's own record of the
intakes it created: every valid lead is created, a lead is created twice only
after an unanswered attempt, and every such repeat is flagged in Warnings.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from importer.pipeline import ImportJob, import_files
from importer.posting import RESENT_WARNING, PostSettings
from importer.sandbox import Fault, Sandbox, SandboxConfig, running_server
from tests.leads import MAPPING, lead_rows, read_sheet, write_csv


def created(sandbox: Sandbox) -> Counter[str]:
    """How many intakes the sandbox created per lead ID."""
    return Counter(str(payload["ID"]) for _, payload in sandbox.intakes)


def run_command(leads: Path, mapping: Path, url: str, *options: str | Path) -> list[str]:
    """`captorra-import run LEADS -m MAPPING --endpoint URL OPTIONS...` as a subprocess."""
    arguments = ("run", leads, "-m", mapping, "--endpoint", url, *options)
    return [sys.executable, "-m", "importer", *map(str, arguments)]


def run_at_once(
    commands: list[list[str]], environment: dict[str, str], *, timeout: float
) -> tuple[set[int], list[str]]:
    """Start every command together; their exit codes and what each printed on stderr."""
    runs = [
        subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    errors = [run.communicate(timeout=timeout)[1] for run in runs]
    return {run.returncode for run in runs}, errors


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


@pytest.fixture
def environment() -> dict[str, str]:
    return {**os.environ, "CAPTORRA_ID": "123456", "PYTHONUNBUFFERED": "1"}


def assert_repeats_flagged(rows: list[dict[str, str | int | None]], counts: Counter[str]) -> None:
    for row in rows:
        times = counts[str(row["Lead ID"])]
        if times > 1:
            assert RESENT_WARNING in str(row["Warnings"]), row


@pytest.mark.parametrize(
    "count", [200, pytest.param(2000, marks=pytest.mark.slow)], ids=["200-rows", "2000-rows"]
)
def test_faults_still_post_every_lead_and_flag_every_repeat(
    mapping: Path, tmp_path: Path, count: int
) -> None:
    config = SandboxConfig(fault_rate=0.2, retry_after=0.05, slow_seconds=2.0, seed=7)
    leads = write_csv(tmp_path / "leads.csv", lead_rows(count))
    out = tmp_path / "out.xlsx"
    with running_server(config) as (url, sandbox):
        settings = PostSettings(
            endpoint=url,
            concurrency=16,
            timeout=0.5,
            retries=10,
            backoff_base=0.01,
            backoff_cap=0.1,
            breaker_after=200,
        )
        job = ImportJob(
            inputs=(leads,),
            mapping=mapping,
            output=out,
            post=settings,
            journal=tmp_path / "j.sqlite3",
        )
        report = import_files(job)
        counts = created(sandbox)
    rows = read_sheet(out)
    assert report.exit_code == 0
    assert {row["Status"] for row in rows} == {"posted"}
    assert set(counts) == {str(row["Lead ID"]) for row in rows}  # every lead created
    assert_repeats_flagged(rows, counts)
    # The faults did happen: some leads were retried, some repeats were flagged.
    assert sum(counts.values()) > len(rows)
    assert any(RESENT_WARNING in str(row["Warnings"]) for row in rows)


def test_retry_after_is_honoured_on_503(mapping: Path, tmp_path: Path) -> None:
    config = SandboxConfig(fault_rate=0.5, faults=(Fault.UNAVAILABLE,), retry_after=0.3, seed=3)
    leads = write_csv(tmp_path / "leads.csv", lead_rows(6))
    with running_server(config) as (url, sandbox):
        settings = PostSettings(endpoint=url, concurrency=1, backoff_base=0.0, backoff_cap=0.0)
        job = ImportJob(inputs=(leads,), mapping=mapping, output=tmp_path / "o.xlsx", post=settings)
        started = time.monotonic()
        report = import_files(job)
        elapsed = time.monotonic() - started
        counts = created(sandbox)
    assert report.exit_code == 0
    assert set(counts.values()) == {1}  # a 503 creates nothing: no repeats
    # With no backoff of its own, only Retry-After can account for the waiting.
    assert elapsed >= 0.3


def test_circuit_breaker_stops_and_exits_3(
    mapping: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    config = SandboxConfig(fault_rate=1.0, faults=(Fault.UNAVAILABLE,), retry_after=0.0)
    leads = write_csv(tmp_path / "leads.csv", lead_rows(50))
    out = tmp_path / "out.xlsx"
    with running_server(config) as (url, _):
        done = subprocess.run(
            run_command(
                leads,
                mapping,
                url,
                "-o",
                out,
                "--journal",
                tmp_path / "j.sqlite3",
                "--concurrency",
                "2",
            ),
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    rows = read_sheet(out)
    assert {row["Status"] for row in rows} == {"failed"}
    not_sent = [
        row for row in rows if str(row["Error"]).startswith("not sent: endpoint unavailable")
    ]
    assert len(not_sent) >= 40
    assert "exit code 3: some rows failed for now: re-run the same command" in done.stdout


def test_ctrl_c_lets_requests_finish_writes_results_and_exits_130(
    mapping: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    leads = write_csv(tmp_path / "leads.csv", lead_rows(400))
    out = tmp_path / "out.xlsx"
    with running_server(SandboxConfig(latency=0.05)) as (url, sandbox):
        process = subprocess.Popen(
            run_command(
                leads,
                mapping,
                url,
                "-o",
                out,
                "--journal",
                tmp_path / "j.sqlite3",
                "--concurrency",
                "2",
            ),
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: len(sandbox.intakes) >= 10)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        counts = created(sandbox)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    rows = read_sheet(out)
    posted = [row for row in rows if row["Status"] == "posted"]
    stopped = [row for row in rows if row["Status"] == "failed"]
    assert len(posted) + len(stopped) == 400
    assert {str(row["Lead ID"]) for row in posted} == set(counts)  # nothing sent unrecorded
    assert stopped
    assert {row["Error"] for row in stopped} == {"not sent: interrupted (Ctrl-C); re-run to send"}
    assert "exit code 130: interrupted" in stdout


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def crash_and_recover(
    mapping: Path, tmp_path: Path, environment: dict[str, str], *, seed: int, rows: int
) -> None:
    """Kill a run at a random moment, re-run it, then run it a third time."""
    leads = write_csv(tmp_path / "leads.csv", lead_rows(rows))
    journal = tmp_path / "j.sqlite3"
    concurrency = 8
    with running_server(SandboxConfig(latency=0.03)) as (url, sandbox):
        args = ("--journal", journal, "--concurrency", str(concurrency))
        process = subprocess.Popen(
            run_command(leads, mapping, url, *args, "-o", tmp_path / "first.xlsx"),
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = random.Random(seed).randint(1, rows - concurrency)
        wait_for(lambda: len(sandbox.intakes) >= target)
        process.kill()  # SIGKILL: no chance to record anything more
        process.wait()
        second = subprocess.run(
            run_command(leads, mapping, url, *args, "-o", tmp_path / "second.xlsx"),
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        counts = created(sandbox)
        third = subprocess.run(
            run_command(leads, mapping, url, *args, "-o", tmp_path / "third.xlsx"),
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created(sandbox) == counts  # the third run sent nothing
    assert second.returncode == 0, second.stderr
    assert third.returncode == 0, third.stderr
    second_rows = read_sheet(tmp_path / "second.xlsx")
    assert set(counts) == {f"L{n:05d}" for n in range(1, rows + 1)}  # nothing lost
    repeats = [lead for lead, times in counts.items() if times > 1]
    assert len(repeats) <= concurrency
    assert all(times <= 2 for times in counts.values())
    assert_repeats_flagged(second_rows, counts)
    third_rows = read_sheet(tmp_path / "third.xlsx")
    assert {row["Status"] for row in third_rows} == {"already_posted"}
    by_lead = {row["Lead ID"]: row["IntakeID"] for row in third_rows}
    assert all(by_lead.values())
    assert {row["Status"] for row in second_rows} <= {"posted", "already_posted"}


def test_sigkill_then_rerun_loses_nothing_and_flags_repeats(
    mapping: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    crash_and_recover(mapping, tmp_path, environment, seed=1, rows=150)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 7))
def test_sigkill_at_random_points(
    mapping: Path, tmp_path: Path, environment: dict[str, str], seed: int
) -> None:
    crash_and_recover(mapping, tmp_path, environment, seed=seed, rows=300)


def test_two_runs_of_one_file_at_once_create_each_lead_once(
    mapping: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    leads = write_csv(tmp_path / "leads.csv", lead_rows(120))
    journal = tmp_path / "j.sqlite3"
    with running_server(SandboxConfig(latency=0.02)) as (url, sandbox):
        commands = [
            run_command(leads, mapping, url, "--journal", journal, "-o", tmp_path / f"run{n}.xlsx")
            for n in (1, 2)
        ]
        codes, errors = run_at_once(commands, environment, timeout=120)
        counts = created(sandbox)
    assert codes <= {0, 3}, errors
    assert set(counts.values()) == {1}
    assert len(counts) == 120


def test_a_rejection_travels_end_to_end_verbatim_and_is_not_retried(
    mapping: Path, tmp_path: Path
) -> None:
    # Only another case type exists in this organization: every lead's Type is unknown.
    config = SandboxConfig(types=frozenset({"0b2d3c4e-0000-4000-8000-000000000002"}))
    leads = write_csv(tmp_path / "leads.csv", lead_rows(3))
    out = tmp_path / "out.xlsx"
    with running_server(config) as (url, sandbox):
        job = ImportJob(
            inputs=(leads,),
            mapping=mapping,
            output=out,
            post=PostSettings(endpoint=url),
            journal=tmp_path / "j.sqlite3",
        )
        report = import_files(job)
    assert report.exit_code == 1
    rows = read_sheet(out)
    assert {row["Status"] for row in rows} == {"rejected"}
    assert {row["Error"] for row in rows} == {"Referrer/Type GUID does not exist."}
    assert sandbox.intakes == []
    with sqlite3.connect(tmp_path / "j.sqlite3") as db:
        attempts = [n for (n,) in db.execute("SELECT attempts FROM leads")]
    assert attempts == [1, 1, 1]  # a business rejection is never retried


def test_a_second_ctrl_c_stops_at_once_with_exit_130(
    mapping: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    leads = write_csv(tmp_path / "leads.csv", lead_rows(200))
    with running_server(SandboxConfig(latency=2.0)) as (url, _):
        process = subprocess.Popen(
            run_command(
                leads,
                mapping,
                url,
                "-o",
                tmp_path / "out.xlsx",
                "--journal",
                tmp_path / "j.sqlite3",
            ),
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: (tmp_path / "j.sqlite3").exists() and recorded_sending(tmp_path))
        process.send_signal(signal.SIGINT)  # stop starting requests; those in flight take 2 s
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)  # and now stop at once
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted before the results were written"


def recorded_sending(tmp_path: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{tmp_path / 'j.sqlite3'}?mode=ro", uri=True) as db:
            return bool(db.execute("SELECT COUNT(*) FROM leads WHERE attempts > 0").fetchone()[0])
    except sqlite3.Error:
        return False
