"""3. Posting end to end: `import_files` to a sandbox server on loopback.

Each level runs the whole pipeline (read, map, validate, post with a fresh
journal, write the results workbook) against `python -m importer sandbox` in
its own process, so the server's work is not charged to the client. With
latency L and N requests in flight, no client can post more than N / L leads
a second: the target is that end to end, reading and writing included, the
importer reaches 90% of that bound. Throughput counts requests sent (posted +
rejected); invalid and duplicate rows are never sent and are not counted.

Each level is followed by a lean reference client on the same server (aiohttp
alone, no journal, the same payloads, about 6 s of requests at the bound):
what this machine and this server allow any client, measured in the same run.
Its rate, like the importer's "sending phase", runs from the first answer to
the last (plus one latency).

Client CPU is `time.process_time()` of this process around `import_files` at
zero latency; the same import without posting gives the share of posting, which
is set against the bare aiohttp client's CPU per request on the same server
(target: at most 1.5x).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import ENVIRON, MAPPING, ROOT, WORK, Check, Outcome, Scale, lead_file
from benchmarks.map_validate import prepared
from importer.mapping import apply_mapping
from importer.pipeline import FileReport, ImportJob, import_files
from importer.posting import PostSettings

LATENCY = 0.050
LEVELS = (8, 16, 64)
CPU_CONCURRENCY = 16
REFERENCE_SECONDS = 6.0
FRACTION_TARGET = 90.0
CPU_RATIO_TARGET = 1.5
REFERENCE_CPU_REQUESTS = 5_000
_URL = re.compile(r"http://127\.0\.0\.1:\d+/\S*")
_SENT = ("posted", "rejected")
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """utime + stime of the server process (Linux only)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def sandbox_server(latency: float) -> Iterator[Server]:
    """`captorra-import sandbox` on a free loopback port, in a child process.

    It is stopped with Ctrl-C (SIGINT) on exit.
    """
    WORK.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-u", "-m", "importer", "sandbox", "--host", "127.0.0.1"]
    command += ["--port", "0", "--latency", str(latency)]
    with (WORK / "sandbox.log").open("a") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout is not None
        yield Server(_announced_url(process), process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _announced_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            raise RuntimeError("the sandbox server did not start within 30 s")
    line = process.stdout.readline()
    match = _URL.search(line)
    if match is None:
        raise RuntimeError(f"the sandbox server said {line!r}, not its URL (see work/sandbox.log)")
    return match.group()


@dataclass
class Timeline:
    """An observer noting when the file started and when answers came back."""

    started: float = 0.0
    first_answer: float = 0.0
    last_answer: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)

    def file_started(self, path: Path, rows: int | None) -> None:
        self.started = time.perf_counter()

    def rows_done(self, status: str, count: int) -> None:
        self.counts[status] += count
        if status in _SENT:
            self.last_answer = time.perf_counter()
            self.first_answer = self.first_answer or self.last_answer

    def file_finished(self, report: FileReport) -> None:
        pass


def import_once(path: Path, *, endpoint: str | None, concurrency: int, tag: str) -> dict[str, Any]:
    """One `import_files` of `path` (validate only when `endpoint` is None), measured."""
    journal = WORK / f"post-{tag}.journal.sqlite3"
    for stale in (journal, Path(f"{journal}-wal"), Path(f"{journal}-shm")):
        stale.unlink(missing_ok=True)
    post = None
    if endpoint is not None:
        post = PostSettings(endpoint=endpoint, concurrency=concurrency, retries=0)
    job = ImportJob(
        inputs=(path,),
        mapping=MAPPING,
        output=WORK / f"post-{tag}.results.xlsx",
        post=post,
        journal=journal if post else None,
        # Generated files reuse the 50 fictional numbers of each area code: with the
        # same-contact check on, most rows would be duplicates and never sent.
        duplicate_window=0,
    )
    timeline = Timeline()
    gc.collect()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    report = import_files(job, observer=timeline, environ=ENVIRON)
    cpu = time.process_time() - cpu_started
    wall = time.perf_counter() - wall_started
    counts = dict(report.files[0].counts)
    return {
        "concurrency": concurrency,
        "wall_s": wall,
        "client_cpu_s": cpu,
        "counts": counts,
        "sent": sum(counts.get(status, 0) for status in _SENT),
        "rows": sum(counts.values()),
        "timeline": timeline,
        "t0": wall_started,
    }


def _level(path: Path, server: Server, concurrency: int) -> tuple[Check, dict[str, Any]]:
    server_cpu = server.cpu_seconds()
    result = import_once(path, endpoint=server.url, concurrency=concurrency, tag=f"c{concurrency}")
    timeline: Timeline = result.pop("timeline")
    started: float = result.pop("t0")
    bound = concurrency / LATENCY
    achieved = result["sent"] / result["wall_s"]
    fraction = 100.0 * achieved / bound
    sending = timeline.last_answer - timeline.first_answer + LATENCY
    result |= {
        "bound_rows_per_s": bound,
        "rows_per_s": achieved,
        "fraction_of_bound_pct": fraction,
        "reading_s": timeline.started - started,
        # Before the first answer: reading, mapping, validating, one round trip.
        "until_first_answer_s": timeline.first_answer - started,
        "sending_s": sending,
        "sending_fraction_of_bound_pct": 100.0 * result["sent"] / sending / bound,
        "after_last_answer_s": started + result["wall_s"] - timeline.last_answer,
    }
    if server_cpu is not None and (after := server.cpu_seconds()) is not None:
        result["server_cpu_s"] = after - server_cpu
    failed = result["counts"].get("failed", 0)
    check = Check(
        f"{result['rows'] // 1000}k rows at {concurrency} in flight, of {bound:,.0f}/s bound",
        fraction,
        "%",
        f">= {FRACTION_TARGET:g}%",
        fraction >= FRACTION_TARGET and not failed,
        f"{achieved:,.0f} sent/s in {result['wall_s']:.1f} s; sending phase "
        f"{result['sending_fraction_of_bound_pct']:.1f}%; "
        f"{result['until_first_answer_s']:.1f} s before, "
        f"{result['after_last_answer_s']:.1f} s after" + (f"; {failed} FAILED" if failed else ""),
    )
    return check, result


