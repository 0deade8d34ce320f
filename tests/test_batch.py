"""The nightly job: an inbox of several vendors' files, locking, archiving, re-runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from importer.batch import (
    HOLDER_NAME,
    LOCK_NAME,
    BatchJob,
    inbox_lock,
    run_batch,
    summary_document,
)
from importer.cli import cli
from importer.errors import ExitCode, LockedError, MappingError
from importer.posting import PostSettings
from importer.sandbox import SandboxConfig, running_server
from tests.leads import AUTO_TYPE, MAPPING, lead_rows, read_sheet, write_csv

OTHER_HEADER = ("Lead #", "Full Name", "Cell Phone", "Email Address")
OTHER_MAPPING = """\
version: 1
match: {filename: "lakeside_*.csv", headers: ["Lead #", "Cell Phone"]}
fields:
  CaptorraId: {value: "${CAPTORRA_ID}"}
  Referrer: {value: "123e4567-e89b-12d3-a456-426655440000"}
  First: {column: Full Name, transform: first_name}
  Last: {column: Full Name, transform: last_name}
  Primary: {column: Cell Phone, transform: phone}
  Email: {column: Email Address, transform: email}
  ID: "Lead #"
"""


def old(path: Path) -> Path:
    """Make a file look as if it finished arriving an hour ago."""
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    return path


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "acme.yaml").write_text(
        MAPPING.replace("version: 1\n", 'version: 1\nmatch: {filename: "acme_*.csv"}\n')
    )
    (folder / "lakeside.yaml").write_text(OTHER_MAPPING)
    return folder


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    old(write_csv(folder / "acme_0401.csv", lead_rows(5)))
    lakeside = [
        (f"K{n}", f"Smith{n}, Ann", f"267555{n:04d}", f"ann{n}@x.example") for n in range(3)
    ]
    old(write_csv(folder / "lakeside_0401.csv", lakeside, header=OTHER_HEADER))
    (folder / "acme_broken.csv").write_bytes(b"")
    old(folder / "acme_broken.csv")
    return folder


def batch_job(inbox: Path, profiles: Path, tmp_path: Path, **options: object) -> BatchJob:
    return BatchJob(
        inbox=inbox,
        mappings_dir=profiles,
        post=PostSettings(endpoint="unused"),
        journal=tmp_path / "journal.sqlite3",
        sandbox=True,
        **options,  # type: ignore[arg-type]
    )


def test_an_inbox_of_two_vendors_and_a_broken_file(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    outcomes = {file.name: (file.outcome, file.exit_code) for file in report.files}
    assert outcomes == {
        "acme_0401.csv": ("archived", ExitCode.OK),
        "lakeside_0401.csv": ("archived", ExitCode.OK),
        "acme_broken.csv": ("rejected", ExitCode.STOPPED),
    }
    assert report.exit_code == ExitCode.STOPPED
    today = inbox / "archive" / date.today().isoformat()
    assert sorted(path.name for path in today.iterdir()) == ["acme_0401.csv", "lakeside_0401.csv"]
    assert sorted(path.name for path in (inbox / "results").iterdir()) == [
        "acme_0401.results.xlsx",
        "lakeside_0401.results.xlsx",
    ]
    lakeside = read_sheet(inbox / "results" / "lakeside_0401.results.xlsx")
    assert {row["Status"] for row in lakeside} == {"posted"}
    assert (inbox / "rejected" / "acme_broken.csv").exists()
    assert (inbox / "rejected" / "acme_broken.csv.error.txt").read_text() == (
        f"acme_broken.csv was not imported:\n\n{inbox / 'acme_broken.csv'}: the file is empty; "
        "export the leads again\n\nFix the file or the mapping profiles, then move the file "
        "back into the inbox.\n"
    )
    assert sorted(path.name for path in inbox.iterdir() if path.is_file()) == [
        HOLDER_NAME,
        LOCK_NAME,
    ]


def test_a_file_still_being_written_is_left_for_the_next_run(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    fresh = write_csv(inbox / "acme_0402.csv", lead_rows(2, start=50))
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    assert {file.name: file.outcome for file in report.files}["acme_0402.csv"] == "waiting"
    assert fresh.exists()
    old(fresh)
    again = run_batch(batch_job(inbox, profiles, tmp_path))
    assert [(file.name, file.outcome) for file in again.files] == [("acme_0402.csv", "archived")]


def test_a_rerun_over_the_same_files_sends_nothing_twice(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    run_batch(batch_job(inbox, profiles, tmp_path))
    archived = inbox / "archive" / date.today().isoformat() / "acme_0401.csv"
    old(Path(shutil.copy2(archived, inbox)))  # the vendor delivers the same file again
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    (file,) = report.files
    assert file.counts == {"already_posted": 5}
    assert file.moved_to == archived.with_name("acme_0401 (2).csv")  # never overwritten
    assert file.results == inbox / "results" / "acme_0401 (2).results.xlsx"


def test_rows_that_failed_for_now_keep_the_file_in_the_inbox(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    (inbox / "lakeside_0401.csv").unlink()
    (inbox / "acme_broken.csv").unlink()
    with running_server(SandboxConfig(fault_rate=1.0, retry_after=0.0)) as (url, _):
        job = BatchJob(
            inbox=inbox,
            mappings_dir=profiles,
            journal=tmp_path / "j.sqlite3",
            post=PostSettings(endpoint=url, retries=0, breaker_after=3, timeout=0.5),
        )
        report = run_batch(job)
    (file,) = report.files
    assert (file.outcome, file.exit_code) == ("retry", ExitCode.RETRY_LATER)
    assert (inbox / "acme_0401.csv").exists()


def test_no_or_several_matching_profiles_reject_the_file_with_reasons(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    (inbox / "lakeside_0401.csv").unlink()
    (inbox / "acme_broken.csv").unlink()
    old(write_csv(inbox / "unknown_vendor.csv", lead_rows(1)))
    (profiles / "acme-copy.yaml").write_text((profiles / "acme.yaml").read_text())
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    errors = {file.name: file.error for file in report.files}
    assert errors["acme_0401.csv"] == (
        f"{inbox / 'acme_0401.csv'}: matches several mapping profiles (acme-copy.yaml, "
        "acme.yaml); make their `match:` rules narrower so that one fits"
    )
    assert errors["unknown_vendor.csv"] == (
        f"{inbox / 'unknown_vendor.csv'}: no mapping profile matches it (acme-copy.yaml: file "
        "name is not like 'acme_*.csv'; acme.yaml: file name is not like 'acme_*.csv'; "
        "lakeside.yaml: file name is not like 'lakeside_*.csv')"
    )


def test_a_vendor_who_renamed_columns_is_told_which(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    renamed = ("Lead #", "Full Name", "Mobile", "Email Address")
    rows = [("K9", "Ann Lee", "2675550000", "a@x.example")]
    old(write_csv(inbox / "lakeside_0402.csv", rows, header=renamed))
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    errors = {file.name: file.error for file in report.files}
    assert errors["lakeside_0402.csv"] == (
        f"{inbox / 'lakeside_0402.csv'}: looks like a file for lakeside.yaml but lacks its "
        "headers 'Cell Phone'; new headers: 'Mobile'. The vendor changed their file: update "
        "the mapping"
    )


def test_a_second_run_is_locked_out_naming_the_holder(tmp_path: Path) -> None:
    with inbox_lock(tmp_path), pytest.raises(LockedError) as raised, inbox_lock(tmp_path):
        pass
    assert str(raised.value).startswith(
        f"{tmp_path}: another import is running (pid {os.getpid()}, "
    )
    assert raised.value.exit_code == ExitCode.LOCKED


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from importer.batch import inbox_lock\n"
        f"with inbox_lock(__import__('pathlib').Path({str(tmp_path)!r})):\n"
        "    os._exit(9)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 9
    assert (tmp_path / HOLDER_NAME).read_text().startswith("pid ")  # stale content left behind
    with inbox_lock(tmp_path):
        assert (tmp_path / HOLDER_NAME).read_text().startswith(f"pid {os.getpid()}, ")


def test_overlapping_cli_runs_exit_4(inbox: Path, profiles: Path, tmp_path: Path) -> None:
    with inbox_lock(inbox):
        result = CliRunner().invoke(
            cli, ["batch", str(inbox), "--mappings-dir", str(profiles), "--sandbox"]
        )
    assert result.exit_code == 4
    assert "another import is running (pid" in result.output


def test_cli_batch_logs_json_lines_and_writes_a_summary(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    log_file = tmp_path / "batch.log"
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            str(inbox),
            "--mappings-dir",
            str(profiles),
            "--sandbox",
            "--journal",
            str(tmp_path / "j.sqlite3"),
            "--log-format",
            "json",
            "--log-file",
            str(log_file),
            "--summary-json",
            str(summary),
        ],
    )
    assert result.exit_code == 2
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    files = [line for line in lines if line.get("event") == "file"]
    assert {line["file"]: line["exit_code"] for line in files} == {
        "acme_0401.csv": 0,
        "lakeside_0401.csv": 0,
        "acme_broken.csv": 2,
    }
    (run,) = [line for line in lines if line.get("event") == "run"]
    assert run["counts"] == {"posted": 8}
    assert run["exit_code"] == 2
    document = json.loads(summary.read_text())
    assert [file["outcome"] for file in document["files"]] == ["archived", "archived", "rejected"]
    log_text = log_file.read_text()
    assert "Smith0" not in log_text
    assert "ann0@x.example" not in log_text


def test_a_mappings_folder_without_match_rules_is_refused(inbox: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "m.yaml").write_text(MAPPING)
    with pytest.raises(MappingError, match="no mapping there has a `match:` rule"):
        run_batch(batch_job(inbox, folder, tmp_path))
    assert (inbox / "acme_0401.csv").exists()


def test_quiet_silences_the_screen_but_not_the_log_file(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    log_file = tmp_path / "nightly.log"
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            str(inbox),
            "--mappings-dir",
            str(profiles),
            "--sandbox",
            "--quiet",
            "--journal",
            str(tmp_path / "j.sqlite3"),
            "--log-file",
            str(log_file),
        ],
    )
    assert result.exit_code == 2
    assert result.output == ""
    lines = log_file.read_text().splitlines()
    assert any("acme_0401.csv: archived, exit 0 (posted 5)" in line for line in lines)
    assert any(" INFO batch " in line and "exit 2" in line for line in lines)


def test_a_file_that_cannot_be_moved_stays_in_the_inbox_and_moves_next_time(
    inbox: Path, profiles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses to move a file open in Excel: the run neither fails nor loses it."""
    real_move = shutil.move

    def open_in_excel(source: str | Path, destination: str | Path) -> object:
        if Path(source).name == "acme_0401.csv":
            Path(destination).write_bytes(b"partial copy")  # shutil copies, then cannot delete
            raise PermissionError(13, "The process cannot access the file", str(source))
        return real_move(source, destination)

    monkeypatch.setattr(shutil, "move", open_in_excel)
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    acme = {file.name: file for file in report.files}["acme_0401.csv"]
    assert (acme.outcome, acme.exit_code, acme.moved_to) == ("archived", ExitCode.OK, None)
    archive = inbox / "archive" / date.today().isoformat()
    assert acme.error == (
        f"could not be moved to {archive} (The process cannot access the file: open in "
        "another program?); left in the inbox, the next run moves it"
    )
    assert (inbox / "acme_0401.csv").exists()
    assert not (archive / "acme_0401.csv").exists()  # no half copy beside the original
    assert acme.results is not None
    assert acme.results.exists()

    monkeypatch.setattr(shutil, "move", real_move)  # Excel closed
    again = {file.name: file for file in run_batch(batch_job(inbox, profiles, tmp_path)).files}
    assert again["acme_0401.csv"].counts == {"already_posted": 5}
    assert again["acme_0401.csv"].moved_to == archive / "acme_0401.csv"


