"""Session.search_many against the emulator: completeness, bounds, errors, laziness, cancellation.

The emulator's clock is pinned, so that a search from `MONTH_AGO` (its retention) reaches
every stored event however long the tests take.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from _bulk_support import BOTH_BACKENDS, HANG_GUARD, LATENCY, collect

from fpjs_async import (
    AuthenticationError,
    BadRequestError,
    BulkProgress,
    EventsResult,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
)
from fpjs_async.testing import FakeServerAPI, Fault

pytestmark = pytest.mark.anyio

KEY = "search-many-key"
NOW_MS = 1_750_000_000_000
MONTH_AGO = NOW_MS - 30 * 86_400_000
NO_RETRY = RetryPolicy(max_retries=0)
NO_WAIT = RetryPolicy(max_retries=2, backoff_base=0.0, jitter=False)


def emulator(visitors: int, events: tuple[int, int] = (1, 3), **options: Any) -> FakeServerAPI:
    fake = FakeServerAPI(KEY, latency=LATENCY, now=NOW_MS, **options)
    fake.populate(visitors=visitors, visits_per_visitor=events, seed=11)
    return fake


def ids_of(result: EventsResult) -> list[str]:
    return [event.event_id for event in result.events]


def stored_ids(fake: FakeServerAPI, visitor_id: str) -> list[str]:
    return [event.event_id for event in fake.events_of(visitor_id)]


@BOTH_BACKENDS
async def test_every_event_of_every_visitor_within_the_concurrency() -> None:
    fake = emulator(150, events=(1, 9))
    async with fake.session(retry=NO_RETRY) as fp:
        with anyio.fail_after(HANG_GUARD):
            async with fp.search_many(
                fake.visitor_ids, concurrency=16, all_pages=True, limit=3, start=MONTH_AGO
            ) as results:
                got = await collect(results)
    assert sorted(r.visitor_id for r in got) == sorted(fake.visitor_ids)
    for result in got:
        assert result.ok
        assert result.events == tuple(fake.events_of(result.visitor_id))
        assert result.pages == math.ceil(len(result.events) / 3)
    assert len(fake.requests) == sum(r.pages for r in got)
    assert max(r.pages for r in got) == 3
    assert 8 <= fake.max_in_flight <= 16


async def test_each_request_carries_its_visitor_and_every_filter() -> None:
    fake = emulator(4, events=(5, 5))
    async with (
        fake.session() as fp,
        fp.search_many(
            fake.visitor_ids,
            all_pages=True,
            limit=2,
            start=MONTH_AGO,
            end=NOW_MS,
            reverse=True,
            vpn=False,
        ) as results,
    ):
        got = {r.visitor_id: r for r in await collect(results)}
    for visitor_id, result in got.items():
        expected = [e for e in fake.events_of(visitor_id) if not e.vpn][::-1]  # oldest first
        assert result.events == tuple(expected)
        assert result.pages == max(1, math.ceil(len(expected) / 2))
    filters = {"limit": "2", "start": str(MONTH_AGO), "end": str(NOW_MS), "reverse": "true"}
    for request in fake.requests:
        assert request.visitor_id in got
        assert request.params.items() >= {**filters, "vpn": "false"}.items()
        assert next(iter(request.all_params)) == "visitor_id"
    firsts = [r for r in fake.requests if "pagination_key" not in r.params]
    assert sorted(r.visitor_id or "" for r in firsts) == sorted(got)
    assert len(fake.requests) == sum(r.pages for r in got.values())


async def test_first_page_of_the_default_window_only_by_default() -> None:
    fake = emulator(20, events=(4, 40))
    async with fake.session() as fp, fp.search_many(fake.visitor_ids, limit=3) as results:
        got = await collect(results)
    assert len(got) == 20
    week_ago = NOW_MS - 7 * 86_400_000
    for result in got:
        assert result.pages == 1
        recent = [e for e in fake.events_of(result.visitor_id) if e.timestamp >= week_ago]
        assert result.events == tuple(recent[:3])


async def test_max_pages_and_max_events_apply_per_visitor() -> None:
    fake = emulator(10, events=(12, 12))
    async with fake.session() as fp:
        async with fp.search_many(
            fake.visitor_ids, all_pages=True, limit=2, max_pages=3, start=MONTH_AGO
        ) as results:
            by_pages = await collect(results)
        async with fp.search_many(
            fake.visitor_ids, all_pages=True, limit=2, max_events=5, start=MONTH_AGO
        ) as results:
            by_events = await collect(results)
    assert {(r.pages, len(r.events)) for r in by_pages} == {(3, 6)}
    assert {(r.pages, len(r.events)) for r in by_events} == {(3, 5)}
    assert all(ids_of(r) == stored_ids(fake, r.visitor_id)[:5] for r in by_events)


async def test_pages_without_events_do_not_end_a_visitor() -> None:
    # The emulator examines at most 4 events per page: pages of a sparse filter are empty.
    fake = emulator(6, events=(30, 30), search_scan_limit=4)
    async with (
        fake.session() as fp,
        fp.search_many(
            fake.visitor_ids, all_pages=True, limit=10, start=MONTH_AGO, incognito=True
        ) as results,
    ):
        got = await collect(results)
    for result in got:
        expected = [e for e in fake.events_of(result.visitor_id) if e.incognito]
        assert result.events == tuple(expected)
        assert result.pages >= 30 // 4
    assert any(len(r.events) < r.pages for r in got)


async def test_errors_land_in_their_results_and_the_rest_succeed() -> None:
    fake = emulator(40, events=(3, 6))
    missing, forbidden, broken = fake.visitor_ids[3], fake.visitor_ids[10], fake.visitor_ids[20]
    fake.add_fault(Fault.error(404), visitor_id=missing)
    fake.add_fault(Fault.error(403), visitor_id=forbidden)
    # The second page of one visitor is refused: the first page's events are kept.
    fake.add_fault(
        Fault.error(400), visitor_id=broken, when=lambda request: "pagination_key" in request.params
    )
    async with (
        fake.session(retry=NO_RETRY) as fp,
        fp.search_many(
            fake.visitor_ids, concurrency=8, all_pages=True, limit=2, start=MONTH_AGO
        ) as results,
    ):
        got = {r.visitor_id: r for r in await collect(results)}
    assert len(got) == 40
    error = got[missing].error
    assert isinstance(error, NotFoundError)
    assert error.code == "visitor_not_found"
    assert (got[missing].events, got[missing].pages, got[missing].ok) == ((), 0, False)
    assert isinstance(got[forbidden].error, AuthenticationError)
    assert isinstance(got[broken].error, BadRequestError)
    assert ids_of(got[broken]) == stored_ids(fake, broken)[:2]
    assert got[broken].pages == 1
    for visitor_id, result in got.items():
        if visitor_id not in (missing, forbidden, broken):
            assert result.ok
            assert ids_of(result) == stored_ids(fake, visitor_id)


async def test_an_unknown_visitor_is_a_not_found_result() -> None:
    fake = emulator(2)
    async with fake.session() as fp, fp.search_many([*fake.visitor_ids, "nobody"]) as results:
        got = {r.visitor_id: r for r in await collect(results)}
    assert isinstance(got["nobody"].error, NotFoundError)
    assert all(got[v].ok for v in fake.visitor_ids)


async def test_429s_without_retry_after_are_retried_and_counted() -> None:
    fake = emulator(30, events=(1, 1))
    fake.fail_next(4, 429)
    progress: list[BulkProgress] = []
    # A rate limit of our own: the session then does not slow down to find the server's.
    async with (
        fake.session(retry=NO_WAIT, rate_limit=1000) as fp,
        fp.search_many(fake.visitor_ids, concurrency=4, on_progress=progress.append) as results,
    ):
        got = await collect(results)
    assert all(r.ok for r in got)
    assert fake.status_counts[429] == 4
    assert progress[-1].retries == 4
    assert progress[-1].requests == len(fake.requests) == 30 + 4


async def test_a_429_that_lasts_lands_in_its_result() -> None:
    fake = emulator(3, events=(1, 1))
    fake.add_fault(Fault.error(429), visitor_id=fake.visitor_ids[0])
    async with (
        fake.session(retry=NO_WAIT, rate_limit=1000) as fp,
        fp.search_many(fake.visitor_ids) as results,
    ):
        got = {r.visitor_id: r for r in await collect(results)}
    error = got[fake.visitor_ids[0]].error
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None  # v4 sends no Retry-After
    assert [got[v].ok for v in fake.visitor_ids[1:]] == [True, True]


async def test_duplicates_are_searched_once_and_progress_adds_up() -> None:
    fake = emulator(3, events=(12, 12))
    a, b, c = fake.visitor_ids
    fake.add_fault(Fault.error(404), visitor_id=c)
    progress: list[BulkProgress] = []
    async with (
        fake.session(retry=NO_RETRY) as fp,
        fp.search_many(
            [a, b, a, c, b, a],
            concurrency=2,
            all_pages=True,
            limit=5,
            start=MONTH_AGO,
            on_progress=progress.append,
        ) as results,
    ):
        got = await collect(results)
    assert sorted(r.visitor_id for r in got) == sorted([a, b, c])
    assert sorted(r.visitor_id or "" for r in fake.requests) == sorted([a] * 3 + [b] * 3 + [c])
    assert [p.visitors_done for p in progress] == [1, 2, 3]
    assert progress[-1] == BulkProgress(
        visitors_done=3,
        visitors_failed=1,
        visitors_total_known=3,
        total_is_final=True,
        pages=6,
        requests=7,
        retries=0,
    )


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"visitor_id": "v"}, TypeError, r"'visitor_id' \(it is set for each key\)"),
        ({"pagination_key": "k"}, TypeError, "'pagination_key'"),
        ({"total_hits": 5}, TypeError, "'total_hits'"),
        ({"visitorid": "v"}, TypeError, r"^search_many\(\) got an unexpected keyword"),
        ({"linked_id": ""}, ValueError, "linked_id"),
        ({"suspect": 1}, TypeError, "suspect"),
        ({"limit": 101}, ValueError, "limit"),
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"concurrency": None}, TypeError, "concurrency"),
        ({"all_pages": "yes"}, TypeError, "all_pages"),
        ({"raise_on_error": 1}, TypeError, "raise_on_error"),
        ({"max_pages": 2}, ValueError, "all_pages"),
        ({"max_pages": 0, "all_pages": True}, ValueError, "max_pages"),
        ({"max_events": 0}, ValueError, "max_events"),
        ({"on_progress": "print"}, TypeError, "on_progress"),
    ],
)
async def test_options_are_checked_before_anything_is_sent(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    fake = emulator(3)
    async with fake.session() as fp:
        with pytest.raises(error, match=match):
            fp.search_many(fake.visitor_ids, **options)
    assert fake.requests == []
