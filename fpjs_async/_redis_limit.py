"""RedisRateLimit: one token bucket in Redis, shared by every process and machine using it."""

from __future__ import annotations

import asyncio
import logging
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING

import anyio

from fpjs_async import _retry, _validate
from fpjs_async._limits import FixedRate, RateLimit

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisRateLimit"]

logger = logging.getLogger("fpjs_async")

# GCRA (the generic cell rate algorithm) in one atomic step on the server, timed by the
# server's own clock (TIME), so the clocks of the machines sharing it never matter. The key
# holds the theoretical arrival time in microseconds: when the bucket would be full again.
# Each call reserves the next send time, even one in the future, and answers the
# microseconds until it: callers sleep that long, in the order they called, without asking
# again. The key expires when the bucket is full, so an idle budget leaves nothing behind.
# TIME before a write needs effects replication: the default from Redis 5 on.
_GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
    tat = now
end
local after = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000))
local wait = tat - tolerance - now
if wait < 0 then
    wait = 0
end
return wait
"""

_URL_SCHEMES = ("redis://", "rediss://", "unix://")


def _import_redis() -> ModuleType:
    try:
        import redis.asyncio
    except ImportError as exc:
        raise ImportError(
            "RedisRateLimit needs the redis package: pip install 'fpjs-async[redis]'"
        ) from exc
    return redis.asyncio


class RedisRateLimit(FixedRate):
    """A token bucket kept in Redis: one budget for every process that uses `name`.

    Every `RedisRateLimit` with the same Redis and `name`, in any process on any machine,
    draws on one bucket of `burst` requests refilled by `rate` per second, as
    `RateLimit(rate, burst=burst)` does within one process. Give them all the same `rate`
    and `burst`. A request reserves its send time with one atomic script on the server
    (`EVALSHA`, loading the script again when Redis has forgotten it), timed by Redis's
    clock, then sleeps until that time: no polling, first come first served across
    processes. A request cancelled while it sleeps keeps its reservation (the time goes
    unused).

    When Redis cannot be reached, or answers an error, or takes longer than `timeout`, the
    limiter logs one warning (logger `fpjs_async`) and paces this process alone with a
    local `RateLimit(rate, burst=burst)`; each process then keeps to the whole budget by
    itself, so together they may exceed it until Redis is back. It tries Redis again
    every `retry_interval` seconds, and logs (at INFO) when the budget is shared again.
    No request ever waits on Redis for much longer than `timeout`.

    It runs on asyncio only (it uses `redis.asyncio`): under trio, `wait()` raises
    `RuntimeError`. Use it in one event loop.

    Args:
        url_or_client: A `redis://`, `rediss://` or `unix://` URL, for a client that the
            limiter owns and `aclose()` closes; or a `redis.asyncio.Redis`, which it uses
            but never closes.
        rate: Requests per second for all users of `name` together, a finite number > 0.
        burst: How many requests may go at once after a quiet spell, an int >= 1
            (`None`: 1, evenly spaced).
        name: The Redis key that holds the budget, e.g. `"fpjs:my-app"`.
        timeout: The longest a call to Redis may take, in seconds, reconnecting included.
        retry_interval: Seconds between attempts to reach Redis again after a failure.

    Raises:
        ImportError: The `redis` extra is not installed.
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range, or the URL is not a Redis URL.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        *,
        rate: float,
        burst: int | None = None,
        name: str,
        timeout: float = 0.5,
        retry_interval: float = 5.0,
    ) -> None:
        redis_asyncio = _import_redis()
        super().__init__(rate, burst)
        self._name = _validate.text("name", name)
        self._timeout = _validate.number("timeout", timeout, above=0)
        self._retry_interval = _validate.number("retry_interval", retry_interval, above=0)
        self._client: Redis
        if isinstance(url_or_client, str):
            if not url_or_client.startswith(_URL_SCHEMES):
                raise ValueError("url_or_client must be a redis://, rediss:// or unix:// URL")
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = redis_asyncio.Redis.from_url(
                url_or_client,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                # One reconnection at once: after a Redis restart, pooled connections fail.
                retry=Retry(NoBackoff(), 1),
            )
            self._owns_client = True
        elif isinstance(url_or_client, redis_asyncio.Redis):
            self._client = url_or_client
            self._owns_client = False
        else:
            raise TypeError(
                "url_or_client must be a Redis URL (str) or a redis.asyncio.Redis, "
                f"got {type(url_or_client).__name__}"
            )
        self._script: AsyncScript = self._client.register_script(_GCRA)
        interval = max(1, round(1e6 / self._rate))  # microseconds
        self._args = (interval, (self._burst - 1) * interval)
        self._errors: tuple[type[BaseException], ...] = (
            redis_asyncio.RedisError,
            OSError,
            TimeoutError,
        )
        self._fallback = RateLimit(self._rate, burst=self._burst)
        self._retry_at: float | None = None  # while Redis is away: when to try it again
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisRateLimit(name={self._name!r}, rate={self._rate:g}, burst={self._burst})"

    @property
    def name(self) -> str:
        """The Redis key that holds the budget."""
        return self._name

    @property
    def shared(self) -> bool:
        """Whether Redis answered last time (`False`: pacing this process alone)."""
        return self._retry_at is None

    async def wait(self) -> None:
        """Return when this request may be sent under the shared budget.

        Raises:
            RuntimeError: Not running on asyncio, or the limiter is closed.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "RedisRateLimit runs on asyncio only (redis.asyncio); under trio, use RateLimit"
            ) from None
        if self._closed:
            raise RuntimeError("this RedisRateLimit is closed")
        if self._retry_at is not None:
            now = _retry.clock()
            if now < self._retry_at:
                await self._fallback.wait()
                return
            # This request tries Redis; the others go on alone until it has an answer.
            self._retry_at = now + self._retry_interval
        try:
            with anyio.fail_after(self._timeout):
                wait_us = await self._script(keys=[self._name], args=self._args)
        except self._errors as exc:
            self._redis_away(exc)
            await self._fallback.wait()
            return
        if self._retry_at is not None:
            self._retry_at = None
            logger.info(
                "shared rate limit %r: Redis is back, the budget is shared again", self._name
            )
        if wait_us > 0:
            await _retry.sleep(wait_us / 1e6)

    def _redis_away(self, exc: BaseException) -> None:
        if self._retry_at is None:
            logger.warning(
                "shared rate limit %r: Redis failed (%s: %s); pacing this process alone at "
                "%g/s, trying Redis again every %gs",
                self._name,
                type(exc).__name__,
                exc,
                self._rate,
                self._retry_interval,
            )
        self._retry_at = _retry.clock() + self._retry_interval

    async def aclose(self) -> None:
        """Close the Redis client if the limiter made it (from a URL); a given one stays open."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisRateLimit:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
