"""Unattended imports of a drop folder: the nightly job.

`run_batch` imports every spreadsheet in an inbox, oldest first, each with the
mapping profile that matches it, and then tidies the inbox so the next run
knows what is left:

- imported (every row posted, or needing a person)  -> `archive/YYYY-MM-DD/`,
  its results workbook -> `results/`;
- cannot be imported (unreadable, no or several profiles, mapping errors)
  -> `rejected/`, with `<name>.error.txt` saying why and what to do;
- some rows failed transiently, or the run was interrupted -> left in the
  inbox, so the next run retries them (the journal keeps posted rows from
  being sent twice);
- every lead refused alike (a configuration stop about this file's mapping)
  -> `rejected/`, with the reason; the other files go ahead;
- the endpoint or the network is misconfigured (a configuration stop about
  the endpoint) -> the whole batch stops at once, and this file and the rest
  stay in the inbox: they are not at fault;
- modified in the last `settle_seconds` (still being copied) -> left for the
  next run.

A lock file in the inbox makes overlapping runs safe: the second exits at once
with `LockedError` (exit 4), naming the holder. The lock is the operating
system's (flock on Linux and macOS, a byte-range lock on Windows, through
`filelock`), so it is released when its holder dies and a stale lock is simply
taken over. Who holds it is written to a second file beside it, because Windows
forbids reading a locked byte range.

A file that cannot be moved (open in Excel on Windows, a read-only inbox) is
left where it is with a note in its `error`, never lost and never a failed run:
the next run imports it again, the journal answers `already_posted`, and moves it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import httpx
from filelock import FileLock, Timeout

from importer.errors import ExitCode, ImporterError, InputFileError, LockedError, MappingError
from importer.mapping import LoadedMapping
from importer.pipeline import (
    FileReport,
    ImportJob,
    Observer,
    import_files,
    rejection_groups,
    worst,
)
from importer.posting import PostSettings
from importer.profiles import choose_profile, load_profiles
from importer.reading import CSV_SUFFIXES, WORKBOOK_SUFFIXES
from importer.results import free_path
from importer.returns import write_returns

log = logging.getLogger("captorra_importer")

LOCK_NAME = ".captorra-import.lock"
HOLDER_NAME = ".captorra-import.holder"  # who holds the lock: pid and start time


@dataclass(frozen=True)
class BatchJob:
    inbox: Path
    mappings_dir: Path
    post: PostSettings
    journal: Path
    archive: Path | None = None  # default: INBOX/archive
    results: Path | None = None  # default: INBOX/results
    sandbox: bool = False
    settle_seconds: float = 60.0
    duplicate_window: int | None = None  # days; None: each profile's own
    returns: bool = False  # write a returns report of the run's files to `results_dir`

    @property
    def archive_dir(self) -> Path:
        return self.archive or self.inbox / "archive"

    @property
    def results_dir(self) -> Path:
        return self.results or self.inbox / "results"

    @property
    def rejected_dir(self) -> Path:
        return self.inbox / "rejected"


@dataclass
class BatchFile:
    """What became of one file of the inbox."""

    name: str
    outcome: str  # archived | rejected | retry | waiting | stopped
    exit_code: ExitCode
    counts: dict[str, int] = field(default_factory=dict)
    results: Path | None = None
    moved_to: Path | None = None
    error: str = ""
    # Rejected rows grouped by Captorra's text (and the Type sent, for the Type GUID text).
    rejections: list[dict[str, str | int | None]] = field(default_factory=list)


@dataclass
class BatchReport:
    inbox: Path
    started: datetime
    files: list[BatchFile] = field(default_factory=list)
    ended: datetime | None = None
    returns: Path | None = None  # the returns report, with `--returns`
    returns_error: str = ""

    @property
    def exit_code(self) -> ExitCode:
        codes = [file.exit_code for file in self.files]
        return worst([*codes, ExitCode.STOPPED] if self.returns_error else codes)


def run_batch(
    job: BatchJob,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    observer: Observer | None = None,
) -> BatchReport:
    """Import what is in the inbox; see the module docstring."""
    if not job.inbox.is_dir():
        raise InputFileError(f"{job.inbox}: inbox folder not found; check the path")
    report = BatchReport(job.inbox, datetime.now())
    with inbox_lock(job.inbox):
        profiles = load_profiles(job.mappings_dir, environ=environ)
        for path, waiting in _candidates(job):
            if waiting:
                report.files.append(BatchFile(path.name, "waiting", ExitCode.OK))
                log.info("%s: still being written; left for the next run", path.name)
                continue
            done = _import_one(job, path, profiles, transport, environ, observer)
            report.files.append(done)
            _log_file(done)
            if done.exit_code is ExitCode.INTERRUPTED or done.outcome == "stopped":
                break
        if job.returns:
            _write_returns(job, report)
    report.ended = datetime.now()
    _log_run(report)
    return report


# ---------------------------------------------------------------- the lock


@contextmanager
def inbox_lock(inbox: Path) -> Iterator[None]:
    """Hold the inbox's lock file, or raise `LockedError` naming who holds it."""
    lock = FileLock(inbox / LOCK_NAME, timeout=0, mode=0o600)
    holder = inbox / HOLDER_NAME
    try:
        lock.acquire()
    except Timeout:
        try:
            who = holder.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:  # the holder has not written it yet
            who = ""
        raise LockedError(
            f"{inbox}: another import is running ({who or 'unknown'}); this run does nothing"
        ) from None
    try:
        started = datetime.now().isoformat(timespec="seconds")
        holder.write_text(f"pid {os.getpid()}, started {started}\n", encoding="utf-8")
        yield
    finally:
        lock.release()


