"""An async worker: keeps a local copy of the histories of the visitors it is sent.

Visitor IDs arrive on an anyio memory object stream (put your job queue's consumer in
front of it). The worker takes them in batches and fetches each batch with `fetch_many`:
a visitor it has never stored gets its whole history, a known one only the visits since
the newest one stored. Run it with `FPJS_API_KEY=... python worker.py VISITOR_ID...`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

import fpjs_async

logger = logging.getLogger(__name__)


class HistoryStore(Protocol):
    """Where the worker keeps histories: a database table, a key-value store…"""

    async def newest_timestamp(self, visitor_id: str) -> int | None:
        """The timestamp (ms) of the visitor's newest stored visit; `None` if none is."""
        ...

    async def add(self, visitor_id: str, visits: Sequence[fpjs_async.Visit]) -> int:
        """Store visits, ignoring those already stored; how many were new."""
        ...


class MemoryStore:
    """A `HistoryStore` in a dict: request ID → visit, per visitor."""

    def __init__(self) -> None:
        self.visits: dict[str, dict[str, fpjs_async.Visit]] = {}

    async def newest_timestamp(self, visitor_id: str) -> int | None:
        """The timestamp (ms) of the visitor's newest stored visit; `None` if none is."""
        stored = self.visits.get(visitor_id)
        return max((visit.timestamp for visit in stored.values()), default=None) if stored else None

    async def add(self, visitor_id: str, visits: Sequence[fpjs_async.Visit]) -> int:
        """Store visits, ignoring those already stored; how many were new."""
        stored = self.visits.setdefault(visitor_id, {})
        before = len(stored)
        for visit in visits:
            stored.setdefault(visit.request_id, visit)
        return len(stored) - before


@dataclass
class SyncReport:
    """What a worker run did."""

    visitors: int = 0
    new_visits: int = 0
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
    store: HistoryStore,
    batch: Iterable[str],
    report: SyncReport,
    *,
    concurrency: int,
) -> None:
    """Bring the stored histories of one batch of visitors up to date."""
    newest = {visitor_id: await store.newest_timestamp(visitor_id) for visitor_id in batch}
    unknown = [visitor_id for visitor_id, since in newest.items() if since is None]
    known = {visitor_id: since for visitor_id, since in newest.items() if since is not None}
    # fetch_many takes one `since` for all its visitors: the oldest of the batch is right for
    # every one of them (a visit stored already is fetched again, and ignored by the store).
    groups = [(unknown, None), (list(known), min(known.values(), default=None))]
    for visitor_ids, since in groups:
        if not visitor_ids:
            continue
        async with fingerprint.fetch_many(
            visitor_ids, concurrency=concurrency, all_pages=True, limit=500, since=since
        ) as results:
            async for result in results:
                report.visitors += 1
                if result.error is not None:
                    # Keep nothing of a history that failed half-way: its newest visits
                    # would make the next run skip the older ones that were not fetched.
                    logger.warning("visitor %s failed: %s", result.visitor_id, result.error)
                    report.failed[result.visitor_id] = result.error
                    continue
                report.new_visits += await store.add(result.visitor_id, result.visits)


async def run_worker(
    fingerprint: fpjs_async.Session,
    visitor_ids: MemoryObjectReceiveStream[str],
    store: HistoryStore,
    *,
    batch_size: int = 100,
    concurrency: int = 10,
) -> SyncReport:
    """Sync the visitors received until the stream ends (its senders are all closed)."""
    report = SyncReport()
    async with visitor_ids:
        while batch := await next_batch(visitor_ids, batch_size):
            await sync_batch(fingerprint, store, batch, report, concurrency=concurrency)
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
            print(f"{run} run: {report.visitors} visitors, {report.new_visits} new visits")


async def _send_all(send: MemoryObjectSendStream[str], visitor_ids: list[str]) -> None:
    async with send:  # closing the stream ends the worker's loop
        for visitor_id in visitor_ids:
            await send.send(visitor_id)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
