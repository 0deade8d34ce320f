"""6. Time to the first request: how soon `run` starts sending a large workbook.

The clock runs from the call of `import_files` (reading, mapping and checking
included) to the moment the first request reaches the transport. The baseline is
a full `validate` of the same file (read, check, results workbook written): the
pipeline streams, so the first lead should leave after a small part of that.

Sending goes to the in-process sandbox; once the first request is seen, the
import is cancelled (as Ctrl-C does), so the rest of the file is read, checked
and written as "not sent": that time is reported, not judged.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ENVIRON, MAPPING, WORK, Check, Outcome, Scale, lead_file
from importer.pipeline import FIRST_CHUNK_ROWS, ImportJob, import_files
from importer.posting import PostSettings
from importer.reading import ReadOptions, open_table
from importer.sandbox import SANDBOX_PATH, Sandbox

TARGET_PCT = 15.0


class _FirstRequest(httpx.AsyncBaseTransport):
    """The sandbox, noting when the first request arrives and then stopping the import."""

    def __init__(self, cancel: threading.Event) -> None:
        self.inner = Sandbox().transport()
        self.cancel = cancel
        self.first: float | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.first is None:
            self.first = time.perf_counter()
            self.cancel.set()
        return await self.inner.handle_async_request(request)


def _validate(path: Path) -> float:
    job = ImportJob(inputs=(path,), mapping=MAPPING, output=WORK / "first-validate.xlsx")
    started = time.perf_counter()
    import_files(job, environ=ENVIRON)
    return time.perf_counter() - started


def _first_request(path: Path) -> dict[str, float]:
    journal = WORK / "first-request.journal.sqlite3"
    for stale in (journal, Path(f"{journal}-wal"), Path(f"{journal}-shm")):
        stale.unlink(missing_ok=True)
    job = ImportJob(
        inputs=(path,),
        mapping=MAPPING,
        output=WORK / "first-request.xlsx",
        post=PostSettings(endpoint=f"http://127.0.0.1:9{SANDBOX_PATH}", concurrency=16),
        journal=journal,
    )
    opened = time.perf_counter()
    table = open_table(path, ReadOptions(first_chunk_rows=FIRST_CHUNK_ROWS))
    next(table.chunks)
    opened = time.perf_counter() - opened
    del table
    cancel = threading.Event()
    transport = _FirstRequest(cancel)
    started = time.perf_counter()
    import_files(job, transport=transport, environ=ENVIRON, cancel=cancel)
    ended = time.perf_counter()
    assert transport.first is not None, "no request was sent"
    return {
        "first_request_s": transport.first - started,
        "first_chunk_read_s": opened,
        "whole_run_s": ended - started,
    }


def run(scale: Scale) -> Outcome:
    path = lead_file(scale.read_rows, "xlsx")
    firsts: list[dict[str, float]] = []
    validates: list[float] = []
    for _ in range(scale.repeats):  # alternating, best of each
        firsts.append(_first_request(path))
        validates.append(_validate(path))
    best = min(firsts, key=lambda result: result["first_request_s"])
    first = best["first_request_s"]
    validate = min(validates)
    share = 100.0 * first / validate
    check = Check(
        f"first request, {scale.read_rows:,}-row XLSX, share of a full validate",
        share,
        "%",
        f"< {TARGET_PCT:g}%",
        share < TARGET_PCT,
        f"{first:.2f} s vs validate {validate:.2f} s; opening the workbook and reading "
        f"its first {FIRST_CHUNK_ROWS:,} rows, timed apart: {best['first_chunk_read_s']:.2f} s",
    )
    raw: dict[str, Any] = {"runs": firsts, "validate_s": validates, "share_pct": share}
    return Outcome("first-request", [check], raw)
