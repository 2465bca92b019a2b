"""`GET` and `PATCH /v4/events/{event_id}`: one event read, or changed as the API allows."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any, NoReturn

from fpjs_async.testing._event_store import EventStore
from fpjs_async.testing._responses import Response, dumps, v4_error
from fpjs_async.testing._search import Refused

__all__ = ["EMPTY_OK", "check_params", "get_event", "update_event"]

#: The answer of an update or a deletion: 200 with an empty body.
EMPTY_OK = Response(200, b"", content_type=None)

_UPDATABLE = ("linked_id", "tags", "suspect")
_MAX_LINKED_ID = 256
_EVENT_NOT_FOUND = ("event_not_found", "event id not found")
_BODY_NOT_VALID = "request body is not valid"


def check_params(params: Sequence[tuple[str, str]], allowed: Collection[str] = ()) -> None:
    """Refuse a query parameter the route does not take, or one given twice or empty."""
    seen: set[str] = set()
    for name, value in params:
        if name not in allowed:
            raise Refused(f"unknown query parameter {name!r}")
        if name in seen or not value:
            raise Refused(f"invalid {name}")
        seen.add(name)


def get_event(store: EventStore, event_id: str, params: Sequence[tuple[str, str]]) -> Response:
    """`GET /v4/events/{event_id}`; a `ruleset_id` adds the `rule_action` (every rule allows)."""
    try:
        check_params(params, ("ruleset_id",))
    except Refused as refused:
        return v4_error(400, "request_cannot_be_parsed", str(refused))
    event = store.get(event_id)
    if event is None:
        return v4_error(404, *_EVENT_NOT_FOUND)
    if not params:
        return Response(200, event.encoded())
    body = event.json()
    body["rule_action"] = {"type": "allow", "ruleset_id": params[0][1]}
    return Response(200, dumps(body))


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _changes(body: bytes) -> dict[str, Any]:
    """The fields an update body sets, checked as the API checks them."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except ValueError:  # not JSON, not UTF-8, NaN or Infinity
        raise Refused(_BODY_NOT_VALID) from None
    if not isinstance(data, dict) or not data:
        raise Refused(_BODY_NOT_VALID)
    for name in data:
        if name not in _UPDATABLE:
            raise Refused(f"request body contains an unknown field {json.dumps(name)}")
    linked_id = data.get("linked_id", "-")
    if not isinstance(linked_id, str) or not 0 < len(linked_id) <= _MAX_LINKED_ID:
        raise Refused(_BODY_NOT_VALID)
    if not isinstance(data.get("tags", {}), dict):
        raise Refused(_BODY_NOT_VALID)
    if not isinstance(data.get("suspect", False), bool):
        raise Refused(_BODY_NOT_VALID)
    return data


def update_event(
    store: EventStore, event_id: str, params: Sequence[tuple[str, str]], body: bytes
) -> Response:
    """`PATCH /v4/events/{event_id}` with `linked_id`, `tags` and/or `suspect`: 200, no body.

    `tags` replaces the event's tags; a later read or search shows every change.
    """
    try:
        check_params(params)
        changes = _changes(body)
    except Refused as refused:
        return v4_error(400, "request_cannot_be_parsed", str(refused))
    event = store.get(event_id)
    if event is None:
        return v4_error(404, *_EVENT_NOT_FOUND)
    event.update(changes)
    return EMPTY_OK
