"""Which operation a request path and method name, and the ID the path carries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal
from urllib.parse import unquote

import attrs

from fpjs_async.testing._responses import Response, V3Error, v4_error

__all__ = ["Operation", "Route", "route"]

#: The operations the emulator serves, named as the `Session` methods that call them.
Operation = Literal[
    "get_visits", "get_event", "search_events", "update_event", "delete_visitor_data"
]

_V3_VISITORS = b"/visitors/"
_V4 = b"/v4/"
_V4_EVENTS = b"/v4/events"
_V4_EVENT = b"/v4/events/"
_V4_VISITORS = b"/v4/visitors/"
# The error codes of a bad path, by status, in each version's style.
_V3_CODES = {400: "RequestCannotBeParsed", 404: "NotFound"}
_V4_CODES = {400: "request_cannot_be_parsed", 404: "not_found"}


@attrs.frozen
class Route:
    """A routed request.

    Attributes:
        operation: What it asks for.
        version: The API version of the operation: 3 or 4.
        visitor_id: The decoded visitor ID of the path, if it has one.
        event_id: The decoded event ID of the path, if it has one.
    """

    operation: Operation
    version: Literal[3, 4]
    visitor_id: str | None = None
    event_id: str | None = None


def _segment(raw: bytes) -> str | None:
    """One percent-decoded path segment, or `None` when it is not one (or not UTF-8)."""
    if b"/" in raw:
        return None
    try:
        return unquote(raw.decode("ascii"), errors="strict")
    except UnicodeError:
        return None


def _visitor_segment(segment: bytes, error: Callable[[int, str], Response]) -> str | Response:
    """The visitor ID that ends a path, or the error (`status`, message) the path gets."""
    if b"/" in segment:
        return error(404, "not found")
    visitor_id = _segment(segment)
    if visitor_id is None:
        return error(400, "invalid visitor id")
    if not visitor_id:
        return error(400, "visitor id is required")
    return visitor_id


def _not_allowed(allowed: str, error: Response) -> Response:
    return attrs.evolve(error, headers=(("allow", allowed),))


def route(method: str, raw_path: bytes, v3_error: V3Error) -> Route | Response:
    """The route of a request, or the error it is answered with (404, 405, 400).

    Args:
        method: The HTTP method.
        raw_path: The path as sent, without the query string.
        v3_error: Makes the emulator's v3 error bodies (its `error_style`).
    """
    if raw_path.startswith(_V4):
        return _route_v4(method, raw_path)
    if not raw_path.startswith(_V3_VISITORS):
        return v3_error(404, "NotFound", "not found")
    visitor_id = _visitor_segment(
        raw_path[len(_V3_VISITORS) :],
        lambda status, message: v3_error(status, _V3_CODES[status], message),
    )
    if isinstance(visitor_id, Response):
        return visitor_id
    if method != "GET":
        return _not_allowed("GET", v3_error(405, "MethodNotAllowed", "method not allowed"))
    return Route("get_visits", 3, visitor_id=visitor_id)


def _route_v4(method: str, raw_path: bytes) -> Route | Response:
    not_allowed = v4_error(405, "method_not_allowed", "method not allowed")
    if raw_path == _V4_EVENTS:
        if method != "GET":
            return _not_allowed("GET", not_allowed)
        return Route("search_events", 4)
    if raw_path.startswith(_V4_EVENT):
        segment = raw_path[len(_V4_EVENT) :]
        if b"/" in segment:
            return v4_error(404, "not_found", "not found")
        event_id = _segment(segment)
        if not event_id:
            return v4_error(400, "request_cannot_be_parsed", "invalid event_id")
        if method == "GET":
            return Route("get_event", 4, event_id=event_id)
        if method == "PATCH":
            return Route("update_event", 4, event_id=event_id)
        return _not_allowed("GET, PATCH", not_allowed)
    if raw_path.startswith(_V4_VISITORS):
        visitor_id = _visitor_segment(
            raw_path[len(_V4_VISITORS) :],
            lambda status, message: v4_error(status, _V4_CODES[status], message),
        )
        if isinstance(visitor_id, Response):
            return visitor_id
        if method != "DELETE":
            return _not_allowed("DELETE", not_allowed)
        return Route("delete_visitor_data", 4, visitor_id=visitor_id)
    return v4_error(404, "not_found", "not found")
