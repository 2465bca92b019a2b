"""AdaptivePacer: a session without `rate_limit` finds the server's limit from its 429s.

The controller's steps are checked on a clock moved by hand; its effect on tasks running
together, and its convergence against a token-bucket server (the Fingerprint Server API's
5 per second with a burst of 15, answering 429 without `Retry-After` as v4 does), run on
trio's `MockClock`: virtual time that jumps to the next deadline, deterministic and instant.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import attrs
import httpx
import pytest
import trio
from _bodies import API_KEY, history
from _clocks import ManualClock, on_virtual_time

from fpjs_async import RetryPolicy, Session
from fpjs_async._limits import AdaptivePacer, Pacer, RateLimit

pytestmark = pytest.mark.anyio

#: The Fingerprint Server API's default limit: 5 per second, a bucket of 3 s of it.
RATE, BURST = 5.0, 15


def succeed(pacer: AdaptivePacer, clock: ManualClock, count: int, every: float) -> None:
    """`count` successes, `every` seconds apart."""
    for _ in range(count):
        clock.now += every
        pacer.on_success()


def paced_at_four_per_second(clock: ManualClock) -> AdaptivePacer:
    """A pacer that met its first 429 after a fresh session spent the API's burst."""
    pacer = AdaptivePacer()
    succeed(pacer, clock, BURST, every=0.01)
    pacer.on_rate_limited(None)
    return pacer


# --- the controller, step by step --------------------------------------------------------


async def test_unpaced_until_a_429_without_retry_after(clock: ManualClock) -> None:
    pacer = AdaptivePacer()
    succeed(pacer, clock, 50, every=0.001)
    for _ in range(20):
        await pacer.wait()
    pacer.on_rate_limited(2.0)  # the cooldown waits out a Retry-After; no pace from it
    await pacer.wait()
    assert pacer.pace is None
    assert clock.sleeps == []
    assert repr(pacer) == "AdaptivePacer(unpaced)"


async def test_the_first_429_paces_below_the_rate_the_server_accepted(clock: ManualClock) -> None:
    pacer = paced_at_four_per_second(clock)
    # The 15 successes of the burst are taken as 3 s of the server's rate: 0.8 x 5/s.
    assert pacer.pace == pytest.approx(4.0)
    assert repr(pacer) == "AdaptivePacer(4/s)"
    for _ in range(4):
        await pacer.wait()
    assert clock.sleeps == pytest.approx([0.25, 0.5, 0.75])


def test_the_accepted_rate_is_measured_over_the_last_ten_seconds(clock: ManualClock) -> None:
    pacer = AdaptivePacer()
    succeed(pacer, clock, 100, every=0.01)  # a burst long ago
    clock.now += 30
    succeed(pacer, clock, 60, every=0.125)  # then 8/s for 7.5 s
    pacer.on_rate_limited(None)
    assert pacer.pace == pytest.approx(0.8 * 60 / (59 * 0.125))


def test_with_no_success_to_measure_the_pace_starts_low(clock: ManualClock) -> None:
    pacer = AdaptivePacer()
    pacer.on_rate_limited(None)
    assert pacer.pace == pytest.approx(0.8)  # 0.8 x the 1/s assumed


def test_429s_from_requests_in_flight_lower_the_pace_once(clock: ManualClock) -> None:
    pacer = paced_at_four_per_second(clock)
    for _ in range(9):  # the rest of an unpaced volley, answered within the next 3 s
        clock.now += 0.3
        pacer.on_rate_limited(None)
    assert pacer.pace == pytest.approx(4.0)
    clock.now += 0.5  # 3.2 s after the decrease: a 429 now is one of a request sent since
    pacer.on_rate_limited(None)
    assert pacer.pace == pytest.approx(0.8 * 4.0)


