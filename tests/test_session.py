"""Session: configuration, auth on the wire, lifecycle, injected clients, the key kept secret."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from _bodies import AP, API_KEY, EU, HTML_PAGE, US, counts, history, ok, texts_of, visit
from _clocks import ManualClock

from fpjs_async import (
    APIError,
    FingerprintError,
    Region,
    RetryPolicy,
    Session,
)

pytestmark = [pytest.mark.anyio, pytest.mark.respx(assert_all_called=False)]


@pytest.mark.parametrize(
    ("region", "base_url", "expected"),
    [
        (None, US, Region.US),
        ("us", US, Region.US),
        ("eu", EU, Region.EU),
        ("ap", AP, Region.AP),
        ("EU", EU, Region.EU),
        (Region.US, US, Region.US),
        (Region.EU, EU, Region.EU),
        (Region.AP, AP, Region.AP),
    ],
)
@pytest.mark.parametrize("auth", ["header", "query"])
async def test_region_and_auth_on_the_wire(
    respx_mock: respx.MockRouter, region: Any, base_url: str, expected: Region, auth: str
) -> None:
    route = respx_mock.get(base_url + "/visitors/v").mock(return_value=ok())
    options = {} if region is None else {"region": region}
    async with Session(API_KEY, auth=auth, **options) as session:  # type: ignore[arg-type]
        assert (session.region, session.base_url) == (expected, base_url)
        assert expected.base_url == base_url
        await session.get_visits("v", limit=2)
    request = route.calls.last.request
    if auth == "header":
        assert request.headers["Auth-Token"] == API_KEY
        assert dict(request.url.params) == {"limit": "2"}
    else:
        assert "Auth-Token" not in request.headers
        assert dict(request.url.params) == {"limit": "2", "token": API_KEY}


@pytest.mark.parametrize(
    ("base_url", "request_url"),
    [
        ("https://proxy.example", "https://proxy.example/visitors/v"),
        ("https://proxy.example/", "https://proxy.example/visitors/v"),
        ("https://proxy.example/fp/api", "https://proxy.example/fp/api/visitors/v"),
        ("https://proxy.example/fp/api/", "https://proxy.example/fp/api/visitors/v"),
        ("https://proxy.example:8443", "https://proxy.example:8443/visitors/v"),
        ("http://localhost:8080", "http://localhost:8080/visitors/v"),
        ("http://LOCALHOST", "http://localhost/visitors/v"),
        ("http://fake.localhost/x/", "http://fake.localhost/x/visitors/v"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000/visitors/v"),
        ("http://127.5.6.7", "http://127.5.6.7/visitors/v"),
        ("http://[::1]:8000", "http://[::1]:8000/visitors/v"),
    ],
)
async def test_base_url_overrides_the_region(
    respx_mock: respx.MockRouter, base_url: str, request_url: str
) -> None:
    route = respx_mock.get(request_url).mock(return_value=ok())
    async with Session(API_KEY, region="eu", base_url=base_url) as session:
        assert session.region is Region.EU
        assert session.base_url == request_url.removesuffix("/visitors/v")
        assert request_url.removesuffix("/visitors/v") in repr(session)
        await session.get_visits("v")
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("http://api.fpjs.io", "loopback"),
        ("http://10.0.0.1", "loopback"),
        ("http://localhost.evil.example", "loopback"),
        ("http://127.0.0.1.nip.io", "loopback"),
        ("ftp://proxy.example", "https://"),
        ("proxy.example/api", "https://"),
        ("https://", "https://"),
        ("https://proxy.example/?token=x", "query string"),
        ("https://proxy.example/#top", "fragment"),
        ("https://user:pass@proxy.example", "credentials"),
        ("https://proxy.example:99999", "port 99999"),
        ("http://127.0.0.1:0", "port 0"),
    ],
)
def test_base_url_refused(base_url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Session(API_KEY, base_url=base_url)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"api_key": ""}, ValueError, "api_key"),
        ({"api_key": "   "}, ValueError, "api_key"),
        ({"api_key": None}, TypeError, "api_key"),
        ({"api_key": API_KEY.encode()}, TypeError, "api_key"),
        ({"region": "mars"}, ValueError, "region must be one of 'us', 'eu', 'ap'"),
        ({"region": ""}, ValueError, "region"),
        ({"region": 1}, TypeError, "region"),
        ({"region": None}, TypeError, "region"),
        ({"base_url": b"https://proxy.example"}, TypeError, "base_url"),
        ({"auth": "bearer"}, ValueError, "auth must be one of 'header', 'query'"),
        ({"auth": None}, TypeError, "auth"),
        ({"auth": 1}, TypeError, "auth"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": -1.0}, ValueError, "timeout"),
        ({"timeout": float("nan")}, ValueError, "timeout"),
        ({"timeout": "5"}, TypeError, "timeout"),
        ({"timeout": True}, TypeError, "timeout"),
        ({"max_concurrency": 0}, ValueError, "max_concurrency"),
        ({"max_concurrency": 2.5}, TypeError, "max_concurrency"),
        ({"max_concurrency": True}, TypeError, "max_concurrency"),
        ({"retry": {"max_retries": 1}}, TypeError, "retry"),
        ({"http_client": object()}, TypeError, "http_client"),
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    arguments = {"api_key": API_KEY, **kwargs}
    with pytest.raises(error, match=words):
        Session(**arguments)


@pytest.mark.parametrize("key", [API_KEY + "\n", " " + API_KEY, API_KEY + "é", "a\tb", "k\x00"])
def test_a_key_httpx_cannot_send_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(ValueError, match="api_key") as caught:
        Session(key)
    for text in texts_of(caught.value):
        assert key.strip() not in text


def test_a_sync_client_is_refused() -> None:
    with httpx.Client() as client, pytest.raises(TypeError, match="AsyncClient"):
        Session(API_KEY, http_client=client)  # type: ignore[arg-type]


@pytest.mark.parametrize("auth", ["header", "query"])
async def test_repr_shows_where_never_the_key(auth: str) -> None:
    async with Session(API_KEY, region="ap", auth=auth) as session:  # type: ignore[arg-type]
        shown = [repr(session), str(session), repr(session._requester), repr(session.stats)]
    assert "'ap'" in shown[0]
    assert AP in shown[0]
    assert f"auth={auth!r}" in shown[0]
    for text in shown:
        assert API_KEY not in text


async def test_properties() -> None:
    policy = RetryPolicy(max_retries=1)
    async with Session(API_KEY, retry=policy, max_concurrency=7, timeout=3) as session:
        assert session.retry is policy
        assert session.max_concurrency == 7
        assert counts(session.stats) == (0, 0, 0)
    async with Session(API_KEY, timeout=httpx.Timeout(2.0, connect=1.0)) as session:
        assert session.retry == RetryPolicy()


async def test_lifecycle(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(US + "/visitors/v").mock(return_value=ok())
    session = Session(API_KEY)
    assert not session.closed
    async with session as entered:
        assert entered is session
        await session.get_visits("v")
    assert session.closed
    assert session._requester.sender.is_closed
    await session.aclose()
    await session.aclose()
    assert session.closed
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.get_visits("v")
    with pytest.raises(RuntimeError, match="Session is closed"):
        async with session:
            pass
    assert route.call_count == 1


async def test_aclose_without_async_with() -> None:
    session = Session(API_KEY)
    await session.aclose()
    assert session._requester.sender.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await session.get_visits("v")


async def test_injected_client_is_used_and_left_open(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(EU + "/visitors/v").mock(return_value=ok())
    elsewhere = respx_mock.route(host="elsewhere.example")
    async with httpx.AsyncClient(
        base_url="https://elsewhere.example/prefix", headers={"X-App": "shop"}
    ) as client:
        async with Session(API_KEY, region="eu", http_client=client) as session:
            await session.get_visits("v")
        assert not client.is_closed
        assert route.call_count == 1
        assert route.calls.last.request.headers["X-App"] == "shop"
        assert route.calls.last.request.headers["Auth-Token"] == API_KEY
        assert not elsewhere.called
        # Still usable by its owner.
        assert (await client.get(EU + "/visitors/v")).status_code == 200
    assert client.is_closed


@pytest.fixture(params=["own client", "injected client following redirects"])
async def any_session(request: pytest.FixtureRequest) -> AsyncIterator[Session]:
    policy = RetryPolicy(max_retries=0)
    if request.param == "own client":
        async with Session(API_KEY, retry=policy) as session:
            yield session
        return
    async with (
        httpx.AsyncClient(follow_redirects=True) as client,
        Session(API_KEY, retry=policy, http_client=client) as session,
    ):
        yield session


@pytest.mark.parametrize(
    "location", ["https://evil.example/steal", "http://evil.example/", "/visitors/elsewhere"]
)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_never_followed(
    any_session: Session, respx_mock: respx.MockRouter, location: str, status: int
) -> None:
    respx_mock.get(US + "/visitors/v").respond(status, headers={"Location": location})
    evil = respx_mock.route(host="evil.example").mock(return_value=ok())
    moved = respx_mock.get(US + "/visitors/elsewhere").mock(return_value=ok())
    with pytest.raises(APIError) as caught:
        await any_session.get_visits("v")
    assert type(caught.value) is APIError
    assert caught.value.status == status
    assert "redirect" in caught.value.message
    assert not evil.called
    assert not moved.called


# --- the key never shows --------------------------------------------------------------------

OUTCOMES: list[Any] = [
    ok(),
    httpx.Response(403, json={"error": {"code": "TokenNotFound", "message": "not found"}}),
    httpx.Response(403, json={"error": "Forbidden (HTTP 403)"}),
    httpx.Response(500, content=HTML_PAGE),
    httpx.Response(429, json={"error": "too many requests"}, headers={"Retry-After": "1"}),
    httpx.Response(302, headers={"Location": "https://evil.example/"}),
    httpx.Response(200, content=b"<html>maintenance</html>"),
    httpx.Response(200, json=history(visit(timestamp="soon"))),
    httpx.Response(200, json=history(visitorId=None)),
    httpx.ConnectError("[Errno 111] Connection refused"),
    httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.UnsupportedProtocol("Request URL has an unsupported protocol"),
]


@pytest.mark.parametrize(
    "outcome", OUTCOMES, ids=lambda o: getattr(o, "status_code", None) or type(o).__name__
)
@pytest.mark.parametrize("auth", ["header", "query"])
async def test_the_key_never_appears(
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    clock: ManualClock,
    auth: str,
    outcome: Any,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fpjs_async")
    route = respx_mock.get(US + "/visitors/v").mock(side_effect=[outcome, outcome])
    async with Session(
        API_KEY,
        auth=auth,
        retry=RetryPolicy(max_retries=1),  # type: ignore[arg-type]
    ) as session:
        texts = [repr(session)]
        try:
            await session.get_visits("v", limit=3)
        except FingerprintError as error:
            texts.extend(texts_of(error))
    assert route.called
    records = [r for r in caplog.records if r.name.startswith("fpjs_async")]
    texts.extend(r.getMessage() for r in records)
    texts.extend(repr(r.args) for r in records)
    for text in texts:
        assert API_KEY not in text
