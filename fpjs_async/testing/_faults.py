"""Fault injection: what the emulator answers instead of the normal response, and when."""

from __future__ import annotations

import math
import time
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import attrs

from fpjs_async import _validate

if TYPE_CHECKING:
    from fpjs_async.testing._requests import RecordedRequest

__all__ = ["ConnectionDropped", "Fault", "FaultKind", "FaultRule", "TokenBucket"]

FaultKind = Literal["error", "truncate", "drop", "slow"]
BodyKind = Literal["json", "html"]


class ConnectionDropped(Exception):
    """Raised by the emulator's ASGI app to drop the connection mid-response.

    Under a server (uvicorn) the client sees the connection close before the body is
    complete; `FakeServerAPI.transport()` turns it into `httpx.RemoteProtocolError`, which is
    what a client sees on the wire.
    """


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    _validate.number(f"Fault.{attribute.name}", value, at_least=0, finite=False)


@attrs.frozen
class Fault:
    """What to answer instead of the normal response. Make one with a class method.

    Attributes:
        kind: `"error"` (an error status), `"truncate"` (the normal 200 response with its
            JSON body cut short), `"drop"` (the connection closes mid-response) or `"slow"`
            (the normal response after `delay`).
        status: The error status (kind `"error"`).
        body: `"json"` (the API's error body: the emulator's v3 style, or v4's) or `"html"`
            (a proxy's error page).
        code: The error code of a JSON body; `None` for the status's usual code.
        message: The error message of a JSON body; `None` for the status's usual message.
        retry_after: Seconds sent in a `Retry-After` header, if any.
        delay: Seconds to wait before answering, on top of the emulator's latency.
    """

    kind: FaultKind
    status: int = 200
    body: BodyKind = "json"
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    delay: float = attrs.field(default=0.0, validator=_non_negative)

    @classmethod
    def error(
        cls,
        status: int,
        *,
        body: BodyKind = "json",
        code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Answer with an error status.

        Args:
            status: An HTTP status from 400 to 599.
            body: `"json"` or `"html"`.
            code: The JSON error code (default: the usual one of the route, e.g.
                `VisitorNotFound` for a v3 404, `event_not_found` for `GET /v4/events/<id>`).
            message: The JSON error message (default: the usual one for the status).
            retry_after: Seconds for a `Retry-After` header.
            delay: Seconds to wait before answering.

        Raises:
            TypeError: `status` is not an int or `body` not a str.
            ValueError: `status` is not an error status or `body` is unknown.
        """
        _validate.count("status", status, low=400, high=599)
        _validate.choice("body", body, typing.get_args(BodyKind))
        return cls("error", status, body, code, message, retry_after, delay)

    @classmethod
    def truncated(cls, *, delay: float = 0.0) -> Fault:
        """Answer 200 with the normal JSON body cut in half (a complete HTTP message)."""
        return cls("truncate", delay=delay)

    @classmethod
    def dropped(cls, *, delay: float = 0.0) -> Fault:
        """Start the normal response, then drop the connection before the body is complete."""
        return cls("drop", delay=delay)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally after `seconds` (for timeouts and concurrency tests)."""
        return cls("slow", delay=seconds)


@attrs.define(eq=False)
class FaultRule:
    """A fault and the requests it applies to (see `FakeServerAPI.add_fault`).

    Attributes:
        fault: What to answer.
        visitor_id: Only requests about this visitor (`RecordedRequest.visitor_id`), or any
            request when `None`.
        when: Only requests for which this returns true, or all when `None`.
        remaining: How many more requests it applies to; `None` for every one.
    """

    fault: Fault
    visitor_id: str | None = None
    when: Callable[[RecordedRequest], bool] | None = None
    remaining: int | None = None

    def take(self, request: RecordedRequest) -> bool:
        """Whether the rule applies to `request`; a use is counted when it does."""
        if self.remaining == 0:
            return False
        if self.visitor_id is not None and request.visitor_id != self.visitor_id:
            return False
        if self.when is not None and not self.when(request):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class TokenBucket:
    """A rate limit of `rate` requests per second, with a bucket of `burst` requests.

    The bucket starts full and refills by `rate` tokens a second; a request takes one.
    Without `burst` it holds `rate` tokens (at least one).
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = _validate.number("rate_limit", rate, above=0, finite=False)
        self.capacity = (
            max(1.0, self.rate)
            if burst is None
            else _validate.number("burst", burst, at_least=1, finite=False)
        )
        self._tokens = self.capacity
        self._clock = clock
        self._updated = clock()

    def take(self) -> int | None:
        """`None` when a request may pass, else the whole seconds to wait (`Retry-After`)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / self.rate))
