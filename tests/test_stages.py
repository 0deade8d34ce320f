"""The streaming stages through `import_files`: order, duplicates in flight, back-pressure."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer import pipeline, results, stages
from importer.pipeline import ImportJob, import_files
from importer.posting import PostSettings
from importer.reading import Chunk, InputTable, ReadOptions, open_table
from tests.leads import lead_rows, read_sheet, write_csv

ENDPOINT = "https://captorra.test/api/captorraapi/create"
CHUNK = 50  # rows per chunk in these tests, so a small file has many chunks


@dataclasses.dataclass
class Flow:
    """How many rows the reader has handed on and the results writer has taken."""

    read: int = 0
    written: int = 0


@pytest.fixture
def flow(monkeypatch: pytest.MonkeyPatch) -> Flow:
    """Small chunks, and a count of the rows read and written as the import runs."""
    counts = Flow()

    def small_chunks(path: Path, options: ReadOptions) -> InputTable:
        table = open_table(
            path, dataclasses.replace(options, chunk_rows=CHUNK, first_chunk_rows=CHUNK)
        )

        def counted(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
            for chunk in chunks:
                counts.read += len(chunk.frame)
                yield chunk

        table.chunks = counted(table.chunks)
        return table

    append = results.ResultsWriter.append

    def counted_append(self: results.ResultsWriter, rows: Any) -> None:
        append(self, rows)
        counts.written += len(rows)

    monkeypatch.setattr(pipeline, "open_table", small_chunks)
    monkeypatch.setattr(results.ResultsWriter, "append", counted_append)
    return counts


def send(
    tmp_path: Path,
    mapping_file: Path,
    rows: list[tuple[str, ...]],
    handler: Callable[[dict[str, str]], Awaitable[None]],
    *,
    concurrency: int = 4,
) -> list[dict[str, str | int | None]]:
    """Import `rows` through a fake Captorra that runs `handler` on each payload first."""

    async def answer(request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        await handler(payload)
        return httpx.Response(200, json={"success": True, "IntakeID": f"intake-{payload['ID']}"})

    out = tmp_path / "out.xlsx"
    job = ImportJob(
        inputs=(write_csv(tmp_path / "leads.csv", rows),),
        mapping=mapping_file,
        output=out,
        post=PostSettings(endpoint=ENDPOINT, concurrency=concurrency),
        journal=tmp_path / "journal.sqlite3",
    )
    import_files(job, transport=httpx.MockTransport(answer))
    return read_sheet(out)


def test_rows_are_written_in_source_order_whatever_order_answers_arrive(
    tmp_path: Path, mapping_file: Path, flow: Flow
) -> None:
    answered: list[str] = []

    async def uneven(payload: dict[str, str]) -> None:
        # Each request waits a different number of turns of the event loop.
        for _ in range(int(payload["ID"][1:]) * 7 % 13):
            await asyncio.sleep(0)
        answered.append(payload["ID"])

    rows = send(tmp_path, mapping_file, lead_rows(300), uneven, concurrency=8)

    assert answered != sorted(answered)  # the answers did come back out of order
    assert [row["Source Row"] for row in rows] == list(range(2, 302))
    assert [row["IntakeID"] for row in rows] == [f"intake-L{n:05d}" for n in range(1, 301)]
    assert {row["Status"] for row in rows} == {"posted"}


def test_a_duplicate_of_a_lead_still_in_flight_is_caught(
    tmp_path: Path, mapping_file: Path, flow: Flow
) -> None:
    rows = lead_rows(200)
    rows[120] = rows[3]  # file row 122 repeats row 5, in a later chunk
    later_chunk_seen = asyncio.Event()
    sent: list[str] = []

    async def hold_the_first(payload: dict[str, str]) -> None:
        sent.append(payload["ID"])
        if int(payload["ID"][1:]) > CHUNK:
            later_chunk_seen.set()
        if payload["ID"] == "L00004":
            # Still unanswered when the later chunk (with its repeat) is checked and sent.
            await later_chunk_seen.wait()

    results_rows = send(tmp_path, mapping_file, rows, hold_the_first)

    assert sent.count("L00004") == 1
    repeat = results_rows[120]
    assert repeat["Source Row"] == 122
    assert repeat["Status"] == "duplicate"
    assert str(repeat["Error"]).startswith("same lead as row 5 ")
    assert results_rows[3]["Status"] == "posted"


def test_a_fast_reader_waits_for_a_slow_server(
    tmp_path: Path, mapping_file: Path, flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stages, "REORDER_SLICES", 2)
    buffered: list[int] = []

    async def slow(payload: dict[str, str]) -> None:
        buffered.append(flow.read - flow.written)
        await asyncio.sleep(0.002)

    rows = send(tmp_path, mapping_file, lead_rows(2_000), slow)

    assert len(rows) == 2_000
    assert flow.read == flow.written == 2_000
    # Rows read but not yet written: a few chunks in the queues between the stages,
    # not the file. (Reader, its queue, checker, its queue, sender and writer hold
    # at most a chunk each, and the reorder buffer a chunk per place.)
    assert max(buffered) <= (6 + stages.REORDER_SLICES) * CHUNK


def test_the_next_chunk_is_read_once_the_first_leads_are_answered(
    tmp_path: Path, mapping_file: Path, flow: Flow
) -> None:
    # Parsing a chunk holds the GIL for long stretches: it must not delay the first requests.
    read_while_first_waited: list[int] = []

    async def slow_first(payload: dict[str, str]) -> None:
        if payload["ID"] == "L00001":
            await asyncio.sleep(0.2)
            read_while_first_waited.append(flow.read)

    rows = send(tmp_path, mapping_file, lead_rows(4 * CHUNK), slow_first, concurrency=1)

    assert read_while_first_waited == [CHUNK]
    assert [row["Status"] for row in rows] == ["posted"] * 4 * CHUNK


def test_a_first_chunk_with_nothing_to_send_does_not_hold_up_the_rest(
    tmp_path: Path, mapping_file: Path, flow: Flow
) -> None:
    rows = lead_rows(3 * CHUNK)
    for n in range(CHUNK):  # not a US state: invalid, so nothing of it is sent
        rows[n] = (*rows[n][:5], "Atlantis", *rows[n][6:])

    async def answer(payload: dict[str, str]) -> None:
        pass

    results_rows = send(tmp_path, mapping_file, rows, answer)

    statuses = [row["Status"] for row in results_rows]
    assert statuses == ["invalid"] * CHUNK + ["posted"] * 2 * CHUNK


def test_a_re_run_whose_first_chunk_was_all_posted_reads_the_rest(
    tmp_path: Path, mapping_file: Path, flow: Flow
) -> None:
    async def answer(payload: dict[str, str]) -> None:
        pass

    send(tmp_path, mapping_file, lead_rows(CHUNK), answer)
    # The same journal: the first chunk is settled by the journal, not by any request.
    results_rows = send(tmp_path, mapping_file, lead_rows(3 * CHUNK), answer)

    statuses = [row["Status"] for row in results_rows]
    assert statuses == ["already_posted"] * CHUNK + ["posted"] * 2 * CHUNK
