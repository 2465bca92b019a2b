"""What Fingerprint sends your server, made in tests: signed webhooks and sealed results.

`sign_webhook` and `send_webhook` produce requests that `fpjs_async.webhooks` accepts;
`seal_event` produces results that `fpjs_async.sealed.unseal_event` opens. Sealing needs the
`sealed` extra, as unsealing does.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping
from typing import Any

import httpx

from fpjs_async import _validate
from fpjs_async._config import is_loopback
from fpjs_async._converter import converter
from fpjs_async._crypto import NONCE_SIZE, aesgcm, hex_signature, key_bytes
from fpjs_async.events import Event
from fpjs_async.sealed import SEALED_HEADER, DecryptionKey
from fpjs_async.webhooks import SIGNATURE_HEADER

__all__ = ["deflate", "seal_event", "seal_plaintext", "send_webhook", "sign_webhook"]


def sign_webhook(body: bytes, secret: str) -> str:
    """The `fpjs-event-signature` header value Fingerprint would send with `body`.

    Args:
        body: The exact bytes the request will carry.
        secret: The webhook's secret.

    Returns:
        `v1=<hex HMAC-SHA256 of body>`.

    Raises:
        TypeError: `body` is not bytes or `secret` not a str.
        ValueError: `secret` is empty (no signature under it is ever valid).
    """
    _validate.instance("body", body, bytes, what="bytes")
    return f"v1={hex_signature(body, _validate.text('secret', secret))}"


def _event_json(event: Event | Mapping[str, Any]) -> bytes:
    """The v4 JSON of an event, or of any mapping (to send what is not an event, too)."""
    if isinstance(event, Event):
        data = converter.unstructure(event)
    elif isinstance(event, Mapping):
        data = dict(event)
    else:
        raise TypeError(f"event must be an Event or a mapping, got {type(event).__name__}")
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def seal_plaintext(plaintext: bytes, key: bytes) -> bytes:
    """`plaintext` as is (already deflated, or not) encrypted under `key`, with the header."""
    cipher, _ = aesgcm()
    nonce = os.urandom(NONCE_SIZE)
    return SEALED_HEADER + nonce + cipher(key).encrypt(nonce, plaintext, None)


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE of `data`: no zlib header, as sealed results carry it."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def seal_event(event: Event | Mapping[str, Any], key: bytes | str | DecryptionKey) -> bytes:
    """A sealed result of `event`, as Fingerprint seals it for the browser.

    Every call draws a new random nonce, so two seals of one event differ.

    Args:
        event: The event, or a mapping sealed as its JSON (which need not be an event).
        key: The 32-byte key, its base64 text, or a `DecryptionKey`.

    Returns:
        The raw sealed bytes; `base64.b64encode(...)` them for what a browser would forward.

    Raises:
        TypeError: `event` or `key` of the wrong type.
        ValueError: `key` is not base64 text or not 32 bytes long.
        ImportError: The `cryptography` package (the `sealed` extra) is not installed.
    """
    raw_key = key.key if isinstance(key, DecryptionKey) else key_bytes(key, "key")
    return seal_plaintext(deflate(_event_json(event)), raw_key)


def _require_loopback(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https") or not is_loopback(url.host):
        raise ValueError(
            f"url must be http(s) on a loopback address (127.0.0.1, ::1, localhost), got {url}"
        )


async def send_webhook(
    url: str,
    event: Event | Mapping[str, Any],
    secret: str,
    *,
    client: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """POST `event` to `url` as a signed webhook, as Fingerprint would.

    The body is the event's JSON, signed in the `fpjs-event-signature` header. Only loopback
    addresses are accepted, so a test cannot send events elsewhere. To reach an ASGI app
    in-process, pass a client over `httpx.ASGITransport` with a base URL such as
    `http://127.0.0.1` and a path as `url`.

    Args:
        url: Where to POST: `http(s)://127.0.0.1:…`, `[::1]` or `localhost`, or a path
            relative to `client`'s base URL.
        event: The event, or a mapping sent as its JSON (which need not be an event).
        secret: The webhook's secret.
        client: The client to send with; by default a new one, closed afterwards.

    Returns:
        The endpoint's response, read.

    Raises:
        ValueError: `url` is not on a loopback address, or `secret` is empty.
        TypeError: `event` or `secret` of the wrong type.
    """
    body = _event_json(event)
    headers = {SIGNATURE_HEADER: sign_webhook(body, secret), "Content-Type": "application/json"}
    if client is not None:
        return await _post(client, url, body, headers)
    # No proxies from the environment: the request goes to the loopback address itself.
    async with httpx.AsyncClient(trust_env=False) as own_client:
        return await _post(own_client, url, body, headers)


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    request = client.build_request("POST", url, content=body, headers=headers)
    _require_loopback(request.url)
    return await client.send(request)
