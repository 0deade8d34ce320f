"""The command line as a user runs it: exit codes, exact messages, results workbooks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.pipeline import ImportJob, import_files
from importer.posting import PostSettings
from importer.sandbox import SANDBOX_PATH, Sandbox
from tests.leads import (
    AUTO_TYPE,
    CAPTORRA_ID,
    REFERRER,
    lead_rows,
    read_sheet,
    read_summary,
    write_csv,
)

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def invoke(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args], input=input)


@pytest.fixture
def leads(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "leads.csv", lead_rows(5))


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    rows = lead_rows(4)
    rows[1] = ("L00002", "", "Last2", "2155550002", "x@mail.example", "Xyz", "Dog Bite")
    rows.append(rows[2])  # a vendor re-send: same Lead ID
    return write_csv(tmp_path / "messy.csv", rows)


# ---------------------------------------------------------------- validate


def test_validate_all_valid_exits_0_and_writes_results_beside_the_input(
    leads: Path, mapping_file: Path
) -> None:
    result = invoke("validate", leads, "--mapping", mapping_file)
    assert result.exit_code == 0, result.output
    workbook = leads.with_name("leads.results.xlsx")
    rows = read_sheet(workbook)
    assert [row["Status"] for row in rows] == ["valid"] * 5
    assert [row["Source Row"] for row in rows] == [2, 3, 4, 5, 6]
    assert rows[0]["Phone"] == "(215) 555-0001"  # the input as read
    assert read_summary(workbook)["Endpoint"] == "validate only"
    assert "exit code 0: all done" in result.output


def test_results_open_in_excel_go_beside_them_and_the_summary_says_so(
    leads: Path, mapping_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows a workbook open in Excel can be neither written nor replaced."""
    target = leads.with_name("leads.results.xlsx")
    target.write_bytes(b"the workbook Excel has open")
    summary_json = tmp_path / "summary.json"
    real_open = os.open

    def sharing_violation(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == target and flags & os.O_WRONLY:
            raise PermissionError(13, "The process cannot access the file")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", sharing_violation)
    result = invoke("validate", leads, "--mapping", mapping_file, "--summary-json", summary_json)
    assert result.exit_code == 0, result.output
    moved = leads.with_name("leads (2).results.xlsx")
    note = (
        "leads.results.xlsx is open in another program (Excel?); "
        "these results are in leads (2).results.xlsx"
    )
    assert f"Results: {moved}\nNote: {note}\n" in result.output
    assert target.read_bytes() == b"the workbook Excel has open"
    assert [row["Status"] for row in read_sheet(moved)] == ["valid"] * 5
    assert read_summary(moved)["Note"] == note
    document = json.loads(summary_json.read_text(encoding="utf-8"))
    assert document["files"][0]["results"] == str(moved)
    assert document["files"][0]["results_note"] == note


def test_validate_reports_every_problem_of_a_row_and_duplicates(
    messy: Path, mapping_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    result = invoke("validate", messy, "--mapping", mapping_file, "--output", out)
    assert result.exit_code == 1
    rows = read_sheet(out)
    assert [row["Status"] for row in rows] == ["valid", "invalid", "valid", "valid", "duplicate"]
    assert rows[1]["Error"] == (
        'First: required; State: "Xyz" is not a US state or territory; '
        'Type: "Dog Bite" is not in the lookup'
    )
    assert rows[4]["Error"] == "same lead as row 4 (same CaptorraId, ID); not sent"
    assert "exit code 1: some rows need a person" in result.output


def test_validate_csv_output_has_the_same_columns(
    messy: Path, mapping_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    assert invoke("validate", messy, "-m", mapping_file, "-o", out).exit_code == 1
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == (
        "Lead ID,First Name,Last Name,Phone,E-mail,State,Case Type,"
        "Source Row,Status,IntakeID,Error,Warnings"
    )


def test_summary_json_lists_counts_and_exit_code(
    messy: Path, mapping_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "summary.json"
    invoke("validate", messy, "-m", mapping_file, "--summary-json", report, "--quiet")
    document = json.loads(report.read_text())
    assert document["exit_code"] == 1
    assert document["endpoint"] == "validate only"
    (file,) = document["files"]
    assert file["counts"]["valid"] == 3
    assert file["counts"]["invalid"] == 1
    assert file["counts"]["duplicate"] == 1
    assert file["rows"] == 5
    assert file["results"] == str(messy.with_name("messy.results.xlsx"))


def test_quiet_prints_nothing_on_success(leads: Path, mapping_file: Path) -> None:
    result = invoke("validate", leads, "-m", mapping_file, "--quiet")
    assert result.exit_code == 0
    assert result.output == ""


# ---------------------------------------------------------------- run


def test_run_posts_to_the_sandbox_then_a_rerun_sends_nothing(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    out = tmp_path / "out.xlsx"
    first = invoke("run", leads, "-m", mapping_file, "--sandbox", "--journal", journal, "-o", out)
    assert first.exit_code == 0, first.output
    posted = read_sheet(out)
    assert [row["Status"] for row in posted] == ["posted"] * 5
    assert all(GUID.fullmatch(str(row["IntakeID"])) for row in posted)
    assert read_summary(out)["Endpoint"] == "sandbox (in-process)"

    again = invoke("run", leads, "-m", mapping_file, "--sandbox", "--journal", journal, "-o", out)
    assert again.exit_code == 0
    rerun = read_sheet(out)
    assert [row["Status"] for row in rerun] == ["already_posted"] * 5
    assert [row["IntakeID"] for row in rerun] == [row["IntakeID"] for row in posted]
    assert all(str(row["Warnings"]).startswith("posted on ") for row in rerun)


def test_run_with_invalid_and_duplicate_rows_exits_1(
    messy: Path, mapping_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    result = invoke("run", messy, "-m", mapping_file, "--sandbox", "-o", out)
    assert result.exit_code == 1
    assert [row["Status"] for row in read_sheet(out)] == [
        "posted",
        "invalid",
        "posted",
        "posted",
        "duplicate",
    ]


def test_dry_run_is_validate_and_opens_no_journal(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    result = invoke("run", leads, "-m", mapping_file, "--dry-run", "--journal", journal)
    assert result.exit_code == 0
    assert {row["Status"] for row in read_sheet(leads.with_name("leads.results.xlsx"))} == {"valid"}
    assert not journal.exists()


def test_repost_asks_first_and_stops_on_no(leads: Path, mapping_file: Path, tmp_path: Path) -> None:
    result = invoke("run", leads, "-m", mapping_file, "--sandbox", "--repost", input="n\n")
    assert result.exit_code == 2
    assert "error: nothing sent: --repost was not confirmed" in result.output


def test_repost_with_yes_sends_again(leads: Path, mapping_file: Path, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    out = tmp_path / "out.xlsx"
    args = ("run", leads, "-m", mapping_file, "--sandbox", "--journal", journal, "-o", out)
    invoke(*args)
    first = [row["IntakeID"] for row in read_sheet(out)]
    assert invoke(*args, "--repost", "--yes").exit_code == 0
    second = read_sheet(out)
    assert [row["Status"] for row in second] == ["posted"] * 5
    assert not {row["IntakeID"] for row in second} & set(first)


def test_plain_http_to_another_host_is_refused_before_anything_is_sent(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    result = invoke(
        "run",
        leads,
        "-m",
        mapping_file,
        "--endpoint",
        "http://10.9.8.7/api/captorraapi/create",
        "--journal",
        tmp_path / "j.sqlite3",
    )
    assert result.exit_code == 2
    assert result.output == (
        "error: endpoint http://10.9.8.7/api/captorraapi/create uses plain http to another "
        "machine; leads are personal data, so use https (plain http is allowed only to "
        "127.0.0.1/localhost)\n"
    )
    assert not leads.with_name("leads.results.xlsx").exists()


def test_endpoint_comes_from_the_environment(
    leads: Path, mapping_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPTORRA_ENDPOINT", "http://example.test/create")
    result = invoke("run", leads, "-m", mapping_file)
    assert result.exit_code == 2
    assert "error: endpoint http://example.test/create uses plain http" in result.output


def test_sandbox_and_endpoint_together_is_a_usage_error(leads: Path, mapping_file: Path) -> None:
    result = invoke("run", leads, "-m", mapping_file, "--sandbox", "--endpoint", "https://x.test/")
    assert result.exit_code == 2
    assert "use --sandbox or --endpoint, not both" in result.output


# ---------------------------------------------------------------- errors


def test_a_missing_input_is_one_line_and_exit_2(mapping_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = invoke("validate", missing, "-m", mapping_file)
    assert result.exit_code == 2
    assert result.output == f"error: {missing}: file not found; check the path\n"


def test_a_mapping_error_names_file_line_and_key(leads: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(
        f"version: 1\nfields:\n  CaptorraId: {{value: '{CAPTORRA_ID}'}}\n"
        f"  Referrer: {{value: '{REFERRER}'}}\n  First: First Name\n  Last: Last Name\n"
        "  Primary: {column: Phone, transform: phonee}\n"
    )
    result = invoke("validate", leads, "-m", mapping)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {mapping}, line 7, fields.Primary.transform: unknown transform 'phonee'; "
        "did you mean phone? choose one of upper, lower, title, digits, phone, email, state, "
        "zip, first_name, last_name, guid, date\n"
    )


def test_a_header_the_input_lacks_names_the_closest(leads: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        f"version: 1\nfields:\n  CaptorraId: {{value: '{CAPTORRA_ID}'}}\n"
        f"  Referrer: {{value: '{REFERRER}'}}\n  First: First Name\n  Last: Lastname\n"
    )
    result = invoke("validate", leads, "-m", mapping)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {mapping}, line 6, fields.Last.column: leads.csv has no column 'Lastname'; "
        "closest: 'Last Name', 'First Name', 'State'\n"
    )


def test_an_unset_environment_variable_stops_before_reading(
    leads: Path, mapping_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPTORRA_ID")
    result = invoke("validate", leads, "-m", mapping_file)
    assert result.exit_code == 2
    assert result.output == (
        f"error: {mapping_file}, line 3, fields.CaptorraId.value: environment variable "
        "CAPTORRA_ID is not set; save it (captorra-import settings --captorra-id ...), set it "
        "(export CAPTORRA_ID=...) or write the value in the mapping\n"
    )


def test_debug_shows_the_traceback(mapping_file: Path, tmp_path: Path) -> None:
    result = invoke("validate", tmp_path / "nope.csv", "-m", mapping_file, "--debug")
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "InputFileError"


def test_one_bad_input_does_not_stop_the_others(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "gone.csv"
    result = invoke("validate", leads, missing, "-m", mapping_file)
    assert result.exit_code == 2
    assert f"error: {missing}: file not found; check the path" in result.output
    assert {row["Status"] for row in read_sheet(leads.with_name("leads.results.xlsx"))} == {"valid"}


def test_output_with_several_inputs_is_refused(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    result = invoke("validate", leads, leads, "-m", mapping_file, "-o", tmp_path / "x.xlsx")
    assert result.exit_code == 2
    assert result.output == (
        "error: --output names one results file: use it with one input at a time\n"
    )


def test_fields_lists_the_captorra_fields() -> None:
    result = invoke("fields")
    assert result.exit_code == 0
    for name in ("CaptorraId", "Referrer", "ReferringKeyword", "Tracking", "4000"):
        assert name in result.output


def test_the_library_posts_exactly_the_mapped_non_empty_fields(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    sandbox = Sandbox()
    job = ImportJob(
        inputs=(leads,),
        mapping=mapping_file,
        output=tmp_path / "o.xlsx",
        post=PostSettings(endpoint=f"http://127.0.0.1:9{SANDBOX_PATH}"),
    )
    report = import_files(job, transport=sandbox.transport())
    assert report.exit_code == 0
    payloads = [payload for _, payload in sandbox.intakes]
    assert {payload["Type"] for payload in payloads} == {AUTO_TYPE}
    assert payloads[0] == {
        "CaptorraId": CAPTORRA_ID,
        "Referrer": REFERRER,
        "First": "First1",
        "Last": "Last1",
        "Primary": "2155550001",
        "Email": "lead1@mail.example",
        "State": "PA",
        "Type": AUTO_TYPE,
        "ID": "L00001",
    }


# ---------------------------------------------------------------- journal and history


def test_a_corrupt_journal_stops_the_run_before_sending(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    journal.write_bytes(b"garbage" * 200)
    result = invoke("run", leads, "-m", mapping_file, "--sandbox", "--journal", journal)
    assert result.exit_code == 2
    assert result.output == (
        f"error: journal {journal} cannot be used (file is not a database); if it is damaged, "
        "move it aside and re-run (leads it recorded as posted would then be posted again: "
        "check first)\n"
    )
    assert not leads.with_name("leads.results.xlsx").exists()
    assert journal.read_bytes() == b"garbage" * 200


def test_history_lists_runs_without_personal_data(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    invoke("run", leads, "-m", mapping_file, "--sandbox", "--journal", journal)
    result = CliRunner().invoke(cli, ["history", "--journal", str(journal)], terminal_width=200)
    assert result.exit_code == 0
    assert "leads.csv" in result.output
    assert "posted 5" in result.output
    assert "sandbox (in-process)" in result.output
    assert "First1" not in result.output
    run_id = result.output.split("\n")[3].split()[1]
    one = CliRunner().invoke(cli, ["history", run_id, "--journal", str(journal)])
    assert one.exit_code == 0
    assert run_id in one.output


def test_history_without_a_journal_says_so(tmp_path: Path) -> None:
    result = invoke("history", "--journal", tmp_path / "none.sqlite3")
    assert result.exit_code == 1
    assert f"no journal at {tmp_path / 'none.sqlite3'} yet: nothing has been run" in result.output


def test_the_sandbox_command_serves_until_ctrl_c(
    leads: Path, mapping_file: Path, tmp_path: Path
) -> None:
    record = tmp_path / "record.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "importer", "sandbox", "--port", "0", "--record", str(record)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = first.removeprefix("Captorra sandbox listening; post to: ").strip()
        assert url.startswith("http://127.0.0.1:")
        out = tmp_path / "out.xlsx"
        result = invoke("run", leads, "-m", mapping_file, "--endpoint", url, "-o", out)
        assert result.exit_code == 0, result.output
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0
    intakes = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted(intake["IntakeID"] for intake in intakes) == sorted(
        str(row["IntakeID"]) for row in read_sheet(out)
    )


# ---------------------------------------------------------------- the mapping assistant


def test_init_mapping_writes_a_file_that_validates_as_it_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPTORRA_REFERRER", REFERRER)
    monkeypatch.chdir(tmp_path)
    leads = write_csv(tmp_path / "vendor.csv", lead_rows(6))
    result = invoke("init-mapping", leads)
    assert result.exit_code == 0, result.output
    written = tmp_path / "mappings" / "vendor.yaml"
    assert result.output.startswith(f"Wrote {Path('mappings') / 'vendor.yaml'}: ")
    assert (tmp_path / "mappings" / "schema.json").exists()
    validated = invoke("validate", leads, "-m", written, "-o", tmp_path / "out.xlsx")
    assert validated.exit_code == 0, validated.output
    rows = read_sheet(tmp_path / "out.xlsx")
    assert {row["Status"] for row in rows} == {"valid"}


def test_init_mapping_never_overwrites_without_force(tmp_path: Path) -> None:
    leads = write_csv(tmp_path / "vendor.csv", lead_rows(2))
    target = tmp_path / "mine.yaml"
    target.write_text("precious")
    result = invoke("init-mapping", leads, "-o", target)
    assert result.exit_code == 2
    assert (
        result.output == f"error: {target} exists already; choose another --output or add --force\n"
    )
    assert target.read_text() == "precious"
    assert invoke("init-mapping", leads, "-o", target, "--force").exit_code == 0
    assert target.read_text().startswith("# yaml-language-server: $schema=schema.json")


def test_check_mapping_shows_rows_as_they_would_be_sent(messy: Path, mapping_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["check-mapping", str(mapping_file), str(messy), "--rows", "2"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert f"{mapping_file} fits messy.csv." in result.output
    assert "row 2: valid" in result.output
    assert "row 3: invalid" in result.output
    assert "2155550001" in result.output  # the phone as it would be sent
    assert "First: required" in result.output


def test_check_mapping_alone_checks_the_file(mapping_file: Path, tmp_path: Path) -> None:
    assert invoke("check-mapping", mapping_file).output == (
        f"{mapping_file}: a valid mapping of 9 fields.\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nfields: [\n")
    result = invoke("check-mapping", broken)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {broken}, line ")
    assert "not valid YAML" in result.output


def test_mapping_schema_prints_the_schema() -> None:
    result = invoke("mapping-schema")
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "captorra-importer mapping file (version 1)"


# ---------------------------------------------------------------- the downloaded program


def test_the_program_started_without_arguments_opens_the_page(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A double-click: the page in the browser, on any free port, mappings in the settings."""
    import importer.ui
    from importer import cli as cli_module

    served: list[object] = []

    def serve(config: object, *, on_ready: Any) -> None:
        served.append(config)
        on_ready("http://127.0.0.1:5000/?token=t")

    monkeypatch.setattr(importer.ui, "serve", serve)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "argv", ["captorra-import"])
    with pytest.raises(SystemExit) as stopped:
        cli_module.main()
    assert stopped.value.code == 0
    (config,) = served
    assert isinstance(config, importer.ui.UiConfig)
    assert (config.port, config.open_browser) == (0, True)
    assert config.mappings_dir == cli_module.CONFIG_DIR / "mappings"
    assert capsys.readouterr().out == (
        "Captorra importer page: http://127.0.0.1:5000/?token=t\n"
        "Keep this window open while you use the page: closing it (or Ctrl-C) stops it.\n"
    )


def test_without_the_program_no_arguments_still_shows_the_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from importer import cli as cli_module

    monkeypatch.setattr(sys, "argv", ["captorra-import"])
    with pytest.raises(SystemExit):
        cli_module.main()
    shown = capsys.readouterr()
    assert "Usage: captorra-import [OPTIONS] COMMAND [ARGS]..." in shown.out + shown.err
