"""The v4 recipes of docs/examples/ (stateless pagination, the worker), run against the emulator.

The emulator's clock is pinned a day ahead of real time and its events reach 28 days back
from there, so that the recipes' `start` (29 days before the real now) reaches every event
deterministically; its retention is then widened, so that every such `start` is accepted.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from _apps import NO_RETRIES, opener, serve_asgi

import fpjs_async
from fpjs_async.testing import FakeServerAPI, Fault

pytestmark = pytest.mark.anyio

DAY_MS = 86_400_000


def emulator(visitors: int, events: int | tuple[int, int], seed: int) -> FakeServerAPI:
    """Visitors whose events all lie within the last 28 days (see the module's docstring)."""
    fake = FakeServerAPI("test-key", now=int(time.time() * 1000) + DAY_MS)
    populate(fake, visitors, events, seed)
    return fake


def populate(
    fake: FakeServerAPI, visitors: int, events: int | tuple[int, int], seed: int
) -> list[str]:
    """Add visitors to an `emulator` (see the module's docstring); their IDs."""
    fake.retention_days = 29  # how far back `populate` reaches
    made = fake.populate(visitors=visitors, visits_per_visitor=events, seed=seed)
    fake.retention_days = 60
    return made


def event_ids(events: list[fpjs_async.Event]) -> list[str]:
    return [event.event_id for event in events]


# --- stateless pagination -----------------------------------------------------------------


def pages_client(
    examples: Callable[[str], ModuleType], fake: FakeServerAPI
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """A client of the recipe's application, in-process, over `fake`."""
    return serve_asgi(examples("stateless_pagination").create_app(opener(fake)))


async def test_stateless_pagination_walks_the_events_with_next_tokens(
    examples: Callable[[str], ModuleType],
) -> None:
    fake = emulator(1, 230, seed=4)
    (visitor_id,) = fake.visitor_ids
    event_json = examples("stateless_pagination").event_json
    seen: list[Any] = []
    params: dict[str, Any] = {"limit": 100}
    pages = 0
    async with pages_client(examples, fake) as client:
        while True:
            response = await client.get(f"/visitors/{visitor_id}/events", params=params)
            assert response.status_code == 200
            body = response.json()
            pages += 1
            seen.extend(body["events"])
            if body["next"] is None:
                break
            params = {"limit": 100, "next": body["next"]}
    assert pages == 3
    assert seen == [event_json(event) for event in fake.events_of(visitor_id)]
    # Every request carried the same search; those after the first, the previous cursor.
    starts = {request.params["start"] for request in fake.requests}
    assert len(starts) == 1
    assert all("pagination_key" in request.params for request in fake.requests[1:])


async def test_stateless_pagination_of_an_unknown_visitor_is_404(
    examples: Callable[[str], ModuleType],
) -> None:
    async with pages_client(examples, emulator(1, 3, seed=1)) as client:
        response = await client.get("/visitors/nobody/events")
    assert response.status_code == 404


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _ours(visitor_id: str, **fields: object) -> str:
    """A token of our shape for `visitor_id`, with `fields` changed."""
    return _token({"visitor_id": visitor_id, "start": 1, "pagination_key": "k", **fields})


@pytest.mark.parametrize(
    "make",
    [
        lambda v: "not base64 at all!",
        lambda v: base64.urlsafe_b64encode(b"not json").decode(),
        lambda v: _token(["a", "list"]),
        lambda v: _ours("SomeoneElse"),
        lambda v: _token({"visitor_id": v, "start": 1}),
        lambda v: _ours(v, start="1"),
        lambda v: _ours(v, start=True),
        lambda v: _ours(v, start=-5),
        lambda v: _ours(v, pagination_key=""),
        lambda v: _ours(v, vpn=True),
        lambda v: _ours(v, pagination_key="made-up"),
    ],
    ids=[
        "not-base64",
        "not-json",
        "not-an-object",
        "other-visitor",
        "no-cursor",
        "start-str",
        "start-bool",
        "start-negative",
        "empty-key",
        "extra-argument",
        "unknown-key",
    ],
)
async def test_stateless_pagination_refuses_a_bad_token(
    examples: Callable[[str], ModuleType], make: Callable[[str], str]
) -> None:
    fake = emulator(1, 3, seed=2)
    (visitor_id,) = fake.visitor_ids
    async with pages_client(examples, fake) as client:
        response = await client.get(
            f"/visitors/{visitor_id}/events", params={"next": make(visitor_id)}
        )
    assert response.status_code == 400
    assert response.json() == {"detail": "invalid next token"}


async def test_stateless_pagination_keeps_the_base_error_mapping(
    examples: Callable[[str], ModuleType],
) -> None:
    fake = emulator(1, 3, seed=3)
    fake.add_fault(Fault.error(400))  # without a token, a 400 is the API's, not the client's
    async with pages_client(examples, fake) as client:
        response = await client.get(f"/visitors/{fake.visitor_ids[0]}/events")
    assert response.status_code == 502


# --- the worker ---------------------------------------------------------------------------


async def run_worker_once(
    worker: ModuleType,
    session: fpjs_async.Session,
    store: Any,
    visitor_ids: list[str],
    *,
    batch_size: int,
) -> Any:
    """Send `visitor_ids` to a worker through a memory stream, then end the stream."""
    send, receive = anyio.create_memory_object_stream[str](max_buffer_size=len(visitor_ids))
    with send:
        for visitor_id in visitor_ids:
            send.send_nowait(visitor_id)
    return await worker.run_worker(session, receive, store, batch_size=batch_size, concurrency=3)


def new_events(visitor_id: str, count: int, start_ms: int) -> list[dict[str, Any]]:
    identification = {"visitor_id": visitor_id, "visitor_found": True}
    return [
        {"event_id": f"{start_ms + i}.New{i:03d}", "timestamp": start_ms + i, "url": "https://x/"}
        | {"identification": identification}
        for i in range(count)
    ]


def stored(store: Any, visitor_id: str) -> list[str]:
    events = sorted(store.events.get(visitor_id, {}).values(), key=lambda e: -e.timestamp)
    return event_ids(events)


@pytest.mark.parametrize("batch_size", [1, 4])
async def test_worker_stores_events_then_fetches_only_what_is_new(
    examples: Callable[[str], ModuleType], batch_size: int
) -> None:
    worker = examples("worker")
    fake = emulator(6, (40, 260), seed=11)
    ids = fake.visitor_ids
    store = worker.MemoryStore()
    async with fake.session() as session:
        first = await run_worker_once(worker, session, store, ids, batch_size=batch_size)
        assert (first.visitors, first.new_events, first.failed) == (6, fake.count_events(), {})
        for visitor_id in ids:
            assert stored(store, visitor_id) == event_ids(fake.events_of(visitor_id))
        first_requests = len(fake.requests)

        newest = {v: fake.events_of(v)[0].timestamp for v in ids}
        fake.add_events(new_events(ids[0], 3, newest[ids[0]] + 1000))
        fake.add_events(new_events(ids[4], 2, newest[ids[4]] + 5000))
        (newcomer,) = populate(fake, 1, 150, seed=12)
        fake.reset_requests()
        second = await run_worker_once(
            worker, session, store, [*ids, newcomer], batch_size=batch_size
        )

    assert (second.visitors, second.new_events, second.failed) == (7, 5 + 150, {})
    for visitor_id in [*ids, newcomer]:
        assert stored(store, visitor_id) == event_ids(fake.events_of(visitor_id))
    newcomer_requests = [r for r in fake.requests if r.visitor_id == newcomer]
    assert len(newcomer_requests) == 2  # 150 events: 100 per page
    if batch_size == 1:
        # Each known visitor resumes from its own newest event: one page says it all.
        known = [r.visitor_id for r in fake.requests if r.visitor_id != newcomer]
        assert sorted(known) == sorted(ids)
        assert len(known) < first_requests  # the first run needed several pages for some


async def test_worker_keeps_nothing_of_a_search_that_failed_half_way(
    examples: Callable[[str], ModuleType],
) -> None:
    worker = examples("worker")
    fake = emulator(3, (150, 260), seed=5)
    ids = fake.visitor_ids
    fake.add_fault(
        Fault.error(500),
        visitor_id=ids[1],
        when=lambda request: "pagination_key" in request.params,
    )
    store = worker.MemoryStore()
    async with fake.session(retry=NO_RETRIES) as session:
        first = await run_worker_once(worker, session, store, ids, batch_size=10)
        assert set(first.failed) == {ids[1]}
        assert isinstance(first.failed[ids[1]], fpjs_async.ServerError)
        assert ids[1] not in store.events
        assert first.new_events == fake.count_events(ids[0]) + fake.count_events(ids[2])

        fake.clear_faults()
        second = await run_worker_once(worker, session, store, [ids[1]], batch_size=10)
    assert second.failed == {}
    assert stored(store, ids[1]) == event_ids(fake.events_of(ids[1]))


async def test_worker_skips_a_visitor_without_events(
    examples: Callable[[str], ModuleType],
) -> None:
    worker = examples("worker")
    fake = emulator(2, 5, seed=6)
    store = worker.MemoryStore()
    async with fake.session() as session:
        report = await run_worker_once(
            worker, session, store, [*fake.visitor_ids, "nobody"], batch_size=10
        )
    assert (report.visitors, report.new_events, report.failed) == (3, 10, {})
    assert "nobody" not in store.events


async def test_worker_never_asks_for_more_than_its_history(
    examples: Callable[[str], ModuleType],
) -> None:
    worker = examples("worker")
    fake = emulator(2, 5, seed=7)
    # As the API: a `start` before the history the worker reaches back to would be refused.
    fake.retention_days = 30
    store = worker.MemoryStore()
    # Known, but only from an event long gone from the API.
    store.events = {v: {"ancient": fpjs_async.Event("ancient", 1000)} for v in fake.visitor_ids}
    async with fake.session(retry=NO_RETRIES) as session:
        report = await run_worker_once(worker, session, store, fake.visitor_ids, batch_size=10)
    assert (report.failed, report.new_events) == ({}, 10)
    for visitor_id in fake.visitor_ids:
        assert stored(store, visitor_id) == [*event_ids(fake.events_of(visitor_id)), "ancient"]


async def test_worker_takes_ids_in_batches_as_they_come(
    examples: Callable[[str], ModuleType],
) -> None:
    worker = examples("worker")
    send, receive = anyio.create_memory_object_stream[str](max_buffer_size=10)
    for visitor_id in "abcde":
        send.send_nowait(visitor_id)
    assert await worker.next_batch(receive, 3) == ["a", "b", "c"]
    assert await worker.next_batch(receive, 3) == ["d", "e"]
    send.close()
    assert await worker.next_batch(receive, 3) == []
    receive.close()
