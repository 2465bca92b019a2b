"""Webhooks: check that an event POSTed to your endpoint comes from Fingerprint.

Fingerprint POSTs the v4 `Event` JSON and signs it in the `fpjs-event-signature` header:
comma-separated `version=hash` pairs such as `v1=1b2c…`, where a `v1` hash is the hex
HMAC-SHA256 of the body under the webhook's secret. Other versions are ignored.

The signature covers the body's bytes exactly as they arrived. Verify those raw bytes
(`await request.body()` in FastAPI or Starlette, `await request.read()` in aiohttp,
`request.get_data()` in Flask), never JSON parsed and dumped again: re-serialising changes
key order, spacing, escapes (`é` or `\\u00e9`) and number forms (`1.0` or `1`), and any
changed byte changes the HMAC, so the signature would not match.
"""

from __future__ import annotations

import hmac

from fpjs_async import _validate
from fpjs_async._converter import decode_body
from fpjs_async._crypto import hex_signature
from fpjs_async._errors import WebhookSignatureError
from fpjs_async.events import Event

# The error is named here too, beside the function that raises it.
__all__ = ["SIGNATURE_HEADER", "WebhookSignatureError", "is_valid_signature", "verify_event"]

#: The request header that carries the signature.
SIGNATURE_HEADER = "fpjs-event-signature"


def _check_types(header: object, body: object, secret: object) -> None:
    if header is not None and not isinstance(header, (str, bytes)):
        raise TypeError(f"header must be a str, bytes or None, got {type(header).__name__}")
    if not isinstance(body, bytes):
        hint = ": pass the raw body as received" if isinstance(body, str) else ""
        raise TypeError(f"body must be bytes, got {type(body).__name__}{hint}")
    _validate.instance("secret", secret, str)


def _v1_signatures(header: str | bytes) -> list[bytes]:
    """The `v1` hashes of a header, as ASCII bytes; whatever is not ASCII cannot be one."""
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    hashes = []
    for pair in header.split(","):
        version, equals, value = pair.partition("=")
        value = value.strip()
        if equals and version.strip() == "v1" and value.isascii():
            hashes.append(value.encode("ascii"))
    return hashes


def _signature_problem(header: str | bytes | None, body: bytes, secret: str) -> str | None:
    """Why the signature is not valid, or `None` when it is."""
    _check_types(header, body, secret)
    if not secret:
        return "the secret is empty"
    if not body:
        return "the body is empty"
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    candidates = _v1_signatures(header)
    if not candidates:
        return "the header holds no v1 signature"
    expected = hex_signature(body, secret).encode("ascii")
    # compare_digest takes the same time however much of a hash matches: a forger cannot
    # find the right one byte by byte.
    if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        return None
    return "no v1 signature matches the body"


def is_valid_signature(header: str | bytes | None, body: bytes, secret: str) -> bool:
    """Whether `header` signs `body` under `secret`.

    Valid when any `v1` hash of the header equals the hex HMAC-SHA256 of `body`, compared in
    constant time. An empty (or missing) header, secret or body is never valid, and no
    header value makes this raise.

    Args:
        header: The `fpjs-event-signature` header value; `None` when the request had none.
        body: The request body, as raw bytes exactly as received (see the module's notes).
        secret: The webhook's secret.

    Returns:
        Whether the signature is valid.

    Raises:
        TypeError: `body` is not bytes, `secret` not a str, or `header` neither.
    """
    return _signature_problem(header, body, secret) is None


def verify_event(header: str | bytes | None, body: bytes, secret: str) -> Event:
    """The event of a webhook request, once its signature is checked.

    Args:
        header: The `fpjs-event-signature` header value; `None` when the request had none.
        body: The request body, as raw bytes exactly as received (see the module's notes).
        secret: The webhook's secret.

    Returns:
        The event the body holds.

    Raises:
        WebhookSignatureError: The signature is missing or does not match the body.
        ResponseDecodeError: The body is signed but is not an event's JSON.
        TypeError: `body` is not bytes, `secret` not a str, or `header` neither.
    """
    problem = _signature_problem(header, body, secret)
    if problem is not None:
        raise WebhookSignatureError(problem)
    return decode_body(body, Event)
