"""RetryPolicy: which failures are retried, how long to wait between attempts."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import anyio
import attrs

from fpjs_async import _validate

__all__ = ["RetryPolicy", "clock", "parse_retry_after", "sleep"]

#: Statuses that a later attempt may get past. 400, 403 and 404 never change on retry.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def _seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    # No upper bound: max_retry_after=math.inf waits for whatever the server asks.
    _validate.number(f"RetryPolicy.{attribute.name}", value, at_least=0, finite=False)


def _retries(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    _validate.count(f"RetryPolicy.{attribute.name}", value, low=0)


@attrs.frozen
class RetryPolicy:
    """How a failed request is retried.

    Retried: 429 (after `Retry-After` when the server sends it), 500, 502, 503, 504,
    connection errors, connect/read timeouts and responses broken on the wire. Never retried:
    400, 403, 404 and other client errors. `RetryPolicy(max_retries=0)` disables retries.

    Attributes:
        max_retries: Retries after the first attempt.
        backoff_base: The first backoff in seconds; it doubles with each retry.
        backoff_cap: The longest backoff in seconds.
        max_retry_after: The longest `Retry-After` the policy waits for. A 429 asking for a
            longer wait raises `RateLimitError` at once.
        jitter: Whether backoffs are randomised (between half and all of the nominal wait),
            so that many clients do not retry in lockstep.
    """

    max_retries: int = attrs.field(default=3, validator=_retries)
    backoff_base: float = attrs.field(default=0.5, validator=_seconds)
    backoff_cap: float = attrs.field(default=8.0, validator=_seconds)
    max_retry_after: float = attrs.field(default=60.0, validator=_seconds)
    jitter: bool = True

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        nominal = min(self.backoff_cap, self.backoff_base * 2.0**retry)
        return nominal * random.uniform(0.5, 1.0) if self.jitter else nominal

    def is_retryable_status(self, status: int) -> bool:
        """Whether a response with this status may succeed when sent again."""
        return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date.

    Returns `None` when the header is absent or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinity
        return None
    return max(0.0, seconds)


async def sleep(seconds: float) -> None:
    """The one place the library waits between attempts (tests patch it)."""
    await anyio.sleep(seconds)


def clock() -> float:
    """The monotonic clock that waits are measured on (tests patch it along with `sleep`)."""
    return time.monotonic()
