"""The session's connections through aiohttp (the `aiohttp` extra): asyncio only, HTTP/1.1.

For applications that would rather every request went through aiohttp, a widely deployed
client (its HTTP parser is in C, but its request machinery costs more CPU time per request
than the built-in connections save, so it is not the default). It is configured to behave
as the session's other connections do: no redirect followed, nothing read from the
environment (proxies, CA bundles, netrc), no cookies kept, the same TLS verification, gzip
and deflate decoded, at most `size` connections, no request sent again behind the retry
policy's back, and each attempt bounded as a whole by the longest timeout (aiohttp's
`total`). Its failures come out as the `httpx` exceptions the other connections raise, so
that retries treat every transport alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlencode

import anyio
import httpx

from fpjs_async import _sender
from fpjs_async._sender import (
    ACCEPT_HEADERS,
    KEEPALIVE_EXPIRY,
    Params,
    Reply,
    async_library,
    attempt_deadline,
    deadline_exceeded,
    stricter,
    user_agent,
)

try:
    import aiohttp
    import yarl
    from aiohttp.http_exceptions import ContentEncodingError
except ImportError:  # the extra is missing: `AiohttpSender` says so
    aiohttp = None  # type: ignore[assignment]

__all__ = ["AiohttpSender"]

#: Seconds `aclose()` waits for aiohttp to close its connections before it stops waiting.
_CLOSE_TIMEOUT = 5.0


class _Request(NamedTuple):
    method: str
    url: yarl.URL
    headers: Mapping[str, str]
    content: bytes | None


class AiohttpSender:
    """Sends each request through one `aiohttp.ClientSession` of `size` connections.

    The aiohttp session is made at the first request, on the running asyncio loop (a
    `fpjs_async.Session` may be made before any loop runs).

    Args:
        base_url: The URL every request goes to (its scheme, host, port and path prefix).
        size: The most connections open at once.
        timeout: Connect and read timeouts; the longest timeout bounds each attempt.

    Raises:
        ImportError: aiohttp is not installed.
    """

    def __init__(self, base_url: str, size: int, *, timeout: httpx.Timeout) -> None:
        if aiohttp is None:
            raise ImportError(
                "transport='aiohttp' needs the 'aiohttp' package: pip install 'fpjs-async[aiohttp]'"
            )
        self._base_url = base_url.rstrip("/")
        self._https = base_url.startswith("https:")
        self._size = size
        self._deadline = attempt_deadline(timeout)
        # A read timeout as long as the whole attempt's would only add a timer to each read.
        self._timeout = aiohttp.ClientTimeout(
            total=self._deadline,
            sock_connect=timeout.connect,
            sock_read=stricter(timeout.read, self._deadline),
        )
        self._session: aiohttp.ClientSession | None = None
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
    ) -> _Request:
        """The request's URL, encoded as httpx encodes it, and its headers."""
        url = self._base_url + path
        if params:
            url += "?" + urlencode(params)  # as httpx.QueryParams encodes them
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        # Already percent-encoded: aiohttp must send it as it is.
        return _Request(method, yarl.URL(url, encoded=True), headers, content)

    async def send(self, request: _Request) -> Reply:
        """Send the request; the response, body read and decoded.

        Raises:
            RuntimeError: The running loop is not asyncio's (aiohttp needs it), or the
                connections were closed.
        """
        session = self._session or self._open()
        try:
            response = await session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.content,
                allow_redirects=False,
            )
            try:
                content = await response.read()
            finally:
                # Back to the pool once read; closed instead when the read did not finish.
                response.release()
            return Reply(response.status, response.headers, content)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # Raised outside this block, so that aiohttp's exception is not chained to it:
            # it holds the request (URL and headers, the key with them), which redaction
            # cannot reach. Its text is kept in the message instead.
            error = self._as_httpx_error(exc)
        raise error

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the connections of this session are closed")
        if async_library() != "asyncio":
            raise RuntimeError(
                "transport='aiohttp' runs under asyncio only; under trio, use "
                "transport='builtin' (or 'auto', which picks it)"
            )
        connector = aiohttp.TCPConnector(
            limit=self._size,
            limit_per_host=0,
            ssl=_sender.tls_context() if self._https else True,
            keepalive_timeout=KEEPALIVE_EXPIRY,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={**ACCEPT_HEADERS, "User-Agent": user_agent(f"aiohttp/{aiohttp.__version__}")},
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=self._timeout,
            auto_decompress=True,
            trust_env=False,
            raise_for_status=False,
        )
        # aiohttp sends a GET or DELETE again by itself when the connection fails; the
        # session's retry policy decides retries alone (aiohttp's own test client does this).
        self._session._retry_connection = False
        return self._session

    def _as_httpx_error(self, exc: BaseException) -> httpx.TransportError | httpx.DecodingError:
        """The `httpx` exception the other connections raise for the failure `exc`."""
        if isinstance(exc, aiohttp.ServerTimeoutError):
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                return httpx.ConnectTimeout(str(exc))
            return httpx.ReadTimeout(str(exc))
        if isinstance(exc, asyncio.TimeoutError):  # `total`: the whole-attempt deadline
            assert self._deadline is not None
            return deadline_exceeded(self._deadline)
        if isinstance(exc, aiohttp.ClientConnectorError):  # TLS failures included
            return httpx.ConnectError(str(exc))
        if isinstance(exc, aiohttp.ClientResponseError):
            # A response aiohttp could not parse. Its str() quotes the request URL.
            return httpx.RemoteProtocolError(exc.message)
        if isinstance(exc, aiohttp.ClientPayloadError):
            if isinstance(exc.__cause__, ContentEncodingError):
                return httpx.DecodingError(str(exc))
            return httpx.RemoteProtocolError(str(exc))
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return httpx.RemoteProtocolError(str(exc) or "Server disconnected")
        if isinstance(exc, (aiohttp.ClientOSError, aiohttp.ClientConnectionResetError)):
            return httpx.ReadError(str(exc) or type(exc).__name__)
        return httpx.TransportError(f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        """Close every connection (cancellation-safe, and the wait for it bounded)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                await session.close()
