"""The stages of one file's import, in the order the data flows.

    read -> check -> send -> write

Each stage is a small async function taking from one queue and putting into the
next. The queues are bounded, so a stage that runs ahead waits for the one
after it (back-pressure): memory holds a few chunks, however long the file.
Guarantees:

- the rows of a chunk are checked together (mapping, validation, lead keys),
  column-wise, as `check_rows` does; a lead whose key appeared earlier in the
  file is a duplicate even while the earlier row's request is in flight,
  because keys are remembered when a row is checked, not when it is answered;
- sending never drains between chunks: one pool of `concurrency` workers takes
  leads as they are checked;
- the results are written in source order: the sender hands them on in
  slices of `SLICE_ROWS`, and a slice is written once every one of its rows has
  an outcome; at most `REORDER_SLICES` slices wait for that (the reorder
  buffer), so the workers can be that far ahead of the slowest answer;
- reading and writing run in a worker thread, so answers keep being taken
  while a chunk is parsed or written.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import pandas as pd

from importer.contacts import ContactFinder
from importer.lead_key import DuplicateFinder, key_fields, lead_keys
from importer.mapping import Mapping as ImportMapping
from importer.mapping import apply_mapping
from importer.notes import SEPARATOR, join_nonempty
from importer.posting import Lead, Outcome, Poster
from importer.reading import Chunk
from importer.results import ResultsWriter
from importer.validation import validate

# Rows are sent and written in slices this long: small, so that little is left to
# write after the last answer, and so that leads are made a few at a time.
SLICE_ROWS = 1_000
# Slices waiting for their last answers before they are written, beside the one
# the writer waits on: how far the workers may run ahead of the slowest answer.
REORDER_SLICES = 16

_Result = TypeVar("_Result")


@dataclass(frozen=True)
class CheckedRows:
    """One chunk after mapping and validation: every row's status before sending."""

    outcome: pd.DataFrame  # Source Row, Status (valid/invalid/duplicate), IntakeID, Error, Warnings
    values: pd.DataFrame  # the mapped Captorra fields, as text
    keys: pd.Series  # the lead key of every row
    contacts: pd.Series | None = None  # valid rows: (kind, keyed hash) of phones and email


def check_rows(
    mapping: ImportMapping,
    chunk: Chunk,
    headers: Mapping[str, str],
    duplicates: DuplicateFinder,
    *,
    contacts: ContactFinder | None = None,
) -> CheckedRows:
    """Map and validate one chunk; a lead seen earlier in the file is a duplicate.

    With `contacts`, so is a lead with the phone or email of an earlier row or
    of a lead posted within the window (see `contacts.py`); its hashes of every
    valid row are returned for the journal.
    """
    mapped = apply_mapping(mapping, chunk.frame, headers)
    mapped.notes.error(None, chunk.problems)
    validate(mapping, mapped)
    index = chunk.frame.index
    errors, warnings = mapped.notes.errors(), mapped.notes.warnings()
    status = pd.Series("valid", index=index, dtype="str").where(errors == "", "invalid")
    keys = lead_keys(mapping, mapped.values)
    first = duplicates.first_rows(keys[status == "valid"])
    repeated = first[first != first.index]
    status[repeated.index] = "duplicate"
    errors[repeated.index] = (
        "same lead as row "
        + repeated.astype("str")
        + f" (same {', '.join(key_fields(mapping))}); not sent"
    )
    same_person = None
    if contacts is not None:
        ready = status == "valid"
        found = contacts.check(mapped.values[ready], keys[ready])
        status[found.errors.index] = "duplicate"
        errors[found.errors.index] = found.errors
        same_person = found.hashes
    outcome = pd.DataFrame(
        {
            "Source Row": index.to_numpy(),
            "Status": status,
            "IntakeID": pd.Series("", index=index, dtype="str"),
            "Error": errors,
            "Warnings": warnings,
        },
        index=index,
    )
    return CheckedRows(outcome, mapped.values, keys, same_person)


