"""An async worker: keeps a local copy of the events of the visitors it is sent.

Visitor IDs arrive on an anyio memory object stream (put your job queue's consumer in
front of it). The worker takes them in batches and searches each batch with `search_many`
(Server API v4): a visitor it has never stored gets its events of the last `HISTORY`, a
known one only the events since the newest one stored. Run it with
`FPJS_API_KEY=... python worker.py VISITOR_ID...`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

import fpjs_async

logger = logging.getLogger(__name__)

#: How far back a new visitor's events are fetched: a day within the 30 days that paid plans
#: keep (the API refuses a `start` beyond them, and checks it when the request arrives).
HISTORY = timedelta(days=29)


class EventStore(Protocol):
    """Where the worker keeps events: a database table, a key-value store…"""

    async def newest_timestamp(self, visitor_id: str) -> int | None:
        """The timestamp (ms) of the visitor's newest stored event; `None` if none is."""
        ...

    async def add(self, visitor_id: str, events: Sequence[fpjs_async.Event]) -> int:
        """Store events, ignoring those already stored; how many were new."""
        ...


class MemoryStore:
    """An `EventStore` in a dict: event ID → event, per visitor."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, fpjs_async.Event]] = {}

    async def newest_timestamp(self, visitor_id: str) -> int | None:
        """The timestamp (ms) of the visitor's newest stored event; `None` if none is."""
        stored = self.events.get(visitor_id)
        return max((event.timestamp for event in stored.values()), default=None) if stored else None

    async def add(self, visitor_id: str, events: Sequence[fpjs_async.Event]) -> int:
        """Store events, ignoring those already stored; how many were new."""
        stored = self.events.setdefault(visitor_id, {})
        before = len(stored)
        for event in events:
            stored.setdefault(event.event_id, event)
        return len(stored) - before


@dataclass
class SyncReport:
    """What a worker run did."""

    visitors: int = 0
    new_events: int = 0
    failed: dict[str, fpjs_async.FingerprintError] = field(default_factory=dict)


async def next_batch(visitor_ids: MemoryObjectReceiveStream[str], size: int) -> list[str]:
    """Wait for one visitor ID, then take whatever else is waiting, up to `size` IDs.

    Empty when the stream has ended.
    """
    try:
        batch = [await visitor_ids.receive()]
    except anyio.EndOfStream:
        return []
    while len(batch) < size:
        try:
            batch.append(visitor_ids.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            break
    return batch


async def sync_batch(
    fingerprint: fpjs_async.Session,
    store: EventStore,
    batch: Iterable[str],
    report: SyncReport,
    *,
    concurrency: int,
    history: timedelta = HISTORY,
) -> None:
    """Bring the stored events of one batch of visitors up to date."""
    oldest = int(time.time() * 1000 - history / timedelta(milliseconds=1))
    newest = {visitor_id: await store.newest_timestamp(visitor_id) for visitor_id in batch}
    unknown = [visitor_id for visitor_id, since in newest.items() if since is None]
    known = {visitor_id: since for visitor_id, since in newest.items() if since is not None}
    # search_many takes one `start` for all its visitors: the oldest newest event of the
    # batch is right for every one of them (an event stored already is fetched again, and
    # ignored by the store), and no `start` may reach further back than `history`.
    groups = [(unknown, oldest), (list(known), max(oldest, min(known.values(), default=0)))]
    for visitor_ids, start in groups:
        if not visitor_ids:
            continue
        async with fingerprint.search_many(
            visitor_ids, concurrency=concurrency, all_pages=True, limit=100, start=start
        ) as results:
            async for result in results:
                report.visitors += 1
                if isinstance(result.error, fpjs_async.NotFoundError):
                    continue  # the API knows no event of this visitor: nothing to store
                if result.error is not None:
                    # Keep nothing of a search that failed half-way: its newest events
                    # would make the next run skip the older ones that were not fetched.
                    logger.warning("visitor %s failed: %s", result.visitor_id, result.error)
                    report.failed[result.visitor_id] = result.error
                    continue
                report.new_events += await store.add(result.visitor_id, result.events)


async def run_worker(
    fingerprint: fpjs_async.Session,
    visitor_ids: MemoryObjectReceiveStream[str],
    store: EventStore,
    *,
    batch_size: int = 100,
    concurrency: int = 5,
    history: timedelta = HISTORY,
) -> SyncReport:
    """Sync the visitors received until the stream ends (its senders are all closed)."""
    report = SyncReport()
    async with visitor_ids:
        while batch := await next_batch(visitor_ids, batch_size):
            await sync_batch(
                fingerprint, store, batch, report, concurrency=concurrency, history=history
            )
    return report


async def main(visitor_ids: list[str]) -> None:
    """Sync the visitors named on the command line into a `MemoryStore`, twice."""
    store = MemoryStore()
    async with fpjs_async.Session(os.environ["FPJS_API_KEY"]) as fingerprint:
        for run in ("first", "second"):
            send, receive = anyio.create_memory_object_stream[str](max_buffer_size=100)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_send_all, send, visitor_ids)
                report = await run_worker(fingerprint, receive, store)
            print(f"{run} run: {report.visitors} visitors, {report.new_events} new events")


async def _send_all(send: MemoryObjectSendStream[str], visitor_ids: list[str]) -> None:
    async with send:  # closing the stream ends the worker's loop
        for visitor_id in visitor_ids:
            await send.send(visitor_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
