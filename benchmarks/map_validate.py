"""2. Map + validate: the pipeline's per-chunk work without posting, against pydantic.

Ours is `importer.pipeline.check_rows`, the function the pipeline calls on each
chunk before sending: `apply_mapping`, `validate`, the rendered notes, lead keys
and `DuplicateFinder`, ending in the outcome columns of the results. The
baseline is `pydantic_baseline`: one `BaseModel` validated per row dict. Both
start from the reader's output (ours a frame, the baseline its rows as dicts,
made outside the timing) and must agree on the status of every row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import pandas as pd

from benchmarks.common import (
    ENVIRON,
    MAPPING,
    Check,
    Outcome,
    Scale,
    at_least,
    duel,
    lead_file,
    ratio,
)
from benchmarks.pydantic_baseline import Constants, RowResults, validate_rows
from importer.lead_key import DuplicateFinder, lead_keys
from importer.mapping import LoadedMapping, apply_mapping, load_mapping, resolve_headers
from importer.pipeline import check_rows
from importer.reading import Chunk, open_table
from importer.validation import validate

RATE_TARGET = 150_000.0
SPEEDUP_TARGET = 1.5


def phases(
    loaded: LoadedMapping, chunks: list[Chunk], headers: Mapping[str, str]
) -> dict[str, float]:
    """Seconds in each step of `check_rows`, summed over the chunks, in one extra run.

    The steps are called here one by one, as `check_rows` calls them, to time them.
    """
    mapping = loaded.mapping
    spent = dict.fromkeys(("apply_mapping", "validate", "notes", "lead_keys", "duplicates"), 0.0)
    duplicates = DuplicateFinder()
    for chunk in chunks:
        started = time.perf_counter()
        mapped = apply_mapping(mapping, chunk.frame, headers)
        mapped.notes.error(None, chunk.problems)
        lap = time.perf_counter()
        spent["apply_mapping"] += lap - started
        validate(mapping, mapped)
        spent["validate"] += time.perf_counter() - lap
        lap = time.perf_counter()
        errors = mapped.notes.errors()
        mapped.notes.warnings()
        spent["notes"] += time.perf_counter() - lap
        lap = time.perf_counter()
        keys = lead_keys(mapping, mapped.values)
        spent["lead_keys"] += time.perf_counter() - lap
        lap = time.perf_counter()
        duplicates.first_rows(keys[errors == ""])
        spent["duplicates"] += time.perf_counter() - lap
    return spent


def process_all(
    loaded: LoadedMapping, chunks: list[Chunk], headers: Mapping[str, str]
) -> list[pd.DataFrame]:
    """The outcome columns of every chunk, as the pipeline makes them before sending."""
    duplicates = DuplicateFinder()
    return [check_rows(loaded.mapping, chunk, headers, duplicates).outcome for chunk in chunks]


def constants_of(loaded: LoadedMapping) -> Constants:
    fields = loaded.mapping.fields
    lookup = fields["Type"].lookup or {}
    return Constants(
        captorra_id=fields["CaptorraId"].value or "",
        referrer=fields["Referrer"].value or "",
        keyword=fields["Keyword"].value or "",
        case_types={source.strip().casefold(): guid for source, guid in lookup.items()},
    )


def prepared(path: Path) -> tuple[LoadedMapping, list[Chunk], dict[str, str]]:
    """The mapping and the reader's chunks of `path`: the input of this stage."""
    loaded = load_mapping(MAPPING, environ=ENVIRON)
    table = open_table(path, loaded.mapping.read.options())
    return loaded, list(table.chunks), resolve_headers(loaded, table.columns, path)


def _agreement(ours: list[pd.DataFrame], theirs: RowResults) -> tuple[int, dict[str, int]]:
    status = pd.concat([outcome["Status"] for outcome in ours])
    same = int((status.to_numpy() == pd.Series(theirs.status).to_numpy()).sum())
    return same, {str(name): int(n) for name, n in status.value_counts().items()}


def run(scale: Scale) -> Outcome:
    path = lead_file(scale.validate_rows, "xlsx")
    loaded, chunks, headers = prepared(path)
    rows = sum(len(chunk.frame) for chunk in chunks)
    constants = constants_of(loaded)
    records: list[tuple[int, dict[str, str]]] = [
        (number, cast(dict[str, str], row))
        for chunk in chunks
        for number, row in zip(
            chunk.frame.index.tolist(), chunk.frame.to_dict("records"), strict=True
        )
    ]
    ours_result = process_all(loaded, chunks, headers)  # warm-up, and the answer to compare
    theirs_result = validate_rows(records, constants)
    agree, counts = _agreement(ours_result, theirs_result)
    ours, baseline = duel(
        lambda: process_all(loaded, chunks, headers),
        lambda: validate_rows(records, constants),
        repeats=scale.repeats + 1,
    )
    rate, baseline_rate = rows / min(ours), rows / min(baseline)
    spent = phases(loaded, chunks, headers)
    speedup = ratio(min(baseline), min(ours))
    agreement = 100.0 * agree / rows
    return Outcome(
        "map+validate",
        [
            Check(
                f"{rows // 1000}k rows mapped + validated",
                rate,
                "rows/s",
                f">= {RATE_TARGET:,.0f} rows/s",
                at_least(rate, RATE_TARGET),
                f"{min(ours):.2f} s: "
                + ", ".join(f"{step} {seconds:.2f}" for step, seconds in spent.items()),
            ),
            Check(
                "speed-up vs per-row pydantic model",
                speedup,
                "x",
                f">= {SPEEDUP_TARGET:g}x",
                at_least(speedup, SPEEDUP_TARGET),
                f"pydantic {min(baseline):.2f} s ({baseline_rate:,.0f} rows/s)",
            ),
            Check(
                "rows where both give the same status",
                agreement,
                "%",
                detail=", ".join(f"{name} {n:,}" for name, n in sorted(counts.items())),
            ),
        ],
        {
            "rows": rows,
            "ours_s": ours,
            "baseline_s": baseline,
            "rows_per_s": rate,
            "phases_s": spent,
            "baseline_rows_per_s": baseline_rate,
            "speedup": speedup,
            "status_counts": counts,
            "same_status_rows": agree,
        },
    )
