"""RateLimit: the session-wide client-side rate limit, on a clock the tests move by hand."""

from __future__ import annotations

import math

import pytest

from fpjs_async import Session, _retry
from fpjs_async._limits import RateLimit, check_rate

pytestmark = pytest.mark.anyio


class ManualClock:
    """`_retry.clock` and `_retry.sleep` replaced: sleeping is recorded, time moves by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []
        monkeypatch.setattr(_retry, "clock", lambda: self.now)
        monkeypatch.setattr(_retry, "sleep", self.sleep)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    return ManualClock(monkeypatch)


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


@pytest.mark.parametrize(("rate", "error"), [(0, ValueError), (-1.0, ValueError),
                                             (math.inf, ValueError), (math.nan, ValueError),
                                             ("5", TypeError), (True, TypeError)])  # fmt: skip
def test_check_rate_refuses(rate: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="rate_limit"):
        check_rate(rate)  # type: ignore[arg-type]
    with pytest.raises(error, match="rate_limit"):
        Session("key", rate_limit=rate)  # type: ignore[arg-type]


def test_check_rate_accepts() -> None:
    assert check_rate(None) is None
    assert check_rate(3) == 3.0
    assert check_rate(0.5) == 0.5
    assert RateLimit(0.5).rate == 0.5


async def test_session_has_no_rate_limit_by_default() -> None:
    async with Session("key") as session:
        assert session.rate_limit is None
    async with Session("key", rate_limit=2.5) as session:
        assert session.rate_limit == 2.5
