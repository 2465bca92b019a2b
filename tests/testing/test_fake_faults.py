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


# --- v4 routes ------------------------------------------------------------------------------

V4_KEY = "secret-test-key"  # the key of the `pinned` fixture


@pytest.fixture
def stocked_v4(pinned: FakeServerAPI, make_events: MakeVisits) -> FakeServerAPI:
    pinned.add_events(make_events(5))
    pinned.add_events(make_events(2, visitor_id="Other", tag="Ot"))
    return pinned


async def test_rate_limit_bucket_is_shared_by_v3_and_v4_and_counted(
    make_events: MakeVisits, make_visits: MakeVisits
) -> None:
    # A bucket of 15 refilled by one request every 100 s: the test never sees a refill.
    fake = FakeServerAPI("k", rate_limit=0.01, burst=15)
    fake.add_visits(VISITOR, make_visits(2))
    fake.add_events(make_events(2, newest=fake.now - 1000))
    async with httpx.AsyncClient(transport=fake.transport(), base_url="https://api.fpjs.io") as c:
        v3 = {"Auth-Token": "k"}
        v4 = {"Authorization": "Bearer k"}
        answers = []
        for i in range(20):
            if i % 2:
                answers.append(await c.get(f"/visitors/{VISITOR}", headers=v3))
            else:
                answers.append(await c.get("/v4/events", headers=v4))
        wrong_key = await c.get("/v4/events", headers={"Authorization": "Bearer nope"})
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200] * 15 + [429] * 5
    refused_v3 = [a for a in answers[15:] if "/visitors/" in str(a.url)]
    refused_v4 = [a for a in answers[15:] if "/v4/" in str(a.url)]
    assert (len(refused_v3), len(refused_v4)) == (3, 2)
    assert all(int(a.headers["retry-after"]) >= 1 for a in refused_v3)
    assert all("retry-after" not in a.headers for a in refused_v4)
    assert all(
        a.json() == {"error": {"code": "too_many_requests", "message": "too many requests"}}
        for a in refused_v4
    )
    assert wrong_key.status_code == 403  # a request without the key has no bucket to empty
    assert fake.status_counts == {200: 15, 429: 5, 403: 1}
    fake.reset_requests()
    assert fake.status_counts == {}


def test_burst_is_the_bucket_size_and_defaults_to_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(5, 15, clock=lambda: now[0])
    assert [bucket.take() for _ in range(15)] == [None] * 15
    assert bucket.take() == 1
    now[0] += 1.0  # a second refills 5
    assert [bucket.take() for _ in range(5)] == [None] * 5
    assert bucket.take() is not None
    assert TokenBucket(5).capacity == 5.0
    assert TokenBucket(0.5).capacity == 1.0
    fake = FakeServerAPI("k", rate_limit=5)
    assert fake.burst == 5.0
    fake.burst = 15
    assert (fake.rate_limit, fake.burst) == (5.0, 15.0)
    fake.rate_limit = 2  # a new rate starts a bucket of the default size
    assert fake.burst == 2.0
    fake.rate_limit = None
    assert fake.burst is None
    with pytest.raises(ValueError, match="burst"):
        fake.burst = 3
    with pytest.raises(ValueError, match="burst"):
        FakeServerAPI("k", burst=10)
    with pytest.raises(ValueError, match="burst"):
        FakeServerAPI("k", rate_limit=5, burst=0.5)