# ---------------------------------------------------------------- the files


def _candidates(job: BatchJob) -> list[tuple[Path, bool]]:
    """Spreadsheets in the inbox, oldest first, each with whether it is still being written."""
    suffixes = CSV_SUFFIXES | WORKBOOK_SUFFIXES
    files = [
        path
        for path in job.inbox.iterdir()
        if path.is_file()
        and not path.name.startswith((".", "~$"))
        and path.suffix.lower() in suffixes
    ]
    stats = {path: path.stat() for path in files}
    now = time.time()
    ordered = sorted(files, key=lambda path: (stats[path].st_mtime, path.name))
    return [(path, now - stats[path].st_mtime < job.settle_seconds) for path in ordered]


def _import_one(
    job: BatchJob,
    path: Path,
    profiles: list[LoadedMapping],
    transport: httpx.AsyncBaseTransport | None,
    environ: Mapping[str, str] | None,
    observer: Observer | None,
) -> BatchFile:
    try:
        profile = choose_profile(path, profiles).path
        output = _free_name(job.results_dir, f"{path.stem}.results.xlsx")
        imported = import_files(
            ImportJob(
                inputs=(path,),
                mapping=profile,
                output=output,
                post=job.post,
                sandbox=job.sandbox,
                journal=job.journal,
                duplicate_window=job.duplicate_window,
            ),
            transport=transport,
            environ=environ,
            observer=observer,
        ).files[0]
    except (InputFileError, MappingError) as error:
        return _reject(job, path, str(error))
    return _file_done(job, path, imported)


def _write_returns(job: BatchJob, report: BatchReport) -> None:
    """The returns report of this run's results workbooks, beside them."""
    results = [file.results for file in report.files if file.results is not None]
    if not results:
        log.info("no results workbooks this run: no returns report")
        return
    target = _free_name(job.results_dir, f"returns {report.started:%Y-%m-%d}.xlsx")
    try:
        report.returns = write_returns(results, target).path
    except ImporterError as error:
        report.returns_error = f"returns report not written: {error}"
        log.error("%s", report.returns_error)
        return
    log.info("returns report: %s", report.returns)


def _file_done(job: BatchJob, path: Path, imported: FileReport) -> BatchFile:
    rejections = rejection_groups(imported)
    if imported.stop_kind == "mapping":
        rejected = _reject(job, path, imported.stopped)
        rejected.counts, rejected.results = dict(imported.counts), imported.results
        rejected.rejections = rejections
        return rejected
    done = BatchFile(
        path.name, "retry", imported.exit_code, dict(imported.counts), imported.results
    )
    done.rejections = rejections
    if imported.stop_kind == "endpoint":
        done.outcome, done.error = "stopped", imported.stopped
        return done
    if imported.exit_code in {ExitCode.OK, ExitCode.NEEDS_A_PERSON}:
        done.outcome = "archived"
        done.moved_to = _move(path, job.archive_dir / date.today().isoformat(), done)
    return done


