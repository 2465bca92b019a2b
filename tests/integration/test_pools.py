"""The session's own connection pools on real sockets: sized by max_concurrency, reused, closed."""

from __future__ import annotations

import gzip
import sys
import time

import anyio
import httpx
import pytest

from fpjs_async import Session
from fpjs_async._query import VisitsQuery

from ._wire import EMPTY_PAGE, Connection, http_response, keep_alive, pages
from .conftest import SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("wire_transport")]

#: Long enough for concurrent requests to overlap on the server.
LATENCY = 0.01
HANG_GUARD = 30.0


def wait_until(condition: object, timeout: float = 5.0) -> None:
    """Poll the server's counters (written by its thread) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_connections_and_requests_stay_within_max_concurrency(serve: StartServer) -> None:
    server = serve(pages(latency=LATENCY))
    async with Session(SECRET, base_url=server.url, max_concurrency=12) as session:
        with anyio.fail_after(HANG_GUARD):
            async with session.fetch_many(
                [f"visitor-{n}" for n in range(120)], concurrency=30
            ) as results:
                got = [result async for result in results]
    assert len(got) == 120
    assert all(result.ok for result in got)
    assert server.requests == 120
    assert server.peak_inflight == 12
    assert server.connections <= 12


async def test_requests_one_after_another_share_one_connection(serve: StartServer) -> None:
    server = serve(pages())
    async with Session(SECRET, base_url=server.url, max_concurrency=50) as session:
        with anyio.fail_after(HANG_GUARD):
            for _ in range(10):
                await session.get_visits("visitor")
    assert server.requests == 10
    assert server.connections == 1


async def test_aclose_closes_every_connection(serve: StartServer) -> None:
    server = serve(pages(latency=LATENCY))
    session = Session(SECRET, base_url=server.url, max_concurrency=15)
    with anyio.fail_after(HANG_GUARD):
        async with session.fetch_many([f"v{n}" for n in range(60)], concurrency=15) as results:
            async for _ in results:
                pass
    wait_until(lambda: server.open_connections == server.connections)
    assert server.open_connections > 1  # kept alive across requests
    await session.aclose()
    wait_until(lambda: server.open_connections == 0)
    assert server.open_connections == 0


async def test_requests_carry_the_session_headers(serve: StartServer) -> None:
    server = serve(pages())
    async with Session(SECRET, base_url=server.url) as session:
        await session.get_visits("visitor", limit=5)
    [request] = server.recent
    assert request.headers["host"] == f"127.0.0.1:{server.port}"
    assert request.headers["auth-token"] == SECRET
    assert request.headers["user-agent"].startswith("fpjs-async")
    assert request.headers["accept"] == "application/json"
    assert request.raw_path == "/visitors/visitor"
    assert request.params() == [("limit", "5")]


async def test_a_connection_the_server_closes_is_replaced(serve: StartServer) -> None:
    closing = http_response(200, EMPTY_PAGE, headers={"Connection": "close"})

    async def answer_then_close(conn: Connection) -> None:
        if await conn.request() is not None:
            await conn.answer(closing)

    server = serve(answer_then_close)
    async with Session(SECRET, base_url=server.url, max_concurrency=2) as session:
        with anyio.fail_after(HANG_GUARD):
            for _ in range(3):
                await session.get_visits("visitor")
        assert session.stats.retries == 0
    assert server.requests == 3
    assert server.connections == 3


async def test_a_compressed_body_is_decoded(serve: StartServer) -> None:
    compressed = http_response(200, gzip.compress(EMPTY_PAGE), headers={"Content-Encoding": "gzip"})

    async def answer(request: object) -> bytes:
        return compressed

    server = serve(keep_alive(answer))
    async with Session(SECRET, base_url=server.url) as session:
        page = await session.get_visits("visitor")
    assert page.visitor_id == "v"
    assert page.visits == ()
    assert "gzip" in server.recent[0].headers["accept-encoding"]


def test_http2_needs_h2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # as if it were not installed
    with pytest.raises(ImportError, match="h2"):
        Session(SECRET, http2=True)


@pytest.mark.parametrize(
    ("visitor_id", "linked_id"),
    [("visitor", "order-7"), ("a b/ü?#", "x y&z=1+ü%20"), ("..", "~!*'();:@$,")],
)
async def test_the_request_target_is_the_one_httpx_sends(
    serve: StartServer, visitor_id: str, linked_id: str
) -> None:
    server = serve(pages())
    async with Session(SECRET, base_url=server.url + "/prefix", auth="query") as session:
        await session.get_visits(visitor_id, linked_id=linked_id, limit=7)
    [request] = server.recent
    query = VisitsQuery.build(visitor_id, linked_id=linked_id, limit=7)
    expected = httpx.Request(
        "GET", server.url + "/prefix" + query.path, params=[*query.params(), ("token", SECRET)]
    )
    assert request.target == expected.url.raw_path.decode("ascii")
    assert request.headers["host"] == expected.headers["host"]
