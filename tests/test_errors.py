"""Error responses: each status and each body form becomes the right typed error."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

import pytest
import respx
from _bodies import API_KEY, HTML_PAGE, US

from fpjs_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FingerprintError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Session,
    TransportError,
)
from fpjs_async._errors import api_error_from_response

pytestmark = pytest.mark.anyio

CLASS_BY_STATUS: list[tuple[int, type[APIError]]] = [
    (400, BadRequestError),
    (403, AuthenticationError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, BadRequestError),
    (429, RateLimitError),
    (500, ServerError),
    (501, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
    (401, APIError),
    (418, APIError),
]

#: (body, expected code, expected message or its start)
BODY_FORMS: list[tuple[bytes, str | None, str]] = [
    (b'{"error": "Forbidden (HTTP 403)"}', None, "Forbidden (HTTP 403)"),
    (
        b'{"error": {"code": "TokenNotFound", "message": "secret key is not found"}}',
        "TokenNotFound",
        "secret key is not found",
    ),
    (HTML_PAGE, None, "unexpected response body: '<html><head><title>502 Bad Gateway"),
    (b"", None, "empty response body"),
]


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    async with Session(API_KEY, auth="query", retry=RetryPolicy(max_retries=0)) as fp:
        yield fp


@pytest.mark.parametrize(("body", "code", "message"), BODY_FORMS)
@pytest.mark.parametrize(("status", "cls"), CLASS_BY_STATUS)
async def test_status_and_body_form_map_to_the_error(
    session: Session,
    respx_mock: respx.MockRouter,
    status: int,
    cls: type[APIError],
    body: bytes,
    code: str | None,
    message: str,
) -> None:
    route = respx_mock.get(US + "/visitors/a%2Fb").respond(status, content=body)
    with pytest.raises(APIError) as caught:
        await session.get_visits("a/b", limit=5)
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code) == (status, code)
    assert (error.method, error.path) == ("GET", "/visitors/a%2Fb")
    assert error.message.startswith(message)
    assert len(error.message) < 300
    assert str(error).startswith(f"HTTP {status}")
    assert str(error).endswith("(GET /visitors/a%2Fb)")
    # The query string (which holds the key in this auth mode) is never part of the error.
    for text in (str(error), repr(error), repr(error.args)):
        assert "?" not in text
        assert "limit" not in text
        assert API_KEY not in text
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"error": {"code": "Odd"}}', "Odd", "unexpected response body"),
        (b'{"error": {"code": 7, "message": "seven"}}', None, "seven"),
        (b'{"error": {"message": ["not", "text"]}}', None, "unexpected response body"),
        (b'{"error": null}', None, "unexpected response body"),
        (b'{"message": "no error key"}', None, "unexpected response body"),
        (b'["error"]', None, "unexpected response body"),
        (b"\xff\xfe<html>", None, "unexpected response body"),
        (b"   \n", None, "empty response body"),
        (b'{"error": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None, "unexpected response"),
    ],
)
def test_unusual_error_bodies(body: bytes, code: str | None, message: str) -> None:
    error = api_error_from_response(500, body, method="GET", path="/visitors/v")
    assert type(error) is ServerError
    assert error.code == code
    assert error.message.startswith(message)


@pytest.mark.parametrize("retry_after", [None, 7.0])
def test_rate_limit_error_carries_retry_after(retry_after: float | None) -> None:
    error = api_error_from_response(
        429, b'{"error": "too many requests"}', method="GET", path="/p", retry_after=retry_after
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == retry_after


def test_str_with_and_without_code_and_path() -> None:
    assert str(APIError(418, None, "teapot")) == "HTTP 418: teapot"
    assert str(APIError(400, "C", "m", path="/x")) == "HTTP 400 C: m (GET /x)"


ERRORS: list[FingerprintError] = [
    APIError(418, None, "teapot", method="GET", path="/visitors/v"),
    BadRequestError(400, "RequestCannotBeParsed", "invalid limit", path="/visitors/v"),
    AuthenticationError(403, "TokenNotFound", "secret key is not found", path="/visitors/v"),
    NotFoundError(404, "VisitorNotFound", "visitor not found", path="/visitors/v"),
    RateLimitError(429, None, "too many requests", path="/visitors/v", retry_after=2.5),
    ServerError(503, None, "empty response body", path="/visitors/v"),
    TransportError("ConnectError: refused (GET /visitors/v)"),
    ResponseDecodeError(200, "<html>", "invalid JSON: Expecting value"),
    PaginationError("the cursor did not move"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_round_trip(error: FingerprintError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)


def test_hierarchy() -> None:
    for cls in (BadRequestError, AuthenticationError, NotFoundError, RateLimitError, ServerError):
        assert issubclass(cls, APIError)
    for cls in (APIError, TransportError, ResponseDecodeError, PaginationError):
        assert issubclass(cls, FingerprintError)
