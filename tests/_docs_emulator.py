"""The world the documentation's examples run in: an emulator holding the example visitors.

The docs' convention, defined here once: an example uses the key `EXAMPLE_API_KEY` (the
literal "your-secret-api-key"), any region, and the visitor IDs of `EXAMPLE_VISITOR_IDS`.
`EXAMPLE_VISITOR_ID` has a realistic history of 1,200 visits ending an hour ago, so that
several pages are needed at any `limit`, `since=` a week ago finds visits, a few visits carry
the linked ID "order-7" (far apart, so a filtered walk meets empty pages), and some are
incognito. The other example visitors have shorter histories. Any other visitor ID has no
visits (the API answers an empty history). Each visit is a v4 event too, with the same ID,
time, visitor, linked ID and incognito flag, so the v4 examples search the same histories.
"""

from __future__ import annotations

import functools
import time
from datetime import timedelta

import attrs

from fpjs_async import SeenAt, Visit
from fpjs_async.testing import FakeServerAPI

EXAMPLE_API_KEY = "your-secret-api-key"
EXAMPLE_VISITOR_ID = "Ibk1527CUFmcnjLwIs4A9"
#: Every visitor the examples may name, the main one first.
EXAMPLE_VISITOR_IDS = (
    EXAMPLE_VISITOR_ID,
    "HyZ6oDz5lc4z5ToGvB1t",
    "UrsqHQ7rhZg5WhRzsdp8",
    "bQmK2XoE9vTn4LcJ8aWd",
)
EXAMPLE_LINKED_ID = "order-7"

_MAIN_VISITS = 1200
_OTHER_VISITS = (260, 40, 7)
# Positions (newest first) of the visits linked to EXAMPLE_LINKED_ID.
_LINKED_POSITIONS = frozenset({12, 13, 14, 430, 1105})
_INCOGNITO_EVERY = 17
_NEWEST_AGE_MS = 3_600_000


def _shift_seen(seen: SeenAt | None, shift: timedelta) -> SeenAt | None:
    if seen is None:
        return None
    return SeenAt(
        global_=None if seen.global_ is None else seen.global_ + shift,
        subscription=None if seen.subscription is None else seen.subscription + shift,
    )


def _recent_history(source: list[Visit], *, now_ms: int, main: bool) -> list[Visit]:
    """`source` moved in time so that its newest visit is an hour before `now_ms`.

    The shift is a whole number of seconds, so a `time` given to the second stays exact.
    """
    shift_ms = (now_ms - _NEWEST_AGE_MS - source[0].timestamp) // 1000 * 1000
    shift = timedelta(milliseconds=shift_ms)
    visits = []
    for position, visit in enumerate(source):
        timestamp = visit.timestamp + shift_ms
        suffix = visit.request_id.partition(".")[2]
        changes: dict[str, object] = {
            "request_id": f"{timestamp}.{suffix}",
            "timestamp": timestamp,
            "time": None if visit.time is None else visit.time + shift,
            "first_seen_at": _shift_seen(visit.first_seen_at, shift),
            "last_seen_at": _shift_seen(visit.last_seen_at, shift),
        }
        if main:
            changes["incognito"] = position % _INCOGNITO_EVERY == 3
            linked = position in _LINKED_POSITIONS
            if linked or visit.linked_id == EXAMPLE_LINKED_ID:
                changes["linked_id"] = EXAMPLE_LINKED_ID if linked else None
        visits.append(attrs.evolve(visit, **changes))
    return visits


@functools.cache
def _example_histories() -> dict[str, list[Visit]]:
    """The example visitors' histories, made once per test run (an hour old at its start)."""
    source = FakeServerAPI("source")
    counts = (_MAIN_VISITS, *_OTHER_VISITS)
    now_ms = int(time.time() * 1000)
    histories = {}
    for seed, (visitor_id, count) in enumerate(zip(EXAMPLE_VISITOR_IDS, counts, strict=True)):
        (synthetic_id,) = source.populate(visitors=1, visits_per_visitor=count, seed=seed)
        histories[visitor_id] = _recent_history(
            source.visits_of(synthetic_id), now_ms=now_ms, main=visitor_id == EXAMPLE_VISITOR_ID
        )
    return histories


def example_emulator() -> FakeServerAPI:
    """A new emulator with key `EXAMPLE_API_KEY` holding the example visitors."""
    fake = FakeServerAPI(EXAMPLE_API_KEY)
    for visitor_id, history in _example_histories().items():
        fake.add_visits(visitor_id, history, as_events=True)
    return fake
