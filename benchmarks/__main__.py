"""`python -m benchmarks [--quick] [--only NAME]`: run the benchmarks, print one table.

A full run also writes every raw number, with the machine and the versions, to
`benchmarks/results.json`; `--quick` (a tenth of the sizes, a smoke test) and
`--only` write `benchmarks/work/results-partial.json` instead, so they never
replace the record of a full run. Exit code: 0 every target met, 1 a target
missed, 2 a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import first_request, map_validate, memory, post, read, write
from benchmarks.common import WORK, Check, Outcome, Scale

BENCHMARKS: dict[str, Callable[[Scale], Outcome]] = {
    "read": read.run,
    "map+validate": map_validate.run,
    "first-request": first_request.run,
    "post": post.run,
    "write": write.run,
    "memory": memory.run,
}
RESULTS = Path(__file__).resolve().parent / "results.json"
PARTIAL = WORK / "results-partial.json"
_PACKAGES = ("pandas", "numpy", "pyarrow", "pandera", "pydantic", "python-calamine", "openpyxl",
             "xlsxwriter", "httpx", "aiohttp", "uvicorn")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes (smoke test)")
    parser.add_argument(
        "--only", choices=list(BENCHMARKS), action="append", help="run this one (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="where to write the raw results")
    args = parser.parse_args(argv)
    scale = Scale.smoke() if args.quick else Scale.full()
    names = args.only or list(BENCHMARKS)
    target = args.json or (PARTIAL if args.quick or args.only else RESULTS)
    started = time.perf_counter()
    outcomes = [_run_one(name, scale) for name in names]
    seconds = time.perf_counter() - started
    print()
    print(render(outcomes))
    print(f"\n{len(names)} benchmark(s) in {seconds:.0f} s; raw numbers in {target}")
    _write(target, _document(outcomes, scale, seconds))
    if any(outcome.raw.get("error") for outcome in outcomes):
        return 2
    return 1 if any(check.passed is False for o in outcomes for check in o.checks) else 0


def _run_one(name: str, scale: Scale) -> Outcome:
    print(f"{name} ...", flush=True)
    started = time.perf_counter()
    try:
        outcome = BENCHMARKS[name](scale)
    except Exception as error:  # one broken benchmark must not hide the others' numbers
        traceback.print_exc()
        outcome = Outcome(name, [Check("did not run", None, "", "", False, repr(error))])
        outcome.raw["error"] = traceback.format_exc()
    outcome.seconds = time.perf_counter() - started
    print(f"{name} done in {outcome.seconds:.0f} s", flush=True)
    return outcome


def render(outcomes: Sequence[Outcome]) -> str:
    """The results as one plain-text table."""
    header = ("benchmark", "measure", "result", "target", "met", "detail")
    lines = [header]
    for outcome in outcomes:
        for position, check in enumerate(outcome.checks):
            met = {True: "yes", False: "NO", None: ""}[check.passed]
            name = outcome.name if position == 0 else ""
            lines.append((name, check.measure, check.shown(), check.target, met, check.detail))
    widths = [max(len(line[col]) for line in lines) for col in range(len(header) - 1)]
    rows = [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]]
        ).rstrip()
        for line in lines
    ]
    rows.insert(1, "  ".join("-" * width for width in [*widths, len(header[-1])]))
    return "\n".join(rows)


def _document(outcomes: Sequence[Outcome], scale: Scale, seconds: float) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1),
        "quick": scale.quick,
        "machine": {
            "nproc": os.cpu_count(),
            "usable_cpus": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
            "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "versions": {name: _version(name) for name in _PACKAGES},
        },
        "scale": scale.__dict__,
        "benchmarks": {
            outcome.name: {
                "seconds": round(outcome.seconds, 1),
                "checks": [check.__dict__ for check in outcome.checks],
                "raw": outcome.raw,
            }
            for outcome in outcomes
        },
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _write(path: Path, document: dict[str, Any]) -> None:
    """Atomically: a crash never leaves half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    temp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
