"""Servers that break on the wire: every fault is retried per the policy, then a TransportError.

Each test gives the session short timeouts (0.2 s) and `FAST_RETRY` (three attempts), counts
the attempts the server saw, and runs under `anyio.fail_after`, so that a hang fails the test
instead of blocking the suite.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import anyio
import httpx
import pytest

from fpjs_async import RetryPolicy, Session, TransportError

from ._wire import EMPTY_PAGE, Connection, WireServer, closed_port, http_response
from .conftest import FAST_RETRY, SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("wire_transport")]

TIMEOUT = 0.2
ATTEMPTS = FAST_RETRY.max_retries + 1
#: Far above timeout x attempts + backoff (about 0.65 s): only a hang reaches it.
HANG_GUARD = 10.0


async def closed_mid_body(conn: Connection) -> None:
    await conn.request()
    await conn.send(http_response(200, EMPTY_PAGE[:10], content_length=len(EMPTY_PAGE)))
    await conn.close()


async def closed_before_answering(conn: Connection) -> None:
    await conn.request()
    await conn.close()


async def reset_after_request(conn: Connection) -> None:
    await conn.request()
    sock: socket.socket = conn._writer.get_extra_info("socket")
    # SO_LINGER with a zero timeout turns close() into a TCP reset.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await conn.close()


async def not_http(conn: Connection) -> None:
    await conn.request()
    await conn.send(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n")
    await conn.close()


async def endless_headers(conn: Connection) -> None:
    await conn.request()
    await conn.send(b"HTTP/1.1 200 OK\r\n")
    for _ in range(4000):  # 4000 x 64 bytes: beyond any sane limit on a response head
        await conn.send(b"X-Padding: " + b"a" * 51 + b"\r\n")
    await conn.hold()


async def silent(conn: Connection) -> None:
    await conn.request()
    await conn.hold()


async def headers_then_stall(conn: Connection) -> None:
    await conn.request()
    await conn.send(http_response(200, b"", content_length=len(EMPTY_PAGE)))
    await conn.hold()


async def body_gap_longer_than_timeout(conn: Connection) -> None:
    await conn.request()
    await conn.send(http_response(200, EMPTY_PAGE[:5], content_length=len(EMPTY_PAGE)))
    await asyncio.sleep(TIMEOUT * 3)
    await conn.send(EMPTY_PAGE[5:])
    await conn.hold()


async def body_trickle(conn: Connection) -> None:
    # Every byte comes well within the read timeout, the whole body would take minutes.
    await conn.request()
    await conn.send(http_response(200, b"", content_length=10_000))
    for _ in range(10_000):
        await conn.send(b" ")
        await asyncio.sleep(TIMEOUT / 4)


FAULTS = [
    closed_mid_body,
    closed_before_answering,
    reset_after_request,
    not_http,
    endless_headers,
    silent,
    headers_then_stall,
    body_gap_longer_than_timeout,
    body_trickle,
]


def session_for(url: str, *, retry: RetryPolicy = FAST_RETRY) -> Session:
    return Session(SECRET, base_url=url, timeout=TIMEOUT, retry=retry)


BOTH_LOOPS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


@BOTH_LOOPS
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.__name__)
async def test_fault_is_retried_then_raised(serve: StartServer, fault: object) -> None:
    server = serve(fault)
    async with session_for(server.url) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError) as caught:
            await session.get_visits("visitor")
        assert session.stats.requests == ATTEMPTS
        assert session.stats.retries == ATTEMPTS - 1
    assert server.connections == ATTEMPTS
    assert server.requests == ATTEMPTS
    assert caught.value.__cause__ is not None  # the httpx failure, for whoever debugs it
    assert "/visitors/visitor" in str(caught.value)


@BOTH_LOOPS
async def test_connection_refused_is_retried_then_raised() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with session_for(url) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError, match="ConnectError"):
            await session.get_visits("visitor")
        assert session.stats.requests == ATTEMPTS


@BOTH_LOOPS
@pytest.mark.parametrize(
    "fault", [closed_mid_body, not_http, body_trickle], ids=lambda fault: fault.__name__
)
async def test_server_that_recovers_is_answered(serve: StartServer, fault: object) -> None:
    failures = ATTEMPTS - 1

    async def flaky(conn: Connection) -> None:
        if conn.server.connections <= failures:
            await fault(conn)  # type: ignore[operator]
            return
        while await conn.request() is not None:
            await conn.answer(http_response(200, EMPTY_PAGE))

    server = serve(flaky)
    async with session_for(server.url) as session:
        with anyio.fail_after(HANG_GUARD):
            page = await session.get_visits("visitor")
        assert page.visits == ()
        assert session.stats.retries == failures
    assert server.connections == ATTEMPTS


async def test_trickle_is_cut_by_an_injected_clients_timeout(serve: StartServer) -> None:
    server = serve(body_trickle)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        session = Session(SECRET, base_url=server.url, retry=FAST_RETRY, http_client=client)
        async with session:
            with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError, match=r"within 0\.2s"):
                await session.get_visits("visitor")
    assert server.connections == ATTEMPTS


async def test_no_retries_means_one_attempt(serve: StartServer) -> None:
    server: WireServer = serve(headers_then_stall)
    async with session_for(server.url, retry=RetryPolicy(max_retries=0)) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError, match="ReadTimeout"):
            await session.get_visits("visitor")
    assert server.connections == 1


async def test_healthy_connection_is_reused_after_a_broken_one(serve: StartServer) -> None:
    async def first_connection_breaks(conn: Connection) -> None:
        if conn.server.connections == 1:
            await closed_mid_body(conn)
            return
        while await conn.request() is not None:
            await conn.answer(http_response(200, EMPTY_PAGE))

    server = serve(first_connection_breaks)
    async with session_for(server.url) as session:
        with anyio.fail_after(HANG_GUARD):
            for _ in range(5):
                await session.get_visits("visitor")
    # One broken connection, then one keep-alive connection for every later request.
    assert server.connections == 2
    assert server.requests == 6