@dataclass
class Batch:
    """A checked chunk on its way to the results: its rows, and the answers so far."""

    frame: pd.DataFrame  # the input rows, as read
    checked: CheckedRows
    sent: dict[int, Outcome] = field(default_factory=dict)
    waiting: int = 0  # leads to be sent whose outcome is not known yet
    done: asyncio.Event = field(default_factory=asyncio.Event)  # set: nothing to wait for

    def __post_init__(self) -> None:
        self.done.set()

    def to_send(self) -> pd.Series:
        return self.checked.outcome["Status"] == "valid"

    def slices(self, rows: int) -> Iterator[Batch]:
        """This batch cut into consecutive batches of at most `rows` rows."""
        checked = self.checked
        for start in range(0, len(self.frame), rows):
            part = slice(start, start + rows)
            yield Batch(
                self.frame.iloc[part],
                CheckedRows(
                    checked.outcome.iloc[part],
                    checked.values.iloc[part],
                    checked.keys.iloc[part],
                    checked.contacts,  # by row: read with the rows of the slice
                ),
            )

    def leads(self) -> list[Lead]:
        """The valid rows as leads (empty fields left out)."""
        ready = self.to_send()
        values, keys = self.checked.values[ready], self.checked.keys[ready]
        rows = values.index.tolist()
        found = self.checked.contacts
        contacts = found.reindex(rows).tolist() if found is not None else [()] * len(rows)
        # Column by column: iterating Arrow-backed rows costs five times as much.
        names = [str(name) for name in values.columns]
        records = zip(*(values[name].tolist() for name in values.columns), strict=True)
        return [
            Lead(
                row,
                {name: text for name, text in zip(names, record, strict=True) if text},
                key,
                contact,
            )
            for row, record, key, contact in zip(
                rows, records, keys.tolist(), contacts, strict=True
            )
        ]

    def answered(self, outcome: Outcome) -> None:
        self.sent[outcome.row] = outcome
        self.waiting -= 1
        if not self.waiting:
            self.done.set()

    def rows(self) -> pd.DataFrame:
        """The input rows with their outcome columns, as the results writer takes them."""
        outcome = self.checked.outcome
        if self.sent:
            sent = pd.DataFrame(
                [
                    (r.status, r.intake_id, r.error, SEPARATOR.join(r.warnings))
                    for r in self.sent.values()
                ],
                index=pd.Index(list(self.sent), dtype="int64"),
                columns=["Status", "IntakeID", "Error", "Warnings"],
                dtype="str",
            )
            sent["Warnings"] = join_nonempty(
                [outcome.loc[sent.index, "Warnings"], sent["Warnings"]], SEPARATOR
            )
            outcome.loc[sent.index, sent.columns] = sent
        return pd.concat([self.frame, outcome], axis=1)


# ---------------------------------------------------------------- the stages


async def read(
    chunks: Iterator[Chunk],
    out: asyncio.Queue[Chunk | None],
    *,
    after_first: asyncio.Event | None = None,
) -> None:
    """Chunks of the input as they are read; the second one once `after_first` is set.

    Parsing a chunk holds the GIL for long stretches: the sender sets
    `after_first` once its first leads are on their way, so that they leave first.
    """
    first = True
    while (chunk := await _in_thread(next, chunks, None)) is not None:
        await out.put(chunk)
        del chunk  # the queue holds it now: let go before reading the next
        if first and after_first is not None:
            await after_first.wait()
        first = False
    await out.put(None)


async def check(
    chunks: asyncio.Queue[Chunk | None],
    out: asyncio.Queue[Batch | None],
    *,
    mapping: ImportMapping,
    headers: Mapping[str, str],
    contacts: ContactFinder,
    statuses_known: Callable[[Counter[str]], None],
) -> None:
    """Each chunk mapped and validated; `statuses_known` hears the rows settled here.

    This one runs in the event loop's thread: the same-contact check reads the
    journal, whose connection belongs to that thread. (In a worker thread, next
    to the reader's, it delayed the first request by a second on a 100,000-row
    workbook and sent no faster.)
    """
    duplicates = DuplicateFinder()
    while (chunk := await chunks.get()) is not None:
        checked = check_rows(mapping, chunk, headers, duplicates, contacts=contacts)
        statuses_known(Counter(checked.outcome["Status"].tolist()))
        await out.put(Batch(chunk.frame, checked))
        del chunk, checked
    await out.put(None)


