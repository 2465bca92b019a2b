"""What a request is to the emulator: its route, the key it presents, and how it is recorded."""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl

import attrs

from fpjs_async.testing._asgi import Scope
from fpjs_async.testing._responses import Response, V3Error
from fpjs_async.testing._routes import Operation, Route, route

__all__ = ["Auth", "RecordedRequest", "receive"]

#: How a request presented the key.
Auth = Literal["header", "query", "bearer"]

_V4_PREFIX = "/v4/"


@attrs.frozen
class RecordedRequest:
    """A request the emulator received, without the secret key.

    Attributes:
        method: The HTTP method.
        path: The path as sent, still percent-encoded.
        visitor_id: The visitor the request is about: the decoded ID of a `/visitors/<id>`
            or `/v4/visitors/<id>` path, or the `visitor_id` filter of a search; else `None`.
        params: The query parameters (the first value of each), without `token`.
        headers: The headers, names in lowercase, without `Auth-Token` and `Authorization`.
        host: The host the request was addressed to, without the port.
        auth: How the key was presented, as the route reads it: `"header"` (`Auth-Token`)
            or `"query"` (`token`) on v3, `"bearer"` (`Authorization: Bearer`) on v4, or
            `None` when it was not.
        event_id: The decoded event ID of a `/v4/events/<id>` path, else `None`.
        all_params: Every value of each query parameter, in the order sent (repeated keys
            carry arrays), without `token`.
        operation: What was asked for, named as the `Session` method that calls it
            (`"get_visits"`, `"get_event"`, `"search_events"`, `"update_event"`,
            `"delete_visitor_data"`), or `None` when the path and method name none.
        body: The request body (an update's JSON).
    """

    method: str
    path: str
    visitor_id: str | None
    params: dict[str, str]
    headers: dict[str, str]
    host: str
    auth: Auth | None
    event_id: str | None = None
    all_params: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    operation: Operation | None = None
    body: bytes = attrs.field(default=b"", repr=False)


def receive(
    scope: Scope, body: bytes, v3_error: V3Error
) -> tuple[RecordedRequest, str | None, Route | Response]:
    """The request as recorded, the key it presents, and its route or routing error.

    Args:
        scope: The ASGI scope of the request.
        body: Its body.
        v3_error: Makes the emulator's v3 error bodies (for a routing error).
    """
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    all_params: dict[str, list[str]] = {}
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True):
        all_params.setdefault(name, []).append(value)
    # However a key is presented, it is never recorded.
    header_key = headers.pop("auth-token", None)
    bearer_key = _bearer(headers.pop("authorization", None))
    query_keys = all_params.pop("token", None)
    query_key = query_keys[0] if query_keys else None
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    raw_path = raw_path.split(b"?", 1)[0]
    path = raw_path.decode("latin-1")
    routed = route(scope["method"], raw_path, v3_error)
    auth: Auth | None = None
    presented: str | None = None
    if path.startswith(_V4_PREFIX):
        auth, presented = ("bearer", bearer_key) if bearer_key else (None, None)
    elif header_key:
        auth, presented = "header", header_key
    elif query_key:
        auth, presented = "query", query_key
    visitor_id = event_id = operation = None
    if isinstance(routed, Route):
        operation, visitor_id, event_id = routed.operation, routed.visitor_id, routed.event_id
        if operation == "search_events" and "visitor_id" in all_params:
            visitor_id = all_params["visitor_id"][0]
    request = RecordedRequest(
        method=scope["method"],
        path=path,
        visitor_id=visitor_id,
        params={name: values[0] for name, values in all_params.items()},
        headers=headers,
        host=_host_without_port(headers.get("host", "")),
        auth=auth,
        event_id=event_id,
        all_params={name: tuple(values) for name, values in all_params.items()},
        operation=operation,
        body=body,
    )
    return request, presented, routed


def _bearer(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or `None`."""
    if authorization is None:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def _host_without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