def test_the_pace_recovers_then_probes_above_the_limit_then_stops(clock: ManualClock) -> None:
    pacer = paced_at_four_per_second(clock)
    paces: list[float] = []
    while (pace := pacer.pace) is not None and len(paces) < 10_000:
        paces.append(pace)
        succeed(pacer, clock, 1, every=1 / pace)  # every request succeeds, at the pace
    elapsed = clock.now - 100.15
    assert paces == sorted(paces), "it only climbs while requests succeed"
    times = [sum(1 / pace for pace in paces[:n]) for n in range(len(paces))]
    at = dict(zip(times, paces, strict=True))

    def pace_after(seconds: float) -> float:
        return next(pace for time, pace in at.items() if time >= seconds)

    assert 4.9 < pace_after(6.0) < 5.4  # the decrease is given back within seconds
    assert pace_after(15.0) < 6.5  # then a slow probe above the rate met
    assert 30 < elapsed < 60  # and the limit is taken as gone at 2 x 5/s
    assert paces[-1] < 10.0 <= paces[-1] + 1


def test_an_idle_session_does_not_climb(clock: ManualClock) -> None:
    pacer = paced_at_four_per_second(clock)
    clock.now += 3600
    assert pacer.pace == pytest.approx(4.0)


# --- every task of the session ---------------------------------------------------------


@on_virtual_time()
async def test_the_pace_holds_every_task_of_the_session(virtual_time: None) -> None:
    pacer = AdaptivePacer()
    for _ in range(BURST):
        pacer.on_success()
    pacer.on_rate_limited(None)  # one request refused: 4/s for all
    start = trio.current_time()
    sent: list[float] = []

    async def task() -> None:
        for _ in range(3):
            await pacer.wait()
            sent.append(trio.current_time() - start)

    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(task)
    # The first send is at once (nothing was sent at this pace yet).
    assert sent == pytest.approx([0.25 * n for n in range(12)])


@on_virtual_time()
async def test_a_lower_pace_applies_to_requests_already_waiting(virtual_time: None) -> None:
    pacer = AdaptivePacer()
    pacer.on_rate_limited(None)  # 0.8/s: one every 1.25 s
    start = trio.current_time()
    sent: list[float] = []

    async def request() -> None:
        await pacer.wait()
        sent.append(trio.current_time() - start)

    async with anyio.create_task_group() as tasks:
        for _ in range(5):
            tasks.start_soon(request)
        await anyio.sleep(3.5)  # three sent, the fourth sleeping until 3.75, one queued
        pacer.on_rate_limited(None)  # 3.5 s after the first 429: 0.64/s
    # The one asleep keeps its time; the one still queued is spaced at the new pace.
    assert sent == pytest.approx([0.0, 1.25, 2.5, 3.75, 3.75 + 1 / 0.64])


# --- against a token-bucket server -----------------------------------------------------


