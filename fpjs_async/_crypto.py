"""The cryptography of what Fingerprint sends: webhook signatures and sealed-result keys.

`webhooks` and `sealed` check and open what arrives; `testing` makes it, with the same
functions, so that what the tests send is what the library reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_SIZE", "NONCE_SIZE", "aesgcm", "from_base64", "hex_signature", "key_bytes"]

#: The bytes of an AES-256 key.
KEY_SIZE = 32
#: The bytes of the AES-GCM nonce of a sealed result.
NONCE_SIZE = 12
_EXTRA_MESSAGE = "sealed results need the cryptography package: pip install 'fpjs-async[sealed]'"
_URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def hex_signature(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 of `body` under `secret`: the hash of a webhook's `v1` pair."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def from_base64(text: str | bytes) -> bytes:
    """The bytes of base64 text, standard or URL-safe, padded or not; `ValueError` if it is not.

    Whitespace is ignored: keys pasted into configuration often end with a newline.
    """
    data = text.encode("ascii") if isinstance(text, str) else text
    data = b"".join(data.split()).translate(_URL_SAFE_TO_STANDARD)
    return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)


def key_bytes(value: object, name: str) -> bytes:
    """The 32 bytes of a key given as bytes or base64 text; the errors name `name` only.

    Raises:
        TypeError: `value` is neither `bytes` nor `str`.
        ValueError: `value` is not base64 text, or not 32 bytes long.
    """
    if isinstance(value, str):
        try:
            key = from_base64(value)
        except ValueError:
            raise ValueError(f"{name} is not base64 text") from None
    elif isinstance(value, bytes):
        key = value
    else:
        raise TypeError(f"{name} must be bytes or base64 str, got {type(value).__name__}")
    if len(key) != KEY_SIZE:
        raise ValueError(f"{name} must be {KEY_SIZE} bytes (an AES-256 key), got {len(key)}")
    return key


def aesgcm() -> tuple[type[AESGCM], type[Exception]]:
    """The AES-GCM cipher and the exception of a tag mismatch, from the `sealed` extra."""
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:
        raise ImportError(_EXTRA_MESSAGE, name=exc.name) from exc
    return AESGCM, InvalidTag
