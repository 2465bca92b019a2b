"""The recipes of docs/examples/, run against the emulator.

FastAPI apps are served in-process (`httpx.ASGITransport`, with their lifespan run by
asgi-lifespan); the aiohttp app is served by aiohttp's test server on loopback. Each app's
session comes from the emulator (`FakeServerAPI.session`), injected through the app's
`create_app(open_session)`.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from _docs_emulator import EXAMPLE_VISITOR_ID, example_emulator
from aiohttp.test_utils import TestClient, TestServer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

import fpjs_async
from fpjs_async.testing import SYNTHETIC_END_MS, FakeServerAPI, Fault

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
NO_RETRIES = fpjs_async.RetryPolicy(max_retries=0)

SessionFactory = Callable[[], AbstractAsyncContextManager[fpjs_async.Session]]


@pytest.fixture(scope="module")
def examples() -> Iterator[Callable[[str], ModuleType]]:
    """Imports a recipe module of docs/examples by name."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def fake() -> FakeServerAPI:
    """The docs' emulator: key "your-secret-api-key", the example visitors."""
    return example_emulator()


def opener(fake: FakeServerAPI, opened: list[fpjs_async.Session] | None = None) -> SessionFactory:
    """A `create_app` session factory over the emulator (no retries); notes each session."""

    @asynccontextmanager
    async def open_session() -> AsyncIterator[fpjs_async.Session]:
        async with fake.session(retry=NO_RETRIES) as session:
            if opened is not None:
                opened.append(session)
            yield session

    return open_session


