"""VisitsQuery: the parameters of one `GET /visitors/:id`, validated before anything is sent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import attrs

__all__ = ["MAX_LIMIT", "VisitsQuery", "check_filters", "to_epoch_ms"]

#: The most events the server scans in one request.
MAX_LIMIT = 500
_MAX_EPOCH_MS = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


def _check_text(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a non-empty str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must be a non-empty str")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be encodable as UTF-8 (it holds a lone surrogate)") from None


def _check_limit(limit: object) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int from 1 to {MAX_LIMIT}, got {type(limit).__name__}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an int from 1 to {MAX_LIMIT}, got {limit}")


def to_epoch_ms(name: str, value: int | datetime) -> int:
    """Milliseconds since the epoch from an `int` (taken as ms) or an aware `datetime`."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime (with tzinfo), got a naive one")
        # Exact and rounded up: a float timestamp loses microseconds, and "older than" a
        # moment inside a millisecond must still include the events of that millisecond.
        ms = -((_EPOCH - value) // _ONE_MS)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int (ms since the epoch) or an aware datetime, "
            f"got {type(value).__name__}"
        )
    else:
        ms = value
    if not 0 <= ms <= _MAX_EPOCH_MS:
        raise ValueError(f"{name} must be from 0 to {_MAX_EPOCH_MS} ms since the epoch, got {ms}")
    return ms


def check_filters(
    *,
    request_id: str | None = None,
    linked_id: str | None = None,
    limit: int | None = None,
    before: int | datetime | None = None,
    pagination_key: str | None = None,
) -> int | None:
    """Check the parameters of a query other than the visitor ID; returns `before` in ms.

    For callers that validate filters before they know which visitors they apply to.
    """
    _check_text("request_id", request_id, optional=True)
    _check_text("linked_id", linked_id, optional=True)
    _check_text("pagination_key", pagination_key, optional=True)
    _check_limit(limit)
    before_ms = None if before is None else to_epoch_ms("before", before)
    if before_ms is not None and pagination_key is not None:
        raise ValueError("before and pagination_key are two cursors: pass one or the other")
    return before_ms


def _quote_segment(visitor_id: str) -> str:
    # "." and ".." are dot-segments that URL normalisation would remove, leaving /visitors/.
    if visitor_id in (".", ".."):
        return visitor_id.replace(".", "%2E")
    return quote(visitor_id, safe="")


@attrs.frozen
class VisitsQuery:
    """The validated parameters of one request. Build it with `VisitsQuery.build`."""

    visitor_id: str
    request_id: str | None = None
    linked_id: str | None = None
    limit: int | None = None
    before: int | None = None
    pagination_key: str | None = None

    @classmethod
    def build(
        cls,
        visitor_id: str,
        *,
        request_id: str | None = None,
        linked_id: str | None = None,
        limit: int | None = None,
        before: int | datetime | None = None,
        pagination_key: str | None = None,
    ) -> VisitsQuery:
        """Check every parameter and return the query; `TypeError`/`ValueError` otherwise."""
        _check_text("visitor_id", visitor_id, optional=False)
        before_ms = check_filters(
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before=before,
            pagination_key=pagination_key,
        )
        return cls(visitor_id, request_id, linked_id, limit, before_ms, pagination_key)

    @property
    def path(self) -> str:
        """The request path, with the visitor ID percent-encoded as one segment."""
        return "/visitors/" + _quote_segment(self.visitor_id)

    def params(self) -> dict[str, str]:
        """The query string parameters, named as the API names them."""
        params: dict[str, str] = {}
        if self.request_id is not None:
            params["request_id"] = self.request_id
        if self.linked_id is not None:
            params["linked_id"] = self.linked_id
        if self.limit is not None:
            params["limit"] = str(self.limit)
        if self.before is not None:
            params["before"] = str(self.before)
        if self.pagination_key is not None:
            params["paginationKey"] = self.pagination_key
        return params

    def next_page(self, *, before: int | None, pagination_key: str | None) -> VisitsQuery:
        """The same filters with another cursor."""
        return attrs.evolve(self, before=before, pagination_key=pagination_key)
