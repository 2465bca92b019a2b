"""The session's connections through httpcore, the engine under httpx: HTTP/1.1 and HTTP/2.

A session uses them for HTTP/2 (`http2=True`), or when told to (`transport="httpcore"`): the
requests then pass where httpx-level tools such as respx see them. A session keeps
`max_concurrency` connections, each used by one request at a time, and sends on them with
httpcore directly. httpx's connection pool would cost more: on every request it walks each
request and connection it holds (a socket check on each idle one), so its CPU cost grows
with its size, and even a pool of one connection adds its bookkeeping, events and locks to
each request.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import anyio
import httpcore
import httpx

from fpjs_async import _sender
from fpjs_async._h1 import Headers
from fpjs_async._sender import (
    ACCEPT_HEADERS,
    KEEPALIVE_EXPIRY,
    Params,
    Reply,
    attempt_deadline,
    deadline_exceeded,
    decode_content,
    user_agent,
)

__all__ = ["PooledSender", "require_h2"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# httpcore's exceptions and the httpx ones an httpx.AsyncClient raises in their place.
_HTTPX_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}
_HTTPCORE_ERRORS = tuple(_HTTPX_ERRORS)


class PooledSender:
    """Sends each request on one of `size` httpcore connections to the origin of `base_url`.

    The caller keeps at most `size` requests in flight (the session's limiter does), so a
    free connection always exists: each request takes one and gives it back once its
    response is read. Connections are reused last-in first-out, which keeps a lightly
    loaded session on few, warm connections; one that the server closed, or that stayed
    idle past `KEEPALIVE_EXPIRY`, is replaced by a new one when next taken. Failures come
    out as the `httpx` exceptions an `httpx.AsyncClient` would raise.

    Args:
        base_url: The URL every request goes to (its scheme, host and port).
        size: The most requests in flight at once.
        timeout: Connect, read, write and pool timeouts; the longest bounds each attempt.
        http2: Whether to use HTTP/2 (needs the `h2` package).

    Raises:
        ImportError: `http2` without the `h2` package.
    """

    def __init__(self, base_url: str, size: int, *, timeout: httpx.Timeout, http2: bool) -> None:
        if http2:
            require_h2()
        url = httpx.URL(base_url)
        self._origin = httpcore.Origin(
            url.raw_scheme, url.raw_host, url.port or _DEFAULT_PORTS[url.scheme]
        )
        # Every request goes to this origin: its URL and fixed headers are made once here,
        # byte for byte as httpx makes them.
        self._path_prefix = url.raw_path.rstrip(b"/")
        fixed = {**ACCEPT_HEADERS, "User-Agent": user_agent(f"python-httpx/{httpx.__version__}")}
        self._headers = [
            (b"Host", url.netloc),
            *((name.encode(), value.encode()) for name, value in fixed.items()),
        ]
        # One SSL context serves every connection.
        self._ssl_context = _sender.tls_context() if url.scheme == "https" else None
        self._http2 = http2
        self._connections: list[httpcore.AsyncHTTPConnection | None] = [None] * size
        # Slot numbers, popped from the end: slot 0 is used first.
        self._free = list(reversed(range(size)))
        self._deadline = attempt_deadline(timeout)
        self._extensions = {"timeout": timeout.as_dict()}
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
    ) -> httpcore.Request:
        """The httpcore request."""
        target = self._path_prefix + path.encode("ascii")
        if params:
            target += b"?" + urlencode(params).encode("ascii")  # as httpx encodes them
        request_headers = [
            *self._headers,
            *((name.encode(), value.encode()) for name, value in headers.items()),
        ]
        if content is not None:
            # httpcore sends a body as it is: the framing headers are the caller's to add.
            request_headers += [
                (b"Content-Type", b"application/json"),
                (b"Content-Length", str(len(content)).encode("ascii")),
            ]
        return httpcore.Request(
            method.encode("ascii"),
            httpcore.URL(
                scheme=self._origin.scheme,
                host=self._origin.host,
                port=self._origin.port,
                target=target,
            ),
            headers=request_headers,
            content=content,
            extensions=self._extensions,
        )

    async def send(self, request: httpcore.Request) -> Reply:
        """Send the request on a free connection; the response, body read."""
        slot = self._free.pop()
        try:
            with anyio.fail_after(self._deadline):
                status, raw_headers, content = await self._send(slot, request)
        except TimeoutError:
            assert self._deadline is not None
            raise deadline_exceeded(self._deadline) from None
        except _HTTPCORE_ERRORS as exc:
            raise _as_httpx_error(exc) from exc
        finally:
            self._free.append(slot)
        headers = Headers(
            (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw_headers
        )
        return Reply(status, headers, decode_content(headers.get("content-encoding"), content))

    async def _send(
        self, slot: int, request: httpcore.Request
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        while True:
            connection = await self._usable_connection(slot)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # It closed after the check (an HTTP/2 GOAWAY): the next round opens another.
                await self._replace(slot)
                continue
            try:
                content = await response.aread()
            finally:
                await response.aclose()
            return response.status, response.headers, content

    async def _usable_connection(self, slot: int) -> httpcore.AsyncHTTPConnection:
        connection = self._connections[slot]
        if connection is None or connection.is_closed() or connection.has_expired():
            connection = await self._replace(slot)
        return connection

    async def _replace(self, slot: int) -> httpcore.AsyncHTTPConnection:
        """Close the slot's connection, if any, and put a new one (not yet open) in its place."""
        old = self._connections[slot]
        if old is not None:
            await old.aclose()
        new = self._connections[slot] = httpcore.AsyncHTTPConnection(
            self._origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            http1=True,
            http2=self._http2,
        )
        return new

    async def aclose(self) -> None:
        """Close every connection (cancellation-safe)."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            for connection in self._connections:
                if connection is not None:
                    await connection.aclose()


def require_h2() -> None:
    """Raise a clear `ImportError` when HTTP/2 is asked for without the `h2` package."""
    try:
        import h2  # noqa: F401
    except ImportError:
        raise ImportError(
            "http2=True needs the 'h2' package: pip install 'fpjs-async[http2]'"
        ) from None


def _as_httpx_error(exc: Exception) -> httpx.TransportError:
    """The `httpx` exception an `httpx.AsyncClient` raises for an httpcore one."""
    # The first class of its MRO in the table is the most specific match.
    httpx_class = next(_HTTPX_ERRORS[cls] for cls in type(exc).__mro__ if cls in _HTTPX_ERRORS)
    return httpx_class(str(exc))
