"""Hostile input on both sides of a request.

Arguments: whatever a caller passes as a visitor ID or a parameter, either a `TypeError` or
`ValueError` is raised before anything is sent, or exactly one request goes out whose path
is `/visitors/` plus one segment that decodes back to the visitor ID, and whose query string
decodes back to exactly the parameters given.

Responses: whatever a server answers (huge, nested deeper than any parser allows, a wrong
JSON type or `null` in any field, not JSON at all), the caller gets a page (unknown or `null`
optional fields read leniently as `None`), a `ResponseDecodeError`, or the `APIError` of the
status: never another exception type.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from _bodies import history, visit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpjs_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimit,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    Session,
    VisitorHistory,
)
from fpjs_async._retry import parse_retry_after

from ._wire import EMPTY_PAGE, WireRequest, http_response, keep_alive
from .conftest import SECRET, StartServer

pytestmark = pytest.mark.anyio

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The longest URL httpx builds; servers refuse far shorter ones (414).
MAX_URL_CHARS = 65_536

# --- strategies ----------------------------------------------------------------------------

NASTY_PIECES = [
    ".",
    "..",
    "../x",
    "a/b",
    "/",
    "\\",
    "?",
    "#",
    "&",
    "=",
    "+",
    " ",
    "%",
    "%2F",
    "%2e%2e",
    "%00",
    "?token=stolen",
    "&token=stolen",
    "#fragment",
    "\x00",
    "\r\nX-Injected: 1",
    "\t",
    "\x7f",
    "é",
    "ß",
    "\u202e",
    "\ufeff",
    "😀",
    "\ud800",
    "\udfff",
]

#: Strings built from pieces that break naive URL building, and from any characters.
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(NASTY_PIECES),
        st.text(max_size=12),
        st.characters(categories=["Cs", "Cc", "Zs", "Zl", "So"]),
    ),
    max_size=6,
).map("".join)

huge_text = st.integers(min_value=10_000, max_value=200_000).map(lambda n: "v" * n)

wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.builds(object),
)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def expected_text_error(value: object, *, optional: bool) -> type[Exception] | None:
    """The error the documented validation raises for a text argument (`None`: valid)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        return TypeError
    if not value or not _encodable(value):
        return ValueError
    return None


