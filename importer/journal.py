"""The journal: what was sent where, so re-runs never post a lead twice.

A SQLite file (WAL, short transactions; the steps of leads being sent at the
same moment share one, see `batch`). Per lead it keeps a keyed
hash of the lead key (never names, phones or emails), the endpoint, status,
IntakeID, attempts and timestamps; per run, when it ran, on which file (name and
content hash) and with which counts.

The protocol, per lead:
1. `claim` claims the keys of a batch of leads atomically (`BEGIN IMMEDIATE`),
   ahead of sending them: a key already posted to this endpoint is not sent
   again, nor one whose answer was `unconfirmed` (a 2xx that may have created
   it; unless `--repost`, and then flagged as a possible duplicate); a key
   another live run has claimed is left to it; a key a dead run was sending
   when it stopped is sent again, flagged as a possible duplicate, and one it
   had only claimed is sent as new;
2. `attempting` commits "sending" *before* each request leaves;
3. `answered` commits the outcome as soon as it arrives.
So a `kill -9` at any instant loses at most the answers of requests in flight,
and those leads are the only ones that can be repeated, each one flagged.

Per lead it also keeps keyed hashes of its phones and email (`contacts`, never
the values). In the same transaction that claims a lead, `claim` refuses
it as `duplicate` when another lead with one of its identifiers was posted
within the window, or as `failed` (re-run later) when another live run is
sending one right now: the same person is never sent twice, even by two runs
at once (see `contacts.py`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from importer.contacts import (
    ClaimRule,
    EarlierLead,
    earlier_lead_error,
    in_flight_error,
    kinds_text,
    vendor_name,
)
from importer.errors import JournalError
from importer.lead_key import key_hash
from importer.posting import Lead, Outcome

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    ended TEXT,
    input_name TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    mapping TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    counts TEXT,
    exit_code INTEGER,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leads (
    endpoint TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    status TEXT NOT NULL,          -- claimed | sending | posted | unconfirmed | rejected | failed
    intake_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    unanswered INTEGER NOT NULL DEFAULT 0,
    run_id TEXT NOT NULL,
    source_row INTEGER,
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL,
    posted_at TEXT,
    PRIMARY KEY (endpoint, key_hash)
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
"""
# Version 2: the identifiers of each lead, as keyed hashes (same-contact duplicates).
_CONTACTS = """
CREATE TABLE IF NOT EXISTS contacts (
    endpoint TEXT NOT NULL,
    contact_hash TEXT NOT NULL,    -- keyed hash of "phone=<10 digits>" or "email=<address>"
    kind TEXT NOT NULL,            -- phone | email
    key_hash TEXT NOT NULL,        -- the lead (leads.key_hash) that has it
    PRIMARY KEY (endpoint, contact_hash, key_hash)
) WITHOUT ROWID;
"""


def default_journal_path() -> Path:
    override = os.environ.get("CAPTORRA_JOURNAL")
    if override:
        return Path(override)
    return platformdirs.user_state_path("captorra-importer") / "journal.sqlite3"


def _now() -> str:
    return _second(int(time.time()))


