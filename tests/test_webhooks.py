"""Webhook signatures (`fpjs_async.webhooks`) and the signed requests tests make of them."""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from fpjs_async import FingerprintError, ResponseDecodeError
from fpjs_async._converter import converter, decode_body
from fpjs_async._errors import WebhookSignatureError
from fpjs_async.events import Event
from fpjs_async.testing._signing import send_webhook, sign_webhook
from fpjs_async.webhooks import SIGNATURE_HEADER, is_valid_signature, verify_event

SECRET = "webhook-secret-Wq8x"
# The official SDKs' test vector: HMAC-SHA256 of b"data" under "secret".
SDK_BODY, SDK_SECRET = b"data", "secret"
SDK_HASH = "1b2c16b75bd2a870c114153ccda5bcfca63314bc722fa160d690de133ccbb9db"
BODY = b'{"event_id":"1708102555327.NLOjmg","timestamp":1708102555327}'


# --- is_valid_signature -----------------------------------------------------------------


def test_the_sdk_test_vector_is_valid() -> None:
    assert is_valid_signature(f"v1={SDK_HASH}", SDK_BODY, SDK_SECRET) is True
    assert sign_webhook(SDK_BODY, SDK_SECRET) == f"v1={SDK_HASH}"


@pytest.mark.parametrize(
    "header",
    [
        f"v1={SDK_HASH}",
        f"v1=0000,v1={SDK_HASH}",
        f"v2=abc,v1={SDK_HASH},v0=zz",
        f"  v1 = {SDK_HASH} ,v1=ffff",
        f"v1=,,v1={SDK_HASH},",
        f"junk,=,v1=ü,v1={SDK_HASH}",
    ],
    ids=["one", "second-v1", "among-versions", "spaces", "empty-pairs", "garbage-pairs"],
)
def test_any_matching_v1_pair_makes_it_valid(header: str) -> None:
    assert is_valid_signature(header, SDK_BODY, SDK_SECRET) is True
    assert is_valid_signature(header.encode("utf-8"), SDK_BODY, SDK_SECRET) is True


@pytest.mark.parametrize(
    "header",
    [
        f"v2={SDK_HASH}",
        f"V1={SDK_HASH}",
        f"v1={SDK_HASH[:-1]}",
        f"v1={SDK_HASH}0",
        f"v1={SDK_HASH.upper()}",
        f"v1:{SDK_HASH}",
        SDK_HASH,
        "v1=",
        "v1",
        ",,,",
        "=",
        "v1=ü",
        "v1=\udcff",
        "v1=\x00",
    ],
)
def test_no_matching_v1_pair_is_invalid(header: str) -> None:
    assert is_valid_signature(header, SDK_BODY, SDK_SECRET) is False


def test_wrong_secret_or_tampered_body_is_invalid() -> None:
    header = sign_webhook(BODY, SECRET)
    assert is_valid_signature(header, BODY, SECRET) is True
    assert is_valid_signature(header, BODY, SECRET + "x") is False
    assert is_valid_signature(header, BODY.replace(b"1708", b"1709"), SECRET) is False
    assert is_valid_signature(header, BODY + b" ", SECRET) is False


def test_empty_header_secret_or_body_is_invalid() -> None:
    empty_secret = "v1=" + "e528c4d99e6177f5841f712a143b90843299a4aa181a06501422d9ca862bd2a5"
    assert is_valid_signature(empty_secret, SDK_BODY, "") is False  # HMAC under b"" matches
    assert is_valid_signature(sign_webhook(b"", SECRET), b"", SECRET) is False
    assert is_valid_signature("", BODY, SECRET) is False
    assert is_valid_signature(None, BODY, SECRET) is False
    assert is_valid_signature(b"", BODY, SECRET) is False


@settings(deadline=None, max_examples=300)
@given(header=st.text() | st.binary())
def test_no_header_makes_it_raise(header: str | bytes) -> None:
    assert is_valid_signature(header, BODY, SECRET) is False


