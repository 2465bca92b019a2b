"""FakeServerAPI: the Server API, v3 `GET /visitors/:id` and v4, as a plain ASGI 3 application.

This is the emulator's state and what a test controls of it: settings, data, faults and
what was observed. How it answers a request is `EmulatorApp`'s (`_app`).
"""

from __future__ import annotations

import contextlib
import random
import time
import typing
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Literal

import httpx

from fpjs_async import _validate
from fpjs_async._config import Region, parse_region
from fpjs_async._converter import converter
from fpjs_async._models import Visit
from fpjs_async._session import Session
from fpjs_async.events import Event
from fpjs_async.testing._app import DAY_MS, EmulatorApp, ErrorStyle, Latency
from fpjs_async.testing._asgi import App, InProcessTransport, in_process_client
from fpjs_async.testing._clock import Clock, Moment
from fpjs_async.testing._event_store import EventStore, JsonEvent
from fpjs_async.testing._faults import Fault, FaultRule, TokenBucket
from fpjs_async.testing._requests import RecordedRequest
from fpjs_async.testing._store import VisitStore, api_visits
from fpjs_async.testing._synthetic import synthetic_history, synthetic_visitor_id
from fpjs_async.testing._synthetic_events import synthetic_events

__all__ = ["ErrorStyle", "FakeServerAPI", "RecordedRequest"]


#: How many days of events the API keeps by default (paid plans).
DEFAULT_RETENTION_DAYS = 30


def _check_latency(latency: Latency) -> Latency:
    if latency is None:
        return None
    if isinstance(latency, tuple):
        return _validate.span("latency", latency, float)
    return _validate.number("latency", latency, at_least=0, finite=False)