@functools.lru_cache(maxsize=1)
def _second(epoch: int) -> str:
    """A second as the journal writes it; the same second is formatted once."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    started: str
    ended: str | None
    input_name: str
    input_sha256: str
    mapping: str
    endpoint: str
    counts: dict[str, int]
    exit_code: int | None


class Journal:
    """One open journal file; see the module docstring for the protocol."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._batched = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives the process being killed; only a
            # power cut can lose the last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Copying the WAL into the file (a checkpoint) waits for the disk: a
            # thread of its own does it, so that no commit waits for it.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            with self._transaction():
                self._create_or_check()
        except sqlite3.DatabaseError as error:
            raise JournalError(
                f"journal {path} cannot be used ({error}); if it is damaged, move it aside and "
                "re-run (leads it recorded as posted would then be posted again: check first)"
            ) from None
        except OSError as error:
            raise JournalError(f"journal {path} cannot be opened ({error.strerror})") from None
        self.run_id = ""
        self.endpoint = ""
        self.repost = False  # send leads already posted (`--repost`)
        self.same_contact: ClaimRule | None = None  # the same-contact check, when on
        self._checkpoints: _Checkpointer | None = None  # from the first run on

    def _create_or_check(self) -> None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            if tables:
                raise sqlite3.DatabaseError("it is not a captorra-importer journal")
            for statement in (_SCHEMA + _CONTACTS).split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT INTO meta VALUES ('version', ?), ('salt', ?)",
                (SCHEMA_VERSION, secrets.token_bytes(32)),
            )
        meta = dict(self._db.execute("SELECT name, value FROM meta"))
        if meta.get("version") == 1:  # a journal from before same-contact duplicates
            self._db.execute(_CONTACTS)
            self._db.execute("UPDATE meta SET value = ? WHERE name = 'version'", (SCHEMA_VERSION,))
            meta["version"] = SCHEMA_VERSION
        if meta.get("version") != SCHEMA_VERSION or not isinstance(meta.get("salt"), bytes):
            raise sqlite3.DatabaseError("unknown journal version or missing salt")
        self._salt: bytes = meta["salt"]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several steps in one transaction, committed once at the end (group commit).

        A step inside makes no commit of its own: what it records is durable only
        when the block ends without an error, so a caller acts on the steps (sends
        the requests) after the block, never inside it.
        """
        with self._transaction():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._batched:  # inside batch(): its transaction commits for every step
            try:
                yield
            except sqlite3.Error as error:
                raise self._cannot_write(error) from None
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk).
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise self._cannot_write(error) from None

    def _cannot_write(self, error: sqlite3.Error) -> JournalError:
        return JournalError(
            f"journal {self.path} cannot be written ({error}); nothing more is sent. "
            "Free disk space or fix permissions, then re-run"
        )

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
        self._db.close()  # the last connection to close checkpoints what is left

    # ------------------------------------------------------------ runs

    def start_run(
        self,
        *,
        input_path: Path,
        input_sha256: str,
        mapping: Path,
        endpoint: str,
        repost: bool = False,
    ) -> str:
        self.run_id = uuid.uuid4().hex[:12]
        self.endpoint = endpoint
        self.repost = repost
        self._checkpoints = self._checkpoints or _Checkpointer(self.path)
        with self._transaction():
            self._db.execute(
                "INSERT INTO runs (run_id, started, input_name, input_sha256, mapping, endpoint,"
                " host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.run_id,
                    _now(),
                    input_path.name,
                    input_sha256,
                    str(mapping),
                    endpoint,
                    socket.gethostname(),
                    os.getpid(),
                ),
            )
        return self.run_id

    def finish_run(self, counts: Mapping[str, int], exit_code: int) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET ended = ?, counts = ?, exit_code = ? WHERE run_id = ?",
                (_now(), json.dumps(dict(counts)), exit_code, self.run_id),
            )

    def runs(self, *, limit: int = 20) -> list[RunRecord]:
        rows = self._db.execute(
            "SELECT run_id, started, ended, input_name, input_sha256, mapping, endpoint, counts,"
            " exit_code FROM runs ORDER BY started DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [_run_record(row) for row in rows]

    def run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(
            "SELECT run_id, started, ended, input_name, input_sha256, mapping, endpoint, counts,"
            " exit_code FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return _run_record(row) if row else None

    # ------------------------------------------------------------ leads (the Ledger protocol)

    def hash(self, lead: Lead) -> str:
        return key_hash(lead.key, self._salt)

    def posted_before(self, lead: Lead) -> Outcome | None:
        """The earlier post of this lead to this endpoint, if any (read-only)."""
        row = self._db.execute(
            "SELECT status, intake_id, posted_at, updated, run_id FROM leads"
            " WHERE endpoint = ? AND key_hash = ? AND status IN ('posted', 'unconfirmed')",
            (self.endpoint, self.hash(lead)),
        ).fetchone()
        return None if row is None else _not_again(lead, *row)

    def before_send(self, lead: Lead) -> Outcome | bool:
        """`claim` for one lead."""
        return self.claim([lead])[0]

    def claim(self, leads: Sequence[Lead]) -> list[Outcome | bool]:
        """Claim leads for sending, all in one transaction; see the module docstring.

        For each lead, as if claimed one after the other: an Outcome when it is not
        to be sent, else whether an earlier attempt went unanswered.
        """
        digests = self.key_hashes([lead.key for lead in leads])
        with self._transaction():
            known = {
                row[0]: row[1:]
                for row in self._db.execute(
                    "SELECT key_hash, status, intake_id, posted_at, updated, run_id, unanswered"
                    " FROM leads WHERE endpoint = ?"
                    " AND key_hash IN (SELECT value FROM json_each(?))",
                    (self.endpoint, json.dumps(digests)),
                )
            }
            decisions: list[Outcome | bool] = []
            for lead, digest in zip(leads, digests, strict=True):
                decision = self._claim(lead, digest, known.get(digest))
                if not isinstance(decision, Outcome):
                    known[digest] = ("claimed", None, None, "", self.run_id, int(decision))
                decisions.append(decision)
            return decisions

    def _claim(self, lead: Lead, digest: str, row: tuple[Any, ...] | None) -> Outcome | bool:
        """One lead of `claim`, given its row in the journal (None: never seen)."""
        if row is None:
            if (same := self._same_contact(lead, digest)) is not None:
                return same
            self._db.execute(
                "INSERT INTO leads (endpoint, key_hash, status, run_id, source_row,"
                " first_seen, updated) VALUES (?, ?, 'claimed', ?, ?, ?, ?)",
                (self.endpoint, digest, self.run_id, lead.row, _now(), _now()),
            )
            self._record_contacts(lead, digest)
            return False
        status, intake_id, posted_at, updated, run_id, unanswered = row
        if status in {"posted", "unconfirmed"} and not self.repost:
            if status == "posted":
                # Posted before this journal kept contacts, or with other ones: keep them.
                self._record_contacts(lead, digest)
            return _not_again(lead, status, intake_id, posted_at, updated, run_id)
        if status in {"claimed", "sending"} and run_id != self.run_id and self._alive(run_id):
            return Outcome(
                lead.row,
                "failed",
                error=(f"being sent right now by another run ({run_id}); re-run later"),
            )
        if (same := self._same_contact(lead, digest)) is not None:
            return same
        # A dead run's "sending" is a request that may have arrived without an answer;
        # an unconfirmed answer (sent again only with --repost) may have created it.
        unanswered = bool(unanswered) or status in {"sending", "unconfirmed"}
        self._db.execute(
            "UPDATE leads SET status = 'claimed', run_id = ?, source_row = ?, unanswered = ?,"
            " updated = ? WHERE endpoint = ? AND key_hash = ?",
            (self.run_id, lead.row, int(unanswered), _now(), self.endpoint, digest),
        )
        self._record_contacts(lead, digest)
        return unanswered

    def attempting(self, lead: Lead) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE leads SET status = 'sending', attempts = attempts + 1, updated = ?"
                " WHERE endpoint = ? AND key_hash = ?",
                (_now(), self.endpoint, self.hash(lead)),
            )

    def answered(self, lead: Lead, outcome: Outcome) -> None:
        now = _now()
        with self._transaction():
            self._db.execute(
                "UPDATE leads SET status = ?, intake_id = ?, unanswered = ?, updated = ?,"
                " posted_at = CASE WHEN ? = 'posted' THEN ? ELSE posted_at END"
                " WHERE endpoint = ? AND key_hash = ?",
                (
                    outcome.status,
                    outcome.intake_id or None,
                    int(outcome.unanswered),
                    now,
                    outcome.status,
                    now,
                    self.endpoint,
                    self.hash(lead),
                ),
            )

    # ------------------------------------------------------------ contacts (same person)

    def contact_hashes(self, texts: Sequence[str]) -> list[str]:
        return [key_hash(text, self._salt) for text in texts]

    def key_hashes(self, keys: Sequence[str]) -> list[str]:
        return [key_hash(key, self._salt) for key in keys]

    def posted_with(self, hashes: Sequence[str], since: str) -> list[EarlierLead]:
        """Leads posted to this endpoint since `since` holding any of `hashes`: one query."""
        return [_earlier_lead(row) for row in self._contact_rows(hashes, since, in_flight=False)]

    def posted_keys(self, key_hashes: Sequence[str]) -> set[str]:
        rows = self._db.execute(
            "SELECT key_hash FROM leads WHERE endpoint = ? AND status IN ('posted', 'unconfirmed')"
            " AND key_hash IN (SELECT value FROM json_each(?))",
            (self.endpoint, json.dumps(list(key_hashes))),
        )
        return {str(digest) for (digest,) in rows}

    def _contact_rows(
        self, hashes: Sequence[str], since: str, *, in_flight: bool
    ) -> list[tuple[str, ...]]:
        # One JSON parameter instead of one per hash: a chunk has more hashes than
        # SQLite allows parameters.
        return self._db.execute(
            "SELECT c.contact_hash, c.kind, c.key_hash, l.status, COALESCE(l.posted_at, l.updated),"
            " COALESCE(l.intake_id, ''), l.run_id, COALESCE(r.mapping, '')"
            " FROM contacts c JOIN leads l ON l.endpoint = c.endpoint AND l.key_hash = c.key_hash"
            " LEFT JOIN runs r ON r.run_id = l.run_id"
            " WHERE c.endpoint = ? AND c.contact_hash IN (SELECT value FROM json_each(?))"
            " AND ((l.status IN ('posted', 'unconfirmed')"
            "       AND COALESCE(l.posted_at, l.updated) >= ?)"
            "      OR (? AND l.status IN ('claimed', 'sending')))"
            " ORDER BY COALESCE(l.posted_at, l.updated), c.key_hash",
            (self.endpoint, json.dumps(list(hashes)), since, int(in_flight)),
        ).fetchall()

    def _same_contact(self, lead: Lead, digest: str) -> Outcome | None:
        """Inside `claim`'s transaction: another lead of the same person, if any."""
        rule = self.same_contact
        if rule is None or self.repost:
            return None
        hashes = [value for kind, value in lead.contacts if kind in rule.kinds]
        if not hashes:
            return None
        others = [
            row
            for row in self._contact_rows(hashes, rule.since, in_flight=True)
            if row[2] != digest
        ]
        posted = [row for row in others if row[3] in {"posted", "unconfirmed"}]
        if posted:
            lead_hash = posted[0][2]
            earlier = _earlier_lead(posted[0])
            kinds = kinds_text([row[1] for row in posted if row[2] == lead_hash])
            return Outcome(
                lead.row,
                "duplicate",
                error=earlier_lead_error(
                    kinds, earlier.posted_at, earlier.vendor, earlier.intake_id, earlier.confirmed
                ),
            )
        for row in others:
            run_id = row[6]
            if run_id != self.run_id and not self._alive(run_id):
                continue  # a dead run's claim: that lead was not posted
            kinds = kinds_text([other[1] for other in others if other[2] == row[2]])
            return Outcome(lead.row, "failed", error=in_flight_error(kinds, run_id))
        return None

    def _record_contacts(self, lead: Lead, digest: str) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO contacts (endpoint, contact_hash, kind, key_hash)"
            " VALUES (?, ?, ?, ?)",
            [(self.endpoint, value, kind, digest) for kind, value in lead.contacts],
        )

    def _alive(self, run_id: str) -> bool:
        row = self._db.execute(
            "SELECT host, pid, ended FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None or row[2] is not None or row[0] != socket.gethostname():
            # A run on another machine cannot be checked: take it as alive, to be safe.
            return row is not None and row[2] is None
        return _process_exists(int(row[1]))


class _Checkpointer:
    """Checkpoints a journal's WAL every `interval` seconds, in a thread of its own.

    A passive checkpoint never blocks a writer; SQLite lets go of the GIL while
    it copies and syncs. Between two, the WAL holds what was committed since
    the last one.
    """

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self._path = path
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.closing(sqlite3.connect(self._path, timeout=30)) as db:
            db.execute("PRAGMA synchronous=NORMAL")
            while not self._stopping.wait(self._interval):
                with contextlib.suppress(sqlite3.Error):  # busy or full: the next one catches up
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


def _process_exists(pid: int) -> bool:
    # Not os.kill(pid, 0): on Windows that *ends* the process (TerminateProcess).
    # psutil asks each system its own way; loaded only here, as this is rare and
    # its Linux part needs POSIX-only modules the portability tests block.
    import psutil

    return psutil.pid_exists(pid)


def _earlier_lead(row: tuple[str, ...]) -> EarlierLead:
    contact_hash, kind, digest, status, posted_at, intake_id, _, mapping = row
    vendor = vendor_name(mapping) if mapping else "?"
    return EarlierLead(
        contact_hash, kind, digest, posted_at, intake_id, vendor, confirmed=status == "posted"
    )


def _not_again(
    lead: Lead, status: str, intake_id: str | None, posted_at: str, updated: str, run_id: str
) -> Outcome:
    """The outcome of a lead the journal keeps from being sent again."""
    if status == "posted":
        return Outcome(
            lead.row,
            "already_posted",
            intake_id=intake_id or "",
            warnings=[f"posted on {posted_at} (run {run_id}); not sent again"],
        )
    return Outcome(
        lead.row,
        "unconfirmed",
        error=(
            f"run {run_id} on {updated} got an answer that may mean it was created; not sent "
            "again: check Captorra, and to send it anyway re-run with --repost"
        ),
        unanswered=True,
    )


def _run_record(row: tuple[object, ...]) -> RunRecord:
    run_id, started, ended, name, digest, mapping, endpoint, counts, exit_code = row
    return RunRecord(
        str(run_id),
        str(started),
        None if ended is None else str(ended),
        str(name),
        str(digest),
        str(mapping),
        str(endpoint),
        json.loads(str(counts)) if counts else {},
        None if exit_code is None else int(str(exit_code)),
    )
