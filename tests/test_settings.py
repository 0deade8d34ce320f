"""The settings store and `captorra-import settings`: used when the environment is silent."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from importer.cli import cli
from importer.settings import (
    Settings,
    environment,
    load_settings,
    save_settings,
    settings_path,
    update_settings,
)
from tests.leads import CAPTORRA_ID, MAPPING, lead_rows, read_sheet, write_csv

GUID = "0a1b2c3d-1234-4abc-8def-0123456789ab"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_nothing_saved_reads_as_empty_settings() -> None:
    assert not settings_path().exists()
    assert load_settings() == Settings()


def test_settings_are_saved_for_this_user_only_and_read_back() -> None:
    path = save_settings(Settings(captorra_id="123456", referrer=GUID, case_types={"dog": GUID}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_settings() == Settings("123456", GUID, {"dog": GUID})
    assert os.listdir(path.parent) == ["settings.json"]  # no temp file left behind


def test_a_referrer_is_saved_in_its_canonical_form() -> None:
    saved = update_settings(referrer="{" + GUID.upper() + "}")
    assert saved.referrer == GUID
    assert load_settings().referrer == GUID


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--captorra-id",
            "12a",
            "error: CaptorraId: digits only, as Captorra shows it (e.g. 123456)\n",
        ),
        (
            "--referrer",
            "not-a-guid",
            "error: Referrer: a GUID has 32 letters a-f and digits in groups of 8-4-4-4-12, "
            "e.g. 0a1b2c3d-1234-4abc-8def-0123456789ab\n",
        ),
    ],
)
def test_a_bad_value_is_refused_and_nothing_is_saved(option: str, value: str, message: str) -> None:
    result = invoke("settings", option, value)
    assert result.exit_code == 2
    assert result.output == message
    assert not settings_path().exists()


def test_the_command_saves_and_shows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAPTORRA_ID")
    monkeypatch.delenv("CAPTORRA_REFERRER", raising=False)
    result = invoke("settings", "--captorra-id", "654321", "--referrer", GUID)
    assert result.exit_code == 0, result.output
    path = settings_path()
    assert result.output == (
        f"Saved {path}\n"
        "CaptorraId:  654321\n"
        f"Referrer:    {GUID}\n"
        "Case types:  0 GUIDs learnt from mappings\n"
        f"File:        {path}\n"
    )
    shown = invoke("settings")
    assert shown.output.startswith("CaptorraId:  654321\n")


def test_the_environment_wins_and_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    save_settings(Settings(captorra_id="654321", referrer=GUID))
    monkeypatch.setenv("CAPTORRA_ID", "111")
    assert environment()["CAPTORRA_ID"] == "111"
    assert environment()["CAPTORRA_REFERRER"] == GUID
    assert invoke("settings").output.startswith("CaptorraId:  111 (from CAPTORRA_ID)\n")


def test_a_damaged_settings_file_is_one_line_naming_it() -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    result = invoke("settings")
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}: the settings file cannot be read (JSONDecodeError); delete it and "
        "enter the settings again (captorra-import settings)\n"
    )


def test_validate_reads_the_saved_captorra_id_when_the_environment_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPTORRA_ID")
    save_settings(Settings(captorra_id=CAPTORRA_ID))
    leads = write_csv(tmp_path / "leads.csv", lead_rows(3))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    result = invoke("validate", leads, "-m", mapping, "--quiet")
    assert result.exit_code == 0, result.output
    rows = read_sheet(tmp_path / "leads.results.xlsx")
    assert {row["Status"] for row in rows} == {"valid"}


def test_learnt_case_types_are_merged_case_insensitively() -> None:
    first = Settings().with_case_types({"Dog Bite": GUID})
    assert first.with_case_types({"dog bite": GUID.replace("0a", "0b")}).case_types == {
        "dog bite": GUID.replace("0a", "0b")
    }
    assert json.loads(json.dumps(first.case_types)) == {"dog bite": GUID}
