"""RedisRateLimit on a real `redis-server` on 127.0.0.1: one budget for many limiters and
processes, and what happens when Redis dies, comes back, or was never there.

Throughput is checked from counts, never from how long something took: by the limiter's
own rule, the k-th send of a budget of `rate` per second and bursts of `burst` cannot
happen before (k - burst) / rate seconds after the first request was made. A slow machine
only makes sends later, so these bounds do not flake; an upper bound would, and none is
asserted.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence

import anyio
import pytest
import redis.asyncio

from fpjs_async import _retry
from fpjs_async._redis_limit import RedisRateLimit

from . import _redis
from ._redis import RedisServer, free_port
from ._wire import Connection
from .conftest import StartServer

pytestmark = pytest.mark.anyio

redis_server = _redis.redis_server
processes = _redis.processes

#: A bound on any wait of these tests, far above what they need: a hang fails, not blocks.
HANG_GUARD = 30.0
NAME = "fpjs:test-budget"


def assert_within_budget(
    sends: Sequence[float], first_request: float, *, rate: float, burst: int
) -> None:
    """Each send is no earlier than the budget allows after `first_request` (1% and 5 ms
    of slack for the clocks of Redis and of the processes, which may tick at their own)."""
    for count, sent in enumerate(sorted(sends), start=1):
        earliest = (count - burst) / rate
        assert sent - first_request >= earliest * 0.99 - 0.005, (count, sent - first_request)


async def sends_of(limit: RedisRateLimit, count: int) -> list[float]:
    sends = []
    for _ in range(count):
        await limit.wait()
        sends.append(time.monotonic())
    return sends


# --- one budget ------------------------------------------------------------------------


async def test_limiters_with_one_name_share_one_budget(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[float] = []

    async def record(seconds: float) -> None:
        asked.append(seconds)  # the wait Redis answered; the reservation is made anyway

    monkeypatch.setattr(_retry, "sleep", record)
    shared = [RedisRateLimit(redis_server.url, rate=1, burst=5, name=NAME) for _ in range(3)]
    other = RedisRateLimit(redis_server.url, rate=1, burst=5, name="fpjs:other-budget")
    with anyio.fail_after(HANG_GUARD):
        for _ in range(5):
            for limit in shared:
                await limit.wait()
        for _ in range(5):
            await other.wait()
    for limit in [*shared, other]:
        await limit.aclose()
    # 15 requests on one budget: the burst of 5 at once, then one more each second, in the
    # order they asked; the other name's 5 were a budget of their own.
    assert asked == pytest.approx([float(n) for n in range(1, 11)], abs=0.5)


async def test_the_budget_is_kept_in_redis_and_expires_once_full(
    redis_server: RedisServer,
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    async with client, RedisRateLimit(client, rate=10, burst=2, name=NAME) as limit:
        await limit.wait()
        assert await client.exists(NAME) == 1
        ttl_ms = await client.pttl(NAME)
        assert 0 < ttl_ms <= 100  # full again one interval later: nothing is left behind


CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    import redis.asyncio
    from fpjs_async._redis_limit import RedisRateLimit

    async def main(url, name, rate, burst, count):
        client = redis.asyncio.Redis.from_url(url)
        async with client, RedisRateLimit(client, rate=rate, burst=burst, name=name) as limit:
            await client.ping()  # connected before the start, so all start together
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            go = time.monotonic()
            sends = []
            for _ in range(count):
                await limit.wait()
                sends.append(time.monotonic())
            print(json.dumps({"go": go, "sends": sends, "shared": limit.shared}), flush=True)

    url, name, rate, burst, count = sys.argv[1:]
    asyncio.run(main(url, name, float(rate), int(burst), int(count)))
    """
)


def test_processes_share_one_budget(
    redis_server: RedisServer, processes: list[subprocess.Popen[str]]
) -> None:
    rate, burst, count = 30.0, 5, 20
    arguments = [redis_server.url, NAME, str(rate), str(burst), str(count)]
    for _ in range(3):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, *arguments],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for child in processes:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
    for child in processes:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    reports = []
    for child in processes:
        out, _ = child.communicate(timeout=HANG_GUARD)
        assert child.returncode == 0
        reports.append(json.loads(out))
    assert all(report["shared"] for report in reports)
    assert [len(report["sends"]) for report in reports] == [count] * 3
    sends = [sent for report in reports for sent in report["sends"]]
    assert_within_budget(sends, min(report["go"] for report in reports), rate=rate, burst=burst)
    # They ran side by side: each process sent before the others were done.
    assert max(report["sends"][0] for report in reports) < min(
        report["sends"][-1] for report in reports
    )


