"""A loopback HTTP/1.1 server on raw sockets, so that the integration tests fault on the wire.

The server runs its own asyncio loop in a background thread: a fault it plays (a stall, a
dropped connection, bytes that are not HTTP) happens on a real socket whatever the test's
event loop is doing, and it serves asyncio and trio tests alike. Every accepted connection is
handed to a *script*, an async function of a `Connection`; `keep_alive` turns a per-request
answer into a script for a healthy HTTP/1.1 keep-alive server.

The server counts what it saw (connections, requests, how many were serving or in flight at
once) in plain integers that only its thread writes; tests read them once the client side
is done. A connection counts as *serving* from its first request of the current epoch (see
`reset_peaks`) until it closes: a connection the client gave up before the server got round
to accepting it never counts, nor does one left over from before the epoch. The server keeps
no per-request history beyond a short window, so that a soak test that measures memory
measures the client, not the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

#: How many recent requests a server remembers (for assertions on paths and headers).
RECENT_REQUESTS = 512

#: A page with no visits and no cursor: the smallest valid answer.
EMPTY_PAGE = json.dumps({"visitorId": "v", "visits": []}).encode()


@dataclass(frozen=True)
class WireRequest:
    """One request head as it arrived on the wire."""

    method: str
    target: str
    headers: Mapping[str, str]

    @property
    def raw_path(self) -> str:
        """The request target up to `?`, still percent-encoded."""
        return self.target.partition("?")[0]

    @property
    def raw_query(self) -> str:
        """The request target after `?`, still percent-encoded."""
        return self.target.partition("?")[2]

    @property
    def visitor_segment(self) -> str | None:
        """The one path segment after `/visitors/`, decoded; `None` if the path is not that."""
        prefix = "/visitors/"
        if not self.raw_path.startswith(prefix):
            return None
        segment = self.raw_path[len(prefix) :]
        if not segment or "/" in segment:
            return None
        return unquote(segment, errors="strict")

    def params(self) -> list[tuple[str, str]]:
        """The query parameters decoded as a server decodes a form (`+` is a space)."""
        return parse_qsl(self.raw_query, keep_blank_values=True, errors="strict")


def http_response(
    status: int,
    body: bytes = b"",
    *,
    headers: Mapping[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    """The bytes of an HTTP/1.1 response; `content_length` may lie about the body."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    merged = {"Content-Type": "application/json", **(headers or {})}
    merged["Content-Length"] = str(len(body) if content_length is None else content_length)
    lines += [f"{name}: {value}" for name, value in merged.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One accepted connection, as a script drives it."""

    def __init__(
        self, server: WireServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self._reader = reader
        self._writer = writer
        self._awaiting_answer = False
        self.serving_epoch: int | None = None

    async def request(self) -> WireRequest | None:
        """The next request head, or `None` once the client closed the connection."""
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        request = WireRequest(method, target, headers)
        self.server._request_arrived(self, request)
        self._awaiting_answer = True
        return request

    async def send(self, data: bytes) -> None:
        """Write raw bytes (possibly not HTTP at all)."""
        self._writer.write(data)
        await self._writer.drain()

    async def answer(self, data: bytes) -> None:
        """Write the complete response to the pending request."""
        await self.send(data)
        self.finish_request()

    def finish_request(self) -> None:
        """Count the pending request as answered (or abandoned)."""
        if self._awaiting_answer:
            self._awaiting_answer = False
            self.server.inflight -= 1

    async def hold(self) -> None:
        """Stay silent until the client closes the connection (or the server stops)."""
        with contextlib.suppress(ConnectionError):
            while await self._reader.read(65536):
                pass

    async def close(self) -> None:
        """Close the connection from the server side."""
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self._writer.wait_closed()


Script = Callable[[Connection], Awaitable[None]]
Answer = Callable[[WireRequest], Awaitable[bytes]]


def keep_alive(answer: Answer) -> Script:
    """A script serving request after request on one connection, each with `answer(request)`."""

    async def script(conn: Connection) -> None:
        while (request := await conn.request()) is not None:
            await conn.answer(await answer(request))

    return script


def pages(body: bytes = EMPTY_PAGE, *, latency: float = 0.0) -> Script:
    """A healthy API: every request gets `200 body`, after `latency` seconds."""
    response = http_response(200, body)

    async def answer(request: WireRequest) -> bytes:
        if latency:
            await asyncio.sleep(latency)
        return response

    return keep_alive(answer)


class WireServer:
    """A TCP server on 127.0.0.1 running `script` for every connection, in its own thread.

    Use it as a context manager; `url` is its base URL (`http://` or, with `ssl_context`,
    `https://`).
    """

    def __init__(self, script: Script, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.script = script
        self._ssl_context = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="wire-server", daemon=True)
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        self.connections = 0
        self.open_connections = 0
        self.epoch = 0
        self.serving_connections = 0
        self.peak_serving_connections = 0
        self.requests = 0
        self.inflight = 0
        self.peak_inflight = 0
        self.recent: deque[WireRequest] = deque(maxlen=RECENT_REQUESTS)
        self.loop_errors: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        """The base URL of the server."""
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def reset_peaks(self) -> None:
        """Start a new epoch: serving connections are counted afresh, from their next request."""
        self.epoch += 1
        self.serving_connections = 0
        self.peak_serving_connections = 0
        self.peak_inflight = self.inflight

    def run(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the server's loop and return its result (from the test thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()  # type: ignore[arg-type]

    async def until_peak_inflight(self, count: int, *, timeout: float) -> None:
        """Wait (on the server's loop) until `count` requests have been in flight at once
        since `reset_peaks`, or for `timeout` at most."""
        deadline = time.monotonic() + timeout
        # Polled: the counters are plain ints, bumped by every connection's handler.
        while self.peak_inflight < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    def __enter__(self) -> WireServer:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the wire server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Close every connection and the listening socket; idempotent."""
        stopping = self._stopping
        if stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(stopping.set)
        self._thread.join(timeout=10)

    def _request_arrived(self, conn: Connection, request: WireRequest) -> None:
        if conn.serving_epoch != self.epoch:
            conn.serving_epoch = self.epoch
            self.serving_connections += 1
            self.peak_serving_connections = max(
                self.peak_serving_connections, self.serving_connections
            )
        self.requests += 1
        self.recent.append(request)
        self.inflight += 1
        self.peak_inflight = max(self.peak_inflight, self.inflight)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(lambda loop, context: self.loop_errors.append(context))
        try:
            self._loop.run_until_complete(self._serve())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self._ssl_context, backlog=256
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        self.open_connections += 1
        conn = Connection(self, reader, writer)
        try:
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                await self.script(conn)
        finally:
            conn.finish_request()
            self.open_connections -= 1
            if conn.serving_epoch == self.epoch:
                self.serving_connections -= 1
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
