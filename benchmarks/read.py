"""1. Reading: our reader against pandas + openpyxl on the same acme workbook.

Both sides end with every cell of the sheet as text in memory: ours by opening
the table and consuming its chunks (which also normalises cells and finds
blank rows), the baseline by `pandas.read_excel(engine="openpyxl", dtype=str)`,
which is what most people would write first.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pandas as pd

from benchmarks.common import Check, Outcome, Scale, at_least, duel, lead_file, ratio
from importer.reading import open_table
from importer.reading.formats import CellFormats

TARGET = 5.0


def read_ours(path: Path) -> int:
    table = open_table(path)
    return sum(len(chunk.frame) for chunk in table.chunks)


def read_unformatted(path: Path) -> int:
    """Ours without number formats: what applying them costs, measured in the same run."""
    with mock.patch("importer.reading.workbooks._cell_formats", return_value=CellFormats()):
        return read_ours(path)


def read_baseline(path: Path) -> int:
    return len(pd.read_excel(path, engine="openpyxl", dtype=str))


def run(scale: Scale) -> Outcome:
    path = lead_file(scale.read_rows, "xlsx")
    rows = read_ours(path)  # warm-up: imports, page cache
    counted: list[int] = []
    ours, baseline = duel(
        lambda: read_ours(path),
        lambda: counted.append(read_baseline(path)),
        repeats=scale.repeats,
    )
    if rows != scale.read_rows or set(counted) != {rows}:
        raise RuntimeError(f"{path.name}: the readers disagree on the row count")
    speedup = ratio(min(baseline), min(ours))
    formatted, unformatted = duel(
        lambda: read_ours(path), lambda: read_unformatted(path), repeats=scale.repeats
    )
    cost = ratio(min(formatted), min(unformatted))
    return Outcome(
        "read",
        [
            Check(
                f"{rows // 1000}k-row XLSX, speed-up vs pandas+openpyxl",
                speedup,
                "x",
                f">= {TARGET:g}x",
                at_least(speedup, TARGET),
                f"ours {min(ours):.2f} s ({rows / min(ours):,.0f} rows/s), "
                f"openpyxl {min(baseline):.2f} s",
            ),
            Check(
                "same, time with number formats applied vs without",
                cost,
                "x",
                detail=f"with {min(formatted):.2f} s, without {min(unformatted):.2f} s "
                "(the file's date column has a number format)",
            ),
        ],
        {
            "rows": rows,
            "file": path.name,
            "file_bytes": path.stat().st_size,
            "ours_s": ours,
            "baseline_s": baseline,
            "speedup": speedup,
            "formatted_s": formatted,
            "unformatted_s": unformatted,
        },
    )
