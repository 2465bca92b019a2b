"""Session: owns the HTTP client and the configuration; its methods are the public API."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from types import TracebackType
from typing import get_args

import anyio
import attrs
import httpx

from fpjs_async import _pagination
from fpjs_async._http import AuthMode, Requester, RequestStats
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._query import VisitsQuery, to_epoch_ms
from fpjs_async._retry import RetryPolicy

__all__ = ["Region", "Session", "SessionStats"]


class Region(str, Enum):
    """The Server API regions and their base URLs."""

    US = "us"
    EU = "eu"
    AP = "ap"

    @property
    def base_url(self) -> str:
        """The API's base URL in this region."""
        return _REGION_URLS[self]


_REGION_URLS = {
    Region.US: "https://api.fpjs.io",
    Region.EU: "https://eu.api.fpjs.io",
    Region.AP: "https://ap.api.fpjs.io",
}

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_CONCURRENCY = 20


@attrs.frozen
class SessionStats:
    """What a session has sent so far: requests (retries included), retries, 429s received."""

    requests: int
    retries: int
    rate_limited: int


def _parse_region(region: Region | str) -> Region:
    try:
        return Region(region.lower() if isinstance(region, str) else region)
    except (ValueError, AttributeError):
        choices = ", ".join(repr(r.value) for r in Region)
        raise ValueError(f"region must be one of {choices} or a Region, got {region!r}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"base_url must be an https:// URL with a host, got {base_url!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError(
            "base_url may use http:// only for a loopback host (localhost, 127.0.0.1, ::1); "
            "anything else must be https:// so the secret key is never sent in clear"
        )
    if url.query or url.fragment or url.userinfo:
        raise ValueError("base_url must not carry a query string, fragment or credentials")
    return str(url).rstrip("/")


