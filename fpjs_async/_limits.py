"""Client-side pacing shared by every request of a session: fixed, bucketed or adaptive."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import anyio

from fpjs_async import _retry, _validate

if TYPE_CHECKING:
    from fpjs_async._redis_limit import RedisRateLimit

__all__ = [
    "AdaptivePacer",
    "FixedRate",
    "Pacer",
    "RateLimit",
    "check_bucket",
    "check_rate",
    "make_pacer",
]


class Pacer(Protocol):
    """What a session asks of its rate limit: when to send, and what came back."""

    async def wait(self) -> None:
        """Return when the next attempt may be sent (called inside the concurrency slot)."""
        ...

    def on_success(self) -> None:
        """An answer that is not a 429 came back."""
        ...

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429 came back, with its `Retry-After` in seconds (`None`: the server sent none)."""
        ...

    @property
    def pace(self) -> float | None:
        """The requests per second the session is held to now (`None`: no limit)."""
        ...


def check_rate(rate: object) -> float | None:
    """Refuse a `rate_limit` that is not a finite number of requests per second above 0."""
    if rate is None:
        return None
    if not _validate.is_number(rate):
        raise TypeError(
            "rate_limit must be requests per second (a number, a RateLimit or a "
            f"RedisRateLimit), got {type(rate).__name__}"
        )
    return _validate.number("rate_limit", rate, above=0)


def check_bucket(rate: object, burst: object) -> tuple[float, int]:
    """The `(rate, burst)` of a token bucket: a finite rate > 0, a burst >= 1 (`None`: 1)."""
    return (
        _validate.number("rate", rate, above=0),
        1 if burst is None else _validate.count("burst", burst),
    )


# The spacing of requests now: (interval, tolerance) in seconds, or `None` for no limit.
_Spacing = Callable[[], tuple[float, float] | None]


class _Queue:
    """Send times handed out one request at a time, in arrival order.

    GCRA's virtual scheduling: the bucket is full again one `interval` after the
    theoretical time of the last send (`_last`), a request is due `tolerance` before that,
    and its own theoretical time is then the later of that moment and now. The interval is
    read when the next request comes, so a change of pace applies from the very next send.
    Only the request at the head of the queue sleeps, holding a fair (first in, first out)
    lock; the others wait for the lock in arrival order. So a request cancelled while it
    waits gives its time back: nobody after it has taken one yet.
    """

    __slots__ = ("_last", "_lock")

    def __init__(self) -> None:
        # fast_acquire: a free lock is taken without first yielding to the event loop.
        self._lock = anyio.Lock(fast_acquire=True)
        self._last = -math.inf

    async def wait(self, spacing: _Spacing) -> None:
        """Return when the next request may be sent under `spacing()`."""
        async with self._lock:
            before = self._last
            delay = self._reserve(spacing)
            if delay > 0:
                try:
                    await _retry.sleep(delay)
                except BaseException:
                    self._last = before
                    raise

    def _reserve(self, spacing: _Spacing) -> float:
        """Take the next send time; the seconds until it (<= 0: now)."""
        if (spaced := spacing()) is None:
            return 0.0
        interval, tolerance = spaced
        now = _retry.clock()
        self._last = max(self._last + interval, now)
        return self._last - tolerance - now


