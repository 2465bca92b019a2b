"""fetch_many (v3) and search_many (v4): what one visitor's job is, and what it gives.

Both run on one engine, `BulkFetch` (`_bulk_engine`), which runs a job per visitor and
streams the results as they complete. The two front ends only say what a job is:
`BulkPlan` walks a visitor's v3 history, `EventsPlan` searches a visitor's v4 events, both
through `_pagination`, and each job's result is a `BulkResult` or an `EventsResult`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from datetime import datetime
from typing import Generic, TypeVar

import attrs

from fpjs_async import _pagination, _validate
from fpjs_async._bulk_engine import BulkFetch, BulkOptions, BulkProgress, Job, VisitorIds
from fpjs_async._errors import FingerprintError
from fpjs_async._events_query import EventSearchQuery, check_filters
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._query import VisitsQuery
from fpjs_async._query import check_filters as check_visits_filters
from fpjs_async.events import Event, EventSearch

# The engine's names are re-exported: the bulk API is imported from here.
__all__ = [
    "BulkFetch",
    "BulkOptions",
    "BulkPlan",
    "BulkProgress",
    "BulkResult",
    "EventsPlan",
    "EventsResult",
    "VisitorIds",
]

QueryT = TypeVar("QueryT")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

# search_many sets these filters itself, once per visitor.
_PER_VISITOR = frozenset({"visitor_id"})


@attrs.frozen
class BulkResult:
    """The outcome of one visitor of `Session.fetch_many` (Server API v3).

    Attributes:
        visitor_id: The visitor ID.
        visits: The visits fetched, newest first: the first page's, or every page's with
            `all_pages=True` (within `max_pages`, `max_visits` and `since`). When `error` is
            set, the visits of the pages fetched before it.
        pages: How many pages were fetched.
        error: The `FingerprintError` that ended this visitor (after retries), else `None`.
    """

    visitor_id: str
    visits: tuple[Visit, ...]
    pages: int
    error: FingerprintError | None = None

    @property
    def ok(self) -> bool:
        """Whether the visitor was fetched without error."""
        return self.error is None


@attrs.frozen
class EventsResult:
    """The outcome of one visitor of `Session.search_many` (Server API v4).

    Attributes:
        visitor_id: The visitor ID.
        events: The events found, in the search's order (newest first unless `reverse`):
            the first page's, or every page's with `all_pages=True` (within `max_pages` and
            `max_events`). When `error` is set, the events of the pages fetched before it.
        pages: How many pages were fetched.
        error: The `FingerprintError` that ended this visitor (after retries), else `None`.
    """

    visitor_id: str
    events: tuple[Event, ...]
    pages: int
    error: FingerprintError | None = None

    @property
    def ok(self) -> bool:
        """Whether the visitor was searched without error."""
        return self.error is None


class _CountingFetch(Generic[QueryT, PageT]):
    """Wraps the session's fetch to count the pages of one visitor."""

    __slots__ = ("_fetch", "pages")

    def __init__(self, fetch: _pagination.Fetch[QueryT, PageT]) -> None:
        self._fetch = fetch
        self.pages = 0

    async def __call__(self, query: QueryT) -> PageT:
        page = await self._fetch(query)
        self.pages += 1
        return page


async def _collect(
    items: Callable[[_pagination.Fetch[QueryT, PageT]], AsyncGenerator[ItemT, None]],
    fetch: _pagination.Fetch[QueryT, PageT],
) -> tuple[tuple[ItemT, ...], int, FingerprintError | None]:
    """Run one visitor's item stream to its end: (its items, the pages fetched, the error).

    Args:
        items: Makes the stream from the fetch it is to use (the fetch counts the pages).
        fetch: The session's one-request call.
    """
    counted = _CountingFetch(fetch)
    found: list[ItemT] = []
    error = None
    try:
        async with aclosing(items(counted)) as stream:
            async for item in stream:
                found.append(item)
    except FingerprintError as exc:
        error = exc
    return tuple(found), counted.pages, error


@attrs.frozen
class BulkPlan:
    """The validated options of one `fetch_many` call, and the job they make."""

    options: BulkOptions
    request_id: str | None
    linked_id: str | None
    limit: int | None
    before_ms: int | None
    max_visits: int | None
    since_ms: int | None

    @classmethod
    def build(
        cls,
        options: BulkOptions,
        *,
        request_id: str | None,
        linked_id: str | None,
        limit: int | None,
        before: int | datetime | None,
        max_visits: int | None,
        since: int | datetime | None,
    ) -> BulkPlan:
        """Check every option; `TypeError`/`ValueError` before anything is sent."""
        before_ms = check_visits_filters(
            request_id=request_id, linked_id=linked_id, limit=limit, before=before
        )
        _validate.count("max_visits", max_visits, optional=True)
        since_ms = None if since is None else _validate.epoch_ms("since", since)
        return cls(options, request_id, linked_id, limit, before_ms, max_visits, since_ms)

    def query(self, visitor_id: str) -> VisitsQuery:
        """The first query of a visitor."""
        return VisitsQuery.build(
            visitor_id,
            request_id=self.request_id,
            linked_id=self.linked_id,
            limit=self.limit,
            before=self.before_ms,
        )

    def job(self, fetch: _pagination.Fetch[VisitsQuery, VisitorHistory]) -> Job[BulkResult]:
        """Fetching one visitor's history with `fetch` (`Session._fetch`)."""

        async def run(visitor_id: str) -> BulkResult:
            query = self.query(visitor_id)
            visits, pages, error = await _collect(
                lambda counted: _pagination.iter_visits(
                    counted,
                    query,
                    max_pages=self.options.max_pages,
                    max_visits=self.max_visits,
                    since_ms=self.since_ms,
                ),
                fetch,
            )
            return BulkResult(visitor_id, visits, pages, error)

        return run


@attrs.frozen
class EventsPlan:
    """The validated options of one `search_many` call, and the job they make."""

    options: BulkOptions
    search: EventSearchQuery  # every filter but the visitor's
    max_events: int | None

    @classmethod
    def build(
        cls,
        filters: Mapping[str, object],
        options: BulkOptions,
        *,
        limit: int | None,
        max_events: int | None,
    ) -> EventsPlan:
        """Check every option and filter; `TypeError`/`ValueError` before anything is sent."""
        check_filters(filters, caller="search_many", reserved=_PER_VISITOR)
        search = EventSearchQuery.build(filters, limit=limit, caller="search_many")
        _validate.count("max_events", max_events, optional=True)
        return cls(options, search, max_events)

    def query(self, visitor_id: str) -> EventSearchQuery:
        """The first search of a visitor (`visitor_id` already checked)."""
        return attrs.evolve(self.search, filters=(("visitor_id", visitor_id), *self.search.filters))

    def job(self, fetch: _pagination.Fetch[EventSearchQuery, EventSearch]) -> Job[EventsResult]:
        """Searching one visitor's events with `fetch` (`Session._search`)."""

        async def run(visitor_id: str) -> EventsResult:
            query = self.query(visitor_id)
            events, pages, error = await _collect(
                lambda counted: _pagination.iter_events(
                    counted, query, max_pages=self.options.max_pages, max_events=self.max_events
                ),
                fetch,
            )
            return EventsResult(visitor_id, events, pages, error)

        return run
