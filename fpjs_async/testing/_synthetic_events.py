"""Synthetic v4 events: each synthetic visit again, as `GET /v4/events` returns it.

An event has the visit's ID, time, visitor, linked ID, URL, tags, incognito flag and
confidence, plus the smart signals of its visitor, device and network
(`_synthetic_signals`), so that they stay consistent across a visitor's events. `velocity`
counts the visitor's own events of the 5 minutes, hour and day before each one. A few
events with a high suspect score carry `suspect: true`, as if someone had flagged them,
and a few others `false`.

The fields a visitor's events share are kept once per (device, network, incognito)
combination (an `EventBase`), and each event keeps only its own few values: 100,000 events
cost little memory and are quick to make.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fpjs_async.testing._event_store import MISSING, EventBase, StoredEvent
from fpjs_async.testing._synthetic_signals import (
    Network,
    device_fields,
    suspect_score,
    visitor_fields,
)

__all__ = ["SyntheticEvent", "synthetic_events"]

_MINUTES_5, _HOUR, _DAY = 300_000, 3_600_000, 86_400_000
_SPANS = (_MINUTES_5, _HOUR, _DAY)
_SPAN_NAMES = ("5_minutes", "1_hour", "24_hours")
_VELOCITY_NAMES = (
    "distinct_ip",
    "distinct_linked_id",
    "distinct_country",
    "events",
    "ip_events",
    # Only when the event has a linked ID:
    "distinct_ip_by_linked_id",
    "distinct_visitor_id_by_linked_id",
)
# From this score on, some events are flagged `suspect: true`.
_SUSPECT_FROM = 8
_HIGH_ACTIVITY_PER_DAY = 60


class SyntheticEvent(StoredEvent):
    """A synthetic event: its own values in slots, the rest in a base shared with others."""

    __slots__ = (
        "confidence",
        "first_seen_at",
        "last_seen_at",
        "linked_id",
        "suspect",
        "tags",
        "url",
        "velocity",
        "visitor_found",
    )

    def __init__(
        self,
        visit: Mapping[str, Any],
        *,
        visitor_id: str,
        base: EventBase,
        visitor_found: bool,
        confidence: Mapping[str, Any] | None,
        first_seen_at: int,
        last_seen_at: int,
        velocity: tuple[int, ...],
        suspect: bool | None,
    ) -> None:
        super().__init__(visit["requestId"], visit["timestamp"], visitor_id, base)
        self.linked_id: str | None = visit.get("linkedId")
        self.tags: Mapping[str, Any] | None = visit.get("tag")
        self.url: str | None = visit.get("url")
        self.visitor_found = visitor_found
        self.confidence = confidence
        self.first_seen_at = first_seen_at
        self.last_seen_at = last_seen_at
        self.velocity = velocity
        self.suspect = suspect

    def own(self) -> dict[str, Any]:
        """The event's own fields, as JSON."""
        own: dict[str, Any] = {"event_id": self.event_id, "timestamp": self.timestamp}
        if self.linked_id is not None:
            own["linked_id"] = self.linked_id
        if self.tags is not None:
            own["tags"] = self.tags
        if self.url is not None:
            own["url"] = self.url
        if self.suspect is not None:
            own["suspect"] = self.suspect
        own["identification"] = self._identification()
        own["velocity"] = self._velocity()
        return own

    def own_value(self, name: str) -> Any:
        """The event's own field `name`, or `MISSING`, without building the others."""
        getter = _OWN_VALUES.get(name)
        if getter is None:
            return MISSING
        value = getter(self)
        return MISSING if value is None else value

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set some of `linked_id`, `tags` and `suspect`."""
        for name, value in changes.items():
            if name not in ("linked_id", "tags", "suspect"):
                raise ValueError(f"{name} is not a field an update sets")
            setattr(self, name, value)

    def _identification(self) -> dict[str, Any]:
        identification: dict[str, Any] = {
            "visitor_id": self.visitor_id,
            "visitor_found": self.visitor_found,
        }
        if self.confidence is not None:
            identification["confidence"] = self.confidence
        identification["first_seen_at"] = self.first_seen_at
        identification["last_seen_at"] = self.last_seen_at
        return identification

    def _velocity(self) -> dict[str, Any]:
        values = self.velocity
        return {
            name: dict(zip(_SPAN_NAMES, values[3 * i : 3 * i + 3], strict=True))
            for i, name in enumerate(_VELOCITY_NAMES[: len(values) // 3])
        }


_OWN_VALUES: Mapping[str, Callable[[SyntheticEvent], Any]] = {
    "event_id": lambda event: event.event_id,
    "timestamp": lambda event: event.timestamp,
    "linked_id": lambda event: event.linked_id,
    "tags": lambda event: event.tags,
    "url": lambda event: event.url,
    "suspect": lambda event: event.suspect,
    "identification": SyntheticEvent._identification,
    "velocity": SyntheticEvent._velocity,
}


# --- velocity -----------------------------------------------------------------------------


class _Velocity:
    """A visitor's velocity, event after event (oldest first): what each window holds.

    A window is the `span` ms up to and including the event. Visitors have at most three
    networks, and the visits sharing a linked ID are a run, so each count is a few
    comparisons or a bisection.
    """

    __slots__ = (
        "_country_last",
        "_ip_last",
        "_ip_times",
        "_run_ends",
        "_run_ips",
        "_run_of",
        "_times",
    )

    def __init__(self) -> None:
        self._times: list[int] = []
        self._ip_times: dict[str, list[int]] = {}
        self._ip_last: dict[str, int] = {}
        self._country_last: dict[str, int] = {}
        self._run_ends: list[int] = []  # the last time of each run of a linked ID
        self._run_of: str | None = None
        self._run_ips: dict[str, int] = {}  # the last time of each IP in the current run

    def add(
        self, timestamp: int, ip: str | None, country: str | None, linked_id: str | None
    ) -> tuple[int, ...]:
        """Count in the event; returns its velocity (`_VELOCITY_NAMES` by `_SPANS`)."""
        self._times.append(timestamp)
        ip_times: list[int] = []  # an event without an IP address has no IP events
        if ip is not None:
            ip_times = self._ip_times.setdefault(ip, [])
            ip_times.append(timestamp)
            self._ip_last[ip] = timestamp
        if country is not None:
            self._country_last[country] = timestamp
        if linked_id is None:
            self._run_of = None
        else:
            if linked_id == self._run_of:
                self._run_ends[-1] = timestamp
            else:
                self._run_ends.append(timestamp)
                self._run_of = linked_id
                self._run_ips = {}
            if ip is not None:
                self._run_ips[ip] = timestamp
        starts = [timestamp - span for span in _SPANS]  # a window holds what is after this
        values = [_after(self._ip_last.values(), start) for start in starts]
        values += [len(self._run_ends) - bisect_right(self._run_ends, start) for start in starts]
        values += [_after(self._country_last.values(), start) for start in starts]
        values += [len(self._times) - bisect_right(self._times, start) for start in starts]
        values += [len(ip_times) - bisect_right(ip_times, start) for start in starts]
        if linked_id is not None:
            values += [_after(self._run_ips.values(), start) for start in starts]
            values += (1, 1, 1)  # a synthetic linked ID belongs to one visitor
        return tuple(values)


def _after(times: Iterable[int], start: int) -> int:
    return sum(1 for moment in times if moment > start)


# --- the events ---------------------------------------------------------------------------


def synthetic_events(
    rng: random.Random, visitor_id: str, visits: Sequence[Mapping[str, Any]]
) -> list[SyntheticEvent]:
    """The v4 events of a visitor's v3 visits (newest first, as `synthetic_history` makes them).

    Each event has its visit's ID, time, linked ID, URL, tags, incognito flag, IP address
    and geolocation, browser and confidence, as far as the visit has them, and smart signals
    drawn from `rng`.

    Args:
        rng: The source of every random choice (after the visits were made with it).
        visitor_id: The visitor.
        visits: The visitor's visits as the v3 API's JSON, newest first.

    Returns:
        One event per visit, oldest first, with the visit's `requestId` as `event_id`.
    """
    if not visits:
        return []
    oldest_first = visits[::-1]
    first_seen = oldest_first[0]["timestamp"]
    days = max(1.0, (oldest_first[-1]["timestamp"] - first_seen) / _DAY)
    visitor = visitor_fields(rng, high_activity=len(visits) / days > _HIGH_ACTIVITY_PER_DAY)
    # Synthetic visits share one `browserDetails` object per device; others are told apart
    # by what they hold.
    device_keys: dict[int, tuple[Any, ...]] = {}
    devices: dict[tuple[Any, ...], dict[str, Any]] = {}
    networks: dict[str, Network] = {}
    locations: dict[str, Mapping[str, Any]] = {}
    for visit in oldest_first:
        if visit.get("ip") is not None and visit.get("ipLocation"):
            locations.setdefault(visit["ip"], visit["ipLocation"])
    for visit in oldest_first:  # drawn in the order first used, so the seed decides all
        details = visit.get("browserDetails")
        if id(details) not in device_keys:
            device_keys[id(details)] = () if details is None else tuple(sorted(details.items()))
        if device_keys[id(details)] not in devices:
            devices[device_keys[id(details)]] = device_fields(rng, details)
        ip = visit.get("ip")
        if ip is not None and ip not in networks:
            networks[ip] = Network(rng, ip, locations.get(ip), oldest_first[-1]["timestamp"])

    bases: dict[tuple[Any, ...], EventBase] = {}
    confidences: dict[float, Mapping[str, Any]] = {}
    velocities: dict[tuple[int, ...], tuple[int, ...]] = {}
    velocity_of = _Velocity()
    events: list[SyntheticEvent] = []
    last_seen = first_seen
    for position, visit in enumerate(oldest_first):
        ip = visit.get("ip")
        network = None if ip is None else networks[ip]
        device = device_keys[id(visit.get("browserDetails"))]
        incognito = visit.get("incognito")
        located = bool(visit.get("ipLocation"))
        key = (device, ip, incognito, located)
        base = bases.get(key)
        if base is None:
            fields = dict(devices[device])
            if network is not None:
                fields.update(network.fields)
                fields["ip_info"] = network.ip_info if located else network.ip_info_unlocated
            fields.update(visitor)
            if incognito is not None:
                fields["incognito"] = incognito
            fields["suspect_score"] = suspect_score(fields)
            base = bases[key] = EventBase(fields)
        country = None if network is None else network.country
        velocity = velocity_of.add(visit["timestamp"], ip, country, visit.get("linkedId"))
        confidence = None
        score = (visit.get("confidence") or {}).get("score")
        if score is not None:
            confidence = confidences.get(score)
            if confidence is None:
                confidence = confidences[score] = {"score": score, "version": "1.1"}
        suspect = None
        if base.fields["suspect_score"] >= _SUSPECT_FROM and rng.random() < 0.4:
            suspect = True
        elif rng.random() < 0.005:
            suspect = False
        events.append(
            SyntheticEvent(
                visit,
                visitor_id=visitor_id,
                base=base,
                visitor_found=visit.get("visitorFound", position > 0),
                confidence=confidence,
                first_seen_at=first_seen,
                last_seen_at=last_seen,
                velocity=velocities.setdefault(velocity, velocity),
                suspect=suspect,
            )
        )
        last_seen = visit["timestamp"]
    return events