class V4Bucket:
    """The server's limit: `rate` per second, bursts of `burst`, 429s without Retry-After."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = trio.current_time()

    def take(self) -> bool:
        now = trio.current_time()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@attrs.define
class Outcome:
    succeeded: int = 0
    refused: int = 0
    failed: int = 0

    def throughput(self, seconds: float) -> float:
        return self.succeeded / seconds


async def run_workers(
    pacer: Pacer, *, seconds: float, workers: int, latency: float, seed: int = 7
) -> Outcome:
    """`workers` tasks sending requests for `seconds`, as a session's requester does.

    Each attempt waits for the pacer, takes `latency` (give or take half), and is retried
    after a 429 with the default retry policy's backoff, up to 3 retries.
    """
    rng = random.Random(seed)
    policy = RetryPolicy(jitter=False)
    server = V4Bucket(RATE, BURST)
    outcome = Outcome()
    end = trio.current_time() + seconds

    async def worker() -> None:
        while trio.current_time() < end:
            for attempt in range(policy.max_retries + 1):
                await pacer.wait()
                await anyio.sleep(latency * rng.uniform(0.5, 1.5))
                if server.take():
                    outcome.succeeded += 1
                    pacer.on_success()
                    break
                outcome.refused += 1
                pacer.on_rate_limited(None)
                if attempt == policy.max_retries:
                    outcome.failed += 1
                    break
                await anyio.sleep(policy.backoff(attempt) * rng.uniform(0.5, 1.0))

    async with anyio.create_task_group() as tasks:
        for _ in range(workers):
            tasks.start_soon(worker)
    return outcome


class Unpaced:
    """What a session did before pacing: nothing."""

    pace = None

    async def wait(self) -> None:
        await anyio.lowlevel.checkpoint()

    def on_success(self) -> None:
        pass

    def on_rate_limited(self, retry_after: float | None) -> None:
        pass


WORKLOADS = [(1, 0.03), (10, 0.03), (10, 0.3), (40, 0.05)]


@on_virtual_time()
@pytest.mark.parametrize(("workers", "latency"), WORKLOADS)
async def test_converges_to_the_server_limit_with_few_429s(
    virtual_time: None, workers: int, latency: float
) -> None:
    seconds = 180.0
    adaptive = await run_workers(AdaptivePacer(), seconds=seconds, workers=workers, latency=latency)
    assert adaptive.failed == 0
    # The server's rate and its first burst, all used: nothing is lost to over-caution.
    assert adaptive.throughput(seconds) >= 0.97 * (RATE + BURST / seconds)
    # The first volley's requests in flight, then about one 429 per 10 s at the limit.
    assert adaptive.refused <= workers + seconds / 5
    assert adaptive.refused <= 0.05 * adaptive.succeeded + workers


@on_virtual_time()
async def test_without_pacing_the_same_load_meets_a_storm_of_429s(virtual_time: None) -> None:
    seconds, workers, latency = 60.0, 10, 0.03
    unpaced = await run_workers(Unpaced(), seconds=seconds, workers=workers, latency=latency)
    adaptive = await run_workers(AdaptivePacer(), seconds=seconds, workers=workers, latency=latency)
    fixed = await run_workers(RateLimit(RATE), seconds=seconds, workers=workers, latency=latency)
    assert unpaced.failed > 0
    assert unpaced.refused > 2 * unpaced.succeeded
    assert adaptive.refused * 20 < unpaced.refused
    assert fixed.refused == 0  # told the limit, a session needs no 429 to find it
    assert adaptive.succeeded >= fixed.succeeded


# --- a whole session -------------------------------------------------------------------


@attrs.define
class BucketAPI:
    """An httpx transport answering `GET /visitors/:id` under a `V4Bucket`."""

    server: V4Bucket
    latency: float
    arrivals: list[float] = attrs.Factory(list)
    refused: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await anyio.sleep(self.latency)
        self.arrivals.append(trio.current_time())
        if self.server.take():
            return httpx.Response(200, json=history())
        self.refused += 1
        error = {"error": {"code": "TooManyRequests", "message": "too many requests"}}
        return httpx.Response(429, json=error)


def visitor_ids(count: int) -> Iterator[str]:
    return (f"visitor{number:04d}" for number in range(count))


@on_virtual_time()
async def test_a_session_without_rate_limit_finds_the_server_limit(virtual_time: None) -> None:
    api = BucketAPI(V4Bucket(RATE, BURST), latency=0.03)
    transport = httpx.MockTransport(api.handle)
    async with (
        httpx.AsyncClient(transport=transport) as client,
        Session(API_KEY, http_client=client, max_concurrency=10) as session,
    ):
        assert session.rate_limit is None
        start = trio.current_time()
        async with session.fetch_many(visitor_ids(600), concurrency=10) as results:
            failed = [result async for result in results if result.error is not None]
        seconds = trio.current_time() - start
        assert session.rate_limit is not None  # paced, at about the server's rate
        assert 0.8 * RATE < session.rate_limit < 2 * RATE
        stats = session.stats
    assert failed == []
    assert stats.rate_limited == api.refused
    assert api.refused <= 10 + seconds / 5
    assert 600 / seconds >= 0.97 * RATE
