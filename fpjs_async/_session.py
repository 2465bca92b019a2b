"""Session: owns the HTTP client and the configuration; its methods are the public API."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import anyio
import attrs
import httpx

from fpjs_async import _pagination, _validate
from fpjs_async._bulk import (
    BulkFetch,
    BulkOptions,
    BulkPlan,
    BulkProgress,
    BulkResult,
    EventsPlan,
    EventsResult,
    VisitorIds,
)
from fpjs_async._config import (
    DEFAULT_BULK_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT,
    Region,
    check_api_key,
    check_auth,
    check_base_url,
    check_timeout,
    parse_region,
)
from fpjs_async._events_query import (
    EventFilters,
    EventSearchQuery,
    Unpack,
    delete_visitor_call,
    get_event_call,
    update_event_call,
)
from fpjs_async._http import AuthMode, Requester, RequestStats
from fpjs_async._limits import RateLimit, make_pacer
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._query import VisitsQuery
from fpjs_async._redis_limit import RedisRateLimit
from fpjs_async._retry import RetryPolicy
from fpjs_async._transport import TransportName, make_sender
from fpjs_async.events import Event, EventSearch

__all__ = ["Session", "SessionStats"]


@attrs.frozen
class SessionStats:
    """What a session has done so far.

    Attributes:
        requests: Requests sent, retries included.
        retries: Retries among them.
        rate_limited: 429 responses received.
        waited: Seconds requests spent held back before being sent, by a `Retry-After`
            cooldown or the pacing, summed over requests.
        pace: The requests per second the session is held to now (`None`: unpaced).
    """

    requests: int
    retries: int
    rate_limited: int
    waited: float = 0.0
    pace: float | None = None


class Session:
    """A client of the Fingerprint Server API: v4 events and the v3 visitor history.

    Create one per application (or worker) and event loop, use it as an async context
    manager or call `aclose()` when done. Its HTTP connections and limits are shared by every
    call made through it.

    Args:
        api_key: The secret Server API key. It is sent with every request and never shown
            in a `repr`, an exception or a log record.
        region: `"us"`, `"eu"`, `"ap"` or a `Region`.
        base_url: Overrides the region's URL (a proxy, the emulator): the host root, without
            `/v4`, which v4 calls add. `http://` is accepted for loopback hosts only.
        auth: How v3 calls send the key: `"header"` in the `Auth-Token` header
            (recommended), `"query"` as the `token` query parameter. v4 calls always send
            `Authorization: Bearer <key>`, whatever this says.
        timeout: Seconds (or an `httpx.Timeout`) for connecting, reading and writing, and
            for each attempt as a whole (the longest of an `httpx.Timeout`'s values): a
            server trickling its answer cannot hold a request forever. With an injected
            `http_client`, the client's timeouts apply instead.
        retry: The `RetryPolicy`; `RetryPolicy(max_retries=0)` disables retries.
        max_concurrency: The most requests this session has in flight at once, over all of
            its calls. The session's own connections are sized to match.
        rate_limit: How the session paces its requests, over all of its calls of both API
            versions. A number: at most that many per second, evenly spaced. A `RateLimit`:
            a token bucket with a burst. A `RedisRateLimit`: one budget shared by every
            process using the same Redis and name. `None` (the default): unpaced until the
            server answers 429 without `Retry-After`, then paced below the rate it accepted,
            climbing back while requests succeed. See "Many workers, one API key".
        http2: Use HTTP/2 (needs the `http2` extra).
        http_client: An `httpx.AsyncClient` to send requests with instead of the session's
            own. The session uses it but never closes it; URLs still come from
            `region`/`base_url`.
        transport: How the session's own connections are made: `"builtin"`, its own
            HTTP/1.1 connections (asyncio and trio, no extra); `"aiohttp"`, through aiohttp
            (the `aiohttp` extra; asyncio only, refused under trio); `"httpcore"`, through
            the engine under httpx (HTTP/2, and requests that respx sees); or `"auto"`:
            `"builtin"`, or `"httpcore"` with `http2=True`. See "Transports: which to pick"
            in the benchmarks page. Leave it `"auto"` with an `http_client`.
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
        rate_limit: float | RateLimit | RedisRateLimit | None = None,
        http2: bool = False,
        http_client: httpx.AsyncClient | None = None,
        transport: TransportName = "auto",
    ) -> None:
        check_api_key(api_key)
        check_auth(auth)
        _validate.count("max_concurrency", max_concurrency)
        if retry is not None:
            _validate.instance("retry", retry, RetryPolicy)
        if http_client is not None:
            _validate.instance("http_client", http_client, httpx.AsyncClient)
        self._region = parse_region(region)
        self._base_url = self._region.base_url if base_url is None else check_base_url(base_url)
        self._auth: AuthMode = auth
        pacer = make_pacer(rate_limit)
        sender = make_sender(
            transport,
            self._base_url,
            max_concurrency,
            timeout=check_timeout(timeout),
            http2=http2,
            http_client=http_client,
        )
        self._closed = False
        self._requester = Requester(
            sender=sender,
            base_url=self._base_url,
            api_key=api_key,
            auth=auth,
            retry=retry if retry is not None else RetryPolicy(),
            limiter=anyio.CapacityLimiter(max_concurrency),
            pacer=pacer,
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
        """The requests per second the session is held to now (`None`: unpaced).

        The rate of a `RateLimit` or `RedisRateLimit` given; without one, the pace the
        session adopted after the server's 429s, or `None` while it has none.
        """
        return self._requester.pacer.pace

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called."""
        return self._closed

    @property
    def stats(self) -> SessionStats:
        """A snapshot of the requests, retries and 429 responses of this session so far."""
        counts: RequestStats = self._requester.stats
        return SessionStats(
            counts.requests,
            counts.retries,
            counts.rate_limited,
            waited=counts.waited,
            pace=self._requester.pacer.pace,
        )

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
        return await self._requester.fetch(query.call(), VisitorHistory)

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
        _validate.count("max_pages", max_pages, optional=True)
        self._check_open()
        return _pagination.iter_pages(
            self._fetch, query, _pagination.next_visits_query, max_pages=max_pages
        )

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
        _validate.count("max_pages", max_pages, optional=True)
        _validate.count("max_visits", max_visits, optional=True)
        since_ms = None if since is None else _validate.epoch_ms("since", since)
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
        dedupe: bool = True,
    ) -> BulkFetch[BulkResult]:
        """Fetch the histories of many visitors concurrently, streaming each as it completes.

        Use it as an async context manager; it yields a stream of `BulkResult` in
        completion order, which ends after the last visitor:

            async with session.fetch_many(visitor_ids, concurrency=20) as results:
                async for result in results:
                    ...

        IDs are taken from `visitor_ids` one at a time, as workers become free, so a
        generator of a million IDs is never held in memory, and a slow reader slows the
        fetch down instead of piling up results. An ID seen before is skipped: the IDs
        seen are kept for that, a set that grows with the distinct IDs of the input; pass
        `dedupe=False` for an endless stream, whose memory then stays flat. Leaving the
        `async with` early, by `break`, an exception or a cancellation, cancels the fetches
        in progress; nothing is sent afterwards.

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
            dedupe: Skip an ID met before (the default). With `False`, every ID of the
                input is fetched, repeats included, and no ID is kept.

        Returns:
            A `BulkFetch`, to use once with `async with`.

        Raises:
            TypeError: An option has the wrong type; raised here, before anything is sent.
            ValueError: An option is out of range; raised here, before anything is sent.
        """
        options = BulkOptions.build(
            concurrency=concurrency,
            all_pages=all_pages,
            max_pages=max_pages,
            on_progress=on_progress,
            raise_on_error=raise_on_error,
            dedupe=dedupe,
        )
        plan = BulkPlan.build(
            options,
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before=before,
            max_visits=max_visits,
            since=since,
        )
        self._check_open()
        return BulkFetch(visitor_ids, plan.job(self._fetch), self._requester.stats, plan.options)

    # --- Server API v4 -------------------------------------------------------------------

    async def get_event(self, event_id: str, *, ruleset_id: str | None = None) -> Event:
        """Fetch one event: exactly one `GET /v4/events/{event_id}` (plus retries).

        Args:
            event_id: The event ID (v3's request ID), percent-encoded into the path.
            ruleset_id: Evaluate this ruleset against the event; its outcome is in
                `Event.rule_action`.

        Raises:
            TypeError: A parameter has the wrong type; nothing was sent.
            ValueError: A parameter is empty; nothing was sent.
            NotFoundError: No such event (`event_not_found`).
            APIError: Another error status (after retries).
            TransportError: No HTTP answer (after retries).
            ResponseDecodeError: The body is not the documented JSON.
        """
        call = get_event_call(event_id, ruleset_id=ruleset_id)
        self._check_open()
        return await self._requester.fetch(call, Event)

    async def search_events(
        self,
        *,
        limit: int | None = None,
        pagination_key: str | None = None,
        total_hits: int | None = None,
        **filters: Unpack[EventFilters],
    ) -> EventSearch:
        """Search events: exactly one `GET /v4/events` (plus retries), one page of results.

        With no filter the server returns the latest events of the last 7 days, newest
        first. `EventSearch.pagination_key` is the cursor of the next page, present while
        more events match; `iter_events` follows it for you.

            week_ago = datetime.now(timezone.utc) - timedelta(days=7)
            page = await fp.search_events(visitor_id="Ibk1527CUFmcnjLwIs4A9", start=week_ago)

        Args:
            limit: Events per page, 1 to 100 (server default 10). A page may hold fewer
                and still have a next one.
            pagination_key: The `pagination_key` of the previous page, passed back as is.
            total_hits: Also count the matching events, up to this number (1 to 1000),
                into `EventSearch.total_hits`.
            **filters: The search filters, named as the API's query parameters
                (`visitor_id`, `linked_id`, `start`, `end`, `reverse`, `bot`, `suspect`,
                `vpn`, `ip_address`, ...): see `EventFilters`.

        Raises:
            TypeError: An unknown filter, or a parameter of the wrong type; nothing was sent.
            ValueError: A parameter is out of range; nothing was sent.
            APIError: The API answered with an error status (after retries).
            TransportError: No HTTP answer (after retries).
            ResponseDecodeError: The body is not the documented JSON.
        """
        query = EventSearchQuery.build(
            filters, limit=limit, pagination_key=pagination_key, total_hits=total_hits
        )
        return await self._search(query)

    async def _search(self, query: EventSearchQuery) -> EventSearch:
        """One validated search, for the pagination and bulk layers."""
        self._check_open()
        return await self._requester.fetch(query.call(), EventSearch)

    async def update_event(
        self,
        event_id: str,
        *,
        linked_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        suspect: bool | None = None,
    ) -> None:
        """Change an event: one `PATCH /v4/events/{event_id}` with the fields given.

        Events older than a month cannot be changed. While an event is not mutable yet the
        server answers 409 `state_not_ready`, which is retried like a 5xx.

        Args:
            event_id: The event ID.
            linked_id: The new linked ID.
            tags: The new tags, a JSON object (replaces the event's tags).
            suspect: Mark the event as suspect, or not.

        Raises:
            TypeError: A parameter has the wrong type; nothing was sent.
            ValueError: No field given, or an empty ID; nothing was sent.
            ConflictError: The event stayed not mutable through every retry.
            APIError: Another error status (after retries).
            TransportError: No HTTP answer (after retries).
        """
        call = update_event_call(event_id, linked_id=linked_id, tags=tags, suspect=suspect)
        self._check_open()
        await self._requester.execute(call)

    async def delete_visitor_data(self, visitor_id: str) -> None:
        """Delete every event of a visitor: one `DELETE /v4/visitors/{visitor_id}`.

        An Enterprise feature, limited by the API to 30 calls an hour and 500 a day.

        Args:
            visitor_id: The visitor ID.

        Raises:
            TypeError: `visitor_id` is not a str; nothing was sent.
            ValueError: `visitor_id` is empty; nothing was sent.
            NotFoundError: No such visitor (`visitor_not_found`).
            APIError: Another error status (after retries).
            TransportError: No HTTP answer (after retries).
        """
        call = delete_visitor_call(visitor_id)
        self._check_open()
        await self._requester.execute(call)

    def iter_event_pages(
        self,
        *,
        limit: int | None = None,
        pagination_key: str | None = None,
        max_pages: int | None = None,
        **filters: Unpack[EventFilters],
    ) -> AsyncGenerator[EventSearch, None]:
        """Walk an event search page by page until `pagination_key` is absent.

        Every request carries the filters given here plus the previous page's
        `pagination_key`. A page may hold fewer events than `limit`, even none, and still
        have a next one; iteration goes on. Arguments are validated at once, before
        anything is sent.

        Close the generator when leaving early, so that no request is left pending:

            async with contextlib.aclosing(fp.iter_event_pages(linked_id="order-7")) as pages:
                async for page in pages:
                    ...

        Args:
            limit: Events per page, 1 to 100 (server default 10).
            pagination_key: Start from this cursor (a page's `pagination_key`).
            max_pages: Fetch at most this many pages.
            **filters: The search filters, as for `search_events` (`EventFilters`).

        Raises:
            PaginationError: The server sent back the `pagination_key` it was sent.
            FingerprintError: As `search_events`.
        """
        query = EventSearchQuery.build(
            filters, limit=limit, pagination_key=pagination_key, caller="iter_event_pages"
        )
        _validate.count("max_pages", max_pages, optional=True)
        self._check_open()
        return _pagination.iter_pages(
            self._search, query, _pagination.next_events_query, max_pages=max_pages
        )

    def iter_events(
        self,
        *,
        limit: int | None = None,
        max_events: int | None = None,
        max_pages: int | None = None,
        **filters: Unpack[EventFilters],
    ) -> AsyncGenerator[Event, None]:
        """Walk the events of a search one by one, across every page.

        Events come in the search's order: newest first, or oldest first with
        `reverse=True`. Stops without sending a request whose results would be thrown
        away: no page is fetched once `max_events` events were yielded. Close the generator
        when leaving early (`contextlib.aclosing`, as for `iter_event_pages`).

            week_ago = datetime.now(timezone.utc) - timedelta(days=7)
            async for event in fp.iter_events(visitor_id="Ibk1527CUFmcnjLwIs4A9", start=week_ago):
                ...

        Args:
            limit: Events per page, 1 to 100 (server default 10): more per page, fewer
                requests.
            max_events: Yield at most this many events.
            max_pages: Fetch at most this many pages.
            **filters: The search filters, as for `search_events` (`EventFilters`).

        Raises:
            PaginationError: The server sent back the `pagination_key` it was sent.
            FingerprintError: As `search_events`.
        """
        query = EventSearchQuery.build(filters, limit=limit, caller="iter_events")
        _validate.count("max_pages", max_pages, optional=True)
        _validate.count("max_events", max_events, optional=True)
        self._check_open()
        return _pagination.iter_events(
            self._search, query, max_pages=max_pages, max_events=max_events
        )

    def search_many(
        self,
        visitor_ids: VisitorIds,
        *,
        concurrency: int = DEFAULT_BULK_CONCURRENCY,
        all_pages: bool = False,
        max_pages: int | None = None,
        max_events: int | None = None,
        raise_on_error: bool = False,
        on_progress: Callable[[BulkProgress], object] | None = None,
        dedupe: bool = True,
        limit: int | None = None,
        **filters: Unpack[EventFilters],
    ) -> BulkFetch[EventsResult]:
        """Search the events of many visitors concurrently, streaming each as it completes.

        The Server API v4 counterpart of `fetch_many`: one search per visitor, with
        `visitor_id` set to that visitor and the other filters given here. Use it as an
        async context manager; it yields a stream of `EventsResult` in completion order,
        which ends after the last visitor:

            async with fp.search_many(visitor_ids, concurrency=5, start=week_ago) as results:
                async for result in results:
                    ...

        IDs are taken from `visitor_ids` one at a time, as workers become free, so a
        generator of a million IDs is never held in memory, and a slow reader slows the
        searches down instead of piling up results. An ID seen before is skipped: the IDs
        seen are kept for that, a set that grows with the distinct IDs of the input; pass
        `dedupe=False` for an endless stream, whose memory then stays flat. Leaving
        the `async with` early, by `break`, an exception or a cancellation, cancels the
        searches in progress; nothing is sent afterwards.

        One visitor's failure does not stop the others: its `EventsResult.error` holds the
        `FingerprintError`. Other exceptions (an ID that is not a non-empty str, an error
        raised by the input or by `on_progress`) stop the whole run and are raised from
        the `async with`.

        Args:
            visitor_ids: An iterable or async iterable of visitor IDs (str).
            concurrency: The most visitors searched at once. Requests also stay within the
                session's `max_concurrency` and `rate_limit`, shared with its other calls.
            all_pages: Follow each visitor's `pagination_key` to the end (within
                `max_pages`, `max_events`); by default only the first page is fetched.
            max_pages: With `all_pages`, fetch at most this many pages per visitor.
            max_events: Keep at most this many events per visitor; no page is fetched
                beyond them.
            raise_on_error: Fail fast: the first visitor error cancels everything else
                (the body of the `async with` included) and is raised from the
                `async with`.
            on_progress: Called with a `BulkProgress` after each visitor completes, in the
                event loop: keep it quick.
            dedupe: Skip an ID met before (the default). With `False`, every ID of the
                input is fetched, repeats included, and no ID is kept.
            limit: Events per page, 1 to 100 (server default 10).
            **filters: The search filters of `search_events` (`EventFilters`) but
                `visitor_id`, for every visitor. There is no `pagination_key`: a cursor
                belongs to one search.

        Returns:
            A `BulkFetch`, to use once with `async with`.

        Raises:
            TypeError: An option or filter has the wrong type, or `visitor_id` is given;
                raised here, before anything is sent.
            ValueError: An option or filter is out of range; raised here, before anything
                is sent.
        """
        options = BulkOptions.build(
            concurrency=concurrency,
            all_pages=all_pages,
            max_pages=max_pages,
            on_progress=on_progress,
            raise_on_error=raise_on_error,
            dedupe=dedupe,
        )
        plan = EventsPlan.build(filters, options, limit=limit, max_events=max_events)
        self._check_open()
        return BulkFetch(visitor_ids, plan.job(self._search), self._requester.stats, plan.options)
