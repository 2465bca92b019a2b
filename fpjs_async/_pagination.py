"""One pager for every cursor: v3 `lastTimestamp` and `paginationKey`, v4 `pagination_key`.

`iter_pages` sends a query, yields its page and asks an `advance` function for the query of
the next page, until there is none; `iter_items` flattens pages into items and stops without
a wasted request. Each API version adds only its `advance` (`next_visits_query`,
`next_events_query`) and a thin item iterator (`iter_visits`, `iter_events`).

A server may scan a window of events and filter it afterwards (v3 always does), so a page
can hold no item at all and still carry a cursor: only a missing cursor ends the walk.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from typing import TypeVar

from fpjs_async._errors import PaginationError
from fpjs_async._events_query import EventSearchQuery
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._query import VisitsQuery
from fpjs_async.events import Event, EventSearch

__all__ = [
    "Advance",
    "Fetch",
    "iter_events",
    "iter_items",
    "iter_pages",
    "iter_visits",
    "next_events_query",
    "next_visits_query",
]

QueryT = TypeVar("QueryT")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

#: Sends one query and returns its page (`Session._fetch`, `Session._search`).
Fetch = Callable[[QueryT], Awaitable[PageT]]
#: The query of the page after a page (given the query that fetched it), `None` at the end.
Advance = Callable[[QueryT, PageT], QueryT | None]


def _check_key_moved(name: str, sent: str | None, received: str) -> None:
    if received == sent:
        raise PaginationError(
            f"the server returned the {name} it was sent ({received!r}); "
            "following it would fetch the same page forever"
        )


async def iter_pages(
    fetch: Fetch[QueryT, PageT],
    query: QueryT,
    advance: Advance[QueryT, PageT],
    *,
    max_pages: int | None = None,
) -> AsyncGenerator[PageT, None]:
    """Yield the page of `query`, then each following page until `advance` returns `None`.

    The next page is requested only when the consumer asks for it, so a consumer that stops
    (`break`, `aclose()`) sends nothing more. No request is sent for a page beyond
    `max_pages`.
    """
    pages = 0
    while True:
        page = await fetch(query)
        pages += 1
        yield page
        if max_pages is not None and pages >= max_pages:
            return
        following = advance(query, page)
        if following is None:
            return
        query = following


async def iter_items(
    pages: AsyncGenerator[PageT, None],
    items_of: Callable[[PageT], Iterable[ItemT]],
    *,
    max_items: int | None = None,
    keep: Callable[[ItemT], bool] | None = None,
    last: Callable[[PageT], bool] | None = None,
) -> AsyncGenerator[ItemT, None]:
    """Yield the items of every page in order, stopping early without wasted requests.

    Args:
        pages: The pages, from `iter_pages`; closed when this generator ends.
        items_of: The items of a page.
        max_items: Yield at most this many; no page is fetched once that many were yielded.
        keep: Iteration ends at the first item for which this is false (the items come in
            an order that makes every later item unwanted too).
        last: Whether a page's successors can hold no wanted item: none is fetched then.
    """
    remaining = max_items
    async with aclosing(pages):
        async for page in pages:
            for item in items_of(page):
                if keep is not None and not keep(item):
                    return
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
            if last is not None and last(page):
                return


# --- v3: GET /visitors/:id ------------------------------------------------------------------


def next_visits_query(query: VisitsQuery, page: VisitorHistory) -> VisitsQuery | None:
    """The query for the page after `page` (fetched with `query`), or `None` at the end.

    `paginationKey` is followed when the server sends one, else `before=lastTimestamp`. A
    filter by `request_id` matches one event at most, so it has no next page. A cursor that
    would fetch the same or a newer window again raises `PaginationError`.
    """
    if query.request_id is not None:
        return None
    if page.pagination_key is not None:
        _check_key_moved("pagination key", query.pagination_key, page.pagination_key)
        return query.next_page(before=None, pagination_key=page.pagination_key)
    if page.last_timestamp is not None:
        if query.before is not None and page.last_timestamp >= query.before:
            raise PaginationError(
                f"the server returned lastTimestamp {page.last_timestamp}, not older than the "
                f"previous cursor {query.before}; following it would never reach the end"
            )
        return query.next_page(before=page.last_timestamp, pagination_key=None)
    return None


def iter_visits(
    fetch: Fetch[VisitsQuery, VisitorHistory],
    query: VisitsQuery,
    *,
    max_pages: int | None = None,
    max_visits: int | None = None,
    since_ms: int | None = None,
) -> AsyncGenerator[Visit, None]:
    """The visits of every page, newest first, within `max_pages` and `max_visits`.

    With `since_ms`, iteration ends at the first visit older than it, and no page is fetched
    whose events are all older (its cursor says so: the next page holds only events strictly
    older than `lastTimestamp`).
    """
    keep = last = None
    if since_ms is not None:
        cutoff = since_ms

        def keep(visit: Visit) -> bool:
            return visit.timestamp >= cutoff

        def last(page: VisitorHistory) -> bool:
            return page.last_timestamp is not None and page.last_timestamp <= cutoff

    pages = iter_pages(fetch, query, next_visits_query, max_pages=max_pages)
    return iter_items(pages, _visits_of, max_items=max_visits, keep=keep, last=last)


def _visits_of(page: VisitorHistory) -> tuple[Visit, ...]:
    return page.visits


# --- v4: GET /v4/events ---------------------------------------------------------------------


def next_events_query(query: EventSearchQuery, page: EventSearch) -> EventSearchQuery | None:
    """The search for the page after `page` (fetched with `query`), or `None` at the end.

    More events match exactly while the page carries a `pagination_key`; a key equal to the
    one sent raises `PaginationError`.
    """
    if page.pagination_key is None:
        return None
    _check_key_moved("pagination_key", query.pagination_key, page.pagination_key)
    return query.next_page(page.pagination_key)


def iter_events(
    fetch: Fetch[EventSearchQuery, EventSearch],
    query: EventSearchQuery,
    *,
    max_pages: int | None = None,
    max_events: int | None = None,
) -> AsyncGenerator[Event, None]:
    """The events of every page, in the search's order, within `max_pages` and `max_events`."""
    pages = iter_pages(fetch, query, next_events_query, max_pages=max_pages)
    return iter_items(pages, _events_of, max_items=max_events)


def _events_of(page: EventSearch) -> tuple[Event, ...]:
    return page.events
