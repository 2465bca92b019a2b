"""The response models: frozen, slotted attrs classes named after the API's JSON, in snake_case.

Every field the API documents is here; a documented field that a response leaves out is
`None`. Only `VisitorHistory.visitor_id`, `VisitorHistory.visits`, `Visit.request_id` and
`Visit.timestamp` are required.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "BrowserDetails",
    "City",
    "Confidence",
    "Continent",
    "Country",
    "FrozenMapping",
    "IPLocation",
    "JSON_KEY",
    "SeenAt",
    "Subdivision",
    "Visit",
    "VisitorHistory",
]


#: The attrs metadata entry that names a field's JSON key when its model family's rule (camelCase
#: for v3, the name itself for v4) cannot: a key that is no Python identifier (`5_minutes`).
JSON_KEY = "json_key"


class FrozenMapping(Mapping[str, Any]):
    """A read-only, hashable mapping for free-form JSON objects (`tag`, `components`).

    Nested objects are `FrozenMapping` too and nested arrays are tuples, so a model holding
    one stays immutable all the way down.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] = ()) -> None:  # type: ignore[assignment]
        self._data: dict[str, Any] = {key: freeze(value) for key, value in dict(data).items()}
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMapping):
            return self._data == other._data
        # Compared frozen, so that a list in `other` equals the tuple it became here.
        return isinstance(other, Mapping) and self._data == FrozenMapping(other)._data

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def thaw(self) -> dict[str, Any]:
        """A plain, mutable copy as JSON-shaped dicts and lists."""
        return {key: thaw(value) for key, value in self._data.items()}


def freeze(value: Any) -> Any:
    """JSON data with dicts made `FrozenMapping` and lists made tuples."""
    cls = value.__class__
    # JSON's own types first, by exact class: the ABC checks below are slow, and tags are
    # frozen on the decoding hot path.
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if cls is dict:
        return FrozenMapping(value)
    if isinstance(value, Mapping):
        return value if isinstance(value, FrozenMapping) else FrozenMapping(value)
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of `freeze`: plain dicts and lists again."""
    if isinstance(value, FrozenMapping):
        return value.thaw()
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


@attrs.frozen
class City:
    """The city of an IP geolocation."""

    name: str | None = None


@attrs.frozen
class Country:
    """The country of an IP geolocation (ISO 3166-1 alpha-2 code)."""

    code: str | None = None
    name: str | None = None


@attrs.frozen
class Continent:
    """The continent of an IP geolocation (two-letter code)."""

    code: str | None = None
    name: str | None = None


@attrs.frozen
class Subdivision:
    """A subdivision (state, region) of an IP geolocation."""

    iso_code: str | None = None
    name: str | None = None


@attrs.frozen
class IPLocation:
    """Where the IP address of a visit is located (`ipLocation`, deprecated by the API)."""

    accuracy_radius: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    postal_code: str | None = None
    timezone: str | None = None
    city: City | None = None
    country: Country | None = None
    continent: Continent | None = None
    subdivisions: tuple[Subdivision, ...] | None = None


@attrs.frozen
class BrowserDetails:
    """The browser, OS and device of a visit (`botProbability` is in older responses only)."""

    browser_name: str | None = None
    browser_major_version: str | None = None
    browser_full_version: str | None = None
    os: str | None = None
    os_version: str | None = None
    device: str | None = None
    user_agent: str | None = None
    bot_probability: float | None = None


@attrs.frozen
class Confidence:
    """How sure the identification is: `score` from 0 to 1."""

    score: float | None = None
    revision: str | None = None
    comment: str | None = None


@attrs.frozen
class SeenAt:
    """When a visitor was first or last seen, globally and in this subscription.

    `global_` carries the JSON field `global` (a Python keyword).
    """

    global_: datetime | None = None
    subscription: datetime | None = None


@attrs.frozen
class Visit:
    """One identification event of a visitor."""

    request_id: str
    timestamp: int
    time: datetime | None = None
    incognito: bool | None = None
    linked_id: str | None = None
    url: str | None = None
    ip: str | None = None
    ip_location: IPLocation | None = None
    browser_details: BrowserDetails | None = None
    tag: FrozenMapping | None = None
    confidence: Confidence | None = None
    visitor_found: bool | None = None
    first_seen_at: SeenAt | None = None
    last_seen_at: SeenAt | None = None
    components: FrozenMapping | None = None


@attrs.frozen
class VisitorHistory:
    """One page of a visitor's history, newest visit first.

    `last_timestamp` and `pagination_key` are the cursors to the next page; the server sends
    them only when more events remain to be scanned.
    """

    visitor_id: str
    visits: tuple[Visit, ...]
    last_timestamp: int | None = None
    pagination_key: str | None = None

    @property
    def has_more(self) -> bool:
        """Whether the server has more events beyond this page."""
        return self.last_timestamp is not None or self.pagination_key is not None

    def next_page_params(self) -> dict[str, Any] | None:
        """The cursor to the next page as keyword arguments of `Session.get_visits`.

        `paginationKey` is preferred when the server sent one, else `before=lastTimestamp`.
        `None` when this is the last page. The result is plain JSON data, so a web app can
        hand it to its own client and resume on a later request:

            cursor = page.next_page_params()
            ...
            next_page = await session.get_visits(visitor_id, limit=50, **cursor)
        """
        if self.pagination_key is not None:
            return {"pagination_key": self.pagination_key}
        if self.last_timestamp is not None:
            return {"before": self.last_timestamp}
        return None
