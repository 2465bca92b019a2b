"""One request: sent, logged, counted, its transport failures and odd bodies mapped."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from _bodies import API_KEY, HTML_PAGE, US, counts, encode, history

from fpjs_async import (
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    Session,
    TransportError,
)
from fpjs_async._errors import EXCERPT_CHARS
from fpjs_async._h1 import Headers
from fpjs_async._sender import Reply

pytestmark = pytest.mark.anyio

URL = US + "/visitors/v"


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    async with Session(API_KEY, retry=RetryPolicy(max_retries=0)) as fp:
        yield fp


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "ConnectError: [Errno 111]"),
        (httpx.ReadTimeout(""), "ReadTimeout"),
        (httpx.RemoteProtocolError("peer closed connection"), "RemoteProtocolError: peer"),
        (httpx.ConnectTimeout("timed out"), "ConnectTimeout: timed out"),
    ],
)
async def test_transport_errors_become_transport_error(
    session: Session, respx_mock: respx.MockRouter, error: httpx.TransportError, message: str
) -> None:
    respx_mock.get(URL).mock(side_effect=error)
    with pytest.raises(TransportError) as caught:
        await session.get_visits("v", limit=5)
    assert caught.value.__cause__ is error
    assert str(caught.value).startswith(message)
    assert str(caught.value).endswith("(GET /visitors/v)")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json at all",
        HTML_PAGE,
        b"[]",
        encode([history()]),
        encode({"visitorId": "v"}),
        b"x" * (EXCERPT_CHARS * 10),
    ],
)
@pytest.mark.parametrize("status", [200, 203])
async def test_a_2xx_body_that_is_not_the_documented_json(
    session: Session, respx_mock: respx.MockRouter, status: int, content: bytes
) -> None:
    respx_mock.get(URL).respond(status, content=content, content_type="text/html")
    with pytest.raises(ResponseDecodeError) as caught:
        await session.get_visits("v")
    error = caught.value
    assert error.status == status
    assert error.excerpt == content[:EXCERPT_CHARS].decode()
    assert f"HTTP {status}" in str(error)
    assert len(str(error)) < EXCERPT_CHARS + 200


@pytest.mark.parametrize("auth", ["header", "query"])
async def test_each_request_is_logged_at_debug_without_the_key(
    respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture, auth: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="fpjs_async")
    respx_mock.get(URL).respond(200, json=history())
    async with Session(API_KEY, auth=auth) as session:  # type: ignore[arg-type]
        await session.get_visits("v", limit=5, linked_id="order 7")
    [record] = [r for r in caplog.records if r.name == "fpjs_async"]
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert message.startswith("GET /visitors/v?linked_id=order+7&limit=5 -> 200 (")
    assert "token" not in message
    assert API_KEY not in message


async def test_stats_count_requests(session: Session, respx_mock: respx.MockRouter) -> None:
    respx_mock.get(URL).mock(side_effect=[httpx.Response(200, json=history())] * 2)
    respx_mock.get(US + "/visitors/gone").respond(429, json={"error": "too many requests"})
    assert counts(session.stats) == (0, 0, 0)
    await session.get_visits("v")
    await session.get_visits("v")
    with pytest.raises(RateLimitError, match="429"):
        await session.get_visits("gone")
    assert counts(session.stats) == (3, 0, 1)


class ScriptedSender:
    """Answers each send with the next of `statuses`, counting what it was asked to do."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.prepared: list[tuple[object, ...]] = []
        self.sent: list[object] = []

    def prepare(self, *request: object) -> object:
        self.prepared.append(request)
        return request

    async def send(self, request: object) -> Reply:
        self.sent.append(request)
        body = encode(history()) if self.statuses[0] == 200 else b'{"error": "busy"}'
        return Reply(self.statuses.pop(0), Headers(), body)

    async def aclose(self) -> None:
        pass


async def test_a_request_is_built_once_and_sent_by_every_attempt() -> None:
    sender = ScriptedSender(503, 503, 200)
    retry = RetryPolicy(max_retries=2, backoff_base=0, jitter=False)
    async with Session(API_KEY, retry=retry) as session:
        session._requester.sender = sender
        page = await session.get_visits("v", limit=5)
        assert session.stats.retries == 2
    assert page.visitor_id == history()["visitorId"]
    [request] = sender.prepared
    assert request == ("GET", "/visitors/v", (("limit", "5"),), {"Auth-Token": API_KEY}, None)
    assert sender.sent == [request] * 3
