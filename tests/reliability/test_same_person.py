"""The same person from two vendors, imported by two processes at once: created once.

Two `captorra-import run` processes share one journal and the sandbox server on
127.0.0.1. Both check their files before either has posted anything, so only
the journal's claim can keep a person from being created twice.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

from importer.sandbox import SandboxConfig, running_server
from tests.leads import LEAD_HEADER, MAPPING, lead_rows, read_sheet, write_csv
from tests.reliability.test_posting_faults import run_at_once, run_command

PEOPLE = 120


def test_two_vendors_at_once_create_each_person_once(tmp_path: Path) -> None:
    acme = write_csv(tmp_path / "acme.csv", lead_rows(PEOPLE))
    # Beta resells every person with its own IDs, phones written its own way.
    beta_rows = [
        (f"B{row[0]}", row[1], row[2], "+1 " + re.sub(r"\D", "", row[3]), row[4].upper(), *row[5:])
        for row in lead_rows(PEOPLE)
    ]
    beta = write_csv(tmp_path / "beta.csv", beta_rows, header=LEAD_HEADER)
    mappings = {}
    for name in ("acme", "beta"):
        mappings[name] = tmp_path / f"{name}.yaml"
        mappings[name].write_text(MAPPING, encoding="utf-8")
    environment = {**os.environ, "CAPTORRA_ID": "123456"}
    journal = tmp_path / "j.sqlite3"
    with running_server(SandboxConfig(latency=0.02)) as (url, sandbox):
        commands = [
            run_command(
                leads, mappings[name], url, "--journal", journal,
                "-o", tmp_path / f"{name}.results.xlsx",
            )
            for name, leads in (("acme", acme), ("beta", beta))
        ]  # fmt: skip
        codes, errors = run_at_once(commands, environment, timeout=180)
        people = Counter(str(payload["Primary"]) for _, payload in sandbox.intakes)
    assert codes <= {0, 1, 3}, errors
    assert set(people.values()) == {1}  # nobody twice...
    statuses = Counter(
        str(row["Status"])
        for name in ("acme", "beta")
        for row in read_sheet(tmp_path / f"{name}.results.xlsx")
    )
    # ...and every person either created, or left for a re-run with a reason.
    assert statuses["posted"] == len(people)
    assert statuses["posted"] + statuses["duplicate"] + statuses["failed"] == 2 * PEOPLE
    assert statuses["duplicate"] + statuses["failed"] >= PEOPLE
