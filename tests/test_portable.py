"""The importer on systems without POSIX: run as a Windows user would get it.

Each test runs the command line in a subprocess whose Python cannot import
`fcntl`, `pwd`, `grp`, `termios`, `resource`, `tty` or `pty`
(`tests/without_posix/sitecustomize.py`), in folders and files named with
spaces and non-ASCII characters. Output that a console cannot encode must
never end in a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.leads import MAPPING, lead_rows, read_sheet, write_csv
from tests.page_process import fetch_the_page

WITHOUT_POSIX = Path(__file__).parent / "without_posix"
POSIX_ONLY = ("fcntl", "pwd", "grp", "termios", "resource", "tty", "pty")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "Salon d'été 2026"
    path.mkdir()
    return path


@pytest.fixture
def environment(tmp_path: Path, folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(WITHOUT_POSIX), str(Path.cwd())]),
        "HOME": str(tmp_path / "home"),
        "CAPTORRA_JOURNAL": str(folder / "journal ü.sqlite3"),
    }
    env.pop("PYTHONIOENCODING", None)
    return env


@pytest.fixture
def mapping(folder: Path) -> Path:
    path = folder / "mapping Ünïcode.yaml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


@pytest.fixture
def leads(folder: Path) -> Path:
    return write_csv(folder / "客户 leads.csv", lead_rows(4))


def importer(
    env: dict[str, str], *arguments: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "importer", *map(str, arguments)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
    )


def assert_clean(result: subprocess.CompletedProcess[str], exit_code: int) -> None:
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    assert "ModuleNotFoundError" not in result.stderr


def test_the_posix_only_modules_really_are_missing(environment: dict[str, str]) -> None:
    code = (
        "import importlib\n"
        f"for name in {POSIX_ONLY!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError:\n"
        "        print(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == list(POSIX_ONLY)


def test_help_names_where_the_journal_and_settings_live(environment: dict[str, str]) -> None:
    result = importer(environment, "--help")
    assert_clean(result, 0)
    assert "Files on this computer: the journal of what was sent in" in result.stdout


def test_validate_run_and_history_with_spaces_and_non_ascii_names(
    environment: dict[str, str], folder: Path, mapping: Path, leads: Path
) -> None:
    checked = importer(environment, "validate", leads, "--mapping", mapping)
    assert_clean(checked, 0)
    assert (folder / "客户 leads.results.xlsx").exists()
    sent = importer(environment, "run", leads, "--mapping", mapping, "--sandbox")
    assert_clean(sent, 0)
    assert f"{leads} -> sandbox (in-process)" in sent.stdout
    rows = read_sheet(folder / "客户 leads.results.xlsx")
    assert [row["Status"] for row in rows] == ["posted"] * 4
    history = importer(environment, "history")
    assert_clean(history, 0)
    assert "客户 leads.csv" in history.stdout


@pytest.fixture
def inbox(folder: Path) -> Path:
    path = folder / "boîte de réception"
    path.mkdir()
    write_csv(path / "acme 0401 客户.csv", lead_rows(3))
    profiles = folder / "profiles"
    profiles.mkdir()
    (profiles / "acme.yaml").write_text(
        MAPPING.replace("version: 1\n", 'version: 1\nmatch: {filename: "acme*.csv"}\n'),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def lock_holder(environment: dict[str, str], inbox: Path) -> Iterator[subprocess.Popen[str]]:
    """Another run without POSIX modules, holding the inbox's lock until killed."""
    code = (
        "import sys, pathlib\n"
        "from importer.batch import inbox_lock\n"
        "with inbox_lock(pathlib.Path(sys.argv[1])):\n"
        "    print('holding', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(inbox)],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        yield holder
        holder.kill()


def test_batch_is_locked_out_then_takes_over_a_dead_holders_lock(
    environment: dict[str, str], folder: Path, inbox: Path, lock_holder: subprocess.Popen[str]
) -> None:
    command = ("batch", inbox, "--mappings-dir", folder / "profiles", "--sandbox")
    locked = importer(environment, *command, "--settle-seconds", "0")
    assert_clean(locked, 4)
    assert f"{inbox}: another import is running (pid {lock_holder.pid}, started " in locked.stderr
    assert (inbox / "acme 0401 客户.csv").exists()

    lock_holder.kill()  # dies holding the lock
    lock_holder.wait(timeout=30)
    done = importer(environment, *command, "--settle-seconds", "0")
    assert_clean(done, 0)
    assert "acme 0401 客户.csv: archived, exit 0 (posted 3)" in done.stderr
    assert not (inbox / "acme 0401 客户.csv").exists()


def test_the_page_starts_and_answers(environment: dict[str, str], folder: Path) -> None:
    command = [sys.executable, "-m", "importer", "ui", "--no-browser", "--port", "0", "--sandbox"]
    fetch_the_page(command, env=environment, cwd=folder)


# ---------------------------------------------------------------- consoles that cannot encode


@pytest.mark.parametrize("command", ["validate", "history"])
def test_a_cp1252_console_gets_question_marks_not_a_traceback(
    environment: dict[str, str], mapping: Path, leads: Path, command: str
) -> None:
    """Task Scheduler on Windows: output redirected to a file, in the ANSI code page."""
    importer(environment, "run", leads, "--mapping", mapping, "--sandbox")  # for history
    arguments = ["validate", leads, "--mapping", mapping] if command == "validate" else [command]
    result = importer({**environment, "PYTHONIOENCODING": "cp1252"}, *arguments)
    assert_clean(result, 0)  # validate: every row valid (the exit codes' 0); history: listed
    assert "?? leads" in result.stdout
    assert "客户" not in result.stdout
