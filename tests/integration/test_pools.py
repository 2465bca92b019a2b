"""The session's own connection pools on real sockets: sized by max_concurrency, reused, closed."""

from __future__ import annotations

import time

import anyio
import pytest

from fpjs_async import Session

from ._wire import pages
from .conftest import SECRET, StartServer

pytestmark = pytest.mark.anyio

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
    assert request.headers["auth-token"] == SECRET
    assert request.headers["user-agent"].startswith("fpjs-async")
    assert request.headers["accept"] == "application/json"
    assert request.raw_path == "/visitors/visitor"
    assert request.params() == [("limit", "5")]
