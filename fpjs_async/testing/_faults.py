"""Fault injection: what the emulator answers instead of the normal response, and when."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from fpjs_async.testing._fake import RecordedRequest

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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"Fault.{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen
class Fault:
    """What to answer instead of the normal response. Make one with a class method.

    Attributes:
        kind: `"error"` (an error status), `"truncate"` (the normal 200 response with its
            JSON body cut short), `"drop"` (the connection closes mid-response) or `"slow"`
            (the normal response after `delay`).
        status: The error status (kind `"error"`).
        body: `"json"` (the emulator's error body style) or `"html"` (a proxy's error page).
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
            code: The JSON error code (default: the usual one, e.g. `VisitorNotFound` for 404).
            message: The JSON error message (default: the usual one for the status).
            retry_after: Seconds for a `Retry-After` header.
            delay: Seconds to wait before answering.

        Raises:
            ValueError: `status` is not an error status or `body` is unknown.
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status!r}")
        if body not in ("json", "html"):
            raise ValueError(f"body must be 'json' or 'html', got {body!r}")
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
        visitor_id: Only requests for this visitor, or any visitor when `None`.
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
    """A rate limit of `rate` requests per second, allowing bursts of up to `rate` requests."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise ValueError(
                f"rate_limit must be a number of requests per second > 0, got {rate!r}"
            )
        self.rate = float(rate)
        self._capacity = max(1.0, self.rate)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()

    def take(self) -> int | None:
        """`None` when a request may pass, else the whole seconds to wait (`Retry-After`)."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / self.rate))
