"""How a session's requests reach the network: its own connections, or a client it was given.

httpcore's connection pool walks every request and every connection it holds (with a socket
check on each idle one) each time a request starts or ends, so the CPU cost of one request
grows with the size of the pool: 400 requests over one pool of 50 loopback connections take
several times as long as over ten pools of five, and pools of one connection cost least of
all (measured at 10, 50 and 200 requests in flight). A session therefore gives each of its
connections a pool of its own.
"""

from __future__ import annotations

from typing import Protocol

import attrs
import httpx

__all__ = ["ClientSender", "PooledSender", "Sender"]

# Sent with every request of the session's own pools (what an httpx.AsyncClient would add).
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
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """Send `GET url?params` with `headers`; the response, body read and closed."""
        ...

    async def aclose(self) -> None:
        """Close the connections this sender owns."""
        ...


@attrs.define(eq=False)
class ClientSender:
    """Sends through an `httpx.AsyncClient` the caller owns: its transport, defaults and hooks
    apply, and it is never closed here."""

    client: httpx.AsyncClient

    @property
    def timeout(self) -> httpx.Timeout:
        """The client's timeouts."""
        return self.client.timeout

    async def get(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """Send `GET url?params` with the client (no redirect followed)."""
        return await self.client.get(url, params=params, headers=headers, follow_redirects=False)

    async def aclose(self) -> None:
        """Nothing to close: the client belongs to the caller."""


class PooledSender:
    """Spreads requests over `size` single-connection pools.

    The caller keeps at most `size` requests in flight (the session's limiter does), so a
    free pool always exists: each request takes one and gives it back when its response is
    read. Pools are reused last-in first-out, which keeps a lightly loaded session on few,
    warm connections.

    Requests go straight to the transports, skipping `httpx.AsyncClient`'s per-request work
    for features the session does not use (cookies, redirects, auth flows, event hooks).

    Args:
        size: The most requests in flight at once.
        timeout: Connect, read, write and pool timeouts.
        http2: Whether to use HTTP/2 (needs the `h2` package).
    """

    def __init__(self, size: int, *, timeout: httpx.Timeout, http2: bool) -> None:
        # trust_env=False: no proxy or CA bundle from the environment, like the session's
        # explicit configuration everywhere else. One SSL context serves every pool.
        ssl_context = httpx.create_ssl_context(trust_env=False)
        one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._transports = [
            httpx.AsyncHTTPTransport(
                verify=ssl_context, http2=http2, limits=one_connection, trust_env=False
            )
            for _ in range(size)
        ]
        # Popped from the end: the first pool is used first.
        self._free = self._transports[::-1]
        self._timeout = timeout
        self._closed = False
        self._extensions = {"timeout": timeout.as_dict()}

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeouts each request is sent with."""
        return self._timeout

    async def get(
        self, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """Send `GET url?params` through a free pool; the response with its body read."""
        request = httpx.Request(
            "GET",
            url,
            params=params,
            headers={**_DEFAULT_HEADERS, **headers},
            extensions=self._extensions,
        )
        transport = self._free.pop()
        try:
            response = await transport.handle_async_request(request)
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        finally:
            self._free.append(transport)
        return response

    @property
    def is_closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close every pool's connections."""
        self._closed = True
        for transport in self._transports:
            await transport.aclose()
