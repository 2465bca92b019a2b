"""How the emulator answers a request: the ASGI application under `FakeServerAPI`.

A request goes through, in order: routing (404/405), the fault rules and rate limits
(picked on arrival), the latency, authentication (403), the region check (403), the query
parameters (400), and finally the operation itself (200).
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

import anyio
import attrs
import httpx

from fpjs_async._config import Region
from fpjs_async.testing._asgi import (
    Receive,
    Scope,
    Send,
    lifespan,
    read_body,
    send_response,
    send_then_drop,
)
from fpjs_async.testing._clock import Clock
from fpjs_async.testing._event_store import EventStore
from fpjs_async.testing._faults import Fault, FaultRule, TokenBucket
from fpjs_async.testing._requests import RecordedRequest, receive
from fpjs_async.testing._responses import (
    Response,
    dumps,
    html_page,
    phrase,
    v4_error,
    v4_usual_error,
)
from fpjs_async.testing._routes import Route
from fpjs_async.testing._search import Refused, parse_search, search
from fpjs_async.testing._store import VisitStore
from fpjs_async.testing._v3 import get_visits
from fpjs_async.testing._v4 import EMPTY_OK, check_params, get_event, update_event

__all__ = ["DAY_MS", "EmulatorApp", "ErrorStyle", "Latency"]

#: The styles of v3 error bodies.
ErrorStyle = Literal["plain", "structured"]
#: A wait before each answer: seconds, a `(min, max)` range, or none.
Latency = float | tuple[float, float] | None

DAY_MS = 86_400_000

_HOST_REGIONS = {httpx.URL(region.base_url).host: region for region in Region}

# The usual (code, message) of an error status; 5xx codes follow the API's "Failed".
_USUAL_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("RequestCannotBeParsed", "bad request"),
    403: ("SubscriptionNotActive", "forbidden"),
    404: ("VisitorNotFound", "visitor not found"),
    405: ("MethodNotAllowed", "method not allowed"),
    429: ("TooManyRequests", "too many requests"),
}
# The older, plain error bodies carry a text; a 403 always says this one.
_PLAIN_403 = "Forbidden (HTTP 403)"
# The v4 refusals of a key, as the API words them.
_V4_KEY_REQUIRED = ("secret_api_key_required", "secret API key in header is missing or empty")
_V4_KEY_NOT_FOUND = (
    "secret_api_key_not_found",
    "no fingerprint workspace found for specified secret API key",
)


class EmulatorApp:
    """The ASGI application of the emulator, and the API's rules it answers by.

    `FakeServerAPI` derives from it: the attributes below are its state, which the
    application reads (its settings, data and fault rules) and records (the requests).
    """

    region: Region | None
    error_style: ErrorStyle
    send_pagination_key: bool
    retention_days: int
    search_scan_limit: int | None
    requests: list[RecordedRequest]
    status_counts: Counter[int]
    max_in_flight: int
    _api_key: bytes
    _latency: Latency
    _latency_rng: random.Random
    _bucket: TokenBucket | None
    _burst_until: float
    _burst_retry_after: int | None
    _clock: Clock
    _store: VisitStore
    _events: EventStore
    _rules: list[FaultRule]
    _in_flight: int

    async def _asgi(self, scope: Scope, receive_message: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive_message, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the emulator serves HTTP only, not {scope['type']!r}")
        body = await read_body(receive_message)
        request, key, routed = receive(scope, body, self._error)
        self.requests.append(request)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            fault = None
            if isinstance(routed, Route):
                fault = self._pick_fault(request, key, routed)
            delay = self._sample_latency() + (0.0 if fault is None else fault.delay)
            if delay > 0:
                await anyio.sleep(delay)
            if isinstance(routed, Route):
                response = self._answer(request, key, fault, routed)
            else:
                response = routed
            self.status_counts[response.status] += 1
            if fault is not None and fault.kind == "drop" and response.status == 200:
                await send_then_drop(send, response)
            else:
                if fault is not None and fault.kind == "truncate" and response.status == 200:
                    response = attrs.evolve(response, body=response.body[: len(response.body) // 2])
                await send_response(send, response)
        finally:
            self._in_flight -= 1

    def _is_key(self, key: str | None) -> bool:
        if not key:
            return False
        return secrets.compare_digest(key.encode(), self._api_key)

    def _pick_fault(self, request: RecordedRequest, key: str | None, routed: Route) -> Fault | None:
        for rule in self._rules:
            if rule.take(request):
                return rule.fault
        # v4 sends no Retry-After: its rate limiter could not say when to come back.
        v3 = routed.version == 3
        now = time.monotonic()
        if now < self._burst_until:
            wait = self._burst_retry_after or max(1, int(self._burst_until - now + 0.999))
            return Fault.error(429, retry_after=wait if v3 else None)
        # The bucket is the key's: requests without it are refused anyway.
        if self._bucket is not None and self._is_key(key):
            refill_wait = self._bucket.take()
            if refill_wait is not None:
                return Fault.error(429, retry_after=refill_wait if v3 else None)
        return None

    def _sample_latency(self) -> float:
        latency = self._latency
        if latency is None:
            return 0.0
        if isinstance(latency, tuple):
            return self._latency_rng.uniform(*latency)
        return latency

    def _answer(
        self, request: RecordedRequest, key: str | None, fault: Fault | None, routed: Route
    ) -> Response:
        if fault is not None and fault.kind == "error":
            return self._fault_response(fault, routed)
        if routed.version == 3:
            return self._answer_v3(request, key, routed)
        if not key:
            return v4_error(403, *_V4_KEY_REQUIRED)
        if not self._is_key(key):
            return v4_error(403, *_V4_KEY_NOT_FOUND)
        if not self._region_matches(request.host):
            return v4_error(403, "wrong_region", "wrong region")
        items = [(name, value) for name, values in request.all_params.items() for value in values]
        try:
            return self._operate_v4(routed, items, request.body)
        except Refused as refused:
            return v4_error(400, "request_cannot_be_parsed", str(refused))

    def _answer_v3(self, request: RecordedRequest, key: str | None, routed: Route) -> Response:
        if not key:
            return self._error(403, "TokenRequired", "secret key is required")
        if not self._is_key(key):
            return self._error(403, "TokenNotFound", "secret key is not found")
        if not self._region_matches(request.host):
            return self._error(403, "WrongRegion", "wrong region")
        assert routed.visitor_id is not None  # the v3 route has one
        return get_visits(
            self._store,
            routed.visitor_id,
            request.params,
            send_pagination_key=self.send_pagination_key,
            error=self._error,
        )

    def _region_matches(self, host: str) -> bool:
        return self.region is None or _HOST_REGIONS.get(host, self.region) == self.region

    def _operate_v4(self, routed: Route, items: list[tuple[str, str]], body: bytes) -> Response:
        """The v4 operation itself; `Refused` for a 400."""
        if routed.operation == "search_events":
            query = parse_search(
                items, now=self._clock.ms(), retention_ms=self.retention_days * DAY_MS
            )
            return search(self._events, query, scan_limit=self.search_scan_limit)
        if routed.operation == "delete_visitor_data":
            assert routed.visitor_id is not None  # the route has one
            check_params(items)
            return self._delete_visitor(routed.visitor_id)
        assert routed.event_id is not None  # the event routes have one
        if routed.operation == "get_event":
            return get_event(self._events, routed.event_id, items)
        return update_event(self._events, routed.event_id, items, body)

    def _delete_visitor(self, visitor_id: str) -> Response:
        if not (self._store.has_visitor(visitor_id) or self._events.has_visitor(visitor_id)):
            return v4_error(404, "visitor_not_found", "visitor not found")
        self._store.delete(visitor_id)
        self._events.delete_visitor(visitor_id)
        return EMPTY_OK

    def _fault_response(self, fault: Fault, routed: Route) -> Response:
        headers = () if fault.retry_after is None else (("retry-after", str(fault.retry_after)),)
        if fault.body == "html":
            return Response(fault.status, html_page(fault.status), "text/html", headers)
        if routed.version == 4:
            about_visitor = routed.operation in ("search_events", "delete_visitor_data")
            usual_code, usual_message = v4_usual_error(fault.status, about_visitor=about_visitor)
            error = v4_error(fault.status, fault.code or usual_code, fault.message or usual_message)
        else:
            usual_code, usual_message = _USUAL_ERRORS.get(
                fault.status, ("Failed", phrase(fault.status).lower())
            )
            error = self._error(
                fault.status, fault.code or usual_code, fault.message or usual_message
            )
        return attrs.evolve(error, headers=headers)

    def _error(self, status: int, code: str, message: str) -> Response:
        """A v3 error body in the emulator's `error_style`."""
        error: Any
        if self.error_style == "structured":
            error = {"code": code, "message": message}
        else:
            error = _PLAIN_403 if status == 403 else message
        return Response(status, dumps({"error": error}))
