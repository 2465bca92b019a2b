"""The recipes of docs/examples/, run against the emulator.

FastAPI apps are served in-process (`httpx.ASGITransport`, with their lifespan run by
asgi-lifespan); the aiohttp app is served by aiohttp's test server on loopback. Each app's
session comes from the emulator (`FakeServerAPI.session`), injected through the app's
`create_app(open_session)`.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from _apps import SessionFactory, opener, serve_asgi
from _docs_emulator import EXAMPLE_VISITOR_ID, example_emulator
from aiohttp.test_utils import TestClient, TestServer

import fpjs_async
from fpjs_async.testing import FakeServerAPI, Fault


@pytest.fixture
def fake() -> FakeServerAPI:
    """The docs' emulator: key "your-secret-api-key", the example visitors."""
    return example_emulator()


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