# --- when Redis goes away ----------------------------------------------------------------


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "fpjs_async" and record.levelno >= logging.WARNING
    ]


async def test_redis_killed_mid_run_then_restarted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fpjs_async")
    rate, burst = 50.0, 5
    limit = RedisRateLimit(redis_server.url, rate=rate, burst=burst, name=NAME, retry_interval=0.2)
    async with limit:
        with anyio.fail_after(HANG_GUARD):
            await sends_of(limit, 5)
            assert limit.shared
            redis_server.kill()
            start = time.monotonic()
            alone = await sends_of(limit, 30)
        assert not limit.shared
        # Alone, the process keeps to the same budget by itself.
        assert_within_budget(alone, start, rate=rate, burst=burst)
        [warning] = warnings_of(caplog)
        assert NAME in warning
        assert "Redis failed" in warning
        assert "alone at 50/s" in warning

        redis_server.start()  # empty: no budget key, no script (NOSCRIPT, then loaded)
        await anyio.sleep(0.25)  # past retry_interval: the next request tries Redis
        with anyio.fail_after(HANG_GUARD):
            await limit.wait()
        assert limit.shared
        assert len(warnings_of(caplog)) == 1  # one warning for one outage
        assert any("Redis is back" in record.getMessage() for record in caplog.records)
        client = redis.asyncio.Redis.from_url(redis_server.url)
        async with client:
            assert await client.exists(NAME) == 1


async def test_unreachable_redis_at_start_does_not_hang(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with RedisRateLimit(url, rate=100, burst=3, name=NAME, retry_interval=60) as limit:
        with anyio.fail_after(HANG_GUARD):
            await sends_of(limit, 10)
        assert not limit.shared
    [warning] = warnings_of(caplog)
    assert "ConnectionError" in warning


async def silent(conn: Connection) -> None:
    await conn.hold()  # accepts the connection, reads, never answers


@pytest.mark.parametrize("own_client", [True, False], ids=["url", "client-without-timeouts"])
async def test_a_redis_that_never_answers_costs_one_timeout(
    serve: StartServer, caplog: pytest.LogCaptureFixture, own_client: bool
) -> None:
    server = serve(silent)
    port = int(server.url.rsplit(":", 1)[1])
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.asyncio.Redis.from_url(url)  # no socket timeout: the limiter bounds it
    target: str | redis.asyncio.Redis = url if own_client else client
    async with client, RedisRateLimit(target, rate=100, name=NAME, timeout=0.2) as limit:
        with anyio.fail_after(HANG_GUARD):
            await sends_of(limit, 5)
        assert not limit.shared
    [warning] = warnings_of(caplog)
    assert "TimeoutError" in warning


async def test_probes_of_redis_are_spaced_by_the_retry_interval(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr(_retry, "clock", lambda: now[0])
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with RedisRateLimit(url, rate=1e6, name=NAME, retry_interval=5) as limit:
        calls = []
        original = limit._script

        async def counted(**kwargs: object) -> object:
            calls.append(now[0])
            return await original(**kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(limit, "_script", counted)
        for _ in range(4):
            await limit.wait()
            now[0] += 2
    assert calls == [1000.0, 1006.0]  # then alone until 1005, when the next request tries
    assert len(warnings_of(caplog)) == 1


# --- clients and closing -----------------------------------------------------------------


async def test_a_given_client_is_left_open(redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    async with client:
        async with RedisRateLimit(client, rate=10, name=NAME) as limit:
            await limit.wait()
        assert await client.ping()


async def test_a_limiter_made_from_a_url_closes_its_client(redis_server: RedisServer) -> None:
    limit = RedisRateLimit(redis_server.url, rate=10, name=NAME)
    await limit.wait()
    await limit.aclose()
    await limit.aclose()  # closing twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        await limit.wait()
