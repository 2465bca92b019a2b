"""The choice of transport, and what each one does before and after the wire: the request it
builds, the body it decodes, the errors it raises. (On real sockets: tests/integration.)"""

from __future__ import annotations

import asyncio
import gzip
import sys
import zlib

import aiohttp
import httpx
import pytest
from aiohttp.http_exceptions import ContentEncodingError
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from fpjs_async import RetryPolicy, Session, TransportError, _aiohttp, _transport
from fpjs_async._aiohttp import AiohttpSender
from fpjs_async._builtin import BuiltinSender
from fpjs_async._httpcore import PooledSender
from fpjs_async._sender import attempt_deadline, decode_content, stricter
from fpjs_async._transport import ClientSender, auto_transport, make_sender

pytestmark = pytest.mark.anyio

BASE = "https://api.fpjs.io"
TIMEOUT = httpx.Timeout(5.0)
KEY = "Sk7Qv2ZpL9xWm4TnR8bJ"


def sender(
    transport: str, *, http2: bool = False, client: httpx.AsyncClient | None = None
) -> object:
    return make_sender(
        transport,  # type: ignore[arg-type]
        BASE,
        4,
        timeout=TIMEOUT,
        http2=http2,
        http_client=client,
    )


@pytest.fixture(autouse=True)
def real_auto_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `"auto"` picks here is the library's own choice, whatever a test setup swapped."""
    monkeypatch.setattr(_transport, "auto_transport", auto_transport)


# --- the choice --------------------------------------------------------------------------


def test_auto_is_the_builtin_connections_or_httpcore_for_http2() -> None:
    assert isinstance(sender("auto"), BuiltinSender)
    assert isinstance(sender("auto", http2=True), PooledSender)
    assert isinstance(Session(KEY)._requester.sender, BuiltinSender)


@pytest.mark.parametrize(
    ("transport", "kind"),
    [("builtin", BuiltinSender), ("aiohttp", AiohttpSender), ("httpcore", PooledSender)],
)
def test_each_transport_by_name(transport: str, kind: type) -> None:
    assert isinstance(sender(transport), kind)
    assert isinstance(Session(KEY, transport=transport)._requester.sender, kind)  # type: ignore[arg-type]


async def test_an_injected_client_is_sent_through() -> None:
    async with httpx.AsyncClient() as client:
        assert isinstance(sender("auto", client=client), ClientSender)
        with pytest.raises(ValueError, match="leave it 'auto' with an http_client"):
            sender("builtin", client=client)


@pytest.mark.parametrize("transport", ["builtin", "aiohttp"])
def test_http2_needs_httpcore(transport: str) -> None:
    with pytest.raises(ValueError, match=r"HTTP/1\.1 only"):
        sender(transport, http2=True)


@pytest.mark.parametrize(
    ("transport", "error"), [(None, TypeError), ("h11", ValueError), ("AIOHTTP", ValueError)]
)
def test_an_unknown_transport_is_refused(transport: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="transport must be one of 'auto', 'builtin', 'aiohttp'"):
        Session(KEY, transport=transport)  # type: ignore[arg-type]


def test_aiohttp_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_aiohttp, "aiohttp", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"fpjs-async\[aiohttp\]"):
        Session(KEY, transport="aiohttp")
    assert isinstance(Session(KEY)._requester.sender, BuiltinSender)  # "auto" needs none


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_aiohttp_is_refused_under_trio() -> None:
    async with Session(KEY, base_url="http://127.0.0.1:9", transport="aiohttp") as session:
        with pytest.raises(RuntimeError, match="asyncio only; under trio, use transport='builtin'"):
            await session.get_visits("visitor")
        assert session.stats.requests == 1  # the attempt counted, nothing retried


# --- timeouts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "deadline"),
    [
        (httpx.Timeout(5.0), 5.0),
        (httpx.Timeout(5.0, connect=30.0), 30.0),
        (httpx.Timeout(None), None),
        (httpx.Timeout(None, read=2.0), 2.0),
    ],
)
def test_an_attempt_is_bounded_by_the_longest_timeout(
    timeout: httpx.Timeout, deadline: float | None
) -> None:
    assert attempt_deadline(timeout) == deadline


def test_a_phase_timeout_applies_alone_when_it_cuts_sooner() -> None:
    assert stricter(2.0, 5.0) == 2.0
    assert stricter(5.0, 5.0) is None
    assert stricter(None, 5.0) is None
    assert stricter(2.0, None) == 2.0


# --- the built-in connections' requests --------------------------------------------------


def test_a_request_is_encoded_once_whole() -> None:
    builtin = BuiltinSender(BASE + "/prefix", 4, timeout=TIMEOUT)
    request = builtin.prepare(
        "PATCH",
        "/v4/events/1708.Ab",
        (("a", "x y"), ("a", "ü&")),
        {"Authorization": "Bearer k"},
        b"{}",
    )
    head, body = request.split(b"\r\n\r\n")
    assert body == b"{}"
    assert head.split(b"\r\n") == [
        b"PATCH /prefix/v4/events/1708.Ab?a=x+y&a=%C3%BC%26 HTTP/1.1",
        b"Host: api.fpjs.io",
        b"Accept: application/json",
        b"Accept-Encoding: gzip, deflate",
        b"User-Agent: fpjs-async (python/%d.%d)" % sys.version_info[:2],
        b"Authorization: Bearer k",
        b"Content-Type: application/json",
        b"Content-Length: 2",
    ]
    expected = httpx.Request("GET", BASE + "/prefix/v", params=(("a", "x y"), ("a", "ü&")))
    assert expected.url.query == b"a=x+y&a=%C3%BC%26"  # as httpx encodes parameters


