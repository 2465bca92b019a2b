"""429 responses over real sockets: a long `Retry-After` fails at once, short ones are waited
out by the whole session together, and a client-side rate limit avoids them altogether."""

from __future__ import annotations

import math
import time

import anyio
import pytest

from fpjs_async import RateLimitError, RetryPolicy, Session

from ._wire import EMPTY_PAGE, WireRequest, http_response, keep_alive
from .conftest import SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("wire_transport")]

HANG_GUARD = 30.0


class QuotaAPI:
    """A server allowing `quota` requests per fixed window of `window` seconds (the window
    opens with its first request); any more get 429 with the seconds left as `Retry-After`,
    rounded up to whole seconds as real servers send them."""

    def __init__(self, *, quota: int, window: float) -> None:
        self.quota = quota
        self.window = window
        self.window_start = -math.inf
        self.used = 0
        self.refused = 0
        self.windows = 0

    async def __call__(self, request: WireRequest) -> bytes:
        now = time.monotonic()
        if now - self.window_start >= self.window:
            self.window_start, self.used = now, 0
            self.windows += 1
        if self.used < self.quota:
            self.used += 1
            return http_response(200, EMPTY_PAGE)
        self.refused += 1
        retry_after = math.ceil(self.window - (now - self.window_start))
        headers = {"Retry-After": str(retry_after)}
        return http_response(429, b'{"error": "Too many requests"}', headers=headers)


@pytest.mark.parametrize("retry_after", ["120", "Wed, 21 Oct 2099 07:28:00 GMT"])
async def test_retry_after_beyond_the_policy_cap_fails_at_once(
    serve: StartServer, retry_after: str
) -> None:
    async def refuse(request: WireRequest) -> bytes:
        return http_response(429, b'{"error": "quota"}', headers={"Retry-After": retry_after})

    server = serve(keep_alive(refuse))
    retry = RetryPolicy(max_retries=5, max_retry_after=60)
    async with Session(SECRET, base_url=server.url, retry=retry) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(RateLimitError) as caught:
            await session.get_visits("visitor")  # far sooner than the 60 s cap: not waited out
        # Nothing else is held back either: the session did not take the long wait on.
        with anyio.fail_after(HANG_GUARD), pytest.raises(RateLimitError):
            await session.get_visits("visitor")
    assert server.requests == 2
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 60


async def test_short_retry_after_under_bulk_load_costs_few_extra_requests(
    serve: StartServer,
) -> None:
    api = QuotaAPI(quota=40, window=1.0)
    server = serve(keep_alive(api))
    concurrency = 8
    visitors = [f"visitor-{n}" for n in range(100)]
    retry = RetryPolicy(max_retries=5, backoff_base=0.01)
    async with Session(
        SECRET, base_url=server.url, retry=retry, max_concurrency=concurrency
    ) as session:
        with anyio.fail_after(HANG_GUARD):
            # Three times as many visitors in progress as requests in flight: a refused request
            # that merely slept would let another one go and be refused in its turn.
            async with session.fetch_many(visitors, concurrency=3 * concurrency) as stream:
                results = [result async for result in stream]
        stats = session.stats
    assert len(results) == len(visitors)
    assert all(result.ok for result in results)
    assert stats.rate_limited == api.refused > 0
    assert server.requests == len(visitors) + api.refused
    # Once a 429 is in, the session holds every request back until Retry-After has passed:
    # only the requests already in flight meet each closed window.
    limited_windows = api.windows - 1
    assert api.refused <= concurrency * limited_windows


async def test_short_retry_after_under_concurrent_calls(serve: StartServer) -> None:
    api = QuotaAPI(quota=30, window=1.0)
    server = serve(keep_alive(api))
    concurrency = 6
    retry = RetryPolicy(max_retries=5, backoff_base=0.01)
    done = 0

    async def call(index: int) -> None:
        nonlocal done
        await session.get_visits(f"visitor-{index}")
        done += 1

    async with Session(
        SECRET, base_url=server.url, retry=retry, max_concurrency=concurrency
    ) as session:
        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as group:
                for index in range(60):
                    group.start_soon(call, index)
    assert done == 60
    assert 0 < api.refused <= concurrency * (api.windows - 1)


async def test_client_side_rate_limit_keeps_a_bulk_fetch_under_the_quota(
    serve: StartServer,
) -> None:
    # 40 requests a second, evenly spaced: at most 20 in any half-second window of 25.
    api = QuotaAPI(quota=25, window=0.5)
    server = serve(keep_alive(api))
    visitors = [f"visitor-{n}" for n in range(50)]
    async with Session(SECRET, base_url=server.url, rate_limit=40) as session:
        with anyio.fail_after(HANG_GUARD):
            async with session.fetch_many(visitors, concurrency=10) as stream:
                results = [result async for result in stream]
    assert all(result.ok for result in results)
    assert api.refused == 0
    assert server.requests == len(visitors)
