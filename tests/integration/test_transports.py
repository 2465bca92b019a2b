"""What each transport must read and do on a real socket, beyond the faults of
test_broken_servers.py: framings, encodings, interim responses, connections the server
closes while idle, TLS that verifies, timeouts per read, and closing mid-request."""

from __future__ import annotations

import gzip
import ssl
import sys
from collections.abc import Callable

import anyio
import httpx
import pytest
import trustme

from fpjs_async import RetryPolicy, Session, TransportError, _builtin, _sender

from ._wire import EMPTY_PAGE, Connection, WireRequest, http_response, keep_alive, pages
from .conftest import FAST_RETRY, SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("wire_transport")]

HANG_GUARD = 10.0
BOTH_LOOPS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


def chunked(body: bytes, *, size: int = 7, headers: str = "") -> bytes:
    chunks = b"".join(
        b"%x;ext=1\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}"
    head += "Transfer-Encoding: chunked\r\n\r\n"
    return head.encode() + chunks + b"0\r\nX-Trailer: done\r\n\r\n"


def answering(response: bytes) -> Callable[[WireRequest], object]:
    async def answer(request: WireRequest) -> bytes:
        return response

    return answer


async def pages_read(session: Session, count: int = 3) -> None:
    with anyio.fail_after(HANG_GUARD):
        for _ in range(count):
            page = await session.get_visits("visitor")
            assert (page.visitor_id, page.visits) == ("v", ())


@BOTH_LOOPS
@pytest.mark.parametrize(
    "response",
    [
        chunked(EMPTY_PAGE),
        chunked(gzip.compress(EMPTY_PAGE), headers="Content-Encoding: gzip\r\n"),
        b"HTTP/1.1 100 Continue\r\n\r\n" + http_response(200, EMPTY_PAGE),
        http_response(200, gzip.compress(EMPTY_PAGE), headers={"Content-Encoding": "gzip"}),
    ],
    ids=["chunked", "chunked-gzip", "interim-100", "gzip"],
)
async def test_framings_and_encodings_on_one_kept_alive_connection(
    serve: StartServer, response: bytes
) -> None:
    server = serve(keep_alive(answering(response)))  # type: ignore[arg-type]
    async with Session(SECRET, base_url=server.url) as session:
        await pages_read(session)
        assert session.stats.retries == 0
    assert server.requests == 3
    assert server.connections == 1


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(EMPTY_PAGE),
    ],
    ids=["no-length", "http-1.0"],
)
async def test_a_response_that_ends_with_its_connection(serve: StartServer, head: bytes) -> None:
    async def answer_then_close(conn: Connection) -> None:
        if await conn.request() is not None:
            await conn.answer(head + EMPTY_PAGE)
            await conn.close()

    server = serve(answer_then_close)
    async with Session(SECRET, base_url=server.url) as session:
        await pages_read(session)
        assert session.stats.retries == 0
    assert server.connections == 3


@BOTH_LOOPS
async def test_a_connection_the_server_closed_while_idle_is_not_used(serve: StartServer) -> None:
    # A server's keep-alive timeout, without `Connection: close`: the next request must go on
    # a new connection, not fail on the old one (and cost a retry).
    async def one_answer_then_close_when_idle(conn: Connection) -> None:
        if await conn.request() is not None:
            await conn.answer(http_response(200, EMPTY_PAGE))
            await conn.close()

    server = serve(one_answer_then_close_when_idle)
    retry = RetryPolicy(max_retries=0)
    async with Session(SECRET, base_url=server.url, retry=retry) as session:
        for expected_connections in (1, 2, 3):
            await pages_read(session, count=1)
            with anyio.fail_after(HANG_GUARD):
                while server.open_connections:  # noqa: ASYNC110 - the server's thread
                    await anyio.sleep(0.01)
            await anyio.sleep(0.2)  # for the close to reach the client's side too
            assert server.connections == expected_connections
    assert server.requests == 3


async def test_a_connection_idle_too_long_is_replaced(
    serve: StartServer, monkeypatch: pytest.MonkeyPatch, wire_transport: str
) -> None:
    if wire_transport != "builtin":
        pytest.skip("aiohttp and httpcore expire idle connections by their own clocks")
    monkeypatch.setattr(_builtin, "KEEPALIVE_EXPIRY", 0.05)
    server = serve(pages())
    async with Session(SECRET, base_url=server.url) as session:
        await pages_read(session, count=2)
        await anyio.sleep(0.1)
        await pages_read(session, count=1)
    assert server.connections == 2


