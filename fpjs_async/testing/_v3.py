"""`GET /visitors/:id` (v3): scan `limit` events newest first from the cursor, then filter."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from fpjs_async._query import MAX_LIMIT
from fpjs_async.testing._responses import Response, V3Error, dumps
from fpjs_async.testing._store import UnknownPaginationKey, VisitStore

__all__ = ["DEFAULT_LIMIT", "get_visits"]

#: The server's default number of events scanned.
DEFAULT_LIMIT = 100

_DIGITS = re.compile(r"-?[0-9]+")


@attrs.frozen
class _Query:
    limit: int
    before: int | None
    pagination_key: str | None
    request_id: str | None
    linked_id: str | None


def _parse_query(params: Mapping[str, str], error: V3Error) -> _Query | Response:
    limit = DEFAULT_LIMIT
    if "limit" in params:
        text = params["limit"]
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
            return error(400, "RequestCannotBeParsed", "invalid limit")
        limit = int(text)
    before = None
    if "before" in params:
        text = params["before"]
        if not _DIGITS.fullmatch(text) or int(text) < 0:
            return error(400, "RequestCannotBeParsed", "invalid before")
        before = int(text)
    return _Query(
        limit=limit,
        before=before,
        pagination_key=params.get("paginationKey") or None,
        request_id=params.get("request_id") or None,
        linked_id=params.get("linked_id") or None,
    )


def get_visits(
    store: VisitStore,
    visitor_id: str,
    params: Mapping[str, str],
    *,
    send_pagination_key: bool,
    error: V3Error,
) -> Response:
    """Answer `GET /visitors/<visitor_id>` with these query parameters (first values).

    Args:
        store: The visits.
        visitor_id: The visitor of the path.
        params: The query parameters, the first value of each.
        send_pagination_key: Send `paginationKey` next to `lastTimestamp`.
        error: Makes the emulator's v3 error bodies.
    """
    query = _parse_query(params, error)
    if isinstance(query, Response):
        return query
    try:
        scan = store.scan(
            visitor_id,
            limit=query.limit,
            before=query.before,
            pagination_key=query.pagination_key,
            request_id=query.request_id,
            linked_id=query.linked_id,
        )
    except UnknownPaginationKey:
        return error(400, "RequestCannotBeParsed", "invalid pagination key")
    parts = [
        b'{"visitorId":',
        dumps(visitor_id),
        b',"visits":[',
        b",".join([event.encoded() for event in scan.visits]),
        b"]",
    ]
    last = scan.last_scanned
    if last is not None:
        parts.append(b',"lastTimestamp":%d' % last.timestamp)
        if send_pagination_key:
            parts += [b',"paginationKey":', dumps(last.request_id)]
    parts.append(b"}")
    return Response(200, b"".join(parts))
