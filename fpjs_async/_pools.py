"""How a session's requests reach the network: connections of its own, or a client it was given.

A session that was not given an `httpx.AsyncClient` keeps `max_concurrency` HTTP connections
to its one origin, each used by one request at a time, and sends on them with httpcore (the
engine under httpx) directly. httpx's connection pool would cost more: on every request it
walks each request and connection it holds (a socket check on each idle one), so its CPU
cost grows with its size (400 requests over one pool of 50 loopback connections take
several times as long as over ten pools of five), and even a pool of one connection adds
its bookkeeping, events and locks to each request: about a quarter of the CPU time of a
request on loopback.
"""

from __future__ import annotations

from typing import Protocol

import attrs
import httpcore
import httpx

__all__ = ["KEEPALIVE_EXPIRY", "ClientSender", "PooledSender", "Sender"]

#: Seconds an idle connection is kept open (httpx's default).
KEEPALIVE_EXPIRY = 5.0

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

# Sent with every request of the session's own connections (what an httpx.AsyncClient adds).
_DEFAULT_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": f"fpjs-async (python-httpx/{httpx.__version__})",
}


class Sender(Protocol):
    """Sends one GET and returns its response with the body read."""

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeouts each request is sent with."""
        ...

    async def get(
        self, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """Send `GET <base URL><path>?<params>` with `headers`; the response, body read."""
        ...

    async def aclose(self) -> None:
        """Close the connections this sender owns."""
        ...


@attrs.define(eq=False)
class ClientSender:
    """Sends through an `httpx.AsyncClient` the caller owns: its transport, defaults and hooks
    apply, and it is never closed here."""

    client: httpx.AsyncClient
    base_url: str

    @property
    def timeout(self) -> httpx.Timeout:
        """The client's timeouts."""
        return self.client.timeout

    async def get(
        self, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """Send `GET <base URL><path>?<params>` with the client (no redirect followed)."""
        return await self.client.get(
            self.base_url + path, params=params, headers=headers, follow_redirects=False
        )

    async def aclose(self) -> None:
        """Nothing to close: the client belongs to the caller."""


class PooledSender:
    """Sends each request on one of `size` connections to the origin of `base_url`.

    The caller keeps at most `size` requests in flight (the session's limiter does), so a
    free connection always exists: each request takes one and gives it back once its
    response is read. Connections are reused last-in first-out, which keeps a lightly
    loaded session on few, warm connections; one that the server closed, or that stayed
    idle past `KEEPALIVE_EXPIRY`, is replaced by a new one when next taken. Failures come
    out as the `httpx` exceptions an `httpx.AsyncClient` would raise.

    Args:
        base_url: The URL every request goes to (its scheme, host and port).
        size: The most requests in flight at once.
        timeout: Connect, read, write and pool timeouts.
        http2: Whether to use HTTP/2 (needs the `h2` package).

    Raises:
        ImportError: `http2` without the `h2` package.
    """

    def __init__(self, base_url: str, size: int, *, timeout: httpx.Timeout, http2: bool) -> None:
        if http2:
            _require_h2()
        url = httpx.URL(base_url)
        self._origin = httpcore.Origin(
            url.raw_scheme, url.raw_host, url.port or _DEFAULT_PORTS[url.scheme]
        )
        # Every request goes to this origin: its URL and fixed headers are made once here,
        # byte for byte as httpx makes them (a tenth of the CPU time of a request otherwise).
        self._path_prefix = url.raw_path.rstrip(b"/")
        self._headers = [
            (b"Host", url.netloc),
            *((name.encode(), value.encode()) for name, value in _DEFAULT_HEADERS.items()),
        ]
        # trust_env=False: no CA bundle from the environment, like the session's explicit
        # configuration everywhere else. One SSL context serves every connection.
        self._ssl_context = (
            httpx.create_ssl_context(trust_env=False) if url.scheme == "https" else None
        )
        self._http2 = http2
        self._connections: list[httpcore.AsyncHTTPConnection | None] = [None] * size
        # Slot numbers, popped from the end: slot 0 is used first.
        self._free = list(reversed(range(size)))
        self._timeout = timeout
        self._extensions = {"timeout": timeout.as_dict()}
        self._closed = False

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeouts each request is sent with."""
        return self._timeout

    @property
    def is_closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self._closed

    async def get(
        self, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """Send `GET <base URL><path>?<params>` on a free connection; the response, body read.

        `path` must be percent-encoded already (`VisitsQuery.path` is); the parameters are
        encoded here, as httpx encodes them.
        """
        target = self._path_prefix + path.encode("ascii")
        if params:
            target += b"?" + str(httpx.QueryParams(params)).encode("ascii")
        core_request = httpcore.Request(
            b"GET",
            httpcore.URL(
                scheme=self._origin.scheme,
                host=self._origin.host,
                port=self._origin.port,
                target=target,
            ),
            headers=[
                *self._headers,
                *((name.encode(), value.encode()) for name, value in headers.items()),
            ],
            extensions=self._extensions,
        )
        slot = self._free.pop()
        try:
            status, response_headers, content = await self._send(slot, core_request)
        except _HTTPCORE_ERRORS as exc:
            raise _as_httpx_error(exc) from exc
        finally:
            self._free.append(slot)
        # Decodes the body as the headers say (gzip, deflate).
        return httpx.Response(status, headers=response_headers, content=content)

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
        """Close every connection."""
        self._closed = True
        for connection in self._connections:
            if connection is not None:
                await connection.aclose()


def _require_h2() -> None:
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
