"""Starting `captorra-import ui` as a process, fetching its page, stopping it like a person."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

READY = "Captorra importer page: http://127.0.0.1:"
KEEP_OPEN = "Keep this window open while you use the page: closing it (or Ctrl-C) stops it.\n"


def fetch_the_page(command: Sequence[str], *, env: dict[str, str], cwd: Path) -> None:
    """Run `command`, check the page it names answers, then Ctrl-C it: a clean stop."""
    with subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as page:
        try:
            assert page.stdout is not None
            first = page.stdout.readline()
            assert first.startswith(READY)
            assert page.stdout.readline() == KEEP_OPEN
            url = first.removeprefix("Captorra importer page: ").strip()
            answer = httpx.get(url, follow_redirects=True, timeout=60)
            assert answer.status_code == 200
            # The upload page, or the first-time settings page when no ids are saved yet.
            assert re.search(r"<h1 id=\"(upload|settings)-title\">", answer.text)
            assert "· Captorra importer</title>" in answer.text
        finally:
            if sys.platform == "win32":
                page.terminate()  # Windows cannot send Ctrl-C to one process: close it
            else:
                page.send_signal(signal.SIGINT)
            _, stderr = page.communicate(timeout=60)
    assert "Traceback" not in stderr
    if sys.platform != "win32":
        assert page.returncode == 0, stderr