async def send(
    batches: asyncio.Queue[Batch | None],
    out: asyncio.Queue[Batch | None],
    *,
    poster: Poster,
    under_way: asyncio.Event | None = None,
) -> None:
    """The valid rows of each batch posted by one pool of workers fed continuously.

    Each slice of a batch goes on to the writer before its leads are posted, so
    the writer gets the slices in source order and waits for each one's answers. If this
    stage is cancelled (another stage failed), sending stops as for Ctrl-C: the
    requests in flight finish and are recorded, and no new one starts.
    `under_way` is set at the first outcome (the first leads have left), when a
    batch has nothing to send, or when this stage ends.
    """
    by_row: dict[int, Batch] = {}
    under_way = under_way or asyncio.Event()

    def answered(outcome: Outcome) -> None:
        by_row.pop(outcome.row).answered(outcome)
        under_way.set()

    # One slice waits while the poster claims and sends the one before it.
    to_post: asyncio.Queue[Sequence[Lead] | None] = asyncio.Queue(maxsize=1)
    pool = asyncio.create_task(poster.serve(to_post, answered))
    pool.add_done_callback(_cancel_on_failure(asyncio.current_task()))
    try:
        while (batch := await batches.get()) is not None:
            if not batch.to_send().any():
                under_way.set()
            for part in batch.slices(SLICE_ROWS):
                to_send = part.leads()
                part.waiting = len(to_send)
                if part.waiting:
                    part.done.clear()
                await out.put(part)
                for lead in to_send:
                    by_row[lead.row] = part
                if to_send:
                    await to_post.put(to_send)
                del part, to_send
            del batch
    except asyncio.CancelledError:
        under_way.set()
        poster.stop("stopped by an error (see above)")
        while not to_post.empty():
            to_post.get_nowait()
        await _end(to_post, pool)
        raise
    await _end(to_post, pool)
    under_way.set()
    await out.put(None)


def _cancel_on_failure(
    stage: asyncio.Task[object] | None,
) -> Callable[[asyncio.Task[None]], None]:
    """If the workers fail, the feeder must not wait for room in their queue forever."""

    def done(pool: asyncio.Task[None]) -> None:
        if stage is not None and not pool.cancelled() and pool.exception() is not None:
            stage.cancel()

    return done


async def _end(to_post: asyncio.Queue[Sequence[Lead] | None], pool: asyncio.Task[None]) -> None:
    await to_post.put(None)
    await asyncio.shield(pool)


async def write(
    batches: asyncio.Queue[Batch | None],
    writer: ResultsWriter,
    *,
    counts: Counter[str],
) -> None:
    """Each batch written as soon as all of its rows have an outcome, in source order."""
    while (batch := await batches.get()) is not None:
        await batch.done.wait()
        rows = await _in_thread(batch.rows)
        # The outcome's own Status: the input may have a column of that name too.
        counts.update(Counter(batch.checked.outcome["Status"].tolist()))
        await _in_thread(writer.append, rows)
        del batch, rows


async def run_stages(*stages: Awaitable[None]) -> None:
    """Run the stages together; the first one to fail stops the others and its error is raised."""
    tasks = [asyncio.ensure_future(stage) for stage in stages]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _in_thread(function: Callable[..., _Result], *args: object) -> _Result:
    """`function(*args)` in a worker thread, so the event loop goes on meanwhile.

    A thread cannot be stopped midway: if this is cancelled, the call still
    finishes before the cancellation goes on (the results file is not discarded
    while a chunk is being written into it).
    """
    call = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        await asyncio.wait([call])
        raise
