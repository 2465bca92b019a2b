"""The webhook recipes of docs/examples/: FastAPI in-process, aiohttp on loopback.

Webhooks are signed with `sign_webhook` (and sent with `send_webhook`), sealed results made
with `seal_event`, as a user's own tests would do it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any, Protocol

import httpx
import pytest
from _apps import serve_asgi
from aiohttp.test_utils import TestClient, TestServer

from fpjs_async._converter import decode_body
from fpjs_async.events import Event
from fpjs_async.sealed import DecryptionKey
from fpjs_async.testing._signing import seal_event, send_webhook, sign_webhook
from fpjs_async.webhooks import SIGNATURE_HEADER

SECRET = "whsec-recipes-3hG"
NEW_KEY = bytes(range(1, 33))
OLD_KEY = bytes(range(50, 82))
VISITOR_ID = "Ibk1527CUFmcnjLwIs4A9"


class Client(Protocol):
    """POSTs to a recipe app, whichever framework serves it."""

    def __call__(
        self, path: str, *, content: bytes, headers: dict[str, str] | None = None
    ) -> Awaitable[tuple[int, Any]]: ...


def now_ms() -> int:
    return int(time.time() * 1000)


def event_json(**fields: Any) -> dict[str, Any]:
    """A fresh event of the example visitor, with `fields` set."""
    return {
        "event_id": f"{now_ms()}.AbCdEf",
        "timestamp": now_ms(),
        "identification": {"visitor_id": VISITOR_ID, "visitor_found": True},
        "bot": "not_detected",
        **fields,
    }


def sealed_form(event: dict[str, Any], key: bytes = OLD_KEY) -> bytes:
    sealed = base64.b64encode(seal_event(event, key)).decode("ascii")
    return json.dumps({"sealed_result": sealed}).encode()


class Recipe:
    """A recipe app's settings and the events its webhook handed to the handler."""

    def __init__(self, examples: Callable[[str], ModuleType]) -> None:
        self.common = examples("webhook_common")
        self.handled: list[Event] = []

    def settings(self) -> Any:
        keys = (DecryptionKey(NEW_KEY), DecryptionKey(OLD_KEY))
        return self.common.WebhookSettings(secret=SECRET, decryption_keys=keys)

    async def handle_event(self, event: Event) -> None:
        self.handled.append(event)


@asynccontextmanager
async def fastapi_app(recipe: Recipe, module: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    app = module.create_app(recipe.settings, recipe.handle_event)
    # A loopback base URL: `send_webhook` sends to nothing else.
    async with serve_asgi(app, base_url="http://127.0.0.1") as client:
        yield client


@asynccontextmanager
async def aiohttp_app(recipe: Recipe, module: ModuleType) -> AsyncIterator[TestClient[Any, Any]]:
    app = module.create_app(recipe.settings, recipe.handle_event)
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        yield client


def json_headers(headers: dict[str, str] | None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(headers or {})}


@asynccontextmanager
async def serve(
    framework: str, examples: Callable[[str], ModuleType], recipe: Recipe
) -> AsyncIterator[Client]:
    """A POST function to the recipe's app of `framework`; the app stops on exit."""
    if framework == "fastapi":
        async with fastapi_app(recipe, examples("webhook_fastapi")) as fastapi_client:

            async def post_fastapi(
                path: str, *, content: bytes, headers: dict[str, str] | None = None
            ) -> tuple[int, Any]:
                response = await fastapi_client.post(
                    path, content=content, headers=json_headers(headers)
                )
                return response.status_code, response.json()

            yield post_fastapi
        return
    async with aiohttp_app(recipe, examples("webhook_aiohttp")) as aiohttp_client:

        async def post_aiohttp(
            path: str, *, content: bytes, headers: dict[str, str] | None = None
        ) -> tuple[int, Any]:
            response = await aiohttp_client.post(path, data=content, headers=json_headers(headers))
            return response.status, await response.json()

        yield post_aiohttp


FRAMEWORKS = pytest.mark.parametrize("framework", ["fastapi", "aiohttp"])


# --- webhooks ---------------------------------------------------------------------------


@FRAMEWORKS
@pytest.mark.anyio
async def test_a_signed_webhook_is_handed_to_the_handler(
    framework: str, examples: Callable[[str], ModuleType], example_body: bytes
) -> None:
    recipe = Recipe(examples)
    async with serve(framework, examples, recipe) as post:
        status, body = await post(
            "/webhooks/fingerprint",
            content=example_body,
            headers={SIGNATURE_HEADER: sign_webhook(example_body, SECRET)},
        )
        assert (status, body) == (200, {"event_id": "1708102555327.NLOjmg"})
    # After shutdown (aiohttp waits for its tasks then; FastAPI runs them before answering).
    assert recipe.handled == [decode_body(example_body, Event)]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: "v1=" + "0" * 64},
        {SIGNATURE_HEADER: "v2=whatever"},
        {SIGNATURE_HEADER: "garbage without pairs"},
    ],
    ids=["missing", "empty", "wrong", "other-version", "garbage"],
)
@FRAMEWORKS
@pytest.mark.anyio
async def test_an_unsigned_webhook_is_401_and_not_handled(
    framework: str,
    examples: Callable[[str], ModuleType],
    example_body: bytes,
    headers: dict[str, str],
) -> None:
    recipe = Recipe(examples)
    async with serve(framework, examples, recipe) as post:
        status, body = await post("/webhooks/fingerprint", content=example_body, headers=headers)
    assert (status, body) == (401, {"detail": "invalid signature"})
    assert recipe.handled == []


