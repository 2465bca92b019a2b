"""`GET /v4/events`: the query parameters read as the API reads them, and the search itself.

Every filter of the API (the names of `EventFilters`) is evaluated on the stored events'
JSON, as `_filters` reads it; a filter its table lacks, or a parameter the API does not
know, is refused with a 400 naming it rather than ignored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence

import attrs

from fpjs_async import _validate
from fpjs_async._datetimes import parse_datetime
from fpjs_async._events_query import MAX_SEARCH_LIMIT, MAX_TOTAL_HITS, EventFilters
from fpjs_async.testing._event_store import EventStore, StoredEvent, between, sort_key, walk
from fpjs_async.testing._filters import (
    EVALUATED_FILTERS,
    Predicate,
    Refused,
    boolean,
    invalid,
    single,
)
from fpjs_async.testing._responses import Response, dumps, v4_error

__all__ = [
    "DEFAULT_SEARCH_LIMIT",
    "DEFAULT_WINDOW_MS",
    "Refused",
    "SearchQuery",
    "parse_search",
    "search",
]

#: Events per page when `limit` is not given.
DEFAULT_SEARCH_LIMIT = 10
#: The default time range: the last 7 days.
DEFAULT_WINDOW_MS = 7 * 86_400_000

_PAGING = frozenset({"limit", "pagination_key", "total_hits"})
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
_DIGITS = re.compile(r"[0-9]+")
# Read by `parse_search` itself: the range and order, and the visitor, whose own timeline
# the search walks.
_SELF_READ = frozenset({"visitor_id", "start", "end", "reverse"})
_KNOWN_FILTERS = frozenset(EventFilters.__annotations__)


def _device_events_only(event: StoredEvent) -> bool:
    # Without `source`, the API searches the events of devices only, not those of the edge.
    source: str | None = event.get("source")
    return source != "edge"


# --- the pagination key -------------------------------------------------------------------


def _digest(filters: Mapping[str, list[str]]) -> str:
    text = json.dumps(sorted(filters.items()), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@attrs.frozen
class _Cursor:
    """What a pagination key holds: the search's time range and order, and where it stopped."""

    start: int
    end: int
    reverse: bool
    after: tuple[int, str]
    digest: str

    def encode(self) -> str:
        payload = json.dumps(
            [self.start, self.end, self.reverse, *self.after, self.digest],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        check = hashlib.sha256(payload).digest()[:6]
        return base64.urlsafe_b64encode(check + payload).decode().rstrip("=")

    @classmethod
    def decode(cls, key: str) -> _Cursor:
        try:
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
            check, payload = raw[:6], raw[6:]
            if hashlib.sha256(payload).digest()[:6] != check:
                raise ValueError("checksum")
            start, end, reverse, timestamp, event_id, digest = json.loads(payload)
        except (ValueError, TypeError):  # binascii.Error and JSON errors are ValueErrors
            raise invalid("pagination_key") from None
        shape = (int, int, bool, int, str, str)
        fields = (start, end, reverse, timestamp, event_id, digest)
        if not all(type(value) is kind for value, kind in zip(fields, shape, strict=True)):
            raise invalid("pagination_key")
        return cls(start, end, reverse, (timestamp, event_id), digest)


# --- the query ----------------------------------------------------------------------------


@attrs.frozen
class SearchQuery:
    """A search as the API understood it.

    Attributes:
        start: The oldest time included (Unix ms).
        end: The newest time included (Unix ms).
        reverse: Oldest first.
        limit: Events per page.
        total_hits: Count the matches up to this many, or `None`.
        visitor_id: The `visitor_id` filter, if any.
        predicates: What every event returned satisfies.
        after: Where the previous page stopped (its `sort_key`), or `None`.
        digest: A digest of the filters, which a pagination key is bound to.
    """

    start: int
    end: int
    reverse: bool
    limit: int
    total_hits: int | None
    visitor_id: str | None
    predicates: tuple[Predicate, ...]
    after: tuple[int, str] | None
    digest: str


def _moment(name: str, values: list[str]) -> int:
    text = single(name, values)
    try:
        if _DIGITS.fullmatch(text):
            return _validate.epoch_ms(name, int(text))
        if _RFC3339.fullmatch(text):
            # RFC 3339 allows a lowercase "t" and "z"; not every Python parses them.
            return _validate.epoch_ms(name, parse_datetime(text.upper()))
    except ValueError:
        pass
    raise invalid(name)


def _count(name: str, values: list[str], most: int) -> int:
    text = single(name, values)
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= most:
        raise invalid(name)
    return int(text)


def parse_search(items: Sequence[tuple[str, str]], *, now: int, retention_ms: int) -> SearchQuery:
    """Read the query string of a search.

    Args:
        items: The query parameters in the order sent (a repeated key once per value).
        now: The emulator's time, which the default time range ends at.
        retention_ms: How far back events are kept: a `start` before that is refused.

    Raises:
        Refused: A parameter is unknown, given a bad value, or cannot be evaluated.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name, []).append(value)
    predicates: list[Predicate] = []
    for name, values in grouped.items():
        if name in _PAGING or name in _SELF_READ:
            continue
        parser = EVALUATED_FILTERS.get(name)
        if parser is not None:
            predicates.append(parser(name, values))
        elif name in _KNOWN_FILTERS:
            raise Refused(f"the emulator cannot evaluate the filter {name}")
        else:
            raise Refused(f"unknown query parameter {name!r}")
    if "source" not in grouped:
        predicates.append(_device_events_only)

    limit = DEFAULT_SEARCH_LIMIT
    if "limit" in grouped:
        limit = _count("limit", grouped["limit"], MAX_SEARCH_LIMIT)
    total_hits = None
    if "total_hits" in grouped:
        total_hits = _count("total_hits", grouped["total_hits"], MAX_TOTAL_HITS)
    reverse = "reverse" in grouped and boolean("reverse", grouped["reverse"])
    start = now - DEFAULT_WINDOW_MS
    if "start" in grouped:
        start = _moment("start", grouped["start"])
        if start < now - retention_ms:
            raise invalid("start")
    end = _moment("end", grouped["end"]) if "end" in grouped else now
    if end < start:
        raise invalid("end")

    filters = {name: values for name, values in grouped.items() if name not in _PAGING}
    digest = _digest(filters)
    after = None
    if "pagination_key" in grouped:
        cursor = _Cursor.decode(single("pagination_key", grouped["pagination_key"]))
        if cursor.digest != digest:
            raise invalid("pagination_key")
        # The range is the first page's, so that "the last 7 days" does not slide under
        # the pages that follow it.
        start, end, reverse, after = cursor.start, cursor.end, cursor.reverse, cursor.after
    visitor_id = single("visitor_id", grouped["visitor_id"]) if "visitor_id" in grouped else None
    return SearchQuery(
        start=start,
        end=end,
        reverse=reverse,
        limit=limit,
        total_hits=total_hits,
        visitor_id=visitor_id,
        predicates=tuple(predicates),
        after=after,
        digest=digest,
    )


# --- the search ---------------------------------------------------------------------------


def _matches(event: StoredEvent, predicates: Sequence[Predicate]) -> bool:
    return all(predicate(event) for predicate in predicates)


def _page(
    candidates: Iterator[StoredEvent], query: SearchQuery, scan_limit: int | None
) -> tuple[list[StoredEvent], StoredEvent | None]:
    """The events of one page, and the one the next page continues after (`None`: no more)."""
    page: list[StoredEvent] = []
    examined: StoredEvent | None = None
    for count, event in enumerate(candidates):
        if count == scan_limit:
            return page, examined
        if _matches(event, query.predicates):
            if len(page) == query.limit:
                return page, page[-1]
            page.append(event)
        examined = event
    return page, None


def _count_matches(events: list[StoredEvent], window: tuple[int, int], query: SearchQuery) -> int:
    """How many events of the whole range match, up to `total_hits`."""
    assert query.total_hits is not None
    count = 0
    for event in walk(events, window, reverse=query.reverse):
        if _matches(event, query.predicates):
            count += 1
            if count == query.total_hits:
                break
    return count


def search(store: EventStore, query: SearchQuery, *, scan_limit: int | None = None) -> Response:
    """Answer a search: one page of the matching events and, while more exist, a key.

    Args:
        store: The events.
        query: The search.
        scan_limit: Examine at most this many events for the page, so that a page may
            hold fewer than `limit` events (even none) and still carry a key; `None` to
            examine as many as needed.
    """
    if query.visitor_id is not None and not store.has_visitor(query.visitor_id):
        return v4_error(404, "visitor_not_found", "visitor not found")
    events = store.timeline(query.visitor_id)
    window = between(events, query.start, query.end)
    candidates = walk(events, window, reverse=query.reverse, after=query.after)
    page, stop = _page(candidates, query, scan_limit)
    parts = [b'{"events":[', b",".join([event.encoded() for event in page]), b"]"]
    if stop is not None:
        cursor = _Cursor(query.start, query.end, query.reverse, sort_key(stop), query.digest)
        parts += [b',"pagination_key":', dumps(cursor.encode())]
    if query.total_hits is not None:
        parts.append(b',"total_hits":%d' % _count_matches(events, window, query))
    parts.append(b"}")
    return Response(200, b"".join(parts))
