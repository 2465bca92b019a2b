"""Stateless pagination in a web API: the cursor travels to the client and back.

Each request of our client fetches one page of a visitor's events from the Server API (v4);
the response carries an opaque `next` token (the page's `pagination_key` and the search it
belongs to, base64url JSON) that the client sends to get the following page. The server
keeps nothing between requests. Built on the FastAPI recipe.
Run it from docs/examples with `FPJS_API_KEY=... uvicorn stateless_pagination:app`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi_app import Fingerprint, SessionFactory
from fastapi_app import create_app as create_base_app
from web_common import session_from_environment

import fpjs_async

router = APIRouter()

#: How far back a walk reaches: a day within the 30 days that paid plans keep (the API
#: refuses a `start` beyond them, and checks it when the request arrives).
HISTORY = timedelta(days=29)


def event_json(event: fpjs_async.Event) -> dict[str, Any]:
    """The fields of an event that a web client needs, as JSON-ready values."""
    browser = event.browser_details
    return {
        "event_id": event.event_id,
        "time": event.time.isoformat(),
        "url": event.url,
        "ip_address": event.ip_address,
        "incognito": event.incognito,
        "linked_id": event.linked_id,
        "browser": None if browser is None else browser.browser_name,
        "os": None if browser is None else browser.os,
    }


def encode_token(visitor_id: str, start: int, cursor: dict[str, Any] | None) -> str | None:
    """The `next` token of a page: its cursor, bound to the search. `None` on the last page.

    A `pagination_key` is valid only with the filters of the search it came from, so the
    token carries them (the visitor and `start`) with it.
    """
    if cursor is None:
        return None
    data = json.dumps({"visitor_id": visitor_id, "start": start, **cursor}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_token(visitor_id: str, token: str) -> tuple[int, dict[str, Any]]:
    """The `start` and the cursor in a `next` token (keyword arguments of `search_events`).

    Raises:
        HTTPException: 400, the token is not one of ours for this visitor.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise HTTPException(400, "invalid next token") from None
    # Exactly our fields, of the right types: the client cannot smuggle in other arguments.
    if (
        not isinstance(data, dict)
        or data.keys() != {"visitor_id", "start", "pagination_key"}
        or data["visitor_id"] != visitor_id
        or type(data["start"]) is not int
        or data["start"] < 0
        or not isinstance(data["pagination_key"], str)
        or not data["pagination_key"]
    ):
        raise HTTPException(400, "invalid next token")
    return data["start"], {"pagination_key": data["pagination_key"]}


@router.get("/visitors/{visitor_id}/events")
async def events_page(
    visitor_id: str,
    fingerprint: Fingerprint,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(alias="next")] = None,
) -> dict[str, Any]:
    """One page of the visitor's events, newest first; pass its `next` back for the next."""
    if next_token is None:
        start = int((datetime.now(timezone.utc) - HISTORY).timestamp() * 1000)
        cursor: dict[str, Any] = {}
    else:
        start, cursor = decode_token(visitor_id, next_token)
    try:
        page = await fingerprint.search_events(
            visitor_id=visitor_id, start=start, limit=limit, **cursor
        )
    except fpjs_async.BadRequestError:
        if not cursor:
            raise
        # The API refused the cursor (a made-up key, a start now out of reach): the
        # client's doing.
        raise HTTPException(400, "invalid next token") from None
    return {
        "visitor_id": visitor_id,
        "events": [event_json(event) for event in page.events],
        "next": encode_token(visitor_id, start, page.next_page_params()),
    }


def create_app(open_session: SessionFactory = session_from_environment) -> FastAPI:
    """The FastAPI recipe's application, with the paged endpoint added."""
    app = create_base_app(open_session)
    app.include_router(router)
    return app


app = create_app()