def _check_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be seconds (a number) or an httpx.Timeout, got {timeout!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    return httpx.Timeout(timeout)


class Session:
    """A client of the Server API visitor-history endpoint.

    Create one per application (or worker) and event loop, use it as an async context
    manager or call `aclose()` when done. Its HTTP connections and limits are shared by every
    call made through it.

    Args:
        api_key: The secret Server API key. It is sent with every request and never shown
            in a `repr`, an exception or a log record.
        region: `"us"`, `"eu"`, `"ap"` or a `Region`.
        base_url: Overrides the region's URL (a proxy, the emulator). `http://` is accepted
            for loopback hosts only.
        auth: `"header"` sends the key in the `Auth-Token` header (recommended);
            `"query"` sends it as the `token` query parameter.
        timeout: Seconds (or an `httpx.Timeout`) for connecting, reading and writing.
        retry: The `RetryPolicy`; `RetryPolicy(max_retries=0)` disables retries.
        max_concurrency: The most requests this session has in flight at once.
        http2: Use HTTP/2 (needs the `http2` extra).
        http_client: An `httpx.AsyncClient` to send requests with instead of the session's
            own. The session uses it but never closes it; URLs still come from
            `region`/`base_url`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        region: Region | str = Region.US,
        base_url: str | None = None,
        auth: AuthMode = "header",
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        http2: bool = False,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        if not api_key.strip():
            raise ValueError("api_key must be a non-empty str")
        if auth not in get_args(AuthMode):
            raise ValueError(f"auth must be 'header' or 'query', got {auth!r}")
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise TypeError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an int >= 1, got {max_concurrency}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        self._region = _parse_region(region)
        self._base_url = self._region.base_url if base_url is None else _check_base_url(base_url)
        self._auth: AuthMode = auth
        self._owns_client = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(
                timeout=_check_timeout(timeout),
                limits=httpx.Limits(
                    max_connections=max_concurrency, max_keepalive_connections=max_concurrency
                ),
                http2=http2,
                follow_redirects=False,
                trust_env=False,
            )
        else:
            _check_timeout(timeout)
        self._client = http_client
        self._closed = False
        self._requester = Requester(
            client=http_client,
            base_url=self._base_url,
            api_key=api_key,
            auth=auth,
            retry=retry if retry is not None else RetryPolicy(),
            limiter=anyio.CapacityLimiter(max_concurrency),
        )

    def __repr__(self) -> str:
        return (
            f"Session(region={self._region.value!r}, base_url={self._base_url!r}, "
            f"auth={self._auth!r})"
        )

    @property
    def region(self) -> Region:
        """The region the session was created for."""
        return self._region

    @property
    def base_url(self) -> str:
        """The URL requests go to (the region's, or the `base_url` given)."""
        return self._base_url

    @property
    def retry(self) -> RetryPolicy:
        """The session's retry policy."""
        return self._requester.retry

    @property
    def max_concurrency(self) -> int:
        """The most requests the session has in flight at once."""
        return int(self._requester.limiter.total_tokens)

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called."""
        return self._closed

    @property
    def stats(self) -> SessionStats:
        """A snapshot of the requests, retries and 429 responses of this session so far."""
        counts: RequestStats = self._requester.stats
        return SessionStats(counts.requests, counts.retries, counts.rate_limited)

    async def __aenter__(self) -> Session:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session's connections. Idempotent; an injected `http_client` stays open."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Session is closed; create a new Session to send requests")

    async def get_visits(
        self,
        visitor_id: str,
        *,
        request_id: str | None = None,
        linked_id: str | None = None,
        limit: int | None = None,
        before: int | datetime | None = None,
        pagination_key: str | None = None,
    ) -> VisitorHistory:
        """Fetch one page of a visitor's history: exactly one `GET /visitors/:id` (plus retries).

        Args:
            visitor_id: The visitor ID (percent-encoded into the path).
            request_id: Keep only the visit with this request ID.
            linked_id: Keep only visits with this linked ID.
            limit: How many events the server scans, 1 to 500 (server default 100).
                Filters apply after the scan, so a page can hold fewer visits.
            before: Scan only events strictly older than this (ms since the epoch, or an
                aware datetime).
            pagination_key: The `pagination_key` of the previous page (not with `before`).

        Raises:
            TypeError: A parameter has the wrong type; nothing was sent.
            ValueError: A parameter is out of range; nothing was sent.
            APIError: The API answered with an error status (after retries).
            TransportError: No HTTP answer (after retries).
            ResponseDecodeError: The body is not the documented JSON.
        """
        query = VisitsQuery.build(
            visitor_id,
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before=before,
            pagination_key=pagination_key,
        )
        return await self._fetch(query)

    async def _fetch(self, query: VisitsQuery) -> VisitorHistory:
        """One validated query, for the pagination and bulk layers."""
        self._check_open()
        return await self._requester.get_visits(query)

    def iter_pages(
        self,
        visitor_id: str,
        *,
        request_id: str | None = None,
        linked_id: str | None = None,
        limit: int | None = None,
        before: int | datetime | None = None,
        pagination_key: str | None = None,
        max_pages: int | None = None,
    ) -> AsyncGenerator[VisitorHistory, None]:
        """Walk a visitor's history page by page, newest first, until the cursor disappears.

        Every request carries the filters given here plus the previous page's cursor
        (`paginationKey` when the server sends one, else `before=lastTimestamp`). Pages may
        be empty when a filter matched nothing in the scanned window; iteration goes on.
        Arguments are validated at once, before anything is sent.

        Close the generator when leaving early, so that no request is left pending::

            async with contextlib.aclosing(session.iter_pages(visitor_id)) as pages:
                async for page in pages:
                    ...

        Args:
            visitor_id: The visitor ID.
            request_id: Keep only the visit with this request ID (one request at most).
            linked_id: Keep only visits with this linked ID.
            limit: How many events the server scans per page, 1 to 500.
            before: Start with events strictly older than this (ms or aware datetime).
            pagination_key: Start after this pagination key (not with `before`).
            max_pages: Fetch at most this many pages.

        Raises:
            PaginationError: The server sent a cursor that does not move.
            FingerprintError: As `get_visits`.
        """
        query = VisitsQuery.build(
            visitor_id,
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before=before,
            pagination_key=pagination_key,
        )
        _pagination.check_count("max_pages", max_pages)
        self._check_open()
        return _pagination.iter_pages(self._fetch, query, max_pages=max_pages)

    def iter_visits(
        self,
        visitor_id: str,
        *,
        request_id: str | None = None,
        linked_id: str | None = None,
        limit: int | None = None,
        before: int | datetime | None = None,
        pagination_key: str | None = None,
        max_pages: int | None = None,
        max_visits: int | None = None,
        since: int | datetime | None = None,
    ) -> AsyncGenerator[Visit, None]:
        """Walk a visitor's visits one by one, newest first, across every page.

        Stops without sending a request whose results would be thrown away: after
        `max_visits` visits, or at the first visit older than `since`. Close the generator
        when leaving early (`contextlib.aclosing`, as for `iter_pages`).

        Args:
            visitor_id: The visitor ID.
            request_id: Keep only the visit with this request ID (one request at most).
            linked_id: Keep only visits with this linked ID.
            limit: How many events the server scans per page, 1 to 500.
            before: Start with events strictly older than this (ms or aware datetime).
            pagination_key: Start after this pagination key (not with `before`).
            max_pages: Fetch at most this many pages.
            max_visits: Yield at most this many visits.
            since: Yield only visits at or after this moment (ms since the epoch, or an
                aware datetime).

        Raises:
            PaginationError: The server sent a cursor that does not move.
            FingerprintError: As `get_visits`.
        """
        query = VisitsQuery.build(
            visitor_id,
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before=before,
            pagination_key=pagination_key,
        )
        _pagination.check_count("max_pages", max_pages)
        _pagination.check_count("max_visits", max_visits)
        since_ms = None if since is None else to_epoch_ms("since", since)
        self._check_open()
        return _pagination.iter_visits(
            self._fetch, query, max_pages=max_pages, max_visits=max_visits, since_ms=since_ms
        )
