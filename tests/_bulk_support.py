"""What the tests of `fetch_many` and `search_many` share: timings, readers, a counting input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import anyio
import pytest

from fpjs_async import BulkFetch
from fpjs_async.testing import FakeServerAPI

#: Long enough for requests to overlap, short enough for quick tests.
LATENCY = 0.005
#: A guard against a hang: every test here finishes well within it.
HANG_GUARD = 30
#: For the tests of cancellation and failure, whose mechanics differ between the backends.
BOTH_BACKENDS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])

ResultT = TypeVar("ResultT")


async def collect(results: AsyncIterator[ResultT]) -> list[ResultT]:
    return [result async for result in results]


async def read_into(got: list[Any], bulk: BulkFetch[Any]) -> None:
    async with bulk as results:
        async for result in results:
            got.append(result)


async def fail_on_first_result(bulk: BulkFetch[Any]) -> None:
    async with bulk as results:
        async for _ in results:
            raise LookupError("stop here")


async def wait_for_quiet(fake: FakeServerAPI) -> int:
    """The request count, after a pause long enough for any straggler to arrive."""
    await anyio.sleep(10 * LATENCY)
    return len(fake.requests)


class Counting:
    """An iterable of IDs that records how many were taken from it."""

    def __init__(self, ids: Iterator[str]) -> None:
        self._ids = ids
        self.pulled = 0

    def __iter__(self) -> Iterator[str]:
        for visitor_id in self._ids:
            self.pulled += 1
            yield visitor_id
