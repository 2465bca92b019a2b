"""FakeServerAPI: the Server API's `GET /visitors/:id` as a plain ASGI 3 application.

A request goes through, in order: routing (404/405), the fault rules and rate limits
(picked on arrival), the latency, authentication (403), the region check (403), the query
parameters (400), and finally the scan of the stored events (200).
"""

from __future__ import annotations

import contextlib
import random
import re
import secrets
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    MutableMapping,
)
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import anyio
import attrs
import httpx

from fpjs_async._converter import converter
from fpjs_async._models import Visit
from fpjs_async._query import MAX_LIMIT
from fpjs_async._session import Region, Session, _parse_region
from fpjs_async.testing._faults import ConnectionDropped, Fault, FaultRule, TokenBucket
from fpjs_async.testing._store import UnknownPaginationKey, VisitStore, dumps
from fpjs_async.testing._synthetic import synthetic_history, synthetic_visitor_id

__all__ = ["ErrorStyle", "FakeServerAPI", "RecordedRequest"]

ErrorStyle = Literal["plain", "structured"]
Latency = float | tuple[float, float] | None

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The server's default number of events scanned.
DEFAULT_LIMIT = 100

_HOST_REGIONS = {httpx.URL(region.base_url).host: region for region in Region}
_VISITORS_PREFIX = b"/visitors/"
_DIGITS = re.compile(r"-?[0-9]+")

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


@attrs.frozen
class RecordedRequest:
    """A request the emulator received, without the secret key.

    Attributes:
        method: The HTTP method.
        path: The path as sent, still percent-encoded.
        visitor_id: The decoded visitor ID, or `None` when the path is not `/visitors/<id>`.
        params: The query parameters (the first value of each), without `token`.
        headers: The headers, names in lowercase, without `Auth-Token`.
        host: The host the request was addressed to, without the port.
        auth: How the key was presented: `"header"`, `"query"`, or `None` when it was not.
    """

    method: str
    path: str
    visitor_id: str | None
    params: dict[str, str]
    headers: dict[str, str]
    host: str
    auth: Literal["header", "query"] | None


@attrs.frozen
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class _Query:
    limit: int
    before: int | None
    pagination_key: str | None
    request_id: str | None
    linked_id: str | None


def _check_latency(latency: Latency) -> Latency:
    if latency is None:
        return None
    if isinstance(latency, tuple):
        low, high = latency
        if not 0 <= low <= high:
            raise ValueError(f"latency (min, max) must have 0 <= min <= max, got {latency!r}")
        return (float(low), float(high))
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not latency >= 0:
        raise ValueError(f"latency must be seconds >= 0 or a (min, max) pair, got {latency!r}")
    return float(latency)


def _host_without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _html_page(status: int) -> bytes:
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


