"""The session's built-in HTTP/1.1 connections, under asyncio and trio, with no extra.

Each connection carries one request at a time; the session's limiter keeps at most `size`
requests in flight, so a free connection is taken from the idle ones (last used first, which
keeps a lightly loaded session on few, warm connections) or opened, never waited for. A
request is encoded once per call (`prepare`) and written in one piece; its response is read
by `_h1.ResponseParser`.

Under asyncio a connection is an `asyncio.Protocol` on the loop's own transport: bytes go
from the socket to the parser with nothing in between, the whole-attempt deadline is one
timer that aborts the connection, and a connection the server closed while idle is known to
be closed without asking the socket. Under trio (and any other anyio backend) a connection
is an anyio byte stream, the deadline a cancel scope.

The timeouts: `connect` bounds each connect; the longest of them bounds each attempt as a
whole (see `_sender.attempt_deadline`); `read`, when it is shorter than that, bounds each
wait for bytes too. Requests are small, so a write never waits for the socket: the read
that follows it is what the timeouts bound.
"""

from __future__ import annotations

import asyncio
import re
import select
import socket
import sys
import time
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlencode

import anyio
import anyio.abc
import httpx

from fpjs_async import _sender
from fpjs_async._h1 import Response, ResponseParser
from fpjs_async._sender import (
    ACCEPT_HEADERS,
    KEEPALIVE_EXPIRY,
    PYTHON_ENGINE,
    Params,
    Reply,
    async_library,
    attempt_deadline,
    deadline_exceeded,
    decode_content,
    stricter,
    user_agent,
)

