"""Step 4, the send: `import_files` in a background thread, its progress shared with the page.

The thread runs the pipeline exactly as `captorra-import run` does (journal,
retries, breaker, results workbook); the page reads a snapshot of the counts
the pipeline's Observer calls report. Cancel is Ctrl-C: requests in flight
finish, no new one starts, and the rows not sent are `failed` ("not sent"), so
a later send picks them up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from importer.errors import ImporterError
from importer.pipeline import STATUSES, FileReport, ImportJob, Observer, RunReport, import_files

log = logging.getLogger("captorra_importer")

State = Literal["running", "stopping", "finished", "failed"]

# `import_files(..., cancel=threading.Event)` is the pipeline's way to stop from
# another thread; until a pipeline has it, a send cannot be cancelled from the page.


@dataclass(frozen=True)
class Progress:
    """A snapshot of one send, for the page."""

    state: State
    total: int
    counts: dict[str, int]
    seconds: float
    error: str = ""  # why the send could not run at all
    stopped: str = ""  # why sending stopped early
    results: Path | None = None
    exit_code: int | None = None
    cancelled: bool = False

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))

    @property
    def over(self) -> bool:
        return self.state in ("finished", "failed")

    def document(self) -> dict[str, Any]:
        """The snapshot as JSON for the page's script: counts only, no personal data."""
        return {
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "counts": [[status, self.counts[status]] for status in ordered(self.counts)],
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "stopped": self.stopped,
        }


def ordered(counts: dict[str, int]) -> list[str]:
    """The statuses present, in the pipeline's order."""
    return [status for status in STATUSES if counts.get(status)]


@dataclass
class _Shared:
    state: State = "running"
    total: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    report: FileReport | None = None
    error: str = ""
    ended: float | None = None


class Run:
    """One send of one upload; it is also the pipeline's Observer for that send."""

    def __init__(
        self, job: ImportJob, *, total: int, friendly: Callable[[object], str] = str
    ) -> None:
        self.job = job
        self._friendly = friendly
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._shared = _Shared(total=total)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="captorra-ui-send", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Start no more requests (like Ctrl-C); requests in flight finish."""
        self._cancel.set()
        with self._lock:
            if self._shared.state == "running":
                self._shared.state = "stopping"

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the send to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> Progress:
        with self._lock:
            shared = self._shared
            report = shared.report
            ended = shared.ended or time.monotonic()
            return Progress(
                state=shared.state,
                total=max(shared.total, sum(shared.counts.values())),
                counts=dict(shared.counts),
                seconds=ended - self._started,
                error=shared.error,
                stopped=report.stopped if report else "",
                results=report.results if report else None,
                exit_code=int(report.exit_code) if report else None,
                cancelled=self._cancel.is_set(),
            )

    # ------------------------------------------------------------ Observer

    def file_started(self, path: Path, rows: int | None) -> None:
        if rows is not None:
            with self._lock:
                self._shared.total = rows

    def rows_done(self, status: str, count: int) -> None:
        with self._lock:
            self._shared.counts[status] += count

    def file_finished(self, report: FileReport) -> None:
        with self._lock:
            self._shared.report = report
            # The pipeline's counts are the truth (an already_posted row was first
            # reported when it was found, and only once).
            self._shared.counts = Counter(report.counts)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        state: State = "finished"
        error = ""
        try:
            _import(self.job, observer=self, cancel=self._cancel)
        except ImporterError as failure:
            state, error = "failed", self._friendly(failure)
        except Exception as failure:  # the page must say something; never a traceback with data
            log.error("sending stopped by an unexpected %s", type(failure).__name__)
            state = "failed"
            error = f"an unexpected error stopped sending ({type(failure).__name__})"
        with self._lock:
            self._shared.state = state
            self._shared.error = error
            self._shared.ended = time.monotonic()


def _import(job: ImportJob, *, observer: Observer, cancel: threading.Event) -> RunReport:
    return import_files(job, observer=observer, cancel=cancel)
