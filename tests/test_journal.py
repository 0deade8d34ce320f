"""The journal: claims, outcomes, crashed and concurrent runs, corrupt files, privacy."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from importer.errors import JournalError
from importer.journal import Journal
from importer.posting import GroupCommit, Lead, Outcome

ENDPOINT = "https://captorra.test/create"
LEAD = Lead(7, {"First": "Ada", "Last": "Lovelace"}, "CaptorraId=1\x1fID=lead-42")


def started(path: Path, *, endpoint: str = ENDPOINT, repost: bool = False) -> Journal:
    journal = Journal(path)
    journal.start_run(
        input_path=Path("leads.csv"),
        input_sha256="0" * 64,
        mapping=Path("m.yaml"),
        endpoint=endpoint,
        repost=repost,
    )
    return journal


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_lead_is_claimed_and_then_remembered_as_posted(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3")
    assert journal.before_send(LEAD) is False
    journal.attempting(LEAD)
    journal.answered(LEAD, Outcome(7, "posted", intake_id="intake-1"))
    journal.finish_run({"posted": 1}, 0)
    journal.close()

    again = started(tmp_path / "j.sqlite3")
    decision = again.before_send(Lead(9, LEAD.payload, LEAD.key))
    assert isinstance(decision, Outcome)
    assert (decision.row, decision.status, decision.intake_id) == (9, "already_posted", "intake-1")
    assert decision.warnings[0].startswith("posted on ")
    assert decision.warnings[0].endswith(f"(run {journal.run_id}); not sent again")


def test_posts_are_kept_per_endpoint(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3", endpoint="sandbox (in-process)")
    journal.before_send(LEAD)
    journal.answered(LEAD, Outcome(7, "posted", intake_id="sandbox-1"))
    journal.close()
    real = started(tmp_path / "j.sqlite3", endpoint=ENDPOINT)
    assert real.before_send(LEAD) is False


def test_repost_sends_a_posted_lead_again(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3")
    journal.before_send(LEAD)
    journal.answered(LEAD, Outcome(7, "posted", intake_id="intake-1"))
    journal.close()
    assert started(tmp_path / "j.sqlite3", repost=True).before_send(LEAD) is False


def test_an_unconfirmed_lead_is_held_like_a_post_until_repost(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3")
    journal.before_send(LEAD)
    journal.attempting(LEAD)
    journal.answered(LEAD, Outcome(7, "unconfirmed", error="HTTP 200: ...", unanswered=True))
    journal.finish_run({"unconfirmed": 1}, 1)
    journal.close()

    again = started(tmp_path / "j.sqlite3")
    decision = again.before_send(Lead(9, LEAD.payload, LEAD.key))
    assert isinstance(decision, Outcome)
    assert (decision.row, decision.status) == (9, "unconfirmed")
    assert decision.error.startswith(f"run {journal.run_id} on ")
    assert decision.error.endswith("check Captorra, and to send it anyway re-run with --repost")
    looked_up = again.posted_before(LEAD)
    assert looked_up is not None
    assert looked_up.status == "unconfirmed"
    again.close()
    # --repost sends it, flagged: the earlier answer may have created it.
    assert started(tmp_path / "j.sqlite3", repost=True).before_send(LEAD) is True


@pytest.mark.parametrize("status", ["rejected", "failed"])
def test_rejected_or_failed_leads_are_sent_again(tmp_path: Path, status: str) -> None:
    journal = started(tmp_path / "j.sqlite3")
    journal.before_send(LEAD)
    journal.attempting(LEAD)
    journal.answered(LEAD, Outcome(7, status, error="x"))  # type: ignore[arg-type]
    journal.finish_run({status: 1}, 1)
    assert started(tmp_path / "j.sqlite3").before_send(LEAD) is False


def test_a_failed_lead_whose_attempt_went_unanswered_is_flagged_next_time(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3")
    journal.before_send(LEAD)
    journal.attempting(LEAD)
    journal.answered(LEAD, Outcome(7, "failed", error="timeout", unanswered=True))
    journal.finish_run({"failed": 1}, 3)
    assert started(tmp_path / "j.sqlite3").before_send(LEAD) is True


def test_a_lead_in_flight_when_its_run_died_is_sent_again_flagged(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    crashed = started(path)
    crashed.before_send(LEAD)
    crashed.attempting(LEAD)  # the request left, then the process was killed
    crashed.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET pid = ?", (dead_pid(),))
    assert started(path).before_send(LEAD) is True


def test_a_lead_claimed_but_never_sent_by_a_dead_run_is_sent_unflagged(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    crashed = started(path)
    crashed.before_send(LEAD)
    crashed.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET pid = ?", (dead_pid(),))
    assert started(path).before_send(LEAD) is False


def test_a_lead_another_live_run_is_sending_is_left_to_it(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    other = started(path)  # this process is alive: so is the run
    other.before_send(LEAD)
    other.attempting(LEAD)
    decision = started(path).before_send(LEAD)
    assert isinstance(decision, Outcome)
    assert decision.status == "failed"
    assert decision.error == f"being sent right now by another run ({other.run_id}); re-run later"


def test_a_batch_is_claimed_in_one_transaction_each_lead_decided_as_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    earlier = started(path)
    posted, failed = Lead(2, {}, "key-posted"), Lead(3, {}, "key-failed")
    for lead, status in ((posted, "posted"), (failed, "failed")):
        earlier.before_send(lead)
        earlier.attempting(lead)
        earlier.answered(lead, Outcome(lead.row, status, unanswered=status == "failed"))
    earlier.finish_run({}, 0)
    journal = started(path)
    commits: list[str] = []
    journal._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)

    decisions = journal.claim([posted, Lead(4, {}, "key-new"), failed])

    assert isinstance(decisions[0], Outcome)
    assert decisions[0].status == "already_posted"
    assert decisions[1:] == [False, True]  # new; failed after an unanswered attempt
    assert commits == ["COMMIT"]
    with sqlite3.connect(path) as db:
        claimed = db.execute("SELECT source_row FROM leads WHERE status = 'claimed'").fetchall()
    assert sorted(claimed) == [(3,), (4,)]


def test_commits_reach_the_database_file_in_the_background_and_close_ends_it(
    tmp_path: Path,
) -> None:
    def checkpointers() -> int:
        return sum(thread.name == "journal-checkpoints" for thread in threading.enumerate())

    path = tmp_path / "j.sqlite3"
    before = checkpointers()
    journal = started(path)
    assert checkpointers() == before + 1
    journal.claim([Lead(row, {}, f"key-{row}") for row in range(2, 12)])
    copy = tmp_path / "copy.sqlite3"  # the database file alone, without its WAL
    deadline = time.monotonic() + 10
    while True:
        shutil.copyfile(path, copy)
        with contextlib.closing(sqlite3.connect(copy)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            count = db.execute("SELECT COUNT(*) FROM leads").fetchone()[0] if tables else 0
        if count == 10 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert count == 10
    journal.close()
    assert checkpointers() == before


def test_runs_are_listed_newest_first_with_counts(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    for exit_code in (0, 1):
        journal = started(path)
        journal.finish_run({"posted": 3, "invalid": exit_code}, exit_code)
        journal.close()
    journal = Journal(path)
    runs = journal.runs(limit=5)
    assert [run.exit_code for run in runs] == [1, 0]
    assert runs[0].counts == {"posted": 3, "invalid": 1}
    assert runs[0].input_name == "leads.csv"
    assert journal.run(runs[1].run_id) == runs[1]
    assert journal.run("nope") is None


def test_the_journal_holds_no_lead_data(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = started(path)
    journal.before_send(LEAD)
    journal.attempting(LEAD)
    journal.answered(LEAD, Outcome(7, "posted", intake_id="intake-1"))
    journal.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("j.sqlite3*"))
    assert b"lead-42" not in data
    assert b"Lovelace" not in data


def test_a_file_that_is_not_a_database_is_refused_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError) as raised:
        Journal(path)
    assert str(raised.value) == (
        f"journal {path} cannot be used (file is not a database); if it is damaged, move it "
        "aside and re-run (leads it recorded as posted would then be posted again: check first)"
    )
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts (name TEXT)")
    with pytest.raises(JournalError, match="it is not a captorra-importer journal"):
        Journal(path)


def test_a_full_disk_stops_sending_with_a_clear_error(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3")
    journal._db.execute("PRAGMA max_page_count = 1")  # what a full disk looks like to SQLite

    def fill() -> None:
        for row in range(2, 200):
            journal.before_send(Lead(row, {}, f"key-{row}" * 50))

    with pytest.raises(JournalError) as raised:
        fill()
    assert "cannot be written (database or disk is full); nothing more is sent" in str(raised.value)


def attempts(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT source_row, attempts FROM leads"))


def test_steps_of_one_moment_share_a_transaction_and_a_failed_step_stops_its_group(
    tmp_path: Path,
) -> None:
    """Group commit: earlier steps are committed, the failing one and those after it fail."""
    journal = started(tmp_path / "j.sqlite3")
    leads = [Lead(row, {}, f"key-{row}") for row in (2, 3, 4)]
    for lead in leads:
        journal.before_send(lead)
    commits: list[int] = []
    journal._db.set_trace_callback(lambda sql: commits.append(1) if sql == "COMMIT" else None)

    def attempting(lead: Lead) -> None:
        if lead.row == 3:
            raise JournalError("journal j.sqlite3 cannot be written (disk I/O error)")
        journal.attempting(lead)

    async def together() -> list[object]:
        group = GroupCommit(journal)
        calls = [group.call(attempting, lead) for lead in leads]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcome = asyncio.run(together())

    assert outcome[0] is None
    assert [str(error) for error in outcome[1:]] == [
        "journal j.sqlite3 cannot be written (disk I/O error)"
    ] * 2
    assert len(commits) == 1
    assert attempts(tmp_path / "j.sqlite3") == {2: 1, 3: 0, 4: 0}


def test_a_failed_commit_fails_every_step_of_its_group(tmp_path: Path) -> None:
    journal = started(tmp_path / "j.sqlite3")
    leads = [Lead(row, {}, f"key-{row}") for row in (2, 3)]
    for lead in leads:
        journal.before_send(lead)

    def attempting_then_lost(lead: Lead) -> None:
        journal.attempting(lead)
        if lead.row == 3:  # what SQLite does after some errors: the transaction is gone
            journal._db.execute("ROLLBACK")

    async def together() -> list[object]:
        group = GroupCommit(journal)
        return await asyncio.gather(
            *(group.call(attempting_then_lost, lead) for lead in leads), return_exceptions=True
        )

    outcome = asyncio.run(together())

    assert all(isinstance(error, JournalError) for error in outcome)
    assert attempts(tmp_path / "j.sqlite3") == {2: 0, 3: 0}
