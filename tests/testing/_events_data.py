"""Handmade v4 events for the emulator's tests, and the moment their clock is pinned at."""

from __future__ import annotations

from typing import Any

#: The pinned clock of the v4 tests (2026-01-01T00:00:00Z).
NOW = 1_767_225_600_000
DAY_MS = 86_400_000
#: The visitor of `make_events`' events by default.
EVENT_VISITOR = "Ibk1527CUFmcnjLwIs4A9"


def make_events(
    count: int,
    *,
    visitor_id: str | None = EVENT_VISITOR,
    newest: int = NOW - 1000,
    step: int = 60_000,
    tag: str = "Ev",
    **fields: Any,
) -> list[dict[str, Any]]:
    """`count` minimal v4 events, newest first, `step` ms apart, each with `fields`."""
    events = []
    for i in range(count):
        timestamp = newest - i * step
        event: dict[str, Any] = {"event_id": f"{timestamp}.{tag}{i:04d}", "timestamp": timestamp}
        if visitor_id is not None:
            event["identification"] = {"visitor_id": visitor_id, "visitor_found": i < count - 1}
        events.append({**event, **fields})
    return events