def test_a_request_without_body_has_no_framing_headers() -> None:
    request = BuiltinSender("http://127.0.0.1:8080", 4, timeout=TIMEOUT).prepare(
        "GET", "/visitors/v", (), {}, None
    )
    assert request.startswith(b"GET /visitors/v HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
    assert request.endswith(b"\r\n\r\n")
    assert b"Content-Length" not in request


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/visitors/ü", {}),
        ("/visitors/a b", {}),
        ("/visitors/a\r\nX-Injected: 1", {}),
        ("/visitors/v", {"Auth-Token": "key\r\nX-Injected: 1"}),
        ("/visitors/v", {"Auth-Token": "kéy"}),
    ],
)
def test_nothing_that_could_break_a_line_is_sent(path: str, headers: dict[str, str]) -> None:
    builtin = BuiltinSender(BASE, 4, timeout=TIMEOUT)
    with pytest.raises(httpx.LocalProtocolError):
        builtin.prepare("GET", path, (), headers, None)


# --- decoding ----------------------------------------------------------------------------

BODY = b'{"visitorId": "v", "visits": []}'


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        (None, BODY),
        ("identity", BODY),
        ("br", BODY),  # never asked for: left as it is, as httpx leaves it
        ("gzip", gzip.compress(BODY)),
        ("X-GZIP", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),
        ("deflate", _raw_deflate(BODY)),
        ("deflate, gzip", gzip.compress(zlib.compress(BODY))),
    ],
)
def test_content_encodings_are_undone(encoding: str | None, content: bytes) -> None:
    assert decode_content(encoding, content) == BODY


@pytest.mark.parametrize(
    ("encoding", "content"),
    [("gzip", BODY), ("gzip", gzip.compress(BODY)[:-12]), ("deflate", b"\x00garbage")],
)
def test_a_body_that_does_not_decode(encoding: str, content: bytes) -> None:
    with pytest.raises(httpx.DecodingError, match=f"not valid {encoding}"):
        decode_content(encoding, content)


# --- aiohttp's errors --------------------------------------------------------------------


def _request_info() -> aiohttp.RequestInfo:
    url = URL(f"{BASE}/visitors/v?token={KEY}")
    headers = CIMultiDictProxy(CIMultiDict({"Auth-Token": KEY}))
    return aiohttp.RequestInfo(url, "GET", headers, url)


def _connection_key() -> object:
    from aiohttp.client_reqrep import ConnectionKey

    return ConnectionKey("api.fpjs.io", 443, True, True, None, None, None)


def _payload_error_with_encoding_cause() -> aiohttp.ClientPayloadError:
    error = aiohttp.ClientPayloadError("Can not decode content-encoding: gzip")
    error.__cause__ = ContentEncodingError("Can not decode content-encoding: gzip")
    return error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (aiohttp.ConnectionTimeoutError("Connection timeout to host"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError("Timeout"), httpx.ReadTimeout),
        (
            aiohttp.ClientConnectorError(_connection_key(), OSError(111, "Connect call failed")),  # type: ignore[arg-type]
            httpx.ConnectError,
        ),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            httpx.RemoteProtocolError,
        ),
        (_payload_error_with_encoding_cause(), httpx.DecodingError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError),
        (aiohttp.ClientConnectionResetError("Cannot write to closing transport"), httpx.ReadError),
        (
            aiohttp.ClientResponseError(_request_info(), (), status=400, message="Bad status line"),
            httpx.RemoteProtocolError,
        ),
        (aiohttp.InvalidURL("http://x:y"), httpx.TransportError),
    ],
)
def test_aiohttp_errors_become_the_httpx_ones_of_the_other_transports(
    error: BaseException, kind: type[Exception]
) -> None:
    mapped = AiohttpSender(BASE, 4, timeout=TIMEOUT)._as_httpx_error(error)
    assert type(mapped) is kind
    assert KEY not in str(mapped)  # aiohttp's own str() quotes the request URL


def test_aiohttps_total_timeout_is_the_whole_attempt_deadline() -> None:
    mapped = AiohttpSender(BASE, 4, timeout=httpx.Timeout(0.5))._as_httpx_error(
        asyncio.TimeoutError()
    )
    assert type(mapped) is httpx.ReadTimeout
    assert str(mapped) == "no complete response within 0.5s"


async def test_an_aiohttp_failure_is_a_transport_error_without_aiohttps_exception() -> None:
    # aiohttp's exceptions hold the request, headers and URL (the key in them) where
    # redaction cannot reach: none is chained to the error raised.
    url = "http://127.0.0.1:9"  # nothing listens on the discard port
    no_retry = RetryPolicy(max_retries=0)
    async with Session(
        KEY, base_url=url, transport="aiohttp", auth="query", retry=no_retry
    ) as session:
        with pytest.raises(TransportError, match="ConnectError") as caught:
            await session.get_visits("v")
    cause = caught.value.__cause__
    assert isinstance(cause, httpx.ConnectError)
    assert cause.__cause__ is None
    assert cause.__context__ is None