def test_a_rejected_file_that_cannot_be_moved_is_still_explained(
    inbox: Path, profiles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(source: str | Path, destination: str | Path) -> object:
        raise PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr(shutil, "move", locked)
    report = run_batch(batch_job(inbox, profiles, tmp_path))
    broken = {file.name: file for file in report.files}["acme_broken.csv"]
    assert (broken.outcome, broken.exit_code, broken.moved_to) == (
        "rejected",
        ExitCode.STOPPED,
        None,
    )
    assert broken.error.endswith(
        "the file is empty; export the leads again; could not be moved to "
        f"{inbox / 'rejected'} (Permission denied: open in another program?); left in the "
        "inbox, the next run moves it"
    )
    assert (inbox / "acme_broken.csv").exists()
    assert (
        (inbox / "rejected" / "acme_broken.csv.error.txt")
        .read_text(encoding="utf-8")
        .startswith("acme_broken.csv was not imported:")
    )


def test_a_misconfigured_endpoint_stops_the_whole_batch_and_leaves_the_files(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    (inbox / "acme_broken.csv").unlink()
    with running_server(SandboxConfig(status=404)) as (url, sandbox):
        job = BatchJob(
            inbox=inbox,
            mappings_dir=profiles,
            journal=tmp_path / "j.sqlite3",
            post=PostSettings(endpoint=url, concurrency=2),
        )
        report = run_batch(job)
        requests = sandbox.requests
    assert requests == 2  # the two in flight when the first 404 came
    (file,) = report.files  # the batch stopped: lakeside was not even tried
    assert (file.name, file.outcome, file.exit_code) == (
        "acme_0401.csv",
        "stopped",
        ExitCode.STOPPED,
    )
    assert file.error.startswith(f"{url} answered 404 Not Found: is the endpoint URL right?")
    assert report.exit_code == ExitCode.STOPPED
    assert (inbox / "acme_0401.csv").exists()
    assert (inbox / "lakeside_0401.csv").exists()
    assert not (inbox / "rejected").exists()


def test_a_file_whose_every_lead_is_refused_alike_is_rejected_and_the_others_go_ahead(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    (inbox / "acme_broken.csv").unlink()
    # The acme profile's Type GUID does not exist in this organization; lakeside sends no Type.
    config = SandboxConfig(types=frozenset({"99999999-9999-4999-8999-999999999999"}))
    with running_server(config) as (url, sandbox):
        job = BatchJob(
            inbox=inbox,
            mappings_dir=profiles,
            journal=tmp_path / "j.sqlite3",
            post=PostSettings(endpoint=url, concurrency=1, stop_after_same_rejection=3),
        )
        report = run_batch(job)
        intakes = len(sandbox.intakes)
    outcomes = {file.name: (file.outcome, file.exit_code) for file in report.files}
    assert outcomes == {
        "acme_0401.csv": ("rejected", ExitCode.STOPPED),
        "lakeside_0401.csv": ("archived", ExitCode.OK),
    }
    assert intakes == 3
    error = (inbox / "rejected" / "acme_0401.csv.error.txt").read_text()
    assert error.startswith(
        "acme_0401.csv was not imported:\n\nevery lead was refused with "
        "'Referrer/Type GUID does not exist.' (3 in a row, none created): the Referrer GUID "
        "(CAPTORRA_REFERRER) or the Type lookup of the mapping is likely wrong"
    )
    rows = read_sheet(inbox / "results" / "acme_0401.results.xlsx")
    assert [row["Status"] for row in rows] == ["rejected"] * 3 + ["failed"] * 2
    acme = next(file for file in report.files if file.name == "acme_0401.csv")
    assert acme.rejections == [
        {"error": "Referrer/Type GUID does not exist.", "type": AUTO_TYPE, "rows": 3}
    ]


def test_cli_batch_says_why_it_stopped_even_with_quiet(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    (inbox / "acme_broken.csv").unlink()
    with running_server(SandboxConfig(redirect="https://sso.example.test/login")) as (url, _):
        result = CliRunner().invoke(
            cli,
            [
                *("batch", str(inbox), "--mappings-dir", str(profiles), "--endpoint", url),
                *("--journal", str(tmp_path / "j.sqlite3"), "--quiet"),
            ],
        )
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "acme_0401.csv: stopped, exit 2" in line
    assert f"{url} answered 302 Found, redirecting to https://sso.example.test/login" in line
    assert (inbox / "acme_0401.csv").exists()
    assert (inbox / "lakeside_0401.csv").exists()


def test_batch_returns_writes_the_night_s_returns_report(
    inbox: Path, profiles: Path, tmp_path: Path
) -> None:
    # Lakeside resells acme's first lead: same phone, its own lead number.
    resold = [("K9", "Last1, First1", "(215) 555-0001", "someone@x.example")]
    old(write_csv(inbox / "lakeside_0402.csv", resold, header=OTHER_HEADER))
    report = run_batch(batch_job(inbox, profiles, tmp_path, returns=True))
    assert report.returns == tmp_path / "inbox" / "results" / f"returns {date.today()}.xlsx"
    workbook = openpyxl.load_workbook(report.returns, read_only=True)
    try:
        summary = list(workbook["Summary"].iter_rows(values_only=True))
        returned = list(workbook["lakeside"].iter_rows(values_only=True))
    finally:
        workbook.close()
    assert [row[:5] for row in summary[1:]] == [("acme", 1, 5, 5, 0), ("lakeside", 2, 4, 3, 1)]
    assert returned[1][:2] == ("K9", "duplicate")
    assert str(returned[1][2]).startswith("same phone as a lead posted on ")
    assert " from acme (IntakeID " in str(returned[1][2])
    assert summary_document(report)["returns"] == str(report.returns)