__all__ = ["BuiltinSender"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a request target may hold: visible ASCII, the queries having percent-encoded the rest.
_TARGET = re.compile(rb"/[\x21-\x7e]*")
#: Seconds `aclose()` waits for the connections to close before it stops waiting.
_CLOSE_TIMEOUT = 5.0


class _Connection(Protocol):
    """One HTTP/1.1 connection to the origin, carrying one request at a time."""

    #: `time.monotonic()` when its last response was read.
    idle_since: float

    def usable(self) -> bool:
        """Whether an idle connection may carry the next request: open, nothing received."""
        ...

    async def exchange(self, request: bytes, seconds: float | None) -> Response:
        """Write `request` and read its response within `seconds` (`None`: no deadline)."""
        ...

    async def drop(self) -> None:
        """Close a connection whose exchange failed or was cancelled, without waiting on the
        peer (under asyncio, without suspending: it is safe in a cancelled task)."""
        ...

    async def aclose(self) -> None:
        """Close an idle connection and wait until its socket is closed."""
        ...


class BuiltinSender:
    """Sends each request on one of up to `size` HTTP/1.1 connections to one origin.

    Failures come out as the `httpx` exceptions an `httpx.AsyncClient` would raise.

    Args:
        base_url: The URL every request goes to (its scheme, host, port and path prefix).
        size: The most requests in flight at once (the caller keeps to it).
        timeout: Connect and read timeouts; the longest timeout bounds each attempt.
    """

    def __init__(self, base_url: str, size: int, *, timeout: httpx.Timeout) -> None:
        url = httpx.URL(base_url)
        self._host = url.raw_host.decode("ascii")  # IDNA-encoded; an IPv6 address unbracketed
        self._port = url.port or _DEFAULT_PORTS[url.scheme]
        self._tls = _sender.tls_context() if url.scheme == "https" else None
        self._path_prefix = url.raw_path.rstrip(b"/")
        fixed = {"Host": url.netloc.decode("ascii"), **ACCEPT_HEADERS}
        fixed["User-Agent"] = user_agent(PYTHON_ENGINE)
        self._fixed_headers = b"".join(
            b"%s: %s\r\n" % (name.encode("ascii"), value.encode("ascii"))
            for name, value in fixed.items()
        )
        self._deadline = attempt_deadline(timeout)
        self._connect_timeout = timeout.connect
        self._read_timeout = stricter(timeout.read, self._deadline)
        # Idle connections, the last one used at the end; every open connection, idle or not.
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._on_asyncio: bool | None = None  # decided at the first connect
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self._closed

    def prepare(
        self,
        method: str,
        path: str,
        params: Params,
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> bytes:
        """The bytes of the request: its head, then its JSON body if any.

        The parameters are encoded as httpx encodes them.

        Raises:
            httpx.LocalProtocolError: The path or a header holds what no request may.
        """
        if not path.isascii():
            raise httpx.LocalProtocolError("the request path is not percent-encoded")
        target = self._path_prefix + path.encode("ascii")
        if params:
            target += b"?" + urlencode(params).encode("ascii")  # as httpx encodes them
        if _TARGET.fullmatch(target) is None:
            raise httpx.LocalProtocolError("the request path is not percent-encoded")
        head = b"%s %s HTTP/1.1\r\n%s" % (method.encode("ascii"), target, self._fixed_headers)
        for name, value in headers.items():
            # The key is checked when the session is made; a header may never break a line.
            if not (value.isascii() and value.isprintable()):
                raise httpx.LocalProtocolError(f"header {name} holds a character no header may")
            head += b"%s: %s\r\n" % (name.encode("ascii"), value.encode("ascii"))
        if content is None:
            return head + b"\r\n"
        length = b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(content)
        return head + length + content

    async def send(self, request: bytes) -> Reply:
        """Send a prepared request on a free connection; the response, body read."""
        if self._closed:
            raise RuntimeError("the connections of this session are closed")
        connection = await self._take_idle()
        seconds = self._deadline
        if connection is None:
            started = time.monotonic()
            connection = await self._connect()
            if seconds is not None:
                # The connect counts against the whole attempt.
                seconds = max(seconds - (time.monotonic() - started), 0.0)
        try:
            response = await connection.exchange(request, seconds)
        except BaseException:
            self._open.discard(connection)
            await connection.drop()
            raise
        if response.reusable and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            self._open.discard(connection)
            await connection.drop()
        content = decode_content(response.headers.get("content-encoding"), response.body)
        return Reply(response.status, response.headers, content)

    async def _take_idle(self) -> _Connection | None:
        """The idle connection used last that may carry a request; others found are closed."""
        idle = self._idle
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if now - connection.idle_since <= KEEPALIVE_EXPIRY and connection.usable():
                return connection
            # Expired, closed by the server, or sent bytes nobody asked for.
            self._open.discard(connection)
            await connection.drop()
        return None

    async def _connect(self) -> _Connection:
        if self._on_asyncio is None:
            self._on_asyncio = async_library() == "asyncio"
        opened: _Connection
        try:
            with anyio.fail_after(self._connect_timeout):
                if self._on_asyncio:
                    opened = await self._connect_loop()
                else:
                    opened = await self._connect_stream()
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out while connecting") from None
        except OSError as exc:  # refused, unreachable, unresolvable, a TLS failure
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        self._open.add(opened)
        return opened

    async def _connect_loop(self) -> _LoopConnection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: _LoopConnection(loop, self._read_timeout),
            self._host,
            self._port,
            ssl=self._tls,
            server_hostname=self._host if self._tls is not None else None,
        )
        return connection

    async def _connect_stream(self) -> _StreamConnection:
        stream: anyio.abc.ByteStream
        try:
            if self._tls is None:
                stream = await anyio.connect_tcp(self._host, self._port)
            else:
                stream = await anyio.connect_tcp(
                    self._host,
                    self._port,
                    ssl_context=self._tls,
                    # Servers close TLS without a close_notify: that is the end of the stream.
                    tls_standard_compatible=False,
                )
        except anyio.BrokenResourceError as exc:  # a TLS handshake the peer broke off
            raise OSError(str(exc) or "the TLS handshake failed") from exc
        return _StreamConnection(stream, self._read_timeout)

    async def aclose(self) -> None:
        """Close every connection, those in use too (their requests then fail).

        Cancellation-safe: the connections are closed even when the caller is cancelled, and
        the wait for them is bounded.
        """
        self._closed = True
        idle = self._idle
        busy = [connection for connection in self._open if connection not in idle]
        self._open = set()
        self._idle = []
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
            for connection in busy:
                await connection.drop()
            for connection in idle:
                await connection.aclose()


class _LoopConnection(asyncio.Protocol):
    """A connection on an asyncio transport, feeding what it receives to its parser."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float | None) -> None:
        self._loop = loop
        self._read_timeout = read_timeout
        self._parser = ResponseParser()
        self._transport: asyncio.Transport | None = None
        # The future the exchange waits on for bytes, when it waits.
        self._waiter: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] = loop.create_future()
        self._error: Exception | None = None  # what broke the connection, if anything did
        self._timed_out: httpx.TimeoutException | None = None
        self.idle_since = 0.0

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        """Hand the bytes to the parser and wake the exchange."""
        self._parser.feed(data)
        self._wake()

    def eof_received(self) -> None:
        """The server closed its side: the parser decides whether the response is complete
        (returning `None` lets the transport close the connection)."""
        self._parser.feed_eof()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is closed: wake whatever waits on it."""
        self._parser.feed_eof()
        self._error = exc
        if not self._lost.done():
            self._lost.set_result(None)
        self._wake()

    # --- the exchange -----------------------------------------------------------------------

    def usable(self) -> bool:
        """Whether the connection is open and nothing arrived on it since its last response."""
        return not self._lost.done() and self._parser.idle_clean

    async def exchange(self, request: bytes, seconds: float | None) -> Response:
        """Write `request` and read its response within `seconds` (`None`: no deadline)."""
        assert self._transport is not None
        timer = None if seconds is None else self._loop.call_later(seconds, self._expire, seconds)
        try:
            self._transport.write(request)
            parser = self._parser
            while True:
                try:
                    response = parser.next_response()
                except httpx.RemoteProtocolError:
                    self._raise_if_broken()
                    raise
                if response is not None:
                    return response
                await self._wait()
        finally:
            if timer is not None:
                timer.cancel()

    async def _wait(self) -> None:
        """Wait for bytes, the end of the connection, or a timeout."""
        waiter = self._waiter = self._loop.create_future()
        timer = None
        if self._read_timeout is not None:
            timer = self._loop.call_later(self._read_timeout, self._time_out_read)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if self._timed_out is not None:
            raise self._timed_out

    def _raise_if_broken(self) -> None:
        # A reset or another socket error says more than "the connection ended".
        if isinstance(self._error, OSError):
            raise httpx.ReadError(str(self._error) or type(self._error).__name__) from None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _expire(self, seconds: float) -> None:
        self._cut_off(deadline_exceeded(seconds))

    def _time_out_read(self) -> None:
        self._cut_off(httpx.ReadTimeout("timed out waiting for the response"))

    def _cut_off(self, error: httpx.TimeoutException) -> None:
        self._timed_out = error
        self.abort()
        self._wake()

    def abort(self) -> None:
        """Drop the connection at once, unsent bytes and all."""
        if self._transport is not None:
            self._transport.abort()

    async def drop(self) -> None:
        """Drop the connection at once (without suspending)."""
        self.abort()

    async def aclose(self) -> None:
        """Close the connection and wait until its socket is closed.

        Dropped rather than closed gracefully: an idle connection has nothing left to send,
        and a TLS close would wait on the server's answer to it.
        """
        if self._transport is None or self._lost.done():
            return
        self.abort()
        await asyncio.shield(self._lost)


class _StreamConnection:
    """A connection on an anyio byte stream (under trio, or any other anyio backend)."""

    def __init__(self, stream: anyio.abc.ByteStream, read_timeout: float | None) -> None:
        self._stream = stream
        self._read_timeout = read_timeout
        self._parser = ResponseParser()
        self._socket: socket.socket | None = stream.extra(
            anyio.abc.SocketAttribute.raw_socket, None
        )
        self._broken = False
        self.idle_since = 0.0

    def usable(self) -> bool:
        """Whether the connection is open and nothing arrived on it since its last response."""
        return not self._broken and self._parser.idle_clean and not _readable(self._socket)

    async def exchange(self, request: bytes, seconds: float | None) -> Response:
        """Write `request` and read its response within `seconds` (`None`: no deadline)."""
        self._broken = True  # until the response is read in full
        try:
            with anyio.fail_after(seconds):
                try:
                    await self._stream.send(request)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                    raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
                while (response := self._parser.next_response()) is None:
                    await self._receive()
        except TimeoutError:
            assert seconds is not None
            raise deadline_exceeded(seconds) from None
        self._broken = False
        return response

    async def _receive(self) -> None:
        try:
            if self._read_timeout is None:
                data = await self._stream.receive()
            else:
                with anyio.fail_after(self._read_timeout):
                    data = await self._stream.receive()
        except anyio.EndOfStream:
            self._parser.feed_eof()
            return
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the response") from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        self._parser.feed(data)

    async def drop(self) -> None:
        """Close the stream without waiting for the peer (no TLS close handshake)."""
        self._broken = True
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(self._stream)

    async def aclose(self) -> None:
        """Close the stream (as `drop` does: a server needs no TLS close handshake)."""
        await self.drop()


def _readable(sock: socket.socket | None) -> bool:
    """Whether `sock` has something to read, without reading it: on an idle connection, the
    server closed it or sent bytes nobody asked for. A socket that is gone counts as readable."""
    fileno = -1 if sock is None else sock.fileno()
    if fileno < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        readable, _, _ = select.select([fileno], [], [], 0)
        return bool(readable)
    poller = select.poll()
    poller.register(fileno, select.POLLIN)
    return bool(poller.poll(0))