async def test_a_body_that_does_not_decompress_is_retried_then_raised(serve: StartServer) -> None:
    broken = http_response(200, b"not gzip at all", headers={"Content-Encoding": "gzip"})
    server = serve(keep_alive(answering(broken)))  # type: ignore[arg-type]
    async with Session(SECRET, base_url=server.url, retry=FAST_RETRY) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError, match="gzip"):
            await session.get_visits("visitor")
        assert session.stats.requests == FAST_RETRY.max_retries + 1


async def test_a_read_timeout_shorter_than_the_others_applies_to_each_read(
    serve: StartServer,
) -> None:
    async def headers_then_stall(conn: Connection) -> None:
        await conn.request()
        await conn.send(http_response(200, b"", content_length=len(EMPTY_PAGE)))
        await conn.hold()

    server = serve(headers_then_stall)
    timeout = httpx.Timeout(30.0, read=0.2)
    retry = RetryPolicy(max_retries=0)
    async with Session(SECRET, base_url=server.url, timeout=timeout, retry=retry) as session:
        # Cut off by the read timeout, far sooner than the guard (the attempt may take 30 s).
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError, match="ReadTimeout"):
            await session.get_visits("visitor")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch, authority: trustme.CA) -> None:
    """The session's own connections trust `authority` (and still verify host names)."""

    def context() -> ssl.SSLContext:
        trusted = ssl.create_default_context()
        authority.configure_trust(trusted)
        return trusted

    monkeypatch.setattr(_sender, "tls_context", context)


def tls_server(serve: StartServer, authority: trustme.CA, host: str) -> str:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(host).configure_cert(context)
    return serve(pages(), ssl_context=context).url


@BOTH_LOOPS
@pytest.mark.usefixtures("trusting")
async def test_tls_with_a_trusted_certificate(serve: StartServer, authority: trustme.CA) -> None:
    url = tls_server(serve, authority, "127.0.0.1")
    async with Session(SECRET, base_url=url) as session:
        await pages_read(session)


@BOTH_LOOPS
@pytest.mark.usefixtures("trusting")
async def test_tls_for_another_host_is_refused(serve: StartServer, authority: trustme.CA) -> None:
    url = tls_server(serve, authority, "api.fpjs.io")
    async with Session(SECRET, base_url=url, retry=RetryPolicy(max_retries=0)) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError, match="ConnectError"):
            await session.get_visits("visitor")


async def test_aclose_in_a_cancelled_task_still_closes_every_connection(
    serve: StartServer,
) -> None:
    server = serve(pages(latency=0.01))
    session = Session(SECRET, base_url=server.url, max_concurrency=4)
    async with session.fetch_many([f"v{n}" for n in range(8)], concurrency=4) as results:
        async for _ in results:
            pass
    assert server.open_connections > 0
    with anyio.CancelScope() as scope:
        scope.cancel()
        await session.aclose()
    with anyio.fail_after(HANG_GUARD):
        while server.open_connections:  # noqa: ASYNC110 - the server's thread
            await anyio.sleep(0.01)


async def test_aclose_during_a_request_ends_it(serve: StartServer) -> None:
    async def silent(conn: Connection) -> None:
        await conn.request()
        await conn.hold()

    server = serve(silent)
    session = Session(SECRET, base_url=server.url, retry=RetryPolicy(max_retries=0))
    failure: BaseException | None = None

    async def call() -> None:
        nonlocal failure
        try:
            await session.get_visits("visitor")
        except (TransportError, RuntimeError) as exc:
            failure = exc

    with anyio.fail_after(HANG_GUARD):
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            while not server.requests:  # noqa: ASYNC110 - the server's thread
                await anyio.sleep(0.01)
            await session.aclose()
    assert failure is not None


async def test_each_transport_names_itself(serve: StartServer, wire_transport: str) -> None:
    server = serve(pages())
    async with Session(SECRET, base_url=server.url) as session:
        await session.get_visits("visitor")
    [request] = server.recent
    agents = {
        "builtin": f"fpjs-async (python/{sys.version_info[0]}.{sys.version_info[1]})",
        "aiohttp": "fpjs-async (aiohttp/",
        "httpcore": "fpjs-async (python-httpx/",
    }
    assert request.headers["user-agent"].startswith(agents[wire_transport])