class Recorder:
    """A mock transport that records each request and answers it with the current body."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200
        self.body = EMPTY_PAGE
        self.headers: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=self.body, headers=self.headers)

    def session(self, **options: Any) -> Session:
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return Session(SECRET, http_client=self.client, retry=RetryPolicy(max_retries=0), **options)


async def send(recorder: Recorder, visitor_id: object, **params: Any) -> VisitorHistory:
    session = recorder.session(auth=params.pop("auth", "header"))
    try:
        async with session:
            return await session.get_visits(visitor_id, **params)  # type: ignore[arg-type]
    finally:
        await recorder.client.aclose()


def split_target(request: httpx.Request) -> WireRequest:
    """The request as a server parses its head (raw target, undecoded)."""
    target = request.url.raw_path.decode("ascii")
    return WireRequest(request.method, target, dict(request.headers))


# --- arguments -----------------------------------------------------------------------------


@EXAMPLES
@given(visitor_id=st.one_of(hostile_text, huge_text, wrong_types))
async def test_visitor_id_is_refused_or_one_exact_path_segment(visitor_id: object) -> None:
    recorder = Recorder()
    error = expected_text_error(visitor_id, optional=False)
    if error is not None:
        with pytest.raises(error):
            await send(recorder, visitor_id)
        assert recorder.requests == []
        return
    try:
        await send(recorder, visitor_id)
    except ValueError:
        # Only an ID whose URL would be longer than any server takes may be refused.
        assert len(quote(str(visitor_id), safe="")) > MAX_URL_CHARS // 2
        assert recorder.requests == []
        return
    [request] = recorder.requests
    wire = split_target(request)
    assert wire.raw_query == ""
    assert wire.raw_path.split("/")[-1] not in (".", "..")
    assert wire.visitor_segment == visitor_id


text_params = st.one_of(st.none(), hostile_text, wrong_types)
limits = st.one_of(st.none(), st.integers(min_value=-10, max_value=1000), wrong_types)
befores = st.one_of(
    st.none(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.datetimes(timezones=st.none() | st.timezones()),
    wrong_types,
)


def expected_params_error(params: dict[str, Any]) -> type[Exception] | None:
    """The error the documented validation raises for these parameters (`None`: valid)."""
    for name in ("request_id", "linked_id", "pagination_key"):
        error = expected_text_error(params[name], optional=True)
        if error is not None:
            return error
    limit, before = params["limit"], params["before"]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            return TypeError
        if not 1 <= limit <= 500:
            return ValueError
    if before is not None:
        if isinstance(before, datetime):
            if before.utcoffset() is None or before < EPOCH:
                return ValueError
        elif isinstance(before, bool) or not isinstance(before, int):
            return TypeError
        elif not 0 <= before < 2**63:
            return ValueError
        if params["pagination_key"] is not None:
            return ValueError
    return None


@EXAMPLES
@given(
    request_id=text_params,
    linked_id=text_params,
    pagination_key=text_params,
    limit=limits,
    before=befores,
    auth=st.sampled_from(["header", "query"]),
)
async def test_parameters_are_refused_or_round_trip_exactly(auth: str, **params: Any) -> None:
    recorder = Recorder()
    error = expected_params_error(params)
    if error is not None:
        with pytest.raises(error):
            await send(recorder, "visitor", auth=auth, **params)
        assert recorder.requests == []
        return
    await send(recorder, "visitor", auth=auth, **params)
    [request] = recorder.requests
    wire = split_target(request)
    assert wire.visitor_segment == "visitor"
    received = wire.params()
    names = [name for name, _ in received]
    assert len(names) == len(set(names)), f"a parameter was sent twice: {received}"
    received_params = dict(received)
    if auth == "query":
        assert received_params.pop("token") == SECRET
    else:
        assert request.headers["auth-token"] == SECRET
    sent_before = received_params.pop("before", None)
    expected = {
        "request_id": params["request_id"],
        "linked_id": params["linked_id"],
        "paginationKey": params["pagination_key"],
        "limit": None if params["limit"] is None else str(params["limit"]),
    }
    assert received_params == {k: v for k, v in expected.items() if v is not None}
    before = params["before"]
    if before is None:
        assert sent_before is None
    elif isinstance(before, int):
        assert sent_before == str(before)
    else:  # a datetime: milliseconds, rounded one way or the other
        assert sent_before is not None
        exact = (before - EPOCH) / timedelta(milliseconds=1)
        assert abs(int(sent_before) - exact) < 1


async def test_visitor_id_too_long_for_any_url_is_a_value_error() -> None:
    recorder = Recorder()
    with pytest.raises(ValueError, match="ID and parameters make no URL"):
        await send(recorder, "v" * MAX_URL_CHARS)
    assert recorder.requests == []


@pytest.mark.usefixtures("wire_transport")
async def test_nasty_visitor_ids_on_the_wire(serve: StartServer) -> None:
    """The same guarantee through a real socket: the server sees one decodable segment."""
    seen: list[WireRequest] = []

    async def record(request: WireRequest) -> bytes:
        seen.append(request)
        return http_response(200, EMPTY_PAGE)

    server = serve(keep_alive(record))
    ids = [piece for piece in NASTY_PIECES if _encodable(piece)]
    async with Session(SECRET, base_url=server.url, auth="query") as session:
        for visitor_id in ids:
            await session.get_visits(visitor_id, linked_id=visitor_id)
    assert [request.visitor_segment for request in seen] == ids
    assert [request.params() for request in seen] == [
        [("linked_id", visitor_id), ("token", SECRET)] for visitor_id in ids
    ]


# --- responses -----------------------------------------------------------------------------


def is_required(path: tuple[Any, ...]) -> bool:
    """Whether the API documents the field at `path` as always present and not null."""
    if path in (("visitorId",), ("visits",)):
        return True
    if len(path) >= 2 and path[0] == "visits":
        return len(path) == 2 or (len(path) == 3 and path[2] in ("requestId", "timestamp"))
    return False


REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1.5,
    float("nan"),
    "",
    "text",
    "2024-13-45T99:99:99Z",
    [],
    [None],
    {},
    {"unexpected": None},
]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a JSON document, the document itself excluded."""
    if not isinstance(value, (dict, list)):
        return
    children: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copied