async def test_a_burst_storm_on_v4_sends_no_retry_after(
    stocked_v4: FakeServerAPI, api: httpx.AsyncClient
) -> None:
    stocked_v4.rate_limit_burst(30, retry_after=3)
    refused = [await api.get("/v4/events"), await api.delete("/v4/visitors/Other")]
    v3 = await api.get(f"/visitors/{VISITOR}", headers={"Auth-Token": V4_KEY})
    assert [r.status_code for r in refused] == [429, 429]
    assert all("retry-after" not in r.headers for r in refused)
    assert refused[0].json()["error"]["code"] == "too_many_requests"
    assert (v3.status_code, v3.headers["retry-after"]) == (429, "3")
    stocked_v4.clear_faults()
    assert (await api.get("/v4/events")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "message"),
    [
        ("GET", "/v4/events/1.Abc", 404, "event_not_found", "event id not found"),
        ("GET", "/v4/events", 404, "visitor_not_found", "visitor not found"),
        ("DELETE", "/v4/visitors/x", 404, "visitor_not_found", "visitor not found"),
        ("PATCH", "/v4/events/1.Abc", 409, "state_not_ready",
         "resource is not mutable yet, try again"),
        ("GET", "/v4/events", 500, "failed", "internal server error"),
        ("GET", "/v4/events", 503, "service_unavailable", "service unavailable"),
        ("GET", "/v4/events", 504, "failed", "gateway timeout"),
        ("GET", "/v4/events", 403, "subscription_not_active", "forbidden"),
        ("GET", "/v4/events", 599, "failed", "error"),
    ],
)  # fmt: skip
async def test_scripted_errors_on_v4_routes_have_v4_bodies(
    api: httpx.AsyncClient,
    pinned: FakeServerAPI,
    method: str,
    path: str,
    status: int,
    code: str,
    message: str,
) -> None:
    pinned.error_style = "plain"  # v3's style does not reach v4 bodies
    pinned.fail_next(1, status)
    response = await api.request(method, path)
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "message": message}}


async def test_faults_select_v4_requests_by_visitor_and_operation(
    stocked_v4: FakeServerAPI, api: httpx.AsyncClient
) -> None:
    stocked_v4.add_fault(Fault.error(500), visitor_id="Other")
    stocked_v4.add_fault(Fault.error(502, body="html"), when=lambda r: r.operation == "get_event")
    assert (await api.get("/v4/events", params={"visitor_id": "Other"})).status_code == 500
    assert (await api.delete("/v4/visitors/Other")).status_code == 500
    assert (await api.get("/v4/events")).status_code == 200
    html = await api.get("/v4/events/1.Abc")
    assert (html.status_code, html.headers["content-type"]) == (502, "text/html")
    assert stocked_v4.count_events("Other") == 2


async def test_truncated_dropped_and_slow_answers_on_v4(
    stocked_v4: FakeServerAPI, make_events: MakeVisits
) -> None:
    (event_id,) = [e["event_id"] for e in make_events(1)]
    stocked_v4.add_fault(Fault.truncated(), times=1)
    stocked_v4.add_fault(Fault.dropped(), times=1)
    async with stocked_v4.session(retry=NO_RETRIES, max_concurrency=6) as session:
        with pytest.raises(ResponseDecodeError):
            await session.get_event(event_id)
        with pytest.raises(TransportError):
            await session.search_events(limit=5)
        assert (await session.get_event(event_id)).event_id == event_id
        stocked_v4.latency = 0.02
        stocked_v4.reset_requests()
        async with anyio.create_task_group() as tasks:
            for _ in range(6):
                tasks.start_soon(session.search_events)
    assert stocked_v4.max_in_flight == 6


async def test_a_409_on_update_is_retried_by_the_session(
    stocked_v4: FakeServerAPI, make_events: MakeVisits, waits: list[float]
) -> None:
    (event_id,) = [e["event_id"] for e in make_events(1)]
    stocked_v4.add_fault(Fault.error(409), when=lambda r: r.operation == "update_event", times=2)
    async with stocked_v4.session(retry=RetryPolicy(max_retries=3, jitter=False)) as session:
        await session.update_event(event_id, suspect=True)
    assert [r.operation for r in stocked_v4.requests] == ["update_event"] * 3
    assert stocked_v4.status_counts == {409: 2, 200: 1}
    assert len(waits) == 2
    event = stocked_v4.event(event_id)
    assert event is not None
    assert event.suspect is True
