"""VisitsQuery: the parameters of one `GET /visitors/:id`, validated before anything is sent."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import attrs

from fpjs_async import _validate
from fpjs_async._http import ApiCall

__all__ = ["MAX_LIMIT", "VisitsQuery", "check_filters", "quote_segment"]

#: The most events the server scans in one request.
MAX_LIMIT = 500


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
    _validate.text("request_id", request_id, optional=True)
    _validate.text("linked_id", linked_id, optional=True)
    _validate.text("pagination_key", pagination_key, optional=True)
    _validate.count("limit", limit, high=MAX_LIMIT, optional=True)
    before_ms = None if before is None else _validate.epoch_ms("before", before)
    if before_ms is not None and pagination_key is not None:
        raise ValueError("before and pagination_key are two cursors: pass one or the other")
    return before_ms


def quote_segment(identifier: str) -> str:
    """`identifier` percent-encoded as one path segment: no `/`, `..` or `?` gets through."""
    # "." and ".." are dot-segments that URL normalisation would remove, leaving /visitors/.
    if identifier in (".", ".."):
        return identifier.replace(".", "%2E")
    return quote(identifier, safe="")


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
        _validate.text("visitor_id", visitor_id)
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
        return "/visitors/" + quote_segment(self.visitor_id)

    def params(self) -> list[tuple[str, str]]:
        """The query string parameters, named as the API names them."""
        params: list[tuple[str, str]] = []
        if self.request_id is not None:
            params.append(("request_id", self.request_id))
        if self.linked_id is not None:
            params.append(("linked_id", self.linked_id))
        if self.limit is not None:
            params.append(("limit", str(self.limit)))
        if self.before is not None:
            params.append(("before", str(self.before)))
        if self.pagination_key is not None:
            params.append(("paginationKey", self.pagination_key))
        return params

    def call(self) -> ApiCall:
        """The request of this query: `GET /visitors/:id` of API v3."""
        return ApiCall("GET", self.path, tuple(self.params()), version=3)

    def next_page(self, *, before: int | None, pagination_key: str | None) -> VisitsQuery:
        """The same filters with another cursor."""
        return attrs.evolve(self, before=before, pagination_key=pagination_key)
