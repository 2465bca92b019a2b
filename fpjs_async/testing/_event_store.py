"""The emulator's v4 events: stored once, found by ID, by visitor, and in time order.

An event is its own fields plus, optionally, a base shared with other events (the device,
network and smart signals a synthetic visitor's events have in common). The base is encoded
once, so serving an event encodes only its own few fields; an update replaces the event's
own fields and never touches a base.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from fpjs_async._converter import converter
from fpjs_async.events import Event
from fpjs_async.testing._responses import dumps, dumps_to_keep

__all__ = [
    "MISSING",
    "NO_BASE",
    "EventBase",
    "EventStore",
    "JsonEvent",
    "StoredEvent",
    "between",
    "sort_key",
    "walk",
]

#: What `StoredEvent.own_value` returns for a field the event does not have of its own.
MISSING: Any = object()
_EMPTY: Mapping[str, Any] = {}


class EventBase:
    """Fields several events share, and their JSON, made once."""

    __slots__ = ("encoded", "fields")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields
        self.encoded = dumps_to_keep(fields)


NO_BASE = EventBase(_EMPTY)


class StoredEvent:
    """One v4 event: its ID, time and visitor, its own fields and a shared base.

    Subclasses say how the own fields are kept (`own`, `own_value`, `update`).
    """

    __slots__ = ("base", "event_id", "timestamp", "visitor_id")

    def __init__(
        self, event_id: str, timestamp: int, visitor_id: str | None, base: EventBase
    ) -> None:
        self.event_id = event_id
        self.timestamp = timestamp
        self.visitor_id = visitor_id
        self.base = base

    def own(self) -> Mapping[str, Any]:
        """The event's own fields (not the base's)."""
        raise NotImplementedError

    def own_value(self, name: str) -> Any:
        """The event's own field `name`, or `MISSING`."""
        return self.own().get(name, MISSING)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set some of `linked_id`, `tags` and `suspect` (never in a base)."""
        raise NotImplementedError

    def get(self, name: str) -> Any:
        """The top-level field `name`, or `None` when the event has none."""
        value = self.own_value(name)
        if value is MISSING:
            return self.base.fields.get(name)
        return value

    def lookup(self, path: Sequence[str]) -> Any:
        """The field at `path` (e.g. `("ip_info", "v4", "asn")`), or `None`."""
        value = self.get(path[0])
        for name in path[1:]:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        return value

    def json(self) -> dict[str, Any]:
        """The event as one JSON object (a new dict; nested values are shared)."""
        return {**self.own(), **self.base.fields}

    def encoded(self) -> bytes:
        """The event's JSON, as the server sends it."""
        own = dumps(self.own())
        if not self.base.fields:
            return own
        return b"".join((own[:-1], b",", self.base.encoded[1:]))


