"""What the emulator answers: a status, a body and headers, and the API's error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import attrs

__all__ = [
    "V4_USUAL_ERRORS",
    "Response",
    "V3Error",
    "dumps",
    "dumps_to_keep",
    "html_page",
    "phrase",
    "v4_error",
    "v4_usual_error",
]


def _choose_dumps() -> Callable[[Any], bytes]:
    def dumps_json(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    try:
        import orjson
    except ImportError:
        return dumps_json

    def dumps_orjson(value: Any) -> bytes:
        try:
            encoded: bytes = orjson.dumps(value)
        except TypeError:  # e.g. an integer beyond 64 bits in free-form `tags`
            return dumps_json(value)
        return encoded

    return dumps_orjson


#: Compact JSON as bytes (orjson when installed).
dumps = _choose_dumps()


def dumps_to_keep(value: Any) -> bytes:
    """`dumps(value)` for bytes kept long: in memory of exactly their size.

    orjson's bytes keep the whole buffer it wrote into, often many times what they hold.
    """
    return bytes(bytearray(dumps(value)))


@attrs.frozen
class Response:
    """One answer of the emulator; `content_type=None` sends no `Content-Type` (empty bodies)."""

    status: int
    body: bytes
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


#: Makes a v3 error body in the emulator's `error_style`: (status, code, message) -> answer.
V3Error = Callable[[int, str, str], Response]


def phrase(status: int) -> str:
    """The reason phrase of a status, e.g. `Service Unavailable`; `Error` for one unnamed."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # 499, 599, ...: statuses no standard names
        return "Error"


def html_page(status: int) -> bytes:
    """The error page a proxy (nginx) sends for `status`."""
    title = f"{status} {phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def v4_error(status: int, code: str, message: str) -> Response:
    """A v4 error: `{"error": {"code": ..., "message": ...}}`, whatever the v3 style."""
    return Response(status, dumps({"error": {"code": code, "message": message}}))


# The (code, message) of an error status on v4 routes, as the schema's examples give them;
# a 404 depends on the route (see `v4_usual_error`).
V4_USUAL_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("request_cannot_be_parsed", "request cannot be parsed"),
    403: ("subscription_not_active", "forbidden"),
    404: ("event_not_found", "event id not found"),
    405: ("method_not_allowed", "method not allowed"),
    409: ("state_not_ready", "resource is not mutable yet, try again"),
    413: ("payload_too_large", "payload too large"),
    429: ("too_many_requests", "too many requests"),
    500: ("failed", "internal server error"),
    503: ("service_unavailable", "service unavailable"),
    504: ("failed", "gateway timeout"),
}
_VISITOR_NOT_FOUND = ("visitor_not_found", "visitor not found")


def v4_usual_error(status: int, *, about_visitor: bool) -> tuple[str, str]:
    """The usual (code, message) of `status` on a v4 route.

    Args:
        status: An error status.
        about_visitor: The route is about a visitor (a search or a deletion), so its 404
            is `visitor_not_found` rather than `event_not_found`.
    """
    if status == 404 and about_visitor:
        return _VISITOR_NOT_FOUND
    usual = V4_USUAL_ERRORS.get(status)
    if usual is not None:
        return usual
    return ("failed", phrase(status).lower())