class FixedRate:
    """What a limit of a fixed rate and burst tells a session: `RateLimit`, `RedisRateLimit`.

    Its pace is its rate, whatever comes back: a 429 is for retries and `Retry-After` to
    handle, not a reason to change the limit chosen.

    Raises:
        TypeError: `rate` is not a number or `burst` not an int.
        ValueError: `rate` is not finite and > 0, or `burst` is below 1.
    """

    __slots__ = ("_burst", "_rate")

    def __init__(self, rate: float, burst: int | None) -> None:
        self._rate, self._burst = check_bucket(rate, burst)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self._rate

    @property
    def burst(self) -> int:
        """The most requests sent at once after a quiet spell."""
        return self._burst

    @property
    def pace(self) -> float:
        """The requests per second the session is held to: always `rate`."""
        return self._rate

    def on_success(self) -> None:
        """Nothing to learn: the limit is fixed."""

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Nothing to learn: the limit is fixed (retries and `Retry-After` handle the 429)."""


class RateLimit(FixedRate):
    """A token bucket: at most `rate` requests per second, bursts of up to `burst`.

    The bucket holds `burst` requests and refills by `rate` per second. With the default
    `burst=None` it holds one, so requests are spaced evenly, one every `1 / rate` seconds.
    Requests waiting for the bucket to refill are served first come, first served, and a
    request cancelled while it waits gives its place back.

    One `RateLimit` given to several sessions of an event loop limits them together. It
    works under asyncio and trio. A 429 does not change it: it is the limit you chose.

    Args:
        rate: Requests per second, a finite number > 0.
        burst: How many requests may go at once after a quiet spell, an int >= 1
            (`None`: 1). The Fingerprint Server API's own bucket holds 3 seconds' worth:
            `RateLimit(5, burst=15)` for the default 5 requests per second.

    Raises:
        TypeError: `rate` is not a number or `burst` not an int.
        ValueError: `rate` is not finite and > 0, or `burst` is below 1.
    """

    __slots__ = ("_queue",)

    def __init__(self, rate: float, *, burst: int | None = None) -> None:
        super().__init__(rate, burst)
        self._queue = _Queue()

    def __repr__(self) -> str:
        return f"RateLimit(rate={self.rate:g}, burst={self._burst})"

    async def wait(self) -> None:
        """Return when this request may be sent (at once when the bucket has room)."""
        await self._queue.wait(self._spacing)

    def _spacing(self) -> tuple[float, float]:
        interval = 1.0 / self._rate
        return interval, (self._burst - 1) * interval


# The constants of AdaptivePacer; its docstring says why these values.
_WINDOW = 10.0
_MIN_SPAN = 3.0
_MIN_CEILING = 1.0
_DECREASE = 0.8
_HOLD = 3.0
_APPROACH = 2.0
_PROBE = 60.0
_ESCAPE = 20.0
# Successes are counted per tick of this many seconds, not remembered one by one: a session
# that sends thousands of requests a second keeps at most _WINDOW / _TICK counts.
_TICK = 0.05


class _RecentSuccesses:
    """How many requests succeeded in the last `_WINDOW` seconds, and since when.

    Counted per `_TICK`: each entry is `[time of its first success, count]`.
    """

    __slots__ = ("_ticks", "_total")

    def __init__(self) -> None:
        self._ticks: deque[list[float]] = deque()
        self._total = 0

    def add(self, now: float) -> None:
        """Count a success at `now` (a time of `_retry.clock()`)."""
        last = self._ticks[-1] if self._ticks else None
        if last is not None and now - last[0] < _TICK:
            last[1] += 1
        else:
            self._ticks.append([now, 1])
        self._total += 1
        self.forget_before(now - _WINDOW)

    def forget_before(self, moment: float) -> None:
        """Drop the counts of ticks that began before `moment`."""
        while self._ticks and self._ticks[0][0] < moment:
            self._total -= int(self._ticks.popleft()[1])

    def rate(self, now: float, *, min_span: float) -> float:
        """Successes per second over the time they span, but over no less than `min_span`."""
        self.forget_before(now - _WINDOW)
        span = now - self._ticks[0][0] if self._ticks else 0.0
        return self._total / max(span, min_span)


_RELEASE = 2.0


class AdaptivePacer:
    """The pacing of a session without a `rate_limit`: none until the server says otherwise.

    Requests go out unpaced until a 429 without `Retry-After` comes back (the v4 API sends
    none: a client must find its pace). From then on the pacer holds the whole session,
    every task, to an evenly spaced pace a little below the rate the server was seen to
    accept, and raises it while requests succeed. It is AIMD with a memory of the last
    limit met, as TCP CUBIC remembers its last window; the constants suit a token-bucket
    server such as the Fingerprint Server API (5 per second, a burst of 3 seconds' worth):

    - The accepted rate `c` is measured on the 429: the successes of the last 10 s over
      the time they span, but over no less than 3 s. A fresh session meets its first 429
      when it has spent the server's burst, which is 3 s of the rate; after 10 s of
      steady use the measure includes at most the bucket's 3 s of excess, a few percent.
      With (almost) no success to measure, `c` is taken as 1 per second, a fifth of the
      API's default rate; 429s that go on lower the pace below it.
    - Decrease: the pace becomes 0.8 c. Below the server's rate its bucket refills, and
      pays for the next excursion above the rate; 0.8 is shallow enough that the bucket
      never fills up and wastes refills (about 2 s' worth come back while the pace
      recovers), so in the long run the session gets the server's full rate. Further 429s
      in the next 3 s come from requests already in flight and keep the pace at or below
      0.8 c; one after that means the pace is still too high and lowers it by 0.8 again.
    - Increase, on each success: towards `c` with a 2 s time constant, giving back the
      decrease quickly; above `c`, by c/60 per second (probing slowly, so that a 429
      comes about every 10 s at the server's limit) plus a twentieth of the excess per
      second (so a limit that was raised, or budget that other clients of the key no
      longer use, is found within half a minute). Growth comes from successes only: an
      idle session does not climb.
    - Release: a pace of 2 c without a 429 means the limit is gone (a bucket of 3 s of
      its rate would have refused the session well before), and pacing stops until the
      next 429.

    A 429 with `Retry-After` is waited out by the session's cooldown: it says when to
    resume, not how fast, and the pacer leaves it alone.
    """

    __slots__ = ("_ceiling", "_decreased", "_pace", "_queue", "_successes")

    def __init__(self) -> None:
        self._pace: float | None = None
        self._ceiling = 0.0  # `c`: the accepted rate measured on the last 429
        self._decreased = -math.inf  # when the pace was last lowered
        self._successes = _RecentSuccesses()
        self._queue = _Queue()

    def __repr__(self) -> str:
        pace = "unpaced" if self._pace is None else f"{self._pace:.3g}/s"
        return f"AdaptivePacer({pace})"

    @property
    def pace(self) -> float | None:
        """The requests per second the session is held to now (`None`: unpaced)."""
        return self._pace

    async def wait(self) -> None:
        """Return when this request may be sent: at once when unpaced, else evenly spaced."""
        if self._pace is not None:
            await self._queue.wait(self._spacing)

    def _spacing(self) -> tuple[float, float] | None:
        # Read when a request reaches the head of the queue: the pace of now, not of when
        # it arrived.
        return None if self._pace is None else (1.0 / self._pace, 0.0)

    def on_success(self) -> None:
        """Note a success, and raise the pace (see the class docstring)."""
        self._successes.add(_retry.clock())
        pace = self._pace
        if pace is None:
            return
        ceiling = self._ceiling
        if pace < ceiling:
            growth = (ceiling - pace) / _APPROACH + ceiling / _PROBE
        else:
            growth = ceiling / _PROBE + (pace - ceiling) / _ESCAPE
        # Growth is per second at full use; successes arrive at about `pace` per second.
        pace += growth / pace
        self._pace = None if pace >= _RELEASE * ceiling else pace

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Lower the pace after a 429 without `Retry-After` (see the class docstring)."""
        if retry_after is not None:
            return
        now = _retry.clock()
        ceiling = max(self._successes.rate(now, min_span=_MIN_SPAN), _MIN_CEILING)
        pace = self._pace
        if pace is None or now - self._decreased >= _HOLD:
            # A new decrease: the 429s of the next _HOLD seconds belong to it.
            self._decreased = now
            self._pace = _DECREASE * (ceiling if pace is None else min(pace, ceiling))
        else:
            self._pace = min(pace, _DECREASE * ceiling)
        self._ceiling = ceiling


def make_pacer(rate_limit: float | RateLimit | RedisRateLimit | None) -> Pacer:
    """The pacer of a session given its `rate_limit` argument.

    `None` gives an `AdaptivePacer`, a number `RateLimit(number)` (evenly spaced), and a
    `RateLimit` or `RedisRateLimit` is used as it is.

    Raises:
        TypeError: `rate_limit` is none of these.
        ValueError: `rate_limit` is a number that is not finite and > 0.
    """
    # Imported here: _redis_limit builds on this module (its fallback is a RateLimit).
    from fpjs_async._redis_limit import RedisRateLimit

    if isinstance(rate_limit, (RateLimit, RedisRateLimit)):
        return rate_limit
    rate = check_rate(rate_limit)
    return AdaptivePacer() if rate is None else RateLimit(rate)
