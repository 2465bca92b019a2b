"""The engine under `fetch_many` (v3) and `search_many` (v4), tested through both.

Laziness, backpressure, cancellation and the checks of the input belong to `BulkFetch`,
whichever API version its jobs call: each test here runs once per method.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import pytest
from _bulk_support import (
    BOTH_BACKENDS,
    HANG_GUARD,
    LATENCY,
    Counting,
    collect,
    fail_on_first_result,
    read_into,
    wait_for_quiet,
)

from fpjs_async import BulkFetch, NotFoundError, Session
from fpjs_async.testing import FakeServerAPI, Fault

pytestmark = pytest.mark.anyio

KEY = "bulk-engine-key"


class Many(Protocol):
    """`Session.fetch_many` or `Session.search_many`, bound to a session."""

    def __call__(self, visitor_ids: Any, **options: Any) -> BulkFetch[Any]: ...


@pytest.fixture(params=["fetch_many", "search_many"])
def method(request: pytest.FixtureRequest) -> str:
    """The name of the session method under test."""
    name: str = request.param
    return name


def emulator(visitors: int) -> FakeServerAPI:
    fake = FakeServerAPI(KEY, latency=LATENCY)
    fake.populate(visitors=visitors, visits_per_visitor=1, seed=3)
    return fake


def many(session: Session, method: str) -> Many:
    bound: Many = getattr(session, method)
    return bound


@BOTH_BACKENDS
async def test_break_stops_all_traffic(method: str) -> None:
    fake = emulator(200)
    async with fake.session() as session:
        received = 0
        async with many(session, method)(fake.visitor_ids, concurrency=8) as results:
            async for _ in results:
                received += 1
                if received == 25:
                    break
        assert fake.in_flight == 0
        sent = len(fake.requests)
        assert await wait_for_quiet(fake) == sent
    assert received == 25
    # The workers in progress when the loop stopped, and the buffered results: no more.
    assert sent <= 25 + 2 * 8


async def test_endless_input_with_break(method: str) -> None:
    fake = emulator(60)

    def endless() -> Iterator[str]:
        yield from fake.visitor_ids
        for number in itertools.count():
            yield f"unknown-{number}"  # an empty history (v3), a not-found result (v4)

    ids = Counting(endless())
    async with fake.session() as session:
        got = []
        async with many(session, method)(ids, concurrency=10) as results:
            async for result in results:
                got.append(result)
                if len(got) == 50:
                    break
        sent = len(fake.requests)
        assert await wait_for_quiet(fake) == sent
    assert len(got) == 50
    assert ids.pulled <= 50 + 2 * 10


async def test_input_is_consumed_lazily(method: str) -> None:
    fake = emulator(100)
    ids = Counting(iter(fake.visitor_ids))
    concurrency = 4
    ahead = []
    received = 0
    async with (
        fake.session() as session,
        many(session, method)(ids, concurrency=concurrency) as results,
    ):
        async for _ in results:
            received += 1
            ahead.append(ids.pulled - received)
            await anyio.sleep(LATENCY)  # a slow reader
    assert received == 100
    # In progress (one per worker) plus finished but not yet read (the buffer).
    assert max(ahead) <= 2 * concurrency
    assert fake.max_in_flight <= concurrency


@BOTH_BACKENDS
async def test_async_iterable_input(method: str) -> None:
    fake = emulator(50)

    async def ids() -> AsyncIterator[str]:
        for visitor_id in fake.visitor_ids:
            await anyio.lowlevel.checkpoint()
            yield visitor_id

    async with fake.session() as session, many(session, method)(ids(), concurrency=8) as results:
        got = await collect(results)
    assert sorted(r.visitor_id for r in got) == sorted(fake.visitor_ids)
    assert all(r.ok for r in got)


async def test_empty_input_ends_at_once(method: str) -> None:
    fake = emulator(1)
    async with fake.session() as session:
        async with many(session, method)([]) as results:
            assert await collect(results) == []
        async with many(session, method)(iter(())) as results:
            assert await collect(results) == []
    assert fake.requests == []


@BOTH_BACKENDS
async def test_raise_on_error_cancels_the_rest_and_raises(method: str) -> None:
    fake = emulator(200)
    missing = fake.visitor_ids[30]
    fake.add_fault(Fault.error(404), visitor_id=missing)
    got: list[Any] = []
    async with fake.session() as session:
        bulk = many(session, method)(fake.visitor_ids, concurrency=8, raise_on_error=True)
        with anyio.fail_after(HANG_GUARD), pytest.raises(NotFoundError) as caught:
            await read_into(got, bulk)
        assert fake.in_flight == 0
        sent = len(fake.requests)
        assert await wait_for_quiet(fake) == sent
    assert caught.value.status == 404
    assert all(r.ok for r in got)
    assert sent < 200


@BOTH_BACKENDS
async def test_cancellation_from_outside_stops_everything(method: str) -> None:
    fake = emulator(300)
    got: list[Any] = []
    async with fake.session() as session:
        with anyio.move_on_after(20 * LATENCY) as scope:
            await read_into(got, many(session, method)(fake.visitor_ids, concurrency=8))
        assert scope.cancelled_caught
        assert fake.in_flight == 0
        sent = len(fake.requests)
        assert await wait_for_quiet(fake) == sent
    assert len(got) < 300


@BOTH_BACKENDS
async def test_an_exception_in_the_body_propagates_and_stops_the_workers(method: str) -> None:
    fake = emulator(100)
    async with fake.session() as session:
        with pytest.raises(LookupError, match="stop here"):
            await fail_on_first_result(many(session, method)(fake.visitor_ids, concurrency=8))
        assert fake.in_flight == 0
        sent = len(fake.requests)
        assert await wait_for_quiet(fake) == sent
    assert sent <= 1 + 2 * 8


@pytest.mark.parametrize(("bad_id", "error"), [("", ValueError), (42, TypeError)])
async def test_an_invalid_id_in_the_input_is_raised(
    method: str, bad_id: object, error: type[Exception]
) -> None:
    fake = emulator(3)
    ids = [*fake.visitor_ids, bad_id]
    async with fake.session() as session:
        with pytest.raises(error, match="visitor_id"):
            async with many(session, method)(ids, concurrency=1) as results:
                await collect(results)


@pytest.mark.parametrize("ids", ["visitor", b"visitor", 42, None])
async def test_visitor_ids_must_be_an_iterable_of_ids(method: str, ids: object) -> None:
    async with Session(KEY) as session:
        with pytest.raises(TypeError, match="visitor_ids"):
            many(session, method)(ids)


async def test_a_closed_session_refuses(method: str) -> None:
    session = Session(KEY)
    await session.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        many(session, method)(["a"])


async def test_the_context_is_entered_once(method: str) -> None:
    fake = emulator(2)
    async with fake.session() as session:
        bulk = many(session, method)(fake.visitor_ids)
        assert bulk.progress().visitors_done == 0
        async with bulk as results:
            await collect(results)
        assert bulk.progress().visitors_done == 2
        with pytest.raises(RuntimeError, match="once"):
            async with bulk:
                pass
