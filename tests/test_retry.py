"""Retries: what is retried, how often, how long the waits are, and the shared cooldown."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import httpx
import pytest
import respx
from _bodies import API_KEY, US, counts, ok
from _clocks import ManualClock

from fpjs_async import (
    APIError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Session,
    TransportError,
)
from fpjs_async._retry import parse_retry_after

pytestmark = pytest.mark.anyio

URL = US + "/visitors/v"


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Waits are recorded, not waited, and move the clock on by their length."""
    return ManualClock(now=1000.0, sleeps_move_time=True).install(monkeypatch)


@pytest.fixture
def make_session() -> Callable[..., Session]:
    """Sessions with deterministic backoff (0.5, 1, 2, 4 ... seconds)."""

    def make(**policy: Any) -> Session:
        settings = {"max_retries": 3, "backoff_base": 0.5, "jitter": False, **policy}
        return Session(API_KEY, retry=RetryPolicy(**settings))

    return make


@pytest.fixture
async def session(make_session: Callable[..., Session]) -> AsyncIterator[Session]:
    async with make_session() as fp:
        yield fp


def failing(status: int, body: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": body or f"status {status}"}, headers=headers)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_retryable_status_then_success(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock, status: int
) -> None:
    route = respx_mock.get(URL).mock(side_effect=[failing(status), failing(status), ok()])
    page = await session.get_visits("v")
    assert page.visits
    assert route.call_count == 3
    backoffs, pacing = fake_time.sleeps[:2], fake_time.sleeps[2:]
    assert backoffs == [0.5, 1.0]
    # A 429 without Retry-After also paces the session: the last attempt waited its turn.
    assert (len(pacing) == 1 and pacing[0] > 0) if status == 429 else not pacing
    limited = 2 if status == 429 else 0
    assert counts(session.stats) == (3, 2, limited)


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [("2", 2.0), ("0", 0.0), ("1.5", 1.5), (" 3 ", 3.0), ("soon", 0.5), ("-4", 0.0)],
)
async def test_429_waits_retry_after_or_backs_off(
    session: Session,
    respx_mock: respx.MockRouter,
    fake_time: ManualClock,
    retry_after: str,
    wait: float,
) -> None:
    route = respx_mock.get(URL).mock(
        side_effect=[failing(429, **{"Retry-After": retry_after}), ok()]
    )
    await session.get_visits("v")
    assert route.call_count == 2
    assert fake_time.sleeps == [wait]


async def test_429_with_an_http_date_retry_after(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    route = respx_mock.get(URL).mock(side_effect=[failing(429, **{"Retry-After": when}), ok()])
    await session.get_visits("v")
    assert route.call_count == 2
    [waited] = fake_time.sleeps
    assert 20 < waited <= 30


def _in_an_hour() -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True)


@pytest.mark.parametrize(
    ("max_retry_after", "retry_after", "low", "high"),
    [(60.0, lambda: "61", 61, 61), (5.0, lambda: "5.5", 5.5, 5.5), (60.0, _in_an_hour, 3000, 3600)],
)
async def test_429_asking_too_long_a_wait_raises_at_once(
    make_session: Callable[..., Session],
    respx_mock: respx.MockRouter,
    fake_time: ManualClock,
    max_retry_after: float,
    retry_after: Callable[[], str],
    low: float,
    high: float,
) -> None:
    header = {"Retry-After": retry_after()}
    route = respx_mock.get(URL).mock(return_value=failing(429, **header))
    async with make_session(max_retry_after=max_retry_after) as session:
        with pytest.raises(RateLimitError) as caught:
            await session.get_visits("v")
    assert caught.value.retry_after is not None
    assert low <= caught.value.retry_after <= high
    assert route.call_count == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
async def test_client_errors_are_never_retried(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock, status: int
) -> None:
    route = respx_mock.get(URL).mock(return_value=failing(status))
    with pytest.raises(APIError) as caught:
        await session.get_visits("v")
    assert caught.value.status == status
    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert session.stats.retries == 0


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_exhausted_retries_raise_the_last_error(
    make_session: Callable[..., Session],
    respx_mock: respx.MockRouter,
    fake_time: ManualClock,
    max_retries: int,
) -> None:
    attempts = [failing(503, f"attempt {n}") for n in range(1, max_retries + 2)]
    route = respx_mock.get(URL).mock(side_effect=attempts)
    async with make_session(max_retries=max_retries) as session:
        with pytest.raises(ServerError) as caught:
            await session.get_visits("v")
    assert caught.value.message == f"attempt {max_retries + 1}"
    assert route.call_count == max_retries + 1
    assert fake_time.sleeps == [0.5, 1.0, 2.0][:max_retries]


RETRIED_TRANSPORT_ERRORS = [
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.PoolTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
]


@pytest.mark.parametrize("error", RETRIED_TRANSPORT_ERRORS)
async def test_transport_errors_are_retried(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock, error: type[Exception]
) -> None:
    route = respx_mock.get(URL).mock(side_effect=[error, error, ok()])
    await session.get_visits("v")
    assert route.call_count == 3
    assert fake_time.sleeps == [0.5, 1.0]


