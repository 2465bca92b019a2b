"""Keeps the secret key out of the errors the library raises.

Error messages quote what a server sent, and a server may quote what it received: a proxy's
error page repeats the request URL (with the key, in query-auth mode), an API error names the
key it refused, a peer that does not speak HTTP echoes the request and the HTTP parser quotes
that in its error. Whatever a server quotes is replaced by `REDACTED`, in the raw and in the
URL-encoded forms of the key.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "redact_body", "redact_error", "redact_text"]

#: What replaces the key wherever it was quoted.
REDACTED = "[REDACTED]"


def _forms(secret: str) -> list[str]:
    # The key as it may be quoted: itself, and as a query string carries it.
    return sorted({secret, quote(secret, safe=""), quote_plus(secret)}, key=len, reverse=True)


def redact_text(text: str, secret: str) -> str:
    """`text` with every quoted form of the key replaced by `REDACTED`."""
    for form in _forms(secret):
        text = text.replace(form, REDACTED)
    return text


def redact_body(content: bytes, secret: str) -> bytes:
    """`content` with the key replaced; the very same object when it holds none.

    Bodies are redacted before an error quotes an excerpt of them, so that the cut cannot
    leave a part of the key behind.
    """
    for form in _forms(secret):
        quoted = form.encode("ascii")
        if quoted in content:
            content = content.replace(quoted, REDACTED.encode("ascii"))
    return content


def _redacted(value: object, secret: str) -> object:
    if isinstance(value, str):
        return redact_text(value, secret)
    if isinstance(value, (bytes, bytearray)):
        clean = redact_body(bytes(value), secret)
        return value if clean == value else type(value)(clean)
    return value


def redact_error(error: BaseException, secret: str) -> None:
    """Replace the key, in place, in `error` and every exception chained to it.

    Their `args` and their text attributes are rewritten, so `str()`, `repr()` and reads of
    attributes such as `APIError.message` all come out without it.
    """
    seen: set[int] = set()
    pending = [error]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.args = tuple(_redacted(arg, secret) for arg in exc.args)
        attributes = getattr(exc, "__dict__", {})
        for name, value in list(attributes.items()):
            attributes[name] = _redacted(value, secret)
        pending.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
