"""Session: owns the HTTP client and the configuration; its methods are the public API."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from enum import Enum
from types import TracebackType
from typing import get_args

import anyio
import attrs
import httpx

from fpjs_async import _pagination
from fpjs_async._bulk import BulkFetch, BulkPlan, BulkProgress, VisitorIds
from fpjs_async._http import AuthMode, Requester, RequestStats
from fpjs_async._limits import RateLimit, check_rate
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._pools import ClientSender, PooledSender, Sender
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
DEFAULT_BULK_CONCURRENCY = 10


@attrs.frozen
class SessionStats:
    """What a session has sent so far: requests (retries included), retries, 429s received."""

    requests: int
    retries: int
    rate_limited: int


def _parse_region(region: Region | str) -> Region:
    choices = ", ".join(repr(r.value) for r in Region)
    if not isinstance(region, str):  # a Region is a str too
        raise TypeError(f"region must be one of {choices} or a Region, got {region!r}")
    try:
        return Region(region.lower())
    except ValueError:
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
    # httpx accepts any port number here; a bad one would only fail at connect time.
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"base_url is not a valid URL: port {url.port} is out of range")
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
        timeout: Seconds (or an `httpx.Timeout`) for connecting, reading and writing, and
            for each attempt as a whole (the longest of an `httpx.Timeout`'s values): a
            server trickling its answer cannot hold a request forever. With an injected
            `http_client`, the client's timeouts apply instead.
        retry: The `RetryPolicy`; `RetryPolicy(max_retries=0)` disables retries.
        max_concurrency: The most requests this session has in flight at once, over all of
            its calls. The session's own connections are sized to match.
        rate_limit: At most this many requests per second, evenly spaced, over all of the
            session's calls (`None`: no client-side limit).
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
        rate_limit: float | None = None,
        http2: bool = False,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        if not api_key.strip():
            raise ValueError("api_key must be a non-empty str")
        # Anything else fails in httpx or h11 with an error quoting the key (this one doesn't).
        if not (api_key.isascii() and api_key.isprintable()) or api_key != api_key.strip():
            raise ValueError("api_key must be printable ASCII without surrounding whitespace")
        if not isinstance(auth, str):
            raise TypeError(f"auth must be 'header' or 'query', got {type(auth).__name__}")
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
        rate = check_rate(rate_limit)
        sender: Sender
        if http_client is None:
            sender = PooledSender(
                self._base_url, max_concurrency, timeout=_check_timeout(timeout), http2=http2
            )
        else:
            _check_timeout(timeout)
            sender = ClientSender(http_client, self._base_url)
        self._closed = False
        self._requester = Requester(
            sender=sender,
            api_key=api_key,
            auth=auth,
            retry=retry if retry is not None else RetryPolicy(),
            limiter=anyio.CapacityLimiter(max_concurrency),
            rate_limit=None if rate is None else RateLimit(rate),
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
    def rate_limit(self) -> float | None:
        """The most requests per second the session sends (`None`: no client-side limit)."""
        limit = self._requester.rate_limit
        return None if limit is None else limit.rate

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
        await self._requester.sender.aclose()

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

        Close the generator when leaving early, so that no request is left pending:

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

    def fetch_many(
        self,
        visitor_ids: VisitorIds,
        *,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        all_pages: bool = False,
        request_id: str | None = None,
        linked_id: str | None = None,
        limit: int | None = None,
        before: int | datetime | None = None,
        max_pages: int | None = None,
        max_visits: int | None = None,
        since: int | datetime | None = None,
        on_progress: Callable[[BulkProgress], object] | None = None,
        raise_on_error: bool = False,
    ) -> BulkFetch:
        """Fetch the histories of many visitors concurrently, streaming each as it completes.

        Use it as an async context manager; it yields a stream of `BulkResult` in
        completion order, which ends after the last visitor:

            async with session.fetch_many(visitor_ids, concurrency=20) as results:
                async for result in results:
                    ...

        IDs are taken from `visitor_ids` one at a time, as workers become free, so a
        generator of a million IDs is never held in memory, and a slow reader slows the
        fetch down instead of piling up results. An ID seen before is skipped (the IDs
        seen are kept for that). Leaving the `async with` early, by `break`, an exception
        or a cancellation, cancels the fetches in progress; nothing is sent afterwards.

        One visitor's failure does not stop the others: its `BulkResult.error` holds the
        `FingerprintError`. Other exceptions (an ID that is not a non-empty str, an error
        raised by the input or by `on_progress`) stop the whole fetch and are raised from
        the `async with`.

        Args:
            visitor_ids: An iterable or async iterable of visitor IDs (str).
            concurrency: The most visitors fetched at once. Requests also stay within the
                session's `max_concurrency`, shared with its other calls.
            all_pages: Walk every page of each visitor's history (within `max_pages`,
                `max_visits`, `since`); by default only the first page is fetched.
            request_id: As for `get_visits`, for every visitor.
            linked_id: As for `get_visits`, for every visitor.
            limit: As for `get_visits`, for every visitor.
            before: As for `get_visits`, for every visitor. There is no `pagination_key`:
                a cursor belongs to one visitor's history.
            max_pages: With `all_pages`, fetch at most this many pages per visitor.
            max_visits: Keep at most this many visits per visitor.
            since: Keep only visits at or after this moment (ms since the epoch, or an
                aware datetime); no page older than that is fetched.
            on_progress: Called with a `BulkProgress` after each visitor completes, in the
                event loop: keep it quick.
            raise_on_error: Fail fast: the first visitor error cancels everything else
                (the body of the `async with` included) and is raised from the
                `async with`.

        Returns:
            A `BulkFetch`, to use once with `async with`.

        Raises:
            TypeError: An option has the wrong type; raised here, before anything is sent.
            ValueError: An option is out of range; raised here, before anything is sent.
        """
        plan = BulkPlan.build(
            concurrency=concurrency,
            all_pages=all_pages,
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before=before,
            max_pages=max_pages,
            max_visits=max_visits,
            since=since,
            on_progress=on_progress,
            raise_on_error=raise_on_error,
        )
        self._check_open()
        return BulkFetch(self._fetch, self._requester.stats, visitor_ids, plan)