def removed(document: Any, path: tuple[Any, ...]) -> Any:
    copied = copy.deepcopy(document)
    target = copied
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copied


async def decode_through_session(recorder: Recorder, session: Session, body: bytes) -> object:
    """The page, or the `ResponseDecodeError`; any other exception propagates."""
    recorder.body = body
    try:
        return await session.get_visits("visitor")
    except ResponseDecodeError as error:
        return error


async def test_every_field_replaced_by_every_json_type() -> None:
    document = history(visit(), visit())
    recorder = Recorder()
    outcomes = {"page": 0, "error": 0}
    async with recorder.session() as session:
        for path in paths(document):
            variants = [replaced(document, path, new) for new in REPLACEMENTS]
            if not isinstance(path[-1], int):
                variants.append(removed(document, path))
            for variant in variants:
                outcome = await decode_through_session(
                    recorder, session, json.dumps(variant).encode()
                )
                outcomes["page" if isinstance(outcome, VisitorHistory) else "error"] += 1
            # `null` (or a missing key) where the API documents an optional field reads as None.
            if not is_required(path) and not isinstance(path[-1], int):
                for lenient in (replaced(document, path, None), removed(document, path)):
                    outcome = await decode_through_session(
                        recorder, session, json.dumps(lenient).encode()
                    )
                    assert isinstance(outcome, VisitorHistory), (path, outcome)
            if is_required(path):
                outcome = await decode_through_session(
                    recorder, session, json.dumps(replaced(document, path, None)).encode()
                )
                assert isinstance(outcome, ResponseDecodeError), path
        await recorder.client.aclose()
    # Both outcomes were exercised.
    assert outcomes["page"]
    assert outcomes["error"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
DOCUMENT = history(visit())
DOCUMENT_PATHS = list(paths(DOCUMENT))


@EXAMPLES
@given(
    whole=st.one_of(st.none(), json_values),
    path=st.sampled_from(DOCUMENT_PATHS),
    new=json_values,
)
async def test_random_json_anywhere_is_a_page_or_a_decode_error(
    whole: Any, path: tuple[Any, ...], new: Any
) -> None:
    recorder = Recorder()
    bodies = [json.dumps(replaced(DOCUMENT, path, new)).encode()]
    if whole is not None:
        bodies.append(json.dumps(whole).encode())
    async with recorder.session() as session:
        for body in bodies:
            outcome = await decode_through_session(recorder, session, body)
            assert isinstance(outcome, (VisitorHistory, ResponseDecodeError))
        await recorder.client.aclose()


def nested(depth: int, leaf: str = "1") -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


NOT_THE_DOCUMENTED_JSON = [
    b"",
    b"   ",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b"\xff\xfe\x00garbage",
    b"\xef\xbb\xbf" + EMPTY_PAGE,
    b'{"visitorId": "v", "visits": [',
    b"<html><body>Service temporarily unavailable</body></html>",
    nested(100_000),
    b'{"visitorId": "v", "visits": [{"requestId": "r", "timestamp": 1, "tag": '
    + nested(100_000)
    + b"}]}",
    b'{"visitorId": "v", "visits": ' + nested(100_000) + b"}",
    b'{"visitorId": "v", "visits": [], "lastTimestamp": 1e999}',
    b'{"visitorId": "v", "visits": [], "lastTimestamp": NaN}',
]


@pytest.mark.parametrize("body", NOT_THE_DOCUMENTED_JSON, ids=lambda body: repr(body[:30]))
async def test_bodies_that_are_not_the_documented_json(body: bytes) -> None:
    recorder = Recorder()
    async with recorder.session() as session:
        outcome = await decode_through_session(recorder, session, body)
        await recorder.client.aclose()
    assert isinstance(outcome, (VisitorHistory, ResponseDecodeError))


@pytest.mark.parametrize("depth", [100, 500, 900, 2_000])
async def test_deep_but_parseable_tag_is_a_page_or_a_decode_error(depth: int) -> None:
    body = json.dumps(history(visit(tag={"deep": "PLACEHOLDER"}))).encode()
    body = body.replace(b'"PLACEHOLDER"', nested(depth))
    recorder = Recorder()
    async with recorder.session() as session:
        outcome = await decode_through_session(recorder, session, body)
        await recorder.client.aclose()
    assert isinstance(outcome, (VisitorHistory, ResponseDecodeError))
    if depth <= 100:  # deeper than any real tag, well within what parsers take: data
        assert isinstance(outcome, VisitorHistory)


async def test_huge_bodies_decode() -> None:
    many = history(*[{"requestId": f"r{i}", "timestamp": i} for i in range(50_000)])
    long_url = history(visit(url="https://shop.example/?" + "q" * 5_000_000))
    recorder = Recorder()
    async with recorder.session() as session:
        page = await decode_through_session(recorder, session, json.dumps(many).encode())
        assert isinstance(page, VisitorHistory)
        assert len(page.visits) == 50_000
        page = await decode_through_session(recorder, session, json.dumps(long_url).encode())
        assert isinstance(page, VisitorHistory)
        assert len(page.visits[0].url or "") > 5_000_000
        await recorder.client.aclose()


async def test_a_huge_value_is_not_quoted_whole() -> None:
    body = json.dumps(history(visit(time="9" * 1_000_000))).encode()
    recorder = Recorder()
    async with recorder.session() as session:
        outcome = await decode_through_session(recorder, session, body)
        await recorder.client.aclose()
    assert isinstance(outcome, ResponseDecodeError)
    assert len(str(outcome)) < 2_000
    assert len(repr(outcome)) < 2_000


ERROR_CLASSES = {
    400: BadRequestError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    418: APIError,
}
HOSTILE_ERROR_BODIES = [
    b"",
    b"null",
    b"[]",
    b'{"error": null}',
    b'{"error": 5}',
    b'{"error": []}',
    b'{"error": {"code": 5, "message": ["x"]}}',
    b'{"error": {"code": null}}',
    b'{"error": "' + b"x" * 1_000_000 + b'"}',
    b"\xff\xfe garbage",
    nested(100_000),
    b'{"error": ' + nested(100_000) + b"}",
    b"<html>" + b"<div>" * 10_000 + b"</html>",
]


@pytest.mark.parametrize("status", sorted(ERROR_CLASSES))
async def test_hostile_error_bodies_keep_the_class_of_the_status(status: int) -> None:
    recorder = Recorder()
    recorder.status = status
    async with recorder.session() as session:
        for body in HOSTILE_ERROR_BODIES:
            recorder.body = body
            with pytest.raises(APIError) as caught:
                await session.get_visits("visitor")
            assert type(caught.value) is ERROR_CLASSES[status]
            assert caught.value.status == status
            assert len(str(caught.value)) < 2_000  # an excerpt, not the whole body
        await recorder.client.aclose()


@EXAMPLES
@given(value=st.one_of(st.text(), st.sampled_from(["inf", "-inf", "nan", "1e999", "-5", "0x10"])))
def test_retry_after_is_none_or_finite_and_not_negative(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or 0 <= seconds < float("inf")


@pytest.mark.parametrize(
    "retry_after", ["nan", "inf", "1e999", "-1", "soon", "Wed, 99 Foo 2024 99:99:99 GMT", ""]
)
async def test_hostile_retry_after_is_not_obeyed(
    retry_after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("fpjs_async._retry.sleep", no_sleep)
    recorder = Recorder()
    recorder.status = 429
    recorder.headers = {"Retry-After": retry_after}
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    retry = RetryPolicy(max_retries=2, backoff_base=0.01, jitter=False)
    # A fixed rate far above what is sent: the waits are the retries' alone (without it, 429s
    # with no usable Retry-After lower the session's adaptive pace, which waits too).
    session = Session(SECRET, http_client=client, retry=retry, rate_limit=RateLimit(1e6))
    async with client, session:
        with pytest.raises(RateLimitError) as caught:
            await session.get_visits("visitor")
    assert caught.value.retry_after is None or caught.value.retry_after == 0
    assert len(recorder.requests) == 3
    assert all(0 <= wait <= 0.02 for wait in waits)
