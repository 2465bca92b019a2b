"""Session.fetch_many against the emulator: completeness, bounds, errors, laziness, cancellation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import datetime

import anyio
import anyio.lowlevel
import pytest
from _bulk_support import BOTH_BACKENDS, HANG_GUARD, LATENCY, collect
from _clocks import ManualClock

from fpjs_async import (
    AuthenticationError,
    BadRequestError,
    BulkProgress,
    BulkResult,
    NotFoundError,
    RetryPolicy,
)
from fpjs_async.testing import FakeServerAPI, Fault

pytestmark = pytest.mark.anyio

KEY = "bulk-key"


def emulator(visitors: int, visits: tuple[int, int] = (1, 3), **options: object) -> FakeServerAPI:
    fake = FakeServerAPI(KEY, latency=LATENCY, **options)  # type: ignore[arg-type]
    fake.populate(visitors=visitors, visits_per_visitor=visits, seed=7)
    return fake


@BOTH_BACKENDS
async def test_every_visit_of_every_visitor_within_the_concurrency() -> None:
    fake = emulator(300, visits=(1, 9))
    async with fake.session(retry=RetryPolicy(max_retries=0)) as session:
        with anyio.fail_after(HANG_GUARD):
            async with session.fetch_many(
                fake.visitor_ids, concurrency=16, all_pages=True, limit=3
            ) as results:
                got = await collect(results)
    assert sorted(r.visitor_id for r in got) == sorted(fake.visitor_ids)
    for result in got:
        expected = fake.visits_of(result.visitor_id)
        assert result.ok
        assert result.visits == tuple(expected)
        assert result.pages == math.ceil(len(expected) / 3)
    assert len(fake.requests) == sum(r.pages for r in got)
    assert max(r.pages for r in got) == 3
    assert 8 <= fake.max_in_flight <= 16


async def test_first_page_only_by_default() -> None:
    fake = emulator(20, visits=(4, 9))
    async with fake.session() as session, session.fetch_many(fake.visitor_ids, limit=3) as results:
        got = await collect(results)
    assert len(got) == 20
    for result in got:
        assert result.pages == 1
        assert result.visits == tuple(fake.visits_of(result.visitor_id)[:3])


async def test_max_pages_max_visits_and_since_apply_per_visitor() -> None:
    fake = emulator(10, visits=(12, 12))
    anchor = fake.visits_of(fake.visitor_ids[0])[4].timestamp
    async with fake.session() as session:
        async with session.fetch_many(
            fake.visitor_ids, all_pages=True, limit=2, max_pages=3
        ) as results:
            by_pages = await collect(results)
        async with session.fetch_many(
            fake.visitor_ids, all_pages=True, limit=2, max_visits=5
        ) as results:
            by_visits = await collect(results)
        async with session.fetch_many(
            fake.visitor_ids[:1], all_pages=True, limit=2, since=anchor
        ) as results:
            [by_time] = await collect(results)
    assert {(r.pages, len(r.visits)) for r in by_pages} == {(3, 6)}
    assert {(r.pages, len(r.visits)) for r in by_visits} == {(3, 5)}
    assert by_time.visits == tuple(fake.visits_of(fake.visitor_ids[0])[:5])
    assert by_time.pages == 3


async def test_errors_land_in_their_results_and_the_rest_succeed() -> None:
    fake = emulator(40, visits=(3, 6))
    missing, forbidden, broken = fake.visitor_ids[3], fake.visitor_ids[10], fake.visitor_ids[20]
    fake.add_fault(Fault.error(404), visitor_id=missing)
    fake.add_fault(Fault.error(403), visitor_id=forbidden)
    # The second page of one visitor is refused: the first page's visits are kept.
    fake.add_fault(
        Fault.error(400), visitor_id=broken, when=lambda request: "paginationKey" in request.params
    )
    async with (
        fake.session() as session,
        session.fetch_many(fake.visitor_ids, concurrency=8, all_pages=True, limit=2) as results,
    ):
        got = {r.visitor_id: r for r in await collect(results)}
    assert len(got) == 40
    assert isinstance(got[missing].error, NotFoundError)
    assert isinstance(got[forbidden].error, AuthenticationError)
    assert (got[missing].visits, got[missing].pages) == ((), 0)
    assert not got[missing].ok
    assert isinstance(got[broken].error, BadRequestError)
    assert got[broken].visits == tuple(fake.visits_of(broken)[:2])
    assert got[broken].pages == 1
    for visitor_id, result in got.items():
        if visitor_id not in (missing, forbidden, broken):
            assert result.ok
            assert result.visits == tuple(fake.visits_of(visitor_id))


async def test_429_storm_is_waited_out_together() -> None:
    fake = emulator(120, visits=(1, 1))
    concurrency = 16
    async with fake.session(retry=RetryPolicy(max_retries=2, jitter=False)) as session:
        fake.rate_limit_burst(0.5)  # every request is refused for 0.5 s, Retry-After: 1
        with anyio.fail_after(HANG_GUARD):
            async with session.fetch_many(fake.visitor_ids, concurrency=concurrency) as results:
                got = await collect(results)
        stats = session.stats
    assert len(got) == 120
    assert all(r.ok for r in got)
    refused = stats.rate_limited
    # Only the requests already on their way when the window closed were refused: the
    # others waited for the shared cooldown instead of spending their retries.
    assert 1 <= refused <= concurrency
    assert stats.requests == len(fake.requests) == 120 + refused
    assert stats.retries == refused


async def test_duplicates_are_fetched_once() -> None:
    fake = emulator(3)
    a, b, c = fake.visitor_ids
    progress: list[BulkProgress] = []
    async with (
        fake.session() as session,
        session.fetch_many(
            [a, b, a, c, b, a], concurrency=2, on_progress=progress.append
        ) as results,
    ):
        got = await collect(results)
    assert sorted(r.visitor_id for r in got) == sorted([a, b, c])
    assert sorted(request.visitor_id or "" for request in fake.requests) == sorted([a, b, c])
    assert progress[-1].visitors_total_known == 3
    assert progress[-1].visitors_done == 3


async def test_without_dedupe_every_id_is_fetched_and_none_is_kept() -> None:
    fake = emulator(2)
    a, b = fake.visitor_ids
    progress: list[BulkProgress] = []
    async with fake.session() as session:
        bulk = session.fetch_many(
            itertools.cycle([a, b]), concurrency=2, dedupe=False, on_progress=progress.append
        )
        got: list[BulkResult] = []
        async with bulk as results:
            async for result in results:
                got.append(result)
                if len(got) == 10:
                    break
    assert sorted(r.visitor_id for r in got) == sorted([a, b] * 5)
    assert progress[-1].visitors_total_known >= 10
    assert not progress[-1].total_is_final
    # Repeats are taken as they come: nothing of the input was remembered.
    assert not bulk._seen


@BOTH_BACKENDS
async def test_raise_on_error_interrupts_a_busy_body() -> None:
    fake = emulator(5)
    fake.add_fault(Fault.error(403))
    async with fake.session() as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(AuthenticationError):
            async with session.fetch_many(fake.visitor_ids, raise_on_error=True):
                await anyio.sleep_forever()


@BOTH_BACKENDS
async def test_an_error_raised_by_the_input_is_raised() -> None:
    fake = emulator(3)

    def ids() -> Iterator[str]:
        yield fake.visitor_ids[0]
        raise OSError("the file went away")

    async with fake.session() as session:
        with pytest.raises(OSError, match="went away"):
            async with session.fetch_many(ids()) as results:
                await collect(results)


async def test_progress_figures() -> None:
    fake = emulator(12, visits=(3, 5))
    fake.add_fault(Fault.error(404), visitor_id=fake.visitor_ids[0])
    fake.add_fault(Fault.error(503), visitor_id=fake.visitor_ids[1], times=1)  # retried once
    progress: list[BulkProgress] = []
    ids = [*fake.visitor_ids, fake.visitor_ids[5]]
    retry = RetryPolicy(max_retries=1, backoff_base=0.0, jitter=False)
    async with (
        fake.session(retry=retry) as session,
        session.fetch_many(
            ids, concurrency=3, all_pages=True, limit=2, on_progress=progress.append
        ) as results,
    ):
        got = await collect(results)
    assert [p.visitors_done for p in progress] == list(range(1, 13))
    final = progress[-1]
    assert final == BulkProgress(
        visitors_done=12,
        visitors_failed=1,
        visitors_total_known=12,
        total_is_final=True,
        pages=sum(r.pages for r in got),
        requests=len(fake.requests),
        retries=1,
    )
    assert all(p.total_is_final for p in progress)


async def test_progress_of_an_input_without_length() -> None:
    fake = emulator(10)
    progress: list[BulkProgress] = []
    async with (
        fake.session() as session,
        session.fetch_many(
            iter(fake.visitor_ids), concurrency=4, on_progress=progress.append
        ) as results,
    ):
        await collect(results)
    known = [p.visitors_total_known for p in progress]
    assert known == sorted(known)
    assert all(p.visitors_done <= p.visitors_total_known <= 10 for p in progress)
    assert not progress[0].total_is_final
    assert progress[-1].visitors_total_known == 10


async def test_an_error_in_on_progress_is_raised() -> None:
    fake = emulator(5)

    def explode(progress: BulkProgress) -> None:
        raise ZeroDivisionError("bad progress bar")

    async with fake.session() as session:
        with pytest.raises(ZeroDivisionError):
            async with session.fetch_many(fake.visitor_ids, on_progress=explode) as results:
                await collect(results)


async def test_session_max_concurrency_is_shared_by_every_call() -> None:
    fake = emulator(40, visits=(1, 40))
    async with fake.session(max_concurrency=4) as session:

        async def walk_one() -> None:
            async for _ in session.iter_visits(fake.visitor_ids[0], limit=2):
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(walk_one)
            async with session.fetch_many(fake.visitor_ids, concurrency=16) as results:
                await collect(results)
    assert fake.max_in_flight == 4


async def test_rate_limit_spaces_requests(clock: ManualClock) -> None:
    # The clock stands still: each reservation lands one interval after the previous.
    fake = FakeServerAPI(KEY)
    fake.populate(visitors=10, visits_per_visitor=1, seed=1)
    async with fake.session(rate_limit=50) as session:
        assert session.rate_limit == 50
        async with session.fetch_many(fake.visitor_ids, concurrency=4) as results:
            await collect(results)
    assert sorted(clock.sleeps) == pytest.approx([n / 50 for n in range(1, 10)])
    assert len(fake.requests) == 10


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"concurrency": None}, TypeError, "concurrency"),
        ({"concurrency": 2.0}, TypeError, "concurrency"),
        ({"all_pages": 1}, TypeError, "all_pages"),
        ({"raise_on_error": "yes"}, TypeError, "raise_on_error"),
        ({"dedupe": None}, TypeError, "dedupe"),
        ({"limit": 0}, ValueError, "limit"),
        ({"linked_id": ""}, ValueError, "linked_id"),
        ({"before": datetime(2024, 1, 1)}, ValueError, "before"),
        ({"since": -1}, ValueError, "since"),
        ({"max_pages": 2}, ValueError, "all_pages"),
        ({"max_pages": 0, "all_pages": True}, ValueError, "max_pages"),
        ({"max_visits": 0}, ValueError, "max_visits"),
        ({"on_progress": "print"}, TypeError, "on_progress"),
    ],
)
async def test_options_are_checked_before_anything_is_sent(
    options: dict[str, object], error: type[Exception], match: str
) -> None:
    fake = emulator(3)
    async with fake.session() as session:
        with pytest.raises(error, match=match):
            session.fetch_many(fake.visitor_ids, **options)  # type: ignore[arg-type]
    assert fake.requests == []
