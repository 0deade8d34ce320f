"""One import, start to finish: read -> map -> validate -> post -> record -> write.

`import_files` is the library entry point behind `validate` and `run`. Each
input gets its own results workbook with a status for every row; a file that
cannot be read or does not fit the mapping is reported and the other inputs
still go ahead. Errors that concern the whole run (the mapping file, the
journal, the endpoint) raise `ImporterError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import httpx

from importer import stages
from importer.contacts import ContactFinder, effective_rule, vendor_name
from importer.errors import ExitCode, ImporterError, InputFileError, MappingError, UsageError
from importer.interrupts import first_ctrl_c_calls
from importer.journal import Journal
from importer.mapping import (
    LoadedMapping,
    Mapping,
    load_mapping,
    resolve_headers,
)
from importer.notes import for_log
from importer.posting import (
    Outcome,
    Poster,
    PostSettings,
    StopKind,
    check_endpoint,
    make_client,
)
from importer.profiles import choose_profile, load_profiles
from importer.reading import Chunk, open_table
from importer.results import ResultsWriter, default_results_path
from importer.sandbox import Sandbox
from importer.stages import CheckedRows as CheckedRows
from importer.stages import check_rows as check_rows

log = logging.getLogger("captorra_importer")

STATUSES = (
    "posted",
    "already_posted",
    "valid",
    "invalid",
    "duplicate",
    "rejected",
    "unconfirmed",
    "failed",
)
SANDBOX_ENDPOINT = "http://sandbox.localhost/api/captorraapi/create"
SANDBOX_LABEL = "sandbox (in-process)"
# Rows read and checked at a time. Every stage holds a chunk at once (and a
# chunk waits in each queue), so this sets the memory; larger chunks check a
# little faster. When sending, the first chunk is small so the first request
# leaves early.
CHUNK_ROWS = 20_000
FIRST_CHUNK_ROWS = 2_000


@dataclass(frozen=True)
class ImportJob:
    """Everything one `validate` or `run` needs; built by the CLI or by code."""

    inputs: tuple[Path, ...]
    mapping: Path | None = None  # one mapping for every input...
    mappings_dir: Path | None = None  # ...or, per input, the profile that matches it
    output: Path | None = None
    sheet: str | int | None = None
    header_row: int | None = None  # overrides the mapping's `read: header_row` (0: none)
    only_failed: bool = False  # a results workbook read again: only rows not posted
    post: PostSettings | None = None  # None: validate only, nothing is sent
    sandbox: bool = False  # post to the in-process sandbox
    journal: Path | None = None
    repost: bool = False  # send rows already posted, and rows matching earlier leads' contacts
    duplicate_window: int | None = None  # days; None: each mapping's own (default 30), 0: off
    now: datetime | None = None  # when the duplicate window ends (default: the time of the run)
    # Validate only: also find rows matching leads the journal says were posted here.
    posted_to: str | None = None


@dataclass
class FileReport:
    input: Path
    results: Path | None = None
    counts: Counter[str] = field(default_factory=Counter)
    started: datetime = field(default_factory=datetime.now)
    ended: datetime | None = None
    mapping: Path | None = None
    id_column: str = ""  # the input column holding the vendor's own lead ID, if one does
    error: str = ""  # why the file could not be imported at all
    stopped: str = ""  # why sending stopped early
    stop_kind: StopKind | None = None
    interrupted: bool = False
    results_note: str = ""  # e.g. the results went to "<name> (2)": the target was locked
    # Rejected rows per (Captorra's text, the Type sent when the text is about its GUID).
    rejections: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def configuration_stop(self) -> bool:
        """Sending stopped because the endpoint or the mapping is misconfigured."""
        return self.stop_kind in {"endpoint", "mapping"}

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.error or self.configuration_stop:
            return ExitCode.STOPPED
        if self.counts["failed"]:
            return ExitCode.RETRY_LATER
        if any(self.counts[name] for name in ("invalid", "duplicate", "rejected", "unconfirmed")):
            return ExitCode.NEEDS_A_PERSON
        return ExitCode.OK

    @property
    def seconds(self) -> float:
        return ((self.ended or datetime.now()) - self.started).total_seconds()


_SEVERITY = (
    ExitCode.OK,
    ExitCode.NEEDS_A_PERSON,
    ExitCode.RETRY_LATER,
    ExitCode.STOPPED,
    ExitCode.INTERRUPTED,
)


def worst(codes: list[ExitCode]) -> ExitCode:
    """The exit code of several files: 130 > 2 > 3 > 1 > 0."""
    return max(codes, key=_SEVERITY.index, default=ExitCode.OK)


@dataclass
class RunReport:
    endpoint: str
    files: list[FileReport]

    @property
    def exit_code(self) -> ExitCode:
        return worst([report.exit_code for report in self.files])


class Observer(Protocol):
    """What the CLI (or a web page) is told while an import runs."""

    def file_started(self, path: Path, rows: int | None) -> None: ...

    def rows_done(self, status: str, count: int) -> None: ...

    def file_finished(self, report: FileReport) -> None: ...


class _Silent:
    def file_started(self, path: Path, rows: int | None) -> None:
        pass

    def rows_done(self, status: str, count: int) -> None:
        pass

    def file_finished(self, report: FileReport) -> None:
        pass


def import_files(
    job: ImportJob,
    *,
    observer: Observer | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: MappingABC[str, str] | None = None,
    cancel: threading.Event | None = None,
) -> RunReport:
    """Validate (and, with `job.post`, send) every input; see the module docstring.

    Setting `cancel` (from another thread: a web page's Stop button) stops sending
    as Ctrl-C does: requests in flight finish, no new one starts, the files are
    reported interrupted.
    """
    if job.output is not None and len(job.inputs) > 1:
        raise UsageError("--output names one results file: use it with one input at a time")
    if (job.mapping is None) == (job.mappings_dir is None):
        raise UsageError(
            "give either a mapping file (--mapping) or a folder of profiles (--mappings-dir)"
        )
    if job.mapping is not None:
        profiles = [load_mapping(job.mapping, environ=environ)]
    else:
        assert job.mappings_dir is not None
        profiles = load_profiles(job.mappings_dir, environ=environ)
    importer = _Importer(job, profiles, observer or _Silent())
    return asyncio.run(importer.run_all(transport, cancel))


class _Importer:
    def __init__(self, job: ImportJob, profiles: list[LoadedMapping], observer: Observer) -> None:
        self.job = job
        self.profiles = profiles
        self.observer = observer
        self.endpoint = "validate only"
        self.poster: Poster | None = None
        self.journal: Journal | None = None
        self.interrupted = False
        self.history: Journal | None = None  # where earlier leads' contacts are looked up
        self.rejections: Counter[tuple[str, str]] = Counter()  # of the file being imported

    async def run_all(
        self, transport: httpx.AsyncBaseTransport | None, cancel: threading.Event | None = None
    ) -> RunReport:
        reports: list[FileReport] = []
        if self.job.post is None:
            self.history = self._read_only_history()
            try:
                for path in self.job.inputs:
                    reports.append(await self.import_file(path))
            finally:
                if self.history is not None:
                    self.history.close()
            return RunReport(self.endpoint, reports)
        settings = self.job.post
        if self.job.sandbox:
            transport = Sandbox().transport()
            settings = PostSettings(**{**settings.__dict__, "endpoint": SANDBOX_ENDPOINT})
        check_endpoint(settings.endpoint)
        # The journal keeps posts per endpoint: sandbox posts must never hide real ones.
        self.endpoint = SANDBOX_LABEL if self.job.sandbox else settings.endpoint
        self.journal = Journal(self.job.journal) if self.job.journal else None
        self.history = self.journal
        try:
            async with make_client(settings, transport) as client:
                self.poster = Poster(
                    client, settings, ledger=self.journal, on_outcome=self._outcome_seen
                )
                async with self._stop_on_cancel(cancel):
                    with self._stop_on_interrupt():
                        for path in self.job.inputs:
                            if self.interrupted:
                                break
                            reports.append(await self.import_file(path))
        finally:
            if self.journal is not None:
                self.journal.close()
        return RunReport(self.endpoint, reports)

    def _read_only_history(self) -> Journal | None:
        """For a check without sending: the journal, if there is one to look in."""
        journal = self.job.journal
        if self.job.posted_to is None or journal is None or not journal.exists():
            return None
        history = Journal(journal)
        history.endpoint = self.job.posted_to
        return history

    @contextlib.contextmanager
    def _stop_on_interrupt(self) -> Iterator[None]:
        """Ctrl-C stops sending; a second Ctrl-C stops at once."""

        def interrupted() -> None:
            self.interrupted = True
            if self.poster is not None:
                self.poster.stop("interrupted (Ctrl-C); re-run to send")

        with first_ctrl_c_calls(interrupted):
            yield

    @contextlib.asynccontextmanager
    async def _stop_on_cancel(self, cancel: threading.Event | None) -> AsyncIterator[None]:
        """`cancel` set from another thread stops sending, as Ctrl-C does."""
        if cancel is None:
            yield
            return

        async def watch() -> None:
            while not cancel.is_set():
                await asyncio.sleep(0.05)
            self.interrupted = True
            if self.poster is not None:
                self.poster.stop("cancelled; re-run to send")

        watcher = asyncio.create_task(watch())
        try:
            yield
        finally:
            watcher.cancel()

    def _outcome_seen(self, outcome: Outcome) -> None:
        if outcome.status == "rejected":
            self.rejections[(outcome.error, outcome.type_guid)] += 1
        self.observer.rows_done(outcome.status, 1)

    async def import_file(self, path: Path) -> FileReport:
        report = FileReport(path)
        try:
            await self._import_file(path, report)
        except ImporterError as error:
            if self.job.inputs == (path,) or not _concerns_file(error):
                raise
            report.error = str(error)
            log.error("%s", error)
        report.ended = datetime.now()
        report.interrupted = self.interrupted
        self.observer.file_finished(report)
        return report

    def _mapping_for(self, path: Path) -> LoadedMapping:
        if self.job.mappings_dir is None:
            return self.profiles[0]
        return choose_profile(path, self.profiles)

    async def _import_file(self, path: Path, report: FileReport) -> None:
        loaded = self._mapping_for(path)
        report.mapping = loaded.path
        options = loaded.mapping.read.options()
        if self.job.sheet is not None:
            options = type(options)(**{**options.__dict__, "sheet": self.job.sheet})
        if self.job.header_row is not None:
            options = type(options)(**{**options.__dict__, "header_row": self.job.header_row})
        if self.job.only_failed:
            options = type(options)(**{**options.__dict__, "only_failed": True})
        options = dataclasses.replace(options, chunk_rows=CHUNK_ROWS)
        if self.poster is not None:  # the first request leaves once a few rows are checked
            options = dataclasses.replace(options, first_chunk_rows=FIRST_CHUNK_ROWS)
        table = open_table(path, options)
        for note in table.notes:
            log.warning("%s", for_log(note))
        headers = resolve_headers(loaded, table.columns, path)
        id_spec = loaded.mapping.fields.get("ID")
        if id_spec is not None and id_spec.column is not None:
            report.id_column = headers[id_spec.column]
        target = self.job.output or default_results_path(path)
        if self.journal is not None:
            self.journal.start_run(
                input_path=path,
                input_sha256=_sha256(path),
                mapping=loaded.path,
                endpoint=self.endpoint,
                repost=self.job.repost,
            )
        self.observer.file_started(path, table.row_count)
        self.rejections = report.rejections
        if self.poster is not None:
            self.poster.start_file()
        contacts = ContactFinder(
            effective_rule(loaded.mapping.duplicates, self.job.duplicate_window),
            self.history,
            repost=self.job.repost,
            now=self.job.now,
        )
        if self.journal is not None:
            self.journal.same_contact = contacts.claim
        with ResultsWriter(
            target, input_columns=table.columns, protected=self.job.inputs
        ) as writer:
            await self._stream(table.chunks, loaded.mapping, headers, contacts, writer, report)
            report.ended = datetime.now()
            if self.poster is not None and self.poster.stopped:
                report.stopped = self.poster.stopped.text
                report.stop_kind = self.poster.stopped.kind
            report.results = writer.finish(self._summary(path, report))
            report.results_note = writer.note
        if self.poster is not None and self.poster.journal_error is not None:
            raise self.poster.journal_error  # after the results: they say what was sent
        if self.journal is not None:
            self.journal.finish_run(report.counts, int(report.exit_code))

    async def _stream(
        self,
        chunks: Iterator[Chunk],
        mapping: Mapping,
        headers: MappingABC[str, str],
        contacts: ContactFinder,
        writer: ResultsWriter,
        report: FileReport,
    ) -> None:
        """read -> check -> send -> write, all at once, joined by bounded queues."""
        read: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=1)
        checked: asyncio.Queue[stages.Batch | None] = asyncio.Queue(maxsize=1)
        answered: asyncio.Queue[stages.Batch | None] = asyncio.Queue(maxsize=stages.REORDER_SLICES)
        if self.poster is None:  # validate only: checked rows go straight to the results
            answered = checked
        # Sending: the rest of the file is read once the first leads have left.
        under_way = asyncio.Event() if self.poster else None
        await stages.run_stages(
            stages.read(chunks, read, after_first=under_way),
            stages.check(
                read,
                checked,
                mapping=mapping,
                headers=headers,
                contacts=contacts,
                statuses_known=self._checked,
            ),
            *(
                [stages.send(checked, answered, poster=self.poster, under_way=under_way)]
                if self.poster
                else []
            ),
            stages.write(answered, writer, counts=report.counts),
        )

    def _checked(self, counts: Counter[str]) -> None:
        """Rows settled by the check; valid rows are reported when answered, if sent."""
        for status, count in counts.items():
            if status != "valid" or self.poster is None:
                self.observer.rows_done(status, count)

    def _summary(self, path: Path, report: FileReport) -> dict[str, str | int | float]:
        ended = report.ended or datetime.now()
        summary: dict[str, str | int | float] = {
            status: report.counts[status] for status in STATUSES if report.counts[status]
        }
        summary["rows"] = sum(report.counts.values())
        summary |= {
            "Input file": str(path),
            "Mapping file": str(report.mapping),
            "Vendor": vendor_name(report.mapping) if report.mapping else "",
            "Vendor lead ID column": report.id_column,
            "Endpoint": self.endpoint,
            "Started": report.started.isoformat(sep=" ", timespec="seconds"),
            "Ended": ended.isoformat(sep=" ", timespec="seconds"),
            "Duration (s)": round(report.seconds, 2),
        }
        if report.stopped:
            summary["Stopped"] = report.stopped
        for (error, type_guid), count in report.rejections.most_common():
            summary[f"Rejected: {rejection_label(error, type_guid)}"] = count
        return summary


def rejection_groups(report: FileReport) -> list[dict[str, str | int | None]]:
    """The rejections of a file for a JSON summary, the most frequent first."""
    return [
        {"error": error, "type": type_guid or None, "rows": count}
        for (error, type_guid), count in report.rejections.most_common()
    ]


def rejection_label(error: str, type_guid: str) -> str:
    """Captorra's text, with the Type sent when the text is about the Type GUID."""
    return f"{error} (Type {type_guid})" if type_guid else error


def _concerns_file(error: ImporterError) -> bool:
    return isinstance(error, InputFileError | MappingError)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
