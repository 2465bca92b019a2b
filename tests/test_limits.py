"""RateLimit: the token bucket of a session, on clocks the tests control.

`ManualClock` stands still unless moved, and records sleeps (sequential calls). The tests of
waiters running together use trio's `MockClock`, which jumps to the next deadline as soon
as every task is blocked: virtual time, deterministic, instant.
"""

from __future__ import annotations

import math
import sys

import anyio
import anyio.lowlevel
import pytest
import trio
from _clocks import ManualClock, mock_clock_trio, on_virtual_time

from fpjs_async import Session, _retry
from fpjs_async._limits import AdaptivePacer, RateLimit, check_bucket, check_rate, make_pacer
from fpjs_async._redis_limit import RedisRateLimit

pytestmark = pytest.mark.anyio


# --- one request after another ---------------------------------------------------------


async def test_requests_queued_together_are_spaced_one_interval_apart(clock: ManualClock) -> None:
    limit = RateLimit(4)
    for _ in range(4):
        await limit.wait()
    assert clock.sleeps == pytest.approx([0.25, 0.5, 0.75])


async def test_idle_time_gives_no_burst(clock: ManualClock) -> None:
    limit = RateLimit(10)
    await limit.wait()
    clock.now += 60  # a long pause saves nothing up
    await limit.wait()
    await limit.wait()
    assert clock.sleeps == pytest.approx([0.1])


async def test_a_request_after_its_slot_waits_only_what_is_left(clock: ManualClock) -> None:
    limit = RateLimit(2)
    await limit.wait()
    clock.now += 0.2
    await limit.wait()
    assert clock.sleeps == pytest.approx([0.3])


async def test_a_full_bucket_lets_a_burst_through_then_the_rate(clock: ManualClock) -> None:
    limit = RateLimit(4, burst=3)
    for _ in range(5):
        await limit.wait()
    assert clock.sleeps == pytest.approx([0.25, 0.5])  # three at once, then one per 0.25 s


async def test_the_bucket_refills_at_the_rate_up_to_the_burst(clock: ManualClock) -> None:
    limit = RateLimit(4, burst=3)
    for _ in range(3):
        await limit.wait()
    clock.now += 0.5  # two refills
    for _ in range(3):
        await limit.wait()
    assert clock.sleeps == pytest.approx([0.25])
    clock.now += 60  # refills beyond the burst are lost
    for _ in range(4):
        await limit.wait()
    assert clock.sleeps == pytest.approx([0.25, 0.25])


# --- requests waiting together ---------------------------------------------------------


@pytest.mark.parametrize("burst", [1, 3])
@pytest.mark.parametrize("anyio_backend", ["asyncio", mock_clock_trio()], ids=["asyncio", "trio"])
async def test_waiting_requests_are_served_in_arrival_order(
    burst: int, monkeypatch: pytest.MonkeyPatch, anyio_backend: object
) -> None:
    if anyio_backend != "asyncio":
        monkeypatch.setattr(_retry, "clock", trio.current_time)
    limit = RateLimit(500, burst=burst)
    served: list[int] = []

    async def request(number: int) -> None:
        await limit.wait()
        served.append(number)

    async with anyio.create_task_group() as tasks:
        for number in range(12):
            tasks.start_soon(request, number)
            await anyio.lowlevel.checkpoint()  # each is waiting before the next arrives
    assert served == list(range(12))


@on_virtual_time()
async def test_a_burst_then_the_rate_in_virtual_time(virtual_time: None) -> None:
    limit = RateLimit(5, burst=15)
    start = trio.current_time()
    sent: list[float] = []

    async def request() -> None:
        await limit.wait()
        sent.append(trio.current_time() - start)

    async with anyio.create_task_group() as tasks:
        for _ in range(25):
            tasks.start_soon(request)
    assert sent[:15] == [0.0] * 15
    assert sent[15:] == pytest.approx([0.2 * n for n in range(1, 11)])