@FRAMEWORKS
@pytest.mark.anyio
async def test_a_webhook_signed_with_another_secret_or_altered_is_401(
    framework: str, examples: Callable[[str], ModuleType], example_body: bytes
) -> None:
    recipe = Recipe(examples)
    altered = example_body.replace(b"somelinkedId", b"otherLinkId")
    async with serve(framework, examples, recipe) as post:
        other_secret = {SIGNATURE_HEADER: sign_webhook(example_body, "not-our-secret")}
        status, _ = await post("/webhooks/fingerprint", content=example_body, headers=other_secret)
        assert status == 401
        signed = {SIGNATURE_HEADER: sign_webhook(example_body, SECRET)}
        status, _ = await post("/webhooks/fingerprint", content=altered, headers=signed)
        assert status == 401
    assert recipe.handled == []


@FRAMEWORKS
@pytest.mark.anyio
async def test_a_signed_body_that_is_no_event_is_400(
    framework: str, examples: Callable[[str], ModuleType]
) -> None:
    recipe = Recipe(examples)
    body = b'{"hello": "world"}'
    async with serve(framework, examples, recipe) as post:
        status, reply = await post(
            "/webhooks/fingerprint",
            content=body,
            headers={SIGNATURE_HEADER: sign_webhook(body, SECRET)},
        )
    assert (status, reply) == (400, {"detail": "not an event"})
    assert recipe.handled == []


@pytest.mark.anyio
async def test_send_webhook_reaches_the_fastapi_recipe_in_process(
    examples: Callable[[str], ModuleType], example_body: bytes
) -> None:
    recipe = Recipe(examples)
    event = decode_body(example_body, Event)
    async with fastapi_app(recipe, examples("webhook_fastapi")) as client:
        response = await send_webhook("/webhooks/fingerprint", event, SECRET, client=client)
        refused = await send_webhook("/webhooks/fingerprint", event, "wrong", client=client)
    assert (response.status_code, refused.status_code) == (200, 401)
    assert recipe.handled == [event]


@pytest.mark.anyio
async def test_send_webhook_reaches_the_aiohttp_recipe_on_loopback(
    examples: Callable[[str], ModuleType],
) -> None:
    recipe = Recipe(examples)
    async with aiohttp_app(recipe, examples("webhook_aiohttp")) as client:
        url = str(client.make_url("/webhooks/fingerprint"))
        response = await send_webhook(url, event_json(event_id="e-loopback"), SECRET)
        assert response.json() == {"event_id": "e-loopback"}
    assert [event.event_id for event in recipe.handled] == ["e-loopback"]