class FakeServerAPI(EmulatorApp):
    """An emulator of the Server API, v3 `GET /visitors/:id` and v4, in-process or on loopback.

    v3: it stores visits per visitor and answers as the API does: scan `limit` events newest
    first from the cursor, filter them, and send `lastTimestamp`/`paginationKey` when more
    events remain. v4: `GET /v4/events/{event_id}`, the search `GET /v4/events` with every
    filter of the API, `PATCH /v4/events/{event_id}` and `DELETE /v4/visitors/{visitor_id}`.
    Any host is served, so a `Session` for any region works against it.

    Args:
        api_key: The secret key requests must present: on v3 in the `Auth-Token` header or
            the `token` query parameter, on v4 as `Authorization: Bearer <key>`.
        region: When set (`"us"`, `"eu"`, `"ap"` or a `Region`), a request addressed to
            another region's API host answers 403 `WrongRegion` (v4: `wrong_region`).
            Other hosts (loopback) are always served.
        error_style: v3 error bodies: `"structured"` (`{"error": {"code", "message"}}`,
            the current API) or `"plain"` (`{"error": "text"}`, the older API). v4 error
            bodies are always structured, with v4's snake_case codes.
        send_pagination_key: Send `paginationKey` next to `lastTimestamp` on v3 (the
            current API); `False` sends `lastTimestamp` only, like the older API.
        latency: Seconds to wait before answering each request: a number, or a `(min, max)`
            pair for a uniformly random wait.
        rate_limit: Requests per second allowed to the key, across v3 and v4 (a token
            bucket); the rest answer 429, on v3 with `Retry-After`, on v4 without. `None`
            for no limit.
        burst: How many requests the bucket holds (it starts full and refills by
            `rate_limit` a second); by default as many as `rate_limit` (at least one).
            The API's own is 3 times the rate: `rate_limit=5, burst=15`.
        now: The emulator's clock: `None` follows real time; Unix ms or an aware `datetime`
            pins it there (see `now`).
        retention_days: How many days back a search's `start` may reach, and `populate`'s
            histories do.
        search_scan_limit: Examine at most this many events for one search page, so that a
            page may hold fewer than `limit` events, even none, and still carry a
            `pagination_key` (as the API's pages may); `None` examines as many as needed.

    Raises:
        TypeError: An argument of the wrong type.
        ValueError: An argument out of range, or `burst` without `rate_limit`.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        region: Region | str | None = None,
        error_style: ErrorStyle = "structured",
        send_pagination_key: bool = True,
        latency: Latency = None,
        rate_limit: float | None = None,
        burst: float | None = None,
        now: Moment = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        search_scan_limit: int | None = None,
    ) -> None:
        self._api_key = _validate.text("api_key", api_key).encode()
        _validate.choice("error_style", error_style, typing.get_args(ErrorStyle))
        _validate.count("retention_days", retention_days)
        _validate.count("search_scan_limit", search_scan_limit, optional=True)
        if burst is not None and rate_limit is None:
            raise ValueError("burst needs a rate_limit")
        self.region: Region | None = None if region is None else parse_region(region)
        self.error_style: ErrorStyle = error_style
        self.send_pagination_key = send_pagination_key
        self._latency = _check_latency(latency)
        self._latency_rng = random.Random(0)
        self._bucket = None if rate_limit is None else TokenBucket(rate_limit, burst)
        self._burst_until = 0.0
        self._burst_retry_after: int | None = None
        self._clock = Clock(now)
        self.retention_days = retention_days
        self.search_scan_limit = search_scan_limit
        self._store = VisitStore()
        self._events = EventStore()
        self._rules: list[FaultRule] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self.requests: list[RecordedRequest] = []
        #: How many responses of each status were sent (e.g. `status_counts[429]`).
        self.status_counts: Counter[int] = Counter()

    def __repr__(self) -> str:
        region = None if self.region is None else self.region.value
        return (
            f"FakeServerAPI(visitors={len(self.visitor_ids)}, events={len(self._events)}, "
            f"region={region!r}, error_style={self.error_style!r})"
        )

    # --- configuration ----------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The key requests must present (kept out of the `repr`)."""
        return self._api_key.decode()

    @property
    def latency(self) -> Latency:
        """Seconds each request waits: a number, a `(min, max)` pair, or `None`."""
        return self._latency

    @latency.setter
    def latency(self, latency: Latency) -> None:
        self._latency = _check_latency(latency)

    @property
    def rate_limit(self) -> float | None:
        """Requests per second allowed, or `None`; setting it starts a full bucket.

        Setting it also sets `burst` back to its default (as many as the rate).
        """
        return None if self._bucket is None else self._bucket.rate

    @rate_limit.setter
    def rate_limit(self, rate: float | None) -> None:
        self._bucket = None if rate is None else TokenBucket(rate)

    @property
    def burst(self) -> float | None:
        """How many requests the rate limit's bucket holds, or `None` without a rate limit.

        Setting it starts a full bucket of that size at the same rate.
        """
        return None if self._bucket is None else self._bucket.capacity

    @burst.setter
    def burst(self, burst: float | None) -> None:
        if self._bucket is None:
            raise ValueError("burst needs a rate_limit: set rate_limit first")
        self._bucket = TokenBucket(self._bucket.rate, burst)

    @property
    def now(self) -> int:
        """The emulator's time now, in Unix ms: real time, or where it was pinned.

        Set it to Unix ms or an aware `datetime` to pin the clock there (it then moves only
        when set again: `fake.now += 60_000` is a minute later), or to `None` to follow real
        time again. The clock ends the default search range (the last 7 days), bounds how
        far back `start` may reach, and ends the histories `populate` makes.
        """
        return self._clock.ms()

    @now.setter
    def now(self, now: Moment) -> None:
        self._clock.set(now)

    # --- data -------------------------------------------------------------------------

    def add_visits(
        self,
        visitor_id: str,
        visits: Iterable[Mapping[str, Any] | Visit],
        *,
        as_events: bool = False,
    ) -> None:
        """Store v3 visits of a visitor, in any order (`GET /visitors/:id` serves them).

        Args:
            visitor_id: The visitor they belong to.
            visits: API-shaped visit objects (as in the `visits` array of a response) or
                `Visit` models. Each needs a `requestId` unique for the visitor and a
                `timestamp`.
            as_events: Store each visit as a v4 event too, as `populate` does: the same
                ID, time, visitor, linked ID, URL, tags, incognito flag, IP address,
                geolocation, browser and confidence (as far as the visit has them), with
                smart signals drawn from a seed made of the visitor ID.

        Raises:
            TypeError: `visitor_id` is not a str.
            ValueError: A visit does not have the API's shape, repeats a `requestId`, or
                (with `as_events`) has the ID of a stored event.
        """
        _validate.text("visitor_id", visitor_id)
        raws = api_visits(visitor_id, visits)
        self._store.add(visitor_id, raws)
        if as_events:
            newest_first = sorted(raws, key=lambda raw: -raw["timestamp"])
            events = synthetic_events(random.Random(visitor_id), visitor_id, newest_first)
            self._events.add(events)

    def add_events(self, events: Iterable[Mapping[str, Any] | Event]) -> None:
        """Store v4 events, in any order (the v4 routes serve them).

        Args:
            events: v4 `Event` JSON objects (as `GET /v4/events/{event_id}` returns them)
                or `fpjs_async.events.Event` models. Each needs an `event_id` no stored
                event has and a `timestamp` (Unix ms); an event belongs to the visitor of
                its `identification.visitor_id`. A JSON object is served as given, keys
                the models do not know included.

        Raises:
            TypeError: An event is neither a mapping nor an `Event`.
            ValueError: An event does not have the API's shape, or repeats an `event_id`;
                then none of them is stored.
        """
        self._events.add([JsonEvent.of(event, position) for position, event in enumerate(events)])

    def populate(
        self,
        visitors: int = 100,
        visits_per_visitor: int | tuple[int, int] = (1, 1200),
        seed: int = 0,
    ) -> list[str]:
        """Store deterministic synthetic visitors, each visit both a v3 visit and a v4 event.

        The same seed gives the same data, but for the absolute times: the histories end
        at the emulator's `now` (pin it for the very same data) and reach back up to
        `retention_days`.

        Args:
            visitors: How many visitors to make.
            visits_per_visitor: How many visits each one has: a number, or a `(min, max)`
                range drawn from per visitor.
            seed: The seed of the data.

        Returns:
            The new visitor IDs, in the order they were made.

        Raises:
            TypeError: A count is not an int (`visits_per_visitor`: nor a pair of them).
            ValueError: A count is negative, or a visitor of this seed is already stored.
        """
        _validate.count("visitors", visitors, low=0)
        if isinstance(visits_per_visitor, tuple):
            low, high = _validate.span("visits_per_visitor", visits_per_visitor, int)
        else:
            low = high = _validate.count("visits_per_visitor", visits_per_visitor, low=0)
        rng = random.Random(seed)
        end_ms = self.now
        window_ms = self.retention_days * DAY_MS
        stored = set(self.visitor_ids)
        made: list[str] = []
        for _ in range(visitors):
            visitor_id = synthetic_visitor_id(rng)
            if visitor_id in stored:
                raise ValueError(f"visitor {visitor_id!r} is already stored; use another seed")
            stored.add(visitor_id)
            visits = synthetic_history(
                rng, rng.randint(low, high), end_ms=end_ms, window_ms=window_ms
            )
            self._store.add(visitor_id, visits)
            self._events.add(synthetic_events(rng, visitor_id, visits))
            made.append(visitor_id)
        return made

    @property
    def visitor_ids(self) -> list[str]:
        """Every stored visitor's ID (v3 visits or v4 events), in the order they were added."""
        ids = dict.fromkeys(self._store.visitor_ids())
        ids.update(dict.fromkeys(self._events.visitor_ids()))
        return list(ids)

    def count_visits(self, visitor_id: str | None = None) -> int:
        """How many v3 visits are stored for a visitor, or for all when `visitor_id` is `None`."""
        if visitor_id is None:
            return self._store.count()
        return len(self._store.events(visitor_id))

    def visits_of(self, visitor_id: str) -> list[Visit]:
        """A visitor's stored v3 visits as models, newest first (empty for an unknown one)."""
        return [event.model() for event in self._store.events(visitor_id)]

    def count_events(self, visitor_id: str | None = None) -> int:
        """How many v4 events are stored for a visitor, or for all when `visitor_id` is `None`."""
        return self._events.count(visitor_id)

    def events_of(self, visitor_id: str) -> list[Event]:
        """A visitor's stored v4 events as models, newest first, as updated since."""
        return [
            converter.structure(event.json(), Event)
            for event in reversed(self._events.timeline(visitor_id))
        ]

    def event(self, event_id: str) -> Event | None:
        """The stored v4 event with this ID as a model, or `None`."""
        event = self._events.get(event_id)
        return None if event is None else converter.structure(event.json(), Event)

    # --- faults -----------------------------------------------------------------------

    def add_fault(
        self,
        fault: Fault,
        *,
        visitor_id: str | None = None,
        when: Callable[[RecordedRequest], bool] | None = None,
        times: int | None = None,
    ) -> FaultRule:
        """Answer matching requests with `fault`.

        Rules are tried in the order they were added; the first that applies wins. They
        apply to routed requests (v3 and v4) only, before authentication.

        Args:
            fault: What to answer.
            visitor_id: Only requests about this visitor (see `RecordedRequest.visitor_id`:
                a v3 history, a search filtered by it, a deletion).
            when: Only requests for which this returns true (e.g.
                `lambda r: r.operation == "update_event"`).
            times: Only this many requests; `None` for every one.

        Returns:
            The rule (its `remaining` counts down).
        """
        _validate.count("times", times, low=0, optional=True)
        rule = FaultRule(fault, visitor_id, when, times)
        self._rules.append(rule)
        return rule

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        body: Literal["json", "html"] = "json",
        retry_after: int | None = None,
    ) -> FaultRule:
        """Answer the next `n` requests with an error status (a shortcut for `add_fault`)."""
        return self.add_fault(Fault.error(status, body=body, retry_after=retry_after), times=n)

    def rate_limit_burst(self, seconds: float, *, retry_after: int | None = None) -> None:
        """Answer every request 429 for the next `seconds`.

        Args:
            seconds: How long the storm lasts, from now.
            retry_after: The `Retry-After` v3 answers send; by default the whole seconds
                left. v4 answers send none, as the API does.
        """
        _validate.number("seconds", seconds, at_least=0, finite=False)
        self._burst_until = time.monotonic() + seconds
        self._burst_retry_after = retry_after

    def clear_faults(self) -> None:
        """Remove every fault rule and end a rate-limit burst (the rate limit stays)."""
        self._rules.clear()
        self._burst_until = 0.0

    # --- observation ------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """How many requests are being served right now."""
        return self._in_flight

    def reset_requests(self) -> None:
        """Forget the recorded requests and status counts; restart `max_in_flight` from now."""
        self.requests.clear()
        self.status_counts.clear()
        self.max_in_flight = self._in_flight

    # --- clients ----------------------------------------------------------------------

    @property
    def app(self) -> App:
        """The emulator as an ASGI 3 application (for uvicorn or `httpx.ASGITransport`)."""
        return self._asgi

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that serves requests in-process, for `httpx.AsyncClient`.

        A connection dropped by a fault surfaces as `httpx.RemoteProtocolError`, as it
        does on the wire.
        """
        return InProcessTransport(app=self._asgi)

    @contextlib.asynccontextmanager
    async def session(self, **options: Any) -> AsyncIterator[Session]:
        """A `Session` wired to this emulator in-process; both are closed on exit.

        Args:
            **options: `Session` arguments. `api_key` defaults to the emulator's key; the
                region (default `"us"`) picks the host requests are addressed to.
        """
        options.setdefault("api_key", self.api_key)
        async with (
            in_process_client(self._asgi) as client,
            Session(http_client=client, **options) as session,
        ):
            yield session
