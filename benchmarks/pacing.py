"""Pacing against the API's rate limit: adaptive, fixed 5/s, a 5/s bucket, and none.

Ten tasks share one `Session` and send `get_visits` back to back for `--seconds` seconds
against a server limited as the Fingerprint Server API is by default: a token bucket of 5
requests per second holding 15, answering 429 without `Retry-After` (as v4 does) when it
is empty. Each answer takes `--latency-ms`. The session runs with:

- no `rate_limit`: the adaptive pacer, which has to find the limit from the 429s;
- `rate_limit=5.0`: evenly spaced at the server's rate;
- `rate_limit=RateLimit(5, burst=15)`: the server's own bucket;
- a limit far above the server's (`RateLimit(1e6)`), which is no pacing at all: every
  request goes as soon as a task is free, and 429s are retried by the retry policy.

The run is in virtual time (trio's `MockClock` jumps to the next deadline whenever every
task waits), so minutes of traffic take a second or two and the figures are the same on
every machine. The server is an httpx `MockTransport`: the figures are the session's
pacing, not a network's.

    python benchmarks/pacing.py [--seconds 300] [--latency-ms 30] [--tasks 10]
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import trio
import trio.testing

import fpjs_async
from fpjs_async import _retry

RATE, BURST = 5.0, 15
API_KEY = "benchmark-key"
PAGE = {"visitorId": "v", "visits": []}
TOO_MANY = {"error": {"code": "TooManyRequests", "message": "too many requests"}}


class BucketServer:
    """`GET /visitors/:id` under a token bucket of `RATE` per second holding `BURST`."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.tokens = float(BURST)
        self.updated = trio.current_time()
        self.refused = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self.latency)
        now = trio.current_time()
        self.tokens = min(BURST, self.tokens + (now - self.updated) * RATE)
        self.updated = now
        if self.tokens < 1:
            self.refused += 1
            return httpx.Response(429, json=TOO_MANY)
        self.tokens -= 1
        return httpx.Response(200, json=PAGE)


async def run(rate_limit: Any, *, seconds: float, latency: float, tasks: int) -> dict[str, Any]:
    """Figures of one session sending for `seconds` (virtual) with `rate_limit`."""
    server = BucketServer(latency)
    succeeded = failed = 0
    start = trio.current_time()
    end = start + seconds
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as client,
        fpjs_async.Session(
            API_KEY, http_client=client, max_concurrency=tasks, rate_limit=rate_limit
        ) as session,
    ):

        async def sender() -> None:
            nonlocal succeeded, failed
            while trio.current_time() < end:
                try:
                    await session.get_visits("v")
                except fpjs_async.RateLimitError:
                    failed += 1
                else:
                    succeeded += 1

        async with anyio.create_task_group() as group:
            for _ in range(tasks):
                group.start_soon(sender)
        stats = session.stats
        pace = session.rate_limit
    elapsed = trio.current_time() - start  # requests begun before the end finish after it
    return {
        "requests": stats.requests,
        "succeeded": succeeded,
        "rate_limited": stats.rate_limited,
        "failed": failed,
        "throughput": succeeded / elapsed,
        "share_429": stats.rate_limited / stats.requests,
        "pace": pace,
    }


CONTENDERS: list[tuple[str, Callable[[], Any]]] = [
    ("adaptive (`rate_limit=None`)", lambda: None),
    ("fixed (`rate_limit=5.0`)", lambda: 5.0),
    ("bucket (`RateLimit(5, burst=15)`)", lambda: fpjs_async.RateLimit(RATE, burst=BURST)),
    ("unpaced (`RateLimit(1e6)`)", lambda: fpjs_async.RateLimit(1e6)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="default: %(default)s")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="default: %(default)s")
    parser.add_argument("--tasks", type=int, default=10, help="default: %(default)s")
    args = parser.parse_args()
    # The session's clock is the virtual one: its waits and its measures agree.
    _retry.clock = trio.current_time
    print(
        f"{args.tasks} tasks, {args.seconds:g} s, {args.latency_ms:g} ms per answer; the server "
        f"allows {RATE:g}/s with bursts of {BURST} (at most {RATE + BURST / args.seconds:.2f}/s "
        "over the run)\n"
    )
    print("| pacing | requests | succeeded/s | 429s | 429 share | failed | pace at the end |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rate_limit in CONTENDERS:
        one_run = functools.partial(
            run,
            rate_limit(),
            seconds=args.seconds,
            latency=args.latency_ms / 1000,
            tasks=args.tasks,
        )
        figures = trio.run(one_run, clock=trio.testing.MockClock(autojump_threshold=0))
        pace = "none" if figures["pace"] is None else f"{figures['pace']:.3g}/s"
        print(
            f"| {name} | {figures['requests']} | {figures['throughput']:.2f} "
            f"| {figures['rate_limited']} | {figures['share_429']:.1%} | {figures['failed']} "
            f"| {pace} |"
        )


if __name__ == "__main__":
    main()
