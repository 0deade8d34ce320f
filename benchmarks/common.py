"""What every benchmark shares: sizes, generated inputs, timing and result rows.

Inputs are made by `leadgen` (the realistic, messy acme export) and cached in
`benchmarks/work/` under a name keyed by vendor, size, seed and format, so a
second run does not pay for generating a million rows again.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks import leadgen

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "work"
MAPPING = ROOT / "mappings" / "example.yaml"
# The made-up ids example.yaml reads from the environment (the Makefile's demo uses them too).
ENVIRON: dict[str, str] = {
    "CAPTORRA_ID": "123456",
    "CAPTORRA_REFERRER": "123e4567-e89b-12d3-a456-426655440000",
}
SEED = 2024


@dataclass(frozen=True)
class Scale:
    """How big each benchmark is; `--quick` divides the full sizes by ten."""

    read_rows: int
    validate_rows: int
    post_rows: int
    write_rows: int
    memory_rows: tuple[int, int]  # (small, large): growth is measured between them
    repeats: int  # timed runs of each side of a comparison (the best one counts)
    quick: bool

    @classmethod
    def full(cls) -> Scale:
        return cls(100_000, 100_000, 20_000, 100_000, (100_000, 1_000_000), 2, quick=False)

    @classmethod
    def smoke(cls) -> Scale:
        return cls(10_000, 10_000, 2_000, 10_000, (10_000, 100_000), 2, quick=True)


def lead_file(rows: int, fmt: Literal["xlsx", "csv"], *, seed: int = SEED) -> Path:
    """An acme lead file of `rows` rows, generated once and then reused."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"acme-{rows}-seed{seed}.{fmt}"
    if not path.exists():
        started = time.perf_counter()
        leads = leadgen.iter_leads(rows, seed=seed, vendor="acme")
        if fmt == "xlsx":
            leadgen.write_xlsx(leads, path)
        else:
            leadgen.write_csv(leads, path)
        print(f"  generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def clock(action: Callable[[], object]) -> float:
    """Wall seconds of one call, with the garbage of earlier work collected first."""
    gc.collect()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def duel(
    ours: Callable[[], object], baseline: Callable[[], object], *, repeats: int
) -> tuple[list[float], list[float]]:
    """Time both sides `repeats` times, alternating, so noise hits both alike."""
    ours_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(repeats):
        ours_times.append(clock(ours))
        baseline_times.append(clock(baseline))
    return ours_times, baseline_times


@dataclass(frozen=True)
class Check:
    """One line of the results table."""

    measure: str
    value: float | None
    unit: str
    target: str = ""  # empty: reported for information, no target
    passed: bool | None = None
    detail: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "%":
            return f"{self.value:.1f}%"
        if abs(self.value) >= 1000:
            return f"{self.value:,.0f} {self.unit}"
        return f"{self.value:.3g} {self.unit}"


@dataclass
class Outcome:
    """What one benchmark found: the table lines and every raw number behind them."""

    name: str
    checks: list[Check] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def at_least(value: float, target: float) -> bool:
    return value >= target


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast > 0 else float("inf")
