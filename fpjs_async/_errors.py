"""The exception hierarchy: every failure the library raises derives from `FingerprintError`."""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FingerprintError",
    "NotFoundError",
    "PaginationError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "TransportError",
    "UnsealError",
    "WebhookSignatureError",
    "api_error_from_response",
]

#: How much of an unexpected body an error message quotes.
EXCERPT_CHARS = 200
#: The longest text an error keeps from a response (a server may send megabytes of it).
MESSAGE_CHARS = 1000


class FingerprintError(Exception):
    """Base class of every error raised by `fpjs_async`."""


class APIError(FingerprintError):
    """The API answered with an error status.

    Attributes:
        status: The HTTP status code.
        code: The error code of a structured body (`{"error": {"code": ...}}`), else `None`.
        message: The error message of the body, or an excerpt of a body that is not JSON.
        method: The HTTP method of the request.
        path: The path of the request, without its query string (which may hold the key).
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        method: str = "GET",
        path: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        super().__init__(status, code, message)

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        where = f" ({self.method} {self.path})" if self.path else ""
        return f"HTTP {self.status}{code}: {self.message}{where}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))


class BadRequestError(APIError):
    """HTTP 400 (or 413): the request, an ID or a query parameter was refused by the server."""


class AuthenticationError(APIError):
    """HTTP 403: the secret key is missing, unknown, inactive or bound to another region."""


class NotFoundError(APIError):
    """HTTP 404: the visitor ID is not known to the application."""


class ConflictError(APIError):
    """HTTP 409: the resource is not in a state that allows the request yet.

    `update_event` answers 409 `state_not_ready` while an event is not mutable yet; that one
    is retried like a 5xx before it is raised.
    """


class RateLimitError(APIError):
    """HTTP 429: too many requests.

    Attributes:
        retry_after: Seconds the server asked to wait (from `Retry-After`), else `None`
            (Server API v4 never sends `Retry-After`).
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        method: str = "GET",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message, method=method, path=path)
        self.retry_after = retry_after


class ServerError(APIError):
    """HTTP 5xx: the server failed to answer the request."""


class TransportError(FingerprintError):
    """The request did not get an HTTP answer: connection refused or dropped, a timeout, a
    response that is not HTTP. The `httpx` exception is chained as `__cause__`."""


class ResponseDecodeError(FingerprintError):
    """A successful response whose body is not the documented JSON.

    Attributes:
        status: The HTTP status code of the response.
        excerpt: The start of the body, to help tell what answered.
    """

    def __init__(self, status: int, excerpt: str, reason: str) -> None:
        reason = clip(reason)
        self.status = status
        self.excerpt = excerpt
        self.reason = reason
        super().__init__(status, excerpt, reason)

    def __str__(self) -> str:
        return (
            f"HTTP {self.status} body is not the documented JSON ({self.reason}): {self.excerpt!r}"
        )


class PaginationError(FingerprintError):
    """The server sent a pagination cursor that does not move past the previous page."""


class WebhookSignatureError(FingerprintError):
    """A webhook's `fpjs-event-signature` does not match its body under the secret.

    The message says which check failed; it never quotes the secret, the header or the body.

    Attributes:
        reason: Which check failed, e.g. `no v1 signature matches the body`.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __str__(self) -> str:
        return f"the webhook's signature is not valid: {self.reason}"


class UnsealError(FingerprintError):
    """A sealed result could not be opened with any of the keys given.

    Attributes:
        reason: What failed, for the result as a whole.
        errors: What each key tried gave, in the order of the keys (`errors[0]` is the first
            key's). Empty when the result was refused before any key was tried (not base64,
            a wrong header, too short). Neither says anything about the keys' bytes.
    """

    def __init__(self, reason: str, errors: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.errors = errors
        super().__init__(reason, errors)

    def __str__(self) -> str:
        attempts = "".join(f"; key {index}: {error}" for index, error in enumerate(self.errors))
        return f"{self.reason}{attempts}"


def _rebuild(cls: type[APIError], state: dict[str, object]) -> APIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (state["status"], state["code"], state["message"])
    return error


def clip(text: str) -> str:
    """`text` cut to `MESSAGE_CHARS` characters (and marked so) when it is longer."""
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + "..."


def excerpt(content: bytes) -> str:
    """The start of a body as text, for error messages."""
    return content[:EXCERPT_CHARS].decode("utf-8", "replace")


def _parse_error_body(content: bytes) -> tuple[str | None, str | None]:
    """`(code, message)` from either documented error body; `(None, None)` for anything else."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return None, error
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        return (
            code if isinstance(code, str) else None,
            message if isinstance(message, str) else None,
        )
    return None, None


_CLASS_BY_STATUS: Mapping[int, type[APIError]] = {
    400: BadRequestError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    429: RateLimitError,
}


def api_error_from_response(
    status: int,
    content: bytes,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> APIError:
    """The `APIError` subclass for an error response, from whichever body form it carries."""
    code, message = _parse_error_body(content)
    code = None if code is None else clip(code)
    if message is not None:
        message = clip(message)
    else:
        text = excerpt(content).strip()
        message = f"unexpected response body: {text!r}" if text else "empty response body"
    if status == 429:
        return RateLimitError(
            status, code, message, method=method, path=path, retry_after=retry_after
        )
    cls = _CLASS_BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(status, code, message, method=method, path=path)