def _reject(job: BatchJob, path: Path, error: str) -> BatchFile:
    done = BatchFile(path.name, "rejected", ExitCode.STOPPED, error=error)
    done.moved_to = _move(path, job.rejected_dir, done)
    explained = (done.moved_to or path).name
    (job.rejected_dir / f"{explained}.error.txt").write_text(
        f"{path.name} was not imported:\n\n{error}\n\n"
        "Fix the file or the mapping profiles, then move the file back into the inbox.\n",
        encoding="utf-8",
    )
    return done


def _move(path: Path, folder: Path, done: BatchFile) -> Path | None:
    """Move `path` into `folder` under a free name; None, with a note, when it cannot be moved."""
    target = _free_name(folder, path.name)
    try:
        shutil.move(path, target)
    except OSError as error:
        if not path.exists():
            raise
        # shutil.move copies then deletes across drives: keep only the original.
        target.unlink(missing_ok=True)
        reason = error.strerror or str(error)
        note = (
            f"could not be moved to {folder} ({reason}: open in another program?); "
            "left in the inbox, the next run moves it"
        )
        done.error = f"{done.error}; {note}" if done.error else note
        return None
    return target


def _free_name(folder: Path, name: str) -> Path:
    """`name` in `folder` (created), or `stem (2).ext`, ...: never an existing file."""
    folder.mkdir(parents=True, exist_ok=True)
    return free_path(folder / name)


# ---------------------------------------------------------------- logging


def _log_file(done: BatchFile) -> None:
    counts = ", ".join(f"{status} {n}" for status, n in done.counts.items())
    message = f"{done.name}: {done.outcome}, exit {int(done.exit_code)}"
    # A configuration stop must reach the operator even with --quiet.
    log.log(
        logging.ERROR if done.outcome == "stopped" else logging.INFO,
        "%s%s%s",
        message,
        f" ({counts})" if counts else "",
        f": {done.error}" if done.error else "",
        extra={
            "event": "file",
            "file": done.name,
            "outcome": done.outcome,
            "exit_code": int(done.exit_code),
            "counts": done.counts,
            "error": done.error or None,
        },
    )


def _log_run(report: BatchReport) -> None:
    totals: dict[str, int] = {}
    for file in report.files:
        for status, count in file.counts.items():
            totals[status] = totals.get(status, 0) + count
    seconds = ((report.ended or datetime.now()) - report.started).total_seconds()
    log.info(
        "batch %s: %d file%s, %s, %.1fs, exit %d",
        report.inbox,
        len(report.files),
        "" if len(report.files) == 1 else "s",
        ", ".join(f"{status} {n}" for status, n in totals.items()) or "no rows",
        seconds,
        int(report.exit_code),
        extra={
            "event": "run",
            "files": len(report.files),
            "counts": totals,
            "seconds": round(seconds, 3),
            "exit_code": int(report.exit_code),
        },
    )


class JsonLines(logging.Formatter):
    """One JSON object per log record: for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created).isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        for key in ("event", "file", "outcome", "exit_code", "counts", "error", "files", "seconds"):
            if hasattr(record, key):
                document[key] = getattr(record, key)
        return json.dumps(document, ensure_ascii=False)


def summary_document(report: BatchReport) -> dict[str, object]:
    return {
        "inbox": str(report.inbox),
        "started": report.started.isoformat(timespec="seconds"),
        "ended": report.ended.isoformat(timespec="seconds") if report.ended else None,
        "exit_code": int(report.exit_code),
        "returns": str(report.returns) if report.returns else None,
        "files": [
            {
                "file": file.name,
                "outcome": file.outcome,
                "exit_code": int(file.exit_code),
                "counts": file.counts,
                "rejections": file.rejections,
                "results": str(file.results) if file.results else None,
                "moved_to": str(file.moved_to) if file.moved_to else None,
                "error": file.error or None,
            }
            for file in report.files
        ],
    }