@on_virtual_time()
async def test_a_cancelled_waiter_gives_its_time_back_in_order(virtual_time: None) -> None:
    limit = RateLimit(1)  # one request per second
    start = trio.current_time()
    sent: dict[str, float] = {}

    async def request(name: str, scope: anyio.CancelScope | None = None) -> None:
        with scope or anyio.CancelScope():
            await limit.wait()
            sent[name] = trio.current_time() - start

    doomed = anyio.CancelScope()
    async with anyio.create_task_group() as tasks:
        await request("first")  # sent at once
        for name, scope in [("cancelled", doomed), ("second", None), ("third", None)]:
            tasks.start_soon(request, name, scope)
            await (
                anyio.lowlevel.checkpoint()
            )  # "cancelled" sleeps until t=1, the others queue behind it
        await anyio.sleep(0.5)
        doomed.cancel()
    # Its time went to the next in line, and the order held.
    assert sent == {"first": 0.0, "second": pytest.approx(1.0), "third": pytest.approx(2.0)}


@on_virtual_time()
async def test_a_waiter_cancelled_in_the_queue_takes_nothing(virtual_time: None) -> None:
    limit = RateLimit(2)
    start = trio.current_time()
    sent: list[tuple[str, float]] = []

    async def request(name: str) -> None:
        await limit.wait()
        sent.append((name, trio.current_time() - start))

    async with anyio.create_task_group() as tasks:
        await request("a")
        tasks.start_soon(request, "b")  # the head: sleeps until 0.5
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await request("never")  # cancelled while queued behind "b"
        tasks.start_soon(request, "c")
    assert sent == [("a", 0.0), ("b", pytest.approx(0.5)), ("c", pytest.approx(1.0))]


@on_virtual_time()
async def test_one_limit_paces_every_task_that_shares_it(virtual_time: None) -> None:
    limit = RateLimit(10)
    start = trio.current_time()
    done: list[float] = []

    async def caller() -> None:
        for _ in range(5):
            await limit.wait()
            done.append(trio.current_time() - start)

    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(caller)
    assert done == pytest.approx([0.1 * n for n in range(20)])


# --- validation and make_pacer -----------------------------------------------------------


@pytest.mark.parametrize(("rate", "error"), [(0, ValueError), (-1.0, ValueError),
                                             (math.inf, ValueError), (math.nan, ValueError),
                                             ("5", TypeError), (True, TypeError)])  # fmt: skip
def test_check_rate_refuses(rate: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="rate_limit"):
        check_rate(rate)  # type: ignore[arg-type]
    with pytest.raises(error, match="rate_limit"):
        Session("key", rate_limit=rate)  # type: ignore[arg-type]
    with pytest.raises(error, match="rate_limit"):
        make_pacer(rate)  # type: ignore[arg-type]
    with pytest.raises(error, match=r"^rate must"):
        RateLimit(rate)  # type: ignore[arg-type]


@pytest.mark.parametrize(("burst", "error"), [(0, ValueError), (-3, ValueError),
                                              (2.0, TypeError), ("2", TypeError),
                                              (True, TypeError)])  # fmt: skip
def test_burst_must_be_a_whole_number_of_requests(burst: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"^burst must be an int >= 1"):
        RateLimit(5, burst=burst)  # type: ignore[arg-type]


def test_check_rate_accepts() -> None:
    assert check_rate(None) is None
    assert check_rate(3) == 3.0
    assert check_rate(0.5) == 0.5
    assert check_bucket(2, None) == (2.0, 1)
    assert check_bucket(5, 15) == (5.0, 15)


def test_rate_limit_properties() -> None:
    limit = RateLimit(3, burst=9)
    assert (limit.rate, limit.burst, limit.pace) == (3.0, 9, 3.0)
    assert repr(limit) == "RateLimit(rate=3, burst=9)"
    assert RateLimit(0.5).burst == 1
    assert RateLimit(0.5).rate == 0.5


