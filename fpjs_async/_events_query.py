"""The parameters of the v4 event calls, validated before anything is sent.

The search filters of `GET /v4/events` are defined once, as the `EventFilters` typed dict:
its annotations are what type checkers show for `**filters`, and they are also what the
checks below read at run time, so a filter added there is accepted, checked and sent with
no other change.
"""

from __future__ import annotations

import json
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

import attrs

from fpjs_async import _validate
from fpjs_async._http import ApiCall
from fpjs_async._query import quote_segment

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

__all__ = [
    "MAX_SEARCH_LIMIT",
    "MAX_TOTAL_HITS",
    "EventFilters",
    "EventSearchQuery",
    "Unpack",
    "check_filters",
    "delete_visitor_call",
    "get_event_call",
    "update_event_call",
]

#: The most events one search page holds.
MAX_SEARCH_LIMIT = 100
#: The largest `total_hits` a search counts up to.
MAX_TOTAL_HITS = 1000

# A few array filters hold a bounded number of items (`source`: at most one).
_MAX_ITEMS = {"source": 1}


class EventFilters(TypedDict, total=False):
    """The filters of an event search, named as the query parameters of `GET /v4/events`.

    Strings (IDs, `ip_address` as an address or CIDR range, `url`, ...) must be non-empty.
    `start` and `end` take milliseconds since the epoch or an aware `datetime`; the server
    defaults to the last 7 days. Booleans must be `bool`. Array filters take any sequence of
    strings other than a string itself, and go out as repeated keys. Enum-valued filters
    (`bot`: `all`/`good`/`bad`/`none`, `vpn_confidence`, `sdk_platform`, ...) are checked
    for their type only: the server adds values over time.
    """

    visitor_id: str
    high_recall_id: str
    linked_id: str
    ip_address: str
    asn: str
    url: str
    origin: str
    bundle_id: str
    package_name: str
    proximity_id: str
    sdk_version: str
    start: int | datetime
    end: int | datetime
    reverse: bool
    bot: str
    bot_info: str
    vpn_confidence: str
    sdk_platform: str
    incremental_identification_status: str
    rare_device_percentile_bucket: str
    bot_info_category: Sequence[str]
    bot_info_identity: Sequence[str]
    bot_info_confidence: Sequence[str]
    bot_info_provider: Sequence[str]
    bot_info_name: Sequence[str]
    environment: Sequence[str]
    source: Sequence[str]
    suspect: bool
    vpn: bool
    virtual_machine: bool
    tampering: bool
    anti_detect_browser: bool
    incognito: bool
    privacy_settings: bool
    jailbroken: bool
    frida: bool
    factory_reset: bool
    cloned_app: bool
    emulator: bool
    root_apps: bool
    developer_tools: bool
    location_spoofing: bool
    mitm_attack: bool
    rare_device: bool
    proxy: bool
    tor_node: bool
    simulator: bool
    active_call: bool
    min_suspect_score: float


def _wire_text(name: str, value: object) -> list[tuple[str, str]]:
    return [(name, _validate.text(name, value))]


def _wire_bool(name: str, value: object) -> list[tuple[str, str]]:
    return [(name, "true" if _validate.flag(name, value) else "false")]


def _wire_moment(name: str, value: object) -> list[tuple[str, str]]:
    return [(name, str(_validate.epoch_ms(name, value)))]


def _wire_number(name: str, value: object) -> list[tuple[str, str]]:
    _validate.number(name, value)
    return [(name, repr(value) if isinstance(value, float) else str(value))]


def _wire_strings(name: str, value: object) -> list[tuple[str, str]]:
    # A str is a sequence of str too: "edge" would go out as four filters of one letter.
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a sequence of str (a list or tuple), got {type(value).__name__}"
        )
    if not value:
        raise ValueError(f"{name} must hold at least one str")
    most = _MAX_ITEMS.get(name)
    if most is not None and len(value) > most:
        raise ValueError(f"{name} holds at most {most} item(s), got {len(value)}")
    return [(name, _validate.text(f"each item of {name}", item)) for item in value]


_Encoder = Callable[[str, object], list[tuple[str, str]]]


def _encoder(annotation: Any) -> _Encoder:
    """The check and wire form of a filter, chosen by its annotation in `EventFilters`."""
    if annotation is str:
        return _wire_text
    if annotation is bool:
        return _wire_bool
    if annotation is float:
        return _wire_number
    if annotation == int | datetime:
        return _wire_moment
    if annotation == Sequence[str]:
        return _wire_strings
    raise TypeError(f"no rule for a filter annotated {annotation!r}")


