"""The async generators that walk a visitor's history page by page, following its cursors.

The server scans `limit` events per request and filters them afterwards, so a page can hold
no visit at all and still carry a cursor: only a missing cursor ends the history.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

from fpjs_async._errors import PaginationError
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._query import VisitsQuery

__all__ = ["Fetch", "check_count", "iter_pages", "iter_visits", "next_query"]

#: Sends one query and returns its page (`Session._fetch`).
Fetch = Callable[[VisitsQuery], Awaitable[VisitorHistory]]


def check_count(name: str, value: int | None) -> None:
    """Refuse a page or visit budget that is not a positive int (`None`: no budget)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= 1 or None, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be an int >= 1 or None, got {value}")


def next_query(query: VisitsQuery, page: VisitorHistory) -> VisitsQuery | None:
    """The query for the page after `page` (fetched with `query`), or `None` at the end.

    `paginationKey` is followed when the server sends one, else `before=lastTimestamp`.
    A cursor that would fetch the same or a newer window again raises `PaginationError`.
    """
    if page.pagination_key is not None:
        if page.pagination_key == query.pagination_key:
            raise PaginationError(
                f"the server returned the pagination key it was sent ({page.pagination_key!r}); "
                "following it would fetch the same page forever"
            )
        return query.next_page(before=None, pagination_key=page.pagination_key)
    if page.last_timestamp is not None:
        if query.before is not None and page.last_timestamp >= query.before:
            raise PaginationError(
                f"the server returned lastTimestamp {page.last_timestamp}, not older than the "
                f"previous cursor {query.before}; following it would never reach the end"
            )
        return query.next_page(before=page.last_timestamp, pagination_key=None)
    return None


async def iter_pages(
    fetch: Fetch, query: VisitsQuery, *, max_pages: int | None = None
) -> AsyncGenerator[VisitorHistory, None]:
    """Yield the page of `query`, then each following page until the cursor disappears.

    A filter by `request_id` matches one event at most, so it sends one request only.
    No request is sent for a page beyond `max_pages`.
    """
    pages = 0
    while True:
        page = await fetch(query)
        pages += 1
        yield page
        if query.request_id is not None or (max_pages is not None and pages >= max_pages):
            return
        following = next_query(query, page)
        if following is None:
            return
        query = following


async def iter_visits(
    fetch: Fetch,
    query: VisitsQuery,
    *,
    max_pages: int | None = None,
    max_visits: int | None = None,
    since_ms: int | None = None,
) -> AsyncGenerator[Visit, None]:
    """Yield the visits of every page, newest first, stopping early without wasted requests.

    With `max_visits`, no page is fetched once that many visits were yielded. With
    `since_ms`, iteration ends at the first visit older than it, and no page is fetched
    whose events are all older (its cursor says so).
    """
    remaining = max_visits
    async with aclosing(iter_pages(fetch, query, max_pages=max_pages)) as pages:
        async for page in pages:
            for visit in page.visits:
                if since_ms is not None and visit.timestamp < since_ms:
                    return
                yield visit
                if remaining is not None:
                    remaining -= 1
                    if remaining == 0:
                        return
            # The next page holds only events strictly older than lastTimestamp.
            cursor = page.last_timestamp
            if since_ms is not None and cursor is not None and cursor <= since_ms:
                return