@settings(deadline=None)
@given(
    versions=st.lists(st.sampled_from(["v0", "v2", "v1x", " v3 "]), max_size=4),
    junk=st.lists(st.text(alphabet=st.characters(exclude_characters=",")), max_size=4),
)
def test_the_right_hash_among_any_other_pairs_is_valid(
    versions: list[str], junk: list[str]
) -> None:
    right = sign_webhook(BODY, SECRET)
    pairs = [*(f"{version}={right[3:]}" for version in versions), *junk, right]
    assert is_valid_signature(",".join(pairs), BODY, SECRET) is True
    assert is_valid_signature(",".join(pairs[:-1]), BODY, SECRET) is False


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        (("v1=00", BODY.decode(), SECRET), "body"),
        (("v1=00", bytearray(BODY), SECRET), "body"),
        (("v1=00", BODY, SECRET.encode()), "secret"),
        (("v1=00", BODY, None), "secret"),
        ((["v1=00"], BODY, SECRET), "header"),
        ((17, BODY, SECRET), "header"),
    ],
    ids=["body-str", "body-bytearray", "secret-bytes", "secret-none", "header-list", "header-int"],
)
def test_arguments_of_the_wrong_type_are_a_type_error(
    arguments: tuple[Any, ...], name: str
) -> None:
    with pytest.raises(TypeError, match=f"^{name} "):
        is_valid_signature(*arguments)
    with pytest.raises(TypeError, match=f"^{name} "):
        verify_event(*arguments)


def test_the_signature_covers_the_raw_bytes_not_the_json(example_body: bytes) -> None:
    header = sign_webhook(example_body, SECRET)
    assert is_valid_signature(header, example_body, SECRET)
    # The same JSON, parsed and dumped again: other bytes, so no longer the signed ones.
    reserialised = json.dumps(json.loads(example_body)).encode()
    assert json.loads(reserialised) == json.loads(example_body)
    assert not is_valid_signature(header, reserialised, SECRET)


# --- verify_event ----------------------------------------------------------------------


def test_verify_event_decodes_the_example_webhook(example_body: bytes) -> None:
    event = verify_event(sign_webhook(example_body, SECRET), example_body, SECRET)
    assert event == decode_body(example_body, Event)
    assert event.event_id == "1708102555327.NLOjmg"
    assert event.timestamp == 1708102555327
    assert event.identification is not None
    assert event.identification.visitor_id == "Ibk1527CUFmcnjLwIs4A9"


def test_verify_event_decodes_an_event_unstructured_by_the_converter(example_body: bytes) -> None:
    event = decode_body(example_body, Event)
    body = json.dumps(converter.unstructure(event)).encode()
    assert verify_event(sign_webhook(body, SECRET), body, SECRET) == event


@pytest.mark.parametrize(
    ("header", "body", "secret", "reason"),
    [
        ("v1=00", BODY, SECRET, "no v1 signature matches the body"),
        (f"v2={'0' * 64}", BODY, SECRET, "the header holds no v1 signature"),
        (None, BODY, SECRET, f"no {SIGNATURE_HEADER} header"),
        ("v1=00", b"", SECRET, "the body is empty"),
        ("v1=00", BODY, "", "the secret is empty"),
    ],
    ids=["mismatch", "no-v1", "no-header", "empty-body", "empty-secret"],
)
def test_verify_event_says_why_a_signature_fails(
    header: str | None, body: bytes, secret: str, reason: str
) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify_event(header, body, secret)
    assert caught.value.reason == reason
    assert str(caught.value) == f"the webhook's signature is not valid: {reason}"
    assert isinstance(caught.value, FingerprintError)


