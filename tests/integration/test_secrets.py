"""The secret key stays secret: never in a repr, an exception, a log record of ours or a
redirect, and never sent over a connection whose certificate was not verified.

The servers here are hostile in the way real ones are: a proxy's error page that quotes the
request URL (with the key, in query mode), an API error naming the key it refused, a captive
portal answering 200 with HTML that quotes the request, a server that is not HTTP and echoes
the request back.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import anyio
import httpx
import pytest
import trustme
from _bodies import texts_of

from fpjs_async import (
    APIError,
    FingerprintError,
    ResponseDecodeError,
    RetryPolicy,
    Session,
    TransportError,
)
from fpjs_async._cli import main

from ._wire import EMPTY_PAGE, Connection, WireRequest, closed_port, http_response, keep_alive
from .conftest import FAST_RETRY, SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("wire_transport")]

#: A key whose query-string form differs from the key itself (`+`, `/`, `=`).
SECRET_TO_ENCODE = "Sk7+Qv2/ZpL9=xWm4TnR8b"
KEYS = [SECRET, SECRET_TO_ENCODE]
AUTH_MODES = ["header", "query"]
TIMEOUT = 0.2
HANG_GUARD = 10.0


def forms(key: str) -> set[str]:
    """The key as it may appear in text: raw, or encoded as in a URL."""
    return {key, quote(key, safe=""), quote_plus(key)}


#: Any run of this many characters of the key counts as a leak (a cut key is still a key).
WINDOW = 8


def leaks(texts: Iterator[str] | list[str], key: str) -> list[str]:
    """The texts that hold the key or a part of it."""
    parts = {
        form[start : start + WINDOW]
        for form in forms(key)
        for start in range(len(form) - WINDOW + 1)
    }
    return [text for text in texts if any(part in text for part in parts)]


def received_key(request: WireRequest) -> str:
    """The key as the server received it (from the header or the query string)."""
    return request.headers.get("auth-token") or dict(request.params()).get("token", "")


def html(text: str) -> bytes:
    return f"<html><body><h1>Error</h1><p>{text}</p></body></html>".encode()


async def proxy_404_quoting_the_url(request: WireRequest) -> bytes:
    return http_response(404, html(f"Cannot GET {request.target}"))


async def error_naming_the_key(request: WireRequest) -> bytes:
    message = f"secret key {received_key(request)!r} is not active"
    body = f'{{"error": {{"code": "TokenNotFound", "message": "{message}"}}}}'.encode()
    return http_response(403, body)


async def plain_error_quoting_headers(request: WireRequest) -> bytes:
    lines = [f"denied: {received_key(request)}", f"{request.method} {request.target}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return http_response(500, "\n".join(lines).encode())


async def portal_200_quoting_everything(request: WireRequest) -> bytes:
    quoted = f"{request.target} {received_key(request)}"
    return http_response(200, html(f"Sign in to continue to {quoted}"))


async def json_field_holding_the_key(request: WireRequest) -> bytes:
    # A page whose `time` is the key: the decode error quotes the value it could not parse.
    body = (
        f'{{"visitorId": "v", "visits": [{{"requestId": "r", "timestamp": 1, '
        f'"time": "{received_key(request)}"}}]}}'
    ).encode()
    return http_response(200, body)


async def key_across_the_excerpt_cut(request: WireRequest) -> bytes:
    # An error message quotes the first 200 characters of an unexpected body: the cut falls
    # inside the key and must not leave the first half of it behind.
    return http_response(400, b"x" * 190 + received_key(request).encode())


async def echo_instead_of_http(conn: Connection) -> None:
    # Not HTTP: the request head comes back, so the HTTP parser quotes it in its error.
    request = await conn.request()
    assert request is not None
    head = f"{request.method} {request.target} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    await conn.send(head.encode("latin-1") + b"\r\n")
    await conn.close()


async def stall(conn: Connection) -> None:
    await conn.request()
    await conn.hold()


REFLECTING_ANSWERS = [
    proxy_404_quoting_the_url,
    error_naming_the_key,
    plain_error_quoting_headers,
    portal_200_quoting_everything,
    json_field_holding_the_key,
    key_across_the_excerpt_cut,
]
FAULTS = [echo_instead_of_http, stall]


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of every logger, from DEBUG up."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


def record_texts(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(message)s")
    return [formatter.format(record) for record in records]


def ours(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "fpjs_async" or r.name.startswith("fpjs_async.")]


async def failure_of(session: Session) -> FingerprintError:
    with anyio.fail_after(HANG_GUARD), pytest.raises(FingerprintError) as caught:
        await session.get_visits("visitor", linked_id="order-7")
    return caught.value


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("key", KEYS, ids=["alnum", "encoded"])
@pytest.mark.parametrize("answer", REFLECTING_ANSWERS, ids=lambda answer: answer.__name__)
async def test_key_quoted_by_the_server_is_redacted(
    serve: StartServer,
    captured: pytest.LogCaptureFixture,
    answer: object,
    key: str,
    auth: str,
) -> None:
    server = serve(keep_alive(answer))  # type: ignore[arg-type]
    async with Session(key, base_url=server.url, auth=auth, retry=FAST_RETRY) as session:
        error = await failure_of(session)
    assert isinstance(error, (APIError, ResponseDecodeError))
    assert leaks(texts_of(error), key) == []
    assert leaks(record_texts(ours(captured.records)), key) == []
    if auth == "query" or answer is not proxy_404_quoting_the_url:  # the key was quoted
        assert "[REDACTED]" in str(error)


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.__name__)
async def test_transport_errors_hold_no_key(
    serve: StartServer, captured: pytest.LogCaptureFixture, fault: object, auth: str
) -> None:
    server = serve(fault)  # type: ignore[arg-type]
    session = Session(
        SECRET_TO_ENCODE, base_url=server.url, auth=auth, retry=FAST_RETRY, timeout=TIMEOUT
    )
    async with session:
        error = await failure_of(session)
    assert isinstance(error, TransportError)
    assert leaks(texts_of(error), SECRET_TO_ENCODE) == []
    assert leaks(record_texts(ours(captured.records)), SECRET_TO_ENCODE) == []


@pytest.mark.parametrize("auth", AUTH_MODES)
async def test_refused_connection_error_holds_no_key(
    captured: pytest.LogCaptureFixture, auth: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with Session(SECRET, base_url=url, auth=auth, retry=FAST_RETRY) as session:
        error = await failure_of(session)
    assert leaks(texts_of(error), SECRET) == []
    assert leaks(record_texts(ours(captured.records)), SECRET) == []


@pytest.mark.parametrize("auth", AUTH_MODES)
async def test_debug_logs_of_a_working_session_hold_no_key(
    serve: StartServer, captured: pytest.LogCaptureFixture, auth: str
) -> None:
    calls = 0

    async def flaky(request: WireRequest) -> bytes:
        nonlocal calls
        calls += 1
        return http_response(503 if calls == 1 else 200, EMPTY_PAGE)

    server = serve(keep_alive(flaky))
    async with Session(SECRET, base_url=server.url, auth=auth, retry=FAST_RETRY) as session:
        await session.get_visits("visitor", limit=5)
        async for _ in session.iter_visits("visitor"):
            pass
    logged = record_texts(ours(captured.records))
    assert any("retrying" in text for text in logged)  # the logs were captured at DEBUG
    assert any("GET /visitors/visitor" in text for text in logged)
    assert leaks(logged, SECRET) == []
    if auth == "header":
        # With the key in a header, no logger at all shows it: not httpx's, not httpcore's.
        assert leaks(record_texts(captured.records), SECRET) == []


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("key", KEYS, ids=["alnum", "encoded"])
def test_session_repr_and_str_hold_no_key(key: str, auth: str) -> None:
    session = Session(key, base_url="http://127.0.0.1:9", auth=auth)
    texts = [repr(session), str(session), repr(session.retry), repr(session.stats)]
    assert leaks(texts, key) == []


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize(
    "script",
    [*(keep_alive(answer) for answer in REFLECTING_ANSWERS), echo_instead_of_http],
    ids=[*(answer.__name__ for answer in REFLECTING_ANSWERS), "echo_instead_of_http"],
)
def test_command_line_prints_no_key(
    serve: StartServer, capsys: pytest.CaptureFixture[str], script: object, auth: str
) -> None:
    server = serve(script)  # type: ignore[arg-type]
    argv = ["visits", "visitor", "--base-url", server.url, "--auth", auth, "-v"]
    status = main([*argv, "--api-key", SECRET_TO_ENCODE, "--max-retries", "1"])
    printed = capsys.readouterr()
    assert status == 1
    assert "error: " in printed.err
    assert "GET /visitors/visitor" in printed.err  # -v logged the requests
    assert leaks([printed.out, printed.err], SECRET_TO_ENCODE) == []


# --- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_is_never_followed(serve: StartServer, status: int, auth: str) -> None:
    elsewhere = serve(keep_alive(lambda request: _ok()))

    async def redirect(request: WireRequest) -> bytes:
        location = f"{elsewhere.url}{request.target}"
        return http_response(status, b"", headers={"Location": location})

    server = serve(keep_alive(redirect))
    async with Session(SECRET, base_url=server.url, auth=auth, retry=FAST_RETRY) as session:
        error = await failure_of(session)
    assert isinstance(error, APIError)
    assert error.status == status
    assert server.requests == 1  # not retried either
    assert elsewhere.connections == 0


async def test_redirect_is_not_followed_even_by_a_client_that_follows_them(
    serve: StartServer,
) -> None:
    elsewhere = serve(keep_alive(lambda request: _ok()))

    async def redirect(request: WireRequest) -> bytes:
        return http_response(302, b"", headers={"Location": f"{elsewhere.url}/visitors/x"})

    server = serve(keep_alive(redirect))
    async with httpx.AsyncClient(follow_redirects=True) as client:
        session = Session(SECRET, base_url=server.url, http_client=client, retry=FAST_RETRY)
        async with session:
            error = await failure_of(session)
    assert isinstance(error, APIError)
    assert elsewhere.connections == 0


async def _ok() -> bytes:
    return http_response(200, EMPTY_PAGE)


# --- transport security --------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.fpjs.io",
        "http://example.com:8080",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://0.0.0.0:8000",
        "http://10.0.0.1",
        "http://[::ffff:10.0.0.1]",
        "ftp://127.0.0.1",
        "https://user:pass@api.fpjs.io",
        "https://api.fpjs.io/?token=x",
    ],
)
def test_key_is_never_sent_in_clear_beyond_loopback(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        Session(SECRET, base_url=base_url)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "http://127.8.9.10", "http://localhost:1", "http://[::1]:80"],
)
def test_plain_http_is_accepted_for_loopback(base_url: str) -> None:
    assert Session(SECRET, base_url=base_url).base_url.startswith("http://")


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A throwaway certificate authority, as a test server's issuer."""
    return trustme.CA()


@pytest.fixture
def tls_server(serve: StartServer, authority: trustme.CA) -> str:
    """A loopback HTTPS server whose certificate chains to `authority`, not to any known CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return serve(keep_alive(lambda request: _ok()), ssl_context=context).url


async def test_certificate_is_verified(tls_server: str) -> None:
    retry = RetryPolicy(max_retries=0)
    async with Session(SECRET, base_url=tls_server, retry=retry) as session:
        with anyio.fail_after(HANG_GUARD), pytest.raises(TransportError) as caught:
            await session.get_visits("visitor")
    assert "CERTIFICATE_VERIFY_FAILED" in repr(list(texts_of(caught.value)))


async def test_injected_client_decides_what_to_trust(
    tls_server: str, authority: trustme.CA
) -> None:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    async with httpx.AsyncClient(verify=context) as client:
        session = Session(SECRET, base_url=tls_server, http_client=client)
        async with session:
            page = await session.get_visits("visitor")
    assert page.visits == ()


async def test_injected_client_may_turn_verification_off(tls_server: str) -> None:
    async with (
        httpx.AsyncClient(verify=False) as client,
        Session(SECRET, base_url=tls_server, http_client=client) as session,
    ):
        page = await session.get_visits("visitor")
    assert page.visits == ()
