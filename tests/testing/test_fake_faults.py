"""Fault injection: latency, rate limits, error statuses, broken bodies, dropped connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

import fpjs_async
from fpjs_async import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from fpjs_async.testing import FakeServerAPI, Fault
from fpjs_async.testing._faults import TokenBucket

pytestmark = pytest.mark.anyio

VISITOR = "FaultyVisitor0000001"
NO_RETRIES = RetryPolicy(max_retries=0)
MakeVisits = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The library's waits between attempts, recorded instead of slept."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(fpjs_async._retry, "sleep", record)
    return recorded


@pytest.fixture
def stocked(fake: FakeServerAPI, make_visits: MakeVisits) -> FakeServerAPI:
    fake.add_visits(VISITOR, make_visits(5))
    fake.add_visits("Other", make_visits(2))
    return fake


async def fetch_concurrently(fake: FakeServerAPI, count: int) -> None:
    async with fake.session(max_concurrency=count) as session, anyio.create_task_group() as tasks:
        for _ in range(count):
            tasks.start_soon(session.get_visits, VISITOR)


# --- latency --------------------------------------------------------------------------------


async def test_without_latency_sequential_requests_never_overlap(stocked: FakeServerAPI) -> None:
    async with stocked.session() as session:
        for _ in range(3):
            await session.get_visits(VISITOR)
    assert stocked.max_in_flight == 1


@pytest.mark.parametrize("latency", [0.05, (0.02, 0.06)])
async def test_latency_keeps_concurrent_requests_in_flight_together(
    stocked: FakeServerAPI, latency: float | tuple[float, float]
) -> None:
    stocked.latency = latency
    await fetch_concurrently(stocked, 8)
    assert stocked.max_in_flight == 8
    assert stocked.in_flight == 0
    assert len(stocked.requests) == 8


async def test_slow_fault_delays_only_the_requests_it_matches(stocked: FakeServerAPI) -> None:
    stocked.add_fault(Fault.slow(0.05), times=4)
    await fetch_concurrently(stocked, 4)
    assert stocked.max_in_flight == 4


# --- rate limits ----------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take()] == [None, None]
    assert bucket.take() == 1  # half a second to the next token, rounded up
    now[0] += 0.5
    assert bucket.take() is None
    slow = TokenBucket(0.25, clock=lambda: now[0])
    assert slow.take() is None
    assert slow.take() == 4


async def test_rate_limit_answers_429_with_retry_after(
    fake: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    fake.rate_limit = 1
    first = await client.get(f"/visitors/{VISITOR}")
    second = await client.get(f"/visitors/{VISITOR}")
    assert first.status_code == 200
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1
    assert second.json() == {"error": {"code": "TooManyRequests", "message": "too many requests"}}


async def test_plain_style_429_body(make_visits: MakeVisits) -> None:
    fake = FakeServerAPI("k", error_style="plain", rate_limit=1)
    async with fake.session(retry=NO_RETRIES) as session:
        await session.get_visits(VISITOR)
        with pytest.raises(RateLimitError) as caught:
            await session.get_visits(VISITOR)
    assert caught.value.message == "too many requests"
    assert caught.value.code is None
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1


async def test_rate_limit_burst_refuses_everything_until_cleared(
    stocked: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    stocked.rate_limit_burst(30)
    refused = [await client.get(f"/visitors/{v}") for v in (VISITOR, "Other", VISITOR)]
    assert [r.status_code for r in refused] == [429, 429, 429]
    assert all(1 <= int(r.headers["retry-after"]) <= 30 for r in refused)
    stocked.clear_faults()
    assert (await client.get(f"/visitors/{VISITOR}")).status_code == 200


async def test_rate_limit_burst_is_waited_out_by_the_session(
    stocked: FakeServerAPI, waits: list[float]
) -> None:
    stocked.rate_limit_burst(30, retry_after=2)
    async with stocked.session(retry=RetryPolicy(max_retries=1)) as session:
        with pytest.raises(RateLimitError) as caught:
            await session.get_visits(VISITOR)
    assert caught.value.retry_after == 2
    assert 2 in waits
    assert len(stocked.requests) == 2


# --- error statuses and broken bodies ---------------------------------------------------------


async def test_fail_next_answers_html_then_recovers_and_the_session_retries(
    stocked: FakeServerAPI, waits: list[float]
) -> None:
    stocked.fail_next(2, 503, body="html")
    async with stocked.session(retry=RetryPolicy(max_retries=2, jitter=False)) as session:
        page = await session.get_visits(VISITOR)
    assert len(page.visits) == 5
    assert len(stocked.requests) == 3
    assert len(waits) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("body", ["json", "html"])
async def test_server_errors_in_both_body_forms(
    stocked: FakeServerAPI, client: httpx.AsyncClient, status: int, body: str
) -> None:
    stocked.fail_next(1, status, body=body)  # type: ignore[arg-type]
    response = await client.get(f"/visitors/{VISITOR}")
    assert response.status_code == status
    if body == "html":
        assert response.headers["content-type"] == "text/html"
        assert response.text.startswith("<html>")
        assert str(status) in response.text
    else:
        assert response.json()["error"]["code"] == "Failed"
    async with stocked.session(retry=NO_RETRIES) as session:
        stocked.fail_next(1, status, body=body)  # type: ignore[arg-type]
        with pytest.raises(ServerError) as caught:
            await session.get_visits(VISITOR)
    assert caught.value.status == status


async def test_truncated_body_is_a_decode_error(stocked: FakeServerAPI) -> None:
    stocked.add_fault(Fault.truncated(), times=1)
    async with stocked.session(retry=NO_RETRIES) as session:
        with pytest.raises(ResponseDecodeError) as caught:
            await session.get_visits(VISITOR)
        assert caught.value.status == 200
        assert len((await session.get_visits(VISITOR)).visits) == 5


async def test_dropped_connection_in_process_is_a_transport_error(
    stocked: FakeServerAPI,
) -> None:
    stocked.add_fault(Fault.dropped(), times=1)
    async with stocked.session(retry=NO_RETRIES) as session:
        with pytest.raises(TransportError) as caught:
            await session.get_visits(VISITOR)
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


async def test_dropped_connection_is_retried_by_default(
    stocked: FakeServerAPI, waits: list[float]
) -> None:
    stocked.add_fault(Fault.dropped(), times=1)
    async with stocked.session() as session:
        page = await session.get_visits(VISITOR)
    assert len(page.visits) == 5
    assert len(stocked.requests) == 2


# --- scripting ------------------------------------------------------------------------------


async def test_per_visitor_faults_leave_other_visitors_alone(stocked: FakeServerAPI) -> None:
    stocked.add_fault(Fault.error(404), visitor_id=VISITOR)
    stocked.add_fault(Fault.error(403), visitor_id="Forbidden")
    async with stocked.session() as session:
        for _ in range(2):  # a rule without `times` applies every time
            with pytest.raises(NotFoundError) as not_found:
                await session.get_visits(VISITOR)
            assert not_found.value.code == "VisitorNotFound"
            assert not_found.value.message == "visitor not found"
        with pytest.raises(AuthenticationError):
            await session.get_visits("Forbidden")
        assert len((await session.get_visits("Other")).visits) == 2


async def test_rules_apply_in_order_and_count_down(
    stocked: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    first = stocked.add_fault(Fault.error(500), times=1)
    second = stocked.add_fault(Fault.error(502, body="html"), times=2)
    statuses = [(await client.get(f"/visitors/{VISITOR}")).status_code for _ in range(4)]
    assert statuses == [500, 502, 502, 200]
    assert (first.remaining, second.remaining) == (0, 0)


async def test_predicate_selects_requests(
    stocked: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    stocked.add_fault(
        Fault.error(400, code="RequestCannotBeParsed", message="invalid linked id"),
        when=lambda request: "linked_id" in request.params,
    )
    plain = await client.get(f"/visitors/{VISITOR}")
    filtered = await client.get(f"/visitors/{VISITOR}", params={"linked_id": "x"})
    assert plain.status_code == 200
    assert filtered.status_code == 400
    assert filtered.json()["error"]["message"] == "invalid linked id"


async def test_faults_come_before_authentication(
    stocked: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    stocked.fail_next(1, 503, retry_after=7)
    response = await client.get(f"/visitors/{VISITOR}", headers={"Auth-Token": "wrong"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    again = await client.get(f"/visitors/{VISITOR}", headers={"Auth-Token": "wrong"})
    assert again.status_code == 403


async def test_faults_do_not_touch_unrouted_requests(
    stocked: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    rule = stocked.fail_next(1, 500)
    assert (await client.get("/elsewhere")).status_code == 404
    assert rule.remaining == 1


def test_fault_arguments_are_checked(fake: FakeServerAPI) -> None:
    with pytest.raises(ValueError, match="status"):
        Fault.error(200)
    with pytest.raises(ValueError, match="body"):
        Fault.error(500, body="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delay"):
        Fault.slow(-1)
    with pytest.raises(ValueError, match="times"):
        fake.add_fault(Fault.truncated(), times=-1)
    with pytest.raises(ValueError, match="seconds"):
        fake.rate_limit_burst(-1)