def payloads(path: Path, count: int) -> list[bytes]:
    """The request bodies of the first `count` rows of `path`, as the importer would send them."""
    loaded, chunks, headers = prepared(path)
    mapped = apply_mapping(loaded.mapping, chunks[0].frame.iloc[:count], headers)
    return [
        json.dumps(
            {name: text for name, text in record.items() if text}, ensure_ascii=False
        ).encode()
        for record in mapped.values.to_dict("records")
    ]


async def _reference_answers(url: str, bodies: list[bytes], concurrency: int) -> list[float]:
    answers: list[float] = []
    pending = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for body in pending:
                async with session.post(url, data=body, headers=_JSON) as response:
                    await response.read()
                answers.append(time.perf_counter())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


def _reference(
    server: Server, bodies: list[bytes], concurrency: int
) -> tuple[Check, dict[str, Any]]:
    """The lean reference client at one level: the ceiling for any client here."""
    gc.collect()
    cpu = time.process_time()
    answers = asyncio.run(_reference_answers(server.url, bodies, concurrency))
    cpu = time.process_time() - cpu
    bound = concurrency / LATENCY
    fraction = 100.0 * len(answers) / (answers[-1] - answers[0] + LATENCY) / bound
    check = Check(
        f"  reference client (aiohttp alone, no journal), {len(bodies):,} requests",
        fraction,
        "%",
        detail=f"the ceiling here; client CPU {1e6 * cpu / len(answers):.0f} us per request",
    )
    return check, {"requests": len(answers), "fraction_of_bound_pct": fraction, "client_cpu_s": cpu}


def _cpu(path: Path, bodies: list[bytes]) -> tuple[list[Check], dict[str, Any]]:
    # First, so that the posting import is not charged for modules imported on first use.
    validating = import_once(path, endpoint=None, concurrency=CPU_CONCURRENCY, tag="validate")
    with sandbox_server(0.0) as server:
        before = server.cpu_seconds()
        posting = import_once(path, endpoint=server.url, concurrency=CPU_CONCURRENCY, tag="cpu")
        after = server.cpu_seconds()
        gc.collect()
        reference_cpu = time.process_time()
        asyncio.run(_reference_answers(server.url, bodies, CPU_CONCURRENCY))
        reference_per_1k = 1000 * (time.process_time() - reference_cpu) / len(bodies)
    for result in (posting, validating):
        del result["timeline"], result["t0"]
    rows, sent = posting["rows"], posting["sent"]
    per_1k = 1000 * posting["client_cpu_s"] / rows
    sending_per_1k = 1000 * (posting["client_cpu_s"] - validating["client_cpu_s"]) / sent
    raw: dict[str, Any] = {
        "posting": posting,
        "validate_only": validating,
        "client_cpu_s_per_1k_rows": per_1k,
        "client_posting_cpu_s_per_1k_sent": sending_per_1k,
        "reference_cpu_s_per_1k_sent": reference_per_1k,
    }
    if before is not None and after is not None:
        raw["server_cpu_s_per_1k_sent"] = 1000 * (after - before) / sent
    checks = [
        Check(
            "client CPU per 1,000 rows, end to end, zero latency",
            per_1k,
            "s",
            detail=f"{posting['client_cpu_s']:.2f} s CPU for {rows:,} rows in "
            f"{posting['wall_s']:.1f} s at {CPU_CONCURRENCY} in flight",
        ),
        Check(
            "  of which posting (minus a validate-only import)",
            sending_per_1k,
            "s",
            detail=f"per 1,000 sent; validate-only import {validating['client_cpu_s']:.2f} s CPU"
            + (
                f"; server {raw['server_cpu_s_per_1k_sent']:.3f} s per 1,000"
                if "server_cpu_s_per_1k_sent" in raw
                else ""
            ),
        ),
        Check(
            "  posting CPU per lead, vs a bare aiohttp client",
            sending_per_1k / reference_per_1k,
            "x",
            f"<= {CPU_RATIO_TARGET:g}x",
            sending_per_1k / reference_per_1k <= CPU_RATIO_TARGET,
            f"bare aiohttp {reference_per_1k:.3f} s per 1,000 requests "
            f"({len(bodies):,} requests, same server, {CPU_CONCURRENCY} in flight)",
        ),
    ]
    return checks, raw


def run(scale: Scale) -> Outcome:
    path = lead_file(scale.post_rows, "xlsx")
    checks: list[Check] = []
    raw: dict[str, Any] = {"latency_s": LATENCY, "rows": scale.post_rows, "levels": []}
    bodies = payloads(path, scale.post_rows)
    with sandbox_server(LATENCY) as server:
        for concurrency in LEVELS:
            check, result = _level(path, server, concurrency)
            # About REFERENCE_SECONDS of requests at the bound, whatever the level.
            count = round(concurrency / LATENCY * REFERENCE_SECONDS)
            reference, result["reference"] = _reference(server, bodies[:count], concurrency)
            checks += [check, reference]
            raw["levels"].append(result)
            print(f"  {check.measure}: {check.shown()}; reference {reference.shown()}", flush=True)
    cpu_checks, raw["zero_latency"] = _cpu(path, bodies[:REFERENCE_CPU_REQUESTS])
    return Outcome("post", checks + cpu_checks, raw)