# Resolved once, at import, and kept resolved: the names they use are this module's, and
# the class is shown as `fpjs_async.EventFilters`, whose namespace does not hold them.
EventFilters.__annotations__.update(typing.get_type_hints(EventFilters, globals()))
_ENCODERS: Mapping[str, _Encoder] = {
    name: _encoder(annotation) for name, annotation in EventFilters.__annotations__.items()
}


def check_filters(
    filters: Mapping[str, object], *, caller: str, reserved: frozenset[str] = frozenset()
) -> tuple[tuple[str, str], ...]:
    """The query string pairs of `filters`, each one checked; `None` values are left out.

    Args:
        filters: Keyword arguments named as `EventFilters`' keys.
        caller: The function's name, for the message of an unknown keyword.
        reserved: Filters the caller sets itself, refused as unexpected.

    Raises:
        TypeError: An unknown or reserved name, or a value of the wrong type.
        ValueError: A value out of range.
    """
    pairs: list[tuple[str, str]] = []
    for name, value in filters.items():
        encode = _ENCODERS.get(name)
        if encode is None or name in reserved:
            why = " (it is set for each key)" if name in reserved else ""
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{why}")
        if value is not None:
            pairs += encode(name, value)
    return tuple(pairs)


@attrs.frozen
class EventSearchQuery:
    """One validated `GET /v4/events`. Build it with `EventSearchQuery.build`.

    Attributes:
        filters: The query string pairs of the filters.
        limit: Events per page (server default 10).
        pagination_key: The cursor of the page to fetch.
        total_hits: Count the matches up to this number.
    """

    filters: tuple[tuple[str, str], ...]
    limit: int | None = None
    pagination_key: str | None = None
    total_hits: int | None = None

    @classmethod
    def build(
        cls,
        filters: Mapping[str, object],
        *,
        limit: int | None = None,
        pagination_key: str | None = None,
        total_hits: int | None = None,
        caller: str = "search_events",
    ) -> EventSearchQuery:
        """Check every parameter and return the query; `TypeError`/`ValueError` otherwise."""
        _validate.count("limit", limit, high=MAX_SEARCH_LIMIT, optional=True)
        _validate.count("total_hits", total_hits, high=MAX_TOTAL_HITS, optional=True)
        _validate.text("pagination_key", pagination_key, optional=True)
        return cls(check_filters(filters, caller=caller), limit, pagination_key, total_hits)

    def call(self) -> ApiCall:
        """The request of this query."""
        params = list(self.filters)
        if self.limit is not None:
            params.append(("limit", str(self.limit)))
        if self.total_hits is not None:
            params.append(("total_hits", str(self.total_hits)))
        if self.pagination_key is not None:
            params.append(("pagination_key", self.pagination_key))
        return ApiCall("GET", "/v4/events", tuple(params))

    def next_page(self, pagination_key: str) -> EventSearchQuery:
        """The same search, from another cursor."""
        return attrs.evolve(self, pagination_key=pagination_key)


def get_event_call(event_id: str, *, ruleset_id: str | None = None) -> ApiCall:
    """`GET /v4/events/{event_id}`, checked."""
    _validate.text("event_id", event_id)
    _validate.text("ruleset_id", ruleset_id, optional=True)
    params = () if ruleset_id is None else (("ruleset_id", ruleset_id),)
    return ApiCall("GET", "/v4/events/" + quote_segment(event_id), params)


def update_event_call(
    event_id: str,
    *,
    linked_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    suspect: bool | None = None,
) -> ApiCall:
    """`PATCH /v4/events/{event_id}` with a JSON body of the fields given, checked."""
    _validate.text("event_id", event_id)
    fields: dict[str, Any] = {}
    if linked_id is not None:
        fields["linked_id"] = _validate.text("linked_id", linked_id)
    if tags is not None:
        if not isinstance(tags, Mapping):
            raise TypeError(f"tags must be a mapping (a JSON object), got {type(tags).__name__}")
        fields["tags"] = dict(tags)
    if suspect is not None:
        fields["suspect"] = _validate.flag("suspect", suspect)
    if not fields:
        raise ValueError("update_event needs at least one of linked_id, tags or suspect")
    try:
        body = json.dumps(
            fields, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except TypeError as exc:
        raise TypeError(f"tags must hold JSON data only: {exc}") from None
    except ValueError as exc:  # NaN or infinity, a circular reference, a lone surrogate
        raise ValueError(f"tags must hold JSON data only: {exc}") from None
    return ApiCall("PATCH", "/v4/events/" + quote_segment(event_id), body=body)


def delete_visitor_call(visitor_id: str) -> ApiCall:
    """`DELETE /v4/visitors/{visitor_id}`, checked."""
    _validate.text("visitor_id", visitor_id)
    return ApiCall("DELETE", "/v4/visitors/" + quote_segment(visitor_id))
