"""5. Peak memory: `captorra-import validate` and `run` on a large CSV, in a child process.

Peak RSS is the child's own `ru_maxrss`, from `os.wait4` on its pid, taken
by a small go-between process: Linux keeps the high-water mark a process had
*before* exec, so a child forked straight from this (large) process would
report at least this process's own RSS. RUSAGE_CHILDREN would also count the
sandbox servers other benchmarks start.

Results go to a CSV (`--output x.csv`): the xlsx writer runs in constant
memory too, but would double the time of the million-row run.

`run` posts to a sandbox server on loopback (zero latency) for
`POST_SECONDS`, then gets Ctrl-C: sending that many leads takes minutes, but
the posting stage is at full speed when the peak is reached (the reader has
long been held back by the queues), and after Ctrl-C the rest of the file still
flows through reading, checking and writing as "not sent".

Growth is judged net of what any run costs (the interpreter, pandas, the
mapping): a 1,000-row run gives that floor, and going from the small to the
large file (10x the rows) must add less than 10x the memory above it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ENVIRON, MAPPING, ROOT, WORK, Check, Outcome, Scale, lead_file
from benchmarks.post import sandbox_server

LIMIT_MIB = 1024.0
FLOOR_ROWS = 1_000
NOISE_MIB = 8.0


POST_SECONDS = 20.0


# Runs argv[2:], sends it SIGINT after argv[1] seconds (if not 0 and it still runs),
# then prints its exit code, ru_maxrss and CPU seconds as JSON. Only wait4 reaps the
# child: its resource usage is read there.
_GO_BETWEEN = """
import json, os, signal, subprocess, sys, time
child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
deadline = time.monotonic() + float(sys.argv[1])
pid, status, usage = os.wait4(child.pid, os.WNOHANG)
while float(sys.argv[1]) and not pid and time.monotonic() < deadline:
    time.sleep(0.05)
    pid, status, usage = os.wait4(child.pid, os.WNOHANG)
if not pid:
    if float(sys.argv[1]):
        child.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(child.pid, 0)
code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
print(json.dumps({"exit_code": code, "ru_maxrss": usage.ru_maxrss, "cpu_s": cpu}))
"""


def validate_in_child(path: Path, *, endpoint: str | None = None) -> dict[str, Any]:
    """Run `captorra-import validate` on `path` (`run` to `endpoint`, stopped after
    `POST_SECONDS`); its peak RSS, wall time and exit code."""
    verb = "validate" if endpoint is None else "run"
    output = WORK / f"memory-{verb}-{path.stem}.results.csv"
    log = WORK / f"memory-{verb}-{path.stem}.log"
    command = [sys.executable, "-m", "importer", verb, str(path)]
    command += ["--mapping", str(MAPPING), "--output", str(output), "--quiet"]
    interrupt = 0.0
    if endpoint is not None:
        journal = WORK / f"memory-{path.stem}.journal.sqlite3"
        for stale in (journal, Path(f"{journal}-wal"), Path(f"{journal}-shm")):
            stale.unlink(missing_ok=True)
        command += ["--endpoint", endpoint, "--journal", str(journal), "--concurrency", "16"]
        interrupt = POST_SECONDS
    started = time.perf_counter()
    with log.open("w") as stderr:
        measured = subprocess.run(
            [sys.executable, "-c", _GO_BETWEEN, str(interrupt), *command],
            cwd=ROOT,
            env={**os.environ, **ENVIRON},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            check=True,
        )
    wall = time.perf_counter() - started
    result = json.loads(measured.stdout)
    # 1: some rows are invalid, as planted; 130: `run` was stopped with Ctrl-C.
    if result["exit_code"] not in (0, 1, 130):
        raise RuntimeError(
            f"{verb} {path.name} exited {result['exit_code']}: {log.read_text()[-2000:]}"
        )
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "peak_rss_mib": result.pop("ru_maxrss") * scale / 2**20,
        "wall_s": wall,
        **result,
    }


def run(scale: Scale) -> Outcome:
    small_rows, large_rows = scale.memory_rows
    runs = {
        rows: validate_in_child(lead_file(rows, "csv"))
        for rows in (FLOOR_ROWS, small_rows, large_rows)
    }
    floor, small, large = (
        runs[rows]["peak_rss_mib"] for rows in (FLOOR_ROWS, small_rows, large_rows)
    )
    rows_ratio = large_rows / small_rows
    # A small run that needs no more than the floor gives no growth to speak of.
    growth = (large - floor) / (small - floor) if small - floor >= NOISE_MIB else None
    checks = [
        Check(
            f"peak RSS, validate {large_rows:,}-row CSV",
            large,
            "MiB",
            f"<= {LIMIT_MIB:,.0f} MiB",
            large <= LIMIT_MIB,
            f"{runs[large_rows]['wall_s']:.1f} s, {large_rows / runs[large_rows]['wall_s']:,.0f} "
            f"rows/s; {runs[large_rows]['file_bytes'] / 2**20:,.0f} MiB file; --output .csv",
        ),
        Check(
            f"memory growth {small_rows:,} -> {large_rows:,} rows, above the floor",
            growth,
            "x",
            f"< {rows_ratio:g}x (sublinear)",
            growth is not None and growth < rows_ratio,
            f"{small:,.0f} -> {large:,.0f} MiB (raw {large / small:.2f}x); "
            f"floor {floor:,.0f} MiB at {FLOOR_ROWS:,} rows",
        ),
    ]
    posting, posting_checks = _posting(small_rows, large_rows, floor)
    raw = {
        "runs": {str(rows): result for rows, result in runs.items()},
        "growth": growth,
        "posting": posting,
    }
    return Outcome("memory", checks + posting_checks, raw)


def _posting(small_rows: int, large_rows: int, floor: float) -> tuple[dict[str, Any], list[Check]]:
    """Peak RSS of `run` posting the small and the large file (see the module docstring)."""
    with sandbox_server(0.0) as server:
        runs = {
            rows: validate_in_child(lead_file(rows, "csv"), endpoint=server.url)
            for rows in (small_rows, large_rows)
        }
    small, large = (runs[rows]["peak_rss_mib"] for rows in (small_rows, large_rows))
    growth = (large - floor) / (small - floor) if small - floor >= NOISE_MIB else None
    checks = [
        Check(
            f"peak RSS, run (posting) {large_rows:,}-row CSV",
            large,
            "MiB",
            f"<= {LIMIT_MIB:,.0f} MiB",
            large <= LIMIT_MIB,
            f"{POST_SECONDS:g} s posting at 16 in flight, zero latency, then Ctrl-C; "
            f"all rows read, checked and written; {runs[large_rows]['wall_s']:.1f} s",
        ),
        Check(
            f"  growth {small_rows:,} -> {large_rows:,} rows, above the floor",
            growth,
            "x",
            f"< {large_rows / small_rows:g}x (sublinear)",
            growth is not None and growth < large_rows / small_rows,
            f"{small:,.0f} -> {large:,.0f} MiB (raw {large / small:.2f}x)",
        ),
    ]
    return {str(rows): result for rows, result in runs.items()}, checks