class _InProcessTransport(httpx.ASGITransport):
    """`httpx.ASGITransport` that reports a dropped connection as a client on the wire would."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


class FakeServerAPI:
    """An emulator of the Server API endpoint `GET /visitors/:id`, in-process or on loopback.

    It stores visits per visitor and answers as the API does: scan `limit` events newest
    first from the cursor, filter them, and send `lastTimestamp`/`paginationKey` when more
    events remain. Any host is served, so a `Session` for any region works against it.

    Args:
        api_key: The secret key requests must present (`Auth-Token` header or `token`
            query parameter).
        region: When set (`"us"`, `"eu"`, `"ap"` or a `Region`), a request addressed to
            another region's API host answers 403 `WrongRegion`. Other hosts (loopback)
            are always served.
        error_style: `"structured"` error bodies (`{"error": {"code", "message"}}`, the
            current API) or `"plain"` ones (`{"error": "text"}`, the older API).
        send_pagination_key: Send `paginationKey` next to `lastTimestamp` (the current
            API); `False` sends `lastTimestamp` only, like the older API.
        latency: Seconds to wait before answering each request: a number, or a `(min, max)`
            pair for a uniformly random wait.
        rate_limit: Requests per second allowed (bursts up to that many); the rest answer
            429 with `Retry-After`. `None` for no limit.
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
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty str")
        if error_style not in ("plain", "structured"):
            raise ValueError(f"error_style must be 'plain' or 'structured', got {error_style!r}")
        self._api_key = api_key.encode()
        self.region: Region | None = None if region is None else _parse_region(region)
        self.error_style: ErrorStyle = error_style
        self.send_pagination_key = send_pagination_key
        self._latency = _check_latency(latency)
        self._latency_rng = random.Random(0)
        self._bucket = None if rate_limit is None else TokenBucket(rate_limit)
        self._burst_until = 0.0
        self._burst_retry_after: int | None = None
        self._store = VisitStore()
        self._rules: list[FaultRule] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self.requests: list[RecordedRequest] = []

    def __repr__(self) -> str:
        region = None if self.region is None else self.region.value
        return (
            f"FakeServerAPI(visitors={len(self._store.visitor_ids())}, region={region!r}, "
            f"error_style={self.error_style!r})"
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
        """Requests per second allowed, or `None`; setting it starts a full bucket."""
        return None if self._bucket is None else self._bucket.rate

    @rate_limit.setter
    def rate_limit(self, rate: float | None) -> None:
        self._bucket = None if rate is None else TokenBucket(rate)

    # --- data -------------------------------------------------------------------------

    def add_visits(self, visitor_id: str, visits: Iterable[Mapping[str, Any] | Visit]) -> None:
        """Store visits of a visitor, in any order.

        Args:
            visitor_id: The visitor they belong to.
            visits: API-shaped visit objects (as in the `visits` array of a response) or
                `Visit` models. Each needs a `requestId` unique for the visitor and a
                `timestamp`.

        Raises:
            ValueError: A visit does not have the API's shape, or repeats a `requestId`.
        """
        if not isinstance(visitor_id, str) or not visitor_id:
            raise ValueError("visitor_id must be a non-empty str")
        raws: list[Mapping[str, Any]] = []
        for position, visit in enumerate(visits):
            if isinstance(visit, Visit):
                raws.append(converter.unstructure(visit))
                continue
            try:
                # The converter checks the shape now rather than when the visit is served.
                converter.structure(visit, Visit)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise ValueError(f"visit {position} of {visitor_id!r}: {detail}") from None
            raws.append(dict(visit))
        self._store.add(visitor_id, raws)

    def populate(
        self,
        visitors: int = 100,
        visits_per_visitor: int | tuple[int, int] = (1, 1200),
        seed: int = 0,
    ) -> list[str]:
        """Store deterministic synthetic visitors: the same seed gives the same data.

        Args:
            visitors: How many visitors to make.
            visits_per_visitor: How many visits each one has: a number, or a `(min, max)`
                range drawn from per visitor.
            seed: The seed of the data.

        Returns:
            The new visitor IDs, in the order they were made.

        Raises:
            ValueError: A count is negative, or a visitor of this seed is already stored.
        """
        low, high = (
            (visits_per_visitor, visits_per_visitor)
            if isinstance(visits_per_visitor, int)
            else visits_per_visitor
        )
        if visitors < 0 or not 0 <= low <= high:
            raise ValueError(
                "visitors must be >= 0 and visits_per_visitor a count >= 0 or a "
                f"(min, max) range with 0 <= min <= max, got {visitors!r}, {visits_per_visitor!r}"
            )
        rng = random.Random(seed)
        stored = set(self._store.visitor_ids())
        made: list[str] = []
        for _ in range(visitors):
            visitor_id = synthetic_visitor_id(rng)
            if visitor_id in stored:
                raise ValueError(f"visitor {visitor_id!r} is already stored; use another seed")
            stored.add(visitor_id)
            self._store.add(visitor_id, synthetic_history(rng, rng.randint(low, high)))
            made.append(visitor_id)
        return made

    @property
    def visitor_ids(self) -> list[str]:
        """Every stored visitor's ID, in the order they were added."""
        return self._store.visitor_ids()

    def count_visits(self, visitor_id: str | None = None) -> int:
        """How many visits are stored for a visitor, or for all when `visitor_id` is `None`."""
        if visitor_id is None:
            return self._store.count()
        return len(self._store.events(visitor_id))

    def visits_of(self, visitor_id: str) -> list[Visit]:
        """A visitor's stored visits as models, newest first (empty for an unknown visitor)."""
        return [event.model() for event in self._store.events(visitor_id)]

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
        apply to `GET /visitors/<id>` requests only, before authentication.

        Args:
            fault: What to answer.
            visitor_id: Only requests for this visitor.
            when: Only requests for which this returns true.
            times: Only this many requests; `None` for every one.

        Returns:
            The rule (its `remaining` counts down).
        """
        if times is not None and times < 0:
            raise ValueError(f"times must be >= 0 or None, got {times!r}")
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
            retry_after: The `Retry-After` to send; by default the whole seconds left.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
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
        """Forget the recorded requests and restart `max_in_flight` from now."""
        self.requests.clear()
        self.max_in_flight = self._in_flight

    # --- clients ----------------------------------------------------------------------

    @property
    def app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The emulator as an ASGI 3 application (for uvicorn or `httpx.ASGITransport`)."""
        return self._asgi

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that serves requests in-process, for `httpx.AsyncClient`.

        A connection dropped by a fault surfaces as `httpx.RemoteProtocolError`, as it
        does on the wire.
        """
        return _InProcessTransport(app=self._asgi)

    def _client(self) -> httpx.AsyncClient:
        # No proxies from the environment: nothing here goes over a network.
        return httpx.AsyncClient(transport=self.transport(), trust_env=False)

    @contextlib.asynccontextmanager
    async def session(self, **options: Any) -> AsyncIterator[Session]:
        """A `Session` wired to this emulator in-process; both are closed on exit.

        Args:
            **options: `Session` arguments. `api_key` defaults to the emulator's key; the
                region (default `"us"`) picks the host requests are addressed to.
        """
        options.setdefault("api_key", self.api_key)
        async with (
            self._client() as client,
            Session(http_client=client, **options) as session,
        ):
            yield session

    # --- the ASGI application -----------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the emulator serves HTTP only, not {scope['type']!r}")
        request, key, route_error = self._receive(scope)
        self.requests.append(request)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            fault = self._pick_fault(request) if route_error is None else None
            delay = self._sample_latency() + (0.0 if fault is None else fault.delay)
            if delay > 0:
                await anyio.sleep(delay)
            response = route_error or self._answer(request, key, fault)
            if fault is not None and fault.kind == "drop" and response.status == 200:
                await _send_then_drop(send, response)
            else:
                if fault is not None and fault.kind == "truncate" and response.status == 200:
                    response = attrs.evolve(response, body=response.body[: len(response.body) // 2])
                await _send(send, response)
        finally:
            self._in_flight -= 1

    def _receive(self, scope: Scope) -> tuple[RecordedRequest, str | None, _Response | None]:
        """The request as recorded, the key it presents, and a routing error if any."""
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        params: dict[str, str] = {}
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True):
            params.setdefault(name, value)
        header_key = headers.pop("auth-token", None)
        query_key = params.pop("token", None)
        auth: Literal["header", "query"] | None = None
        if header_key:
            auth = "header"
        elif query_key:
            auth = "query"
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw_path.split(b"?", 1)[0]
        visitor_id, route_error = self._route(scope["method"], raw_path)
        request = RecordedRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1"),
            visitor_id=visitor_id,
            params=params,
            headers=headers,
            host=_host_without_port(headers.get("host", "")),
            auth=auth,
        )
        return request, header_key or query_key, route_error

    def _route(self, method: str, raw_path: bytes) -> tuple[str | None, _Response | None]:
        """The visitor ID of `/visitors/<id>` (one percent-encoded segment), or the error."""
        if not raw_path.startswith(_VISITORS_PREFIX):
            return None, self._error(404, "NotFound", "not found")
        segment = raw_path[len(_VISITORS_PREFIX) :]
        if b"/" in segment:
            return None, self._error(404, "NotFound", "not found")
        try:
            visitor_id = unquote(segment.decode("ascii"), errors="strict")
        except UnicodeError:
            return None, self._error(400, "RequestCannotBeParsed", "invalid visitor id")
        if not visitor_id:
            return None, self._error(400, "RequestCannotBeParsed", "visitor id is required")
        if method != "GET":
            error = self._error(405, *_USUAL_ERRORS[405])
            return visitor_id, attrs.evolve(error, headers=(("allow", "GET"),))
        return visitor_id, None

    def _pick_fault(self, request: RecordedRequest) -> Fault | None:
        for rule in self._rules:
            if rule.take(request):
                return rule.fault
        now = time.monotonic()
        if now < self._burst_until:
            wait = self._burst_retry_after or max(1, int(self._burst_until - now + 0.999))
            return Fault.error(429, retry_after=wait)
        if self._bucket is not None:
            refill_wait = self._bucket.take()
            if refill_wait is not None:
                return Fault.error(429, retry_after=refill_wait)
        return None

    def _sample_latency(self) -> float:
        latency = self._latency
        if latency is None:
            return 0.0
        if isinstance(latency, tuple):
            return self._latency_rng.uniform(*latency)
        return latency

    def _answer(self, request: RecordedRequest, key: str | None, fault: Fault | None) -> _Response:
        if fault is not None and fault.kind == "error":
            return self._fault_response(fault)
        if not key:
            return self._error(403, "TokenRequired", "secret key is required")
        if not secrets.compare_digest(key.encode(), self._api_key):
            return self._error(403, "TokenNotFound", "secret key is not found")
        if self.region is not None and _HOST_REGIONS.get(request.host, self.region) != self.region:
            return self._error(403, "WrongRegion", "wrong region")
        query = self._parse_query(request.params)
        if isinstance(query, _Response):
            return query
        assert request.visitor_id is not None  # routed requests only
        return self._visits(request.visitor_id, query)

    def _parse_query(self, params: Mapping[str, str]) -> _Query | _Response:
        limit = DEFAULT_LIMIT
        if "limit" in params:
            text = params["limit"]
            if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
                return self._error(400, "RequestCannotBeParsed", "invalid limit")
            limit = int(text)
        before = None
        if "before" in params:
            text = params["before"]
            if not _DIGITS.fullmatch(text) or int(text) < 0:
                return self._error(400, "RequestCannotBeParsed", "invalid before")
            before = int(text)
        return _Query(
            limit=limit,
            before=before,
            pagination_key=params.get("paginationKey") or None,
            request_id=params.get("request_id") or None,
            linked_id=params.get("linked_id") or None,
        )

    def _visits(self, visitor_id: str, query: _Query) -> _Response:
        try:
            scan = self._store.scan(
                visitor_id,
                limit=query.limit,
                before=query.before,
                pagination_key=query.pagination_key,
                request_id=query.request_id,
                linked_id=query.linked_id,
            )
        except UnknownPaginationKey:
            return self._error(400, "RequestCannotBeParsed", "invalid pagination key")
        parts = [
            b'{"visitorId":',
            dumps(visitor_id),
            b',"visits":[',
            b",".join([event.encoded() for event in scan.visits]),
            b"]",
        ]
        last = scan.last_scanned
        if last is not None:
            parts.append(b',"lastTimestamp":%d' % last.timestamp)
            if self.send_pagination_key:
                parts += [b',"paginationKey":', dumps(last.request_id)]
        parts.append(b"}")
        return _Response(200, b"".join(parts))

    def _fault_response(self, fault: Fault) -> _Response:
        headers = () if fault.retry_after is None else (("retry-after", str(fault.retry_after)),)
        if fault.body == "html":
            return _Response(fault.status, _html_page(fault.status), "text/html", headers)
        usual_code, usual_message = _USUAL_ERRORS.get(
            fault.status, ("Failed", HTTPStatus(fault.status).phrase.lower())
        )
        error = self._error(fault.status, fault.code or usual_code, fault.message or usual_message)
        return attrs.evolve(error, headers=headers)

    def _error(self, status: int, code: str, message: str) -> _Response:
        error: Any
        if self.error_style == "structured":
            error = {"code": code, "message": message}
        else:
            error = _PLAIN_403 if status == 403 else message
        return _Response(status, dumps({"error": error}))


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _start_message(response: _Response) -> Message:
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
    ]
    headers += [(name.encode(), value.encode()) for name, value in response.headers]
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def _send(send: Send, response: _Response) -> None:
    await send(_start_message(response))
    await send({"type": "http.response.body", "body": response.body})


async def _send_then_drop(send: Send, response: _Response) -> None:
    await send(_start_message(response))
    half = response.body[: len(response.body) // 2]
    await send({"type": "http.response.body", "body": half, "more_body": True})
    raise ConnectionDropped("the connection was dropped by a fault")