def test_a_signature_error_never_quotes_the_secret() -> None:
    forged = sign_webhook(BODY, "another-secret")
    with pytest.raises(WebhookSignatureError) as caught:
        verify_event(forged, BODY, SECRET)
    error = caught.value
    for text in (str(error), repr(error), repr(error.args)):
        assert SECRET not in text
        assert forged[3:] not in text
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.reason, str(again)) == (type(error), error.reason, str(error))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"timestamp": 1708102555327}', "event_id"),
        (b'{"event_id": 7, "timestamp": 1708102555327}', "event_id"),
    ],
    ids=["not-json", "array", "no-event-id", "event-id-int"],
)
def test_a_signed_body_that_is_not_an_event_is_a_decode_error(body: bytes, reason: str) -> None:
    with pytest.raises(ResponseDecodeError, match=reason):
        verify_event(sign_webhook(body, SECRET), body, SECRET)


# --- sign_webhook and send_webhook ------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "name"),
    [
        (("text", SECRET), TypeError, "body"),
        ((BODY, b"secret"), TypeError, "secret"),
        ((BODY, ""), ValueError, "secret"),
    ],
)
def test_sign_webhook_checks_its_arguments(
    arguments: tuple[Any, ...], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=f"^{name} "):
        sign_webhook(*arguments)


class Recorder:
    """An ASGI app that keeps what it is POSTed and answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        self.received.append((headers, body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.anyio
async def test_send_webhook_posts_a_signed_event_in_process(example_body: bytes) -> None:
    event = decode_body(example_body, Event)
    app = Recorder()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await send_webhook("/webhook", event, SECRET, client=client)
        mapping = await send_webhook(
            "/webhook", {"event_id": "x", "timestamp": 1}, SECRET, client=client
        )
    assert (response.status_code, mapping.status_code) == (204, 204)
    (headers, body), (_, mapping_body) = app.received
    assert headers["content-type"] == "application/json"
    assert verify_event(headers[SIGNATURE_HEADER], body, SECRET) == event
    assert json.loads(mapping_body) == {"event_id": "x", "timestamp": 1}


@pytest.mark.anyio
async def test_send_webhook_posts_to_a_server_on_loopback() -> None:
    received: list[Event] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        received.append(verify_event(request.headers.get(SIGNATURE_HEADER), body, SECRET))
        return web.Response(status=202, text="queued")

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    async with TestServer(app, host="127.0.0.1") as server:
        response = await send_webhook(
            str(server.make_url("/webhook")), {"event_id": "e-1", "timestamp": 5}, SECRET
        )
    assert (response.status_code, response.text) == (202, "queued")
    assert [(event.event_id, event.timestamp) for event in received] == [("e-1", 5)]


def recording_client(sent: list[httpx.Request]) -> httpx.AsyncClient:
    """A client that records each request in `sent` and answers 200, sending nothing."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/webhook",
        "http://127.3.2.1/webhook",
        "https://localhost/webhook",
        "http://[::1]:9000/webhook",
    ],
)
@pytest.mark.anyio
async def test_send_webhook_accepts_loopback_urls(url: str) -> None:
    sent: list[httpx.Request] = []
    async with recording_client(sent) as client:
        response = await send_webhook(url, {"event_id": "e", "timestamp": 1}, SECRET, client=client)
    assert response.status_code == 200
    assert [str(request.url) for request in sent] == [url]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/webhook",
        "http://10.0.0.1/webhook",
        "http://127.0.0.1.example.com/webhook",
        "http://localhost.example.com/webhook",
        "http://[2001:db8::1]/webhook",
        "ftp://127.0.0.1/webhook",
        "/webhook",
    ],
)
@pytest.mark.anyio
async def test_send_webhook_refuses_other_urls_before_sending(url: str) -> None:
    sent: list[httpx.Request] = []
    async with recording_client(sent) as client:
        with pytest.raises(ValueError, match=r"^url must be http"):
            await send_webhook(url, {"event_id": "e", "timestamp": 1}, SECRET, client=client)
    with pytest.raises(ValueError, match=r"^url must be http"):
        await send_webhook(url, {"event_id": "e", "timestamp": 1}, SECRET)
    assert sent == []


@pytest.mark.anyio
async def test_send_webhook_checks_the_event_type() -> None:
    with pytest.raises(TypeError, match=r"^event must be"):
        await send_webhook("http://127.0.0.1/", [("event_id", "e")], SECRET)  # type: ignore[arg-type]
