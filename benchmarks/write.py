"""4. Writing the results workbook: `ResultsWriter` against openpyxl's write-only mode.

Both write the same rows (the acme input columns plus the outcome columns, as
the pipeline hands them to the writer) and a Summary sheet, starting from the
same DataFrame. The baseline is the lean openpyxl version: no status colours,
no filter, no column widths, no atomic rename, empty cells skipped; anything
it leaves out only makes it faster.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pandas as pd

from benchmarks.common import WORK, Check, Outcome, Scale, at_least, duel, lead_file, ratio
from benchmarks.map_validate import prepared, process_all
from importer.results import RESULTS_SHEET, SUMMARY_SHEET, ResultsWriter, results_header

TARGET = 1.3

Summary = Mapping[str, str | int | float]


def write_ours(rows: pd.DataFrame, columns: list[str], target: Path, summary: Summary) -> None:
    with ResultsWriter(target, input_columns=columns) as writer:
        writer.append(rows)
        writer.finish(summary)


def write_baseline(rows: pd.DataFrame, columns: list[str], target: Path, summary: Summary) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(RESULTS_SHEET)
    sheet.append(list(results_header(columns)))
    source = len(columns)
    for values in rows.itertuples(index=False, name=None):
        sheet.append(
            [
                value if position == source else (value or None)
                for position, value in enumerate(values)
            ]
        )
    summary_sheet = book.create_sheet(SUMMARY_SHEET)
    for label, value in summary.items():
        summary_sheet.append([label, value])
    book.save(target)


def run(scale: Scale) -> Outcome:
    path = lead_file(scale.write_rows, "xlsx")
    loaded, chunks, headers = prepared(path)
    outcomes = process_all(loaded, chunks, headers)
    rows = pd.concat(
        [
            pd.concat([chunk.frame, outcome], axis=1)
            for chunk, outcome in zip(chunks, outcomes, strict=True)
        ]
    )
    columns = [str(name) for name in chunks[0].frame.columns]
    counts = rows["Status"].value_counts()
    summary: dict[str, str | int | float] = {str(name): int(n) for name, n in counts.items()}
    summary |= {"rows": len(rows), "Input file": str(path), "Endpoint": "validate only"}
    ours_path, baseline_path = WORK / "write-ours.xlsx", WORK / "write-openpyxl.xlsx"
    ours, baseline = duel(
        lambda: write_ours(rows, columns, ours_path, summary),
        lambda: write_baseline(rows, columns, baseline_path, summary),
        repeats=scale.repeats,
    )
    speedup = ratio(min(baseline), min(ours))
    return Outcome(
        "write",
        [
            Check(
                f"{len(rows) // 1000}k-row results workbook, speed-up vs openpyxl write-only",
                speedup,
                "x",
                f">= {TARGET:g}x",
                at_least(speedup, TARGET),
                f"ours {min(ours):.2f} s ({len(rows) / min(ours):,.0f} rows/s), "
                f"openpyxl {min(baseline):.2f} s",
            )
        ],
        {
            "rows": len(rows),
            "columns": rows.shape[1],
            "ours_s": ours,
            "baseline_s": baseline,
            "speedup": speedup,
            "ours_bytes": ours_path.stat().st_size,
            "baseline_bytes": baseline_path.stat().st_size,
        },
    )
