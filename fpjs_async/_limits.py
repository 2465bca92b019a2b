"""A client-side rate limit shared by every request of a session."""

from __future__ import annotations

import math

from fpjs_async import _retry

__all__ = ["RateLimit", "check_rate"]


def check_rate(rate: float | None) -> float | None:
    """Refuse a rate that is not a finite number of requests per second above 0."""
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError(f"rate_limit must be requests per second (a number), got {rate!r}")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate_limit must be a finite number > 0, got {rate!r}")
    return float(rate)


class RateLimit:
    """Spaces requests evenly: at most `rate` per second, without bursts.

    A token bucket holding one token: each request reserves the next free send time, one
    interval after the previous reservation, and sleeps until then. Reservations are taken in
    call order, so waiting requests are served first come, first served.

    Args:
        rate: Requests per second (validated by `check_rate`).
    """

    __slots__ = ("_interval", "_next_slot")

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next_slot = -math.inf

    @property
    def rate(self) -> float:
        """Requests per second."""
        return 1.0 / self._interval

    async def wait(self) -> None:
        """Return when this request may be sent (at once when the rate allows it)."""
        now = _retry.clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            await _retry.sleep(slot - now)
