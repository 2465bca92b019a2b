"""The v4 calls of a session at the HTTP level: auth, paths, bodies, retries, errors, secrecy."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _bodies import AP, API_KEY, EU, MINIMAL_EVENT, US, event_search, texts_of
from _shared import V4_EXAMPLES

from fpjs_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    Event,
    EventSearch,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Session,
    TransportError,
)

pytestmark = pytest.mark.anyio

EVENT_ID = MINIMAL_EVENT["event_id"]
NO_WAIT = RetryPolicy(max_retries=2, backoff_base=0.0, jitter=False)
CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    429: RateLimitError,
    500: ServerError,
    504: ServerError,
}


def v4_error(status: int, code: str, message: str = "oops") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    async with Session(API_KEY, retry=NO_WAIT) as fp:
        yield fp


async def call_each(fp: Session) -> None:
    """Every v4 call once."""
    await fp.get_event(EVENT_ID)
    await fp.search_events(visitor_id="v")
    await fp.update_event(EVENT_ID, suspect=True)
    await fp.delete_visitor_data("v")


def mock_every_route(router: respx.MockRouter, base: str) -> respx.Route:
    router.get(f"{base}/v4/events/{EVENT_ID}").respond(json=MINIMAL_EVENT)
    router.get(f"{base}/v4/events").respond(json=event_search())
    router.patch(f"{base}/v4/events/{EVENT_ID}").respond(200)
    return router.delete(f"{base}/v4/visitors/v").respond(200)


@pytest.mark.parametrize("auth", ["header", "query"])
@pytest.mark.parametrize(("region", "base"), [("us", US), ("eu", EU), ("ap", AP)])
async def test_every_v4_call_sends_the_key_as_a_bearer_token_only(
    respx_mock: respx.MockRouter, auth: Any, region: str, base: str
) -> None:
    mock_every_route(respx_mock, base)
    async with Session(API_KEY, region=region, auth=auth) as fp:
        await call_each(fp)
    assert len(respx_mock.calls) == 4
    for request, _ in respx_mock.calls:
        assert request.url.host == httpx.URL(base).host
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert "auth-token" not in request.headers
        assert "token" not in request.url.params
        assert API_KEY not in str(request.url)


async def test_v3_calls_keep_their_auth_modes(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{US}/visitors/v").respond(json={"visitorId": "v", "visits": []})
    async with Session(API_KEY, auth="query") as fp:
        await fp.get_visits("v")
    [(request, _)] = respx_mock.calls
    assert request.url.params["token"] == API_KEY
    assert "authorization" not in request.headers


async def test_base_url_is_the_host_root(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get("https://proxy.example/fp/v4/events/e").respond(json=MINIMAL_EVENT)
    async with Session(API_KEY, base_url="https://proxy.example/fp/") as fp:
        await fp.get_event("e")
    assert route.call_count == 1


async def test_get_event_decodes_and_sends_the_ruleset(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(f"{US}/v4/events/{EVENT_ID}").respond(json=MINIMAL_EVENT)
    event = await session.get_event(EVENT_ID, ruleset_id="rs_1")
    assert isinstance(event, Event)
    assert (event.event_id, event.timestamp) == (EVENT_ID, MINIMAL_EVENT["timestamp"])
    assert route.calls.last.request.url.params["ruleset_id"] == "rs_1"


async def test_ids_are_percent_encoded_as_one_segment(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.route(host="api.fpjs.io").respond(json=MINIMAL_EVENT)
    await session.get_event("../visitors/x?y")
    await session.delete_visitor_data("..")
    paths = [request.url.raw_path for request, _ in route.calls]
    assert paths == [b"/v4/events/..%2Fvisitors%2Fx%3Fy", b"/v4/visitors/%2E%2E"]


async def test_search_sends_every_filter_in_its_wire_form(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    body = event_search(MINIMAL_EVENT, pagination_key="next", total_hits=42)
    route = respx_mock.get(f"{US}/v4/events").respond(json=body)
    page = await session.search_events(
        visitor_id="v",
        bot="bad",
        suspect=False,
        bot_info_category=["ai_agent", "search_engine"],
        start=1_700_000_000_000,
        limit=100,
        total_hits=1000,
        pagination_key="prev",
    )
    assert isinstance(page, EventSearch)
    assert (page.pagination_key, page.total_hits, len(page.events)) == ("next", 42, 1)
    sent = route.calls.last.request.url.params
    assert sent.multi_items() == [
        ("visitor_id", "v"),
        ("bot", "bad"),
        ("suspect", "false"),
        ("bot_info_category", "ai_agent"),
        ("bot_info_category", "search_engine"),
        ("start", "1700000000000"),
        ("limit", "100"),
        ("total_hits", "1000"),
        ("pagination_key", "prev"),
    ]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda fp: fp.search_events(visitorId="x"), TypeError),
        (lambda fp: fp.search_events(limit=500), ValueError),
        (lambda fp: fp.search_events(vpn="yes"), TypeError),
        (lambda fp: fp.get_event(""), ValueError),
        (lambda fp: fp.update_event(EVENT_ID), ValueError),
        (lambda fp: fp.update_event(EVENT_ID, tags="x"), TypeError),
        (lambda fp: fp.delete_visitor_data(7), TypeError),
    ],
)
async def test_refusals_send_nothing(
    session: Session, respx_mock: respx.MockRouter, call: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await call(session)
    assert not respx_mock.calls


async def test_update_event_sends_a_json_body_of_the_fields_given(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.patch(f"{US}/v4/events/{EVENT_ID}").respond(200)
    assert await session.update_event(EVENT_ID, tags={"case": 17}, suspect=True) is None
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"tags": {"case": 17}, "suspect": True}


async def test_delete_visitor_data(session: Session, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.delete(f"{US}/v4/visitors/v").respond(200, json={})
    assert await session.delete_visitor_data("v") is None
    assert route.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        v4_error(429, "too_many_requests"),
        v4_error(500, "failed"),
        v4_error(503, "service_unavailable"),
        v4_error(504, "failed"),
        httpx.Response(502, text="<html>bad gateway</html>"),
    ],
)
async def test_transient_statuses_are_retried(
    session: Session, respx_mock: respx.MockRouter, failure: httpx.Response
) -> None:
    route = respx_mock.get(f"{US}/v4/events/{EVENT_ID}")
    route.side_effect = [failure, httpx.Response(200, json=MINIMAL_EVENT)]
    assert (await session.get_event(EVENT_ID)).event_id == EVENT_ID
    assert route.call_count == 2
    assert session.stats.retries == 1


async def test_a_v4_429_has_no_retry_after(session: Session, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{US}/v4/events").respond(429, json={"error": {"code": "too_many_requests"}})
    with pytest.raises(RateLimitError) as caught:
        await session.search_events()
    assert (caught.value.code, caught.value.retry_after) == ("too_many_requests", None)
    assert session.stats.requests == 3
    assert session.stats.rate_limited == 3


async def test_an_event_not_yet_mutable_is_retried(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.patch(f"{US}/v4/events/{EVENT_ID}")
    route.side_effect = [v4_error(409, "state_not_ready"), httpx.Response(200)]
    await session.update_event(EVENT_ID, linked_id="L")
    assert route.call_count == 2


async def test_other_conflicts_and_client_errors_are_not_retried(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.patch(f"{US}/v4/events/{EVENT_ID}").mock(
        return_value=v4_error(409, "some_other_conflict")
    )
    with pytest.raises(ConflictError):
        await session.update_event(EVENT_ID, linked_id="L")
    route.mock(return_value=v4_error(404, "event_not_found"))
    with pytest.raises(NotFoundError) as caught:
        await session.update_event(EVENT_ID, linked_id="L")
    assert caught.value.code == "event_not_found"
    assert (caught.value.method, caught.value.path) == ("PATCH", f"/v4/events/{EVENT_ID}")
    assert route.call_count == 2


async def test_a_conflict_that_stays_is_raised_after_the_retries(
    session: Session, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.patch(f"{US}/v4/events/{EVENT_ID}").mock(
        return_value=v4_error(409, "state_not_ready")
    )
    with pytest.raises(ConflictError, match="state_not_ready"):
        await session.update_event(EVENT_ID, suspect=False)
    assert route.call_count == 1 + NO_WAIT.max_retries


def _error_examples() -> list[Any]:
    folder = V4_EXAMPLES / "errors"
    if not folder.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{folder} is absent"))]
    return [pytest.param(path, id=path.stem) for path in sorted(folder.glob("*.json"))]


@pytest.mark.parametrize("path", _error_examples())
async def test_every_documented_error_body_maps_to_its_class_and_code(
    respx_mock: respx.MockRouter, path: Path
) -> None:
    status = int(path.name.split("_")[0])
    body = json.loads(path.read_bytes())  # noqa: ASYNC240 (a small local file)
    respx_mock.get(f"{US}/v4/events/{EVENT_ID}").respond(status, json=body)
    async with Session(API_KEY, retry=RetryPolicy(max_retries=0)) as fp:
        with pytest.raises(CLASSES[status]) as caught:
            await fp.get_event(EVENT_ID)
    assert type(caught.value) is CLASSES[status]
    assert caught.value.status == status
    assert caught.value.code == body["error"]["code"]
    assert caught.value.message == body["error"]["message"]


async def test_the_key_never_shows(
    respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fpjs_async")
    quoting = {"error": {"code": "secret_api_key_not_found", "message": f"no key {API_KEY}"}}
    respx_mock.get(f"{US}/v4/events/{EVENT_ID}").respond(403, json=quoting)
    respx_mock.get(f"{US}/v4/events").respond(200, text=f"<html>{API_KEY}</html>")
    respx_mock.patch(f"{US}/v4/events/{EVENT_ID}").mock(side_effect=httpx.ConnectError(API_KEY))
    async with Session(API_KEY, retry=NO_WAIT) as fp:
        assert API_KEY not in repr(fp)
        failures: list[BaseException] = []
        for call, error in [
            (fp.get_event(EVENT_ID), AuthenticationError),
            (fp.search_events(), ResponseDecodeError),
            (fp.update_event(EVENT_ID, suspect=True), TransportError),
        ]:
            with pytest.raises(error) as caught:
                await call
            failures.append(caught.value)
    texts = [text for failure in failures for text in texts_of(failure)]
    texts += [record.getMessage() for record in caplog.records]
    assert texts
    assert not [text for text in texts if API_KEY in text]
    cause = failures[2].__cause__
    assert isinstance(cause, httpx.ConnectError)
    # The request is attached to the failure, and carries no key either.
    assert cause.request.url == f"{US}/v4/events/{EVENT_ID}"
    assert "authorization" not in cause.request.headers