@pytest.mark.anyio
async def test_the_aiohttp_recipe_logs_a_failing_handler_and_goes_on(
    examples: Callable[[str], ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    recipe = Recipe(examples)

    async def failing(event: Event) -> None:
        raise RuntimeError(f"cannot store {event.event_id}")

    app = examples("webhook_aiohttp").create_app(recipe.settings, failing)
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        url = str(client.make_url("/webhooks/fingerprint"))
        for event_id in ("e-1", "e-2"):
            response = await send_webhook(url, event_json(event_id=event_id), SECRET)
            assert response.status_code == 200
    failures = [r for r in caplog.records if r.message == "handling a webhook event failed"]
    assert [str(record.exc_info[1]) for record in failures if record.exc_info] == [
        "cannot store e-1",
        "cannot store e-2",
    ]


# --- sealed results ---------------------------------------------------------------------


@FRAMEWORKS
@pytest.mark.anyio
async def test_a_sealed_result_lets_a_person_in(
    framework: str, examples: Callable[[str], ModuleType]
) -> None:
    recipe = Recipe(examples)
    event = event_json()
    async with serve(framework, examples, recipe) as post:
        # Sealed with the old key: the new one is tried first, then the old one.
        old = await post("/login", content=sealed_form(event, OLD_KEY))
        new = await post("/login", content=sealed_form(event, NEW_KEY))
    expected = {"event_id": event["event_id"], "visitor_id": VISITOR_ID}
    assert old == new == (200, expected)


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"bot": "bad"}, "automated browsers are not allowed"),
        ({"replayed": True}, "this identification was replayed"),
        ({"timestamp": 1708102555327}, "the identification is too old"),
    ],
    ids=["bad-bot", "replayed", "old"],
)
@FRAMEWORKS
@pytest.mark.anyio
async def test_a_sealed_result_of_a_bot_or_an_old_event_is_403(
    framework: str, examples: Callable[[str], ModuleType], fields: dict[str, Any], detail: str
) -> None:
    recipe = Recipe(examples)
    async with serve(framework, examples, recipe) as post:
        reply = await post("/login", content=sealed_form(event_json(**fields)))
    assert reply == (403, {"detail": detail})


@pytest.mark.parametrize(
    "sealed_result",
    [
        base64.b64encode(seal_event(event_json(), b"\x07" * 32)).decode(),
        base64.b64encode(seal_event(event_json(), OLD_KEY)[:-1]).decode(),
        "not base64!",
        "",
    ],
    ids=["unknown-key", "truncated", "not-base64", "empty"],
)
@FRAMEWORKS
@pytest.mark.anyio
async def test_a_sealed_result_that_does_not_open_is_400(
    framework: str, examples: Callable[[str], ModuleType], sealed_result: str
) -> None:
    recipe = Recipe(examples)
    async with serve(framework, examples, recipe) as post:
        reply = await post("/login", content=json.dumps({"sealed_result": sealed_result}).encode())
    assert reply == (400, {"detail": "invalid sealed result"})


@pytest.mark.parametrize("content", [b"not json", b"[1]", b"{}", b'{"sealed_result": 7}'], ids=str)
@pytest.mark.anyio
async def test_the_aiohttp_login_checks_its_form(
    examples: Callable[[str], ModuleType], content: bytes
) -> None:
    recipe = Recipe(examples)
    async with serve("aiohttp", examples, recipe) as post:
        status, body = await post("/login", content=content)
    assert status == 400
    assert set(body) == {"detail"}


@pytest.mark.anyio
async def test_the_fastapi_login_checks_its_form(examples: Callable[[str], ModuleType]) -> None:
    recipe = Recipe(examples)
    async with serve("fastapi", examples, recipe) as post:
        for content in (b"not json", b"{}", b'{"sealed_result": 7}'):
            status, _ = await post("/login", content=content)
            assert status == 422, content


# --- settings ---------------------------------------------------------------------------


def test_settings_come_from_the_environment(
    examples: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    common = examples("webhook_common")
    new, old = (base64.b64encode(key).decode() for key in (NEW_KEY, OLD_KEY))
    monkeypatch.setenv("FPJS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("FPJS_DECRYPTION_KEYS", f"{new}, {old},")
    settings = common.settings_from_environment()
    assert settings.secret == SECRET
    assert [key.key for key in settings.decryption_keys] == [NEW_KEY, OLD_KEY]
    assert SECRET not in repr(settings)
    assert new not in repr(settings)
    monkeypatch.setenv("FPJS_DECRYPTION_KEYS", "too-short")
    with pytest.raises(ValueError, match=r"^key "):
        common.settings_from_environment()


def test_judge_takes_the_time_it_is_given(examples: Callable[[str], ModuleType]) -> None:
    common = examples("webhook_common")
    event = decode_body(json.dumps(event_json(timestamp=1_000_000)).encode(), Event)
    assert common.judge(event, now_ms=1_000_000 + common.MAX_AGE_MS).allowed
    assert not common.judge(event, now_ms=1_000_001 + common.MAX_AGE_MS).allowed