async def test_exhausted_transport_retries_raise_transport_error(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock
) -> None:
    side_effects = [httpx.ConnectError, httpx.ReadTimeout, httpx.ConnectError, httpx.ReadTimeout]
    route = respx_mock.get(URL).mock(side_effect=side_effects)
    with pytest.raises(TransportError) as caught:
        await session.get_visits("v")
    assert type(caught.value.__cause__) is httpx.ReadTimeout
    assert route.call_count == 4
    assert fake_time.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "error", [httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError]
)
async def test_configuration_transport_errors_fail_at_once(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock, error: type[Exception]
) -> None:
    route = respx_mock.get(URL).mock(side_effect=error)
    with pytest.raises(TransportError) as caught:
        await session.get_visits("v")
    assert type(caught.value.__cause__) is error
    assert route.call_count == 1
    assert fake_time.sleeps == []


async def test_each_retry_is_logged_at_debug(
    session: Session,
    respx_mock: respx.MockRouter,
    fake_time: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fpjs_async")
    respx_mock.get(URL).mock(side_effect=[failing(503), httpx.ReadTimeout, ok()])
    await session.get_visits("v")
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert [(r.name, r.levelno) for r in retries] == [("fpjs_async", logging.DEBUG)] * 2
    first, second = (r.getMessage() for r in retries)
    assert "GET /visitors/v" in first
    assert "status 503" in first
    assert "retry 1 of 3" in first
    assert "waiting 0.50s" in first
    assert "ReadTimeout" in second
    assert "retry 2 of 3" in second
    assert "waiting 1.00s" in second


async def test_retry_after_holds_back_the_next_call_on_the_session(
    make_session: Callable[..., Session], respx_mock: respx.MockRouter, fake_time: ManualClock
) -> None:
    respx_mock.get(URL).mock(return_value=failing(429, **{"Retry-After": "2"}))
    other = respx_mock.get(US + "/visitors/w").mock(return_value=ok())
    async with make_session(max_retries=0) as session:
        with pytest.raises(RateLimitError):
            await session.get_visits("v")
        assert fake_time.sleeps == []
        await session.get_visits("w")
        assert counts(session.stats) == (2, 0, 1)
    assert fake_time.sleeps == [2.0]
    assert other.call_count == 1


async def test_retry_after_holds_back_concurrent_calls(
    session: Session, respx_mock: respx.MockRouter, fake_time: ManualClock
) -> None:
    events: list[str] = []

    def answer(name: str, *responses: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
        pending = list(responses)

        def respond(request: httpx.Request) -> httpx.Response:
            response = pending.pop(0)
            events.append(f"{name} {response.status_code}")
            return response

        return respond

    respx_mock.get(URL).mock(side_effect=answer("v", failing(429, **{"Retry-After": "2"}), ok()))
    respx_mock.get(US + "/visitors/w").mock(side_effect=answer("w", ok()))
    fake_time.hold_first = anyio.Event()

    async def refused_then_retried() -> None:
        await session.get_visits("v")
        events.append("v done")

    async with anyio.create_task_group() as tg:
        tg.start_soon(refused_then_retried)
        # The first call got its 429 and sleeps; a second call starts meanwhile.
        await fake_time.first_sleeping.wait()
        await session.get_visits("w")
        events.append("w done")
        fake_time.hold_first.set()

    # The second call waited out the cooldown before its request was sent.
    assert fake_time.sleeps == [2.0, 2.0]
    assert events == ["v 429", "w 200", "w done", "v 200", "v done"]
    assert counts(session.stats) == (3, 1, 1)


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=8.0, jitter=False)
    assert [policy.backoff(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert RetryPolicy(backoff_base=0, jitter=False).backoff(5) == 0
    assert RetryPolicy(backoff_base=1, backoff_cap=3, jitter=False).backoff(100) == 3


def test_jitter_stays_within_half_and_all_of_the_nominal_wait() -> None:
    policy = RetryPolicy()
    assert policy.jitter
    for retry in range(6):
        nominal = min(8.0, 0.5 * 2**retry)
        waits = {policy.backoff(retry) for _ in range(200)}
        assert all(0.5 * nominal <= wait <= nominal for wait in waits)
        assert len(waits) > 1


def test_default_policy() -> None:
    assert RetryPolicy() == RetryPolicy(
        max_retries=3, backoff_base=0.5, backoff_cap=8.0, max_retry_after=60.0, jitter=True
    )
    assert [s for s in range(400, 600) if RetryPolicy().is_retryable_status(s)] == [
        429,
        500,
        502,
        503,
        504,
    ]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RetryPolicy().max_retries = 5  # type: ignore[misc]


@pytest.mark.parametrize("field", ["max_retries", "backoff_base", "backoff_cap", "max_retry_after"])
@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (float("nan"), ValueError), (True, TypeError), ("3", TypeError)],
)
def test_policy_validation(field: str, value: Any, error: type[Exception]) -> None:
    if field == "max_retries" and isinstance(value, float):
        error = TypeError
    with pytest.raises(error, match=field):
        RetryPolicy(**{field: value})


NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("2", 2.0),
        (" 2 ", 2.0),
        ("0.25", 0.25),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 +0100", 0.0),
        ("Wed, 21 Oct 2015 07:20:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00", 60.0),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    parsed = parse_retry_after(header, now=NOW)
    assert parsed == seconds
    assert parsed is None or math.isfinite(parsed)
