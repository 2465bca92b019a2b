"""The emulator's store: each visitor's events newest first, and the scan the API performs."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from fpjs_async._converter import converter
from fpjs_async._models import Visit
from fpjs_async.testing._responses import dumps_to_keep

__all__ = ["Event", "Scan", "UnknownPaginationKey", "VisitStore", "api_visits"]


@attrs.define(eq=False)
class Event:
    """One stored visit: the raw API-shaped dict and what the scan reads from it."""

    timestamp: int
    request_id: str
    linked_id: str | None
    raw: Mapping[str, Any] = attrs.field(repr=False)
    _encoded: bytes | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Event:
        """An event from an API-shaped dict that has at least `requestId` and `timestamp`."""
        return cls(raw["timestamp"], raw["requestId"], raw.get("linkedId"), raw)

    def model(self) -> Visit:
        """The visit as the client's model."""
        return converter.structure(self.raw, Visit)

    def encoded(self) -> bytes:
        """The visit's JSON as the server sends it: the model unstructured by the converter.

        Made on first use and kept, so a visit costs the conversion once however often it
        is served.
        """
        if self._encoded is None:
            self._encoded = dumps_to_keep(converter.unstructure(self.model()))
        return self._encoded


def api_visits(
    visitor_id: str, visits: Iterable[Mapping[str, Any] | Visit]
) -> list[Mapping[str, Any]]:
    """The visits as API-shaped dicts, each checked now rather than when it is served.

    Raises:
        ValueError: A visit does not have the API's shape.
    """
    raws: list[Mapping[str, Any]] = []
    for position, visit in enumerate(visits):
        if isinstance(visit, Visit):
            raws.append(converter.unstructure(visit))
            continue
        try:
            converter.structure(visit, Visit)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"visit {position} of {visitor_id!r}: {detail}") from None
        raws.append(dict(visit))
    return raws


class UnknownPaginationKey(ValueError):
    """The `paginationKey` names no event of this visitor."""


@attrs.frozen
class Scan:
    """The result of scanning one page.

    Attributes:
        visits: The scanned events that pass the filters, newest first.
        last_scanned: The last event of the scanned window when more events remain beyond
            it (the cursor to the next page), else `None`.
    """

    visits: list[Event]
    last_scanned: Event | None


def _negated_timestamp(event: Event) -> int:
    return -event.timestamp


class _VisitorLog:
    """One visitor's events, sorted newest first when read."""

    __slots__ = ("_events", "_positions", "_sorted")

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._positions: dict[str, int] = {}
        self._sorted = True

    def add(self, events: list[Event]) -> None:
        known = self._positions
        for event in events:
            if event.request_id in known:
                raise ValueError(f"duplicate requestId {event.request_id!r} for this visitor")
            known[event.request_id] = -1  # reserved; real positions are set on sorting
        self._events.extend(events)
        self._sorted = False

    def events(self) -> list[Event]:
        if not self._sorted:
            # Stable: events with equal timestamps keep the order they were added in.
            self._events.sort(key=_negated_timestamp)
            self._positions = {event.request_id: i for i, event in enumerate(self._events)}
            self._sorted = True
        return self._events

    def position_after(self, request_id: str) -> int:
        """The index just past the event with this request ID."""
        self.events()  # sorts, and so places every event
        position = self._positions.get(request_id)
        if position is None:
            raise UnknownPaginationKey(request_id)
        return position + 1


class VisitStore:
    """Every visitor's events, and the API's scan-then-filter over them."""

    def __init__(self) -> None:
        self._logs: dict[str, _VisitorLog] = {}

    def add(self, visitor_id: str, raws: Iterable[Mapping[str, Any]]) -> None:
        """Store API-shaped visits of a visitor (any order); `ValueError` on a duplicate."""
        events = [Event.from_raw(raw) for raw in raws]
        log = self._logs.get(visitor_id)
        if log is None:
            log = self._logs[visitor_id] = _VisitorLog()
        log.add(events)

    def visitor_ids(self) -> list[str]:
        """The IDs of the visitors stored, in the order they were first added."""
        return list(self._logs)

    def events(self, visitor_id: str) -> list[Event]:
        """A visitor's events newest first (empty for an unknown visitor)."""
        log = self._logs.get(visitor_id)
        return [] if log is None else list(log.events())

    def has_visitor(self, visitor_id: str) -> bool:
        """Whether this visitor was ever added (with visits or none) and not deleted."""
        return visitor_id in self._logs

    def delete(self, visitor_id: str) -> None:
        """Forget a visitor and its visits."""
        self._logs.pop(visitor_id, None)

    def count(self) -> int:
        """How many visits are stored in all."""
        return sum(len(log.events()) for log in self._logs.values())

    def scan(
        self,
        visitor_id: str,
        *,
        limit: int,
        before: int | None = None,
        pagination_key: str | None = None,
        request_id: str | None = None,
        linked_id: str | None = None,
    ) -> Scan:
        """Scan `limit` events back from the cursor, then filter them, as the API does.

        Raises:
            UnknownPaginationKey: `pagination_key` is not a request ID of this visitor.
        """
        log = self._logs.get(visitor_id)
        if log is None:
            if pagination_key is not None:
                raise UnknownPaginationKey(pagination_key)
            return Scan([], None)
        events = log.events()
        start = 0
        if pagination_key is not None:
            start = log.position_after(pagination_key)
        if before is not None:
            # First event strictly older than `before` (events are sorted newest first).
            older = bisect.bisect_right(events, -before, key=_negated_timestamp)
            start = max(start, older)
        end = start + limit
        window = events[start:end]
        visits = [
            event
            for event in window
            if (request_id is None or event.request_id == request_id)
            and (linked_id is None or event.linked_id == linked_id)
        ]
        return Scan(visits, window[-1] if end < len(events) else None)
