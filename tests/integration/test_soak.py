"""20,000 requests through one session: connections, file descriptors and memory stay flat.

One session at concurrency 8 against a loopback keep-alive server. The server counts how many
connections carried requests at once (never more than the session's pool), the process's
open file descriptors are counted before and after, and the Python heap is measured twice
after warm-up (with `tracemalloc` over a window, as tracing slows every allocation down, and
by the interpreter's count of allocated blocks over the rest of the run).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tracemalloc

import anyio
import pytest
from _bodies import history, visit

from fpjs_async import Session

from . import _wire
from ._wire import pages
from .conftest import SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.usefixtures("wire_transport")]

TOTAL_REQUESTS = 20_000
CONCURRENCY = 8
WARM_UP = 2_000
TRACED = 600
PAGE = json.dumps(history(visit(), visit(request_id="1708102555000.AbCdEf"))).encode()
FD_DIR = "/proc/self/fd"


def open_fds() -> int:
    return len(os.listdir(FD_DIR))


async def send(session: Session, requests: int) -> None:
    """`requests` calls of `get_visits`, `CONCURRENCY` at a time."""
    per_worker, extra = divmod(requests, CONCURRENCY)

    async def worker(index: int) -> None:
        for n in range(per_worker + (index < extra)):
            page = await session.get_visits(f"visitor-{index}-{n % 50}")
            assert len(page.visits) == 2

    async with anyio.create_task_group() as group:
        for index in range(CONCURRENCY):
            group.start_soon(worker, index)


def heap_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    """Bytes allocated between the snapshots and still held, the test server's own aside
    (it keeps its last requests, and the traced ones replace untraced ones)."""
    server = [tracemalloc.Filter(False, _wire.__file__)]
    before, after = before.filter_traces(server), after.filter_traces(server)
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


@pytest.mark.skipif(not os.path.isdir(FD_DIR), reason="counts descriptors in /proc/self/fd")
async def test_twenty_thousand_requests_through_one_session(serve: StartServer) -> None:
    fds_at_start = open_fds()
    server = serve(pages(PAGE))
    session = Session(SECRET, base_url=server.url, max_concurrency=CONCURRENCY)
    async with session:
        await send(session, WARM_UP)
        gc.collect()
        fds_after_warm_up = open_fds()

        tracemalloc.start()
        try:
            await send(session, TRACED // 5)
            gc.collect()
            first = tracemalloc.take_snapshot()
            await send(session, TRACED - TRACED // 5)
            gc.collect()
            second = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        growth = heap_growth(first, second)
        del first, second  # large: not to be kept through the rest of the run
        blocks_before = sys.getallocatedblocks()

        await send(session, TOTAL_REQUESTS - WARM_UP - TRACED)
        gc.collect()
        blocks_after = sys.getallocatedblocks()
        fds_at_end = open_fds()

        assert session.stats.requests == TOTAL_REQUESTS
        assert session.stats.retries == 0

    assert server.requests == TOTAL_REQUESTS
    assert server.peak_inflight <= CONCURRENCY
    assert server.peak_serving_connections <= CONCURRENCY
    assert server.connections <= CONCURRENCY  # kept alive: no connection was opened twice
    assert fds_at_end == fds_after_warm_up
    assert growth < 1_000_000, f"the heap grew by {growth} bytes over {TRACED} requests"
    assert blocks_after - blocks_before < 5_000  # not one block kept per request
    server.stop()
    assert open_fds() <= fds_at_start