class JsonEvent(StoredEvent):
    """An event given as JSON: every field its own."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any], *, visitor_id: str | None) -> None:
        super().__init__(fields["event_id"], fields["timestamp"], visitor_id, NO_BASE)
        self._fields = fields

    @classmethod
    def of(cls, event: Mapping[str, Any] | Event, position: int) -> JsonEvent:
        """The event `position` of those added: its JSON as given, or its model's.

        The event belongs to the visitor of its `identification.visitor_id`.

        Raises:
            TypeError: It is neither a mapping nor an `Event`.
            ValueError: It does not have the API's shape.
        """
        if isinstance(event, Event):
            raw: Mapping[str, Any] = converter.unstructure(event)
            model = event
        elif isinstance(event, Mapping):
            raw = dict(event)
            try:
                model = converter.structure(raw, Event)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"event {position}: {exc}") from None
        else:
            raise TypeError(
                f"event {position} must be a mapping or an Event, got {type(event).__name__}"
            )
        identification = model.identification
        return cls(raw, visitor_id=None if identification is None else identification.visitor_id)

    def own(self) -> Mapping[str, Any]:
        """Every field of the event."""
        return self._fields

    def update(self, changes: Mapping[str, Any]) -> None:
        """Replace some fields (in a new dict: the stored one may be shared)."""
        self._fields = {**self._fields, **changes}


def sort_key(event: StoredEvent) -> tuple[int, str]:
    """Events are ordered by time, then by ID, so that every page boundary is exact."""
    return (event.timestamp, event.event_id)


class _Timeline:
    """Events sorted oldest first when read (sorting waits until then)."""

    __slots__ = ("_events", "_sorted")

    def __init__(self) -> None:
        self._events: list[StoredEvent] = []
        self._sorted = True

    def __len__(self) -> int:
        return len(self._events)

    def add(self, events: Iterable[StoredEvent]) -> None:
        self._events.extend(events)
        self._sorted = False

    def events(self) -> list[StoredEvent]:
        if not self._sorted:
            self._events.sort(key=sort_key)
            self._sorted = True
        return self._events

    def remove(self, gone: set[str]) -> None:
        self._events = [event for event in self._events if event.event_id not in gone]


class EventStore:
    """Every event, by ID, by visitor, and in time order."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredEvent] = {}
        self._all = _Timeline()
        self._by_visitor: dict[str, _Timeline] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, events: Sequence[StoredEvent]) -> None:
        """Store events, all or none; `ValueError` when an `event_id` is already stored."""
        seen: set[str] = set()
        for event in events:
            if event.event_id in self._by_id or event.event_id in seen:
                raise ValueError(f"duplicate event_id {event.event_id!r}")
            seen.add(event.event_id)
        for event in events:
            self._by_id[event.event_id] = event
            if event.visitor_id is not None:
                timeline = self._by_visitor.get(event.visitor_id)
                if timeline is None:
                    timeline = self._by_visitor[event.visitor_id] = _Timeline()
                timeline.add([event])
        self._all.add(events)

    def get(self, event_id: str) -> StoredEvent | None:
        """The event with this ID, if stored."""
        return self._by_id.get(event_id)

    def has_visitor(self, visitor_id: str) -> bool:
        """Whether any event of this visitor is stored."""
        return visitor_id in self._by_visitor

    def visitor_ids(self) -> list[str]:
        """The visitors that have events, in the order they were first added."""
        return list(self._by_visitor)

    def count(self, visitor_id: str | None = None) -> int:
        """How many events are stored for a visitor, or for all when `visitor_id` is `None`."""
        if visitor_id is None:
            return len(self._by_id)
        timeline = self._by_visitor.get(visitor_id)
        return 0 if timeline is None else len(timeline)

    def timeline(self, visitor_id: str | None = None) -> list[StoredEvent]:
        """Events oldest first: a visitor's, or all of them (the store's own list: read only)."""
        if visitor_id is None:
            return self._all.events()
        timeline = self._by_visitor.get(visitor_id)
        return [] if timeline is None else timeline.events()

    def delete_visitor(self, visitor_id: str) -> int:
        """Delete every event of a visitor; returns how many there were."""
        timeline = self._by_visitor.pop(visitor_id, None)
        if timeline is None:
            return 0
        gone = {event.event_id for event in timeline.events()}
        for event_id in gone:
            del self._by_id[event_id]
        self._all.remove(gone)
        return len(gone)


def between(events: list[StoredEvent], start: int, end: int) -> tuple[int, int]:
    """The slice of `events` (oldest first) whose timestamps are from `start` to `end`."""
    low = bisect.bisect_left(events, start, key=_timestamp)
    high = bisect.bisect_right(events, end, key=_timestamp)
    return low, max(low, high)


def _timestamp(event: StoredEvent) -> int:
    return event.timestamp


def walk(
    events: list[StoredEvent],
    window: tuple[int, int],
    *,
    reverse: bool,
    after: tuple[int, str] | None = None,
) -> Iterator[StoredEvent]:
    """The events of a window, newest first (or oldest first when `reverse`).

    Args:
        events: Events oldest first.
        window: The slice of `events` to walk (see `between`).
        reverse: Oldest first.
        after: Start strictly after the event with this `sort_key`, in the walk's order.
    """
    low, high = window
    if reverse:
        if after is not None:
            low = max(low, bisect.bisect_right(events, after, lo=low, hi=high, key=sort_key))
        for position in range(low, high):
            yield events[position]
    else:
        if after is not None:
            high = min(high, bisect.bisect_left(events, after, lo=low, hi=high, key=sort_key))
        for position in range(high - 1, low - 1, -1):
            yield events[position]
