"""Sealed client results: the event handed to the browser, encrypted for your server.

With sealed client results enabled, the JavaScript agent receives the whole v4 `Event`
encrypted under a key of yours and forwards it to your backend, which opens it here without a
Server API call. The format (`sealed_result` below):

| bytes | what |
| --- | --- |
| 0-3 | the header `9E 85 DC ED` (`SEALED_HEADER`) |
| 4-15 | the AES-GCM nonce |
| 16- | AES-256-GCM ciphertext, its last 16 bytes the tag; no associated data |

The plaintext is raw DEFLATE (no zlib header) of the event's JSON. Opening needs the
`cryptography` package (`pip install 'fpjs-async[sealed]'`); it is imported on the first call,
so importing this module does not need it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Literal

import attrs

from fpjs_async._converter import decode_body
from fpjs_async._crypto import NONCE_SIZE, aesgcm, from_base64, key_bytes
from fpjs_async._errors import ResponseDecodeError, UnsealError
from fpjs_async.events import Event

# The error is named here too, beside the function that raises it.
__all__ = [
    "MAX_UNSEALED_SIZE",
    "SEALED_HEADER",
    "DecryptionKey",
    "UnsealError",
    "unseal_event",
]

#: The first four bytes of every sealed result.
SEALED_HEADER = b"\x9e\x85\xdc\xed"
# The only algorithm sealed results use.
_AES_256_GCM = "aes-256-gcm"
#: The most bytes a sealed result may inflate to. An event is a few kilobytes; a result that
#: inflates further is refused (`UnsealError`) before it can fill the memory.
MAX_UNSEALED_SIZE = 10 * 1024 * 1024

_TAG_SIZE = 16
_MIN_SIZE = len(SEALED_HEADER) + NONCE_SIZE + _TAG_SIZE


def _to_key(value: bytes | str) -> bytes:
    return key_bytes(value, "key")


def _check_algorithm(_: object, __: object, value: object) -> None:
    if value != _AES_256_GCM:
        raise ValueError(f"algorithm must be {_AES_256_GCM!r}, got {value!r}")


@attrs.frozen
class DecryptionKey:
    """A key to open sealed results with, as the dashboard gives it.

    Its `repr` leaves the key out.

    Attributes:
        key: The 32-byte key; given as `bytes` or as base64 text.
        algorithm: The sealing algorithm; `"aes-256-gcm"` is the only one.
    """

    key: bytes = attrs.field(converter=_to_key, repr=False)
    algorithm: Literal["aes-256-gcm"] = attrs.field(
        default=_AES_256_GCM, validator=_check_algorithm
    )


def _keys_bytes(keys: Sequence[bytes | str | DecryptionKey]) -> list[bytes]:
    # A lone key is a sequence too (of ints, of characters): refuse it rather than read it.
    if isinstance(keys, (bytes, str, DecryptionKey)) or not isinstance(keys, Sequence):
        raise TypeError(f"keys must be a sequence of keys, got {type(keys).__name__}")
    if not keys:
        raise ValueError("keys must hold at least one key")
    return [
        key.key if isinstance(key, DecryptionKey) else key_bytes(key, f"keys[{index}]")
        for index, key in enumerate(keys)
    ]


def _sealed_bytes(sealed_result: bytes | str) -> bytes:
    """The raw sealed result, from its bytes or its base64 text (`UnsealError` if neither)."""
    not_sealed = "not a sealed result: it does not begin with the header 9E 85 DC ED"
    if isinstance(sealed_result, bytes) and sealed_result.startswith(SEALED_HEADER):
        data = sealed_result
    elif isinstance(sealed_result, (bytes, str)):
        # The header's first byte is not a base64 character: base64 bytes cannot be raw ones.
        try:
            data = from_base64(sealed_result)
        except ValueError:
            if isinstance(sealed_result, bytes):
                raise UnsealError(f"{not_sealed}, nor is it base64 text") from None
            raise UnsealError("the sealed result is not base64 text") from None
    else:
        raise TypeError(
            f"sealed_result must be bytes or base64 str, got {type(sealed_result).__name__}"
        )
    if not data.startswith(SEALED_HEADER):
        raise UnsealError(not_sealed)
    if len(data) < _MIN_SIZE:
        raise UnsealError(
            f"the sealed result is truncated: {len(data)} bytes, at least {_MIN_SIZE} expected"
        )
    return data


def _inflate(deflated: bytes) -> bytes:
    """The raw DEFLATE data inflated, up to `MAX_UNSEALED_SIZE`; `ValueError` otherwise."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        # One byte more than allowed tells "exactly the limit" from "past it".
        plaintext = inflater.decompress(deflated, MAX_UNSEALED_SIZE + 1)
    except zlib.error as exc:
        raise ValueError(f"the plaintext is not raw DEFLATE data ({exc})") from None
    if len(plaintext) > MAX_UNSEALED_SIZE:
        raise ValueError(f"the plaintext inflates past {MAX_UNSEALED_SIZE} bytes")
    if not inflater.eof:
        raise ValueError("the plaintext's DEFLATE stream is truncated")
    return plaintext


def unseal_event(sealed_result: bytes | str, keys: Sequence[bytes | str | DecryptionKey]) -> Event:
    """Open a sealed client result and decode the event it holds.

    The keys are tried in order, so a rotation is: add the new key first, keep the old one
    until no result sealed with it can arrive, then drop it. A key whose GCM tag matches is
    the key the result was sealed with; if its content then fails to inflate or decode, the
    keys after it are not tried.

    A sealed result proves that Fingerprint made the event, not that it is fresh: one
    captured in a browser can be sent again. Check `Event.timestamp`, `Event.replayed`, and
    that each `event_id` is used once.

    Args:
        sealed_result: The sealed result as bytes, or its base64 text (as the browser sends
            it; base64 `bytes` are read too).
        keys: The decryption keys, newest first: 32-byte `bytes`, their base64 text, or
            `DecryptionKey`s.

    Returns:
        The event.

    Raises:
        TypeError: An argument of the wrong type (a single key instead of a sequence).
        ValueError: No keys, or a key that is not base64 text or not 32 bytes long.
        ImportError: The `cryptography` package (the `sealed` extra) is not installed.
        UnsealError: The result is not a sealed result, no key opens it, or what it holds
            is not an event; `UnsealError.errors` says what each key gave.
    """
    raw_keys = _keys_bytes(keys)
    cipher, tag_mismatch = aesgcm()
    data = _sealed_bytes(sealed_result)
    nonce_end = len(SEALED_HEADER) + NONCE_SIZE
    nonce, ciphertext = data[len(SEALED_HEADER) : nonce_end], data[nonce_end:]
    errors: list[str] = []
    for key in raw_keys:
        try:
            deflated = cipher(key).decrypt(nonce, ciphertext, None)
        except tag_mismatch:
            errors.append("the tag does not match (another key, or altered data)")
            continue
        try:
            return decode_body(_inflate(deflated), Event)
        except ValueError as exc:
            errors.append(str(exc))
            raise UnsealError("the sealed result opened but holds no event", tuple(errors)) from exc
        except ResponseDecodeError as exc:
            errors.append(f"the plaintext is not an event ({exc.reason})")
            raise UnsealError("the sealed result opened but holds no event", tuple(errors)) from exc
    raise UnsealError(f"none of the {len(raw_keys)} keys opens the sealed result", tuple(errors))