async def test_a_fixed_limit_does_not_adapt(clock: ManualClock) -> None:
    limit = RateLimit(4)
    limit.on_rate_limited(None)
    limit.on_rate_limited(3.0)
    limit.on_success()
    assert limit.pace == 4.0
    await limit.wait()
    await limit.wait()
    assert clock.sleeps == pytest.approx([0.25])


def test_make_pacer_picks_the_pacer_of_each_kind_of_rate_limit() -> None:
    adaptive = make_pacer(None)
    assert isinstance(adaptive, AdaptivePacer)
    assert adaptive.pace is None
    even = make_pacer(2.5)
    assert isinstance(even, RateLimit)
    assert (even.rate, even.burst) == (2.5, 1)
    bucket = RateLimit(5, burst=15)
    assert make_pacer(bucket) is bucket
    shared = RedisRateLimit("redis://127.0.0.1:1/0", rate=5, burst=15, name="fpjs:test")
    assert make_pacer(shared) is shared


@pytest.mark.parametrize("rate_limit", [object(), [5], RateLimit])
def test_make_pacer_refuses_anything_else(rate_limit: object) -> None:
    with pytest.raises(TypeError, match=r"rate_limit must be .* a RateLimit or a RedisRateLimit"):
        make_pacer(rate_limit)  # type: ignore[arg-type]


async def test_session_has_no_rate_limit_by_default() -> None:
    async with Session("key") as session:
        assert session.rate_limit is None
    async with Session("key", rate_limit=2.5) as session:
        assert session.rate_limit == 2.5


# --- RedisRateLimit, before any Redis is involved ------------------------------------------

URL = "redis://:s3cret-password@127.0.0.1:1/0"


def test_redis_rate_limit_properties() -> None:
    limit = RedisRateLimit(URL, rate=5, burst=15, name="fpjs:my-app")
    assert (limit.rate, limit.burst, limit.pace, limit.name) == (5.0, 15, 5.0, "fpjs:my-app")
    assert limit.shared  # until Redis fails
    assert repr(limit) == "RedisRateLimit(name='fpjs:my-app', rate=5, burst=15)"
    assert RedisRateLimit(URL, rate=2, name="n").burst == 1


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"rate": 0}, ValueError, r"^rate must"),
        ({"rate": "5"}, TypeError, r"^rate must"),
        ({"burst": 0}, ValueError, r"^burst must"),
        ({"name": ""}, ValueError, r"^name must"),
        ({"name": b"n"}, TypeError, r"^name must"),
        ({"timeout": 0}, ValueError, r"^timeout must"),
        ({"timeout": None}, TypeError, r"^timeout must"),
        ({"retry_interval": math.inf}, ValueError, r"^retry_interval must"),
        ({"url_or_client": "http://127.0.0.1:6379"}, ValueError, r"^url_or_client must"),
        ({"url_or_client": 6379}, TypeError, r"^url_or_client must"),
    ],
)
def test_redis_rate_limit_refuses(
    arguments: dict[str, object], error: type[Exception], match: str
) -> None:
    options: dict[str, object] = {"url_or_client": URL, "rate": 5, "name": "n", **arguments}
    with pytest.raises(error, match=match) as caught:
        RedisRateLimit(**options)  # type: ignore[arg-type]
    assert "s3cret" not in str(caught.value)


def test_redis_rate_limit_names_the_extra_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # as if redis were not installed
    with pytest.raises(ImportError, match=r"pip install 'fpjs-async\[redis\]'"):
        RedisRateLimit(URL, rate=5, name="n")


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_redis_rate_limit_runs_on_asyncio_only(anyio_backend: str) -> None:
    limit = RedisRateLimit(URL, rate=5, name="n")
    with pytest.raises(RuntimeError, match=r"asyncio only .* under trio, use RateLimit"):
        await limit.wait()


async def test_redis_rate_limit_does_not_adapt() -> None:
    async with RedisRateLimit(URL, rate=5, name="n") as limit:
        limit.on_rate_limited(None)
        limit.on_success()
        assert limit.pace == 5.0