@asynccontextmanager
async def serve_asgi(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app`, in-process, between its startup and its shutdown."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://app.test"
        ) as client,
    ):
        yield client


def expected_json(examples: Callable[[str], ModuleType], visits: list[fpjs_async.Visit]) -> Any:
    visit_json = examples("web_common").visit_json
    return [visit_json(visit) for visit in visits]


# --- FastAPI -------------------------------------------------------------------------


@pytest.fixture
async def fastapi_client(
    examples: Callable[[str], ModuleType], fake: FakeServerAPI
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_asgi(examples("fastapi_app").create_app(opener(fake))) as client:
        yield client


@pytest.mark.anyio
async def test_fastapi_one_session_opened_at_startup_and_closed_at_shutdown(
    examples: Callable[[str], ModuleType], fake: FakeServerAPI
) -> None:
    opened: list[fpjs_async.Session] = []
    app = examples("fastapi_app").create_app(opener(fake, opened))
    async with serve_asgi(app) as client:
        assert len(opened) == 1
        assert not opened[0].closed
        for _ in range(3):
            response = await client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits")
            assert response.status_code == 200
        assert len(opened) == 1
        assert opened[0].stats.requests == 3
    assert opened[0].closed


@pytest.mark.anyio
async def test_fastapi_recent_visits(
    examples: Callable[[str], ModuleType],
    fake: FakeServerAPI,
    fastapi_client: httpx.AsyncClient,
) -> None:
    response = await fastapi_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits?limit=10")
    assert response.status_code == 200
    body = response.json()
    assert body["visitor_id"] == EXAMPLE_VISITOR_ID
    assert body["visits"] == expected_json(examples, fake.visits_of(EXAMPLE_VISITOR_ID)[:10])
    assert body["has_more"] is True
    assert fake.requests[-1].params == {"limit": "10"}


@pytest.mark.anyio
async def test_fastapi_recent_visits_filtered_by_linked_id(
    fake: FakeServerAPI, fastapi_client: httpx.AsyncClient
) -> None:
    response = await fastapi_client.get(
        f"/visitors/{EXAMPLE_VISITOR_ID}/visits", params={"limit": 100, "linked_id": "order-7"}
    )
    assert response.status_code == 200
    visits = response.json()["visits"]
    assert len(visits) == 3
    assert {visit["linked_id"] for visit in visits} == {"order-7"}


@pytest.mark.anyio
async def test_fastapi_checks_arguments_before_calling_the_api(
    fake: FakeServerAPI, fastapi_client: httpx.AsyncClient
) -> None:
    for query in ("limit=0", "limit=501", "limit=x"):
        response = await fastapi_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits?{query}")
        assert response.status_code == 422, query
    naive = await fastapi_client.get(
        f"/visitors/{EXAMPLE_VISITOR_ID}/history.ndjson?since=2024-01-01T00:00:00"
    )
    assert naive.status_code == 422
    assert fake.requests == []


@pytest.mark.anyio
async def test_fastapi_streams_the_whole_history_as_ndjson(
    examples: Callable[[str], ModuleType],
    fake: FakeServerAPI,
    fastapi_client: httpx.AsyncClient,
) -> None:
    async with fastapi_client.stream(
        "GET", f"/visitors/{EXAMPLE_VISITOR_ID}/history.ndjson"
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) async for line in response.aiter_lines() if line]
    assert lines == expected_json(examples, fake.visits_of(EXAMPLE_VISITOR_ID))
    assert len(fake.requests) == math.ceil(1200 / 500)


@pytest.mark.anyio
async def test_fastapi_streams_since_a_moment(
    examples: Callable[[str], ModuleType],
    fake: FakeServerAPI,
    fastapi_client: httpx.AsyncClient,
) -> None:
    since = datetime.now(timezone.utc) - timedelta(days=3)
    response = await fastapi_client.get(
        f"/visitors/{EXAMPLE_VISITOR_ID}/history.ndjson", params={"since": since.isoformat()}
    )
    expected = [
        visit
        for visit in fake.visits_of(EXAMPLE_VISITOR_ID)
        if visit.timestamp >= since.timestamp() * 1000
    ]
    assert expected
    assert [json.loads(line) for line in response.text.splitlines()] == expected_json(
        examples, expected
    )


@pytest.mark.anyio
async def test_fastapi_streams_an_empty_history_as_an_empty_body(
    fastapi_client: httpx.AsyncClient,
) -> None:
    response = await fastapi_client.get("/visitors/NoVisitsOfThisOne/history.ndjson")
    assert response.status_code == 200
    assert response.text == ""


@pytest.mark.anyio
async def test_fastapi_stream_failing_after_its_start_ends_with_an_error_line(
    fake: FakeServerAPI, fastapi_client: httpx.AsyncClient
) -> None:
    fake.add_fault(Fault.error(500), when=lambda request: "paginationKey" in request.params)
    response = await fastapi_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/history.ndjson")
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 501
    assert lines[-1] == {"error": "the visitor-history service failed"}


@pytest.mark.parametrize(
    ("fault", "status", "detail", "retry_after"),
    [
        (Fault.error(404), 404, "unknown visitor", None),
        (Fault.error(403), 502, "the visitor-history service refused our credentials", None),
        (Fault.error(429, retry_after=7), 503, "the visitor-history service is busy", "7"),
        (Fault.error(429), 503, "the visitor-history service is busy", "5"),
        (Fault.error(500), 502, "the visitor-history service failed", None),
        (Fault.error(502, body="html"), 502, "the visitor-history service failed", None),
        (Fault.truncated(), 502, "the visitor-history service failed", None),
        (Fault.dropped(), 502, "the visitor-history service failed", None),
    ],
    ids=["404", "403", "429-retry-after", "429", "500", "502-html", "truncated", "dropped"],
)
@pytest.mark.parametrize("path", ["visits", "history.ndjson"])
@pytest.mark.anyio
async def test_fastapi_maps_api_errors_to_http_answers(
    fake: FakeServerAPI,
    fastapi_client: httpx.AsyncClient,
    fault: Fault,
    status: int,
    detail: str,
    retry_after: str | None,
    path: str,
) -> None:
    fake.add_fault(fault)
    response = await fastapi_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/{path}")
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert response.headers.get("retry-after") == retry_after
    assert fake.api_key not in response.text


def test_session_from_environment(
    examples: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FPJS_API_KEY", "from-the-environment")
    monkeypatch.setenv("FPJS_REGION", "ap")
    session = examples("web_common").session_from_environment()
    assert session.region is fpjs_async.Region.AP
    anyio.run(session.aclose)


# --- stateless pagination -----------------------------------------------------------


@pytest.fixture
async def pages_client(
    examples: Callable[[str], ModuleType], fake: FakeServerAPI
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_asgi(examples("stateless_pagination").create_app(opener(fake))) as client:
        yield client


@pytest.mark.anyio
async def test_stateless_pagination_walks_the_history_with_next_tokens(
    examples: Callable[[str], ModuleType],
    fake: FakeServerAPI,
    pages_client: httpx.AsyncClient,
) -> None:
    url = f"/visitors/{EXAMPLE_VISITOR_ID}/pages"
    visits: list[Any] = []
    params: dict[str, Any] = {"limit": 100}
    pages = 0
    while True:
        response = await pages_client.get(url, params=params)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        visits.extend(body["visits"])
        if body["next"] is None:
            break
        params = {"limit": 100, "next": body["next"]}
    assert pages == 12
    assert visits == expected_json(examples, fake.visits_of(EXAMPLE_VISITOR_ID))
    # Every request after the first carried the previous page's cursor.
    assert all("paginationKey" in request.params for request in fake.requests[1:])


@pytest.mark.anyio
async def test_stateless_pagination_also_resumes_from_last_timestamp(
    examples: Callable[[str], ModuleType], pages_client: httpx.AsyncClient, fake: FakeServerAPI
) -> None:
    fake.send_pagination_key = False  # an older server: `before=lastTimestamp` only
    first = (await pages_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/pages")).json()
    token = first["next"]
    cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert set(cursor) == {"visitor_id", "before"}
    second = await pages_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/pages", params={"next": token})
    assert second.json()["visits"] == expected_json(
        examples, fake.visits_of(EXAMPLE_VISITOR_ID)[50:100]
    )


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"not json").decode(),
        _token(["a", "list"]),
        _token({"visitor_id": "SomeoneElse", "before": 1}),
        _token({"visitor_id": EXAMPLE_VISITOR_ID}),
        _token({"visitor_id": EXAMPLE_VISITOR_ID, "before": "1"}),
        _token({"visitor_id": EXAMPLE_VISITOR_ID, "before": True}),
        _token({"visitor_id": EXAMPLE_VISITOR_ID, "before": 1, "linked_id": "x"}),
        _token({"visitor_id": EXAMPLE_VISITOR_ID, "pagination_key": "made-up"}),
    ],
    ids=[
        "not-base64",
        "not-json",
        "not-an-object",
        "other-visitor",
        "no-cursor",
        "before-str",
        "before-bool",
        "extra-argument",
        "unknown-key",
    ],
)
@pytest.mark.anyio
async def test_stateless_pagination_refuses_a_bad_token(
    pages_client: httpx.AsyncClient, token: str
) -> None:
    response = await pages_client.get(
        f"/visitors/{EXAMPLE_VISITOR_ID}/pages", params={"next": token}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "invalid next token"}


@pytest.mark.anyio
async def test_stateless_pagination_keeps_the_base_error_mapping(
    fake: FakeServerAPI, pages_client: httpx.AsyncClient
) -> None:
    fake.add_fault(Fault.error(400))  # without a token, a 400 is the API's, not the client's
    response = await pages_client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/pages")
    assert response.status_code == 502


# --- aiohttp ------------------------------------------------------------------------


@asynccontextmanager
async def serve_aiohttp(
    examples: Callable[[str], ModuleType], open_session: SessionFactory
) -> AsyncIterator[TestClient[Any, Any]]:
    app = examples("aiohttp_app").create_app(open_session)
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        yield client


@pytest.mark.anyio
async def test_aiohttp_recent_visits_on_loopback(
    examples: Callable[[str], ModuleType], fake: FakeServerAPI
) -> None:
    opened: list[fpjs_async.Session] = []
    async with serve_aiohttp(examples, opener(fake, opened)) as client:
        assert client.server.host == "127.0.0.1"
        response = await client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits?limit=5")
        assert response.status == 200
        body = await response.json()
        again = await client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits")
        assert again.status == 200
        assert len(opened) == 1
    assert body["visits"] == expected_json(examples, fake.visits_of(EXAMPLE_VISITOR_ID)[:5])
    assert body["has_more"] is True
    assert opened[0].closed


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [
        (Fault.error(404), 404, None),
        (Fault.error(403), 502, None),
        (Fault.error(429, retry_after=2), 503, "2"),
        (Fault.error(503), 502, None),
    ],
    ids=["404", "403", "429", "503"],
)
@pytest.mark.anyio
async def test_aiohttp_maps_api_errors_to_http_answers(
    examples: Callable[[str], ModuleType],
    fake: FakeServerAPI,
    fault: Fault,
    status: int,
    retry_after: str | None,
) -> None:
    fake.add_fault(fault)
    async with serve_aiohttp(examples, opener(fake)) as client:
        response = await client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits")
        assert response.status == status
        assert response.headers.get("Retry-After") == retry_after
        assert set(await response.json()) == {"detail"}


@pytest.mark.anyio
async def test_aiohttp_checks_the_limit(
    examples: Callable[[str], ModuleType], fake: FakeServerAPI
) -> None:
    async with serve_aiohttp(examples, opener(fake)) as client:
        for limit in ("0", "501", "ten"):
            response = await client.get(f"/visitors/{EXAMPLE_VISITOR_ID}/visits?limit={limit}")
            assert response.status == 400, limit
    assert fake.requests == []


# --- the worker ---------------------------------------------------------------------


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


def _new_visits(visitor_id: str, count: int, start_ms: int) -> list[dict[str, Any]]:
    return [
        {"requestId": f"{start_ms + i}.New{i:03d}", "timestamp": start_ms + i, "url": "https://x/"}
        for i in range(count)
    ]


def stored(store: Any, visitor_id: str) -> list[fpjs_async.Visit]:
    return sorted(store.visits.get(visitor_id, {}).values(), key=lambda visit: -visit.timestamp)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.anyio
async def test_worker_stores_histories_then_fetches_only_what_is_new(
    examples: Callable[[str], ModuleType], batch_size: int
) -> None:
    worker = examples("worker")
    fake = FakeServerAPI("test-key")
    ids = fake.populate(visitors=6, visits_per_visitor=(40, 900), seed=11)
    store = worker.MemoryStore()
    async with fake.session() as session:
        first = await run_worker_once(worker, session, store, ids, batch_size=batch_size)
        assert (first.visitors, first.new_visits, first.failed) == (6, fake.count_visits(), {})
        for visitor_id in ids:
            assert stored(store, visitor_id) == fake.visits_of(visitor_id)
        first_requests = len(fake.requests)

        fake.add_visits(ids[0], _new_visits(ids[0], 3, SYNTHETIC_END_MS + 1000))
        fake.add_visits(ids[4], _new_visits(ids[4], 2, SYNTHETIC_END_MS + 5000))
        (newcomer,) = fake.populate(visitors=1, visits_per_visitor=650, seed=12)
        fake.reset_requests()
        second = await run_worker_once(
            worker, session, store, [*ids, newcomer], batch_size=batch_size
        )

    assert (second.visitors, second.new_visits, second.failed) == (7, 5 + 650, {})
    for visitor_id in [*ids, newcomer]:
        assert stored(store, visitor_id) == fake.visits_of(visitor_id)
    newcomer_requests = [r for r in fake.requests if r.visitor_id == newcomer]
    assert len(newcomer_requests) == 2  # 650 visits: the whole history, 500 per page
    if batch_size == 1:
        # Each known visitor resumes from its own newest visit: one page says it all.
        known = [r.visitor_id for r in fake.requests if r.visitor_id != newcomer]
        assert sorted(known) == sorted(ids)
        assert len(known) < first_requests  # the first run needed several pages for some


@pytest.mark.anyio
async def test_worker_keeps_nothing_of_a_history_that_failed_half_way(
    examples: Callable[[str], ModuleType],
) -> None:
    worker = examples("worker")
    fake = FakeServerAPI("test-key")
    ids = fake.populate(visitors=3, visits_per_visitor=(600, 900), seed=5)
    fake.add_fault(
        Fault.error(500),
        visitor_id=ids[1],
        when=lambda request: "paginationKey" in request.params,
    )
    store = worker.MemoryStore()
    async with fake.session(retry=NO_RETRIES) as session:
        first = await run_worker_once(worker, session, store, ids, batch_size=10)
        assert set(first.failed) == {ids[1]}
        assert isinstance(first.failed[ids[1]], fpjs_async.ServerError)
        assert ids[1] not in store.visits
        assert first.new_visits == fake.count_visits(ids[0]) + fake.count_visits(ids[2])

        fake.clear_faults()
        second = await run_worker_once(worker, session, store, [ids[1]], batch_size=10)
    assert second.failed == {}
    assert stored(store, ids[1]) == fake.visits_of(ids[1])


@pytest.mark.anyio
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
